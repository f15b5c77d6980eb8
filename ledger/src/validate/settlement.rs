//! Bank settlements.
//!
//! Invariants enforced:
//! - Only banks settle: the sender is the payer bank and holds the bank role; payer and payee
//!   banks are current members with the bank role.
//! - Amount > 0 in minor units; the currency is ISO 4217.
//! - The reference exists: a waybill on the ledger that is not VOID, or an invoice number
//!   (invoices are off-ledger documents: a non-empty number is accepted as is).
//! - Double-financing guard: one settlement per (reference, currency, amount), recorded at
//!   `keys::settlement_guard`; settlement ids are unique.
//! - Confirm only by the payee bank, once.
use super::{limits, org, reject, require_role};
use crate::execute::{Rejection, TxContext, Validator};
use crate::identity::{OrgId, Role};
use crate::payload::{Payload, SettlementOp, SettlementRef, WaybillStatus};
use crate::records::{SettlementRecord, SettlementStatus, WaybillRecord};
use crate::state::{StateView, Writes, get_typed, keys};

pub struct SettlementValidator;

fn bank(view: &dyn StateView, field: &str, id: &OrgId) -> Result<(), Rejection> {
    match org(view, id) {
        Some(o) if o.has_role(Role::Bank) => Ok(()),
        Some(_) => reject("settlement.not_bank", format!("{field} {id} is not a bank")),
        None => reject("settlement.not_bank", format!("{field} {id} is not a current member")),
    }
}

impl Validator for SettlementValidator {
    fn family(&self) -> &'static str {
        "settlement"
    }

    fn validate(&self, ctx: &TxContext<'_>, view: &dyn StateView) -> Result<Writes, Rejection> {
        limits(ctx)?;
        let Payload::Settlement(op) = &ctx.tx.payload else {
            return reject("envelope.family", "not a settlement payload");
        };
        require_role(ctx.sender, &[Role::Bank], "settle payments")?;
        let me = &ctx.sender.id;
        let mut w = Writes::default();
        match op {
            SettlementOp::Instruct(ins) => {
                if ins.payer_bank != *me {
                    return reject(
                        "settlement.not_payer",
                        format!(
                            "org {me} is not the payer bank {} of settlement {}",
                            ins.payer_bank, ins.settlement_id
                        ),
                    );
                }
                bank(view, "payee_bank", &ins.payee_bank)?;
                if ins.amount_minor == 0 {
                    return reject("settlement.amount", "amount_minor must be greater than 0");
                }
                if !crate::codes::is_currency(&ins.currency) {
                    return reject(
                        "settlement.currency",
                        format!("currency {:?} is not an ISO 4217 code", ins.currency),
                    );
                }
                match &ins.reference {
                    SettlementRef::Waybill { carrier, reference } => {
                        match get_typed::<WaybillRecord>(view, &keys::waybill(carrier, reference)) {
                            None => {
                                return reject(
                                    "settlement.reference_unknown",
                                    format!("no BL {reference} issued by carrier {carrier}"),
                                );
                            }
                            Some(r) if r.status == WaybillStatus::Void => {
                                return reject(
                                    "settlement.waybill_void",
                                    format!("BL {reference} of {carrier} is VOID and cannot be settled"),
                                );
                            }
                            Some(_) => {}
                        }
                    }
                    SettlementRef::Invoice { number } => {
                        if number.is_empty() {
                            return reject("settlement.reference_unknown", "invoice number is empty");
                        }
                    }
                }
                let key = keys::settlement(&ins.settlement_id);
                if view.get(&key).is_some() {
                    return reject(
                        "settlement.duplicate_id",
                        format!("settlement {} already exists", ins.settlement_id),
                    );
                }
                let guard =
                    keys::settlement_guard(&crate::codec::encode(&ins.reference), &ins.currency, ins.amount_minor);
                if let Some(prev) = view.get(&guard) {
                    let prev: String = crate::codec::decode(&prev).unwrap_or_default();
                    return reject(
                        "settlement.double_financing",
                        format!(
                            "{} {} against this reference is already settled by settlement {prev}",
                            ins.amount_minor, ins.currency
                        ),
                    );
                }
                w.put(guard, &ins.settlement_id);
                w.put(
                    key,
                    &SettlementRecord {
                        instruction: ins.clone(),
                        status: SettlementStatus::Instructed,
                        version: 1,
                        instructed_at: ctx.at,
                        updated_at: ctx.at,
                    },
                );
            }
            SettlementOp::Confirm { settlement_id } => {
                let key = keys::settlement(settlement_id);
                let Some(mut rec) = get_typed::<SettlementRecord>(view, &key) else {
                    return reject("settlement.not_found", format!("no settlement {settlement_id}"));
                };
                if rec.instruction.payee_bank != *me {
                    return reject(
                        "settlement.not_payee",
                        format!(
                            "org {me} is not the payee bank {} of settlement {settlement_id}",
                            rec.instruction.payee_bank
                        ),
                    );
                }
                if rec.status == SettlementStatus::Confirmed {
                    return reject(
                        "settlement.already_confirmed",
                        format!("settlement {settlement_id} is already confirmed"),
                    );
                }
                rec.status = SettlementStatus::Confirmed;
                rec.version = rec.version.saturating_add(1);
                rec.updated_at = ctx.at;
                w.put(key, &rec);
            }
        }
        Ok(w)
    }
}
