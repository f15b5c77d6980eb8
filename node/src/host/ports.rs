//! The host's ports: the small traits through which the sans-IO host (`node::host`) reaches the
//! outside world, and their production implementations over the RocksDB store and the WAL file.
//!
//! - [`ChainStore`]: committed chain and state (reads for execution, one atomic commit);
//! - [`ConsensusWal`]: the engine's write-ahead log (append = durable, replay, truncate);
//! - [`HostIo`]: the clock, timers and the network outbox.
//!
//! Invariants the host relies on (and the simulator's in-memory implementations keep):
//! - `ChainStore::commit` is all or nothing: after an `Err`, or a crash during it, the head is
//!   the old one or the new one, never in between; the store refuses a block that is not the
//!   head's child (`ledger::block_check`).
//! - `ConsensusWal::append` returns `Ok` only once the record is durable; `replay` returns
//!   exactly the records whose append returned `Ok` since the last truncate (a torn tail is cut).
//! - `HostIo` never calls back into the host: commands and timers are queued and come back, if
//!   at all, as later inputs.
use crate::network::NetCommand;
use std::collections::BTreeSet;
use tradechain_ledger::execute::BlockExecution;
use tradechain_ledger::records::TxLocation;
use tradechain_ledger::state::{Ns, StateView, WriteSet};
use tradechain_ledger::state_tree::StateUpdate;
use tradechain_ledger::{Block, BlockHeader, CommitCertificate, Hash, Org, ValidatorSet, codec};
use tradechain_store::{Head, Store};

/// A storage failure, named by what failed (the host logs it and does not act on the result).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct StorageError(pub String);

fn se<E: std::fmt::Display>(e: E) -> StorageError {
    StorageError(e.to_string())
}

/// The committed chain and its state, as the host reads and extends it.
pub trait ChainStore: StateView + Send + Sync + 'static {
    fn head(&self) -> Result<Head, StorageError>;
    fn header(&self, height: u64) -> Result<Option<BlockHeader>, StorageError>;
    fn block(&self, height: u64) -> Result<Option<Block>, StorageError>;
    fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StorageError>;
    /// The validator set in force to certify block `height`.
    fn validator_set_at(&self, height: u64) -> Result<ValidatorSet, StorageError>;
    fn tx_location(&self, tx_id: &Hash) -> Result<Option<TxLocation>, StorageError>;
    /// The state-tree update of `writes` at `version` (the next height), not yet applied.
    fn state_update(&self, version: u64, writes: &WriteSet) -> Result<StateUpdate, StorageError>;
    /// Append a certified, executed block in one atomic, durable write.
    fn commit(
        &self,
        block: &Block,
        cert: &CommitCertificate,
        exec: &BlockExecution,
        tree: &StateUpdate,
    ) -> Result<(), StorageError>;
    /// Every member org (for the network's allow-list).
    fn orgs(&self) -> Vec<Org>;
}

/// The consensus engine's write-ahead log for the current height.
pub trait ConsensusWal: Send {
    /// Durable when it returns `Ok`.
    fn append(&mut self, record: &[u8]) -> Result<(), StorageError>;
    fn replay(&self) -> Result<Vec<Vec<u8>>, StorageError>;
    fn truncate(&mut self) -> Result<(), StorageError>;
}

/// A host timer; it comes back as `HostInput::Timer` after the delay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostTimer {
    /// An engine timeout.
    Consensus(tradechain_consensus::Timeout),
    /// Start the height after a commit (the block interval).
    StartHeight(u64),
}

/// The clock, timers and network outbox.
pub trait HostIo {
    /// Unix milliseconds (the simulator's virtual time).
    fn now_ms(&self) -> i64;
    fn schedule(&mut self, timer: HostTimer, after_ms: u64);
    fn send(&mut self, cmd: NetCommand);
    /// CPU time of the calling thread, for the per-stage figures only (`node::cpu`; never
    /// decides anything). The simulator's is 0.
    fn thread_cpu_ns(&self) -> u64 {
        0
    }
    /// CPU the store's state-tree updates took on this thread since the last call.
    fn take_state_tree_ns(&mut self) -> u64 {
        0
    }
}

impl ChainStore for Store {
    fn head(&self) -> Result<Head, StorageError> {
        Store::head(self).map_err(se)
    }
    fn header(&self, height: u64) -> Result<Option<BlockHeader>, StorageError> {
        Store::header(self, height).map_err(se)
    }
    fn block(&self, height: u64) -> Result<Option<Block>, StorageError> {
        Store::block(self, height).map_err(se)
    }
    fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StorageError> {
        Store::certificate(self, height).map_err(se)
    }
    fn validator_set_at(&self, height: u64) -> Result<ValidatorSet, StorageError> {
        Store::validator_set_at(self, height).map_err(se)
    }
    fn tx_location(&self, tx_id: &Hash) -> Result<Option<TxLocation>, StorageError> {
        Store::tx_location(self, tx_id).map_err(se)
    }
    fn state_update(&self, version: u64, writes: &WriteSet) -> Result<StateUpdate, StorageError> {
        crate::cpu::count_state_tree(|| Store::state_update(self, version, writes)).map_err(se)
    }
    fn commit(
        &self,
        block: &Block,
        cert: &CommitCertificate,
        exec: &BlockExecution,
        tree: &StateUpdate,
    ) -> Result<(), StorageError> {
        self.commit_block_with_tree(block, cert, exec, tree).map_err(se)
    }
    fn orgs(&self) -> Vec<Org> {
        match self.scan(Ns::Org, &[Ns::Org as u8], usize::MAX) {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|(_, v)| codec::decode::<Org>(&v).ok())
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

impl ConsensusWal for crate::wal::Wal {
    fn append(&mut self, record: &[u8]) -> Result<(), StorageError> {
        crate::wal::Wal::append(self, record).map_err(se)
    }
    fn replay(&self) -> Result<Vec<Vec<u8>>, StorageError> {
        crate::wal::Wal::replay(self).map_err(se)
    }
    fn truncate(&mut self) -> Result<(), StorageError> {
        crate::wal::Wal::truncate(self).map_err(se)
    }
}

/// Node keys of all current members: the network's allow-list.
pub fn member_node_keys(store: &dyn ChainStore) -> BTreeSet<[u8; 32]> {
    store
        .orgs()
        .into_iter()
        .flat_map(|org| org.node_keys.into_iter().map(|k| k.0))
        .collect()
}

/// Node keys of the orgs in the validator set in force and the one scheduled: the only nodes
/// that author consensus gossip.
pub fn validator_node_keys(store: &dyn ChainStore) -> BTreeSet<[u8; 32]> {
    use tradechain_ledger::state::{get_typed, keys};
    let mut orgs = BTreeSet::new();
    if let Some(set) = get_typed::<ValidatorSet>(store, &keys::validators()) {
        orgs.extend(set.validators.into_iter().map(|v| v.org));
    }
    if let Some(p) = get_typed::<tradechain_ledger::records::PendingValidators>(store, &keys::pending_validators()) {
        orgs.extend(p.set.validators.into_iter().map(|v| v.org));
    }
    orgs.iter()
        .filter_map(|id| get_typed::<Org>(store, &keys::org(id)))
        .flat_map(|org| org.node_keys.into_iter().map(|k| k.0))
        .collect()
}
