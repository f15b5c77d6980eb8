//! The on-disk layout of the store: column family names, how their keys are built, and the
//! `Head` record. Everything that reads or writes RocksDB keys goes through these functions,
//! so the store (`Store`, `commit`, `tree`) and `verify` agree byte for byte. Type names below
//! are the ledger's (`tradechain_ledger::…`).
//!
//! Column families and their keys (all integers big-endian so that keys sort by height):
//! - `headers`: height (8) → borsh(`BlockHeader`)
//! - `blocks`: height (8) ‖ tx index (4) → borsh(`SignedTransaction`) (one entry per transaction)
//! - `tx_merkle`: height (8) → tree size n (u32 LE) ‖ every level of the block's Merkle tree
//!   (`ledger::merkle::levels`: leaves first, root last, 32 bytes per node), so an inclusion proof is read
//!   off in O(log n) instead of decoding and re-hashing the block (a store without the record
//!   falls back to the block)
//! - `outcome_merkle`: height (8) → the same record for the block's outcome leaves
//!   (`ledger::block::outcome_leaves`, whose root is `header.results_hash`), so a transaction's
//!   accepted-outcome proof is read off too
//! - `certificates`: height (8) → borsh(`CommitCertificate`)
//! - `outcomes`: height (8) → borsh(`Vec<TxOutcome>`)
//! - `block_hashes`: block hash (32) → height (8)
//! - `tx_locations`: tx id (32) → borsh(`TxLocation`) (the latest block that carried the id)
//! - one per `ledger::state::Ns` (`Ns::cf_name`): the full state key (namespace byte first) → value
//! - `doc_history`: state key ‖ height (8) → borsh(`Option<Vec<u8>>`) (None = deleted), for
//!   `Ns::is_document` keys
//! - `validator_sets`: height (8) → borsh(`ValidatorSet`) written by the block at that height
//!   (height 0 = genesis); the set certifies the blocks after it
//! - `jmt_nodes`: borsh(`jmt` NodeKey) → borsh(`jmt` Node): the state tree (`ledger::state_tree`), every
//!   version kept (a proof can be served at any committed height)
//! - `chain`: `genesis` → borsh(`Genesis`), `genesis_hash` → 32 bytes, `head` → borsh(`Head`),
//!   `layout` → `LAYOUT_VERSION` (u32 big-endian; absent in stores written before it existed,
//!   which are layout 1). A store of another layout is refused at open (`StoreError::Layout`).
//!   (Not named `meta`: that is `Ns::Meta`'s column family.)
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use tradechain_ledger::hash::Hash;
use tradechain_ledger::state::Ns;

pub const CF_HEADERS: &str = "headers";
pub const CF_BLOCKS: &str = "blocks";
pub const CF_TX_MERKLE: &str = "tx_merkle";
pub const CF_OUTCOME_MERKLE: &str = "outcome_merkle";
pub const CF_CERTIFICATES: &str = "certificates";
pub const CF_OUTCOMES: &str = "outcomes";
pub const CF_BLOCK_HASHES: &str = "block_hashes";
pub const CF_TX_LOCATIONS: &str = "tx_locations";
pub const CF_DOC_HISTORY: &str = "doc_history";
pub const CF_VALIDATOR_SETS: &str = "validator_sets";
pub const CF_CHAIN: &str = "chain";
pub const CF_JMT_NODES: &str = "jmt_nodes";

pub const KEY_GENESIS: &[u8] = b"genesis";
pub const KEY_GENESIS_HASH: &[u8] = b"genesis_hash";
pub const KEY_HEAD: &[u8] = b"head";
pub const KEY_LAYOUT: &[u8] = b"layout";

/// What this build writes and reads. 2: the state tree holds two `jmt` versions per height
/// (`ledger::state_tree`); layout 1 had one.
pub const LAYOUT_VERSION: u32 = 2;

/// Column families that are not state namespaces.
pub const CHAIN_CFS: [&str; 12] = [
    CF_HEADERS,
    CF_BLOCKS,
    CF_TX_MERKLE,
    CF_OUTCOME_MERKLE,
    CF_CERTIFICATES,
    CF_OUTCOMES,
    CF_BLOCK_HASHES,
    CF_TX_LOCATIONS,
    CF_DOC_HISTORY,
    CF_VALIDATOR_SETS,
    CF_CHAIN,
    CF_JMT_NODES,
];

/// Every column family the store opens (besides RocksDB's `default`, which stays empty).
pub fn all_cf_names() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = CHAIN_CFS.to_vec();
    v.extend(Ns::ALL.iter().map(|n| n.cf_name()));
    v
}

/// The tip of the committed chain. At height 0 only genesis is applied and `block_hash` is
/// the genesis hash (the first block's `prev_hash`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Head {
    pub height: u64,
    pub block_hash: Hash,
    pub state_hash: Hash,
}

pub fn height_key(height: u64) -> [u8; 8] {
    height.to_be_bytes()
}

pub fn tx_key(height: u64, index: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&height.to_be_bytes());
    k[8..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Split a `blocks` key into (height, index).
pub fn parse_tx_key(k: &[u8]) -> Option<(u64, u32)> {
    let h: [u8; 8] = k.get(..8)?.try_into().ok()?;
    let i: [u8; 4] = k.get(8..)?.try_into().ok()?;
    Some((u64::from_be_bytes(h), u32::from_be_bytes(i)))
}

pub fn parse_height(k: &[u8]) -> Option<u64> {
    let h: [u8; 8] = k.try_into().ok()?;
    Some(u64::from_be_bytes(h))
}

pub fn doc_history_key(state_key: &[u8], height: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(state_key.len() + 8);
    k.extend_from_slice(state_key);
    k.extend_from_slice(&height.to_be_bytes());
    k
}

/// Split a `doc_history` key into (state key, height).
pub fn parse_doc_history_key(k: &[u8]) -> Option<(&[u8], u64)> {
    let split = k.len().checked_sub(8)?;
    let (sk, h) = k.split_at(split);
    Some((sk, parse_height(h)?))
}

/// Length of an item-event key's trailing `u16 len ‖ u64 seq` part.
const ITEM_EVENT_SEQ_PART: usize = 2 + 8;

/// Prefix extractor for `item_events`: a key minus its sequence part is the item's prefix
/// (`keys::item_event_prefix`), so the prefix bloom filter answers "has this item events?".
pub fn item_event_prefix_of(k: &[u8]) -> &[u8] {
    &k[..k.len().saturating_sub(ITEM_EVENT_SEQ_PART)]
}

pub fn item_event_in_domain(k: &[u8]) -> bool {
    k.len() > ITEM_EVENT_SEQ_PART
}
