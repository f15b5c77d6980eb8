//! The simulated world that runs the production host (`node::host::Host`): the demo chain's
//! four validators (`ledger::demo::ORGS`) plus a joiner, each a real host over an in-memory store, the real WAL and
//! submission journal files on tmpfs, and a seeded network, clock and fault plan.
//!
//! What a seed draws: network delays, drops, duplicates and a partition until `heal_at`; up to
//! f faulty validators (Byzantine: silent, double voter, bad signatures, equivocating or invalid
//! proposer; or crash-prone: crashes with torn WAL and journal tails, restarts); failed fsyncs of
//! the WAL and of store commits; a late joiner that catches up by sync and becomes a validator
//! through governance mid-run; member clients submitting real transactions to random nodes,
//! among them adversarial ones (bad or forged signatures, another chain's id, a bank issuing a
//! bill of lading).
//!
//! Invariants: one ChaCha RNG seeded from the seed and one event queue ordered by (virtual time,
//! insertion number) drive everything, so a seed replays exactly (`SIM_TRACE=1` prints every
//! event with its virtual time). Faulty validators never exceed f of the set in force.
use crate::host_world::checker::Checker;
use crate::host_world::mem_store::{FaultyWal, MemStore, WalFaults};
use crate::host_world::workload::{Expect, Workload};
use libp2p::PeerId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use tradechain_consensus::{ConsensusMsg, Engine, EngineConfig, MemoCheck, SignedVoteMsg};
use tradechain_ledger::certificate::{VoteKind, proposal_sign_bytes, vote_sign_bytes};
use tradechain_ledger::testkit::{demo_genesis, secret};
use tradechain_ledger::{Genesis, Hash, SecretKey, Signature, SignedTransaction};
use tradechain_node::config::NodeRole;
use tradechain_node::host::ports::{ChainStore, HostIo, HostTimer};
use tradechain_node::host::sync_vouches::SyncVouches;
use tradechain_node::host::{Host, HostInput};
use tradechain_node::mempool::{Mempool, MempoolLimits};
use tradechain_node::network::{NetCommand, Topic, peer_id_from_node_key};
use tradechain_node::node_state::NodeState;
use tradechain_node::peer_messages::{SyncRequest, SyncResponse, TxGossip, decode};
use tradechain_node::submit_journal::SubmitJournal;
use tradechain_node::wal::Wal;

/// The genesis validators, and the member that joins the set through governance.
pub const VALIDATORS: [&str; 4] = ["CUSTOMS-CN", "PORT-CNFOC", "CARRIER-COSCO", "BANK-CN"];
pub const JOINER: &str = "BANK-NL";
/// Heights every honest node must reach.
pub const TARGET_HEIGHT: u64 = 20;
/// Liveness bound: after heal, every honest node commits, and every acknowledged transaction is
/// committed, within this (virtual ms).
pub const LIVENESS_BOUND_MS: u64 = 60_000;
const MAX_MSG: usize = 4 * 1024 * 1024;
const GOSSIP_TICK_MS: u64 = 10;
const SYNC_TICK_MS: u64 = 1_000;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Byz {
    Silent,
    DoubleVoter,
    BadSignatures,
    EquivocatingProposer,
    InvalidProposer,
}
const BYZ_KINDS: [Byz; 5] = [
    Byz::Silent,
    Byz::DoubleVoter,
    Byz::BadSignatures,
    Byz::EquivocatingProposer,
    Byz::InvalidProposer,
];

/// Deliberately broken hosts the checker must catch.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Broken {
    /// The WAL acknowledges appends it never writes: a vote leaves before its record is durable.
    LyingWal,
    /// Honest hosts vote for proposals without re-executing them.
    SkipReexecution,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SimConfig {
    pub seed: u64,
    pub broken: Option<Broken>,
    pub trace: bool,
}

#[derive(Debug, Default)]
pub struct SimResult {
    pub violations: Vec<String>,
    pub trace_hash: [u8; 32],
    pub faults: BTreeMap<&'static str, u64>,
    pub heights: u64,
    pub submitted: u64,
    pub acknowledged: u64,
    pub committed_accepted: u64,
    pub committed_rejected: u64,
    pub refused_at_submit: u64,
    pub root_checks: u64,
    pub worst_ttc_after_heal: u64,
    pub validator_change_applied: bool,
    pub joiner_synced: bool,
}

/// The host's ports in the simulator: virtual clock, queued timers and network commands.
struct SimIo {
    now_ms: i64,
    out: Vec<NetCommand>,
    timers: Vec<(HostTimer, u64)>,
}

impl HostIo for SimIo {
    fn now_ms(&self) -> i64 {
        self.now_ms
    }
    fn schedule(&mut self, timer: HostTimer, after_ms: u64) {
        self.timers.push((timer, after_ms));
    }
    fn send(&mut self, cmd: NetCommand) {
        self.out.push(cmd);
    }
}

struct Node {
    org: &'static str,
    key: SecretKey,
    peer: PeerId,
    dir: PathBuf,
    store: Arc<MemStore>,
    host: Option<Host<MemStore, FaultyWal>>,
    epoch: u64,
    byz: Option<Byz>,
    /// Not started yet (the joiner starts late) or silent.
    started: bool,
    commit_after_heal: Option<u64>,
    seen_height: u64,
}

#[derive(Debug)]
enum Ev {
    Deliver {
        to: usize,
        msg: Box<ConsensusMsg>,
    },
    Txs {
        to: usize,
        from: usize,
        txs: Vec<SignedTransaction>,
    },
    SyncReq {
        to: usize,
        from: usize,
        start: u64,
    },
    SyncResp {
        to: usize,
        from: usize,
        epoch: u64,
        resp: SyncResponse,
    },
    Timer {
        node: usize,
        epoch: u64,
        timer: HostTimer,
    },
    GossipTick {
        node: usize,
        epoch: u64,
    },
    SyncTick {
        node: usize,
        epoch: u64,
    },
    Boot {
        node: usize,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    StoreFault {
        node: usize,
        after_applying: bool,
    },
    /// A client's submission; governance steps come on their own events, every 300 ms until
    /// all are acknowledged.
    Submit {
        governance: bool,
    },
    /// Clients look for what dishonest nodes acknowledged and dropped, and submit it again.
    ResubmitCheck,
    Heal,
}

pub struct World {
    rng: ChaCha8Rng,
    cfg: SimConfig,
    genesis: Genesis,
    /// Virtual ms since the start.
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    nodes: Vec<Node>,
    by_peer: BTreeMap<PeerId, usize>,
    delay: (u64, u64),
    drop_p: f64,
    dup_p: f64,
    partition: Option<Vec<u8>>,
    healed: bool,
    heal_at: u64,
    wal_faults: WalFaults,
    memo: Arc<MemoCheck>,
    checker: Checker,
    workload: Workload,
    _tmp: tempfile::TempDir,
    trace: sha2::Sha256,
    res: SimResult,
}

fn tmp_root() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() { shm } else { std::env::temp_dir() }
}

impl World {
    pub fn new(cfg: SimConfig) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut genesis = demo_genesis();
        genesis.consensus.timeout_propose_ms = 300;
        genesis.consensus.timeout_prevote_ms = 200;
        genesis.consensus.timeout_precommit_ms = 200;
        genesis.consensus.timeout_delta_ms = 100;
        genesis.consensus.block_interval_ms = 20;
        let tmp = tempfile::Builder::new()
            .prefix("host-sim-")
            .tempdir_in(tmp_root())
            .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mut nodes = Vec::new();
        for org in VALIDATORS.iter().chain([&JOINER]) {
            let node_key = secret(&format!("{org}-node"));
            let peer = peer_id_from_node_key(&node_key.public().0).unwrap_or_else(|e| panic!("{e}"));
            let dir = tmp.path().join(org);
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
            nodes.push(Node {
                org,
                key: secret(org),
                peer,
                dir,
                store: Arc::new(MemStore::new(&genesis)),
                host: None,
                epoch: 0,
                byz: None,
                started: false,
                commit_after_heal: None,
                seen_height: 0,
            });
        }
        let by_peer = nodes.iter().enumerate().map(|(i, n)| (n.peer, i)).collect();
        let heal_at = rng.random_range(1_000..5_000);
        let mut res = SimResult::default();
        // One faulty validator at most (f = 1 for 4 and for 5): Byzantine, crash-prone or none.
        // The broken variants need crashes (lying WAL) or a proposer of invalid blocks.
        let faulty = rng.random_range(0..VALIDATORS.len());
        let kind = match cfg.broken {
            Some(Broken::LyingWal) => 0,
            Some(Broken::SkipReexecution) => 1,
            None => rng.random_range(0..3),
        };
        let wal_faults = WalFaults {
            fail_per_mille: [0, 0, 5, 20][rng.random_range(0..4)],
            lying: cfg.broken == Some(Broken::LyingWal),
        };
        let mut w = World {
            delay: (rng.random_range(2..20), rng.random_range(0..40)),
            drop_p: [0.0, 0.02, 0.1, 0.3][rng.random_range(0..4)],
            dup_p: [0.0, 0.05, 0.2][rng.random_range(0..3)],
            rng,
            cfg,
            genesis,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            by_peer,
            partition: None,
            healed: false,
            heal_at,
            wal_faults,
            memo: Arc::new(MemoCheck::default()),
            checker: Checker::default(),
            workload: Workload::default(),
            _tmp: tmp,
            trace: sha2::Digest::new(),
            res: SimResult::default(),
        };
        match kind {
            0 => {
                // Crash-prone: 1-3 crashes before heal, each restarting before heal.
                w.fault("crash_prone_validator");
                for _ in 0..w.rng.random_range(1..=3) {
                    let at = w.rng.random_range(100..heal_at);
                    let back = w.rng.random_range(at + 1..=heal_at);
                    w.push(at, Ev::Crash { node: faulty });
                    w.push(back, Ev::Restart { node: faulty });
                }
            }
            1 => {
                let byz = match cfg.broken {
                    Some(Broken::SkipReexecution) => Byz::InvalidProposer,
                    _ => BYZ_KINDS[w.rng.random_range(0..BYZ_KINDS.len())],
                };
                w.nodes[faulty].byz = Some(byz);
                w.fault(byz_name(byz));
            }
            _ => {}
        }
        // Store fsync failures on honest nodes (each crashes the node, which restarts).
        for _ in 0..w.rng.random_range(0..=2) {
            let node = w.rng.random_range(0..w.nodes.len());
            let at = w.rng.random_range(100..heal_at);
            let after_applying = w.rng.random_bool(0.5);
            w.push(at, Ev::StoreFault { node, after_applying });
        }
        if w.rng.random_bool(0.5) {
            let groups: Vec<u8> = (0..w.nodes.len()).map(|_| w.rng.random_range(0..2)).collect();
            w.partition = Some(groups);
            w.fault("partition");
        }
        w.push(heal_at, Ev::Heal);
        for i in 0..VALIDATORS.len() {
            if w.nodes[i].byz != Some(Byz::Silent) {
                w.push(0, Ev::Boot { node: i });
            }
        }
        // The joiner starts late and catches up by sync.
        let joiner_at = w.rng.random_range(200..heal_at + 1_000);
        w.push(joiner_at, Ev::Boot { node: VALIDATORS.len() });
        // Clients: one submission event per transaction, spread until after heal.
        let plan = w.workload.plan(&mut w.rng, heal_at);
        for at in plan {
            w.push(at, Ev::Submit { governance: false });
        }
        w.push(300, Ev::Submit { governance: true });
        w.push(1_000, Ev::ResubmitCheck);
        res.faults = std::mem::take(&mut w.res.faults);
        w.res = res;
        if cfg.trace {
            let byz: Vec<_> = w
                .nodes
                .iter()
                .map(|n| (n.org, n.key.public().to_string()[..8].to_string(), n.byz))
                .collect();
            eprintln!(
                "seed {}: nodes {byz:?}; faults {:?}; heal at {heal_at} ms; delay {:?}; drop {}; dup {}; partition {:?}; WAL {:?}",
                cfg.seed, w.res.faults, w.delay, w.drop_p, w.dup_p, w.partition, w.wal_faults
            );
        }
        w
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        self.queue.insert((at, self.seq), ev);
    }

    fn fault(&mut self, kind: &'static str) {
        *self.res.faults.entry(kind).or_default() += 1;
    }

    fn honest(&self, i: usize) -> bool {
        self.nodes[i].byz.is_none()
    }

    fn now_ms(&self) -> i64 {
        // A second after genesis, in the demo genesis's time.
        self.genesis.genesis_time_ms + 1_000 + self.now as i64
    }

    pub fn run(mut self) -> SimResult {
        let deadline = self.heal_at + LIVENESS_BOUND_MS;
        while let Some(((at, _), ev)) = self.queue.pop_first() {
            if at > deadline {
                break;
            }
            self.now = at;
            if self.cfg.trace {
                eprintln!("[{at:>6} ms] {}", describe(&ev));
            }
            sha2::Digest::update(&mut self.trace, at.to_le_bytes());
            self.step(ev);
            if self.done() {
                break;
            }
        }
        self.finish()
    }

    fn finish(mut self) -> SimResult {
        for i in 0..self.nodes.len() {
            if self.honest(i) && self.nodes[i].commit_after_heal.is_none() {
                self.checker.violations.push(format!(
                    "LIVENESS: honest node {i} ({}) did not commit within {LIVENESS_BOUND_MS} ms of heal",
                    self.nodes[i].org
                ));
            }
        }
        // Nothing acknowledged is lost: every acknowledged transaction is in every honest chain.
        for (id, what) in self.workload.acknowledged() {
            // The adversary's own acknowledgements are its to lose: its replays (same sender and
            // nonce) replace its pending transaction in a lagging node's mempool.
            if what.starts_with("adversary") {
                continue;
            }
            for i in 0..self.nodes.len() {
                if self.honest(i) && self.nodes[i].started && !self.nodes[i].store.contains_tx(id) {
                    self.checker.violations.push(format!(
                        "LOST: acknowledged {what} {id} is not committed on node {i} ({})",
                        self.nodes[i].org
                    ));
                    break;
                }
            }
        }
        // The chain as an honest node holds it (every honest node holds the same, checked above).
        let honest = self.nodes.iter().find(|n| n.byz.is_none()).unwrap_or(&self.nodes[0]);
        let s = honest.store.clone();
        self.res.validator_change_applied = s
            .validator_set_at(s.height() + 1)
            .is_ok_and(|vs| vs.get(&self.nodes[VALIDATORS.len()].key.public()).is_some());
        self.res.joiner_synced = self.nodes[VALIDATORS.len()].store.height() > 0;
        self.res.worst_ttc_after_heal = self.nodes.iter().filter_map(|n| n.commit_after_heal).max().unwrap_or(0);
        self.res.heights = self.checker.committed.len() as u64;
        self.res.root_checks = self.checker.root_checks;
        let w = &self.workload;
        (self.res.submitted, self.res.acknowledged, self.res.refused_at_submit) =
            (w.submitted, w.acknowledged().len() as u64, w.refused);
        let (mut acc, mut rej) = (0, 0);
        for h in 1..=s.height() {
            let Some((b, _)) = s.committed(h) else { continue };
            for (t, o) in b.txs.iter().zip(s.outcomes(h)) {
                let accepted = o == tradechain_ledger::TxOutcome::Accepted;
                if accepted {
                    acc += 1
                } else {
                    rej += 1
                }
                match (self.workload.expected(&t.id()), &o) {
                    (Some(Expect::Accepted), tradechain_ledger::TxOutcome::Rejected { rule, reason }) => {
                        self.checker.violations.push(format!(
                            "an honest transaction {} was rejected: {rule}: {reason}",
                            t.id()
                        ))
                    }
                    (Some(Expect::Rejected), tradechain_ledger::TxOutcome::Accepted) => self
                        .checker
                        .violations
                        .push(format!("an adversarial transaction {} was accepted", t.id())),
                    _ => {}
                }
            }
        }
        (self.res.committed_accepted, self.res.committed_rejected) = (acc, rej);
        self.res.violations = std::mem::take(&mut self.checker.violations);
        self.res.trace_hash = sha2::Digest::finalize(self.trace).into();
        self.res
    }

    fn done(&self) -> bool {
        self.healed
            && self.workload.finished()
            && (0..self.nodes.len()).filter(|&i| self.honest(i)).all(|i| {
                let n = &self.nodes[i];
                n.commit_after_heal.is_some()
                    && n.store.height() >= TARGET_HEIGHT
                    && self
                        .workload
                        .acknowledged()
                        .iter()
                        .all(|(id, _)| n.store.contains_tx(id))
            })
    }

    fn io(&self) -> SimIo {
        SimIo {
            now_ms: self.now_ms(),
            out: Vec::new(),
            timers: Vec::new(),
        }
    }

    /// Hand one input to a node's host, then act on what it asked of the world.
    fn handle(&mut self, i: usize, input: HostInput) {
        let mut io = self.io();
        let Some(host) = self.nodes[i].host.as_mut() else {
            return;
        };
        host.handle(&mut io, input);
        self.after(i, io);
    }

    fn after(&mut self, i: usize, io: SimIo) {
        let epoch = self.nodes[i].epoch;
        for (timer, after) in io.timers {
            self.push(self.now + after, Ev::Timer { node: i, epoch, timer });
        }
        for cmd in io.out {
            self.route(i, cmd);
        }
        self.observe(i);
        let fatal = self.nodes[i].host.as_ref().and_then(|h| h.fatal().map(str::to_string));
        if let Some(why) = fatal {
            // The runtime exits; the operator's supervisor restarts it.
            self.fault(if why.contains("WAL") {
                "wal_fsync_failed_stop"
            } else {
                "store_fsync_failed_stop"
            });
            if self.cfg.trace {
                eprintln!("[{:>6} ms] node {i} stops: {why}", self.now);
            }
            self.crash(i);
            let back = self.now + self.rng.random_range(100..1_000);
            self.push(back, Ev::Restart { node: i });
        }
    }

    /// Check what the node committed since we last looked.
    fn observe(&mut self, i: usize) {
        let h = self.nodes[i].store.height();
        let seen = self.nodes[i].seen_height;
        if h < seen {
            self.checker
                .violations
                .push(format!("node {i}: head went back from {seen} to {h}"));
        }
        for height in seen + 1..=h {
            let Some((block, cert)) = self.nodes[i].store.committed(height) else {
                continue;
            };
            sha2::Digest::update(&mut self.trace, block.hash().0);
            if self.cfg.trace {
                let ids: Vec<String> = block.txs.iter().map(|t| t.id().to_string()[..8].to_string()).collect();
                eprintln!("[{:>6} ms] node {i} committed h={height} txs {ids:?}", self.now);
            }
            if self.honest(i) {
                let store = self.nodes[i].store.clone();
                let vs = store.validator_set_at(height).ok();
                self.checker
                    .on_commit(i, &self.genesis, &block, &cert, vs.as_ref(), store.tree_root_at(height));
                if self.healed && self.nodes[i].commit_after_heal.is_none() {
                    self.nodes[i].commit_after_heal = Some(self.now - self.heal_at);
                }
            }
            self.workload.on_commit(&block);
        }
        self.nodes[i].seen_height = h.max(seen);
    }

    fn linked(&self, from: usize, to: usize) -> bool {
        match &self.partition {
            Some(g) => g[from] == g[to],
            None => true,
        }
    }

    /// Whether a message from `from` reaches `to` (partitions, drops), and when (delay, jitter).
    fn arrivals(&mut self, from: usize, to: usize) -> Vec<u64> {
        if from == to || !self.linked(from, to) {
            return Vec::new();
        }
        if self.drop_p > 0.0 && self.rng.random_bool(self.drop_p) {
            self.fault("drop");
            return Vec::new();
        }
        let copies = if self.dup_p > 0.0 && self.rng.random_bool(self.dup_p) {
            self.fault("duplicate");
            2
        } else {
            1
        };
        (0..copies)
            .map(|_| self.now + self.delay.0 + self.rng.random_range(0..=self.delay.1))
            .collect()
    }

    fn send_consensus(&mut self, from: usize, to: usize, msg: &ConsensusMsg) {
        for at in self.arrivals(from, to) {
            self.push(
                at,
                Ev::Deliver {
                    to,
                    msg: Box::new(msg.clone()),
                },
            );
        }
    }

    fn route(&mut self, i: usize, cmd: NetCommand) {
        match cmd {
            NetCommand::Publish {
                topic: Topic::Consensus,
                data,
            } => {
                let Ok(msg) = decode::<ConsensusMsg>(&data, MAX_MSG) else {
                    self.checker
                        .violations
                        .push(format!("node {i} published an undecodable message"));
                    return;
                };
                if self.honest(i) {
                    self.checker.on_honest_broadcast(i, &self.nodes[i].key.public(), &msg);
                }
                self.byzantine_send(i, msg);
            }
            NetCommand::Publish {
                topic: Topic::Txs,
                data,
            } => {
                let Ok(TxGossip::Batch(txs)) = decode::<TxGossip>(&data, MAX_MSG) else {
                    return;
                };
                for to in 0..self.nodes.len() {
                    for at in self.arrivals(i, to) {
                        self.push(
                            at,
                            Ev::Txs {
                                to,
                                from: i,
                                txs: txs.clone(),
                            },
                        );
                    }
                }
            }
            NetCommand::SendRequest { peer, data } => {
                let (Some(&to), Ok(SyncRequest::Blocks { from: start, .. })) =
                    (self.by_peer.get(&peer), decode::<SyncRequest>(&data, MAX_MSG))
                else {
                    return;
                };
                if let Some(at) = self.arrivals(i, to).first() {
                    self.push(*at, Ev::SyncReq { to, from: i, start });
                }
            }
            NetCommand::Penalize { peer, reason } => {
                self.fault("peer_penalised");
                if let Some(&p) = self.by_peer.get(&peer)
                    && self.honest(p)
                {
                    self.checker
                        .violations
                        .push(format!("node {i} penalised honest node {p}: {reason}"));
                }
            }
            NetCommand::Respond { .. } | NetCommand::SetAllowed(_) | NetCommand::SetConsensusAuthors(_) => {}
        }
    }

    fn boot(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.epoch += 1;
        n.started = true;
        let (journal, journaled) = SubmitJournal::open(&n.dir.join("submissions.journal"))
            .unwrap_or_else(|e| panic!("node {i}: the journal does not open after a crash: {e}"));
        let mempool = Mempool::new(
            &self.genesis.chain_id,
            self.genesis.limits.max_tx_bytes as usize,
            MempoolLimits::default(),
        );
        let shared = Arc::new(NodeState::new(
            n.org.to_string(),
            NodeRole::Validator,
            self.genesis.clone(),
            n.store.clone(),
            mempool,
            journal,
        ));
        shared.readmit_journaled(journaled);
        let wal = FaultyWal {
            inner: Wal::open(&n.dir.join("consensus.wal")).unwrap_or_else(|e| panic!("{e}")),
            faults: self.wal_faults,
            rng: ChaCha8Rng::seed_from_u64(self.rng.random()),
            failed: 0,
        };
        let engine = Engine::new(EngineConfig {
            chain_id: self.genesis.chain_id.clone(),
            secret_key: Some(n.key.clone()),
            params: self.genesis.consensus.clone(),
        })
        .with_signature_check(self.memo.clone());
        let mut host = Host::new(shared, Some(engine), Some(n.key.clone()), Some(wal), None, MAX_MSG);
        if self.cfg.broken == Some(Broken::SkipReexecution) && n.byz.is_none() {
            host.break_skip_reexecution();
        }
        let mut io = self.io();
        if let Err(e) = host.start(&mut io, false) {
            self.checker
                .violations
                .push(format!("node {i} ({}) does not restart: {e}", self.nodes[i].org));
            return;
        }
        self.nodes[i].host = Some(host);
        self.after(i, io);
        // Connections come up both ways with every running node.
        let epoch = self.nodes[i].epoch;
        for j in 0..self.nodes.len() {
            if j != i && self.nodes[j].host.is_some() {
                let (pi, pj) = (self.nodes[i].peer, self.nodes[j].peer);
                self.handle(i, HostInput::PeerConnected(pj));
                self.handle(j, HostInput::PeerConnected(pi));
            }
        }
        let t = self.now;
        self.push(t + GOSSIP_TICK_MS, Ev::GossipTick { node: i, epoch });
        let first_sync = t + self.rng.random_range(1..SYNC_TICK_MS);
        self.push(first_sync, Ev::SyncTick { node: i, epoch });
    }

    fn crash(&mut self, i: usize) {
        if self.nodes[i].host.take().is_none() {
            return;
        }
        self.nodes[i].epoch += 1;
        let pi = self.nodes[i].peer;
        for j in 0..self.nodes.len() {
            if j != i {
                self.handle(j, HostInput::PeerDisconnected(pi));
            }
        }
        // A crash mid-write leaves a torn record at the end of a file: the reader must cut it.
        let dir = self.nodes[i].dir.clone();
        for (file, kind) in [
            ("consensus.wal", "torn_wal_tail"),
            ("submissions.journal", "torn_journal_tail"),
        ] {
            if self.rng.random_bool(0.5) {
                let torn: Vec<u8> = (0..self.rng.random_range(1..40)).map(|_| self.rng.random()).collect();
                if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(dir.join(file)) {
                    let _ = f.write_all(&torn);
                    self.fault(kind);
                }
            }
        }
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { to, msg } => self.handle(to, HostInput::Consensus(msg)),
            Ev::Txs { to, from, txs } => {
                let Some(host) = self.nodes[to].host.as_ref() else {
                    return;
                };
                if let Some(reason) = host.shared().admit_gossip(txs)
                    && self.honest(from)
                {
                    self.checker
                        .violations
                        .push(format!("node {to} refused honest node {from}'s gossip: {reason}"));
                }
            }
            Ev::SyncReq { to, from, start } => {
                if self.nodes[to].host.is_none() {
                    return;
                }
                let store = self.nodes[to].store.clone();
                let head = store.height();
                let resp = tradechain_node::runtime::read_blocks(store.as_ref(), head, start, 64, MAX_MSG / 2);
                let epoch = self.nodes[from].epoch;
                if let Some(at) = self.arrivals(to, from).first() {
                    self.push(
                        *at,
                        Ev::SyncResp {
                            to: from,
                            from: to,
                            epoch,
                            resp,
                        },
                    );
                }
            }
            Ev::SyncResp { to, from, epoch, resp } => {
                if self.nodes[to].epoch != epoch {
                    return;
                }
                let SyncResponse::Blocks { head, blocks } = resp;
                if !blocks.is_empty() {
                    self.fault("sync_response");
                }
                let from = self.nodes[from].peer;
                // What the runtime does off the core task: verify the answer's signatures
                // against this node's head.
                let Some(shared) = self.nodes[to].host.as_ref().map(|h| h.shared().clone()) else {
                    return;
                };
                let store = self.nodes[to].store.clone();
                let vouched = SyncVouches::verify(store.as_ref(), store.height(), &blocks, &|t, k| {
                    shared.mempool.lock().is_ok_and(|m| m.verified(t, k))
                });
                self.handle(
                    to,
                    HostInput::SyncBlocks {
                        from,
                        head,
                        blocks,
                        vouched,
                    },
                );
            }
            Ev::Timer { node, epoch, timer } => {
                if self.nodes[node].epoch == epoch {
                    self.handle(node, HostInput::Timer(timer));
                }
            }
            Ev::GossipTick { node, epoch } => {
                if self.nodes[node].epoch == epoch && self.nodes[node].host.is_some() {
                    self.handle(node, HostInput::GossipTick);
                    self.push(self.now + GOSSIP_TICK_MS, Ev::GossipTick { node, epoch });
                }
            }
            Ev::SyncTick { node, epoch } => {
                if self.nodes[node].epoch == epoch && self.nodes[node].host.is_some() {
                    self.handle(node, HostInput::SyncTick);
                    self.push(self.now + SYNC_TICK_MS, Ev::SyncTick { node, epoch });
                }
            }
            Ev::Boot { node } => self.boot(node),
            Ev::Crash { node } => {
                if self.nodes[node].host.is_some() {
                    self.fault("crash");
                    self.crash(node);
                }
            }
            Ev::Restart { node } => {
                if self.nodes[node].host.is_none() && self.nodes[node].started {
                    self.fault("restart");
                    self.boot(node);
                }
            }
            Ev::StoreFault { node, after_applying } => {
                self.fault(if after_applying {
                    "store_fsync_failed_after_write"
                } else {
                    "store_fsync_failed"
                });
                self.nodes[node].store.fail_next_commit(after_applying);
            }
            Ev::Heal => {
                self.healed = true;
                self.partition = None;
                self.drop_p = 0.0;
            }
            Ev::ResubmitCheck => {
                self.resubmit();
                if !self.workload.unconfirmed.is_empty() || !self.workload.finished() {
                    self.push(self.now + 1_000, Ev::ResubmitCheck);
                }
            }
            Ev::Submit { governance } => {
                self.submit(governance);
                if governance && self.workload.governance_due() {
                    self.push(self.now + 300, Ev::Submit { governance: true });
                }
            }
        }
    }

    /// A member client submits its next transaction to a random running node, as the API does:
    /// admit, then wait for the journal; acknowledged only if both succeed.
    fn submit(&mut self, governance: bool) {
        let up: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.nodes[i].host.is_some())
            .collect();
        let Some(&i) = up.get(self.rng.random_range(0..up.len().max(1))) else {
            return;
        };
        let store = self.nodes[i].store.clone();
        let now = self.now_ms();
        let Some((tx, what, expect)) =
            self.workload
                .next(&mut self.rng, &self.genesis, store.as_ref(), now, governance)
        else {
            return;
        };
        let ok = self.offer(i, &tx, what);
        let id = tx.id();
        if let Some(v) = self.workload.answered(&tx, what, expect, ok) {
            self.checker.violations.push(format!("node {i}: {v}"));
        }
        if ok && !self.honest(i) {
            self.workload.unconfirmed.push((tx, self.now));
        }
        sha2::Digest::update(&mut self.trace, id.0);
    }

    /// Submit `tx` to node `i` as the API does (admit, then wait for the journal); whether it
    /// was acknowledged. A Byzantine node acknowledges and then drops it.
    fn offer(&mut self, i: usize, tx: &SignedTransaction, what: &str) -> bool {
        let Some(host) = self.nodes[i].host.as_ref() else {
            return false;
        };
        let shared = host.shared().clone();
        let id = tx.id();
        let ok = shared.submit(tx.clone()).is_ok() && futures::executor::block_on(shared.durable()).is_ok();
        if ok && !self.honest(i) {
            if let Ok(mut m) = shared.mempool.lock() {
                m.remove(&id);
            }
            if let Ok(mut o) = shared.outbound.lock() {
                o.retain(|t| t.id() != id);
            }
            self.fault("byz_dropped_acknowledged");
        }
        if self.cfg.trace {
            eprintln!(
                "[{:>6} ms] node {i} {} {what} {id} (nonce {})",
                self.now,
                if ok { "acknowledged" } else { "refused" },
                tx.tx().nonce
            );
        }
        ok
    }

    /// A client whose transaction a node acknowledged but which has not committed within 3 s asks
    /// that node; a dishonest node answers "unknown" and the client submits it to another node
    /// (as `client::wait` and `bench load` do).
    fn resubmit(&mut self) {
        let due: Vec<SignedTransaction> = self
            .workload
            .unconfirmed
            .iter()
            .filter(|(t, at)| self.now >= at + 3_000 && !self.workload.is_committed(&t.id()))
            .map(|(t, _)| t.clone())
            .collect();
        self.workload.forget_committed();
        // The adversary replays its rejected, committed transactions (their nonce is still free)
        // by submission and by gossip: no node may take them again, or every proposal carrying
        // them would be refused and the chain would halt.
        for tx in self.workload.replayable() {
            self.fault("adversary_replayed_committed_tx");
            let up: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].host.is_some())
                .collect();
            // (A node that has not committed it yet may take it: the check is on one that has.)
            if let Some(&i) = up.get(self.rng.random_range(0..up.len().max(1)))
                && self.honest(i)
                && self.nodes[i].store.contains_tx(&tx.id())
                && self.offer(i, &tx, "replay of a committed transaction")
            {
                self.checker.violations.push(format!(
                    "node {i} acknowledged a replay of committed transaction {}",
                    tx.id()
                ));
            }
            let from = self.rng.random_range(0..self.nodes.len());
            for to in 0..self.nodes.len() {
                if to != from {
                    let at = self.now + self.delay.0;
                    self.push(
                        at,
                        Ev::Txs {
                            to,
                            from,
                            txs: vec![tx.clone()],
                        },
                    );
                }
            }
        }
        for tx in due {
            let up: Vec<usize> = (0..self.nodes.len())
                .filter(|&i| self.nodes[i].host.is_some())
                .collect();
            let Some(&i) = up.get(self.rng.random_range(0..up.len().max(1))) else {
                return;
            };
            self.fault("client_resubmitted");
            if self.offer(i, &tx, "resubmission") && self.honest(i) {
                let id = tx.id();
                self.workload.unconfirmed.retain(|(t, _)| t.id() != id);
            }
        }
    }

    fn sign_vote(&self, i: usize, v: &SignedVoteMsg, block_hash: Option<Hash>) -> SignedVoteMsg {
        let chain = &self.genesis.chain_id;
        SignedVoteMsg {
            block_hash,
            signature: self.nodes[i]
                .key
                .sign(&vote_sign_bytes(chain, v.kind, v.height, v.round, block_hash)),
            ..v.clone()
        }
    }

    fn send_all(&mut self, from: usize, msg: &ConsensusMsg) {
        for to in 0..self.nodes.len() {
            self.send_consensus(from, to, msg);
        }
    }

    /// Send a node's broadcast, bent by its Byzantine behaviour if it has one.
    fn byzantine_send(&mut self, i: usize, msg: ConsensusMsg) {
        let n = self.nodes.len();
        let chain = self.genesis.chain_id.clone();
        match (self.nodes[i].byz, &msg) {
            (Some(Byz::DoubleVoter), ConsensusMsg::Vote(v)) => {
                self.fault("double_vote");
                let other = match v.block_hash {
                    Some(_) => None,
                    None => Some(Hash::tagged("sim/other", &v.round.to_le_bytes())),
                };
                let v2 = ConsensusMsg::Vote(self.sign_vote(i, v, other));
                for to in 0..n {
                    let m = if self.rng.random_bool(0.5) {
                        msg.clone()
                    } else {
                        v2.clone()
                    };
                    self.send_consensus(i, to, &m);
                }
            }
            (Some(Byz::BadSignatures), _) => {
                self.send_all(i, &msg);
                self.fault("bad_signature");
                let mut bad = msg.clone();
                match &mut bad {
                    ConsensusMsg::Vote(v) => v.signature.0[7] ^= 1,
                    ConsensusMsg::Proposal { proposal, .. } => proposal.signature.0[7] ^= 1,
                    _ => {}
                }
                self.send_all(i, &bad);
                let victim = self.rng.random_range(0..VALIDATORS.len());
                let forged = ConsensusMsg::Vote(SignedVoteMsg {
                    height: msg.height(),
                    round: 0,
                    kind: VoteKind::Precommit,
                    block_hash: Some(Hash::tagged("sim/forged", &victim.to_le_bytes())),
                    validator: self.nodes[victim].key.public(),
                    signature: Signature([7u8; 64]),
                });
                self.send_all(i, &forged);
            }
            (Some(Byz::EquivocatingProposer | Byz::InvalidProposer), ConsensusMsg::Proposal { proposal, block }) => {
                let invalid = self.nodes[i].byz == Some(Byz::InvalidProposer);
                self.fault(if invalid {
                    "invalid_block_proposed"
                } else {
                    "equivocating_proposal"
                });
                let mut other = block.clone();
                if invalid {
                    // Claims a state its transactions do not produce: only re-execution sees it.
                    other.header.state_hash = Hash::tagged("sim/forged-state", &proposal.round.to_le_bytes());
                } else {
                    other.header.time_ms += 1;
                }
                let mut p2 = proposal.clone();
                p2.block_hash = other.hash();
                p2.signature = self.nodes[i].key.sign(&proposal_sign_bytes(
                    &chain,
                    p2.height,
                    p2.round,
                    p2.pol_round,
                    p2.block_hash,
                ));
                let alt = ConsensusMsg::Proposal {
                    proposal: p2,
                    block: other,
                };
                for to in 0..n {
                    let m = if invalid || to % 2 == 1 {
                        alt.clone()
                    } else {
                        msg.clone()
                    };
                    self.send_consensus(i, to, &m);
                }
                if invalid {
                    // And it votes for its own forged block.
                    if let ConsensusMsg::Proposal { proposal: p2, .. } = &alt {
                        for kind in [VoteKind::Prevote, VoteKind::Precommit] {
                            let v = SignedVoteMsg {
                                height: p2.height,
                                round: p2.round,
                                kind,
                                block_hash: Some(p2.block_hash),
                                validator: self.nodes[i].key.public(),
                                signature: Signature([0u8; 64]),
                            };
                            let v = self.sign_vote(i, &v, Some(p2.block_hash));
                            self.send_all(i, &ConsensusMsg::Vote(v));
                        }
                    }
                }
            }
            _ => self.send_all(i, &msg),
        }
    }
}

pub fn byz_name(b: Byz) -> &'static str {
    match b {
        Byz::Silent => "byz_silent",
        Byz::DoubleVoter => "byz_double_voter",
        Byz::BadSignatures => "byz_bad_signatures",
        Byz::EquivocatingProposer => "byz_equivocating_proposer",
        Byz::InvalidProposer => "byz_invalid_proposer",
    }
}

fn describe(ev: &Ev) -> String {
    match ev {
        Ev::Deliver { to, msg } => match msg.as_ref() {
            ConsensusMsg::Proposal { proposal, block } => format!(
                "deliver to {to}: proposal h={} r={} block {} ({} txs)",
                proposal.height,
                proposal.round,
                proposal.block_hash,
                block.txs.len()
            ),
            ConsensusMsg::Vote(v) => format!(
                "deliver to {to}: {:?} h={} r={} for {:?} by {}",
                v.kind, v.height, v.round, v.block_hash, v.validator
            ),
            other => format!("deliver to {to}: polka certificate at h={}", other.height()),
        },
        Ev::Txs { to, from, txs } => format!("tx gossip {from} -> {to}: {} txs", txs.len()),
        Ev::SyncResp { to, from, resp, .. } => {
            let SyncResponse::Blocks { head, blocks } = resp;
            format!("sync answer {from} -> {to}: {} blocks, head {head}", blocks.len())
        }
        other => format!("{other:?}"),
    }
}
