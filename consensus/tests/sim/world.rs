//! The deterministic simulated world: n real `Engine`s, a seeded network with a virtual clock,
//! a fault plan (drops, duplicates, delays, partitions that heal, crashes with WAL restarts,
//! Byzantine behaviours), a minimal host per node, and a block-sync stand-in.
//!
//! Invariants: everything is driven by one ChaCha RNG seeded from the seed and one event queue
//! ordered by (virtual time, insertion number), so a seed replays exactly. At most f nodes are
//! faulty (Byzantine + crash-prone) in any run.
use crate::sim::checker::{Checker, genesis_prev, sim_block_valid};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use tradechain_consensus::signature_check::MemoCheck;
use tradechain_consensus::{ConsensusMsg, Engine, EngineConfig, Input, Output, SignedVoteMsg, WalEntry};
use tradechain_ledger::certificate::{ValidatorInfo, VoteKind, proposal_sign_bytes, vote_sign_bytes};
use tradechain_ledger::genesis::ConsensusParams;
use tradechain_ledger::identity::OrgId;
use tradechain_ledger::{Block, BlockHeader, CommitCertificate, Hash, PublicKey, SecretKey, Signature, ValidatorSet};

pub const CHAIN: &str = "sim-chain";
/// Heights every honest node must reach.
const TARGET_HEIGHT: u64 = 2;
/// Liveness bound: after heal, every honest node commits a new height within this (virtual ms).
pub const LIVENESS_BOUND_MS: u64 = 60_000;

#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Byz {
    Silent,
    EquivocatingProposer,
    DoubleVoter,
    BadSignatures,
    UnknownValues,
    Replayer,
}
const BYZ_KINDS: [Byz; 6] = [
    Byz::Silent,
    Byz::EquivocatingProposer,
    Byz::DoubleVoter,
    Byz::BadSignatures,
    Byz::UnknownValues,
    Byz::Replayer,
];

#[derive(Clone, Copy, Debug, Default)]
pub struct SimConfig {
    pub seed: u64,
    /// Deliberately broken variant: crashed nodes restart WITHOUT their WAL (amnesia).
    pub amnesia: bool,
}

#[derive(Debug, Default)]
pub struct SimResult {
    pub n: usize,
    pub violations: Vec<String>,
    pub trace_hash: [u8; 32],
    pub faults: BTreeMap<&'static str, u64>,
    pub heights: u64,
    pub msgs_sent: u64,
    pub worst_ttc_after_heal: u64,
}

struct Node {
    key: SecretKey,
    pk: PublicKey,
    engine: Engine,
    wal: Vec<WalEntry>,
    chain: Vec<(Block, CommitCertificate)>,
    up: bool,
    epoch: u64,
    byz: Option<Byz>,
    memory: Vec<ConsensusMsg>,
    sync_pending: bool,
    commit_after_heal: Option<u64>,
}

enum Ev {
    Deliver {
        to: usize,
        msg: ConsensusMsg,
    },
    Timer {
        node: usize,
        epoch: u64,
        input: Input,
    },
    Start {
        node: usize,
        epoch: u64,
        height: u64,
    },
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    Heal,
    Sync {
        to: usize,
        epoch: u64,
        block: Block,
        cert: CommitCertificate,
    },
}

pub struct World {
    rng: ChaCha8Rng,
    cfg: SimConfig,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Ev>,
    nodes: Vec<Node>,
    vset: ValidatorSet,
    params: ConsensusParams,
    delay: (u64, u64),
    drop_p: f64,
    dup_p: f64,
    partition: Option<Vec<u8>>,
    healed: bool,
    heal_at: u64,
    checker: Checker,
    /// One signature memo for all engines of this world (`consensus::signature_check::MemoCheck`).
    memo: Arc<MemoCheck>,
    trace: Sha256,
    res: SimResult,
}

fn params() -> ConsensusParams {
    ConsensusParams {
        timeout_propose_ms: 300,
        timeout_prevote_ms: 200,
        timeout_precommit_ms: 200,
        timeout_delta_ms: 100,
        block_interval_ms: 20,
        ..ConsensusParams::default()
    }
}

impl World {
    pub fn new(cfg: SimConfig) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let n = [4usize, 7, 10][(cfg.seed % 3) as usize];
        let f = (n - 1) / 3;
        let keys: Vec<SecretKey> = (0..n)
            .map(|i| SecretKey::from_label(&format!("sim-validator-{i}")))
            .collect();
        let vset = ValidatorSet::new(
            keys.iter()
                .enumerate()
                .map(|(i, k)| ValidatorInfo {
                    org: OrgId::new(&format!("ORG{i}")).unwrap(),
                    public_key: k.public(),
                    power: 1,
                })
                .collect(),
        )
        .unwrap();
        let params = params();
        // Fault plan: b Byzantine + c crash-prone <= f.
        let mut b = rng.random_range(0..=f);
        let mut c = rng.random_range(0..=(f - b));
        if cfg.amnesia {
            b = b.min(f - 1);
            c = c.max(1);
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut rng);
        let mut res = SimResult {
            n,
            ..SimResult::default()
        };
        let memo = Arc::new(MemoCheck::default());
        let mut nodes: Vec<Node> = keys
            .into_iter()
            .map(|key| Node {
                pk: key.public(),
                engine: Engine::new(EngineConfig {
                    chain_id: CHAIN.into(),
                    secret_key: Some(key.clone()),
                    params: params.clone(),
                })
                .with_signature_check(memo.clone()),
                key,
                wal: Vec::new(),
                chain: Vec::new(),
                up: true,
                epoch: 0,
                byz: None,
                memory: Vec::new(),
                sync_pending: false,
                commit_after_heal: None,
            })
            .collect();
        for &i in &order[..b] {
            let kind = BYZ_KINDS[rng.random_range(0..BYZ_KINDS.len())];
            nodes[i].byz = Some(kind);
            *res.faults.entry(byz_name(kind)).or_default() += 1;
        }
        let heal_at = rng.random_range(500..4_000);
        let mut w = World {
            delay: (rng.random_range(2..30), rng.random_range(0..80)),
            drop_p: [0.0, 0.05, 0.2, 0.4][rng.random_range(0..4)],
            dup_p: [0.0, 0.05, 0.2][rng.random_range(0..3)],
            rng,
            cfg,
            now: 0,
            seq: 0,
            queue: BTreeMap::new(),
            nodes,
            vset,
            params,
            partition: None,
            healed: false,
            heal_at,
            checker: Checker::default(),
            memo,
            trace: Sha256::new(),
            res,
        };
        // Crash plan: each crash-prone node crashes 1-2 times before heal, restarting before heal.
        for &i in &order[b..b + c] {
            let cycles = w.rng.random_range(1..=2);
            for _ in 0..cycles {
                let at = w.rng.random_range(0..heal_at);
                let back = w.rng.random_range(at + 1..=heal_at);
                w.push(at, Ev::Crash { node: i });
                w.push(back, Ev::Restart { node: i });
            }
        }
        // Partition plan: with probability 1/2, two groups from some time until heal.
        if w.rng.random_bool(0.5) {
            let groups: Vec<u8> = (0..n).map(|_| w.rng.random_range(0..2)).collect();
            w.partition = Some(groups);
            *w.res.faults.entry("partition").or_default() += 1;
        }
        w.push(heal_at, Ev::Heal);
        for i in 0..n {
            if w.nodes[i].byz == Some(Byz::Silent) {
                w.nodes[i].up = false;
                continue;
            }
            w.push(
                0,
                Ev::Start {
                    node: i,
                    epoch: 0,
                    height: 1,
                },
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

    pub fn run(mut self) -> SimResult {
        let deadline = self.heal_at + LIVENESS_BOUND_MS;
        while let Some(((at, _), ev)) = self.queue.pop_first() {
            if at > deadline {
                break;
            }
            self.now = at;
            self.step(ev);
            if self.done() {
                break;
            }
        }
        for i in 0..self.nodes.len() {
            if self.honest(i) && self.nodes[i].commit_after_heal.is_none() {
                self.checker.violations.push(format!(
                    "LIVENESS: honest node {i} did not commit within {LIVENESS_BOUND_MS} ms of heal"
                ));
            }
        }
        self.res.worst_ttc_after_heal = (0..self.nodes.len())
            .filter_map(|i| self.nodes[i].commit_after_heal)
            .max()
            .unwrap_or(0);
        self.res.heights = self.checker.committed.len() as u64;
        self.res.violations = std::mem::take(&mut self.checker.violations);
        self.res.trace_hash = self.trace.finalize().into();
        self.res
    }

    fn done(&self) -> bool {
        self.healed
            && (0..self.nodes.len())
                .filter(|&i| self.honest(i))
                .all(|i| self.nodes[i].commit_after_heal.is_some() && self.nodes[i].chain.len() as u64 >= TARGET_HEIGHT)
    }

    fn step(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { to, msg } => {
                if !self.nodes[to].up {
                    return;
                }
                let node_height = self.nodes[to].chain.len() as u64 + 1;
                if msg.height() > node_height {
                    self.request_sync(to);
                }
                if self.nodes[to].byz == Some(Byz::Replayer) && self.nodes[to].memory.len() < 200 {
                    self.nodes[to].memory.push(msg.clone());
                }
                self.feed(to, Input::Message(msg));
            }
            Ev::Timer { node, epoch, input } => {
                if self.nodes[node].up && self.nodes[node].epoch == epoch {
                    self.feed(node, input);
                }
            }
            Ev::Start { node, epoch, height } => {
                if self.nodes[node].up
                    && self.nodes[node].epoch == epoch
                    && self.nodes[node].chain.len() as u64 + 1 == height
                {
                    self.nodes[node].wal.retain(|e| e.height() >= height);
                    let validators = self.vset.clone();
                    self.feed(node, Input::StartHeight { height, validators });
                }
            }
            Ev::Crash { node } => {
                if self.nodes[node].up {
                    self.fault("crash");
                    self.nodes[node].up = false;
                    self.nodes[node].epoch += 1;
                }
            }
            Ev::Restart { node } => {
                if self.nodes[node].up {
                    return;
                }
                let nd = &mut self.nodes[node];
                nd.up = true;
                nd.epoch += 1;
                nd.sync_pending = false;
                nd.engine = Engine::new(EngineConfig {
                    chain_id: CHAIN.into(),
                    secret_key: Some(nd.key.clone()),
                    params: self.params.clone(),
                })
                .with_signature_check(self.memo.clone());
                let height = nd.chain.len() as u64 + 1;
                if self.cfg.amnesia {
                    nd.wal.clear();
                } else {
                    let wal = nd.wal.clone();
                    self.feed(node, Input::RestoreWal(wal));
                }
                let validators = self.vset.clone();
                self.feed(node, Input::StartHeight { height, validators });
            }
            Ev::Heal => {
                self.healed = true;
                self.partition = None;
                self.drop_p = 0.0;
            }
            Ev::Sync { to, epoch, block, cert } => {
                if !self.nodes[to].up || self.nodes[to].epoch != epoch {
                    return;
                }
                self.nodes[to].sync_pending = false;
                let nd = &self.nodes[to];
                let h = block.header.height;
                if nd.chain.len() as u64 + 1 != h {
                    return;
                }
                // The host checks what it syncs: certificate and block rule.
                let prev = nd.chain.last().map(|(b, _)| b.hash()).unwrap_or_else(genesis_prev);
                if cert.verify(CHAIN, h, &block.hash(), &self.vset).is_err()
                    || !sim_block_valid(CHAIN, &block, h, &prev)
                {
                    return;
                }
                self.fault("sync");
                self.commit(to, block, cert);
                let validators = self.vset.clone();
                self.nodes[to].wal.retain(|e| e.height() > h);
                self.feed(
                    to,
                    Input::StartHeight {
                        height: h + 1,
                        validators,
                    },
                );
            }
        }
    }

    fn request_sync(&mut self, to: usize) {
        if self.nodes[to].sync_pending {
            return;
        }
        let h = self.nodes[to].chain.len();
        let peers: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| j != to && self.nodes[j].chain.len() > h)
            .collect();
        if peers.is_empty() {
            return;
        }
        let j = peers[self.rng.random_range(0..peers.len())];
        let (block, cert) = self.nodes[j].chain[h].clone();
        self.nodes[to].sync_pending = true;
        let at = self.now + self.delay.0 + self.rng.random_range(0..=self.delay.1);
        let epoch = self.nodes[to].epoch;
        self.push(at, Ev::Sync { to, epoch, block, cert });
    }

    fn commit(&mut self, node: usize, block: Block, cert: CommitCertificate) {
        if self.honest(node) {
            self.checker.on_commit(node, CHAIN, &block, &cert, &self.vset);
            if self.healed && self.nodes[node].commit_after_heal.is_none() {
                self.nodes[node].commit_after_heal = Some(self.now - self.heal_at);
            }
        }
        self.trace.update(b"commit");
        self.trace.update(node.to_le_bytes());
        self.trace.update(block.hash().0);
        self.nodes[node].chain.push((block, cert));
    }

    /// Hand one input to a node's engine and act on its outputs like a host would.
    fn feed(&mut self, i: usize, input: Input) {
        let mut work = VecDeque::from([input]);
        while let Some(input) = work.pop_front() {
            if !self.nodes[i].up {
                return;
            }
            let outs = self.nodes[i].engine.handle(input);
            for o in outs {
                self.trace.update(self.now.to_le_bytes());
                self.trace.update(i.to_le_bytes());
                match o {
                    Output::Broadcast(msg) => {
                        self.trace.update(borsh::to_vec(&msg).unwrap_or_default());
                        if self.honest(i) {
                            let pk = self.nodes[i].pk;
                            self.checker.on_honest_broadcast(i, &pk, &msg);
                        }
                        self.byzantine_send(i, msg);
                    }
                    Output::ScheduleTimeout { timeout, after_ms } => {
                        self.trace.update(after_ms.to_le_bytes());
                        let epoch = self.nodes[i].epoch;
                        self.push(
                            self.now + after_ms,
                            Ev::Timer {
                                node: i,
                                epoch,
                                input: Input::TimeoutElapsed(timeout),
                            },
                        );
                    }
                    Output::BuildBlock { height, round } => {
                        let block = self.build_block(i, height, round, false);
                        work.push_back(Input::ProposedBlock { height, round, block });
                    }
                    Output::ValidateBlock { height, round, block } => {
                        let prev = self.nodes[i]
                            .chain
                            .last()
                            .map(|(b, _)| b.hash())
                            .unwrap_or_else(genesis_prev);
                        let valid = sim_block_valid(CHAIN, &block, height, &prev);
                        work.push_back(Input::BlockValidity {
                            height,
                            round,
                            block_hash: block.hash(),
                            valid,
                        });
                    }
                    Output::PersistWal(e) => {
                        self.trace.update(b"wal");
                        self.nodes[i].wal.push(e);
                    }
                    Output::Decided { block, certificate } => {
                        let h = block.header.height;
                        if self.nodes[i].chain.len() as u64 + 1 != h {
                            continue;
                        }
                        self.commit(i, block, certificate);
                        let epoch = self.nodes[i].epoch;
                        self.push(
                            self.now + self.params.block_interval_ms,
                            Ev::Start {
                                node: i,
                                epoch,
                                height: h + 1,
                            },
                        );
                    }
                    Output::Equivocation { pairs, .. } => {
                        self.res
                            .faults
                            .entry("evidence_pairs_reported")
                            .and_modify(|c| *c += pairs.len() as u64)
                            .or_insert(pairs.len() as u64);
                    }
                    Output::RoundStarted { .. } => {}
                }
            }
        }
    }

    fn build_block(&mut self, i: usize, height: u64, round: u32, invalid: bool) -> Block {
        let prev = self.nodes[i]
            .chain
            .last()
            .map(|(b, _)| b.hash())
            .unwrap_or_else(genesis_prev);
        let salt: u64 = if invalid { self.rng.random() } else { 0 };
        Block {
            header: BlockHeader {
                version: if invalid { 999 } else { 1 },
                chain_id: CHAIN.into(),
                height,
                prev_hash: prev,
                tx_root: Hash::ZERO,
                tx_count: 0,
                results_hash: Hash::ZERO,
                time_ms: (height * 1000 + u64::from(round)) as i64,
                proposer: self.nodes[i].pk,
                validators_hash: self.vset.hash(),
                state_hash: Hash::tagged_parts(
                    "sim/state",
                    &[
                        &height.to_le_bytes(),
                        &round.to_le_bytes(),
                        &i.to_le_bytes(),
                        &salt.to_le_bytes(),
                    ],
                ),
            },
            txs: vec![],
        }
    }

    fn reachable(&self, from: usize, to: usize) -> bool {
        match &self.partition {
            Some(g) if !self.healed && self.now >= self.heal_at / 4 => g[from] == g[to],
            _ => true,
        }
    }

    fn send(&mut self, from: usize, to: usize, msg: ConsensusMsg) {
        if to == from {
            return;
        }
        if !self.reachable(from, to) {
            self.fault("partition_drop");
            return;
        }
        if self.drop_p > 0.0 && self.rng.random_bool(self.drop_p) {
            self.fault("drop");
            return;
        }
        let copies = if self.dup_p > 0.0 && self.rng.random_bool(self.dup_p) {
            self.fault("duplicate");
            2
        } else {
            1
        };
        for _ in 0..copies {
            // Independent jitter per copy also reorders messages.
            let at = self.now + self.delay.0 + self.rng.random_range(0..=self.delay.1);
            self.res.msgs_sent += 1;
            self.push(at, Ev::Deliver { to, msg: msg.clone() });
        }
    }

    fn send_all(&mut self, from: usize, msg: &ConsensusMsg) {
        for to in 0..self.nodes.len() {
            self.send(from, to, msg.clone());
        }
    }

    fn sign_vote(&self, i: usize, height: u64, round: u32, kind: VoteKind, block_hash: Option<Hash>) -> SignedVoteMsg {
        let sig = self.nodes[i]
            .key
            .sign(&vote_sign_bytes(CHAIN, kind, height, round, block_hash));
        SignedVoteMsg {
            height,
            round,
            kind,
            block_hash,
            validator: self.nodes[i].pk,
            signature: sig,
        }
    }

    /// Send a node's broadcast, bent by its Byzantine behaviour if it has one.
    fn byzantine_send(&mut self, i: usize, msg: ConsensusMsg) {
        let n = self.nodes.len();
        match (self.nodes[i].byz, &msg) {
            (None, _) | (Some(Byz::Silent), _) => self.send_all(i, &msg),
            (Some(Byz::EquivocatingProposer), ConsensusMsg::Proposal { proposal, .. }) => {
                self.fault("equivocating_proposal");
                let invalid = self.rng.random_bool(0.5);
                if invalid {
                    self.fault("invalid_block_proposed");
                }
                let mut other = self.build_block(i, proposal.height, proposal.round, invalid);
                other.header.time_ms += 1;
                let mut p2 = proposal.clone();
                p2.block_hash = other.hash();
                p2.signature = self.nodes[i].key.sign(&proposal_sign_bytes(
                    CHAIN,
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
                    let m = if to % 2 == 0 { msg.clone() } else { alt.clone() };
                    self.send(i, to, m);
                }
            }
            (Some(Byz::DoubleVoter), ConsensusMsg::Vote(v)) => {
                self.fault("double_vote");
                let other = match v.block_hash {
                    Some(_) => None,
                    None => Some(Hash::tagged("sim/other", &v.round.to_le_bytes())),
                };
                let v2 = ConsensusMsg::Vote(self.sign_vote(i, v.height, v.round, v.kind, other));
                for to in 0..n {
                    let m = if self.rng.random_bool(0.5) {
                        msg.clone()
                    } else {
                        v2.clone()
                    };
                    self.send(i, to, m);
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
                // A vote forged in another validator's name.
                let victim = self.rng.random_range(0..n);
                let forged = ConsensusMsg::Vote(SignedVoteMsg {
                    height: msg.height(),
                    round: 0,
                    kind: VoteKind::Precommit,
                    block_hash: Some(Hash::tagged("sim/forged", &victim.to_le_bytes())),
                    validator: self.nodes[victim].pk,
                    signature: Signature([7u8; 64]),
                });
                self.send_all(i, &forged);
            }
            (Some(Byz::UnknownValues), ConsensusMsg::Vote(v)) => {
                self.fault("unknown_value_vote");
                let fake: u64 = self.rng.random();
                let v2 = self.sign_vote(
                    i,
                    v.height,
                    v.round,
                    v.kind,
                    Some(Hash::tagged("sim/unknown", &fake.to_le_bytes())),
                );
                self.send_all(i, &ConsensusMsg::Vote(v2));
            }
            (Some(Byz::Replayer), _) => {
                self.send_all(i, &msg);
                let k = self.nodes[i].memory.len();
                if k > 0 {
                    self.fault("replayed_old_message");
                    let old = self.nodes[i].memory[self.rng.random_range(0..k)].clone();
                    self.send_all(i, &old);
                }
            }
            (Some(_), _) => self.send_all(i, &msg),
        }
    }
}

pub fn byz_name(b: Byz) -> &'static str {
    match b {
        Byz::Silent => "byz_silent",
        Byz::EquivocatingProposer => "byz_equivocating_proposer",
        Byz::DoubleVoter => "byz_double_voter",
        Byz::BadSignatures => "byz_bad_signatures",
        Byz::UnknownValues => "byz_unknown_values",
        Byz::Replayer => "byz_replayer",
    }
}
