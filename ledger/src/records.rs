//! The records stored in state (values of the `state` namespaces), borsh-encoded.
//!
//! Public heads: beside an item's, a certificate of origin's and a waybill's full record the
//! validators keep its public head (`ItemHead`, `CertificateHead`, `WaybillHead`), written by the
//! record's one `write` function so that the head never drifts from the record. The heads hold
//! only what a consumer's answer shows; state proofs of them are served publicly
//! (`node::grpc::provenance::head_proof`), the full records never are.
use crate::hash::Hash;
use crate::identity::OrgId;
use crate::payload::{
    CertificateIssue, CertificateRef, GovAction, InspectionOutcome, SettlementInstruct, TransportMode, WaybillIssue,
    WaybillRef, WaybillStatus,
};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Where a transaction sits in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Endorsement {
    pub from: OrgId,
    pub to: OrgId,
    pub at: TxLocation,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WaybillRecord {
    pub issuer: OrgId,
    pub document: WaybillIssue,
    pub status: WaybillStatus,
    pub holder: OrgId,
    pub endorsements: Vec<Endorsement>,
    /// Incremented on every change; every version is kept in the history column family.
    pub version: u32,
    pub issued_at: TxLocation,
    pub updated_at: TxLocation,
}

impl WaybillRecord {
    /// Write the record and its public head (`WaybillHead`), under the issuing carrier and the
    /// document's reference: the one way a waybill is written.
    pub fn write(&self, w: &mut crate::state::Writes) {
        let reference = &self.document.reference;
        w.put(
            crate::state::keys::waybill_head(&self.issuer, reference),
            &WaybillHead::of(self),
        );
        w.put(crate::state::keys::waybill(&self.issuer, reference), self);
    }
}

/// The public head of a waybill (`keys::waybill_head`), kept beside its `WaybillRecord` so that
/// a state proof can show it to anyone: the route a consumer's page shows (carrier, reference,
/// mode, places, vehicle, voyage, status). Nothing commercial: no shipper, consignee or notify
/// party, holder, endorsements or goods lines, which the full record holds.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WaybillHead {
    pub carrier: OrgId,
    pub reference: String,
    pub mode: TransportMode,
    /// UN/LOCODEs.
    pub place_of_receipt: String,
    pub port_of_loading: String,
    pub port_of_discharge: String,
    pub place_of_delivery: String,
    pub vehicle: String,
    pub voyage: String,
    pub status: WaybillStatus,
}

impl WaybillHead {
    pub fn of(r: &WaybillRecord) -> WaybillHead {
        let d = &r.document;
        WaybillHead {
            carrier: r.issuer.clone(),
            reference: d.reference.clone(),
            mode: d.mode,
            place_of_receipt: d.place_of_receipt.clone(),
            port_of_loading: d.port_of_loading.clone(),
            port_of_discharge: d.port_of_discharge.clone(),
            place_of_delivery: d.place_of_delivery.clone(),
            vehicle: d.vehicle.clone(),
            voyage: d.voyage.clone(),
            status: r.status,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CertificateRecord {
    pub issuer: OrgId,
    pub document: CertificateIssue,
    /// Revoked certificates stay on the ledger, flagged with the reason.
    pub revoked: Option<String>,
    pub version: u32,
    pub issued_at: TxLocation,
    pub updated_at: TxLocation,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomsStatus {
    None,
    Declared,
    Held,
    Released,
}

/// One registered GS1 Company Prefix (`keys::gs1_prefix`): the org that owns the identifiers
/// under it and the orgs it lets create identifiers under it (contract manufacturers, packers).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PrefixRecord {
    pub prefix: String,
    pub owner: OrgId,
    pub delegates: BTreeSet<OrgId>,
}

/// A custody transfer the item's controller started (EPCIS shipping with a destination list
/// naming the receiving parties); it completes when a named party records receiving.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PendingTransfer {
    pub from: OrgId,
    /// The org that takes possession on receiving (`possessing_party`), if named.
    pub possessor: Option<OrgId>,
    /// The org that becomes owner on receiving (`owning_party`), if named.
    pub owner: Option<OrgId>,
}

/// Summary of one goods item (GTIN+serial, SSCC, GTIN+lot…), keyed by its normalised goods key.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ItemRecord {
    pub goods_key: String,
    pub event_count: u64,
    pub last_event_hash: Hash,
    pub last_event_time_ms: i64,
    pub commissioned: bool,
    /// Destroyed, decommissioned or consumed by a transformation: nothing may follow.
    pub ended: bool,
    pub customs: CustomsStatus,
    pub inspected: Option<InspectionOutcome>,
    pub declarant: Option<OrgId>,
    /// The customs authority that recorded the open (or last) declaration, and its country (the
    /// declaration's country): until the next declaration only customs of that country inspect,
    /// hold or release the goods.
    pub declared_by: Option<OrgId>,
    pub declared_country: Option<String>,
    /// The customs authority that holds the goods while `customs` is `Held`: only it releases them.
    pub held_by: Option<OrgId>,
    pub hs_code: Option<String>,
    pub certificate: Option<CertificateRef>,
    pub waybill: Option<WaybillRef>,
    pub parent: Option<String>,
    pub children: BTreeSet<String>,
    /// Transformation inputs that produced this item.
    pub inputs: BTreeSet<String>,
    /// Custody (instances only, see `validate::custody`): the org that owns the item and the
    /// org that holds it. Both `None` only for an item under no registered GS1 Company Prefix
    /// that no member has commissioned.
    pub owner: Option<OrgId>,
    pub possessor: Option<OrgId>,
    /// A transfer started by shipping, completed by the named party's receiving.
    pub transfer: Option<PendingTransfer>,
}

impl ItemRecord {
    pub fn new(goods_key: &str) -> ItemRecord {
        ItemRecord {
            goods_key: goods_key.to_string(),
            event_count: 0,
            last_event_hash: Hash::ZERO,
            last_event_time_ms: i64::MIN,
            commissioned: false,
            ended: false,
            customs: CustomsStatus::None,
            inspected: None,
            declarant: None,
            declared_by: None,
            declared_country: None,
            held_by: None,
            hs_code: None,
            certificate: None,
            waybill: None,
            parent: None,
            children: BTreeSet::new(),
            inputs: BTreeSet::new(),
            owner: None,
            possessor: None,
            transfer: None,
        }
    }

    /// Write the record and its public head (`ItemHead`): the one way an item is written.
    pub fn write(&self, w: &mut crate::state::Writes) {
        w.put(crate::state::keys::item_head(&self.goods_key), &ItemHead::of(self));
        w.put(crate::state::keys::item(&self.goods_key), self);
    }
}

/// The public head of an item (`keys::item_head`), kept beside its `ItemRecord` so that a state
/// proof can show it to anyone: the event count and chain head (with them a verifier knows the
/// timeline it holds is complete as of the proof's height), the customs status and inspection
/// outcome, whether it ended, the container it is in, and the certificate of origin and waybill
/// it names. Nothing commercial: no declarant, owner, holder or document parties, which the full
/// record holds and is never served publicly.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ItemHead {
    pub goods_key: String,
    pub event_count: u64,
    pub last_event_hash: Hash,
    pub last_event_time_ms: i64,
    pub commissioned: bool,
    pub ended: bool,
    pub customs: CustomsStatus,
    pub inspected: Option<InspectionOutcome>,
    pub parent: Option<String>,
    /// The goods' certificate of origin; its public head is `keys::certificate_head`.
    pub certificate: Option<CertificateRef>,
    /// The waybill the goods travel under (their route); its public head is `keys::waybill_head`.
    pub waybill: Option<WaybillRef>,
}

impl ItemHead {
    pub fn of(r: &ItemRecord) -> ItemHead {
        ItemHead {
            goods_key: r.goods_key.clone(),
            event_count: r.event_count,
            last_event_hash: r.last_event_hash,
            last_event_time_ms: r.last_event_time_ms,
            commissioned: r.commissioned,
            ended: r.ended,
            customs: r.customs,
            inspected: r.inspected,
            parent: r.parent.clone(),
            certificate: r.certificate.clone(),
            waybill: r.waybill.clone(),
        }
    }
}

impl CertificateRecord {
    /// Write the record and its public head (`CertificateHead`): the one way a certificate is
    /// written.
    pub fn write(&self, w: &mut crate::state::Writes) {
        let number = &self.document.number;
        w.put(
            crate::state::keys::certificate_head(&self.issuer, number),
            &CertificateHead::of(self),
        );
        w.put(crate::state::keys::certificate(&self.issuer, number), self);
    }
}

/// The public head of a certificate of origin (`keys::certificate_head`), kept beside its
/// `CertificateRecord` so that a state proof can show it to anyone: what a consumer's page shows
/// (issuer, number, countries, origin criterion, preference, revocation). Nothing commercial: no
/// exporter, producer, consignee or invoice, which the full record holds.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CertificateHead {
    pub issuer: OrgId,
    pub number: String,
    pub origin_country: String,
    pub destination_country: String,
    pub origin_criterion: String,
    pub preferential: bool,
    /// The revocation reason of a revoked certificate.
    pub revoked: Option<String>,
}

impl CertificateHead {
    pub fn of(r: &CertificateRecord) -> CertificateHead {
        let d = &r.document;
        CertificateHead {
            issuer: r.issuer.clone(),
            number: d.number.clone(),
            origin_country: d.origin_country.clone(),
            destination_country: d.destination_country.clone(),
            origin_criterion: d.origin_criterion.clone(),
            preferential: d.preferential,
            revoked: r.revoked.clone(),
        }
    }
}

/// One entry of an item's event chain.
/// `event_hash = H(prev_event_hash || tx_id || event (u32 LE) || goods_key)`, so a consumer
/// holding the chain can tell if an event was left out, and which event of a document
/// transaction each entry is.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ItemEventRef {
    pub seq: u64,
    pub tx_id: Hash,
    pub at: TxLocation,
    /// Which of the transaction's events (`Payload::events`): 0 for a single event.
    pub event: u32,
    pub event_time_ms: i64,
    pub prev_event_hash: Hash,
    pub event_hash: Hash,
}

pub fn item_event_hash(prev: &Hash, tx_id: &Hash, event: u32, goods_key: &str) -> Hash {
    Hash::tagged_parts(
        "tradechain/item-event",
        &[&prev.0, &tx_id.0, &event.to_le_bytes(), goods_key.as_bytes()],
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettlementStatus {
    Instructed,
    Confirmed,
    Repaid,
    Released,
    Cancelled,
}

impl SettlementStatus {
    /// Instructed or confirmed: the settlement finances its reference document.
    pub fn is_active(&self) -> bool {
        matches!(self, SettlementStatus::Instructed | SettlementStatus::Confirmed)
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            SettlementStatus::Instructed => "INSTRUCTED",
            SettlementStatus::Confirmed => "CONFIRMED",
            SettlementStatus::Repaid => "REPAID",
            SettlementStatus::Released => "RELEASED",
            SettlementStatus::Cancelled => "CANCELLED",
        }
    }
}

/// Names a settlement: its instructing (payer) bank and the id that bank gave it. The value of
/// a document's financing guard (`keys::settlement_guard`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SettlementKey {
    pub payer_bank: OrgId,
    pub settlement_id: String,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SettlementRecord {
    pub instruction: SettlementInstruct,
    pub status: SettlementStatus,
    pub version: u32,
    pub instructed_at: TxLocation,
    pub updated_at: TxLocation,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ProposalRecord {
    pub id: String,
    pub change: GovAction,
    pub proposer: OrgId,
    pub approvals: BTreeSet<OrgId>,
    pub applied: bool,
}

/// A validator set that takes effect at `height`.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct PendingValidators {
    pub height: u64,
    pub set: crate::certificate::ValidatorSet,
}

/// The EPCIS eventID index: which transaction (and org) recorded the event, and whether it was
/// declared erroneous. Only `recorder` may declare it erroneous.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct EventIdRecord {
    pub tx_id: Hash,
    pub at: TxLocation,
    /// Which of the transaction's events (`Payload::events`).
    pub event: u32,
    pub goods_keys: Vec<String>,
    pub corrected_by: Option<Hash>,
    pub recorder: crate::identity::OrgId,
}
