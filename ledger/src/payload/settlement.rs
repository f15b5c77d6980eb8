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

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum SettlementOp {
    Instruct(SettlementInstruct),
    Confirm { settlement_id: String },
}
