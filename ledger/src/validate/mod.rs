//! The family validators (chaincode-like): one module per document family, plus the checks they
//! share (roles, list/string limits, GS1 keys) and the end-of-block promotion of a scheduled
//! validator set.
//!
//! Invariants:
//! - Validators read state only through `StateView` and return `Writes`; no clock (block time
//!   comes in `TxContext`), no randomness, no floats, no I/O. Same input, same verdict, same writes.
//! - Every rejection carries a stable rule id (listed in `RULES`) and a reason naming the field and
//!   value at fault. Rule ids are never renamed: clients match on them.
//! - `limits` runs first in every family: no string above `genesis.limits.max_string_len` bytes,
//!   no list above `max_list_len` entries, anywhere in the payload (and no more extension fields
//!   than that on an EPCIS event). A bill's kept DCSA document (`WaybillIssue::dcsa`) is one
//!   string bounded instead by `dcsa::MAX_DOCUMENT_BYTES` (the waybill validator).
use crate::execute::{Rejection, TxContext, Validator};
use crate::identity::{Org, OrgId, Role};
use crate::records::PendingValidators;
use crate::state::{StateView, WriteSet, Writes, get_typed, keys};

pub mod certificate;
pub mod custody;
pub mod governance;
pub mod prefix;
pub mod provenance;
pub mod settlement;
pub mod waybill;

/// The registry's validators, one per payload family.
pub fn all() -> Vec<Box<dyn Validator>> {
    vec![
        Box::new(waybill::WaybillValidator),
        Box::new(certificate::CertificateValidator),
        Box::new(provenance::ProvenanceValidator),
        Box::new(settlement::SettlementValidator),
        Box::new(governance::GovernanceValidator),
    ]
}

/// Every rule id a validator may return (the envelope's own ids live in `execute`).
pub const RULES: &[&str] = &[
    "limits.string_len",
    "limits.list_len",
    "membership.role",
    "gs1.invalid_key",
    "gs1.prefix_not_owner",
    "provenance.custody.not_controller",
    "codes.country",
    "codes.unlocode",
    "codes.hs_code",
    "waybill.issue.duplicate",
    "waybill.issue.invalid",
    "waybill.unknown_party",
    "waybill.not_found",
    "waybill.not_issuer",
    "waybill.closed",
    "waybill.state",
    "waybill.transfer.not_holder",
    "waybill.transfer.not_negotiable",
    "waybill.surrender.not_holder",
    "waybill.amend.invalid",
    "waybill.amend.holder",
    "waybill.exclusive_control",
    "waybill.dcsa.invalid",
    "certificate.duplicate",
    "certificate.origin_mismatch",
    "certificate.not_found",
    "certificate.revoked",
    "certificate.exporter_mismatch",
    "certificate.no_goods",
    "certificate.goods_certified",
    "provenance.empty",
    "provenance.document.empty",
    "provenance.event_id.duplicate",
    "provenance.time_future",
    "provenance.ended",
    "provenance.commission.duplicate",
    "provenance.aggregation.parent",
    "provenance.aggregation.child_not_commissioned",
    "provenance.transformation.io",
    "provenance.error.unknown_event",
    "provenance.error.already_corrected",
    "provenance.error.not_recorder",
    "provenance.customs.not_declared",
    "provenance.customs.already_declared",
    "provenance.customs.held",
    "provenance.customs.not_released",
    "provenance.customs.inspection_failed",
    "provenance.customs.jurisdiction",
    "provenance.customs.unlocode_missing",
    "provenance.customs.foreign_declaration",
    "provenance.customs.foreign_hold",
    "provenance.customs.declarant_unknown",
    "provenance.customs.preferential_certificate",
    "provenance.customs.waybill_unknown",
    "provenance.high_risk.not_commissioned",
    "provenance.high_risk.no_certificate",
    "provenance.high_risk.no_inspection",
    "settlement.amount",
    "settlement.currency",
    "settlement.not_payer",
    "settlement.not_bank",
    "settlement.reference_unknown",
    "settlement.waybill_void",
    "settlement.duplicate_id",
    "settlement.double_financing",
    "settlement.not_found",
    "settlement.not_payee",
    "settlement.already_confirmed",
    "settlement.not_entitled",
    "settlement.state",
    "governance.not_validator",
    "governance.proposal.duplicate",
    "governance.proposal.unknown",
    "governance.proposal.applied",
    "governance.proposal.already_approved",
    "governance.change.invalid",
    "governance.validators.pending",
    "governance.credit_tier.unknown_org",
    "governance.prefix.invalid",
    "governance.prefix.overlap",
    "governance.prefix.unknown",
    "governance.prefix.not_owner",
    "governance.prefix.delegates",
];

pub(crate) fn reject<T>(rule: &str, reason: impl Into<String>) -> Result<T, Rejection> {
    Err(Rejection::new(rule, reason))
}

/// The sender must hold one of `roles` to do `what`.
pub(crate) fn require_role(sender: &Org, roles: &[Role], what: &str) -> Result<(), Rejection> {
    if roles.iter().any(|r| sender.has_role(*r)) {
        return Ok(());
    }
    let have: Vec<&str> = sender.roles.iter().map(Role::as_str).collect();
    let need: Vec<&str> = roles.iter().map(Role::as_str).collect();
    reject(
        "membership.role",
        format!(
            "org {} (roles: {}) may not {what}: role {} required",
            sender.id,
            have.join(", "),
            need.join(" or ")
        ),
    )
}

/// A current member org.
pub(crate) fn org(view: &dyn StateView, id: &OrgId) -> Option<Org> {
    get_typed(view, &keys::org(id))
}

/// Normalise a GS1 identifier or reject under `gs1.invalid_key` naming the field.
pub(crate) fn gs1_key(field: &str, id: &str) -> Result<String, Rejection> {
    crate::gs1::goods_key(id).map_err(|e| Rejection::new("gs1.invalid_key", format!("{field}: {e}")))
}

pub(crate) fn country(field: &str, c: &str) -> Result<(), Rejection> {
    if crate::codes::is_country(c) {
        Ok(())
    } else {
        reject(
            "codes.country",
            format!("{field} {c:?} is not an ISO 3166-1 alpha-2 country code"),
        )
    }
}

pub(crate) fn unlocode(field: &str, c: &str) -> Result<(), Rejection> {
    if crate::codes::is_unlocode(c) {
        Ok(())
    } else {
        reject(
            "codes.unlocode",
            format!("{field} {c:?} is not a UN/LOCODE (country + 3 characters)"),
        )
    }
}

pub(crate) fn hs_code(field: &str, c: &str) -> Result<(), Rejection> {
    if crate::codes::is_hs_code(c) {
        Ok(())
    } else {
        reject(
            "codes.hs_code",
            format!("{field} {c:?} is not an HS code (6 digits, optionally 8 or 10 with a national extension)"),
        )
    }
}

/// Check every string and list in the payload against the genesis limits.
pub(crate) fn limits(ctx: &TxContext<'_>) -> Result<(), Rejection> {
    let value = serde_json::to_value(&ctx.tx.payload)
        .map_err(|e| Rejection::new("limits.string_len", format!("payload does not serialise: {e}")))?;
    walk(&value, "payload", &ctx.genesis.limits)
}

fn walk(v: &serde_json::Value, path: &str, l: &crate::genesis::Limits) -> Result<(), Rejection> {
    use serde_json::Value;
    match v {
        Value::String(s) if s.len() > l.max_string_len as usize => reject(
            "limits.string_len",
            format!("{path} is {} bytes, above the limit of {}", s.len(), l.max_string_len),
        ),
        Value::Array(a) => {
            if a.len() > l.max_list_len as usize {
                return reject(
                    "limits.list_len",
                    format!("{path} has {} entries, above the limit of {}", a.len(), l.max_list_len),
                );
            }
            for (i, x) in a.iter().enumerate() {
                walk(x, &format!("{path}[{i}]"), l)?;
            }
            Ok(())
        }
        Value::Object(m) => {
            // Struct fields are objects too, so only lists are counted here; the one free-form
            // map (EPCIS `extensions`) is counted by the provenance validator.
            // Its values are whole JSON members kept verbatim (sensor reports, ILMD…), not
            // names or codes: `max_tx_bytes` bounds them, `max_string_len` bounds their keys.
            let kept_json = is_event_extensions(path);
            // A bill's original DCSA document: whole canonical JSON, bounded by
            // `dcsa::MAX_DOCUMENT_BYTES` in the waybill validator.
            let kept_dcsa = path == "payload.op" || path == "payload.op.amended";
            for (k, x) in m {
                if k.len() > l.max_string_len as usize {
                    return reject(
                        "limits.string_len",
                        format!(
                            "a key of {path} is {} bytes, above the limit of {}",
                            k.len(),
                            l.max_string_len
                        ),
                    );
                }
                if (kept_json || (kept_dcsa && k == "dcsa")) && x.is_string() {
                    continue;
                }
                walk(x, &format!("{path}.{k}"), l)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether `path` is an event's `extensions` map: of the event (`payload.op.extensions`) or of
/// event `N` of a document (`payload.op[N].extensions`).
fn is_event_extensions(path: &str) -> bool {
    path == "payload.op.extensions"
        || path
            .strip_prefix("payload.op[")
            .and_then(|r| r.strip_suffix("].extensions"))
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// End-of-block state changes, applied after the block's transactions (by `execute_block`, and
/// by anyone replaying blocks): a validator set scheduled for a height `<= height + 1` becomes the
/// current set, so the block at `height + 1` is certified by it.
pub fn end_block_writes(view: &dyn StateView, height: u64) -> WriteSet {
    let mut w = Writes::default();
    if let Some(p) = get_typed::<PendingValidators>(view, &keys::pending_validators())
        && p.height <= height.saturating_add(1)
    {
        w.put(keys::validators(), &p.set);
        w.delete(keys::pending_validators());
    }
    w.0
}
