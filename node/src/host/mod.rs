//! The sans-IO host: one deterministic state machine that drives the consensus engine and owns
//! proposal building and checking, execution, commit, the consensus WAL, equivocation evidence,
//! block sync and the mempool interplay (gossip flush, re-offer, eviction, journal bound).
//!
//! It does no I/O of its own: inputs come in through [`Host::handle`] (decoded consensus
//! messages, timers, ticks, sync responses, peer changes), and everything it does to the world
//! goes through its ports (`ports`): the store ([`ChainStore`]), the WAL ([`ConsensusWal`]), and
//! the clock, timers and network outbox ([`HostIo`]). Production wires RocksDB, the WAL file,
//! tokio timers and libp2p (`node::runtime`); the simulator (`node/tests/host_sim`) wires
//! in-memory, fault-injecting implementations of the same ports and runs this same code.
//!
//! Invariants (asserted where they are established):
//! - The store is written only here, and only with blocks that carry a certificate verified
//!   against the validator set in force (`Decided` from our engine, or sync after
//!   `CommitCertificate::verify`), and only after the block re-executed here to the header's
//!   results and state hashes (`blocks::check_block`). After a commit the store's head is that
//!   block (asserted).
//! - Every `PersistWal` output is durable before any later output of the same batch is acted
//!   on; a failed append drops the rest of the batch, so our vote never leaves the node before
//!   its WAL record does.
//! - A failed WAL append or store commit stops the host (`fatal`): the runtime exits and the node
//!   restarts from what is durable, as databases do on a failed fsync.
//! - The WAL is truncated only after the height it covers is committed.
//! - The engine runs at most one height ahead of the store: `engine_height <= head + 1`.
//! - A proposal is built only for the head's child (asserted on the built block).
//! - One sync request is outstanding at a time: the tick asks again only once it is answered or
//!   `SYNC_REQUEST_TIMEOUT_MS` old; an answer that extends the head makes the next request, to the
//!   same peer, before it is applied (`apply_synced`), so the next answer is fetched, decoded and
//!   verified (`sync_vouches`) while this one executes.
pub mod ports;
pub mod sync_vouches;

use crate::blocks::{Checked, build_block, check_block};
use crate::cpu::Stage;
use crate::evidence::{EvidenceLog, EvidenceRecord};
use crate::network::{NetCommand, Topic};
use crate::node_state::{NodeState, SYNC_LAG_BLOCKS};
use crate::peer_messages::{MAX_SYNC_BLOCKS, SyncRequest, TxGossip};
use libp2p::PeerId;
use ports::{ChainStore, ConsensusWal, HostIo, HostTimer, member_node_keys, validator_node_keys};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use sync_vouches::SyncVouches;
use tradechain_consensus::{ConsensusMsg, Engine, Input, Output, WalEntry};
use tradechain_ledger::execute::Registry;
use tradechain_ledger::state::Ns;
use tradechain_ledger::{Block, CommitCertificate, Hash, PublicKey, SecretKey, SignedTransaction, codec};

/// What the host reacts to.
#[derive(Debug)]
pub enum HostInput {
    /// A consensus message a peer gossiped (decoded, size-checked).
    Consensus(Box<ConsensusMsg>),
    /// A timer the host scheduled through `HostIo::schedule`.
    Timer(HostTimer),
    /// The gossip tick (every ~10 ms): flush queued transactions, re-offer, retry a held-back
    /// proposal.
    GossipTick,
    /// The sync tick: ask the next peer for blocks after our head.
    SyncTick,
    /// A peer's answer to our sync request, with what of it verified here already
    /// (`sync_vouches`).
    SyncBlocks {
        from: PeerId,
        head: u64,
        blocks: Vec<(Block, CommitCertificate)>,
        vouched: SyncVouches,
    },
    PeerConnected(PeerId),
    PeerDisconnected(PeerId),
}

/// How long after a peer connects we re-offer (its gossip subscription must be up first); more
/// connections within it share one re-offer.
pub const REOFFER_DELAY_MS: i64 = 2_000;
/// At most this many pending transactions per re-offer (the ones a proposer can use first).
const REOFFER_MAX_TXS: usize = 5_000;
/// Every this often, pending transactions older than `STALE_PENDING_MS` are gossiped again:
/// gossip is not retransmitted, so a batch lost to a partition that healed without a reconnect,
/// or to a peer's full queue, would otherwise stay on this node alone — for good, if this node
/// never proposes (the simulator found an observer-held transaction stuck that way).
pub const STALE_REOFFER_EVERY_MS: i64 = 5_000;
pub const STALE_PENDING_MS: i64 = 5_000;
/// Blocks checked but not yet decided, kept for commit; cleared at every commit.
const MAX_CHECKED_BLOCKS: usize = 64;
/// A sync request unanswered for this long is given up: the sync tick may ask again (until
/// then it does not, so one answer is never fetched twice).
pub const SYNC_REQUEST_TIMEOUT_MS: i64 = 3_000;

pub struct Host<S: ChainStore, W: ConsensusWal> {
    shared: Arc<NodeState<S>>,
    registry: Registry,
    engine: Option<Engine>,
    consensus_key: Option<SecretKey>,
    engine_height: u64,
    height_started_ms: i64,
    wal: Option<W>,
    cache: HashMap<Hash, Checked>,
    peers: BTreeSet<PeerId>,
    sync_cursor: usize,
    /// When our outstanding sync request was sent (one at a time; see `request_sync`).
    sync_requested_at: Option<i64>,
    /// What verified of the sync response being applied (empty otherwise).
    sync_vouched: SyncVouches,
    max_msg: usize,
    /// A proposal we hold back because the mempool is empty (see `build`).
    deferred_build: Option<(u64, u32)>,
    /// Equivocation evidence on disk (`node::evidence`); the simulator runs without.
    evidence: Option<EvidenceLog>,
    /// Time spent building or checking the block being decided (for the commit log line).
    exec_ms: i64,
    /// When to offer our pending transactions to peers again (a peer connected: it may have
    /// restarted with an empty mempool).
    reoffer_at: Option<i64>,
    /// When to gossip stale pending transactions again (`STALE_REOFFER_EVERY_MS`).
    stale_reoffer_at: i64,
    /// Set when the store failed to commit or the WAL to append: what is durable is then unknown
    /// (a failed fsync may or may not have written), so the host stops and the process exits to
    /// restart from what the store and the WAL hold (`fatal`).
    fatal: Option<String>,
    /// Deliberately broken variant for the simulator only: vote for proposals without
    /// re-executing them (`break_skip_reexecution`).
    skip_reexecution: bool,
}

impl<S: ChainStore, W: ConsensusWal> Host<S, W> {
    /// A host over `shared`; a validator has an engine, a consensus key and a WAL.
    pub fn new(
        shared: Arc<NodeState<S>>,
        engine: Option<Engine>,
        consensus_key: Option<SecretKey>,
        wal: Option<W>,
        evidence: Option<EvidenceLog>,
        max_msg: usize,
    ) -> Host<S, W> {
        if let Some(e) = evidence.as_ref() {
            shared.metrics.equivocation_evidence.set(e.pairs() as i64);
            if let Ok(mut s) = shared.status.write() {
                s.equivocation_evidence = e.pairs();
            }
        }
        Host {
            shared,
            registry: Registry::default(),
            engine,
            consensus_key,
            engine_height: 0,
            height_started_ms: 0,
            wal,
            cache: HashMap::new(),
            peers: BTreeSet::new(),
            sync_cursor: 0,
            sync_requested_at: None,
            sync_vouched: SyncVouches::default(),
            max_msg,
            deferred_build: None,
            evidence,
            exec_ms: 0,
            reoffer_at: None,
            stale_reoffer_at: 0,
            fatal: None,
            skip_reexecution: false,
        }
    }

    /// Why the host stopped, if it did: the runtime exits, the simulator crashes the node.
    pub fn fatal(&self) -> Option<&str> {
        self.fatal.as_deref()
    }

    /// A deliberately broken host for the simulator's self-test: it votes for any proposal
    /// without re-executing it. Test builds only (`testkit`): the shipped binary cannot break.
    #[cfg(feature = "testkit")]
    #[doc(hidden)]
    pub fn break_skip_reexecution(&mut self) {
        self.skip_reexecution = true;
    }

    pub fn shared(&self) -> &Arc<NodeState<S>> {
        &self.shared
    }

    /// Restore the WAL into the engine and start the height after the head. A WAL that cannot
    /// be read or holds a record that does not decode is refused: starting empty would forget
    /// what this validator signed at the current height, and it could sign a conflicting vote.
    /// `discard_unreadable_wal` (an operator's decision) starts empty anyway, loudly.
    pub fn start(&mut self, io: &mut impl HostIo, discard_unreadable_wal: bool) -> anyhow::Result<()> {
        self.restore_wal(io, discard_unreadable_wal)?;
        let head = self.head_height();
        self.start_height(io, head + 1);
        Ok(())
    }

    /// React to one input. Never panics on what peers send.
    pub fn handle(&mut self, io: &mut impl HostIo, input: HostInput) {
        if self.fatal.is_some() {
            return;
        }
        match input {
            HostInput::Consensus(msg) => self.feed(io, Input::Message(*msg)),
            HostInput::Timer(HostTimer::Consensus(t)) => self.feed(io, Input::TimeoutElapsed(t)),
            HostInput::Timer(HostTimer::StartHeight(h)) => self.start_height(io, h),
            HostInput::GossipTick => {
                self.flush_gossip(io);
                self.retry_deferred_build(io);
            }
            HostInput::SyncTick => self.sync_tick(io),
            HostInput::SyncBlocks {
                from,
                head,
                blocks,
                vouched,
            } => self.apply_synced(io, from, head, blocks, vouched),
            HostInput::PeerConnected(p) => {
                self.peers.insert(p);
                self.update_peers();
                let at = io.now_ms().saturating_add(REOFFER_DELAY_MS);
                self.reoffer_at.get_or_insert(at);
            }
            HostInput::PeerDisconnected(p) => {
                self.peers.remove(&p);
                self.update_peers();
            }
        }
        debug_assert!(
            self.engine_height <= self.head_height() + 1,
            "the engine runs at most one height ahead of the store"
        );
    }

    fn head_height(&self) -> u64 {
        self.shared.store.head().map(|h| h.height).unwrap_or(0)
    }

    fn restore_wal(&mut self, io: &mut impl HostIo, discard: bool) -> anyhow::Result<()> {
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
            self.process(io, outs);
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

    fn start_height(&mut self, io: &mut impl HostIo, height: u64) {
        let next = self.head_height() + 1;
        if height != next || self.engine_height >= next || self.engine.is_none() {
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
        if !am_validator {
            tracing::debug!(height = next, "not in the validator set at this height");
        }
        self.engine_height = next;
        self.height_started_ms = io.now_ms();
        self.feed(
            io,
            Input::StartHeight {
                height: next,
                validators,
            },
        );
    }

    fn feed(&mut self, io: &mut impl HostIo, input: Input) {
        let Some(engine) = self.engine.as_mut() else { return };
        let outs = engine.handle(input);
        self.process(io, outs);
    }

    /// Act on outputs in order; outputs that need an answer queue inputs back to the engine.
    fn process(&mut self, io: &mut impl HostIo, outs: Vec<Output>) {
        let mut queue: VecDeque<Output> = outs.into();
        while let Some(out) = queue.pop_front() {
            let reply = match out {
                Output::Broadcast(msg) => {
                    io.send(NetCommand::Publish {
                        topic: Topic::Consensus,
                        data: codec::encode(&msg),
                    });
                    None
                }
                Output::ScheduleTimeout { timeout, after_ms } => {
                    io.schedule(HostTimer::Consensus(timeout), after_ms);
                    None
                }
                Output::BuildBlock { height, round } => self.build(io, height, round),
                Output::ValidateBlock { height, round, block } => {
                    let block_hash = block.hash();
                    let valid = self.validate(io, &block, true);
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
                        // Without a durable WAL we must not vote: drop the rest of this batch and
                        // stop. Carrying on would leave the engine past a step whose vote and
                        // timers were dropped — mute at this height (the simulator found a chain
                        // halted that way); a restart replays what is durable instead.
                        tracing::error!("consensus WAL append failed: {e}; stopping");
                        self.fatal = Some(format!("consensus WAL append failed: {e}"));
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
                    self.commit(io, block, certificate);
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
    fn empty_block_wait_ms(&self) -> i64 {
        let c = &self.shared.genesis.consensus;
        (c.timeout_propose_ms / 2).max(c.block_interval_ms) as i64
    }

    fn waited_ms(&self, io: &impl HostIo) -> i64 {
        io.now_ms().saturating_sub(self.height_started_ms)
    }

    /// Propose a held-back block once transactions arrive or the empty-block wait is over.
    fn retry_deferred_build(&mut self, io: &mut impl HostIo) {
        let Some((height, round)) = self.deferred_build else {
            return;
        };
        if height != self.engine_height {
            self.deferred_build = None;
            return;
        }
        let has_txs = self.shared.mempool.lock().map(|m| !m.is_empty()).unwrap_or(true);
        if has_txs || self.waited_ms(io) >= self.empty_block_wait_ms() {
            self.deferred_build = None;
            if let Some(input) = self.build_now(io, height, round) {
                self.feed(io, input);
            }
        }
    }

    /// Signatures our mempool verified need not be verified again by block execution.
    /// What need not be verified again: what the mempool verified on entry, and what verified
    /// of the sync response being applied.
    fn vouches(&self) -> impl Fn(&SignedTransaction, &PublicKey) -> bool + use<S, W> {
        let (shared, synced) = (self.shared.clone(), self.sync_vouched.clone());
        move |t: &SignedTransaction, k: &PublicKey| {
            synced.covers(t, k) || shared.mempool.lock().is_ok_and(|m| m.verified(t, k))
        }
    }

    fn build(&mut self, io: &mut impl HostIo, height: u64, round: u32) -> Option<Input> {
        let idle = round == 0
            && self.waited_ms(io) < self.empty_block_wait_ms()
            && self.shared.mempool.lock().map(|m| m.is_empty()).unwrap_or(false);
        if idle {
            self.deferred_build = Some((height, round));
            return None;
        }
        self.build_now(io, height, round)
    }

    fn build_now(&mut self, io: &mut impl HostIo, height: u64, round: u32) -> Option<Input> {
        let head = self.shared.store.head().ok()?;
        if height != head.height + 1 {
            return None;
        }
        let key = self.consensus_key.as_ref()?.public();
        let p = &self.shared.genesis.consensus;
        let store: &dyn ChainStore = self.shared.store.as_ref();
        let txs = match self.shared.mempool.lock() {
            Ok(mut m) => {
                let mut txs = m.select(
                    p.max_block_txs as usize,
                    tradechain_ledger::block_check::tx_bytes_budget(p) as usize,
                    store,
                );
                // Admission refuses committed transactions, but one admitted while its block
                // was committing slips past both that check and the eviction: never propose it
                // (every validator would refuse the block), and drop it.
                txs.retain(|t| {
                    let id = t.id();
                    let fresh = store.tx_location(&id).ok().flatten().is_none();
                    if !fresh {
                        m.remove(&id);
                    }
                    fresh
                });
                txs
            }
            Err(_) => Vec::new(),
        };
        let pre = self.vouches();
        let started = io.now_ms();
        let cpu = io.thread_cpu_ns();
        let built = build_block(store, &self.shared.genesis, &self.registry, key, started, txs, &pre);
        self.exec_ms = io.now_ms().saturating_sub(started);
        self.spent(io, Stage::Build, cpu);
        match built {
            Ok(built) => {
                let block = built.block;
                // Postcondition: a proposal extends our head.
                assert!(
                    block.header.height == height && block.header.prev_hash == head.block_hash,
                    "built a block that does not extend the head"
                );
                self.remember(block.hash(), built.checked);
                Some(Input::ProposedBlock { height, round, block })
            }
            Err(e) => {
                tracing::error!(height, round, "cannot build a block: {e}");
                None
            }
        }
    }

    /// Count the CPU since `since` to `stage`, and the state-tree update's part of it.
    fn spent(&self, io: &mut impl HostIo, stage: Stage, since: u64) {
        let cpu = &self.shared.metrics.stage_cpu;
        cpu.add(stage, io.thread_cpu_ns().saturating_sub(since));
        cpu.add(Stage::StateTree, io.take_state_tree_ns());
    }

    fn remember(&mut self, hash: Hash, checked: Checked) {
        if self.cache.len() >= MAX_CHECKED_BLOCKS {
            self.cache.clear();
        }
        self.cache.insert(hash, checked);
    }

    fn validate(&mut self, io: &mut impl HostIo, block: &Block, check_clock: bool) -> bool {
        let hash = block.hash();
        if self.cache.contains_key(&hash) || (check_clock && self.skip_reexecution) {
            return true;
        }
        // Sync and decided blocks carry a certificate: their time is checked against the parent
        // only.
        let now = if check_clock {
            io.now_ms()
        } else {
            i64::MAX - crate::blocks::MAX_FUTURE_DRIFT_MS
        };
        let pre = self.vouches();
        let started = io.now_ms();
        let cpu = io.thread_cpu_ns();
        let checked = check_block(
            self.shared.store.as_ref(),
            &self.shared.genesis,
            &self.registry,
            now,
            block,
            &pre,
        );
        self.exec_ms = io.now_ms().saturating_sub(started);
        self.spent(io, Stage::Check, cpu);
        match checked {
            Ok(exec) => {
                self.remember(hash, exec);
                true
            }
            Err(e) => {
                tracing::warn!(height = block.header.height, "rejecting proposed block: {e}");
                false
            }
        }
    }

    /// Commit a certified block (decided here or synced). Precondition: the certificate was
    /// verified against the validator set in force (the engine's decision, or `apply_synced`).
    fn commit(&mut self, io: &mut impl HostIo, block: Block, cert: CommitCertificate) -> bool {
        let height = block.header.height;
        if height != self.head_height() + 1 {
            return false;
        }
        let hash = block.hash();
        if !self.cache.contains_key(&hash) && !self.validate(io, &block, false) {
            tracing::error!(height, "decided block does not re-execute; not committing");
            return false;
        }
        let Some(Checked { exec, tree }) = self.cache.remove(&hash) else {
            return false;
        };
        let store_started = io.now_ms();
        let cpu = io.thread_cpu_ns();
        let committed = self.shared.store.commit(&block, &cert, &exec, &tree);
        self.shared
            .metrics
            .stage_cpu
            .add(Stage::Commit, io.thread_cpu_ns().saturating_sub(cpu));
        if let Err(e) = committed {
            tracing::error!(height, "commit failed: {e}; stopping");
            self.fatal = Some(format!("committing height {height}: {e}"));
            return false;
        }
        // Postcondition: the store's head is this block (anything else is a corrupt store).
        let head = self.shared.store.head().ok();
        assert!(
            head.as_ref()
                .is_some_and(|h| h.height == height && h.block_hash == hash),
            "after committing {height} the store's head is {head:?}"
        );
        self.cache.clear();
        if let Some(wal) = self.wal.as_mut()
            && let Err(e) = wal.truncate()
        {
            tracing::error!("consensus WAL truncate failed: {e}");
        }
        // Membership follows governance: a committed change to any org (admitted, removed, keys
        // rotated) recomputes who may connect, and the gate drops whoever may no longer.
        if exec.writes.keys().any(|k| k.first() == Some(&(Ns::Org as u8))) {
            let allowed = member_node_keys(self.shared.store.as_ref());
            tracing::info!(
                node_keys = allowed.len(),
                "membership changed: updating the p2p allow-list"
            );
            io.send(NetCommand::SetAllowed(allowed));
        }
        // Who may author consensus gossip follows the validator set (in force and scheduled) and
        // its orgs' node keys.
        if exec
            .writes
            .keys()
            .any(|k| matches!(k.first(), Some(b) if *b == Ns::Org as u8 || *b == Ns::Meta as u8))
        {
            io.send(NetCommand::SetConsensusAuthors(validator_node_keys(
                self.shared.store.as_ref(),
            )));
        }
        let now = io.now_ms();
        let height_ms = now.saturating_sub(self.height_started_ms);
        let m = &self.shared.metrics;
        m.height.set(height as i64);
        m.commit_latency.observe(height_ms.max(0) as f64 / 1000.0);
        for o in &exec.outcomes {
            match o {
                tradechain_ledger::TxOutcome::Accepted => m.txs_committed.inc(),
                tradechain_ledger::TxOutcome::Rejected { rule, .. } => m
                    .txs_rejected
                    .get_or_create(&crate::metrics::RuleLabel { rule: rule.clone() })
                    .inc(),
            };
        }
        let store: &dyn ChainStore = self.shared.store.as_ref();
        if let Ok(mut mp) = self.shared.mempool.lock() {
            mp.evict_committed(&block.txs, store);
            mp.set_now(now);
            let expired = mp.expire_stalled(store);
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
                commit_ms = now.saturating_sub(store_started),
                height_ms,
                hash = %hash,
                "committed"
            );
        }
        let _ = self.shared.commits.send(height);
        io.schedule(
            HostTimer::StartHeight(height + 1),
            self.shared.genesis.consensus.block_interval_ms,
        );
        true
    }

    fn update_peers(&self) {
        self.shared.metrics.peers.set(self.peers.len() as i64);
        if let Ok(mut s) = self.shared.status.write() {
            s.peers = self.peers.iter().map(|p| p.to_string()).collect();
        }
    }

    /// Offer our pending transactions to every peer again: all of them once `reoffer_at` is due
    /// (a peer connected), and every `STALE_REOFFER_EVERY_MS` those pending for longer than
    /// `STALE_PENDING_MS`.
    fn reoffer(&mut self, io: &impl HostIo) {
        let now = io.now_ms();
        let connected = self.reoffer_at.is_some_and(|at| now >= at);
        let stale = now >= self.stale_reoffer_at;
        if !connected && !stale {
            return;
        }
        if connected {
            self.reoffer_at = None;
        }
        if stale {
            self.stale_reoffer_at = now.saturating_add(STALE_REOFFER_EVERY_MS);
        }
        let store: &dyn ChainStore = self.shared.store.as_ref();
        let txs = match self.shared.mempool.lock() {
            Ok(m) if connected => m.select(REOFFER_MAX_TXS, usize::MAX, store),
            Ok(mut m) => {
                m.set_now(now);
                m.select_older(STALE_PENDING_MS, REOFFER_MAX_TXS, store)
            }
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

    fn flush_gossip(&mut self, io: &mut impl HostIo) {
        self.reoffer(io);
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
                io.send(NetCommand::Publish {
                    topic: Topic::Txs,
                    data,
                });
                bytes = 0;
            }
            bytes += n;
            chunk.push(tx);
        }
        if !chunk.is_empty() {
            io.send(NetCommand::Publish {
                topic: Topic::Txs,
                data: codec::encode(&TxGossip::Batch(chunk)),
            });
        }
    }

    /// The sync tick: ask the next peer for the blocks after our head, unless our last request
    /// is still unanswered and younger than `SYNC_REQUEST_TIMEOUT_MS`.
    fn sync_tick(&mut self, io: &mut impl HostIo) {
        let now = io.now_ms();
        if self
            .sync_requested_at
            .is_some_and(|at| now.saturating_sub(at) < SYNC_REQUEST_TIMEOUT_MS)
        {
            return;
        }
        self.request_next_peer(io);
    }

    fn request_next_peer(&mut self, io: &mut impl HostIo) {
        if self.peers.is_empty() {
            return;
        }
        self.sync_cursor = (self.sync_cursor + 1) % self.peers.len();
        if let Some(peer) = self.peers.iter().nth(self.sync_cursor).copied() {
            let from = self.head_height() + 1;
            self.request_sync(io, peer, from);
        }
    }

    fn request_sync(&mut self, io: &mut impl HostIo, peer: PeerId, from: u64) {
        let data = codec::encode(&SyncRequest::Blocks {
            from,
            max: MAX_SYNC_BLOCKS,
        });
        io.send(NetCommand::SendRequest { peer, data });
        self.sync_requested_at = Some(io.now_ms());
    }

    /// Apply a peer's blocks in height order, each only with a certificate that verifies
    /// against the validator set in force at its height; stop at the first that does not fit.
    /// Before applying, ask the same peer for the blocks after these, so that its reading and
    /// our decoding and signature checks of the next answer overlap this one's execution.
    fn apply_synced(
        &mut self,
        io: &mut impl HostIo,
        from: PeerId,
        peer_head: u64,
        blocks: Vec<(Block, CommitCertificate)>,
        vouched: SyncVouches,
    ) {
        self.sync_requested_at = None;
        let before = self.head_height();
        let first = blocks.first().map(|(b, _)| b.header.height);
        let last = blocks.last().map(|(b, _)| b.header.height);
        if let (Some(first), Some(last)) = (first, last)
            && first <= before + 1
            && last > before
            && last < peer_head
            && self.peers.contains(&from)
        {
            self.request_sync(io, from, last + 1);
        }
        self.sync_vouched = vouched;
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
                io.send(NetCommand::Penalize {
                    peer: from,
                    reason: format!("sync: bad certificate at {h}: {e}"),
                });
                break;
            }
            if !self.commit(io, block, cert) {
                break;
            }
            applied += 1;
        }
        self.sync_vouched = SyncVouches::default();
        let after = self.head_height();
        // Postcondition: a sync step moves the head forward by exactly what it applied (unless the
        // store failed, when what it holds is unknown until the restart).
        debug_assert!(
            self.fatal.is_some() || after == before + applied,
            "sync applied {applied} blocks but the head moved from {before} to {after}"
        );
        let syncing = peer_head > after.saturating_add(SYNC_LAG_BLOCKS);
        self.shared.metrics.syncing.set(i64::from(syncing));
        if let Ok(mut s) = self.shared.status.write() {
            s.syncing = syncing;
            s.sync_target = peer_head;
        }
        if applied > 0 {
            tracing::debug!(applied, head = after, "synced blocks");
            if after < peer_head && self.sync_requested_at.is_none() {
                self.request_next_peer(io);
            }
        }
    }
}
