//! DCSA eBL 3.0 documents → waybill ops.
//!
//! Accepted shapes (`read_document` tells them apart by their members):
//! - a bare `TransportDocument` (has `transportDocumentReference`);
//! - a transport-document notification (CloudEvents, `data.transportDocument`) or its `data`
//!   alone (`transportDocument`);
//! - a PINT envelope (`transportDocument` + `envelopeTransferChain`; the chain is checked by
//!   `dcsa::pint`, not here);
//! - a surrender request (`surrenderRequestCode`: `SREQ` → for delivery, `AREQ` → for amendment).
//!
//! Field mapping of a `TransportDocument` onto `WaybillIssue`:
//! - `transportDocumentReference` → `reference`; mode is sea; `sub_reference` 0 (an original; the
//!   DCSA `transportDocumentSubReference` text stays in the kept document);
//! - `transportDocumentTypeCode` `BOL` + `isToOrder` true → to-order, `BOL` + false → straight,
//!   `SWB` → sea waybill (a to-order SWB is refused);
//! - `transports.placeOfReceipt|portOfLoading|portOfDischarge|placeOfDelivery.UNLocationCode`
//!   → the four places (receipt defaults to the port of loading, delivery to the port of
//!   discharge, as on a port-to-port bill); `transports.vesselVoyages[0]` `vesselName` →
//!   `vehicle`, `carrierExportVoyageNumber` → `voyage`;
//! - `issueDate`, else `shippedOnBoardDate`, else `receivedForShipmentDate` (`YYYY-MM-DD`) →
//!   `issue_date_ms` (midnight UTC);
//! - `documentParties.shipper|consignee|notifyParties[0]` → parties: `partyName`,
//!   `address.countryCode` (when absent: the country of the place of receipt for the shipper, of
//!   the place of delivery for the others — a UN/LOCODE starts with its country), the address as
//!   one line, the member org when the party names one (`dcsa` module doc);
//! - each `consignmentItems[i].cargoItems[j]` → one goods line: `descriptionOfGoods` joined with
//!   "; ", `HSCodes[0]`, `outerPackaging.numberOfPackages` and `packageCode` (else
//!   `IMOPackagingCode`), `cargoGrossWeight` (`KGM` or `LBR`) in grams.
use super::{DcsaError, Json, MAX_DOCUMENT_BYTES, ORG_CODE_LIST_NAME, ORG_CODE_LIST_PROVIDER, json};
use crate::identity::OrgId;
use crate::payload::{GoodsLine, Party, SurrenderPurpose, TransportMode, WaybillIssue, WaybillKind, WaybillOp};

/// Where the `TransportDocument` came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wrapper {
    Bare,
    /// A CloudEvents notification (`data.transportDocument`) or its `data` (`transportDocument`).
    Notification,
    /// A PINT envelope; the whole envelope, for `pint::check_envelope`.
    Pint(Json),
}

/// A DCSA document, recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Document {
    Transport {
        /// The `TransportDocument` object.
        td: Json,
        /// Its member path in the input ("" when bare), the prefix of every error's field.
        path: String,
        wrapper: Wrapper,
    },
    Surrender(SurrenderRequest),
}

/// A DCSA surrender request (`POST /v3/ebl-surrender-requests`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SurrenderRequest {
    pub surrender_request_reference: String,
    pub reference: String,
    pub sub_reference: Option<String>,
    pub purpose: SurrenderPurpose,
}

impl SurrenderRequest {
    /// The ledger op: the holder surrenders the bill `carrier` issued (the request does not name
    /// the carrier: it is sent to it).
    pub fn op(&self, carrier: OrgId) -> WaybillOp {
        WaybillOp::Surrender {
            carrier,
            reference: self.reference.clone(),
            purpose: self.purpose,
        }
    }
}

/// What the caller decides that the document cannot say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// The first holder; else `issueTo`'s org, else the shipper's.
    pub holder: Option<OrgId>,
}

/// A mapped `TransportDocument`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub issue: WaybillIssue,
    /// The member org `documentParties.issuingParty` names, if it names one.
    pub issuing_org: Option<OrgId>,
    /// `transportDocumentStatus` as written, if present.
    pub status: Option<String>,
}

/// Whether a JSON value is one of the DCSA shapes `read_document` accepts (and not
/// tradechain's own waybill op, which has `action`).
pub fn looks_like_dcsa(doc: &Json) -> bool {
    doc.get("action").is_none()
        && [
            "transportDocumentReference",
            "transportDocument",
            "surrenderRequestCode",
            "envelopeTransferChain",
            "specversion",
        ]
        .iter()
        .any(|m| doc.get(m).is_some())
}

/// Recognise a DCSA document.
pub fn read_document(text: &str) -> Result<Document, DcsaError> {
    let doc = json::parse(text)?;
    if !matches!(doc, Json::Object(_)) {
        return Err(DcsaError::field(
            "",
            format!("a DCSA document is an object, not {}", doc.kind()),
        ));
    }
    if doc.get("surrenderRequestCode").is_some() {
        return surrender_request(&doc).map(Document::Surrender);
    }
    if doc.get("envelopeTransferChain").is_some() || doc.get("envelopeManifestSignedContent").is_some() {
        let td = object(&doc, "", "transportDocument")?.clone();
        return Ok(Document::Transport {
            td,
            path: "transportDocument".into(),
            wrapper: Wrapper::Pint(doc),
        });
    }
    if doc.get("specversion").is_some() || doc.get("data").is_some() {
        let data = object(&doc, "", "data")?;
        let td = object(data, "data", "transportDocument")?.clone();
        return Ok(Document::Transport {
            td,
            path: "data.transportDocument".into(),
            wrapper: Wrapper::Notification,
        });
    }
    if doc.get("transportDocument").is_some() {
        let td = object(&doc, "", "transportDocument")?.clone();
        return Ok(Document::Transport {
            td,
            path: "transportDocument".into(),
            wrapper: Wrapper::Notification,
        });
    }
    if doc.get("transportDocumentReference").is_some() {
        return Ok(Document::Transport {
            td: doc,
            path: String::new(),
            wrapper: Wrapper::Bare,
        });
    }
    Err(DcsaError::field(
        "transportDocumentReference",
        "missing: not a DCSA eBL 3.0 document (expected a TransportDocument, a notification with \
         data.transportDocument, a PINT envelope or a surrender request)",
    ))
}

fn surrender_request(doc: &Json) -> Result<SurrenderRequest, DcsaError> {
    let code = string(doc, "", "surrenderRequestCode")?;
    let purpose = match code {
        "SREQ" => SurrenderPurpose::Delivery,
        "AREQ" => SurrenderPurpose::Amendment,
        other => {
            return Err(DcsaError::field(
                "surrenderRequestCode",
                format!("{other:?} is not SREQ (surrender for delivery) or AREQ (surrender for amendment)"),
            ));
        }
    };
    Ok(SurrenderRequest {
        surrender_request_reference: string(doc, "", "surrenderRequestReference")?.to_string(),
        reference: string(doc, "", "transportDocumentReference")?.to_string(),
        sub_reference: opt_string(doc, "", "transportDocumentSubReference")?.map(str::to_string),
        purpose,
    })
}

/// Map a `TransportDocument` (at member path `path`) onto a bill of lading, keeping it.
pub fn import_transport_document(td: &Json, path: &str, opts: &ImportOptions) -> Result<Imported, DcsaError> {
    if !matches!(td, Json::Object(_)) {
        return Err(DcsaError::field(path, format!("is {}, not an object", td.kind())));
    }
    let kept = td.canonical();
    if kept.len() > MAX_DOCUMENT_BYTES {
        let field = if path.is_empty() { "transportDocument" } else { path };
        return Err(DcsaError::field(
            field,
            format!(
                "is {} bytes as canonical JSON, above the limit of {MAX_DOCUMENT_BYTES}",
                kept.len()
            ),
        ));
    }
    let reference = string(td, path, "transportDocumentReference")?.to_string();
    let status = opt_string(td, path, "transportDocumentStatus")?.map(str::to_string);
    if let Some(s) = &status
        && !matches!(s.as_str(), "DRAFT" | "APPROVED" | "ISSUED")
    {
        return Err(DcsaError::field(
            at(path, "transportDocumentStatus"),
            format!("{s:?}: only a DRAFT, APPROVED or ISSUED document can be issued on the ledger"),
        ));
    }
    let to_order = boolean(td, path, "isToOrder")?;
    let kind = match (string(td, path, "transportDocumentTypeCode")?, to_order) {
        ("BOL", true) => WaybillKind::ToOrder,
        ("BOL", false) => WaybillKind::Straight,
        ("SWB", false) => WaybillKind::SeaWaybill,
        ("SWB", true) => {
            return Err(DcsaError::field(
                at(path, "isToOrder"),
                "a sea waybill (SWB) is not a document of title and cannot be to order",
            ));
        }
        (other, _) => {
            return Err(DcsaError::field(
                at(path, "transportDocumentTypeCode"),
                format!("{other:?} is not BOL or SWB"),
            ));
        }
    };

    let tp = at(path, "transports");
    let transports = object(td, path, "transports")?;
    let port_of_loading = location(transports, &tp, "portOfLoading")?;
    let port_of_discharge = location(transports, &tp, "portOfDischarge")?;
    let place_of_receipt = match transports.get("placeOfReceipt") {
        Some(_) => location(transports, &tp, "placeOfReceipt")?,
        None => port_of_loading.clone(),
    };
    let place_of_delivery = match transports.get("placeOfDelivery") {
        Some(_) => location(transports, &tp, "placeOfDelivery")?,
        None => port_of_discharge.clone(),
    };
    let vv_path = at(&tp, "vesselVoyages");
    let first_vv = array(transports, &tp, "vesselVoyages")?
        .first()
        .ok_or_else(|| DcsaError::field(&vv_path, "is empty; at least one vessel and voyage is needed"))?;
    let vv0 = format!("{vv_path}[0]");
    let vehicle = string(first_vv, &vv0, "vesselName")?.to_string();
    let voyage = string(first_vv, &vv0, "carrierExportVoyageNumber")?.to_string();

    let issue_date_ms = issue_date(td, path)?;

    let pp = at(path, "documentParties");
    let parties = object(td, path, "documentParties")?;
    let receipt_country = place_of_receipt.get(..2).unwrap_or_default();
    let delivery_country = place_of_delivery.get(..2).unwrap_or_default();
    let shipper_json = object(parties, &pp, "shipper")?;
    let shipper = party(shipper_json, &at(&pp, "shipper"), receipt_country)?;
    let consignee = match parties.get("consignee") {
        Some(c) => Some(party(c, &at(&pp, "consignee"), delivery_country)?),
        None => None,
    };
    let notify_party = match parties.get("notifyParties") {
        Some(_) => match array(parties, &pp, "notifyParties")?.first() {
            Some(n) => Some(party(n, &format!("{pp}.notifyParties[0]"), delivery_country)?),
            None => None,
        },
        None => None,
    };
    let issuing_org = match parties.get("issuingParty") {
        Some(p) => party_org(p, &at(&pp, "issuingParty"))?,
        None => None,
    };
    let issue_to = match parties.get("issueTo") {
        Some(p) => party_org(p, &at(&pp, "issueTo"))?,
        None => None,
    };
    let holder = opts
        .holder
        .clone()
        .or(issue_to)
        .or_else(|| shipper.org.clone())
        .ok_or_else(|| {
            DcsaError::field(
                at(&pp, "issueTo"),
                format!(
                    "no first holder: neither issueTo nor the shipper names a member org (an \
                     identifyingCodes entry with codeListProvider {ORG_CODE_LIST_PROVIDER:?}, codeListName \
                     {ORG_CODE_LIST_NAME:?} and the org id as partyCode); name the holder explicitly (CLI: --holder)"
                ),
            )
        })?;

    let goods = goods_lines(td, path)?;
    Ok(Imported {
        issue: WaybillIssue {
            reference,
            mode: TransportMode::Sea,
            kind,
            shipper,
            consignee,
            notify_party,
            holder,
            place_of_receipt,
            port_of_loading,
            port_of_discharge,
            place_of_delivery,
            vehicle,
            voyage,
            goods,
            issue_date_ms,
            sub_reference: 0,
            dcsa: Some(kept),
        },
        issuing_org,
        status,
    })
}

fn goods_lines(td: &Json, path: &str) -> Result<Vec<GoodsLine>, DcsaError> {
    let ci_path = at(path, "consignmentItems");
    let items = array(td, path, "consignmentItems")?;
    if items.is_empty() {
        return Err(DcsaError::field(
            &ci_path,
            "is empty; a bill carries at least one consignment item",
        ));
    }
    let mut goods = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{ci_path}[{i}]");
        let mut description = Vec::new();
        for (k, d) in array(item, &ip, "descriptionOfGoods")?.iter().enumerate() {
            let s = d.as_str().ok_or_else(|| {
                DcsaError::field(
                    format!("{ip}.descriptionOfGoods[{k}]"),
                    format!("is {}, not a string", d.kind()),
                )
            })?;
            description.push(s);
        }
        if description.is_empty() {
            return Err(DcsaError::field(at(&ip, "descriptionOfGoods"), "is empty"));
        }
        let hs_field = format!("{ip}.HSCodes[0]");
        let hs_code = match array(item, &ip, "HSCodes")?.first() {
            Some(Json::String(s)) => s.clone(),
            Some(other) => return Err(DcsaError::field(hs_field, format!("is {}, not a string", other.kind()))),
            None => {
                return Err(DcsaError::field(
                    at(&ip, "HSCodes"),
                    "is empty; at least one HS code is needed",
                ));
            }
        };
        if !crate::codes::is_hs_code(&hs_code) {
            return Err(DcsaError::field(
                hs_field,
                format!("{hs_code:?} is not an HS code (6 digits, optionally 8 or 10)"),
            ));
        }
        let cargo = array(item, &ip, "cargoItems")?;
        if cargo.is_empty() {
            return Err(DcsaError::field(at(&ip, "cargoItems"), "is empty"));
        }
        for (j, c) in cargo.iter().enumerate() {
            let cp = format!("{ip}.cargoItems[{j}]");
            let w = object(c, &cp, "cargoGrossWeight")?;
            let wp = at(&cp, "cargoGrossWeight");
            let unit = string(w, &wp, "unit")?;
            let value = w
                .get("value")
                .ok_or_else(|| DcsaError::field(at(&wp, "value"), "missing"))?;
            let gross_weight_grams = weight_grams(value, unit, &at(&wp, "value"))?;
            let op = at(&cp, "outerPackaging");
            let pack = object(c, &cp, "outerPackaging")?;
            let package_count = match pack.get("numberOfPackages") {
                Some(n) => count(n, &at(&op, "numberOfPackages"))?,
                None => 0,
            };
            let package_code = match opt_string(pack, &op, "packageCode")? {
                Some(p) => p.to_string(),
                None => opt_string(pack, &op, "IMOPackagingCode")?
                    .unwrap_or_default()
                    .to_string(),
            };
            goods.push(GoodsLine {
                description: description.join("; "),
                hs_code: hs_code.clone(),
                package_count,
                package_code,
                gross_weight_grams,
                goods_ids: Vec::new(),
            });
        }
    }
    Ok(goods)
}

fn issue_date(td: &Json, path: &str) -> Result<i64, DcsaError> {
    for name in ["issueDate", "shippedOnBoardDate", "receivedForShipmentDate"] {
        if let Some(d) = opt_string(td, path, name)? {
            return date_ms(d).map_err(|e| DcsaError::field(at(path, name), e));
        }
    }
    Err(DcsaError::field(
        at(path, "issueDate"),
        "missing (and no shippedOnBoardDate or receivedForShipmentDate): the bill needs a date",
    ))
}

/// Unix ms of midnight UTC of a `YYYY-MM-DD` date.
fn date_ms(d: &str) -> Result<i64, String> {
    let ok = d.len() == 10
        && d.bytes().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !ok {
        return Err(format!("{d:?} is not a date (YYYY-MM-DD)"));
    }
    crate::epcis::time::parse_ms(&format!("{d}T00:00:00Z")).map_err(|_| format!("{d:?} is not a calendar date"))
}

/// Whole grams of a DCSA weight: the number's decimal text, never a float. `KGM`: exact, at most
/// gram precision; `LBR`: × 453.59237 g, rounded half-up to the gram.
pub fn weight_grams(value: &Json, unit: &str, field: &str) -> Result<u64, DcsaError> {
    let Json::Number(text) = value else {
        return Err(DcsaError::field(field, format!("is {}, not a number", value.kind())));
    };
    let bad = |why: &str| DcsaError::field(field, format!("{text}: {why}"));
    if text.starts_with('-') {
        return Err(bad("a weight cannot be negative"));
    }
    if text.contains(['e', 'E']) {
        return Err(bad(
            "exponent notation is not accepted; write the weight as a plain decimal",
        ));
    }
    let (int, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let frac = frac.trim_end_matches('0');
    if int.len() > 15 || frac.len() > 12 {
        return Err(bad("too many digits"));
    }
    // value = n / 10^scale, exactly.
    let digits = format!("{int}{frac}");
    let n: u128 = digits.parse().map_err(|_| bad("not a decimal number"))?;
    let scale = u32::try_from(frac.len()).map_err(|_| bad("too many digits"))?;
    let pow = 10u128.pow(scale);
    let grams = match unit {
        "KGM" => {
            let g = n * 1000;
            if !g.is_multiple_of(pow) {
                return Err(bad(
                    "finer than a gram (at most 3 decimals in KGM); the ledger keeps whole grams",
                ));
            }
            g / pow
        }
        "LBR" => {
            // 1 lb = 453.59237 g = 45_359_237 / 100_000 g.
            let num = n * 45_359_237;
            let den = pow * 100_000;
            (num + den / 2) / den
        }
        other => {
            return Err(DcsaError::field(
                field
                    .strip_suffix(".value")
                    .map(|p| format!("{p}.unit"))
                    .unwrap_or_default(),
                format!("{other:?} is not KGM or LBR"),
            ));
        }
    };
    u64::try_from(grams).map_err(|_| bad("too large"))
}

fn count(v: &Json, field: &str) -> Result<u32, DcsaError> {
    match v {
        Json::Number(t) if !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()) => t
            .parse::<u32>()
            .map_err(|_| DcsaError::field(field, format!("{t} is too large"))),
        Json::Number(t) => Err(DcsaError::field(
            field,
            format!("{t} is not a whole, non-negative number"),
        )),
        other => Err(DcsaError::field(field, format!("is {}, not a number", other.kind()))),
    }
}

/// A location's UN/LOCODE.
fn location(parent: &Json, path: &str, name: &str) -> Result<String, DcsaError> {
    let lp = at(path, name);
    let loc = object(parent, path, name)?;
    let code = match loc.get("UNLocationCode") {
        Some(Json::String(s)) => s.clone(),
        Some(other) => {
            return Err(DcsaError::field(
                at(&lp, "UNLocationCode"),
                format!("is {}, not a string", other.kind()),
            ));
        }
        None => {
            return Err(DcsaError::field(
                at(&lp, "UNLocationCode"),
                "missing: the ledger records places as UN/LOCODEs (an address or facility alone is not mapped)",
            ));
        }
    };
    if !crate::codes::is_unlocode(&code) {
        return Err(DcsaError::field(
            at(&lp, "UNLocationCode"),
            format!("{code:?} is not a UN/LOCODE (country + 3 characters)"),
        ));
    }
    Ok(code)
}

fn party(p: &Json, path: &str, default_country: &str) -> Result<Party, DcsaError> {
    if !matches!(p, Json::Object(_)) {
        return Err(DcsaError::field(path, format!("is {}, not an object", p.kind())));
    }
    let name = string(p, path, "partyName")?.to_string();
    let (country, address) =
        match p.get("address") {
            Some(a) => {
                let ap = at(path, "address");
                if !matches!(a, Json::Object(_)) {
                    return Err(DcsaError::field(ap, format!("is {}, not an object", a.kind())));
                }
                let country = opt_string(a, &ap, "countryCode")?.map(str::to_string);
                let mut parts = Vec::new();
                for m in ["street", "streetNumber", "floor", "postCode", "city", "stateRegion"] {
                    if let Some(s) = opt_string(a, &ap, m)? {
                        parts.push(s);
                    }
                }
                (country, parts.join(" "))
            }
            None => {
                let mut lines = Vec::new();
                if p.get("displayedAddress").is_some() {
                    for (i, l) in array(p, path, "displayedAddress")?.iter().enumerate() {
                        lines.push(l.as_str().ok_or_else(|| {
                            DcsaError::field(format!("{path}.displayedAddress[{i}]"), "is not a string")
                        })?);
                    }
                }
                (None, lines.join(", "))
            }
        };
    let country = country.unwrap_or_else(|| default_country.to_string());
    if !crate::codes::is_country(&country) {
        return Err(DcsaError::field(
            format!("{path}.address.countryCode"),
            format!("{country:?} is not an ISO 3166-1 alpha-2 country code"),
        ));
    }
    Ok(Party {
        name,
        org: party_org(p, path)?,
        country,
        address,
    })
}

/// The member org a party names (`identifyingCodes`: provider `ZZZ`, list `tradechain`).
fn party_org(p: &Json, path: &str) -> Result<Option<OrgId>, DcsaError> {
    if p.get("identifyingCodes").is_none() {
        return Ok(None);
    }
    for (i, c) in array(p, path, "identifyingCodes")?.iter().enumerate() {
        let cp = format!("{path}.identifyingCodes[{i}]");
        let provider = opt_string(c, &cp, "codeListProvider")?;
        let list = opt_string(c, &cp, "codeListName")?;
        if provider == Some(ORG_CODE_LIST_PROVIDER) && list == Some(ORG_CODE_LIST_NAME) {
            let code = string(c, &cp, "partyCode")?;
            return OrgId::new(code)
                .map(Some)
                .map_err(|e| DcsaError::field(at(&cp, "partyCode"), e));
        }
    }
    Ok(None)
}

// --- member access, each error naming the path ---

pub(crate) fn at(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn member<'a>(obj: &'a Json, path: &str, name: &str) -> Result<&'a Json, DcsaError> {
    if !matches!(obj, Json::Object(_)) {
        return Err(DcsaError::field(path, format!("is {}, not an object", obj.kind())));
    }
    obj.get(name).ok_or_else(|| DcsaError::field(at(path, name), "missing"))
}

pub(crate) fn string<'a>(obj: &'a Json, path: &str, name: &str) -> Result<&'a str, DcsaError> {
    match member(obj, path, name)? {
        Json::String(s) if !s.trim().is_empty() => Ok(s),
        Json::String(_) => Err(DcsaError::field(at(path, name), "is empty")),
        other => Err(DcsaError::field(
            at(path, name),
            format!("is {}, not a string", other.kind()),
        )),
    }
}

pub(crate) fn opt_string<'a>(obj: &'a Json, path: &str, name: &str) -> Result<Option<&'a str>, DcsaError> {
    match obj.get(name) {
        None | Some(Json::Null) => Ok(None),
        Some(_) => string(obj, path, name).map(Some),
    }
}

fn boolean(obj: &Json, path: &str, name: &str) -> Result<bool, DcsaError> {
    match member(obj, path, name)? {
        Json::Bool(b) => Ok(*b),
        other => Err(DcsaError::field(
            at(path, name),
            format!("is {}, not a boolean", other.kind()),
        )),
    }
}

pub(crate) fn object<'a>(obj: &'a Json, path: &str, name: &str) -> Result<&'a Json, DcsaError> {
    match member(obj, path, name)? {
        o @ Json::Object(_) => Ok(o),
        other => Err(DcsaError::field(
            at(path, name),
            format!("is {}, not an object", other.kind()),
        )),
    }
}

pub(crate) fn array<'a>(obj: &'a Json, path: &str, name: &str) -> Result<&'a [Json], DcsaError> {
    match member(obj, path, name)? {
        Json::Array(a) => Ok(a),
        other => Err(DcsaError::field(
            at(path, name),
            format!("is {}, not an array", other.kind()),
        )),
    }
}
