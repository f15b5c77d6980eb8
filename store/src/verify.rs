//! `verify`: the offline audit of a whole store (`tradechain verify`). It lives beside the store
//! because it reads the store's column families raw (`layout`); everything it re-derives comes from
//! the ledger (`ledger::block_check`, `ledger::execute`, `ledger::state_tree`), the same functions
//! the node runs. Walks from genesis and checks every header's hash link, height, chain id and
//! time, every Merkle root, every commit certificate against the validator set in force, every
//! transaction signature, and re-executes every block on an
//! in-memory state (`MemState`) and state tree (`MemTree`) to re-derive outcomes, results hash
//! and state root. It then compares every stored index (tx locations, block hashes, document
//! history, validator-set history, the state tree's nodes) and every state column
//! family (which includes the per-item event chains) with what the re-execution derived.
//!
//! Invariants: `verify` only reads (the store is opened read-only); the error names the FIRST
//! bad block (lowest height) found and what is wrong with it. A stored state entry that differs
//! is attributed to the block that last wrote that key; an entry no block wrote, to the head.
//! Memory: the re-derived state and the expected indices are held in memory.
use crate::layout::*;
use crate::{Head, Store};
use std::collections::BTreeMap;
use std::path::Path;
use tradechain_ledger::certificate::ValidatorSet;
use tradechain_ledger::codec;
use tradechain_ledger::execute::{Registry, execute_block, genesis_writes};
use tradechain_ledger::hash::Hash;
use tradechain_ledger::records::TxLocation;
use tradechain_ledger::state::{MemState, Ns, WriteSet, get_typed, keys};
use tradechain_ledger::state_tree::{MemTree, StateUpdate};

/// What is wrong, and with which block (0 = genesis / the store's own records).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("block {height}: {what}")]
pub struct VerifyError {
    pub height: u64,
    pub what: String,
}

/// A block's stored Merkle tree record (`tx_merkle`, `outcome_merkle`) is the tree of `leaves`.
fn check_tree_record(store: &Store, cf: &str, h: u64, leaves: &[Hash], of: &str) -> Result<(), VerifyError> {
    match store
        .get_raw(cf, &height_key(h))
        .map_err(|e| bad(h, format!("{cf}: {e}")))?
    {
        None => Err(bad(h, format!("no {cf} record (the block's Merkle tree of its {of})"))),
        Some(raw) if raw != crate::merkle_record(leaves) => Err(bad(
            h,
            format!("{cf} record is not the Merkle tree of the block's {of}"),
        )),
        Some(_) => Ok(()),
    }
}

fn bad(height: u64, what: impl Into<String>) -> VerifyError {
    VerifyError {
        height,
        what: what.into(),
    }
}

/// What a clean audit covered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub head: Head,
    pub blocks: u64,
    pub transactions: u64,
    pub accepted: u64,
    pub state_entries: u64,
    pub index_entries: u64,
}

/// Audit the store at `path` with the node's validators. `progress(height, head_height)` is
/// called before each block.
pub fn verify_store(path: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, VerifyError> {
    verify_store_with(path, &Registry::default(), progress)
}

/// Audit with a given validator registry (tests and tools).
pub fn verify_store_with(
    path: &Path,
    registry: &Registry,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, VerifyError> {
    let store = Store::open_read_only(path).map_err(|e| bad(0, format!("cannot open the store: {e}")))?;
    Audit::new(&store, registry)?.run(progress)
}

/// What re-execution says the store must hold, besides the block records themselves.
#[derive(Default)]
struct Expected {
    /// Key → height of the block that last wrote it (genesis = 0).
    last_write: BTreeMap<Vec<u8>, u64>,
    doc_history: BTreeMap<Vec<u8>, Vec<u8>>,
    validator_sets: BTreeMap<Vec<u8>, Vec<u8>>,
    tx_locations: BTreeMap<Vec<u8>, Vec<u8>>,
    block_hashes: BTreeMap<Vec<u8>, Vec<u8>>,
    jmt_nodes: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl Expected {
    /// The state tree's records a height's update adds (`Store::stage_tree`'s layout).
    fn record_tree(&mut self, u: &StateUpdate) {
        for (k, n) in u.nodes() {
            self.jmt_nodes.insert(codec::encode(k), codec::encode(n));
        }
    }

    fn record_writes(&mut self, height: u64, writes: &WriteSet) {
        let vk = keys::validators();
        for (k, v) in writes {
            self.last_write.insert(k.clone(), height);
            if k.first()
                .and_then(|b| Ns::from_byte(*b))
                .is_some_and(|n| n.is_document())
            {
                self.doc_history.insert(doc_history_key(k, height), codec::encode(v));
            }
            if *k == vk
                && let Some(v) = v
            {
                self.validator_sets.insert(height_key(height).to_vec(), v.clone());
            }
        }
    }
}

struct Audit<'a> {
    store: &'a Store,
    registry: &'a Registry,
    genesis: tradechain_ledger::genesis::Genesis,
    head: Head,
    mem: MemState,
    tree: MemTree,
    state_hash: Hash,
    prev_hash: Hash,
    prev_time: i64,
    exp: Expected,
    transactions: u64,
    accepted: u64,
}

impl<'a> Audit<'a> {
    fn new(store: &'a Store, registry: &'a Registry) -> Result<Audit<'a>, VerifyError> {
        let genesis = store.genesis().map_err(|e| bad(0, format!("genesis: {e}")))?;
        let head = store.head().map_err(|e| bad(0, format!("head record: {e}")))?;
        let gw = genesis_writes(&genesis).map_err(|e| bad(0, format!("genesis: {e}")))?;
        let mut mem = MemState::default();
        mem.apply(&gw);
        let mut exp = Expected::default();
        exp.record_writes(0, &gw);
        let mut tree = MemTree::default();
        let genesis_tree = tree.advance(0, &gw).map_err(|e| bad(0, e.to_string()))?;
        exp.record_tree(&genesis_tree);
        Ok(Audit {
            store,
            registry,
            tree,
            state_hash: genesis_tree.root,
            prev_hash: genesis.hash(),
            prev_time: genesis.genesis_time_ms,
            genesis,
            head,
            mem,
            exp,
            transactions: 0,
            accepted: 0,
        })
    }

    fn run(mut self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport, VerifyError> {
        let mut walk_err = None;
        for h in 1..=self.head.height {
            progress(h, self.head.height);
            if let Err(e) = self.block(h) {
                walk_err = Some(e);
                break;
            }
        }
        if walk_err.is_none() {
            walk_err = self.check_head().err();
        }
        // Index problems may name an earlier block than where the walk stopped.
        let limit = walk_err.as_ref().map_or(u64::MAX, |e| e.height);
        let mut problems = Vec::new();
        let index_entries = self.check_indices(limit, &mut problems)?;
        let mut state_entries = 0;
        if walk_err.is_none() {
            state_entries = self.check_state(&mut problems)?;
        }
        problems.extend(walk_err);
        if let Some(first) = problems.into_iter().min_by_key(|p| p.height) {
            return Err(first);
        }
        Ok(VerifyReport {
            head: self.head,
            blocks: self.head.height,
            transactions: self.transactions,
            accepted: self.accepted,
            state_entries,
            index_entries,
        })
    }

    fn block(&mut self, h: u64) -> Result<(), VerifyError> {
        let store = self.store;
        let header = store
            .header(h)
            .map_err(|e| bad(h, e.to_string()))?
            .ok_or_else(|| bad(h, format!("header is missing (head is at {})", self.head.height)))?;
        if header.height != h {
            return Err(bad(h, format!("header says height {}", header.height)));
        }
        let txs = store.block_txs(h).map_err(|e| bad(h, format!("transactions: {e}")))?;
        let block = tradechain_ledger::block::Block { header, txs };
        // The one parent check every other place uses (version, chain id, link, time, counts,
        // size, duplicates, tx root): a store that passes the audit passes the node's checks.
        let parent = tradechain_ledger::block_check::Parent {
            height: h.saturating_sub(1),
            block_hash: self.prev_hash,
            time_ms: self.prev_time,
        };
        tradechain_ledger::block_check::check_links(&self.genesis, &parent, &block)
            .map_err(|e| bad(h, e.to_string()))?;
        check_tree_record(store, CF_TX_MERKLE, h, &block.leaf_hashes(), "transactions")?;
        let block_hash = block.hash();
        let set: ValidatorSet = get_typed(&self.mem, &keys::validators())
            .ok_or_else(|| bad(h, "the re-derived state has no validator set"))?;
        if block.header.validators_hash != set.hash() {
            return Err(bad(
                h,
                format!(
                    "validators_hash {} is not the hash {} of the set in force",
                    block.header.validators_hash,
                    set.hash()
                ),
            ));
        }
        let cert = store
            .certificate(h)
            .map_err(|e| bad(h, e.to_string()))?
            .ok_or_else(|| bad(h, "commit certificate is missing"))?;
        cert.verify(&self.genesis.chain_id, h, &block_hash, &set)
            .map_err(|e| bad(h, format!("commit certificate: {e}")))?;
        let exec = execute_block(
            self.registry,
            &self.genesis,
            &self.mem,
            h,
            block.header.time_ms,
            &block.txs,
        )
        .map_err(|e| bad(h, format!("re-execution: {e}")))?;
        let outcome_leaves = tradechain_ledger::block::outcome_leaves(&exec.outcomes);
        let results = tradechain_ledger::merkle::root_from_leaf_hashes(&outcome_leaves);
        if block.header.results_hash != results {
            return Err(bad(
                h,
                format!(
                    "results_hash {} but re-executed outcomes hash to {results}",
                    block.header.results_hash
                ),
            ));
        }
        let stored = store.outcomes(h).map_err(|e| bad(h, e.to_string()))?;
        check_tree_record(store, CF_OUTCOME_MERKLE, h, &outcome_leaves, "outcomes")?;
        if stored != exec.outcomes {
            let i = stored
                .iter()
                .zip(&exec.outcomes)
                .position(|(a, b)| a != b)
                .unwrap_or(stored.len().min(exec.outcomes.len()));
            return Err(bad(
                h,
                format!(
                    "stored outcomes differ from re-execution at transaction {i} ({} stored, {} executed)",
                    stored.len(),
                    exec.outcomes.len()
                ),
            ));
        }
        let update = self.tree.advance(h, &exec.writes).map_err(|e| bad(h, e.to_string()))?;
        let state_hash = update.root;
        if block.header.state_hash != state_hash {
            return Err(bad(
                h,
                format!(
                    "state_hash {} but re-execution gives {state_hash}",
                    block.header.state_hash
                ),
            ));
        }
        self.mem.apply(&exec.writes);
        self.exp.record_tree(&update);
        self.exp.record_writes(h, &exec.writes);
        for (i, t) in block.txs.iter().enumerate() {
            let loc = TxLocation {
                height: h,
                index: i as u32,
            };
            self.exp.tx_locations.insert(t.id().0.to_vec(), codec::encode(&loc));
        }
        self.exp
            .block_hashes
            .insert(block_hash.0.to_vec(), height_key(h).to_vec());
        self.transactions += block.txs.len() as u64;
        self.accepted += exec
            .outcomes
            .iter()
            .filter(|o| matches!(o, tradechain_ledger::block::TxOutcome::Accepted))
            .count() as u64;
        self.state_hash = state_hash;
        self.prev_hash = block_hash;
        self.prev_time = block.header.time_ms;
        Ok(())
    }

    fn check_head(&self) -> Result<(), VerifyError> {
        let h = self.head.height;
        if self.head.block_hash != self.prev_hash {
            return Err(bad(
                h,
                format!(
                    "head record names block {} but the last block is {}",
                    self.head.block_hash, self.prev_hash
                ),
            ));
        }
        if self.head.state_hash != self.state_hash {
            return Err(bad(
                h,
                format!(
                    "head record's state hash {} is not the re-derived {}",
                    self.head.state_hash, self.state_hash
                ),
            ));
        }
        Ok(())
    }

    /// Compare the index column families with what the walk expects; also find block records
    /// stored outside 1..=head. Problems at or above `limit` (where the walk stopped) are dropped.
    fn check_indices(&self, limit: u64, problems: &mut Vec<VerifyError>) -> Result<u64, VerifyError> {
        let head = self.head.height;
        let mut count = 0;
        // Block records: only heights 1..=head may exist (the walk checked their contents).
        for cf in [
            CF_HEADERS,
            CF_TX_MERKLE,
            CF_OUTCOME_MERKLE,
            CF_CERTIFICATES,
            CF_OUTCOMES,
            CF_BLOCKS,
        ] {
            for r in self.store.iter_cf(cf).map_err(|e| bad(0, e.to_string()))? {
                let (k, _) = r.map_err(|e| bad(0, e.to_string()))?;
                let h = if cf == CF_BLOCKS {
                    parse_tx_key(&k).map(|(h, _)| h)
                } else {
                    parse_height(&k)
                };
                match h {
                    Some(h) if (1..=head).contains(&h) => {}
                    Some(h) => problems.push(bad(h, format!("{cf}: record for height {h}, outside 1..={head}"))),
                    None => problems.push(bad(head, format!("{cf}: malformed key {}", hex::encode(&k)))),
                }
            }
        }
        let checks: [IndexCheck<'_>; 5] = [
            (CF_TX_LOCATIONS, &self.exp.tx_locations, &|_, v| {
                codec::decode::<TxLocation>(v).ok().map(|l| l.height)
            }),
            (CF_BLOCK_HASHES, &self.exp.block_hashes, &|_, v| parse_height(v)),
            (CF_DOC_HISTORY, &self.exp.doc_history, &|k, _| {
                parse_doc_history_key(k).map(|(_, h)| h)
            }),
            (CF_VALIDATOR_SETS, &self.exp.validator_sets, &|k, _| parse_height(k)),
            // A node key is borsh(version u64 LE, nibble path).
            (CF_JMT_NODES, &self.exp.jmt_nodes, &|k, _| {
                k.first_chunk::<8>().map(|v| u64::from_le_bytes(*v))
            }),
        ];
        for (cf, expected, height_of) in checks {
            count += expected.len() as u64;
            let stored = self.store.iter_cf(cf).map_err(|e| bad(0, e.to_string()))?;
            diff(stored, expected.iter(), |d| {
                let (h, what) = match d {
                    Diff::Missing(k, v) => (
                        height_of(k, v).unwrap_or(head),
                        format!("{cf}: entry {} is missing", hex::encode(k)),
                    ),
                    Diff::Extra(k, v) => (
                        height_of(k, v).unwrap_or(head),
                        format!("{cf}: entry {} was written by no block", hex::encode(k)),
                    ),
                    Diff::Differs(k, want, got) => {
                        // A stored value naming a block past the walk may be legitimate.
                        if height_of(k, got).is_some_and(|g| g >= limit) {
                            return;
                        }
                        (
                            height_of(k, want).unwrap_or(head),
                            format!("{cf}: entry {} holds the wrong value", hex::encode(k)),
                        )
                    }
                };
                if h < limit {
                    problems.push(bad(h, what));
                }
            })?;
        }
        Ok(count)
    }

    /// Compare every state column family with the re-derived state.
    fn check_state(&self, problems: &mut Vec<VerifyError>) -> Result<u64, VerifyError> {
        let head = self.head.height;
        let mut count = 0;
        for ns in Ns::ALL {
            let lo = vec![ns as u8];
            let hi = vec![ns as u8 + 1];
            let expected = self.mem.0.range(lo..hi);
            let cf = ns.cf_name();
            let stored = self.store.iter_cf(cf).map_err(|e| bad(0, e.to_string()))?;
            diff(stored, expected, |d| {
                let (k, what) = match d {
                    Diff::Missing(k, _) => (k, "is missing"),
                    Diff::Extra(k, _) => (k, "is stored but the re-derived state has no such key"),
                    Diff::Differs(k, _, _) => (k, "holds a value the re-derived state does not"),
                };
                let h = self.exp.last_write.get(k).copied().unwrap_or(head);
                problems.push(bad(h, format!("{cf}: state key {} {what}", hex::encode(k))));
            })?;
            count += self.mem.0.range(vec![ns as u8]..vec![ns as u8 + 1]).count() as u64;
        }
        Ok(count)
    }
}

/// Which block an index entry belongs to, from its key and value.
type HeightOf = dyn Fn(&[u8], &[u8]) -> Option<u64>;
/// An index column family, its expected entries, and how to tell an entry's block.
type IndexCheck<'a> = (&'static str, &'a BTreeMap<Vec<u8>, Vec<u8>>, &'static HeightOf);

enum Diff<'k> {
    Missing(&'k [u8], &'k [u8]),
    Extra(&'k [u8], &'k [u8]),
    Differs(&'k [u8], &'k [u8], &'k [u8]),
}

/// Merge-compare a stored column family (in key order) with the expected entries (in key order).
fn diff<'e, S, E>(stored: S, expected: E, mut report: impl FnMut(Diff<'_>)) -> Result<(), VerifyError>
where
    S: Iterator<Item = crate::EntryResult>,
    E: Iterator<Item = (&'e Vec<u8>, &'e Vec<u8>)>,
{
    let mut stored = stored.peekable();
    let mut expected = expected.peekable();
    loop {
        let s = match stored.peek() {
            Some(Err(e)) => return Err(bad(0, format!("reading the store: {e}"))),
            Some(Ok(kv)) => Some(kv),
            None => None,
        };
        match (s, expected.peek()) {
            (None, None) => return Ok(()),
            (Some((sk, sv)), None) => {
                report(Diff::Extra(sk, sv));
                stored.next();
            }
            (None, Some((ek, ev))) => {
                report(Diff::Missing(ek, ev));
                expected.next();
            }
            (Some((sk, sv)), Some((ek, ev))) => match sk.as_slice().cmp(ek.as_slice()) {
                std::cmp::Ordering::Less => {
                    report(Diff::Extra(sk, sv));
                    stored.next();
                }
                std::cmp::Ordering::Greater => {
                    report(Diff::Missing(ek, ev));
                    expected.next();
                }
                std::cmp::Ordering::Equal => {
                    if sv != *ev {
                        report(Diff::Differs(sk, ev, sv));
                    }
                    stored.next();
                    expected.next();
                }
            },
        }
    }
}
