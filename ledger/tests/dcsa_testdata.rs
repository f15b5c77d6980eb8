#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! DCSA eBL 3.0 over every example in `../shared/testdata/dcsa/` (used as they are; variants
//! are edited in memory only): the notification's transport document maps field by field and is
//! issued and kept; the PINT envelope's transport document maps and its transfer chain is checked
//! (a consistent chain built here passes, tampered ones are refused); the surrender request is a
//! surrender; the endorsement-chains example is what the ledger renders for the same history.
//! Plus broken documents, each refused naming the field, never a panic.
use std::path::PathBuf;

use tradechain_ledger::dcsa::export::{chains, transport_document};
use tradechain_ledger::dcsa::import::{Document, ImportOptions, Wrapper, import_transport_document, read_document};
use tradechain_ledger::dcsa::json::{self, Json};
use tradechain_ledger::dcsa::{DcsaError, MAX_DOCUMENT_BYTES, dcsa_view, endorsement_chains, pint};
use tradechain_ledger::payload::*;
use tradechain_ledger::records::{TxLocation, WaybillRecord};
use tradechain_ledger::state::{get_typed, keys};
use tradechain_ledger::testkit::*;

const C: &str = "CARRIER-COSCO";
const NOTIFICATION: &str = "ebl-3.0.3_td-notification_issuedFullStateTransferExample.json";
const PINT: &str = "ebl-pint-3.0.0_envelope_regularSTDExample.json";
const END: &str = "ebl-end-3.0.3_endorsement-chains_twoTDSRExample.json";
const SUR: &str = "ebl-sur-3.0.3_surrender-request_surrenderExample.json";

fn testdata(name: &str) -> String {
    let p = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("../../shared/testdata/dcsa")
        .join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn holder(h: &str) -> ImportOptions {
    ImportOptions { holder: Some(oid(h)) }
}

/// The transport document of a recognised document, with its path.
fn td_of(text: &str) -> (Json, String, Wrapper) {
    match read_document(text).unwrap() {
        Document::Transport { td, path, wrapper } => (td, path, wrapper),
        Document::Surrender(_) => panic!("not a transport document"),
    }
}

fn field_of(e: DcsaError) -> String {
    match e {
        DcsaError::Field { field, .. } => field,
        DcsaError::Syntax(s) => panic!("expected a field error, got syntax error {s}"),
    }
}

fn record(c: &Chain, reference: &str) -> WaybillRecord {
    get_typed(&c.state, &keys::waybill(&oid(C), reference)).unwrap()
}

/// Replace (or add) a member of an object, in memory.
fn set(j: &mut Json, name: &str, v: Json) {
    let Json::Object(m) = j else { panic!("not an object") };
    match m.iter_mut().find(|(k, _)| k == name) {
        Some((_, x)) => *x = v,
        None => m.push((name.into(), v)),
    }
}

fn s(v: &str) -> Json {
    Json::String(v.into())
}

#[test]
fn notification_transport_document_maps_field_by_field_and_is_kept() {
    let text = testdata(NOTIFICATION);
    let (td, path, wrapper) = td_of(&text);
    assert_eq!(
        (path.as_str(), wrapper),
        ("data.transportDocument", Wrapper::Notification)
    );
    let m = import_transport_document(&td, &path, &holder("PRODUCER-FZ")).unwrap();
    let d = &m.issue;
    assert_eq!(d.reference, "HHL71800000");
    assert_eq!(d.mode, TransportMode::Sea);
    assert_eq!(d.kind, WaybillKind::ToOrder, "BOL + isToOrder: true");
    assert_eq!(d.holder, oid("PRODUCER-FZ"));
    // No placeOfReceipt / placeOfDelivery: port to port.
    assert_eq!(
        [
            &d.place_of_receipt,
            &d.port_of_loading,
            &d.port_of_discharge,
            &d.place_of_delivery
        ],
        ["DKAAR", "DKAAR", "DEBRV", "DEBRV"]
    );
    assert_eq!((d.vehicle.as_str(), d.voyage.as_str()), ("MSC Gülsün", "402E"));
    // shippedOnBoardDate 2023-12-20, midnight UTC.
    assert_eq!(d.issue_date_ms, 1_703_030_400_000);
    assert_eq!(d.shipper.name, "DCSA CTK");
    assert_eq!(d.shipper.address, "Strawinskylaan 4117");
    assert_eq!(
        d.shipper.country, "DK",
        "no countryCode: the place of receipt's country"
    );
    assert_eq!(d.shipper.org, None, "no ZZZ/tradechain identifying code");
    assert_eq!((&d.consignee, &d.notify_party), (&None, &None));
    assert_eq!(
        d.goods,
        vec![GoodsLine {
            description: "Shoes - black".into(),
            hs_code: "640510".into(),
            package_count: 400,
            package_code: "4G".into(),
            gross_weight_grams: 12_000_000,
            goods_ids: vec![],
        }]
    );
    assert_eq!(d.sub_reference, 0);
    // The original travels with the bill as canonical JSON.
    let kept = d.dcsa.as_deref().unwrap();
    assert_eq!(kept, td.canonical());
    assert_eq!(json::parse(kept).unwrap().sorted(), td.sorted());
    assert_eq!(m.issuing_org, None, "issuingParty has a GLEIF LEI, not a member code");
    assert_eq!(m.status.as_deref(), Some("ISSUED"));

    // Issued on the ledger; the DCSA view returns the original, status from the ledger.
    let mut c = Chain::demo();
    c.accept(C, Payload::Waybill(WaybillOp::Issue(m.issue.clone())));
    let rec = record(&c, "HHL71800000");
    assert_eq!(rec.document.dcsa.as_deref(), Some(kept));
    let view = dcsa_view(std::slice::from_ref(&rec), &|_| Some(1_767_225_601_000)).unwrap();
    assert_eq!(
        view.get("transportDocumentStatus").and_then(Json::as_str),
        Some("ISSUED")
    );
    assert_eq!(
        view.get("transportDocumentSubReference").and_then(Json::as_str),
        Some("v2")
    );
    assert_eq!(view.get("transportDocument").unwrap().sorted(), td.sorted());
    let chain = &view.get("endorsementChains").unwrap();
    let Json::Array(chains) = chain else { panic!() };
    let Json::Array(entries) = chains[0].get("endorsementChain").unwrap() else {
        panic!()
    };
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].get("actionCode").and_then(Json::as_str), Some("ISSUE"));
    assert_eq!(
        entries[0].get("actionDateTime").and_then(Json::as_str),
        Some("2026-01-01T00:00:01.000Z")
    );

    // The same document as a bare TransportDocument and as the notification's `data`.
    let bare = import_transport_document(&td, "", &holder("PRODUCER-FZ")).unwrap();
    assert_eq!(bare.issue, m.issue);
    let (td2, p2, _) = td_of(&Json::Object(vec![("transportDocument".into(), td.clone())]).canonical());
    assert_eq!(p2, "transportDocument");
    assert_eq!(
        import_transport_document(&td2, &p2, &holder("PRODUCER-FZ"))
            .unwrap()
            .issue,
        m.issue
    );

    // Without a holder and no party naming a member: refused, naming issueTo.
    let e = import_transport_document(&td, &path, &ImportOptions::default()).unwrap_err();
    assert_eq!(field_of(e), "data.transportDocument.documentParties.issueTo");
    // A shipper naming a member becomes the holder and its org link.
    let mut td3 = td.clone();
    let Json::Object(m3) = &mut td3 else { panic!() };
    let parties = &mut m3.iter_mut().find(|(k, _)| k == "documentParties").unwrap().1;
    let Json::Object(pm) = parties else { panic!() };
    let shipper = &mut pm.iter_mut().find(|(k, _)| k == "shipper").unwrap().1;
    set(
        shipper,
        "identifyingCodes",
        Json::Array(vec![Json::Object(vec![
            ("codeListProvider".into(), s("ZZZ")),
            ("codeListName".into(), s("tradechain")),
            ("partyCode".into(), s("PRODUCER-FZ")),
        ])]),
    );
    let m3 = import_transport_document(&td3, "", &ImportOptions::default()).unwrap();
    assert_eq!(m3.issue.holder, oid("PRODUCER-FZ"));
    assert_eq!(m3.issue.shipper.org, Some(oid("PRODUCER-FZ")));
}

#[test]
fn pint_envelope_transport_document_maps_and_its_transfer_chain_is_checked() {
    let text = testdata(PINT);
    let (td, path, wrapper) = td_of(&text);
    assert_eq!(path, "transportDocument");
    let Wrapper::Pint(envelope) = wrapper else {
        panic!("not recognised as a PINT envelope")
    };
    let m = import_transport_document(&td, &path, &holder("BANK-NL")).unwrap();
    assert_eq!(m.issue.reference, "62CD536BA8D34C469AFD");
    assert_eq!(m.status.as_deref(), Some("DRAFT"));
    assert_eq!(m.issue.kind, WaybillKind::ToOrder);
    assert_eq!(m.issue.goods[0].gross_weight_grams, 12_000_000);
    assert_eq!(m.issue.holder, oid("BANK-NL"));

    // DCSA's example carries illustrative checksums (no canonical form of its transport
    // document hashes to 583c29ab…): the check refuses it, naming the first entry's checksum.
    let e = pint::check_envelope(&envelope).unwrap_err();
    assert_eq!(field_of(e), "envelopeTransferChain[0].transportDocumentChecksum");

    // A consistent chain over the same transport document (signatures are not checked: the
    // example's own signature part is reused).
    let sig = "c4SJ9-61fE6RmeIuZ3EI";
    let jws = |payload: &Json| {
        format!(
            "{}.{}.{sig}",
            pint::b64url_encode(br#"{"alg":"RS256"}"#),
            pint::b64url_encode(payload.canonical().as_bytes())
        )
    };
    let sum = pint::document_checksum(&td);
    let entry = |prev: Option<&str>, action: &str| {
        let mut m = vec![
            ("eblPlatform".to_string(), s("BOLE")),
            ("transportDocumentChecksum".to_string(), s(&sum)),
            (
                "transactions".to_string(),
                Json::Array(vec![Json::Object(vec![("action".into(), s(action))])]),
            ),
        ];
        if let Some(p) = prev {
            m.push((
                "previousEnvelopeTransferChainEntrySignedContentChecksum".into(),
                s(&pint::checksum(p)),
            ));
        }
        jws(&Json::Object(m))
    };
    let e0 = entry(None, "ISSU");
    let e1 = entry(Some(&e0), "TRNS");
    let build = |td: &Json, chain: &[&str], last: &str| {
        let manifest = Json::Object(vec![
            ("transportDocumentChecksum".into(), s(&sum)),
            (
                "lastEnvelopeTransferChainEntrySignedContentChecksum".into(),
                s(&pint::checksum(last)),
            ),
        ]);
        Json::Object(vec![
            ("transportDocument".into(), td.clone()),
            ("envelopeManifestSignedContent".into(), s(&jws(&manifest))),
            (
                "envelopeTransferChain".into(),
                Json::Array(chain.iter().map(|c| s(c)).collect()),
            ),
        ])
    };
    let good = build(&td, &[&e0, &e1], &e1);
    let entries = pint::check_envelope(&good).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].actions, vec!["TRNS".to_string()]);
    assert_eq!(entries[0].ebl_platform.as_deref(), Some("BOLE"));
    // The same envelope read from its text maps as well.
    assert!(matches!(
        read_document(&good.canonical()).unwrap(),
        Document::Transport {
            wrapper: Wrapper::Pint(_),
            ..
        }
    ));

    // Tampered: the transport document changed after signing.
    let mut td_t = td.clone();
    set(&mut td_t, "isToOrder", Json::Bool(false));
    let e = pint::check_envelope(&build(&td_t, &[&e0, &e1], &e1)).unwrap_err();
    assert_eq!(field_of(e), "envelopeTransferChain[0].transportDocumentChecksum");
    // Reordered entries break the hash link.
    let e = pint::check_envelope(&build(&td, &[&e1, &e0], &e0)).unwrap_err();
    assert_eq!(
        field_of(e),
        "envelopeTransferChain[0].previousEnvelopeTransferChainEntrySignedContentChecksum"
    );
    // The last entry dropped: the manifest names another last entry.
    let e = pint::check_envelope(&build(&td, &[&e0], &e1)).unwrap_err();
    assert_eq!(
        field_of(e),
        "envelopeManifestSignedContent.lastEnvelopeTransferChainEntrySignedContentChecksum"
    );
    // An entry altered in transit (its payload re-encoded with another action).
    let forged = entry(Some(&e0), "SURR");
    let e = pint::check_envelope(&build(&td, &[&e0, &forged], &e1)).unwrap_err();
    assert_eq!(
        field_of(e),
        "envelopeManifestSignedContent.lastEnvelopeTransferChainEntrySignedContentChecksum"
    );
    // Not a JWS / not base64url.
    let e = pint::check_envelope(&build(&td, &["abc", &e1], &e1)).unwrap_err();
    assert_eq!(field_of(e), "envelopeTransferChain[0]");
    let e = pint::check_envelope(&build(&td, &["a.!!.b", &e1], &e1)).unwrap_err();
    assert_eq!(field_of(e), "envelopeTransferChain[0]");
}

#[test]
fn surrender_request_is_a_surrender_for_delivery_and_runs_on_the_ledger() {
    let text = testdata(SUR);
    let Document::Surrender(req) = read_document(&text).unwrap() else {
        panic!("not recognised as a surrender request")
    };
    assert_eq!(req.surrender_request_reference, "Z12345");
    assert_eq!(req.reference, "HHL71800000");
    assert_eq!(req.sub_reference.as_deref(), Some("Version_1"));
    assert_eq!(req.purpose, SurrenderPurpose::Delivery, "SREQ");
    assert_eq!(
        req.op(oid(C)),
        WaybillOp::Surrender {
            carrier: oid(C),
            reference: "HHL71800000".into(),
            purpose: SurrenderPurpose::Delivery,
        }
    );
    // AREQ is for amendment; anything else is refused naming the code.
    let areq = text.replace("\"SREQ\"", "\"AREQ\"");
    let Document::Surrender(a) = read_document(&areq).unwrap() else {
        panic!()
    };
    assert_eq!(a.purpose, SurrenderPurpose::Amendment);
    let e = read_document(&text.replace("\"SREQ\"", "\"XREQ\"")).unwrap_err();
    assert_eq!(field_of(e), "surrenderRequestCode");

    // On the ledger: the notification's bill issued to the producer, surrendered by it with the
    // request, accomplished by the carrier.
    let (td, path, _) = td_of(&testdata(NOTIFICATION));
    let issue = import_transport_document(&td, &path, &holder("PRODUCER-FZ"))
        .unwrap()
        .issue;
    let mut c = Chain::demo();
    c.accept(C, Payload::Waybill(WaybillOp::Issue(issue)));
    let v1 = record(&c, "HHL71800000");
    // Only the holder surrenders.
    c.reject("BANK-NL", Payload::Waybill(req.op(oid(C))));
    c.accept("PRODUCER-FZ", Payload::Waybill(req.op(oid(C))));
    let v2 = record(&c, "HHL71800000");
    assert_eq!(v2.status, WaybillStatus::SurrenderedForDelivery);
    c.accept(
        C,
        Payload::Waybill(WaybillOp::Accomplish {
            carrier: oid(C),
            reference: "HHL71800000".into(),
        }),
    );
    let v3 = record(&c, "HHL71800000");
    let codes: Vec<&str> = chains(&[v1, v2, v3.clone()])[0]
        .actions
        .iter()
        .map(|a| a.code)
        .collect();
    assert_eq!(codes, ["ISSUE", "SURRENDER_FOR_DELIVERY", "SURRENDERED"]);
    let view = dcsa_view(&[v3], &|_| None).unwrap();
    assert_eq!(
        view.get("transportDocumentStatus").and_then(Json::as_str),
        Some("SURRENDERED_FOR_DELIVERY")
    );
}

/// A chain's sub-reference and its (actionCode, has a recipient) entries.
type Shape = (Option<String>, Vec<(String, bool)>);

/// The action codes (and who acts) of each chain of an endorsement-chains document.
fn chain_shape(chains: &Json) -> Vec<Shape> {
    let Json::Array(cs) = chains else {
        panic!("not an array")
    };
    cs.iter()
        .map(|c| {
            let Json::Array(es) = c.get("endorsementChain").unwrap() else {
                panic!()
            };
            (
                c.get("transportDocumentSubReference")
                    .and_then(Json::as_str)
                    .map(str::to_string),
                es.iter()
                    .map(|e| {
                        (
                            e.get("actionCode").and_then(Json::as_str).unwrap().to_string(),
                            e.get("recipient").is_some(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

#[test]
fn endorsement_chains_example_is_what_the_ledger_renders_for_an_amendment() {
    let expected = json::parse(&testdata(END)).unwrap();
    // The same history on the ledger: the notification's bill under the example's reference,
    // sub-reference v1, issued to the producer, surrendered for amendment, re-issued as v2.
    let (mut td, _, _) = td_of(&testdata(NOTIFICATION));
    set(&mut td, "transportDocumentReference", s("62CD536BA8D34C469AFD"));
    set(&mut td, "transportDocumentSubReference", s("v1"));
    let v1_doc = import_transport_document(&td, "", &holder("PRODUCER-FZ"))
        .unwrap()
        .issue;
    set(&mut td, "transportDocumentSubReference", s("v2"));
    let mut v2_doc = import_transport_document(&td, "", &holder("PRODUCER-FZ"))
        .unwrap()
        .issue;
    v2_doc.sub_reference = 1;
    let reference = "62CD536BA8D34C469AFD";
    let mut c = Chain::demo();
    let mut versions = Vec::new();
    c.accept(C, Payload::Waybill(WaybillOp::Issue(v1_doc)));
    versions.push(record(&c, reference));
    c.accept(
        "PRODUCER-FZ",
        Payload::Waybill(WaybillOp::Surrender {
            carrier: oid(C),
            reference: reference.into(),
            purpose: SurrenderPurpose::Amendment,
        }),
    );
    versions.push(record(&c, reference));
    c.accept(
        C,
        Payload::Waybill(WaybillOp::Amend {
            carrier: oid(C),
            reference: reference.into(),
            amended: Box::new(v2_doc),
        }),
    );
    versions.push(record(&c, reference));

    let rendered = endorsement_chains(&versions, &|l: TxLocation| {
        Some(1_767_225_600_000 + l.height as i64 * 1000)
    });
    // Same chains (v2 first), same action sequence (newest first), same actor/recipient shape.
    assert_eq!(chain_shape(&rendered), chain_shape(&expected));
    assert_eq!(
        chain_shape(&rendered),
        vec![
            (Some("v2".into()), vec![("ISSUE".into(), true)]),
            (
                Some("v1".into()),
                vec![
                    ("SURRENDERED".into(), false),
                    ("SURRENDER_FOR_AMENDMENT".into(), true),
                    ("ISSUE".into(), true)
                ]
            ),
        ]
    );
    // Every member the example's entries have, ours have (DCSA shape), with the orgs as codes.
    let Json::Array(cs) = &rendered else { panic!() };
    let Json::Array(es) = cs[1].get("endorsementChain").unwrap() else {
        panic!()
    };
    let sfa = &es[1];
    for m in ["actionDateTime", "actionCode", "actor", "recipient"] {
        assert!(sfa.get(m).is_some(), "missing {m}");
    }
    let code = |p: &Json| {
        let Json::Array(ids) = p.get("identifyingCodes").unwrap() else {
            panic!()
        };
        ids[0].get("partyCode").and_then(Json::as_str).unwrap().to_string()
    };
    assert_eq!(code(sfa.get("actor").unwrap()), "PRODUCER-FZ");
    assert_eq!(code(sfa.get("recipient").unwrap()), C);
    assert_eq!(
        cs[0].get("transportDocumentReference").and_then(Json::as_str),
        Some(reference)
    );

    // Transfers read as ENDORSE + TRANSFER.
    let mut c = Chain::demo();
    let mut versions = Vec::new();
    c.accept(
        C,
        Payload::Waybill(WaybillOp::Issue(waybill_issue(BL_REF, "PRODUCER-FZ", &[]))),
    );
    versions.push(record(&c, BL_REF));
    c.accept(
        "PRODUCER-FZ",
        Payload::Waybill(WaybillOp::Transfer {
            carrier: oid(C),
            reference: BL_REF.into(),
            new_holder: oid("BANK-NL"),
        }),
    );
    versions.push(record(&c, BL_REF));
    let codes: Vec<&str> = chains(&versions)[0].actions.iter().map(|a| a.code).collect();
    assert_eq!(codes, ["ISSUE", "ENDORSE", "TRANSFER"]);
}

#[test]
fn a_bill_in_tradechain_shape_renders_as_a_transport_document_that_maps_back() {
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[]);
    d.goods[0].gross_weight_grams = 480_500;
    let td = transport_document(&d, "ISSUED");
    let back = import_transport_document(&td, "", &holder("PRODUCER-FZ"))
        .unwrap()
        .issue;
    let mut expect = d.clone();
    expect.dcsa = Some(td.canonical());
    assert_eq!(back, expect);
}

#[test]
fn weights_are_exact_grams_from_the_decimal_text() {
    use tradechain_ledger::dcsa::import::weight_grams;
    let n = |t: &str| Json::Number(t.into());
    let f = "x.value";
    assert_eq!(weight_grams(&n("12000"), "KGM", f), Ok(12_000_000));
    assert_eq!(weight_grams(&n("0.5"), "KGM", f), Ok(500));
    assert_eq!(weight_grams(&n("1.2340000"), "KGM", f), Ok(1_234));
    assert_eq!(weight_grams(&n("1"), "LBR", f), Ok(454));
    assert_eq!(weight_grams(&n("2.5"), "LBR", f), Ok(1_134));
    assert_eq!(weight_grams(&n("100000"), "LBR", f), Ok(45_359_237));
    for (t, why) in [
        ("0.0005", "finer than a gram"),
        ("1.2E4", "exponent"),
        ("-1", "negative"),
        ("1234567890123456", "too many digits"),
    ] {
        let e = weight_grams(&n(t), "KGM", f).unwrap_err();
        assert!(e.to_string().contains(why), "{t}: {e}");
        assert_eq!(field_of(e), f);
    }
    let e = weight_grams(&s("12000"), "KGM", f).unwrap_err();
    assert!(e.to_string().contains("not a number"), "{e}");
    assert_eq!(field_of(weight_grams(&n("1"), "TNE", f).unwrap_err()), "x.unit");
}

/// The notification with one edit to its transport document's text.
fn edited(from: &str, to: &str) -> String {
    let t = testdata(NOTIFICATION);
    assert!(t.contains(from), "{from} not in the example");
    t.replacen(from, to, 1)
}

fn import_err(text: &str) -> DcsaError {
    match read_document(text) {
        Err(e) => e,
        Ok(Document::Transport { td, path, .. }) => {
            import_transport_document(&td, &path, &holder("PRODUCER-FZ")).unwrap_err()
        }
        Ok(Document::Surrender(_)) => panic!("a surrender request"),
    }
}

#[test]
fn broken_documents_are_refused_naming_the_field() {
    let p = "data.transportDocument";
    let cases: Vec<(String, String)> = vec![
        (
            edited("\"value\": 12000", "\"value\": 12000.0001"),
            format!("{p}.consignmentItems[0].cargoItems[0].cargoGrossWeight.value"),
        ),
        (
            edited("\"value\": 12000", "\"value\": \"12000\""),
            format!("{p}.consignmentItems[0].cargoItems[0].cargoGrossWeight.value"),
        ),
        (
            edited("\"unit\": \"KGM\"", "\"unit\": \"TNE\""),
            format!("{p}.consignmentItems[0].cargoItems[0].cargoGrossWeight.unit"),
        ),
        (
            edited("\"numberOfPackages\": 400", "\"numberOfPackages\": 1.5"),
            format!("{p}.consignmentItems[0].cargoItems[0].outerPackaging.numberOfPackages"),
        ),
        (
            edited("\"640510\"", "\"64051\""),
            format!("{p}.consignmentItems[0].HSCodes[0]"),
        ),
        (
            edited("\"UNLocationCode\": \"DEBRV\"", "\"UNLocationCode\": \"Bremerhaven\""),
            format!("{p}.transports.portOfDischarge.UNLocationCode"),
        ),
        (
            edited(
                "\"transportDocumentTypeCode\": \"BOL\"",
                "\"transportDocumentTypeCode\": \"SWB\"",
            ),
            format!("{p}.isToOrder"),
        ),
        (
            edited(
                "\"transportDocumentTypeCode\": \"BOL\"",
                "\"transportDocumentTypeCode\": \"XYZ\"",
            ),
            format!("{p}.transportDocumentTypeCode"),
        ),
        (
            edited("\"isToOrder\": true", "\"isToOrder\": \"yes\""),
            format!("{p}.isToOrder"),
        ),
        (
            edited(
                "\"transportDocumentStatus\": \"ISSUED\",\n      \"transportDocumentTypeCode\"",
                "\"transportDocumentStatus\": \"VOIDED\",\n      \"transportDocumentTypeCode\"",
            ),
            format!("{p}.transportDocumentStatus"),
        ),
        (
            edited(
                "\"shippedOnBoardDate\": \"2023-12-20\"",
                "\"shippedOnBoardDate\": \"2023-02-30\"",
            ),
            format!("{p}.shippedOnBoardDate"),
        ),
        (
            edited("\"shippedOnBoardDate\": \"2023-12-20\"", "\"shippedOnBoardDate\": null"),
            format!("{p}.issueDate"),
        ),
        (
            edited("\"consignmentItems\": [", "\"consignmentItemz\": ["),
            format!("{p}.consignmentItems"),
        ),
        (
            edited("\"vesselVoyages\": [", "\"vesselVoyagez\": ["),
            format!("{p}.transports.vesselVoyages"),
        ),
        (
            edited("\"partyName\": \"DCSA CTK\"", "\"partyName\": \"\""),
            format!("{p}.documentParties.shipper.partyName"),
        ),
        (
            edited(
                "\"transportDocumentReference\": \"HHL71800000\",\n      \"transportDocumentSubReference\"",
                "\"transportDocumentReference\": 7,\n      \"transportDocumentSubReference\"",
            ),
            format!("{p}.transportDocumentReference"),
        ),
        (
            edited("\"transportDocument\": {", "\"transportDocument\": [{").replacen(
                "\n    }\n  }\n}",
                "\n    }]\n  }\n}",
                1,
            ),
            "data.transportDocument".into(),
        ),
        ("{\"specversion\": \"1.0\"}".into(), "data".into()),
        ("{\"foo\": 1}".into(), "transportDocumentReference".into()),
        ("[1, 2]".into(), "".into()),
    ];
    for (text, field) in cases {
        let e = import_err(&text);
        assert_eq!(field_of(e.clone()), field, "{e}");
        assert!(e.to_string().contains(&field), "{e}");
    }
    // Not JSON at all; nesting beyond the parser's depth: syntax errors, no panic.
    assert!(matches!(read_document("{\"a\": "), Err(DcsaError::Syntax(_))));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(matches!(read_document(&deep), Err(DcsaError::Syntax(_))));
    // Oversized: the kept document is bounded.
    let big = edited(
        "\"serviceContractReference\": \"SCR-1234-REGULAR\"",
        &format!("\"serviceContractReference\": \"{}\"", "x".repeat(MAX_DOCUMENT_BYTES)),
    );
    let e = import_err(&big);
    assert_eq!(field_of(e.clone()), "data.transportDocument");
    assert!(e.to_string().contains("above the limit"), "{e}");
    // Every truncation of a real document is refused or mapped, never a panic.
    let t = testdata(NOTIFICATION);
    for cut in (0..t.len()).step_by(7) {
        if let Some(prefix) = t.get(..cut)
            && let Ok(Document::Transport { td, path, .. }) = read_document(prefix)
        {
            let _ = import_transport_document(&td, &path, &holder("PRODUCER-FZ"));
        }
    }
}
