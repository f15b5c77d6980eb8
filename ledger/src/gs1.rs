//! GS1 identification keys: parsing GS1 Digital Link URIs and EPC URNs into one canonical goods key.
//!
//! Canonical goods key = the Digital Link path without host, GTIN zero-padded to 14 digits:
//! `01/{gtin14}/21/{serial}` (serialised item), `01/{gtin14}/10/{lot}` (lot/batch),
//! `00/{sscc18}` (logistic unit), `01/{gtin14}` (class level), `414/{gln13}` (location),
//! `8003/{grai}` (returnable asset). Both spellings of one item reach the same key.
//! (Stub signature; the validators work fills in check digits and every key type.)

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Gs1Error(pub String);

/// Normalise a GS1 Digital Link URI, an EPC URN (sgtin, sscc, lgtin, sgln, grai, epc class) or
/// an already canonical key to the canonical goods key.
pub fn goods_key(id: &str) -> Result<String, Gs1Error> {
    Err(Gs1Error(format!("unsupported identifier {id:?}")))
}
