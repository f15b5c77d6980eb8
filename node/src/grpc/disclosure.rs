//! Who may see a transaction's signed bytes: one rule for every endpoint that returns them
//! (`GetTransaction`, `GetBlock`, `StreamBlocks`, `StreamEvents`).
//!
//! Invariant: no endpoint hands out bytes (or a rejection reason, which may quote them) that
//! this rule withholds from its caller:
//! - anyone, unauthenticated: a provenance event that carries no commercial field
//!   (`ledger::event_fields::carries_commercial`, the rule the public timeline and page use);
//! - a member that signs the request: its own transactions; regulators everything; a document
//!   operation (waybill, certificate, settlement) to whoever the document API shows that
//!   document to (`document::may_see`, judged on the document's current record: a port never
//!   gets settlement amounts); a commercial provenance event to customs (declarations are
//!   theirs); governance to every member.
use tonic::Status;
use tradechain_ledger::identity::Role;
use tradechain_ledger::payload::{CertificateOp, Payload, SettlementOp, WaybillOp};
use tradechain_ledger::state::keys;
use tradechain_ledger::tx::SignedTransaction;

use super::ApiState;
use super::auth::Caller;
use super::document::{Doc, load, may_see};
use tradechain_ledger::event_fields::carries_commercial;

/// What the rejection reason of a withheld transaction reads as.
pub const WITHHELD_REASON: &str = "withheld: the caller is not a party to this transaction";

/// Whether `caller` (`None`: unauthenticated) may see the signed bytes of `stx`.
pub fn may_see_tx(shared: &ApiState, caller: Option<&Caller>, stx: &SignedTransaction) -> Result<bool, Status> {
    let tx = stx.tx();
    let events = tx.payload.events();
    if !events.is_empty() && !events.iter().any(carries_commercial) {
        return Ok(true);
    }
    let Some(c) = caller else { return Ok(false) };
    if c.is_regulator() || c.id() == &tx.sender {
        return Ok(true);
    }
    let doc_key = match &tx.payload {
        Payload::Provenance(_) | Payload::ProvenanceDocument(_) => return Ok(c.has(Role::Customs)),
        Payload::Governance(_) => return Ok(true),
        Payload::Waybill(op) => match op {
            WaybillOp::Issue(d) => keys::waybill(&tx.sender, &d.reference),
            WaybillOp::Transfer { carrier, reference, .. }
            | WaybillOp::Surrender { carrier, reference, .. }
            | WaybillOp::Amend { carrier, reference, .. }
            | WaybillOp::Accomplish { carrier, reference }
            | WaybillOp::Void { carrier, reference, .. } => keys::waybill(carrier, reference),
        },
        Payload::Certificate(op) => match op {
            CertificateOp::Issue(d) => keys::certificate(&tx.sender, &d.number),
            CertificateOp::Revoke { number, .. } => keys::certificate(&tx.sender, number),
        },
        Payload::Settlement(op) => match op {
            // The instruction names both banks; nobody else sees it, recorded or not.
            SettlementOp::Instruct(i) => return Ok(c.id() == &i.payer_bank || c.id() == &i.payee_bank),
            SettlementOp::Confirm {
                payer_bank,
                settlement_id,
            }
            | SettlementOp::Repay {
                payer_bank,
                settlement_id,
            }
            | SettlementOp::Release {
                payer_bank,
                settlement_id,
                ..
            }
            | SettlementOp::Cancel {
                payer_bank,
                settlement_id,
                ..
            } => {
                if c.id() == payer_bank {
                    return Ok(true);
                }
                keys::settlement(payer_bank, settlement_id)
            }
        },
    };
    // A document operation that created nothing (rejected before any record existed) is seen
    // only by its sender and regulators.
    Ok(load(shared, &doc_key)?.is_some_and(|d: Doc| may_see(c, &d)))
}
