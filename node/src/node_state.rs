//! What the host, the API servers and the runtime share about one node: its store, mempool,
//! submission journal, gossip queue, metrics, status and commit notifications, and the one
//! admission path each transaction takes into the mempool (from a client, from gossip, or back
//! from the journal after a restart).
//!
//! Invariants:
//! - A client's submission is acknowledged only after it is in the journal (`submit`, then
//!   `durable`); a journal that fails refuses the submission rather than acknowledging it.
//! - Every transaction enters the mempool through `Mempool::admit_checked` after one batched
//!   signature check made outside the mempool lock (`ledger::execute::check_signatures`).
//! - What the mempool admitted from a client or the journal is queued for gossip (`outbound`).
//! - A transaction already committed (accepted or rejected) is never admitted again: a rejected
//!   one leaves its nonce free, and a proposal repeating it is refused by every validator.
use crate::config::NodeRole;
use crate::cpu::Stage;
use crate::host::ports::ChainStore;
use crate::mempool::{Mempool, MempoolError};
use crate::metrics::Metrics;
use crate::submit_journal::SubmitJournal;
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::broadcast;
use tradechain_ledger::execute::check_signatures;
use tradechain_ledger::{Genesis, Hash, SignedTransaction, codec};
use tradechain_store::Store;

/// What gRPC and HTTP read about the node.
#[derive(Clone, Debug, Default)]
pub struct Status {
    pub local_peer_id: String,
    pub peers: Vec<String>,
    /// Behind the best peer head seen by more than `SYNC_LAG_BLOCKS` (then submissions are refused).
    pub syncing: bool,
    /// The best peer head seen by the last sync exchange.
    pub sync_target: u64,
    pub round: u32,
    /// Conflicting vote pairs on record (`node::evidence`).
    pub equivocation_evidence: u64,
}

/// How far behind its peers a node may be and still count as caught up. An observer that
/// follows by polling is always a few blocks behind; that is not "syncing".
pub const SYNC_LAG_BLOCKS: u64 = 20;

/// State shared between the host and the API servers. `S` is the store: RocksDB in production,
/// the simulator's in-memory store in `node/tests/host_sim`.
pub struct NodeState<S = Store> {
    pub name: String,
    pub role: NodeRole,
    pub genesis: Genesis,
    pub store: Arc<S>,
    pub mempool: Mutex<Mempool>,
    pub metrics: Metrics,
    /// Committed heights, as they commit.
    pub commits: broadcast::Sender<u64>,
    pub status: RwLock<Status>,
    /// Admitted transactions waiting to be gossiped (taken by the host's gossip tick).
    pub outbound: Mutex<Vec<SignedTransaction>>,
    /// What this node acknowledged, on disk (`node::submit_journal`).
    pub journal: SubmitJournal,
}

/// Why a gossiping peer is penalised for a batch (a relay that passes on what no member signed
/// wastes every node's work).
pub fn gossip_offence(res: &[Result<Hash, MempoolError>]) -> Option<&'static str> {
    res.iter().find_map(|r| match r {
        Err(MempoolError::BadSignature { .. }) => Some("gossiped a bad signature"),
        Err(MempoolError::UnknownSender(_)) => Some("gossiped a transaction from a non-member"),
        Err(MempoolError::UnknownKey { .. }) => Some("gossiped a transaction under an unknown key"),
        _ => None,
    })
}

impl<S: ChainStore> NodeState<S> {
    /// Where `id` was committed, if it was (a read error counts as not committed: the block
    /// check refuses a repeat anyway).
    fn committed_at(&self, id: &Hash) -> Option<u64> {
        self.store.tx_location(id).ok().flatten().map(|l| l.height)
    }

    /// Drop what is already committed from a batch about to be admitted.
    fn uncommitted(&self, txs: Vec<SignedTransaction>) -> Vec<SignedTransaction> {
        txs.into_iter()
            .filter(|t| self.committed_at(&t.id()).is_none())
            .collect()
    }

    pub fn new(
        name: String,
        role: NodeRole,
        genesis: Genesis,
        store: Arc<S>,
        mempool: Mempool,
        journal: SubmitJournal,
    ) -> NodeState<S> {
        let (commits, _) = broadcast::channel(1024);
        NodeState {
            name,
            role,
            genesis,
            store,
            mempool: Mutex::new(mempool),
            metrics: Metrics::new(),
            commits,
            status: RwLock::new(Status::default()),
            outbound: Mutex::new(Vec::new()),
            journal,
        }
    }

    /// Admit a transaction to the mempool, journal it and queue it for gossip. The caller
    /// acknowledges it only after `durable()` resolves (a duplicate of a pending transaction is
    /// journaled too if it came by gossip, so that acknowledgement holds as well).
    pub fn submit(&self, tx: SignedTransaction) -> Result<Hash, MempoolError> {
        self.metrics.stage_cpu.time(Stage::Submit, || self.admit_submission(tx))
    }

    fn admit_submission(&self, tx: SignedTransaction) -> Result<Hash, MempoolError> {
        let id = tx.id();
        if let Some(height) = self.committed_at(&id) {
            self.metrics.mempool_refused.inc();
            return Err(MempoolError::AlreadyCommitted { id, height });
        }
        // The signature is checked before taking the mempool lock, so submissions, gossip and
        // block checks do not queue behind one another's ed25519 work.
        let checks = check_signatures(self.store.as_ref(), std::slice::from_ref(&tx), &|_, _| false);
        // Encoded for the journal before the lock (an append under it only queues the bytes).
        let body = codec::encode(&tx);
        let res = match self.mempool.lock() {
            Ok(mut m) => {
                let r = m
                    .admit_checked(vec![tx.clone()], checks, self.store.as_ref())
                    .pop()
                    .unwrap_or_else(|| unreachable!("admit_checked answers once per transaction"));
                // Journaled under the mempool lock: a compaction (which snapshots the pool under
                // the same lock) is ordered before or after this append, never across it.
                let r = match r {
                    Ok(id) | Err(MempoolError::Duplicate(id)) if m.mark_journaled(&id) => {
                        match self.journal.append(&body) {
                            Ok(_) => {
                                // Bounded between commits too (a stalled chain still admits
                                // replacements of the same nonces).
                                let live = m.bytes();
                                self.journal.bound(live, || m.snapshot_for_journal());
                                Ok(id)
                            }
                            Err(e) => {
                                if r.is_ok() {
                                    m.remove(&id);
                                }
                                Err(MempoolError::Unavailable(e.to_string()))
                            }
                        }
                    }
                    r => r,
                };
                self.metrics.mempool_txs.set(m.len() as i64);
                r
            }
            Err(_) => Err(MempoolError::Full { count: 0, bytes: 0 }),
        };
        match &res {
            Ok(_) => {
                if let Ok(mut o) = self.outbound.lock() {
                    o.push(tx);
                }
            }
            Err(_) => {
                self.metrics.mempool_refused.inc();
            }
        }
        res
    }

    /// Resolves when every submission admitted before the call is durable in the journal.
    pub fn durable(
        &self,
    ) -> impl std::future::Future<Output = Result<(), crate::submit_journal::JournalError>> + use<S> {
        self.journal.wait_durable(self.journal.last_seq())
    }

    pub fn is_pending(&self, id: &Hash) -> bool {
        self.mempool.lock().map(|m| m.contains(id)).unwrap_or(false)
    }

    /// Admit a batch a peer gossiped (not journaled: this node did not acknowledge it). Returns
    /// why the peer should be penalised, if it should.
    pub fn admit_gossip(&self, txs: Vec<SignedTransaction>) -> Option<&'static str> {
        // Skip what we already hold (our own transactions relayed back, repeats) and what is
        // committed (a member re-gossiping its rejected transaction, whose nonce is still free).
        let txs = self.uncommitted(txs);
        let txs: Vec<SignedTransaction> = match self.mempool.lock() {
            Ok(m) => txs.into_iter().filter(|t| !m.contains(&t.id())).collect(),
            Err(_) => return None,
        };
        if txs.is_empty() {
            return None;
        }
        let checks = check_signatures(self.store.as_ref(), &txs, &|_, _| false);
        let mut m = self.mempool.lock().ok()?;
        let res = m.admit_checked(txs, checks, self.store.as_ref());
        self.metrics.mempool_txs.set(m.len() as i64);
        gossip_offence(&res)
    }

    /// After a restart: put what the journal holds back in the mempool (what has committed since
    /// is refused as stale and dropped) and queue it for gossip, so peers that lost it get it
    /// again. Returns how many are pending again.
    pub fn readmit_journaled(&self, txs: Vec<SignedTransaction>) -> usize {
        if txs.is_empty() {
            return 0;
        }
        let read = txs.len();
        let txs = self.uncommitted(txs);
        let checks = check_signatures(self.store.as_ref(), &txs, &|_, _| false);
        let Ok(mut m) = self.mempool.lock() else { return 0 };
        let res = m.admit_checked(txs.clone(), checks, self.store.as_ref());
        let mut back = Vec::new();
        for (tx, r) in txs.into_iter().zip(res) {
            if let Ok(id) | Err(MempoolError::Duplicate(id)) = r {
                m.mark_journaled(&id);
                back.push(tx);
            }
        }
        self.metrics.mempool_txs.set(m.len() as i64);
        drop(m);
        let pending = back.len();
        tracing::info!(
            read,
            pending,
            "submission journal: re-admitted what this node acknowledged and has not seen commit"
        );
        if let Ok(mut o) = self.outbound.lock() {
            o.extend(back);
        }
        pending
    }
}
