//! `tradechain-store`: RocksDB persistence of the chain: blocks, headers, certificates, outcomes,
//! indices, the application state and its state tree, one column family each (see `layout` for
//! the keys); and `verify`, the offline audit of a whole store. Split out of `tradechain-ledger`
//! so that the ledger's types and rules, and the consensus engine built on them, compile without
//! RocksDB's C++: only this crate (and `node`, `cli` above it) depends on `rocksdb`.
//!
//! Module map: this root owns `Store` (open, reads, proofs) and `StoreError`; `commit` genesis
//! initialisation and block commits; `tree` the state tree's `jmt_nodes` column family (the pure
//! tree, `ledger::state_tree`, stays in the ledger); `layout` column families and keys; `verify`
//! the audit.
//!
//! Invariants:
//! - A block and every index and state change it causes are written by `commit_block` in ONE
//!   `WriteBatch` with a synced WAL: after a crash the store holds exactly the last whole
//!   block, never part of one (RocksDB applies a batch atomically on recovery).
//! - `commit_block` refuses (with an error, never a panic: input comes from the network) any
//!   block that does not extend the head: wrong height, prev hash, chain id, time, tx root,
//!   results hash, state hash, validator-set hash or certificate
//!   (`ledger::block_check::check_links` and the store's own checks).
//! - The store never decides what a block does: the caller passes the `BlockExecution`
//!   (`ledger::execute`); `verify` re-executes to check it.
//! - Reads of the committed state (`StateView`) see only whole blocks.
mod commit;
pub mod layout;
mod tree;
pub mod verify;

pub(crate) use commit::merkle_record;
pub use layout::Head;

use borsh::BorshDeserialize;
use layout::*;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamily, ColumnFamilyDescriptor, DB, DBCompressionType, Direction, IteratorMode,
    Options, ReadOptions, SliceTransform,
};
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use tradechain_ledger::block::{Block, BlockHeader, TxOutcome};
use tradechain_ledger::certificate::{CertError, CommitCertificate, ValidatorSet};
use tradechain_ledger::codec::{self, DecodeError};
use tradechain_ledger::genesis::Genesis;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::merkle::InclusionProof;
use tradechain_ledger::records::{ItemEventRef, TxLocation};
use tradechain_ledger::state::{Ns, StateView, keys};
use tradechain_ledger::tx::SignedTransaction;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("rocksdb: {0}")]
    Db(#[from] rocksdb::Error),
    #[error("store is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "the store was written in layout {found}; this build reads layout {expected} \
         (store::layout::LAYOUT_VERSION): start this node from an empty data directory and let it sync"
    )]
    Layout { found: u32, expected: u32 },
    #[error("the store has no genesis yet (initialise it first)")]
    NoGenesis,
    #[error("the store holds genesis {stored}, not the given genesis {given}")]
    GenesisMismatch { stored: Hash, given: Hash },
    #[error("invalid genesis: {0}")]
    BadGenesis(String),
    #[error(transparent)]
    Block(#[from] tradechain_ledger::block_check::BlockCheckError),
    #[error("block {height}: {txs} transactions but {outcomes} outcomes")]
    OutcomeCountMismatch { height: u64, txs: usize, outcomes: usize },
    #[error("block {height}: transaction {index} ({tx_id}) was already committed at height {at}")]
    TxAlreadyCommitted {
        height: u64,
        index: usize,
        tx_id: Hash,
        at: u64,
    },
    #[error("block {height}: results_hash {got} but the outcomes hash to {expected}")]
    WrongResultsHash { height: u64, expected: Hash, got: Hash },
    #[error("block {height}: state_hash {got} but applying the writes gives {expected}")]
    WrongStateHash { height: u64, expected: Hash, got: Hash },
    #[error("block {height}: validators_hash {got} but the set in force hashes to {expected}")]
    WrongValidatorsHash { height: u64, expected: Hash, got: Hash },
    #[error("block {height}: commit certificate: {source}")]
    BadCertificate {
        height: u64,
        #[source]
        source: CertError,
    },
    #[error("block {height}: write to malformed state key {key}")]
    BadStateKey { height: u64, key: String },
    #[error("block {height}: the validator-set write is not a valid validator set: {reason}")]
    BadValidatorSet { height: u64, reason: String },
    #[error("scan prefix starts with byte {got:#04x}, not namespace {ns:?}")]
    BadPrefix { ns: Ns, got: u8 },
    #[error("the store is open read-only")]
    ReadOnly,
}

/// Key-value pairs read from one column family, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;
/// A fallible (key, value) read from one column family.
pub type EntryResult = Result<(Vec<u8>, Vec<u8>), StoreError>;
/// Versions of one document: (height, value or None when deleted).
pub type DocVersions = Vec<(u64, Option<Vec<u8>>)>;

fn corrupt(what: &str, e: DecodeError) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// The chain's persistent store. Cheap to share behind an `Arc`; commits are serialised.
pub struct Store {
    db: DB,
    commit_lock: Mutex<()>,
    genesis: OnceLock<Genesis>,
    read_only: bool,
    /// Tree nodes near the root (`tree`).
    node_cache: tree::NodeCache,
}

const BLOCK_CACHE_BYTES: usize = 128 * 1024 * 1024;

fn cf_options(name: &str, cache: &Cache) -> Options {
    let mut o = Options::default();
    o.set_compression_type(DBCompressionType::Lz4);
    let mut t = BlockBasedOptions::default();
    t.set_block_cache(cache);
    t.set_bloom_filter(10.0, false);
    t.set_cache_index_and_filter_blocks(true);
    if name == CF_TX_MERKLE || name == CF_OUTCOME_MERKLE || name == CF_JMT_NODES {
        // SHA-256 outputs do not compress: LZ4 would only cost a decompression per proof read.
        o.set_compression_type(DBCompressionType::None);
    }
    if name == Ns::ItemEvent.cf_name() {
        // Point lookups of one item's history: a prefix bloom filter per goods item.
        o.set_prefix_extractor(SliceTransform::create(
            "tradechain.item_event_prefix",
            item_event_prefix_of,
            Some(item_event_in_domain),
        ));
        o.set_memtable_prefix_bloom_ratio(0.1);
        t.set_whole_key_filtering(true);
    }
    o.set_block_based_table_factory(&t);
    o
}

fn db_options() -> Options {
    let mut o = Options::default();
    o.create_if_missing(true);
    o.create_missing_column_families(true);
    o.set_keep_log_file_num(4);
    o.set_compression_type(DBCompressionType::Lz4);
    o
}

fn descriptors(cache: &Cache) -> Vec<ColumnFamilyDescriptor> {
    all_cf_names()
        .into_iter()
        .map(|n| ColumnFamilyDescriptor::new(n, cf_options(n, cache)))
        .collect()
}

fn decode<T: BorshDeserialize>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    codec::decode(bytes).map_err(|e| corrupt(what, e))
}

impl Store {
    /// Open (creating if missing) the store at `path`, with every column family.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let db = DB::open_cf_descriptors(&db_options(), path, descriptors(&cache))?;
        Store {
            db,
            commit_lock: Mutex::new(()),
            genesis: OnceLock::new(),
            read_only: false,
            node_cache: Default::default(),
        }
        .of_this_layout()
    }

    /// Refuse a store another layout wrote (an empty store is any layout's).
    fn of_this_layout(self) -> Result<Store, StoreError> {
        if self.get_raw(CF_CHAIN, KEY_GENESIS_HASH)?.is_none() {
            return Ok(self);
        }
        let found = match self.get_raw(CF_CHAIN, KEY_LAYOUT)? {
            None => 1,
            Some(b) => u32::from_be_bytes(
                b.as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("the layout record is not 4 bytes".into()))?,
            ),
        };
        if found != LAYOUT_VERSION {
            return Err(StoreError::Layout {
                found,
                expected: LAYOUT_VERSION,
            });
        }
        Ok(self)
    }

    /// Open an existing store read-only (e.g. `verify` while a node runs on it).
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let mut o = db_options();
        o.create_if_missing(false);
        let db = DB::open_cf_descriptors_read_only(&o, path, descriptors(&cache), false)?;
        Store {
            db,
            commit_lock: Mutex::new(()),
            genesis: OnceLock::new(),
            read_only: true,
            node_cache: Default::default(),
        }
        .of_this_layout()
    }

    /// Flush every column family's memtable to disk (the WAL already makes commits durable;
    /// this shortens recovery, e.g. at shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        for name in all_cf_names() {
            self.db.flush_cf(self.cf(name)?)?;
        }
        Ok(())
    }

    /// Names of every column family the store uses.
    pub fn column_families() -> Vec<&'static str> {
        all_cf_names()
    }

    pub(crate) fn cf(&self, name: &str) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::Corrupt(format!("column family {name} is missing")))
    }

    pub(crate) fn get_raw(&self, cf: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(cf)?, key)?)
    }

    /// Every entry of a column family in key order (for `verify`; the whole CF is read).
    pub fn iter_cf(&self, cf: &str) -> Result<impl Iterator<Item = EntryResult> + '_, StoreError> {
        let mut ro = ReadOptions::default();
        ro.set_total_order_seek(true);
        ro.fill_cache(false);
        Ok(self
            .db
            .iterator_cf_opt(self.cf(cf)?, ro, IteratorMode::Start)
            .map(|r| r.map(|(k, v)| (k.into_vec(), v.into_vec())).map_err(StoreError::from)))
    }

    /// Entries of `cf` whose key starts with `prefix`, from `start` (which must start with
    /// `prefix`), at most `limit`.
    fn range(&self, cf: &str, prefix: &[u8], start: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let mut ro = ReadOptions::default();
        ro.set_total_order_seek(true);
        if let Some(upper) = prefix_upper_bound(prefix) {
            ro.set_iterate_upper_bound(upper);
        }
        let mut out = Vec::new();
        for r in self
            .db
            .iterator_cf_opt(self.cf(cf)?, ro, IteratorMode::From(start, Direction::Forward))
        {
            if out.len() >= limit {
                break;
            }
            let (k, v) = r?;
            if !k.starts_with(prefix) {
                break;
            }
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }

    /// The genesis this store was initialised with.
    pub fn genesis(&self) -> Result<Genesis, StoreError> {
        if let Some(g) = self.genesis.get() {
            return Ok(g.clone());
        }
        let bytes = self.get_raw(CF_CHAIN, KEY_GENESIS)?.ok_or(StoreError::NoGenesis)?;
        let g: Genesis = decode("genesis", &bytes)?;
        let stored = self.get_raw(CF_CHAIN, KEY_GENESIS_HASH)?.ok_or(StoreError::NoGenesis)?;
        if stored.as_slice() != g.hash().0.as_slice() {
            return Err(StoreError::Corrupt(format!(
                "stored genesis hashes to {} but the recorded genesis hash is {}",
                g.hash(),
                hex::encode(&stored)
            )));
        }
        let _ = self.genesis.set(g.clone());
        Ok(g)
    }

    /// The committed tip.
    pub fn head(&self) -> Result<Head, StoreError> {
        let bytes = self.get_raw(CF_CHAIN, KEY_HEAD)?.ok_or(StoreError::NoGenesis)?;
        decode("head", &bytes)
    }

    pub fn header(&self, height: u64) -> Result<Option<BlockHeader>, StoreError> {
        match self.get_raw(CF_HEADERS, &height_key(height))? {
            None => Ok(None),
            Some(b) => Ok(Some(decode(&format!("header {height}"), &b)?)),
        }
    }

    /// The transactions stored for `height`, in order (whatever is there; `block` checks the count).
    pub fn block_txs(&self, height: u64) -> Result<Vec<SignedTransaction>, StoreError> {
        let prefix = height_key(height);
        let entries = self.range(CF_BLOCKS, &prefix, &prefix, usize::MAX)?;
        let mut txs = Vec::with_capacity(entries.len());
        for (i, (k, v)) in entries.into_iter().enumerate() {
            if parse_tx_key(&k) != Some((height, i as u32)) {
                return Err(StoreError::Corrupt(format!(
                    "block {height}: transaction key {} out of sequence",
                    hex::encode(&k)
                )));
            }
            txs.push(decode(&format!("block {height} transaction {i}"), &v)?);
        }
        Ok(txs)
    }

    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let Some(header) = self.header(height)? else {
            return Ok(None);
        };
        let txs = self.block_txs(height)?;
        if txs.len() != header.tx_count as usize {
            return Err(StoreError::Corrupt(format!(
                "block {height}: header counts {} transactions, {} are stored",
                header.tx_count,
                txs.len()
            )));
        }
        Ok(Some(Block { header, txs }))
    }

    pub fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError> {
        match self.get_raw(CF_CERTIFICATES, &height_key(height))? {
            None => Ok(None),
            Some(b) => Ok(Some(decode(&format!("certificate {height}"), &b)?)),
        }
    }

    pub fn height_of(&self, block_hash: &Hash) -> Result<Option<u64>, StoreError> {
        match self.get_raw(CF_BLOCK_HASHES, &block_hash.0)? {
            None => Ok(None),
            Some(b) => parse_height(&b)
                .map(Some)
                .ok_or_else(|| StoreError::Corrupt(format!("block hash index entry for {block_hash}"))),
        }
    }

    /// Outcomes of the block at `height` (empty if there is no such block).
    pub fn outcomes(&self, height: u64) -> Result<Vec<TxOutcome>, StoreError> {
        match self.get_raw(CF_OUTCOMES, &height_key(height))? {
            None => Ok(Vec::new()),
            Some(b) => decode(&format!("outcomes {height}"), &b),
        }
    }

    pub fn tx_location(&self, tx_id: &Hash) -> Result<Option<TxLocation>, StoreError> {
        match self.get_raw(CF_TX_LOCATIONS, &tx_id.0)? {
            None => Ok(None),
            Some(b) => Ok(Some(decode(&format!("location of {tx_id}"), &b)?)),
        }
    }

    /// The transaction at `index` of block `height` (a point lookup; None if there is none).
    pub fn tx_at(&self, height: u64, index: u32) -> Result<Option<SignedTransaction>, StoreError> {
        match self.get_raw(CF_BLOCKS, &tx_key(height, index))? {
            None => Ok(None),
            Some(b) => Ok(Some(decode(&format!("block {height} transaction {index}"), &b)?)),
        }
    }

    /// A transaction by id, with where it is and what became of it.
    pub fn transaction(&self, tx_id: &Hash) -> Result<Option<(SignedTransaction, TxLocation, TxOutcome)>, StoreError> {
        let Some(loc) = self.tx_location(tx_id)? else {
            return Ok(None);
        };
        let bytes = self
            .get_raw(CF_BLOCKS, &tx_key(loc.height, loc.index))?
            .ok_or_else(|| StoreError::Corrupt(format!("{tx_id} is indexed at {loc:?} but not stored there")))?;
        let stx: SignedTransaction = decode(&format!("transaction {tx_id}"), &bytes)?;
        let outcome = self
            .outcomes(loc.height)?
            .into_iter()
            .nth(loc.index as usize)
            .ok_or_else(|| StoreError::Corrupt(format!("no outcome for {tx_id} at {loc:?}")))?;
        Ok(Some((stx, loc, outcome)))
    }

    /// Events of one goods item (canonical goods key) in order, from sequence number `from_seq`.
    pub fn item_events(&self, goods_key: &str, from_seq: u64, limit: usize) -> Result<Vec<ItemEventRef>, StoreError> {
        let prefix = keys::item_event_prefix(goods_key);
        let start = keys::item_event(goods_key, from_seq);
        let mut ro = ReadOptions::default();
        ro.set_prefix_same_as_start(true);
        if let Some(upper) = prefix_upper_bound(&prefix) {
            ro.set_iterate_upper_bound(upper);
        }
        let cf = self.cf(Ns::ItemEvent.cf_name())?;
        let mut out = Vec::new();
        for r in self
            .db
            .iterator_cf_opt(cf, ro, IteratorMode::From(&start, Direction::Forward))
        {
            if out.len() >= limit {
                break;
            }
            let (k, v) = r?;
            if !k.starts_with(&prefix) || k.len() != prefix.len() + 10 {
                break;
            }
            out.push(decode(&format!("item event {}", hex::encode(&k)), &v)?);
        }
        Ok(out)
    }

    /// Every version of a document (`Ns::is_document` key): (height, value or None if deleted).
    pub fn document_history(&self, state_key: &[u8]) -> Result<DocVersions, StoreError> {
        let mut out = Vec::new();
        for (k, v) in self.range(CF_DOC_HISTORY, state_key, state_key, usize::MAX)? {
            // A longer state key may extend this one; only exact `key ‖ height` entries count.
            if k.len() != state_key.len() + 8 {
                continue;
            }
            let height = parse_height(&k[state_key.len()..])
                .ok_or_else(|| StoreError::Corrupt("doc history key".to_string()))?;
            out.push((height, decode("doc history entry", &v)?));
        }
        Ok(out)
    }

    /// State entries of namespace `ns` whose full key (namespace byte first) starts with
    /// `prefix`; an empty prefix scans the whole namespace.
    pub fn scan(&self, ns: Ns, prefix: &[u8], limit: usize) -> Result<Entries, StoreError> {
        let ns_byte = [ns as u8];
        let prefix = if prefix.is_empty() { &ns_byte[..] } else { prefix };
        if prefix[0] != ns as u8 {
            return Err(StoreError::BadPrefix { ns, got: prefix[0] });
        }
        self.range(ns.cf_name(), prefix, prefix, limit)
    }

    /// One committed state value.
    pub fn state_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(ns) = key.first().and_then(|b| Ns::from_byte(*b)) else {
            return Ok(None);
        };
        self.get_raw(ns.cf_name(), key)
    }

    /// The validator set in force to certify block `height`: the last set written at a height
    /// below it (genesis's at height 0). For `height` 0, the genesis set.
    pub fn validator_set_at(&self, height: u64) -> Result<ValidatorSet, StoreError> {
        let at = height.saturating_sub(1);
        let mut ro = ReadOptions::default();
        ro.set_total_order_seek(true);
        let key = height_key(at);
        let mut it = self.db.iterator_cf_opt(
            self.cf(CF_VALIDATOR_SETS)?,
            ro,
            IteratorMode::From(&key, Direction::Reverse),
        );
        match it.next() {
            Some(r) => {
                let (k, v) = r?;
                let h = parse_height(&k).ok_or_else(|| StoreError::Corrupt("validator set key".into()))?;
                decode(&format!("validator set of height {h}"), &v)
            }
            None => Err(StoreError::NoGenesis),
        }
    }

    /// Proof that transaction `index` is in block `height` (None if either does not exist).
    pub fn inclusion_proof(&self, height: u64, index: u32) -> Result<Option<InclusionProof>, StoreError> {
        match self.proof_from_record(CF_TX_MERKLE, height, index)? {
            Some(p) => Ok(p),
            // A store written before blocks kept their tree: re-hash the block.
            None => Ok(self
                .block(height)?
                .and_then(|b| tradechain_ledger::merkle::prove(&b.leaf_hashes(), index as usize))),
        }
    }

    /// Proof that transaction `index`'s outcome leaf is in block `height`'s `results_hash`.
    pub fn outcome_proof(&self, height: u64, index: u32) -> Result<Option<InclusionProof>, StoreError> {
        match self.proof_from_record(CF_OUTCOME_MERKLE, height, index)? {
            Some(p) => Ok(p),
            // A store written before blocks kept their outcome tree: hash the outcomes.
            None => Ok(tradechain_ledger::block::outcome_proof(
                &self.outcomes(height)?,
                index as usize,
            )),
        }
    }

    /// A proof read off a stored tree record (`merkle_record`); the outer None when the block
    /// has no such record.
    fn proof_from_record(
        &self,
        cf: &str,
        height: u64,
        index: u32,
    ) -> Result<Option<Option<InclusionProof>>, StoreError> {
        let Some(raw) = self.db.get_pinned_cf(self.cf(cf)?, height_key(height))? else {
            return Ok(None);
        };
        let corrupt = || StoreError::Corrupt(format!("block {height}: malformed {cf} record of {} bytes", raw.len()));
        let (n, body) = raw.split_first_chunk::<4>().ok_or_else(corrupt)?;
        let n = u32::from_le_bytes(*n) as usize;
        let nodes: usize = tradechain_ledger::merkle::level_sizes(n).iter().sum();
        if body.len() != 32 * nodes {
            return Err(corrupt());
        }
        Ok(Some(tradechain_ledger::merkle::prove_with(n, index as usize, |pos| {
            let mut h = [0u8; 32];
            h.copy_from_slice(&body[32 * pos..32 * pos + 32]);
            Hash(h)
        })))
    }
}

/// The smallest key greater than every key starting with `prefix` (None if there is none).
fn prefix_upper_bound(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut up = prefix.to_vec();
    while let Some(last) = up.pop() {
        if last < 0xff {
            up.push(last + 1);
            return Some(up);
        }
    }
    None
}

impl StateView for Store {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.state_get(key) {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(key = %hex::encode(key), error = %e, "state read failed");
                None
            }
        }
    }
}
