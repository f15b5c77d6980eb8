//! The application state as a key-value space, the read-only view validators see, the write set
//! they return.
//!
//! Keys start with one namespace byte (`Ns`); the store maps each namespace to its own RocksDB
//! column family. Values are borsh-encoded records (`crate::records`).
//!
//! Invariants:
//! - Validators read only through `StateView` and write only by returning a `WriteSet`; a
//!   rejected transaction's writes are discarded whole (the `Overlay` applies a tx's writes only
//!   when it is accepted).
//! - The state root after a block (`header.state_hash`) is the root of the authenticated state
//!   tree over every key (`state_tree`): two nodes with the same state agree on it byte for byte.
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use std::collections::BTreeMap;

/// Namespaces of the state; each is one column family in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Ns {
    /// OrgId → `Org`.
    Org = 1,
    /// OrgId → next expected nonce (u64).
    Nonce = 2,
    /// (carrier, reference) → `WaybillRecord`; also ("head", carrier, reference) → its public
    /// `WaybillHead` (`keys::waybill_head`).
    Waybill = 3,
    /// (issuer, number) → `CertificateRecord`; also goods key → `CertificateRef` of the goods' one
    /// valid certificate (`keys::certificate_goods`), and ("head", issuer, number) → its public
    /// `CertificateHead` (`keys::certificate_head`).
    Certificate = 4,
    /// goods key → `ItemRecord` (summary: count, last event hash, customs status…); also
    /// ("head", goods key) → its public `ItemHead` (`keys::item_head`).
    Item = 5,
    /// goods key || seq (u64 BE) → `ItemEventRef`: the item's events in order.
    ItemEvent = 6,
    /// (payer bank, settlement id) → `SettlementRecord`; also reference document → `SettlementKey`
    /// of its one active financing (double-financing guard).
    Settlement = 7,
    /// Singletons and governance: validator set, pending proposals, params.
    Meta = 8,
    /// event id (EPCIS eventID) → (goods keys, tx id) for error declarations.
    EventId = 9,
}

impl Ns {
    pub const ALL: [Ns; 9] = [
        Ns::Org,
        Ns::Nonce,
        Ns::Waybill,
        Ns::Certificate,
        Ns::Item,
        Ns::ItemEvent,
        Ns::Settlement,
        Ns::Meta,
        Ns::EventId,
    ];

    pub fn from_byte(b: u8) -> Option<Ns> {
        Ns::ALL.iter().copied().find(|n| *n as u8 == b)
    }
    /// The column family that holds this namespace.
    pub fn cf_name(&self) -> &'static str {
        match self {
            Ns::Org => "orgs",
            Ns::Nonce => "nonces",
            Ns::Waybill => "doc_waybill",
            Ns::Certificate => "doc_certificate",
            Ns::Item => "items",
            Ns::ItemEvent => "item_events",
            Ns::Settlement => "doc_settlement",
            Ns::Meta => "meta",
            Ns::EventId => "event_ids",
        }
    }
    /// Documents whose every version is kept in the history column family.
    pub fn is_document(&self) -> bool {
        matches!(self, Ns::Waybill | Ns::Certificate | Ns::Settlement)
    }
}

/// A part's length prefix that means "the 32-byte hash of a part too long to prefix".
const LONG_PART: u16 = u16::MAX;

/// Build a key: namespace byte then the parts, each length-prefixed (u16 BE) so that no two
/// part lists give the same key. A part of `u16::MAX` bytes or more (only possible under a
/// genesis with a very large `max_tx_bytes`) is stored as the marker length `0xFFFF` and its
/// tagged hash: never truncated, so a long identifier can never collide with a short one.
pub fn key(ns: Ns, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![ns as u8];
    for p in parts {
        match u16::try_from(p.len()) {
            Ok(n) if n < LONG_PART => {
                k.extend_from_slice(&n.to_be_bytes());
                k.extend_from_slice(p);
            }
            _ => {
                k.extend_from_slice(&LONG_PART.to_be_bytes());
                k.extend_from_slice(&Hash::tagged("tradechain/long-key-part", p).0);
            }
        }
    }
    k
}

/// Split a key built by `key` back into namespace and parts (None if malformed). A long part
/// comes back as its 32-byte hash.
pub fn split_key(k: &[u8]) -> Option<(Ns, Vec<&[u8]>)> {
    let (&first, mut rest) = k.split_first()?;
    let ns = Ns::from_byte(first)?;
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(2)?;
        let n = u16::from_be_bytes([*len.first()?, *len.get(1)?]);
        let n = if n == LONG_PART { 32 } else { usize::from(n) };
        let (part, tail) = tail.split_at_checked(n)?;
        parts.push(part);
        rest = tail;
    }
    Some((ns, parts))
}

pub mod keys {
    use super::{Ns, key};
    use crate::identity::OrgId;

    pub fn org(id: &OrgId) -> Vec<u8> {
        key(Ns::Org, &[id.as_str().as_bytes()])
    }
    pub fn nonce(id: &OrgId) -> Vec<u8> {
        key(Ns::Nonce, &[id.as_str().as_bytes()])
    }
    pub fn waybill(carrier: &OrgId, reference: &str) -> Vec<u8> {
        key(Ns::Waybill, &[carrier.as_str().as_bytes(), reference.as_bytes()])
    }
    /// A waybill's public head (`records::WaybillHead`); three parts, so never a waybill's key.
    pub fn waybill_head(carrier: &OrgId, reference: &str) -> Vec<u8> {
        key(
            Ns::Waybill,
            &[b"head", carrier.as_str().as_bytes(), reference.as_bytes()],
        )
    }
    pub fn certificate(issuer: &OrgId, number: &str) -> Vec<u8> {
        key(Ns::Certificate, &[issuer.as_str().as_bytes(), number.as_bytes()])
    }
    /// A certificate's public head (`records::CertificateHead`); three parts, so never a
    /// certificate's or a goods entry's key.
    pub fn certificate_head(issuer: &OrgId, number: &str) -> Vec<u8> {
        key(
            Ns::Certificate,
            &[b"head", issuer.as_str().as_bytes(), number.as_bytes()],
        )
    }
    /// The goods item's one valid certificate of origin (a `CertificateRef`). Its first part,
    /// `goods`, is lowercase, so it never collides with an issuer (`OrgId`s are uppercase).
    pub fn certificate_goods(goods_key: &str) -> Vec<u8> {
        key(Ns::Certificate, &[b"goods", goods_key.as_bytes()])
    }
    pub fn item(goods_key: &str) -> Vec<u8> {
        key(Ns::Item, &[goods_key.as_bytes()])
    }
    /// The item's public head (`records::ItemHead`); two parts, so never an item's key.
    pub fn item_head(goods_key: &str) -> Vec<u8> {
        key(Ns::Item, &[b"head", goods_key.as_bytes()])
    }
    pub fn item_event(goods_key: &str, seq: u64) -> Vec<u8> {
        key(Ns::ItemEvent, &[goods_key.as_bytes(), &seq.to_be_bytes()])
    }
    /// Prefix of all of an item's events (seek here and iterate in order).
    pub fn item_event_prefix(goods_key: &str) -> Vec<u8> {
        key(Ns::ItemEvent, &[goods_key.as_bytes()])
    }
    /// A settlement, scoped by its instructing (payer) bank.
    pub fn settlement(payer_bank: &OrgId, id: &str) -> Vec<u8> {
        key(Ns::Settlement, &[b"id", payer_bank.as_str().as_bytes(), id.as_bytes()])
    }
    /// The double-financing guard of one reference document (`document` is the canonical
    /// encoding of the document alone, see `validate::settlement::document_key`): holds the
    /// `SettlementKey` of the document's active financing, if any.
    pub fn settlement_guard(document: &[u8]) -> Vec<u8> {
        key(Ns::Settlement, &[b"ref", document])
    }
    pub fn validators() -> Vec<u8> {
        key(Ns::Meta, &[b"validators"])
    }
    /// Public key (signing or node key) → the org that registered it: a key belongs to one org.
    pub fn key_owner(public_key: &crate::crypto::PublicKey) -> Vec<u8> {
        key(Ns::Meta, &[b"key-owner", &public_key.0])
    }
    /// Validator set scheduled to take effect at a height.
    pub fn pending_validators() -> Vec<u8> {
        key(Ns::Meta, &[b"pending-validators"])
    }
    /// A registered GS1 Company Prefix → `PrefixRecord`.
    pub fn gs1_prefix(prefix: &str) -> Vec<u8> {
        key(Ns::Meta, &[b"gs1-prefix", prefix.as_bytes()])
    }
    /// Marks every proper leading part (4+ digits) of a registered prefix, so that registering a
    /// shorter prefix that would contain it is refused with one read.
    pub fn gs1_prefix_cover(part: &str) -> Vec<u8> {
        key(Ns::Meta, &[b"gs1-prefix-cover", part.as_bytes()])
    }
    pub fn proposal(id: &str) -> Vec<u8> {
        key(Ns::Meta, &[b"proposal", id.as_bytes()])
    }
    pub fn event_id(event_id: &str) -> Vec<u8> {
        key(Ns::EventId, &[event_id.as_bytes()])
    }
}

/// Read-only access to committed state (plus, during block execution, earlier txs' writes).
pub trait StateView {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
}

/// Typed read: decode a borsh record. A record that does not decode is a corrupted store, which
/// `verify` reports; validation treats it as absent rather than panicking.
pub fn get_typed<T: BorshDeserialize>(view: &dyn StateView, key: &[u8]) -> Option<T> {
    view.get(key).and_then(|b| crate::codec::decode(&b).ok())
}

/// Changes to apply: key → new value, or None to delete.
pub type WriteSet = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Helper to accumulate typed writes.
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct Writes(pub WriteSet);

impl Writes {
    pub fn put<T: BorshSerialize>(&mut self, key: Vec<u8>, value: &T) {
        self.0.insert(key, Some(crate::codec::encode(value)));
    }
    pub fn delete(&mut self, key: Vec<u8>) {
        self.0.insert(key, None);
    }
}

/// A view of base state plus the writes of transactions already accepted in this block.
pub struct Overlay<'a> {
    pub base: &'a dyn StateView,
    pub writes: WriteSet,
}

impl<'a> Overlay<'a> {
    pub fn new(base: &'a dyn StateView) -> Self {
        Overlay {
            base,
            writes: WriteSet::new(),
        }
    }
    pub fn apply(&mut self, ws: WriteSet) {
        self.writes.extend(ws);
    }
}

impl StateView for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.writes.get(key) {
            Some(v) => v.clone(),
            None => self.base.get(key),
        }
    }
}

/// An in-memory state (tests, simulations, `verify`'s re-derivation).
#[derive(Default, Debug, Clone, PartialEq, Eq)]
pub struct MemState(pub BTreeMap<Vec<u8>, Vec<u8>>);

impl StateView for MemState {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key).cloned()
    }
}

impl MemState {
    pub fn apply(&mut self, ws: &WriteSet) {
        for (k, v) in ws {
            match v {
                Some(v) => {
                    self.0.insert(k.clone(), v.clone());
                }
                None => {
                    self.0.remove(k);
                }
            }
        }
    }
}
