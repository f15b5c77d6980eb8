//! GS1 EPCIS 2.0 JSON-LD in and out: documents ↔ `payload::ProvenanceEvent`s.
//!
//! Module map: `json` a JSON tree that keeps number text; `time` RFC 3339 ↔ Unix ms;
//! `import` document → events; `export` events → `EPCISDocument` or `EPCISQueryDocument`.
//!
//! Invariants (the mapping contract, shared by the CLI, the node's gRPC API and the tests):
//! - Pure and deterministic: no I/O, no clock (export takes the creation date as an argument),
//!   no floats. Quantities and every number inside kept fields stay the text they were written
//!   with.
//! - Round trip: for every document `import` accepts, `import(export(import(d))) == import(d)`,
//!   and each exported event equals the original event member by member, except for what EPCIS
//!   itself defines as equivalent: time spelling (an instant is rendered canonically, UTC with
//!   milliseconds) and an empty list written out vs. left out.
//! - Nothing is dropped silently: a member the ledger does not interpret is kept verbatim as
//!   canonical JSON (`json::Json::canonical`) in `ProvenanceEvent::extensions`, keyed by its
//!   member name; a member that can be neither mapped nor kept is an error. Keys of
//!   `extensions` (`EXT_*` below name the reserved ones):
//!   - `recordTime`, `certificationInfo`, `sensorElementList`, `persistentDisposition`, `ilmd`
//!     and namespaced extension members (`example:myField`): the member's value;
//!   - `readPoint`, `bizLocation`, `errorDeclaration`: an object with the members of that object
//!     other than the ones mapped to typed fields (`id`; `declarationTime`, `reason`,
//!     `correctiveEventIDs`), present only when there are such members;
//!   - `@context`: the document's `@context` term definitions the event uses (prefixes of its
//!     namespaced member names and values), so an export can declare them again.
//! - tradechain's own fields that EPCIS lacks travel as `tradechain:unlocode` and
//!   `tradechain:customs` (the serde JSON of `CustomsStep`), bound to `TRADECHAIN_NS`.
//! - Errors name the event (0-based index in the event list) and the member path at fault.

pub mod export;
pub mod import;
pub mod json;
pub mod time;

pub use export::{ExportOptions, export_document, export_event, export_query_document};
pub use import::{import_document, import_event};

/// The EPCIS 2.0 JSON-LD context an export declares.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld";
/// The namespace of tradechain's own event members (`tradechain:unlocode`, `tradechain:customs`).
pub const TRADECHAIN_NS: &str = "https://tradechain.dev/epcis/";
pub const EXT_UNLOCODE: &str = "tradechain:unlocode";
pub const EXT_CUSTOMS: &str = "tradechain:customs";
/// The customs step's name only, in place of `tradechain:customs` when its details are withheld.
pub const EXT_CUSTOMS_STEP: &str = "tradechain:customsStep";
pub const EXT_CONTEXT: &str = "@context";
pub const EXT_READ_POINT: &str = "readPoint";
pub const EXT_BIZ_LOCATION: &str = "bizLocation";
pub const EXT_ERROR_DECLARATION: &str = "errorDeclaration";
/// Standard EPCIS event members kept verbatim.
pub const VERBATIM: &[&str] = &[
    "recordTime",
    "certificationInfo",
    "sensorElementList",
    "persistentDisposition",
    "ilmd",
];

/// Why a document was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EpcisError {
    /// Not JSON at all.
    #[error("not a JSON document: {0}")]
    Syntax(#[from] json::JsonError),
    /// A document-level member (outside the events) is wrong.
    #[error("document: field {field:?}: {reason}")]
    Document { field: String, reason: String },
    /// Event `index` (0-based position in the event list) has `field` wrong.
    #[error("event {index}: field {field:?}: {reason}")]
    Event {
        index: usize,
        field: String,
        reason: String,
    },
}

impl EpcisError {
    pub fn event(index: usize, field: impl Into<String>, reason: impl Into<String>) -> EpcisError {
        EpcisError::Event {
            index,
            field: field.into(),
            reason: reason.into(),
        }
    }
    pub fn document(field: impl Into<String>, reason: impl Into<String>) -> EpcisError {
        EpcisError::Document {
            field: field.into(),
            reason: reason.into(),
        }
    }
    /// The event index, when the error is about one event.
    pub fn index(&self) -> Option<usize> {
        match self {
            EpcisError::Event { index, .. } => Some(*index),
            _ => None,
        }
    }
    /// The field at fault, when there is one.
    pub fn field(&self) -> Option<&str> {
        match self {
            EpcisError::Event { field, .. } | EpcisError::Document { field, .. } => Some(field),
            EpcisError::Syntax(_) => None,
        }
    }
}

/// The unsigned transaction that captures `events` as one EPCIS document: all of them or none
/// (`Payload::ProvenanceDocument`), one nonce, one signature. The node (`SubmitEpcis`, REST
/// capture) and the client that signs it build the same bytes with this one function.
pub fn document_transaction(
    events: &[crate::payload::ProvenanceEvent],
    chain_id: &str,
    sender: &crate::identity::OrgId,
    key_id: u32,
    nonce: u64,
    time_ms: i64,
) -> crate::tx::Transaction {
    crate::tx::Transaction {
        version: crate::tx::TX_VERSION,
        chain_id: chain_id.to_string(),
        sender: sender.clone(),
        key_id,
        nonce,
        time_ms,
        payload: crate::payload::Payload::ProvenanceDocument(events.to_vec()),
    }
}

/// The chain's size limits (`genesis.limits`) that an event can be checked against before
/// anything is signed or submitted: string and list lengths, the number of extension members
/// (the validators' `limits.*` rules) and the encoded transaction size. Kept members (e.g. a
/// long `sensorElementList`) count toward the transaction size, not `max_string_len`. The
/// document is one transaction (`document_transaction`), so all its events together must fit
/// `max_tx_bytes`; a larger document must be split.
pub fn check_limits(
    events: &[crate::payload::ProvenanceEvent],
    limits: &crate::genesis::Limits,
) -> Result<(), EpcisError> {
    fn walk(v: &serde_json::Value, path: &str, l: &crate::genesis::Limits, i: usize) -> Result<(), EpcisError> {
        use serde_json::Value;
        let join = |k: &str| {
            if path.is_empty() || path == "extensions" {
                k.to_string()
            } else {
                format!("{path}.{k}")
            }
        };
        match v {
            Value::String(s) if s.len() > l.max_string_len as usize => Err(EpcisError::event(
                i,
                path,
                format!(
                    "is {} bytes, above the chain's limit of {} bytes",
                    s.len(),
                    l.max_string_len
                ),
            )),
            Value::Array(a) => {
                if a.len() > l.max_list_len as usize {
                    return Err(EpcisError::event(
                        i,
                        path,
                        format!("has {} entries, above the chain's limit of {}", a.len(), l.max_list_len),
                    ));
                }
                a.iter()
                    .enumerate()
                    .try_for_each(|(n, x)| walk(x, &format!("{path}[{n}]"), l, i))
            }
            // Kept members are JSON text bounded by the transaction size, not by
            // `max_string_len` (as the validators' `limits` rule has it); their names are not.
            Value::Object(m) if path == "extensions" => m.iter().try_for_each(|(k, _)| {
                if k.len() > l.max_string_len as usize {
                    Err(EpcisError::event(
                        i,
                        k,
                        format!(
                            "member name is {} bytes, above the chain's limit of {}",
                            k.len(),
                            l.max_string_len
                        ),
                    ))
                } else {
                    Ok(())
                }
            }),
            Value::Object(m) => m.iter().try_for_each(|(k, x)| walk(x, &join(k), l, i)),
            _ => Ok(()),
        }
    }
    for (i, e) in events.iter().enumerate() {
        if e.extensions.len() > limits.max_list_len as usize {
            return Err(EpcisError::event(
                i,
                "$",
                format!(
                    "has {} members kept verbatim, above the chain's limit of {}",
                    e.extensions.len(),
                    limits.max_list_len
                ),
            ));
        }
        let v = serde_json::to_value(e).map_err(|err| EpcisError::event(i, "$", err.to_string()))?;
        walk(&v, "", limits, i)?;
    }
    if events.len() > limits.max_list_len as usize {
        return Err(EpcisError::document(
            "epcisBody.eventList",
            format!(
                "holds {} events, above the chain's limit of {} per document (split the document)",
                events.len(),
                limits.max_list_len
            ),
        ));
    }
    // Envelope overhead (version, chain id, sender, key, nonce, time, seed, signature) is small.
    let size = crate::codec::encode(&crate::payload::Payload::ProvenanceDocument(events.to_vec())).len() + 512;
    if size > limits.max_tx_bytes as usize {
        return Err(EpcisError::document(
            "epcisBody.eventList",
            format!(
                "the document encodes to about {size} bytes, above the chain's transaction limit of {} bytes (a document is captured as one transaction: split it)",
                limits.max_tx_bytes
            ),
        ));
    }
    Ok(())
}
