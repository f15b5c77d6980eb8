//! gRPC status mapping: one place decides which code and message each failure gets.
//!
//! Invariants: INVALID_ARGUMENT messages start with the offending request field's path;
//! FAILED_PRECONDITION carries the rule id in the message and an encoded `tradechain.v1.Rejection`
//! in the status details (and the `x-tc-rule` trailer); storage failures are INTERNAL and never
//! leak as NOT_FOUND.
use prost::Message;
use tonic::{Code, Status};
use tradechain_ledger::hash::Hash;
use tradechain_proto::v1;

use super::backend::{BackendError, SubmitError};

pub const RULE_METADATA: &str = "x-tc-rule";

pub fn invalid(field: &str, msg: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {msg}"))
}

pub fn not_found(msg: impl Into<String>) -> Status {
    Status::not_found(msg)
}

pub fn internal(e: BackendError) -> Status {
    Status::internal(e.to_string())
}

/// A validator-rule rejection: FAILED_PRECONDITION with the rule in message, details and metadata.
pub fn rejected(rule: &str, reason: &str) -> Status {
    let details = v1::Rejection {
        rule: rule.to_string(),
        reason: reason.to_string(),
    }
    .encode_to_vec();
    let mut st = Status::with_details(
        Code::FailedPrecondition,
        format!("rejected by rule {rule}: {reason}"),
        details.into(),
    );
    if let Ok(v) = rule.parse() {
        st.metadata_mut().insert(RULE_METADATA, v);
    }
    st
}

/// Decode the rejection a FAILED_PRECONDITION status carries (client side).
pub fn rejection_of(st: &Status) -> Option<v1::Rejection> {
    if st.code() != Code::FailedPrecondition {
        return None;
    }
    v1::Rejection::decode(st.details()).ok()
}

pub fn submit_error(e: SubmitError) -> Status {
    match e {
        SubmitError::Busy(why) => Status::resource_exhausted(why),
        SubmitError::Invalid(m) => invalid("signed_tx", m),
        SubmitError::BadSignature(m) => invalid("signed_tx.signature", m),
        SubmitError::Rejected { rule, reason } => rejected(&rule, &reason),
        SubmitError::Unavailable(m) => Status::unavailable(m),
    }
}

/// Parse a hex hash request field.
pub fn parse_hash(field: &str, s: &str) -> Result<Hash, Status> {
    if s.is_empty() {
        return Err(invalid(field, "is required (64 hex characters)"));
    }
    Hash::from_hex(s).map_err(|e| invalid(field, e))
}

pub fn unavailable_syncing(height: u64, target: u64) -> Status {
    let of = if target > height {
        format!(" of {target}")
    } else {
        String::new()
    };
    Status::unavailable(format!(
        "node is syncing (at height {height}{of}); retry later or use another node"
    ))
}
