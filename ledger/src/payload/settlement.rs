//! Cross-border payment settlements between banks, in integer minor units (no floats).
use crate::identity::OrgId;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SettlementRef {
    Waybill { carrier: OrgId, reference: String },
    Invoice { number: String },
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SettlementInstruct {
    pub settlement_id: String,
    pub payer_bank: OrgId,
    pub payee_bank: OrgId,
    /// Amount in the currency's minor units (cents, fen…).
    pub amount_minor: u64,
    /// ISO 4217 alphabetic code.
    pub currency: String,
    pub reference: SettlementRef,
    /// The commercial parties (private: never shown to the public).
    pub payer_party: String,
    pub payee_party: String,
}

/// Operations on a settlement. A settlement is named by its instructing (payer) bank and its
/// id: ids are scoped by that bank, so two banks may use the same id without colliding.
///
/// Lifecycle: INSTRUCTED → CONFIRMED (payee bank) → REPAID | RELEASED (payer bank);
/// INSTRUCTED → CANCELLED (payer bank). While INSTRUCTED or CONFIRMED the settlement is an
/// *active financing* of its reference document, and that document backs no other.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SettlementOp {
    Instruct(SettlementInstruct),
    /// The payee bank confirms the instruction: the financing is in force.
    Confirm {
        payer_bank: OrgId,
        settlement_id: String,
    },
    /// The payer bank records that the financing was repaid; its document is free again.
    Repay {
        payer_bank: OrgId,
        settlement_id: String,
    },
    /// The payer bank releases the document without repayment (waiver, refinancing elsewhere).
    Release {
        payer_bank: OrgId,
        settlement_id: String,
        reason: String,
    },
    /// The payer bank withdraws an instruction its payee bank has not confirmed.
    Cancel {
        payer_bank: OrgId,
        settlement_id: String,
        reason: String,
    },
}
