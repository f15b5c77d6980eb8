//! Transaction payloads: the five document families. Borsh enum tags follow declaration order,
//! so new variants are only ever appended (the format grows without re-tagging old bytes).
pub mod build;
pub mod certificate;
pub mod governance;
pub mod provenance;
pub mod settlement;
pub mod waybill;

use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

pub use certificate::*;
pub use governance::*;
pub use provenance::*;
pub use settlement::*;
pub use waybill::*;

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "family", content = "op", rename_all = "snake_case")]
pub enum Payload {
    Waybill(WaybillOp),
    Certificate(CertificateOp),
    Provenance(ProvenanceEvent),
    Settlement(SettlementOp),
    Governance(GovernanceOp),
    /// An EPCIS document captured as one: its events in document order, all accepted or none
    /// (`validate::provenance`), under one signature. Event `i` of the document is addressed as
    /// (transaction id, `i`) by the item index, the eventID index and a disclosure.
    ProvenanceDocument(Vec<ProvenanceEvent>),
}

impl Payload {
    pub fn family(&self) -> &'static str {
        match self {
            Payload::Waybill(_) => "waybill",
            Payload::Certificate(_) => "certificate",
            Payload::Provenance(_) => "provenance",
            Payload::Settlement(_) => "settlement",
            Payload::Governance(_) => "governance",
            Payload::ProvenanceDocument(_) => "provenance",
        }
    }

    /// The provenance events the payload carries, in order: one for an event, the document's
    /// for a document, none for any other family. Event `i` here is event `i` of the
    /// transaction everywhere (`records::ItemEventRef::event`).
    pub fn events(&self) -> &[ProvenanceEvent] {
        match self {
            Payload::Provenance(e) => std::slice::from_ref(e),
            Payload::ProvenanceDocument(es) => es,
            _ => &[],
        }
    }
}

/// A party named on a document (shipper, consignee, exporter…). `org` links it to a member when it is one.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    #[serde(default)]
    pub org: Option<crate::identity::OrgId>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    #[serde(default)]
    pub address: String,
}

/// A decimal quantity without floats: `value / 10^scale` in unit `uom` (UN/ECE Rec 20 code).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Quantity {
    pub value: u64,
    #[serde(default)]
    pub scale: u8,
    pub uom: String,
}
