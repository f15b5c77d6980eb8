//! A waybill's versions → DCSA shapes: the transport document with the ledger's status, and the
//! endorsement chains (`GET /endorsement-chains/{transportDocumentReference}`, EBL_END 3.0).
//!
//! Ledger transition → DCSA `actionCode` (actor → recipient):
//! - issue → `ISSUE` (carrier → first holder); an amendment's re-issue closes the surrendered
//!   sub-reference's chain with `SURRENDERED` (carrier) and opens the new one with `ISSUE`
//!   (carrier → the party that surrendered it);
//! - transfer → `ENDORSE` then `TRANSFER` (holder → new holder: endorsed to it and possession
//!   handed over, one ledger op);
//! - surrender → `SURRENDER_FOR_DELIVERY` / `SURRENDER_FOR_AMENDMENT` (holder → carrier);
//! - accomplish → `SURRENDERED` (carrier); void → no action (the status says `VOIDED`).
//!
//! Chains are listed newest sub-reference first and each chain's actions newest first, as in
//! DCSA's own example (`twoTDSRExample`). Parties are the member orgs, named by the document's
//! party name when the document links that party to the org, else by the org id, with the
//! org id as a `ZZZ`/`tradechain` identifying code. `actionDateTime` is the time of the block
//! that recorded the action (`time_of`), omitted when unknown.
use super::{EBL_PLATFORM, Json, ORG_CODE_LIST_NAME, ORG_CODE_LIST_PROVIDER};
use crate::identity::OrgId;
use crate::payload::{Party, WaybillIssue, WaybillKind, WaybillStatus};
use crate::records::{TxLocation, WaybillRecord};

/// DCSA `transportDocumentStatus` of a ledger status (DCSA has no ACCOMPLISHED: a bill
/// accomplished after its surrender for delivery stays SURRENDERED_FOR_DELIVERY, its chain ends
/// with SURRENDERED).
pub fn transport_status(s: WaybillStatus) -> &'static str {
    match s {
        WaybillStatus::Issued => "ISSUED",
        WaybillStatus::SurrenderedForDelivery | WaybillStatus::Accomplished => "SURRENDERED_FOR_DELIVERY",
        WaybillStatus::SurrenderedForAmendment => "SURRENDERED_FOR_AMENDMENT",
        WaybillStatus::Void => "VOIDED",
    }
}

/// One action of an endorsement chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub code: &'static str,
    pub actor: OrgId,
    pub recipient: Option<OrgId>,
    pub at: TxLocation,
}

/// The actions under one sub-reference, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    /// The DCSA `transportDocumentSubReference` (the kept document's, else the ledger's number
    /// when above 0).
    pub sub_reference: Option<String>,
    pub actions: Vec<Action>,
}

fn sub_reference(doc: &WaybillIssue) -> Option<String> {
    let kept = doc.dcsa.as_deref().and_then(|t| super::json::parse(t).ok());
    match kept
        .as_ref()
        .and_then(|k| k.get("transportDocumentSubReference"))
        .and_then(Json::as_str)
    {
        Some(s) => Some(s.to_string()),
        None => (doc.sub_reference > 0).then(|| doc.sub_reference.to_string()),
    }
}

/// The chains of a waybill from its versions (oldest first, as `GetHistory` returns them),
/// oldest chain first.
pub fn chains(versions: &[WaybillRecord]) -> Vec<Chain> {
    let Some(first) = versions.first() else {
        return Vec::new();
    };
    let mut out = vec![Chain {
        sub_reference: sub_reference(&first.document),
        actions: vec![Action {
            code: "ISSUE",
            actor: first.issuer.clone(),
            recipient: Some(first.document.holder.clone()),
            at: first.issued_at,
        }],
    }];
    let push = |out: &mut Vec<Chain>, a: Action| {
        if let Some(c) = out.last_mut() {
            c.actions.push(a);
        }
    };
    // Endorsements a first version already holds (a history that starts late) read as such.
    let transfers = |out: &mut Vec<Chain>, es: &[crate::records::Endorsement]| {
        for e in es {
            for code in ["ENDORSE", "TRANSFER"] {
                push(
                    out,
                    Action {
                        code,
                        actor: e.from.clone(),
                        recipient: Some(e.to.clone()),
                        at: e.at,
                    },
                );
            }
        }
    };
    transfers(&mut out, &first.endorsements);
    for pair in versions.windows(2) {
        let [prev, next] = pair else { continue };
        transfers(
            &mut out,
            next.endorsements.get(prev.endorsements.len()..).unwrap_or_default(),
        );
        let carrier = next.issuer.clone();
        let at = next.updated_at;
        match (prev.status, next.status) {
            (WaybillStatus::Issued, WaybillStatus::SurrenderedForDelivery) => push(
                &mut out,
                Action {
                    code: "SURRENDER_FOR_DELIVERY",
                    actor: prev.holder.clone(),
                    recipient: Some(carrier),
                    at,
                },
            ),
            (WaybillStatus::Issued, WaybillStatus::SurrenderedForAmendment) => push(
                &mut out,
                Action {
                    code: "SURRENDER_FOR_AMENDMENT",
                    actor: prev.holder.clone(),
                    recipient: Some(carrier),
                    at,
                },
            ),
            (WaybillStatus::SurrenderedForDelivery, WaybillStatus::Accomplished) => push(
                &mut out,
                Action {
                    code: "SURRENDERED",
                    actor: carrier,
                    recipient: None,
                    at,
                },
            ),
            (WaybillStatus::SurrenderedForAmendment, WaybillStatus::Issued) => {
                push(
                    &mut out,
                    Action {
                        code: "SURRENDERED",
                        actor: carrier.clone(),
                        recipient: None,
                        at,
                    },
                );
                out.push(Chain {
                    sub_reference: sub_reference(&next.document),
                    actions: vec![Action {
                        code: "ISSUE",
                        actor: carrier,
                        recipient: Some(next.holder.clone()),
                        at,
                    }],
                });
            }
            _ => {}
        }
    }
    out
}

fn s(v: &str) -> Json {
    Json::String(v.to_string())
}

fn obj(members: Vec<(&str, Json)>) -> Json {
    Json::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn org_code(org: &OrgId) -> Json {
    Json::Array(vec![obj(vec![
        ("codeListProvider", s(ORG_CODE_LIST_PROVIDER)),
        ("codeListName", s(ORG_CODE_LIST_NAME)),
        ("partyCode", s(org.as_str())),
    ])])
}

/// The name the document gives the party linked to `org`, else the org id.
fn party_name(doc: &WaybillIssue, org: &OrgId) -> String {
    [Some(&doc.shipper), doc.consignee.as_ref(), doc.notify_party.as_ref()]
        .into_iter()
        .flatten()
        .find(|p| p.org.as_ref() == Some(org))
        .map(|p| p.name.clone())
        .unwrap_or_else(|| org.to_string())
}

fn actor(doc: &WaybillIssue, org: &OrgId) -> Json {
    obj(vec![
        ("partyName", s(&party_name(doc, org))),
        ("eblPlatform", s(EBL_PLATFORM)),
        ("identifyingCodes", org_code(org)),
    ])
}

/// The endorsement chains in DCSA's shape (an array, newest sub-reference first, actions newest
/// first). `time_of` gives the Unix ms of the block at a location.
pub fn endorsement_chains(versions: &[WaybillRecord], time_of: &dyn Fn(TxLocation) -> Option<i64>) -> Json {
    let Some(last) = versions.last() else {
        return Json::Array(Vec::new());
    };
    let doc = &last.document;
    let mut out = Vec::new();
    for c in chains(versions).into_iter().rev() {
        let mut entries = Vec::new();
        for a in c.actions.iter().rev() {
            let mut m = Vec::new();
            if let Some(t) = time_of(a.at).and_then(crate::epcis::time::render_ms) {
                m.push(("actionDateTime", s(&t)));
            }
            m.push(("actionCode", s(a.code)));
            m.push(("actor", actor(doc, &a.actor)));
            if let Some(r) = &a.recipient {
                m.push(("recipient", actor(doc, r)));
            }
            entries.push(obj(m));
        }
        let mut m = vec![("transportDocumentReference", s(&doc.reference))];
        if let Some(sr) = &c.sub_reference {
            m.push(("transportDocumentSubReference", s(sr)));
        }
        m.push(("endorsementChain", Json::Array(entries)));
        out.push(obj(m));
    }
    Json::Array(out)
}

/// The DCSA-shaped view of a waybill (its versions oldest first): `transportDocumentReference`,
/// `transportDocumentSubReference` (when known), `transportDocumentStatus` (the ledger's), the
/// `transportDocument` — the kept original with its `transportDocumentStatus` replaced by the
/// ledger's, or one built from the ledger's fields for a bill written in tradechain's own shape
/// (`transport_document`) — and `endorsementChains` (`endorsement_chains`). None without versions.
pub fn dcsa_view(versions: &[WaybillRecord], time_of: &dyn Fn(TxLocation) -> Option<i64>) -> Option<Json> {
    let last = versions.last()?;
    let status = transport_status(last.status);
    let kept = last.document.dcsa.as_deref().and_then(|t| super::json::parse(t).ok());
    let td = match kept {
        Some(Json::Object(mut m)) => {
            match m.iter_mut().find(|(k, _)| k == "transportDocumentStatus") {
                Some((_, v)) => *v = s(status),
                None => m.push(("transportDocumentStatus".into(), s(status))),
            }
            Json::Object(m)
        }
        _ => transport_document(&last.document, status),
    };
    let mut m = vec![("transportDocumentReference", s(&last.document.reference))];
    if let Some(sr) = sub_reference(&last.document) {
        m.push(("transportDocumentSubReference", s(&sr)));
    }
    m.push(("transportDocumentStatus", s(status)));
    m.push(("transportDocument", td));
    m.push(("endorsementChains", endorsement_chains(versions, time_of)));
    Some(obj(m))
}

fn location(code: &str) -> Json {
    obj(vec![("UNLocationCode", s(code))])
}

fn party(p: &Party) -> Json {
    let mut address = Vec::new();
    if !p.address.is_empty() {
        address.push(("street", s(&p.address)));
    }
    address.push(("countryCode", s(&p.country)));
    let mut m = vec![("partyName", s(&p.name)), ("address", obj(address))];
    if let Some(o) = &p.org {
        m.push(("identifyingCodes", org_code(o)));
    }
    obj(m)
}

/// Grams as a KGM decimal text (`12000`, `0.5`).
fn kilograms(g: u64) -> String {
    let (kg, rest) = (g / 1000, g % 1000);
    if rest == 0 {
        kg.to_string()
    } else {
        let frac = format!("{rest:03}");
        format!("{kg}.{}", frac.trim_end_matches('0'))
    }
}

/// A DCSA `TransportDocument` built from the ledger's fields (for a bill not imported from
/// DCSA): what `import::import_transport_document` maps back to the same ledger fields.
pub fn transport_document(d: &WaybillIssue, status: &str) -> Json {
    let type_code = if d.kind == WaybillKind::SeaWaybill {
        "SWB"
    } else {
        "BOL"
    };
    let mut parties = vec![("shipper", party(&d.shipper))];
    if let Some(c) = &d.consignee {
        parties.push(("consignee", party(c)));
    }
    if let Some(n) = &d.notify_party {
        parties.push(("notifyParties", Json::Array(vec![party(n)])));
    }
    let items = d
        .goods
        .iter()
        .map(|g| {
            let mut pack = vec![("numberOfPackages", Json::Number(g.package_count.to_string()))];
            if !g.package_code.is_empty() {
                pack.push(("packageCode", s(&g.package_code)));
            }
            obj(vec![
                ("descriptionOfGoods", Json::Array(vec![s(&g.description)])),
                ("HSCodes", Json::Array(vec![s(&g.hs_code)])),
                (
                    "cargoItems",
                    Json::Array(vec![obj(vec![
                        (
                            "cargoGrossWeight",
                            obj(vec![
                                ("value", Json::Number(kilograms(g.gross_weight_grams))),
                                ("unit", s("KGM")),
                            ]),
                        ),
                        ("outerPackaging", obj(pack)),
                    ])]),
                ),
            ])
        })
        .collect();
    let mut m = vec![
        ("transportDocumentReference", s(&d.reference)),
        ("transportDocumentStatus", s(status)),
        ("transportDocumentTypeCode", s(type_code)),
        ("isToOrder", Json::Bool(d.kind == WaybillKind::ToOrder)),
    ];
    if let Some(date) = crate::epcis::time::render_ms(d.issue_date_ms).and_then(|t| t.get(..10).map(str::to_string)) {
        m.push(("issueDate", s(&date)));
    }
    m.push((
        "transports",
        obj(vec![
            ("placeOfReceipt", location(&d.place_of_receipt)),
            ("portOfLoading", location(&d.port_of_loading)),
            ("portOfDischarge", location(&d.port_of_discharge)),
            ("placeOfDelivery", location(&d.place_of_delivery)),
            (
                "vesselVoyages",
                Json::Array(vec![obj(vec![
                    ("vesselName", s(&d.vehicle)),
                    ("carrierExportVoyageNumber", s(&d.voyage)),
                ])]),
            ),
        ]),
    ));
    m.push(("documentParties", obj(parties)));
    m.push(("consignmentItems", Json::Array(items)));
    obj(m)
}
