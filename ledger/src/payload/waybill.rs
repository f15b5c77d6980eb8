//! Waybills and electronic bills of lading (DCSA eBL v3 field set; sea, rail, air).
//!
//! Lifecycle (DCSA states): ISSUED → (ENDORSED/transferred)* → SURRENDERED for delivery → ACCOMPLISHED;
//! amendment = surrender for amendment + re-issue under a new sub-reference; VOID only by the issuer
//! before surrender. Exactly one holder at a time (MLETR exclusive control).
use super::Party;
use crate::identity::OrgId;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransportMode {
    Sea,
    Rail,
    Air,
    Road,
}

/// DCSA `isToOrder` and document type: a to-order bill is negotiable (endorsable); a straight
/// bill names its consignee; a sea waybill (SWB) is never a document of title.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaybillKind {
    ToOrder,
    Straight,
    SeaWaybill,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct GoodsLine {
    pub description: String,
    /// HS code: 6 digits, optionally followed by a national extension (up to 10 digits in all).
    pub hs_code: String,
    pub package_count: u32,
    /// UN/ECE Rec 21 package code, e.g. `CT` carton, `PX` pallet.
    pub package_code: String,
    pub gross_weight_grams: u64,
    /// GS1 keys of the goods items (SSCC, GTIN+serial as Digital Link or EPC URN) this line carries.
    #[serde(default)]
    pub goods_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WaybillIssue {
    /// DCSA `transportDocumentReference`, unique per carrier.
    pub reference: String,
    pub mode: TransportMode,
    pub kind: WaybillKind,
    pub shipper: Party,
    #[serde(default)]
    pub consignee: Option<Party>,
    #[serde(default)]
    pub notify_party: Option<Party>,
    /// The org that holds the document (exclusive control) once issued.
    pub holder: OrgId,
    /// UN/LOCODEs.
    pub place_of_receipt: String,
    pub port_of_loading: String,
    pub port_of_discharge: String,
    pub place_of_delivery: String,
    /// Vessel name / train number / flight.
    pub vehicle: String,
    pub voyage: String,
    pub goods: Vec<GoodsLine>,
    /// Unix milliseconds of shipped-on-board / issue.
    pub issue_date_ms: i64,
    /// Sub-reference after amendments; 0 for the original.
    #[serde(default)]
    pub sub_reference: u32,
    /// The DCSA eBL 3.0 `TransportDocument` this bill was mapped from (`ledger::dcsa`), kept as
    /// its canonical JSON text so it can be returned as it was; `None` for a bill written in
    /// tradechain's own shape. The waybill validator bounds it (`dcsa::MAX_DOCUMENT_BYTES`),
    /// requires it canonical and naming this bill's reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dcsa: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SurrenderPurpose {
    Delivery,
    Amendment,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
// The issue variant is large by nature (a whole bill of lading); ops are decoded once per tx.
#[allow(clippy::large_enum_variant)]
pub enum WaybillOp {
    Issue(WaybillIssue),
    /// Endorse to a new holder (to-order bills only).
    Transfer {
        carrier: OrgId,
        reference: String,
        new_holder: OrgId,
    },
    /// Holder surrenders to the carrier.
    Surrender {
        carrier: OrgId,
        reference: String,
        purpose: SurrenderPurpose,
    },
    /// Carrier re-issues an amended document after a surrender for amendment; `amended.holder`
    /// must be the party that surrendered it.
    Amend {
        carrier: OrgId,
        reference: String,
        amended: Box<WaybillIssue>,
    },
    /// Carrier marks goods delivered after a surrender for delivery.
    Accomplish {
        carrier: OrgId,
        reference: String,
    },
    /// Issuer voids before any surrender (a to-order bill only while the issuer holds it).
    Void {
        carrier: OrgId,
        reference: String,
        reason: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WaybillStatus {
    Issued,
    SurrenderedForDelivery,
    SurrenderedForAmendment,
    Accomplished,
    Void,
}
