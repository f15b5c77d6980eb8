//! The simulator's storage behind the host's ports: an in-memory chain store (`MemStore`,
//! `ChainStore`) with injected commit failures, and a fault-injecting wrapper around the real
//! WAL file (`FaultyWal`, `ConsensusWal`).
//!
//! Invariants (the ports' contract, `node::host::ports`):
//! - `MemStore::commit` is atomic: it applies the whole block or nothing. An injected failed
//!   fsync returns `Err` after applying or without applying (both happen on real disks); the
//!   host must then stop (`Host::fatal`) and the node restarts from what the store holds.
//! - `MemStore` refuses a block that does not extend its head, whose state root is not the tree's,
//!   or whose certificate does not verify (as `tradechain_store::Store` does).
//! - `FaultyWal` is the real `node::wal::Wal` on a tmpfs file; an injected failed fsync returns
//!   `Err` (with or without the record written). Only the `lying` broken variant returns `Ok` for a
//!   record that a crash then loses.
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tradechain_ledger::block_check::{Parent, check_links};
use tradechain_ledger::execute::{BlockExecution, genesis_writes};
use tradechain_ledger::records::TxLocation;
use tradechain_ledger::state::{MemState, StateView, WriteSet, get_typed, keys};
use tradechain_ledger::state_tree::{MemTree, StateUpdate, update};
use tradechain_ledger::{Block, BlockHeader, CommitCertificate, Genesis, Hash, Org, TxOutcome, ValidatorSet};
use tradechain_node::host::ports::{ChainStore, ConsensusWal, StorageError};
use tradechain_node::wal::Wal;
use tradechain_store::Head;

struct Inner {
    state: MemState,
    tree: MemTree,
    head: Head,
    /// Index h-1 holds block h.
    blocks: Vec<(Block, CommitCertificate)>,
    /// Index h-1 holds block h's outcomes.
    outcomes: Vec<Vec<TxOutcome>>,
    locations: HashMap<Hash, TxLocation>,
    /// The validator set written at each height (genesis at 0).
    vsets: BTreeMap<u64, ValidatorSet>,
}

impl Inner {
    /// The validator set in force to certify block `height`: the last one written below it.
    fn set_at(&self, height: u64) -> Result<ValidatorSet, StorageError> {
        self.vsets
            .range(..=height.saturating_sub(1))
            .next_back()
            .map(|(_, v)| v.clone())
            .ok_or_else(|| err("no validator set"))
    }
}

pub struct MemStore {
    genesis: Genesis,
    inner: Mutex<Inner>,
    /// The next commit fails: `Some(true)` after applying, `Some(false)` without.
    fail_next: Mutex<Option<bool>>,
}

fn err(s: impl Into<String>) -> StorageError {
    StorageError(s.into())
}

impl MemStore {
    pub fn new(genesis: &Genesis) -> MemStore {
        let ws = genesis_writes(genesis).unwrap_or_default();
        let mut state = MemState::default();
        state.apply(&ws);
        let mut tree = MemTree::default();
        let root = tree.advance(0, &ws).map(|u| u.root).unwrap_or_else(|e| panic!("{e}"));
        let vs = get_typed::<ValidatorSet>(&state, &keys::validators()).unwrap_or_else(|| panic!("no validators"));
        MemStore {
            genesis: genesis.clone(),
            inner: Mutex::new(Inner {
                state,
                tree,
                head: Head {
                    height: 0,
                    block_hash: genesis.hash(),
                    state_hash: root,
                },
                blocks: Vec::new(),
                outcomes: Vec::new(),
                locations: HashMap::new(),
                vsets: BTreeMap::from([(0, vs)]),
            }),
            fail_next: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Inject a failed fsync into the next commit.
    pub fn fail_next_commit(&self, after_applying: bool) {
        *self.fail_next.lock().unwrap_or_else(|p| p.into_inner()) = Some(after_applying);
    }

    pub fn height(&self) -> u64 {
        self.lock().head.height
    }

    /// The committed block at `height` and its certificate.
    pub fn committed(&self, height: u64) -> Option<(Block, CommitCertificate)> {
        let i = usize::try_from(height.checked_sub(1)?).ok()?;
        self.lock().blocks.get(i).cloned()
    }

    /// The outcomes of block `height`'s transactions.
    pub fn outcomes(&self, height: u64) -> Vec<TxOutcome> {
        let i = height.saturating_sub(1) as usize;
        self.lock().outcomes.get(i).cloned().unwrap_or_default()
    }

    /// The root of the state tree at `height`, recomputed from the tree (not read off a header).
    pub fn tree_root_at(&self, height: u64) -> Hash {
        tradechain_ledger::state_tree::root(&self.lock().tree, height).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn contains_tx(&self, id: &Hash) -> bool {
        self.lock().locations.contains_key(id)
    }
}

impl StateView for MemStore {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.lock().state.get(key)
    }
}

impl ChainStore for MemStore {
    fn head(&self) -> Result<Head, StorageError> {
        Ok(self.lock().head)
    }
    fn header(&self, height: u64) -> Result<Option<BlockHeader>, StorageError> {
        Ok(self.committed(height).map(|(b, _)| b.header))
    }
    fn block(&self, height: u64) -> Result<Option<Block>, StorageError> {
        Ok(self.committed(height).map(|(b, _)| b))
    }
    fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StorageError> {
        Ok(self.committed(height).map(|(_, c)| c))
    }
    fn validator_set_at(&self, height: u64) -> Result<ValidatorSet, StorageError> {
        self.lock().set_at(height)
    }
    fn tx_location(&self, tx_id: &Hash) -> Result<Option<TxLocation>, StorageError> {
        Ok(self.lock().locations.get(tx_id).copied())
    }
    fn state_update(&self, version: u64, writes: &WriteSet) -> Result<StateUpdate, StorageError> {
        update(&self.lock().tree, version, writes).map_err(|e| err(e.to_string()))
    }
    fn commit(
        &self,
        block: &Block,
        cert: &CommitCertificate,
        exec: &BlockExecution,
        tree: &StateUpdate,
    ) -> Result<(), StorageError> {
        let fail = self.fail_next.lock().unwrap_or_else(|p| p.into_inner()).take();
        if fail == Some(false) {
            return Err(err("injected: fsync failed, nothing written"));
        }
        let mut g = self.lock();
        let h = &block.header;
        let parent_time = match g.head.height {
            0 => self.genesis.genesis_time_ms,
            p => g.blocks.get(p as usize - 1).map(|(b, _)| b.header.time_ms).unwrap_or(0),
        };
        let parent = Parent {
            height: g.head.height,
            block_hash: g.head.block_hash,
            time_ms: parent_time,
        };
        let ids = check_links(&self.genesis, &parent, block).map_err(|e| err(e.to_string()))?;
        if tree.version != h.height || tree.root != h.state_hash {
            return Err(err("state update does not match the header"));
        }
        let set = g.set_at(h.height)?;
        cert.verify(&self.genesis.chain_id, h.height, &block.hash(), &set)
            .map_err(|e| err(e.to_string()))?;
        if ids.iter().any(|id| g.locations.contains_key(id)) {
            return Err(err("a transaction is already committed"));
        }
        g.state.apply(&exec.writes);
        g.tree.apply(tree);
        for (i, id) in ids.iter().enumerate() {
            g.locations.insert(
                *id,
                TxLocation {
                    height: h.height,
                    index: i as u32,
                },
            );
        }
        if exec.writes.contains_key(&keys::validators())
            && let Some(vs) = get_typed::<ValidatorSet>(&g.state, &keys::validators())
        {
            g.vsets.insert(h.height, vs);
        }
        g.blocks.push((block.clone(), cert.clone()));
        g.outcomes.push(exec.outcomes.clone());
        g.head = Head {
            height: h.height,
            block_hash: block.hash(),
            state_hash: h.state_hash,
        };
        drop(g);
        if fail == Some(true) {
            return Err(err("injected: fsync failed after the write"));
        }
        Ok(())
    }
    fn orgs(&self) -> Vec<Org> {
        let g = self.lock();
        g.state
            .0
            .iter()
            .filter(|(k, _)| k.first() == Some(&(tradechain_ledger::state::Ns::Org as u8)))
            .filter_map(|(_, v)| tradechain_ledger::codec::decode::<Org>(v).ok())
            .collect()
    }
}

/// WAL faults injected per append.
#[derive(Clone, Copy, Debug, Default)]
pub struct WalFaults {
    /// Probability (per mille) that an append's fsync fails.
    pub fail_per_mille: u32,
    /// Broken variant: appends "succeed" but are never written (a vote leaves before its record
    /// is durable).
    pub lying: bool,
}

pub struct FaultyWal {
    pub inner: Wal,
    pub faults: WalFaults,
    /// Decides each append's fate (seeded from the world's RNG).
    pub rng: rand_chacha::ChaCha8Rng,
    pub failed: u64,
}

impl ConsensusWal for FaultyWal {
    fn append(&mut self, record: &[u8]) -> Result<(), StorageError> {
        if self.faults.lying {
            return Ok(());
        }
        let d: u32 = rand::Rng::random_range(&mut self.rng, 0..1000);
        if d < self.faults.fail_per_mille {
            self.failed += 1;
            // Half the failures wrote the record before the fsync failed.
            if d.is_multiple_of(2) {
                self.inner.append(record).map_err(|e| err(e.to_string()))?;
            }
            return Err(err("injected: WAL fsync failed"));
        }
        self.inner.append(record).map_err(|e| err(e.to_string()))
    }
    fn replay(&self) -> Result<Vec<Vec<u8>>, StorageError> {
        self.inner.replay().map_err(|e| err(e.to_string()))
    }
    fn truncate(&mut self) -> Result<(), StorageError> {
        self.inner.truncate().map_err(|e| err(e.to_string()))
    }
}
