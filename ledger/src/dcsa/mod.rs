//! DCSA eBL 3.0 in and out: a `TransportDocument` (bare, in a CloudEvents notification, or in a
//! PINT envelope) ↔ the ledger's bill of lading (`payload::WaybillIssue`), a surrender request ↔
//! `WaybillOp::Surrender`, and a waybill's versions → DCSA endorsement chains.
//!
//! Module map: `import` documents → ops; `export` records → DCSA-shaped JSON; `pint` the PINT
//! envelope's transfer chain (checksums and hash links). JSON is read with `epcis::json` (numbers
//! keep their text: no floats anywhere).
//!
//! Invariants (the mapping contract, shared by the CLI, the node and the validators):
//! - Pure and deterministic: no I/O, no clock, no floats. Weights are parsed from their decimal
//!   text into whole grams; a weight finer than a gram, negative or in exponent notation is an
//!   error, never rounded (pounds are converted exactly and rounded half-up to the gram).
//! - The original is kept: an imported bill carries its `TransportDocument` as canonical JSON
//!   (`Json::canonical`) in `WaybillIssue::dcsa`, at most `MAX_DOCUMENT_BYTES`; `export` returns
//!   that document with only `transportDocumentStatus` replaced by the ledger's status.
//! - A DCSA party becomes a member org only when it says so: an `identifyingCodes` entry with
//!   `codeListProvider` `ZZZ` (DCSA's "mutually defined") and `codeListName` `tradechain` whose
//!   `partyCode` is the `OrgId`. Nothing is guessed from names, LEIs or SMDG carrier codes. The
//!   issuing carrier is the transaction's signer (an `issuingParty` naming another org is refused
//!   by the CLI); the first holder is, in order: the caller's explicit holder, `issueTo`, the
//!   shipper — the first that maps to an org.
//! - Errors name the JSON member path at fault (`data.transportDocument.consignmentItems[0]…`).
//!   Nothing panics on any input.
pub mod export;
pub mod import;
pub mod pint;

pub use crate::epcis::json::{self, Json};
pub use export::{dcsa_view, endorsement_chains};
pub use import::{Document, ImportOptions, read_document};

/// Largest canonical `TransportDocument` a bill may carry (bytes of `WaybillIssue::dcsa`).
pub const MAX_DOCUMENT_BYTES: usize = 32 * 1024;
/// `identifyingCodes[].codeListProvider` of a party that names a tradechain member.
pub const ORG_CODE_LIST_PROVIDER: &str = "ZZZ";
/// `identifyingCodes[].codeListName` of a party that names a tradechain member.
pub const ORG_CODE_LIST_NAME: &str = "tradechain";
/// `eblPlatform` of the actors and recipients this ledger's endorsement chains name (not a
/// DCSA-registered platform code).
pub const EBL_PLATFORM: &str = "TRADECHAIN";

/// Why a DCSA document was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DcsaError {
    /// Not JSON at all.
    #[error("not a JSON document: {0}")]
    Syntax(#[from] json::JsonError),
    /// `field` (a JSON member path) is missing or wrong.
    #[error("field {field:?}: {reason}")]
    Field { field: String, reason: String },
}

impl DcsaError {
    pub fn field(field: impl Into<String>, reason: impl Into<String>) -> DcsaError {
        DcsaError::Field {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Check a kept original (`WaybillIssue::dcsa`) the way the waybill validator does: at most
/// `MAX_DOCUMENT_BYTES`, canonical JSON of an object, naming `reference` as its
/// `transportDocumentReference`. The error says which.
pub fn check_kept(text: &str, reference: &str) -> Result<(), String> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "the DCSA document is {} bytes, above the limit of {MAX_DOCUMENT_BYTES}",
            text.len()
        ));
    }
    let doc = json::parse(text).map_err(|e| format!("the DCSA document is not JSON: {e}"))?;
    if !matches!(doc, Json::Object(_)) {
        return Err(format!("the DCSA document is {}, not an object", doc.kind()));
    }
    if doc.canonical() != text {
        return Err("the DCSA document is not in canonical form (members sorted, no whitespace)".into());
    }
    match doc.get("transportDocumentReference").and_then(Json::as_str) {
        Some(r) if r == reference => Ok(()),
        Some(r) => Err(format!(
            "the DCSA document's transportDocumentReference {r:?} is not the bill's reference {reference:?}"
        )),
        None => Err("the DCSA document has no transportDocumentReference string".into()),
    }
}
