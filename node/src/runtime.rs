//! The node runtime: one core task owns the consensus engine and is the only writer of the
//! store; the network, timers, gRPC submissions and sync feed it events.
//!
//! Data flow: gRPC `Submit` → `NodeState::submit` (mempool admits after signature/nonce checks) →
//! gossiped to peers in batches → a proposer's `BuildBlock` takes a gap-free selection →
//! every validator's `ValidateBlock` re-executes (`blocks::check_block`) → the engine decides
//! with a commit certificate → `Store::commit_block` (one synced RocksDB batch) → mempool
//! eviction, metrics, and a commit notification that `WaitForCommit` and streams wait on.
//!
//! Invariants:
//! - Only the core task writes the store, and only blocks that carry a certificate verified
//!   against the validator set in force (`Decided` from our engine, or sync after
//!   `CommitCertificate::verify`).
//! - Every `PersistWal` output is fsynced before any later output of the same batch is acted
//!   on, so our vote never leaves the node before it is durable.
//! - The WAL is truncated only after the height it covers is committed.
use crate::blocks::{Checked, build_block, check_block};
use crate::clock::now_ms;
use crate::config::{NodeConfig, NodeRole};
use crate::evidence::{EvidenceLog, EvidenceRecord};
use crate::mempool::{Mempool, MempoolError, MempoolLimits};
use crate::metrics::Metrics;
use crate::network::{self, NetCommand, NetConfig, NetEvent, NetHandle, Topic};
use crate::peer_messages::{self, MAX_SYNC_BLOCKS, SyncRequest, SyncResponse, TxGossip};
use crate::submit_journal::SubmitJournal;
use crate::wal::Wal;
use anyhow::Context as _;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};
use tradechain_consensus::{ConsensusMsg, Engine, EngineConfig, Input, Output, Timeout, WalEntry};
use tradechain_ledger::execute::{Registry, check_signatures};
use tradechain_ledger::state::Ns;
use tradechain_ledger::{Block, CommitCertificate, Genesis, Hash, Org, PublicKey, SecretKey, SignedTransaction, codec};
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

/// State shared between the core task and the API servers.
pub struct NodeState {
    pub name: String,
    pub role: NodeRole,
    pub genesis: Genesis,
    pub store: Arc<Store>,
    pub mempool: Mutex<Mempool>,
    pub metrics: Metrics,
    /// Committed heights, as they commit.
    pub commits: broadcast::Sender<u64>,
    pub status: RwLock<Status>,
    outbound: Mutex<Vec<SignedTransaction>>,
    /// What this node acknowledged, on disk (`node::submit_journal`).
    pub journal: SubmitJournal,
}

impl NodeState {
    /// Admit a transaction to the mempool, journal it and queue it for gossip. The caller
    /// acknowledges it only after `durable()` resolves (a duplicate of a pending transaction is
    /// journaled too if it came by gossip, so that acknowledgement holds as well).
    pub fn submit(&self, tx: SignedTransaction) -> Result<Hash, MempoolError> {
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
    ) -> impl std::future::Future<Output = Result<(), crate::submit_journal::JournalError>> + use<> {
        self.journal.wait_durable(self.journal.last_seq())
    }

    pub fn is_pending(&self, id: &Hash) -> bool {
        self.mempool.lock().map(|m| m.contains(id)).unwrap_or(false)
    }
}

enum CoreEvent {
    Timeout(Timeout),
    StartHeight(u64),
    /// A consensus message decoded off the core task.
    Consensus(Box<ConsensusMsg>),
}

struct Core {
    shared: Arc<NodeState>,
    registry: Registry,
    engine: Option<Engine>,
    consensus_key: Option<SecretKey>,
    engine_height: u64,
    height_started: Instant,
    wal: Option<Wal>,
    net: NetHandle,
    events: mpsc::UnboundedSender<CoreEvent>,
    cache: HashMap<Hash, Checked>,
    peers: BTreeSet<libp2p::PeerId>,
    sync_cursor: usize,
    max_msg: usize,
    /// A proposal we hold back because the mempool is empty (see `build`).
    deferred_build: Option<(u64, u32)>,
    /// Equivocation evidence on disk (`node::evidence`).
    evidence: Option<EvidenceLog>,
    /// Peers whose block-sync request is being read right now (one each at a time).
    serving: Arc<Mutex<BTreeSet<libp2p::PeerId>>>,
    /// Time spent building or checking the block being decided (for the commit log line).
    exec_ms: u128,
    /// When to offer our pending transactions to peers again (a peer connected: it may have
    /// restarted with an empty mempool).
    reoffer_at: Option<Instant>,
}

/// How long after a peer connects we re-offer (its gossip subscription must be up first); more
/// connections within it share one re-offer.
const REOFFER_DELAY: Duration = Duration::from_secs(2);
/// At most this many pending transactions per re-offer (the ones a proposer can use first).
const REOFFER_MAX_TXS: usize = 5_000;

/// Node keys of all current members: the network's allow-list.
pub fn member_node_keys(store: &Store) -> BTreeSet<[u8; 32]> {
    let mut out = BTreeSet::new();
    if let Ok(rows) = store.scan(Ns::Org, &[Ns::Org as u8], usize::MAX) {
        for (_, v) in rows {
            if let Ok(org) = codec::decode::<Org>(&v) {
                out.extend(org.node_keys.iter().map(|k| k.0));
            }
        }
    }
    out
}

/// Node keys of the orgs in the validator set in force and the one scheduled: the only nodes
/// that author consensus gossip.
pub fn validator_node_keys(store: &Store) -> BTreeSet<[u8; 32]> {
    let mut orgs = BTreeSet::new();
    if let Ok(Some(bytes)) = store.state_get(&tradechain_ledger::state::keys::validators())
        && let Ok(set) = codec::decode::<tradechain_ledger::ValidatorSet>(&bytes)
    {
        orgs.extend(set.validators.into_iter().map(|v| v.org));
    }
    if let Ok(Some(bytes)) = store.state_get(&tradechain_ledger::state::keys::pending_validators())
        && let Ok(p) = codec::decode::<tradechain_ledger::records::PendingValidators>(&bytes)
    {
        orgs.extend(p.set.validators.into_iter().map(|v| v.org));
    }
    let mut out = BTreeSet::new();
    for id in orgs {
        if let Ok(Some(bytes)) = store.state_get(&tradechain_ledger::state::keys::org(&id))
            && let Ok(org) = codec::decode::<Org>(&bytes)
        {
            out.extend(org.node_keys.iter().map(|k| k.0));
        }
    }
    out
}

/// After a restart: put what the journal holds back in the mempool (what has committed since
/// is refused as stale and dropped) and queue it for gossip, so peers that lost it get it again.
fn readmit_journaled(shared: &NodeState, txs: Vec<SignedTransaction>) {
    if txs.is_empty() {
        return;
    }
    let read = txs.len();
    let checks = check_signatures(shared.store.as_ref(), &txs, &|_, _| false);
    let Ok(mut m) = shared.mempool.lock() else { return };
    let res = m.admit_checked(txs.clone(), checks, shared.store.as_ref());
    let mut back = Vec::new();
    for (tx, r) in txs.into_iter().zip(res) {
        if let Ok(id) | Err(MempoolError::Duplicate(id)) = r {
            m.mark_journaled(&id);
            back.push(tx);
        }
    }
    shared.metrics.mempool_txs.set(m.len() as i64);
    drop(m);
    tracing::info!(
        read,
        pending = back.len(),
        "submission journal: re-admitted what this node acknowledged and has not seen commit"
    );
    if let Ok(mut o) = shared.outbound.lock() {
        o.extend(back);
    }
}

/// Open the store, start networking, the API servers and the core task; run until `shutdown`.
pub async fn run(cfg: NodeConfig, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let gtext = std::fs::read_to_string(&cfg.node.genesis)
        .with_context(|| format!("node.genesis: cannot read {}", cfg.node.genesis.display()))?;
    let genesis = Genesis::from_json(&gtext).map_err(|e| anyhow::anyhow!("node.genesis: {e}"))?;
    let problems = genesis.validate();
    if !problems.is_empty() {
        anyhow::bail!(
            "node.genesis: {} is invalid: {}",
            cfg.node.genesis.display(),
            problems.join("; ")
        );
    }
    std::fs::create_dir_all(&cfg.node.data_dir)
        .with_context(|| format!("node.data_dir: cannot create {}", cfg.node.data_dir.display()))?;
    let store = Arc::new(Store::open(&cfg.node.data_dir.join("db")).context("opening the store")?);
    store
        .init_genesis(&genesis)
        .context("initialising the store from genesis")?;
    let node_key = SecretKey::read_file(&cfg.node.node_key).map_err(|e| anyhow::anyhow!("node.node_key: {e}"))?;
    let consensus_key = match (&cfg.node.role, &cfg.node.consensus_key) {
        (NodeRole::Validator, Some(p)) => {
            Some(SecretKey::read_file(p).map_err(|e| anyhow::anyhow!("node.consensus_key: {e}"))?)
        }
        _ => None,
    };
    let head = store.head()?;
    tracing::info!(name = %cfg.node.name, role = ?cfg.node.role, chain = %genesis.chain_id, height = head.height, "starting");

    let (net, mut net_rx) = network::spawn(NetConfig {
        node_key_seed: node_key.seed(),
        listen: cfg.p2p.listen.iter().filter_map(|a| a.parse().ok()).collect(),
        bootstrap: cfg.p2p.bootstrap.iter().filter_map(|a| a.parse().ok()).collect(),
        allowed: member_node_keys(&store),
        chain_id: genesis.chain_id.clone(),
        max_message_bytes: cfg.p2p.max_message_bytes,
    })
    .await
    .map_err(|e| anyhow::anyhow!("p2p: {e}"))?;
    net.send(NetCommand::SetConsensusAuthors(validator_node_keys(&store)));

    let mempool = Mempool::new(
        &genesis.chain_id,
        genesis.limits.max_tx_bytes as usize,
        MempoolLimits {
            max_txs: cfg.mempool.max_txs,
            max_bytes: cfg.mempool.max_bytes,
            ..Default::default()
        },
    );
    let (journal, journaled) = SubmitJournal::open(&cfg.node.data_dir.join("submissions.journal"))
        .context("opening the submission journal")?;
    let metrics = Metrics::new();
    metrics.height.set(head.height as i64);
    let (commits, _) = broadcast::channel(1024);
    let shared = Arc::new(NodeState {
        name: cfg.node.name.clone(),
        role: cfg.node.role,
        genesis: genesis.clone(),
        store: store.clone(),
        mempool: Mutex::new(mempool),
        metrics,
        commits,
        status: RwLock::new(Status {
            local_peer_id: net.local_peer_id().to_string(),
            ..Default::default()
        }),
        outbound: Mutex::new(Vec::new()),
        journal,
    });
    readmit_journaled(&shared, journaled);

    crate::api::spawn_servers(&cfg, shared.clone()).await?;

    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let wal = match consensus_key {
        Some(_) => Some(Wal::open(&cfg.node.data_dir.join("consensus.wal")).context("opening the consensus WAL")?),
        None => None,
    };
    let evidence = EvidenceLog::open(&cfg.node.data_dir.join("evidence.log")).context("opening the evidence log")?;
    shared.metrics.equivocation_evidence.set(evidence.pairs() as i64);
    if let Ok(mut s) = shared.status.write() {
        s.equivocation_evidence = evidence.pairs();
    }
    let engine = consensus_key.as_ref().map(|k| {
        Engine::new(EngineConfig {
            chain_id: genesis.chain_id.clone(),
            secret_key: Some(k.clone()),
            params: genesis.consensus.clone(),
        })
    });
    let mut core = Core {
        shared: shared.clone(),
        registry: Registry::default(),
        engine,
        consensus_key,
        engine_height: 0,
        height_started: Instant::now(),
        wal,
        net,
        events: ev_tx,
        cache: HashMap::new(),
        peers: BTreeSet::new(),
        sync_cursor: 0,
        max_msg: cfg.p2p.max_message_bytes,
        deferred_build: None,
        serving: Arc::new(Mutex::new(BTreeSet::new())),
        evidence: Some(evidence),
        exec_ms: 0,
        reoffer_at: None,
    };
    core.restore_wal(cfg.node.discard_unreadable_wal)?;
    core.start_height(head.height + 1);

    let mut gossip_tick = tokio::time::interval(Duration::from_millis(10));
    let mut sync_tick = tokio::time::interval(Duration::from_millis(if core.engine.is_some() { 1000 } else { 250 }));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            ev = net_rx.recv() => match ev {
                Some(ev) => core.on_net(ev),
                None => anyhow::bail!("p2p: the network task stopped"),
            },
            Some(ev) = ev_rx.recv() => match ev {
                CoreEvent::Timeout(t) => core.feed(Input::TimeoutElapsed(t)),
                CoreEvent::StartHeight(h) => core.start_height(h),
                CoreEvent::Consensus(msg) => core.feed(Input::Message(*msg)),
            },
            _ = gossip_tick.tick() => {
                core.flush_gossip();
                core.retry_deferred_build();
            }
            _ = sync_tick.tick() => core.request_sync(),
        }
    }
    tracing::info!("shutting down");
    Ok(())
}

impl Core {
    fn head_height(&self) -> u64 {
        self.shared.store.head().map(|h| h.height).unwrap_or(0)
    }

    /// Replay the consensus WAL into the engine. A WAL that cannot be read or holds a record
    /// that does not decode is refused: starting empty would forget what this validator signed
    /// at the current height, and it could sign a conflicting vote. `discard` (an operator's
    /// decision, `node.discard_unreadable_wal`) starts empty anyway, loudly.
    fn restore_wal(&mut self, discard: bool) -> anyhow::Result<()> {
        let (Some(wal), Some(engine)) = (self.wal.as_ref(), self.engine.as_mut()) else {
            return Ok(());
        };
        let decoded: Result<Vec<WalEntry>, String> = match wal.replay() {
            Ok(recs) => recs
                .iter()
                .enumerate()
                .map(|(i, r)| codec::decode::<WalEntry>(r).map_err(|e| format!("record {i} does not decode: {e}")))
                .collect(),
            Err(e) => Err(e.to_string()),
        };
        let entries = match decoded {
            Ok(entries) => entries,
            Err(e) if discard => {
                tracing::error!("consensus WAL unreadable ({e}); discarding it as configured (discard_unreadable_wal)");
                Vec::new()
            }
            Err(e) => anyhow::bail!(
                "the consensus WAL is unreadable ({e}); refusing to start as a validator, which could then \
                 double-sign at the current height. If a person has decided it is safe (e.g. this validator \
                 did not sign at that height), restart with --discard-unreadable-wal"
            ),
        };
        if !entries.is_empty() {
            tracing::info!(entries = entries.len(), "restoring consensus WAL");
            let outs = engine.handle(Input::RestoreWal(entries));
            self.process(outs);
        }
        Ok(())
    }

    /// Persist evidence, then show it (metric and `GetStatus`).
    fn keep_evidence(&mut self, record: EvidenceRecord) {
        let Some(log) = self.evidence.as_mut() else { return };
        if let Err(e) = log.record(&record) {
            tracing::error!("cannot persist equivocation evidence: {e}");
            return;
        }
        let pairs = log.pairs();
        self.shared.metrics.equivocation_evidence.set(pairs as i64);
        if let Ok(mut s) = self.shared.status.write() {
            s.equivocation_evidence = pairs;
        }
    }

    fn start_height(&mut self, height: u64) {
        let next = self.head_height() + 1;
        if height != next || self.engine_height >= next {
            return;
        }
        let Ok(validators) = self.shared.store.validator_set_at(next) else {
            tracing::error!(height = next, "no validator set for height");
            return;
        };
        let am_validator = self
            .consensus_key
            .as_ref()
            .is_some_and(|k| validators.get(&k.public()).is_some());
        if self.engine.is_none() {
            return;
        }
        if !am_validator {
            tracing::debug!(height = next, "not in the validator set at this height");
        }
        self.engine_height = next;
        self.height_started = Instant::now();
        self.feed(Input::StartHeight {
            height: next,
            validators,
        });
    }

    fn feed(&mut self, input: Input) {
        let Some(engine) = self.engine.as_mut() else { return };
        let outs = engine.handle(input);
        self.process(outs);
    }

    /// Act on outputs in order; outputs that need an answer queue inputs back to the engine.
    fn process(&mut self, outs: Vec<Output>) {
        let mut queue: VecDeque<Output> = outs.into();
        while let Some(out) = queue.pop_front() {
            let reply = match out {
                Output::Broadcast(msg) => {
                    self.net.send(NetCommand::Publish {
                        topic: Topic::Consensus,
                        data: codec::encode(&msg),
                    });
                    None
                }
                Output::ScheduleTimeout { timeout, after_ms } => {
                    let tx = self.events.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(after_ms)).await;
                        let _ = tx.send(CoreEvent::Timeout(timeout));
                    });
                    None
                }
                Output::BuildBlock { height, round } => self.build(height, round),
                Output::ValidateBlock { height, round, block } => {
                    let block_hash = block.hash();
                    let valid = self.validate(&block, true);
                    Some(Input::BlockValidity {
                        height,
                        round,
                        block_hash,
                        valid,
                    })
                }
                Output::PersistWal(entry) => {
                    if let Some(wal) = self.wal.as_mut()
                        && let Err(e) = wal.append(&codec::encode(&entry))
                    {
                        // Without a durable WAL we must not vote: stop acting on this batch.
                        tracing::error!("consensus WAL append failed, dropping outputs: {e}");
                        return;
                    }
                    None
                }
                Output::RoundStarted { round, .. } => {
                    self.shared.metrics.round.set(i64::from(round));
                    if let Ok(mut s) = self.shared.status.write() {
                        s.round = round;
                    }
                    None
                }
                Output::Equivocation { height, pairs } => {
                    tracing::warn!(
                        height,
                        pairs = pairs.len(),
                        "equivocation evidence: conflicting signed votes"
                    );
                    self.keep_evidence(EvidenceRecord { height, pairs });
                    None
                }
                Output::Decided { block, certificate } => {
                    self.commit(block, certificate);
                    None
                }
            };
            if let (Some(input), Some(engine)) = (reply, self.engine.as_mut()) {
                queue.extend(engine.handle(input));
            }
        }
    }

    /// How long a proposer waits for transactions before proposing an empty block: half the
    /// propose timeout, so the other validators never time out on a waiting proposer. An idle
    /// chain then grows by ~2 empty blocks a second instead of one per `block_interval_ms`,
    /// while a transaction that arrives is proposed within a gossip tick (10 ms).
    fn empty_block_wait(&self) -> Duration {
        let c = &self.shared.genesis.consensus;
        Duration::from_millis((c.timeout_propose_ms / 2).max(c.block_interval_ms))
    }

    /// Propose a held-back block once transactions arrive or the empty-block wait is over.
    fn retry_deferred_build(&mut self) {
        let Some((height, round)) = self.deferred_build else {
            return;
        };
        if height != self.engine_height {
            self.deferred_build = None;
            return;
        }
        let has_txs = self.shared.mempool.lock().map(|m| !m.is_empty()).unwrap_or(true);
        if has_txs || self.height_started.elapsed() >= self.empty_block_wait() {
            self.deferred_build = None;
            if let Some(input) = self.build_now(height, round) {
                self.feed(input);
            }
        }
    }

    /// Signatures our mempool verified need not be verified again by block execution.
    fn mempool_vouches(&self) -> impl Fn(&SignedTransaction, &PublicKey) -> bool + use<> {
        let shared = self.shared.clone();
        move |t: &SignedTransaction, k: &PublicKey| shared.mempool.lock().is_ok_and(|m| m.verified(t, k))
    }

    fn build(&mut self, height: u64, round: u32) -> Option<Input> {
        let idle = round == 0
            && self.height_started.elapsed() < self.empty_block_wait()
            && self.shared.mempool.lock().map(|m| m.is_empty()).unwrap_or(false);
        if idle {
            self.deferred_build = Some((height, round));
            return None;
        }
        self.build_now(height, round)
    }

    fn build_now(&mut self, height: u64, round: u32) -> Option<Input> {
        if height != self.head_height() + 1 {
            return None;
        }
        let key = self.consensus_key.as_ref()?.public();
        let p = &self.shared.genesis.consensus;
        let txs = match self.shared.mempool.lock() {
            Ok(m) => m.select(
                p.max_block_txs as usize,
                tradechain_ledger::block_check::tx_bytes_budget(p) as usize,
                self.shared.store.as_ref(),
            ),
            Err(_) => Vec::new(),
        };
        let pre = self.mempool_vouches();
        let started = Instant::now();
        let built = build_block(
            &self.shared.store,
            &self.shared.genesis,
            &self.registry,
            key,
            now_ms(),
            txs,
            &pre,
        );
        self.exec_ms = started.elapsed().as_millis();
        match built {
            Ok(built) => {
                let block = built.block;
                self.cache.insert(block.hash(), built.checked);
                Some(Input::ProposedBlock { height, round, block })
            }
            Err(e) => {
                tracing::error!(height, round, "cannot build a block: {e}");
                None
            }
        }
    }

    fn validate(&mut self, block: &Block, check_clock: bool) -> bool {
        let hash = block.hash();
        if self.cache.contains_key(&hash) {
            return true;
        }
        let now = if check_clock {
            now_ms()
        } else {
            i64::MAX - chain_drift()
        };
        let pre = self.mempool_vouches();
        let started = Instant::now();
        let checked = check_block(
            &self.shared.store,
            &self.shared.genesis,
            &self.registry,
            now,
            block,
            &pre,
        );
        self.exec_ms = started.elapsed().as_millis();
        match checked {
            Ok(exec) => {
                self.cache.insert(hash, exec);
                true
            }
            Err(e) => {
                tracing::warn!(height = block.header.height, "rejecting proposed block: {e}");
                false
            }
        }
    }

    fn commit(&mut self, block: Block, cert: CommitCertificate) -> bool {
        let height = block.header.height;
        if height != self.head_height() + 1 {
            return false;
        }
        let hash = block.hash();
        if !self.cache.contains_key(&hash) && !self.validate(&block, false) {
            tracing::error!(height, "decided block does not re-execute; not committing");
            return false;
        }
        let Some(Checked { exec, tree }) = self.cache.remove(&hash) else {
            return false;
        };
        let store_started = Instant::now();
        if let Err(e) = self.shared.store.commit_block_with_tree(&block, &cert, &exec, &tree) {
            tracing::error!(height, "commit failed: {e}");
            return false;
        }
        self.cache.clear();
        if let Some(wal) = self.wal.as_mut()
            && let Err(e) = wal.truncate()
        {
            tracing::error!("consensus WAL truncate failed: {e}");
        }
        // Membership follows governance: a committed change to any org (admitted, removed, keys
        // rotated) recomputes who may connect, and the gate drops whoever may no longer.
        if exec.writes.keys().any(|k| k.first() == Some(&(Ns::Org as u8))) {
            let allowed = member_node_keys(&self.shared.store);
            tracing::info!(
                node_keys = allowed.len(),
                "membership changed: updating the p2p allow-list"
            );
            self.net.send(NetCommand::SetAllowed(allowed));
        }
        // Who may author consensus gossip follows the validator set (in force and scheduled) and
        // its orgs' node keys.
        if exec
            .writes
            .keys()
            .any(|k| matches!(k.first(), Some(b) if *b == Ns::Org as u8 || *b == Ns::Meta as u8))
        {
            self.net
                .send(NetCommand::SetConsensusAuthors(validator_node_keys(&self.shared.store)));
        }
        let m = &self.shared.metrics;
        m.height.set(height as i64);
        m.commit_latency.observe(self.height_started.elapsed().as_secs_f64());
        for o in &exec.outcomes {
            match o {
                tradechain_ledger::TxOutcome::Accepted => m.txs_committed.inc(),
                tradechain_ledger::TxOutcome::Rejected { rule, .. } => m
                    .txs_rejected
                    .get_or_create(&crate::metrics::RuleLabel { rule: rule.clone() })
                    .inc(),
            };
        }
        if let Ok(mut mp) = self.shared.mempool.lock() {
            mp.evict_committed(&block.txs, self.shared.store.as_ref());
            mp.set_now(now_ms());
            let expired = mp.expire_stalled(self.shared.store.as_ref());
            if expired > 0 {
                tracing::warn!(expired, "expired transactions stalled behind a missing nonce");
            }
            m.mempool_txs.set(mp.len() as i64);
            // Under the mempool lock, so no submission's append crosses the snapshot.
            let (live, journal_bytes) = (mp.bytes(), self.shared.journal.file_bytes());
            if self.shared.journal.bound(live, || mp.snapshot_for_journal()) {
                tracing::info!(journal_bytes, "compacting the submission journal");
            }
        }
        if block.txs.is_empty() {
            tracing::debug!(height, hash = %hash, "committed an empty block");
        } else {
            tracing::info!(
                height,
                txs = block.txs.len(),
                exec_ms = self.exec_ms,
                commit_ms = store_started.elapsed().as_millis(),
                height_ms = self.height_started.elapsed().as_millis(),
                hash = %hash,
                "committed"
            );
        }
        let _ = self.shared.commits.send(height);
        let delay = self.shared.genesis.consensus.block_interval_ms;
        let tx = self.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let _ = tx.send(CoreEvent::StartHeight(height + 1));
        });
        true
    }

    fn on_net(&mut self, ev: NetEvent) {
        match ev {
            NetEvent::Gossip {
                from,
                topic: Topic::Consensus,
                data,
            } => {
                // Decoded off the core task (a proposal carries a whole block); the engine gets it
                // back as an event.
                let (events, net, max) = (self.events.clone(), self.net.clone(), self.max_msg);
                tokio::task::spawn_blocking(move || match peer_messages::decode::<ConsensusMsg>(&data, max) {
                    Ok(msg) => {
                        let _ = events.send(CoreEvent::Consensus(Box::new(msg)));
                    }
                    Err(e) => net.send(NetCommand::Penalize {
                        peer: from,
                        reason: format!("bad consensus message: {e}"),
                    }),
                });
            }
            NetEvent::Gossip {
                from,
                topic: Topic::Txs,
                data,
            } => {
                // Off the core task: decoding and batch verification of a big gossip batch must not
                // hold up consensus messages (nor, under the mempool lock, submissions and block checks).
                let (shared, net, max) = (self.shared.clone(), self.net.clone(), self.max_msg);
                tokio::task::spawn_blocking(move || {
                    let txs = match peer_messages::decode::<TxGossip>(&data, max) {
                        Ok(TxGossip::Batch(txs)) => txs,
                        Err(e) => {
                            net.send(NetCommand::Penalize {
                                peer: from,
                                reason: format!("bad tx gossip: {e}"),
                            });
                            return;
                        }
                    };
                    // Skip what we already hold (our own transactions relayed back, repeats).
                    let txs: Vec<SignedTransaction> = match shared.mempool.lock() {
                        Ok(m) => txs.into_iter().filter(|t| !m.contains(&t.id())).collect(),
                        Err(_) => return,
                    };
                    let checks = check_signatures(shared.store.as_ref(), &txs, &|_, _| false);
                    let mut offence = None;
                    if let Ok(mut m) = shared.mempool.lock() {
                        let res = m.admit_checked(txs, checks, shared.store.as_ref());
                        // A relay that passes on what no member signed wastes every node's work.
                        offence = res.iter().find_map(|r| match r {
                            Err(MempoolError::BadSignature { .. }) => Some("gossiped a bad signature"),
                            Err(MempoolError::UnknownSender(_)) => Some("gossiped a transaction from a non-member"),
                            Err(MempoolError::UnknownKey { .. }) => Some("gossiped a transaction under an unknown key"),
                            _ => None,
                        });
                        shared.metrics.mempool_txs.set(m.len() as i64);
                    }
                    if let Some(reason) = offence {
                        net.send(NetCommand::Penalize {
                            peer: from,
                            reason: reason.into(),
                        });
                    }
                });
            }
            NetEvent::Request { from, request_id, data } => {
                match peer_messages::decode::<SyncRequest>(&data, self.max_msg) {
                    Ok(SyncRequest::Blocks { from: start, max }) => self.serve_blocks(from, request_id, start, max),
                    Err(e) => self.net.send(NetCommand::Penalize {
                        peer: from,
                        reason: format!("bad sync request: {e}"),
                    }),
                }
            }
            NetEvent::Response { from, data } => match peer_messages::decode::<SyncResponse>(&data, self.max_msg) {
                Ok(SyncResponse::Blocks { head, blocks }) => self.apply_synced(from, head, blocks),
                Err(e) => self.net.send(NetCommand::Penalize {
                    peer: from,
                    reason: format!("bad sync response: {e}"),
                }),
            },
            NetEvent::RequestFailed { peer, error } => tracing::debug!(%peer, "sync request failed: {error}"),
            NetEvent::PeerConnected(p) => {
                self.peers.insert(p);
                self.update_peers();
                self.reoffer_at.get_or_insert_with(|| Instant::now() + REOFFER_DELAY);
            }
            NetEvent::PeerDisconnected(p) => {
                self.peers.remove(&p);
                self.update_peers();
            }
        }
    }

    fn update_peers(&self) {
        self.shared.metrics.peers.set(self.peers.len() as i64);
        if let Ok(mut s) = self.shared.status.write() {
            s.peers = self.peers.iter().map(|p| p.to_string()).collect();
        }
    }

    /// Offer our pending transactions to every peer again, once `reoffer_at` is due.
    fn reoffer(&mut self) {
        if self.reoffer_at.is_none_or(|at| Instant::now() < at) {
            return;
        }
        self.reoffer_at = None;
        let txs = match self.shared.mempool.lock() {
            Ok(m) => m.select(REOFFER_MAX_TXS, usize::MAX, self.shared.store.as_ref()),
            Err(_) => return,
        };
        if txs.is_empty() {
            return;
        }
        tracing::debug!(txs = txs.len(), "re-offering pending transactions to peers");
        if let Ok(mut o) = self.shared.outbound.lock() {
            o.extend(txs);
        }
    }

    fn flush_gossip(&mut self) {
        self.reoffer();
        let batch = match self.shared.outbound.lock() {
            Ok(mut o) if !o.is_empty() => std::mem::take(&mut *o),
            _ => return,
        };
        // Keep each gossip message well under the size limit.
        let mut chunk = Vec::new();
        let mut bytes = 0usize;
        for tx in batch {
            let n = codec::encode(&tx).len();
            if bytes + n > self.max_msg / 2 && !chunk.is_empty() {
                let data = codec::encode(&TxGossip::Batch(std::mem::take(&mut chunk)));
                self.net.send(NetCommand::Publish {
                    topic: Topic::Txs,
                    data,
                });
                bytes = 0;
            }
            bytes += n;
            chunk.push(tx);
        }
        if !chunk.is_empty() {
            self.net.send(NetCommand::Publish {
                topic: Topic::Txs,
                data: codec::encode(&TxGossip::Batch(chunk)),
            });
        }
    }

    fn request_sync(&mut self) {
        if self.peers.is_empty() {
            return;
        }
        self.sync_cursor = (self.sync_cursor + 1) % self.peers.len();
        if let Some(peer) = self.peers.iter().nth(self.sync_cursor) {
            let data = codec::encode(&SyncRequest::Blocks {
                from: self.head_height() + 1,
                max: MAX_SYNC_BLOCKS,
            });
            self.net.send(NetCommand::SendRequest { peer: *peer, data });
        }
    }

    /// Answer a block-sync request off the core task: reading and encoding blocks never holds
    /// up consensus. At most one request per peer is served at a time (a request arriving while
    /// that peer's previous one is still being read gets an empty answer), each answer is at most
    /// half a message, and requests have their own per-peer rate budget in the network layer.
    fn serve_blocks(&self, peer: libp2p::PeerId, request_id: u64, from: u64, max: u32) {
        let head = self.head_height();
        let busy = match self.serving.lock() {
            Ok(mut s) => !s.insert(peer),
            Err(_) => true,
        };
        if busy {
            self.net.send(NetCommand::Respond {
                request_id,
                data: codec::encode(&SyncResponse::Blocks {
                    head,
                    blocks: Vec::new(),
                }),
            });
            return;
        }
        let (shared, net, serving, max_msg) = (
            self.shared.clone(),
            self.net.clone(),
            self.serving.clone(),
            self.max_msg,
        );
        tokio::task::spawn_blocking(move || {
            let resp = read_blocks(&shared.store, head, from, max, max_msg / 2);
            net.send(NetCommand::Respond {
                request_id,
                data: codec::encode(&resp),
            });
            if let Ok(mut s) = serving.lock() {
                s.remove(&peer);
            }
        });
    }

    fn apply_synced(&mut self, from: libp2p::PeerId, peer_head: u64, blocks: Vec<(Block, CommitCertificate)>) {
        let mut applied = 0;
        for (block, cert) in blocks {
            let h = block.header.height;
            let head = self.head_height();
            if h <= head {
                continue;
            }
            if h != head + 1 {
                break;
            }
            let vs = match self.shared.store.validator_set_at(h) {
                Ok(vs) => vs,
                Err(_) => break,
            };
            if let Err(e) = cert.verify(&self.shared.genesis.chain_id, h, &block.hash(), &vs) {
                self.net.send(NetCommand::Penalize {
                    peer: from,
                    reason: format!("sync: bad certificate at {h}: {e}"),
                });
                break;
            }
            if !self.commit(block, cert) {
                break;
            }
            applied += 1;
        }
        let syncing = peer_head > self.head_height().saturating_add(SYNC_LAG_BLOCKS);
        self.shared.metrics.syncing.set(i64::from(syncing));
        if let Ok(mut s) = self.shared.status.write() {
            s.syncing = syncing;
            s.sync_target = peer_head;
        }
        if applied > 0 {
            tracing::debug!(applied, head = self.head_height(), "synced blocks");
            if self.head_height() < peer_head {
                self.request_sync();
            }
        }
    }
}

/// Up to `max` committed blocks from `from`, stopping before `budget` bytes (at least one).
fn read_blocks(store: &Store, head: u64, from: u64, max: u32, budget: usize) -> SyncResponse {
    let mut blocks = Vec::new();
    let mut bytes = 0usize;
    let mut h = from.max(1);
    while h <= head && blocks.len() < max.min(MAX_SYNC_BLOCKS) as usize {
        let (Ok(Some(b)), Ok(Some(c))) = (store.block(h), store.certificate(h)) else {
            break;
        };
        bytes += tradechain_ledger::block_check::encoded_len(&b) as usize;
        if bytes > budget && !blocks.is_empty() {
            break;
        }
        blocks.push((b, c));
        h += 1;
    }
    SyncResponse::Blocks { head, blocks }
}

/// Sync and decided blocks carry a certificate: their time is checked against the parent only.
const fn chain_drift() -> i64 {
    crate::blocks::MAX_FUTURE_DRIFT_MS
}
