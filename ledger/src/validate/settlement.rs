//! Bank settlements: financing of a trade against one reference document (a bill of lading on
//! the ledger, or an off-ledger invoice), with a lifecycle.
//!
//! Lifecycle: INSTRUCTED → CONFIRMED → REPAID | RELEASED; INSTRUCTED → CANCELLED. A settlement
//! that is INSTRUCTED or CONFIRMED is the *active financing* of its reference document.
//!
//! Invariants enforced:
//! - Only banks settle: the sender holds the bank role; payer and payee banks are current
//!   members with the bank role. Amount > 0 in minor units; the currency is ISO 4217.
//! - Settlement ids are scoped by the instructing (payer) bank: the state key is
//!   `keys::settlement(payer_bank, id)`, so a bank that sees another bank's instruction in gossip
//!   cannot take its id; every later operation names `(payer_bank, settlement_id)`.
//! - One financing per document: a bill of lading (carrier, reference) or an invoice (its number,
//!   compared without whitespace and case) backs at most one active financing, whatever its
//!   amount or currency, until that financing is repaid, released or cancelled. The guard
//!   `keys::settlement_guard(document)` holds the active financing's `SettlementKey`; it is
//!   written on instruct and deleted on repay, release or cancel.
//! - **Entitlement to finance a bill of lading**: the instructing bank must be the bill's
//!   *current holder* (`WaybillRecord.holder`, i.e. the original holder or the last endorsee,
//!   MLETR exclusive control) and the bill must be ISSUED (not surrendered, accomplished or
//!   void). A bank that endorsed the bill on, a bank merely named on it (notify party) or any
//!   other member is not entitled. Invoices are off-ledger and carry no holder: any bank may
//!   finance one, still at most once at a time.
//! - Only the settlement's own banks change it, each only in the states listed below.
//!
//! | rule id | who may | what is refused |
//! |---|---|---|
//! | `membership.role` | banks only | any settlement operation by an org without the bank role |
//! | `settlement.not_payer` | the payer bank | instruct naming another payer bank; repay, release or cancel by any other org |
//! | `settlement.not_bank` | — | a payee bank that is not a current member with the bank role |
//! | `settlement.amount` | — | `amount_minor` of 0 |
//! | `settlement.currency` | — | a currency that is not ISO 4217 |
//! | `settlement.reference_unknown` | — | a bill of lading not on the ledger; an empty invoice number |
//! | `settlement.waybill_void` | — | financing a VOID bill |
//! | `settlement.not_entitled` | the bill's current holder, while the bill is ISSUED | financing a bill by a bank that does not hold it, or a surrendered/accomplished bill |
//! | `settlement.duplicate_id` | — | a second settlement with the same id from the same payer bank |
//! | `settlement.double_financing` | — | a second active financing of a document (any amount, any currency, any bank) |
//! | `settlement.not_found` | — | an operation on a `(payer_bank, settlement_id)` that does not exist |
//! | `settlement.not_payee` | the payee bank | confirm by any other org |
//! | `settlement.already_confirmed` | — | confirming a CONFIRMED settlement again |
//! | `settlement.state` | confirm/cancel from INSTRUCTED; repay/release from CONFIRMED | any other transition (e.g. repaying an unconfirmed or cancelled settlement, cancelling a confirmed one) |
use super::{limits, org, reject, require_role};
use crate::execute::{Rejection, TxContext, Validator};
use crate::identity::{OrgId, Role};
use crate::payload::{Payload, SettlementOp, SettlementRef, WaybillStatus};
use crate::records::{SettlementKey, SettlementRecord, SettlementStatus, WaybillRecord};
use crate::state::{StateView, Writes, get_typed, keys};

pub struct SettlementValidator;

fn bank(view: &dyn StateView, field: &str, id: &OrgId) -> Result<(), Rejection> {
    match org(view, id) {
        Some(o) if o.has_role(Role::Bank) => Ok(()),
        Some(_) => reject("settlement.not_bank", format!("{field} {id} is not a bank")),
        None => reject("settlement.not_bank", format!("{field} {id} is not a current member")),
    }
}

/// An invoice number as compared by the guard: without whitespace, ASCII upper case, so
/// `inv-0042` and `INV- 0042` are one invoice.
pub fn canonical_invoice(number: &str) -> String {
    number
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The canonical encoding of a reference document alone (no amount, currency or bank): the
/// part of `keys::settlement_guard`.
pub fn document_key(reference: &SettlementRef) -> Vec<u8> {
    let canonical = match reference {
        SettlementRef::Waybill { .. } => reference.clone(),
        SettlementRef::Invoice { number } => SettlementRef::Invoice {
            number: canonical_invoice(number),
        },
    };
    crate::codec::encode(&canonical)
}

fn describe(reference: &SettlementRef) -> String {
    match reference {
        SettlementRef::Waybill { carrier, reference } => format!("BL {reference} of {carrier}"),
        SettlementRef::Invoice { number } => format!("invoice {number:?}"),
    }
}

fn require_payer(me: &OrgId, payer_bank: &OrgId, settlement_id: &str) -> Result<(), Rejection> {
    if payer_bank != me {
        return reject(
            "settlement.not_payer",
            format!("org {me} is not the payer bank {payer_bank} of settlement {settlement_id}"),
        );
    }
    Ok(())
}

fn load(
    view: &dyn StateView,
    payer_bank: &OrgId,
    settlement_id: &str,
) -> Result<(Vec<u8>, SettlementRecord), Rejection> {
    let key = keys::settlement(payer_bank, settlement_id);
    match get_typed::<SettlementRecord>(view, &key) {
        Some(rec) => Ok((key, rec)),
        None => reject(
            "settlement.not_found",
            format!("no settlement {settlement_id} of payer bank {payer_bank}"),
        ),
    }
}

fn require_status(rec: &SettlementRecord, want: SettlementStatus, what: &str) -> Result<(), Rejection> {
    if rec.status != want {
        return reject(
            "settlement.state",
            format!(
                "settlement {} of {} is {}; it can be {what} only when {}",
                rec.instruction.settlement_id,
                rec.instruction.payer_bank,
                rec.status.as_str(),
                want.as_str()
            ),
        );
    }
    Ok(())
}

/// Move `rec` to `status` and, if that ends the financing, free its document's guard.
fn transition(
    w: &mut Writes,
    view: &dyn StateView,
    key: Vec<u8>,
    mut rec: SettlementRecord,
    status: SettlementStatus,
    ctx: &TxContext<'_>,
) {
    if !status.is_active() {
        let guard = keys::settlement_guard(&document_key(&rec.instruction.reference));
        let this = SettlementKey {
            payer_bank: rec.instruction.payer_bank.clone(),
            settlement_id: rec.instruction.settlement_id.clone(),
        };
        // Only the guard this settlement holds is freed.
        if get_typed::<SettlementKey>(view, &guard).as_ref() == Some(&this) {
            w.delete(guard);
        }
    }
    rec.status = status;
    rec.version = rec.version.saturating_add(1);
    rec.updated_at = ctx.at;
    w.put(key, &rec);
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
                require_payer(me, &ins.payer_bank, &ins.settlement_id)?;
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
                        let Some(bl) = get_typed::<WaybillRecord>(view, &keys::waybill(carrier, reference)) else {
                            return reject(
                                "settlement.reference_unknown",
                                format!("no BL {reference} issued by carrier {carrier}"),
                            );
                        };
                        if bl.status == WaybillStatus::Void {
                            return reject(
                                "settlement.waybill_void",
                                format!("BL {reference} of {carrier} is VOID and cannot be settled"),
                            );
                        }
                        if bl.status != WaybillStatus::Issued {
                            return reject(
                                "settlement.not_entitled",
                                format!(
                                    "BL {reference} of {carrier} is {}; only an ISSUED bill can be financed",
                                    super::waybill::status_name(bl.status)
                                ),
                            );
                        }
                        if bl.holder != *me {
                            return reject(
                                "settlement.not_entitled",
                                format!(
                                    "org {me} is not the holder of BL {reference} of {carrier} (holder: {}) and may not finance it",
                                    bl.holder
                                ),
                            );
                        }
                    }
                    SettlementRef::Invoice { number } => {
                        if canonical_invoice(number).is_empty() {
                            return reject("settlement.reference_unknown", "invoice number is empty");
                        }
                    }
                }
                let key = keys::settlement(me, &ins.settlement_id);
                if view.get(&key).is_some() {
                    return reject(
                        "settlement.duplicate_id",
                        format!("settlement {} of payer bank {me} already exists", ins.settlement_id),
                    );
                }
                let guard = keys::settlement_guard(&document_key(&ins.reference));
                if view.get(&guard).is_some() {
                    let by = match get_typed::<SettlementKey>(view, &guard) {
                        Some(k) => format!("settlement {} of {}", k.settlement_id, k.payer_bank),
                        None => "another settlement".to_string(),
                    };
                    return reject(
                        "settlement.double_financing",
                        format!(
                            "reference {} already backs active financing {by}; it must be repaid, released or cancelled first",
                            describe(&ins.reference)
                        ),
                    );
                }
                w.put(
                    guard,
                    &SettlementKey {
                        payer_bank: me.clone(),
                        settlement_id: ins.settlement_id.clone(),
                    },
                );
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
            SettlementOp::Confirm {
                payer_bank,
                settlement_id,
            } => {
                let (key, rec) = load(view, payer_bank, settlement_id)?;
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
                require_status(&rec, SettlementStatus::Instructed, "confirmed")?;
                transition(&mut w, view, key, rec, SettlementStatus::Confirmed, ctx);
            }
            SettlementOp::Repay {
                payer_bank,
                settlement_id,
            } => {
                require_payer(me, payer_bank, settlement_id)?;
                let (key, rec) = load(view, payer_bank, settlement_id)?;
                require_status(&rec, SettlementStatus::Confirmed, "repaid")?;
                transition(&mut w, view, key, rec, SettlementStatus::Repaid, ctx);
            }
            SettlementOp::Release {
                payer_bank,
                settlement_id,
                ..
            } => {
                require_payer(me, payer_bank, settlement_id)?;
                let (key, rec) = load(view, payer_bank, settlement_id)?;
                require_status(&rec, SettlementStatus::Confirmed, "released")?;
                transition(&mut w, view, key, rec, SettlementStatus::Released, ctx);
            }
            SettlementOp::Cancel {
                payer_bank,
                settlement_id,
                ..
            } => {
                require_payer(me, payer_bank, settlement_id)?;
                let (key, rec) = load(view, payer_bank, settlement_id)?;
                require_status(&rec, SettlementStatus::Instructed, "cancelled")?;
                transition(&mut w, view, key, rec, SettlementStatus::Cancelled, ctx);
            }
        }
        Ok(w)
    }
}
