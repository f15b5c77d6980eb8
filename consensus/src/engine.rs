//! The engine: one per node, a pure `handle(Input) -> Vec<Output>` over Malachite's `State`.
//!
//! Owns: the translation between the node's inputs/outputs and Malachite's inputs/effects,
//! signing and verification, the per-height block cache, timer bookkeeping and the WAL stream.
//!
//! Invariants:
//! - Pure: no I/O, clock, threads or randomness. Same inputs, same outputs, byte for byte.
//! - Outputs are ordered: a `PersistWal` comes before any `Broadcast` that depends on it; the
//!   host must make each `PersistWal` durable before acting on later outputs.
//! - Own votes: the engine never signs two different votes for one (height, round, kind). It
//!   keeps a map of what it signed (rebuilt from the WAL after a restart) and refuses to sign a
//!   conflicting vote even if the core asked for one (defence in depth over Malachite's replay).
//! - A `Decided` carries the block whose hash the 2f+1 precommits name and a ledger
//!   `CommitCertificate` that `CommitCertificate::verify` accepts.
use crate::context::{
    BlockValue, TcAddress, TcContext, TcHeight, TcProposal, TcSignature, TcTimeouts, TcValidatorSet, TcVote,
    nil_or_val_to_option, vote_kind,
};
use crate::signature_check::{Ed25519Check, SignatureCheck};
use crate::wire::{
    ConsensusMsg, SignedProposalMsg, SignedVoteMsg, Timeout, TimeoutKind, WalEntry, polka_from_wire, polka_to_wire,
    proposal_from_wire, proposal_to_wire, round_cert_from_wire, round_cert_to_wire, timeout_kind_from_mc,
    timeout_to_mc, vote_from_wire, vote_to_wire, wal_to_input,
};
use malachitebft_core_consensus::{
    self as mcc, Effect, Input as McInput, LivenessMsg, LocallyProposedValue, Params, ProposedValue, Resumable, Resume,
    SignedConsensusMsg, State, ThresholdParams, ValuePayload,
};
use malachitebft_core_types::{
    CertificateError, CommitCertificate as McCommitCertificate, NilOrVal, PolkaCertificate, Round, RoundCertificate,
    RoundCertificateType, SignedMessage, Validity, ValueOrigin, VoteExtensionPolicy, VoteType,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tradechain_ledger::certificate::{CommitSig, VoteKind};
use tradechain_ledger::genesis::ConsensusParams;
use tradechain_ledger::{Block, CommitCertificate, Hash, PublicKey, SecretKey, ValidatorSet};

/// Messages Malachite's core may keep for later rounds of the current height.
const MAX_FUTURE_MSGS: usize = crate::future_buffer::MAX_MSGS;
/// Distinct blocks cached per height (bounded against a spamming proposer).
const MAX_BLOCKS_PER_HEIGHT: usize = 64;

#[derive(Clone)]
pub struct EngineConfig {
    pub chain_id: String,
    /// The validator's consensus key; `None` for an observer (follows, never signs).
    pub secret_key: Option<SecretKey>,
    pub params: ConsensusParams,
}

#[derive(Clone, Debug)]
pub enum Input {
    /// Begin `height` with the set the ledger says is in force there (after `RestoreWal`, if any).
    StartHeight {
        height: u64,
        validators: ValidatorSet,
    },
    /// A message from a peer; junk (bad signature, unknown signer, wrong height) is ignored.
    Message(ConsensusMsg),
    TimeoutElapsed(Timeout),
    /// The host's answer to `Output::BuildBlock`.
    ProposedBlock {
        height: u64,
        round: u32,
        block: Block,
    },
    /// The host's answer to `Output::ValidateBlock`.
    BlockValidity {
        height: u64,
        round: u32,
        block_hash: Hash,
        valid: bool,
    },
    /// The persisted WAL, after a restart and before `StartHeight`.
    RestoreWal(Vec<WalEntry>),
}

#[derive(Clone, Debug)]
pub enum Output {
    Broadcast(ConsensusMsg),
    ScheduleTimeout {
        timeout: Timeout,
        after_ms: u64,
    },
    BuildBlock {
        height: u64,
        round: u32,
    },
    ValidateBlock {
        height: u64,
        round: u32,
        block: Block,
    },
    /// Persist (fsync) before acting on any later output.
    PersistWal(WalEntry),
    Decided {
        block: Block,
        certificate: CommitCertificate,
    },
    /// The engine entered `round` of `height` (for the host's status and metrics).
    RoundStarted {
        height: u64,
        round: u32,
    },
    /// Validators caught signing two different votes for one (height, round, kind): each pair
    /// is self-proving evidence (both signatures verify).
    Equivocation {
        height: u64,
        pairs: Vec<(SignedVoteMsg, SignedVoteMsg)>,
    },
}

#[derive(Clone, Copy, Debug)]
struct ProposalMeta {
    round: u32,
    pol_round: Option<u32>,
    proposer: PublicKey,
}

pub struct Engine {
    ctx: TcContext,
    check: Arc<dyn SignatureCheck>,
    key: Option<SecretKey>,
    address: TcAddress,
    timeouts: TcTimeouts,
    state: Option<State<TcContext>>,
    height: u64,
    validators: Option<ValidatorSet>,
    blocks: BTreeMap<Hash, Block>,
    awaiting_validation: BTreeMap<Hash, ProposalMeta>,
    awaiting_build: Option<(u64, u32)>,
    future: crate::future_buffer::FutureBuffer,
    timers: BTreeMap<(TimeoutKind, u32), u64>,
    next_seq: u64,
    own_votes: BTreeMap<(u64, u32, VoteKind), Option<Hash>>,
    own_proposals: BTreeMap<(u64, u32), Hash>,
    wal: Vec<WalEntry>,
    replaying: bool,
    decided: BTreeSet<u64>,
    out: Vec<Output>,
}

// Certificate checks answer Malachite with its own (large) `CertificateError` type.
#[allow(clippy::result_large_err)]
impl Engine {
    /// Check signatures with `check` instead of plain ed25519 (e.g. a memo shared by the nodes
    /// of a simulation). `check` must answer as `Ed25519Check` does (see `signature_check`).
    pub fn with_signature_check(mut self, check: Arc<dyn SignatureCheck>) -> Engine {
        self.check = check;
        self
    }

    pub fn new(cfg: EngineConfig) -> Engine {
        let address = TcAddress(
            cfg.secret_key
                .as_ref()
                .map(|k| k.public())
                .unwrap_or(PublicKey([0u8; 32])),
        );
        Engine {
            ctx: TcContext {
                chain_id: Arc::from(cfg.chain_id.as_str()),
            },
            check: Arc::new(Ed25519Check),
            key: cfg.secret_key,
            address,
            timeouts: TcTimeouts::from_params(&cfg.params),
            state: None,
            height: 0,
            validators: None,
            blocks: BTreeMap::new(),
            awaiting_validation: BTreeMap::new(),
            awaiting_build: None,
            future: Default::default(),
            timers: BTreeMap::new(),
            next_seq: 0,
            own_votes: BTreeMap::new(),
            own_proposals: BTreeMap::new(),
            wal: Vec::new(),
            replaying: false,
            decided: BTreeSet::new(),
            out: Vec::new(),
        }
    }

    /// The height being decided (0 before the first `StartHeight`).
    pub fn height(&self) -> u64 {
        self.height
    }

    /// The current round, if a height is running.
    pub fn round(&self) -> Option<u32> {
        self.state.as_ref().and_then(|s| s.round().as_u32())
    }

    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        match input {
            Input::RestoreWal(entries) => self.on_restore_wal(entries),
            Input::StartHeight { height, validators } => self.on_start_height(height, validators),
            Input::Message(msg) => self.on_message(msg),
            Input::TimeoutElapsed(t) => self.on_timeout(t),
            Input::ProposedBlock { height, round, block } => self.on_proposed_block(height, round, block),
            Input::BlockValidity {
                height,
                block_hash,
                valid,
                ..
            } => self.on_block_validity(height, block_hash, valid),
        }
        std::mem::take(&mut self.out)
    }

    fn on_restore_wal(&mut self, entries: Vec<WalEntry>) {
        for e in &entries {
            match e {
                WalEntry::Vote(v) if v.validator == self.address.0 => {
                    self.own_votes
                        .entry((v.height, v.round, v.kind))
                        .or_insert(v.block_hash);
                }
                WalEntry::Proposal(p) if p.proposer == self.address.0 => {
                    self.own_proposals.entry((p.height, p.round)).or_insert(p.block_hash);
                }
                _ => {}
            }
        }
        self.wal = entries;
    }

    fn on_start_height(&mut self, height: u64, validators: ValidatorSet) {
        if height == 0 || (self.state.is_some() && height < self.height) {
            return;
        }
        let Some(vset) = TcValidatorSet::from_ledger(&validators) else {
            return;
        };
        self.height = height;
        self.validators = Some(validators);
        self.blocks.clear();
        self.awaiting_validation.clear();
        self.awaiting_build = None;
        self.timers.clear();
        self.own_votes.retain(|(h, _, _), _| *h >= height);
        self.own_proposals.retain(|(h, _), _| *h >= height);

        let wal: Vec<WalEntry> = std::mem::take(&mut self.wal)
            .into_iter()
            .filter(|e| e.height() == height)
            .collect();
        let is_restart = !wal.is_empty();

        let mut state = match self.state.take() {
            Some(s) => s,
            None => State::new(
                self.ctx.clone(),
                TcHeight(height),
                vset.clone(),
                Params {
                    address: self.address,
                    threshold_params: ThresholdParams::default(),
                    value_payload: ValuePayload::ProposalAndParts,
                    enabled: true,
                },
                16,
                MAX_FUTURE_MSGS,
            ),
        };
        self.run(
            &mut state,
            McInput::StartHeight(TcHeight(height), vset, is_restart, None, VoteExtensionPolicy::Disabled),
        );
        if is_restart {
            let inputs: Vec<McInput<TcContext>> = wal
                .iter()
                .map(|e| {
                    let (input, block) = wal_to_input(e);
                    if let Some(b) = block {
                        self.blocks.insert(b.hash(), b.clone());
                    }
                    input
                })
                .collect();
            state.index_wal_entries(inputs.iter());
            self.replaying = true;
            for input in inputs {
                self.run(&mut state, input);
            }
            self.replaying = false;
            state.reset_entries_index();
        }
        self.state = Some(state);

        for msg in self.future.take_for(height) {
            self.on_message(msg);
        }
    }

    fn on_message(&mut self, msg: ConsensusMsg) {
        let Some(mut state) = self.state.take() else {
            self.buffer_future(msg);
            return;
        };
        let h = msg.height();
        if h > self.height {
            self.buffer_future(msg);
        } else if h == self.height && !self.decided.contains(&h) {
            self.on_current_message(&mut state, msg);
        }
        self.state = Some(state);
    }

    fn buffer_future(&mut self, msg: ConsensusMsg) {
        self.future.insert(self.height, msg);
    }

    fn on_current_message(&mut self, state: &mut State<TcContext>, msg: ConsensusMsg) {
        match msg {
            ConsensusMsg::Vote(v) => self.run(state, McInput::Vote(vote_from_wire(&v))),
            ConsensusMsg::Proposal { proposal, block } => self.on_proposal_msg(state, proposal, block),
            ConsensusMsg::PolkaCertificate {
                height,
                round,
                block_hash,
                signatures,
            } => self.run(
                state,
                McInput::PolkaCertificate(polka_from_wire(height, round, block_hash, &signatures)),
            ),
            ConsensusMsg::RoundCertificate {
                height,
                round,
                skip,
                votes,
            } => {
                if let Some(c) = round_cert_from_wire(height, round, skip, &votes) {
                    self.run(state, McInput::RoundCertificate(c));
                }
            }
        }
    }

    fn on_proposal_msg(&mut self, state: &mut State<TcContext>, p: SignedProposalMsg, block: Block) {
        if block.hash() != p.block_hash {
            return;
        }
        // Check the proposer and its signature before caching the block or asking the host to
        // validate it, so a peer cannot make us store or execute unsigned blocks.
        let Some(vset) = &self.validators else { return };
        let n = vset.validators.len();
        let expected = vset.validators[crate::context::proposer_index(n, p.height, p.round)].public_key;
        if expected != p.proposer {
            return;
        }
        // The block must name its builder: this round's proposer for a fresh proposal; for a
        // re-proposal of a block that had a polka in `pol_round`, the proposer of a round up to
        // it. A proposer cannot pass off a block as another validator's.
        let builder_ok = match p.pol_round {
            None => block.header.proposer == p.proposer,
            Some(pr) => (0..=pr.min(n as u32)).any(|r| {
                vset.validators
                    .get(crate::context::proposer_index(n, p.height, r))
                    .is_some_and(|v| v.public_key == block.header.proposer)
            }),
        };
        if !builder_ok {
            return;
        }
        let signed = proposal_from_wire(&p);
        if !self
            .check
            .verify(&p.proposer, &self.ctx.proposal_bytes(&signed.message), &p.signature)
        {
            return;
        }
        self.run(state, McInput::Proposal(signed));
        if self.blocks.contains_key(&p.block_hash) || self.blocks.len() >= MAX_BLOCKS_PER_HEIGHT {
            return;
        }
        self.blocks.insert(p.block_hash, block.clone());
        self.awaiting_validation.insert(
            p.block_hash,
            ProposalMeta {
                round: p.round,
                pol_round: p.pol_round,
                proposer: p.proposer,
            },
        );
        self.out.push(Output::ValidateBlock {
            height: p.height,
            round: p.round,
            block,
        });
    }

    fn on_timeout(&mut self, t: Timeout) {
        if t.height != self.height || self.timers.get(&(t.kind, t.round)) != Some(&t.seq) {
            return;
        }
        self.timers.remove(&(t.kind, t.round));
        let Some(mut state) = self.state.take() else { return };
        self.run(&mut state, McInput::TimeoutElapsed(timeout_to_mc(t.kind, t.round)));
        self.state = Some(state);
    }

    fn on_proposed_block(&mut self, height: u64, round: u32, block: Block) {
        if self.awaiting_build != Some((height, round)) || height != self.height {
            return;
        }
        self.awaiting_build = None;
        let Some(mut state) = self.state.take() else { return };
        let hash = block.hash();
        self.blocks.insert(hash, block);
        self.run(
            &mut state,
            McInput::Propose(LocallyProposedValue::new(
                TcHeight(height),
                Round::new(round),
                BlockValue(hash),
            )),
        );
        self.state = Some(state);
    }

    fn on_block_validity(&mut self, height: u64, hash: Hash, valid: bool) {
        if height != self.height {
            return;
        }
        let Some(meta) = self.awaiting_validation.remove(&hash) else {
            return;
        };
        let Some(mut state) = self.state.take() else { return };
        self.run(
            &mut state,
            McInput::ProposedValue(
                ProposedValue {
                    height: TcHeight(height),
                    round: Round::new(meta.round),
                    valid_round: meta.pol_round.map(Round::new).unwrap_or(Round::Nil),
                    proposer: TcAddress(meta.proposer),
                    value: BlockValue(hash),
                    validity: Validity::from_bool(valid),
                },
                ValueOrigin::Consensus,
            ),
        );
        self.state = Some(state);
    }

    /// Feed one input to Malachite, answering its effects until it completes.
    fn run(&mut self, state: &mut State<TcContext>, input: McInput<TcContext>) {
        let metrics = ();
        let result: Result<(), mcc::Error<TcContext>> = mcc::process!(
            input: input,
            state: state,
            metrics: &metrics,
            with: effect => self.on_effect(effect)
        );
        if let Err(e) = result {
            tracing::warn!(height = self.height, "consensus input aborted: {e}");
        }
    }

    fn on_effect(&mut self, effect: Effect<TcContext>) -> Result<Resume<TcContext>, String> {
        match effect {
            Effect::CancelAllTimeouts(r) => {
                self.timers.clear();
                Ok(r.resume_with(()))
            }
            Effect::CancelTimeout(t, r) => {
                if let (Some(kind), Some(round)) = (timeout_kind_from_mc(&t.kind), t.round.as_u32()) {
                    self.timers.remove(&(kind, round));
                }
                Ok(r.resume_with(()))
            }
            Effect::ScheduleTimeout(t, r) => {
                if let (Some(kind), Some(round)) = (timeout_kind_from_mc(&t.kind), t.round.as_u32()) {
                    self.next_seq += 1;
                    self.timers.insert((kind, round), self.next_seq);
                    self.out.push(Output::ScheduleTimeout {
                        timeout: Timeout {
                            height: self.height,
                            round,
                            kind,
                            seq: self.next_seq,
                        },
                        after_ms: self.timeouts.millis_for(&t),
                    });
                }
                Ok(r.resume_with(()))
            }
            Effect::StartRound(h, round, _, _, r) => {
                if let Some(round) = round.as_u32() {
                    self.out.push(Output::RoundStarted { height: h.0, round });
                }
                Ok(r.resume_with(()))
            }
            Effect::PublishConsensusMsg(msg, r) => {
                match msg {
                    SignedConsensusMsg::Vote(v) => self.broadcast_vote(&v),
                    SignedConsensusMsg::Proposal(p) => {
                        if let (Some(w), Some(block)) = (proposal_to_wire(&p), self.blocks.get(&p.message.value.0)) {
                            self.out.push(Output::Broadcast(ConsensusMsg::Proposal {
                                proposal: w,
                                block: block.clone(),
                            }));
                        }
                    }
                }
                Ok(r.resume_with(()))
            }
            Effect::PublishLivenessMsg(msg, r) => {
                match msg {
                    LivenessMsg::Vote(v) => self.broadcast_vote(&v),
                    LivenessMsg::PolkaCertificate(c) => self.broadcast_polka(&c),
                    LivenessMsg::SkipRoundCertificate(c) => self.broadcast_round_cert(&c),
                }
                Ok(r.resume_with(()))
            }
            Effect::RepublishVote(v, r) => {
                self.broadcast_vote(&v);
                Ok(r.resume_with(()))
            }
            Effect::RepublishRoundCertificate(c, r) => {
                self.broadcast_round_cert(&c);
                Ok(r.resume_with(()))
            }
            Effect::GetValue(h, round, _, r) => {
                if let Some(round) = round.as_u32() {
                    self.awaiting_build = Some((h.0, round));
                    self.out.push(Output::BuildBlock { height: h.0, round });
                }
                Ok(r.resume_with(()))
            }
            // The proposal message carries the whole block, and Malachite re-publishes the
            // proposal itself right after asking for a restream.
            Effect::RestreamProposal(.., r) => Ok(r.resume_with(())),
            Effect::CertVerifiedSyncValue(_, _, r) => Ok(r.resume_with(())),
            Effect::CertRejectedSyncValue(_, _, _, r) => Ok(r.resume_with(())),
            Effect::Decide(cert, _, r) => {
                self.on_decide(&cert);
                Ok(r.resume_with(()))
            }
            Effect::Finalize(_, _, evidence, r) => {
                let mut pairs = Vec::new();
                for (_, doubles) in evidence.votes.iter() {
                    for (a, b) in doubles {
                        if let (Some(a), Some(b)) = (vote_to_wire(a), vote_to_wire(b)) {
                            pairs.push((a, b));
                        }
                    }
                }
                if !pairs.is_empty() {
                    self.out.push(Output::Equivocation {
                        height: self.height,
                        pairs,
                    });
                }
                Ok(r.resume_with(()))
            }
            Effect::SignVote(vote, r) => {
                let signed = self.sign_vote(vote)?;
                Ok(r.resume_with(signed))
            }
            Effect::SignProposal(p, r) => {
                let signed = self.sign_proposal(p)?;
                Ok(r.resume_with(signed))
            }
            Effect::VerifySignature(msg, pk, r) => {
                let bytes = match &msg.message {
                    mcc::ConsensusMsg::Vote(v) => self.ctx.vote_bytes(v),
                    mcc::ConsensusMsg::Proposal(p) => self.ctx.proposal_bytes(p),
                };
                Ok(r.resume_with(self.check.verify(&pk, &bytes, &msg.signature.ledger())))
            }
            Effect::VerifyCommitCertificate(cert, vset, _, r) => {
                let sigs: Vec<(TcAddress, TcSignature)> = cert
                    .commit_signatures
                    .iter()
                    .map(|s| (s.address, s.signature))
                    .collect();
                let res = self.verify_votes(
                    &vset,
                    cert.height.0,
                    cert.round,
                    VoteType::Precommit,
                    |_| Some(cert.value_id),
                    &sigs,
                    true,
                );
                Ok(r.resume_with(res))
            }
            Effect::VerifyExtendedCommitCertificate(cert, vset, _, _, r) => {
                let sigs: Vec<(TcAddress, TcSignature)> = cert
                    .commit_signatures
                    .iter()
                    .map(|s| (s.address, s.signature))
                    .collect();
                let res = self.verify_votes(
                    &vset,
                    cert.height.0,
                    cert.round,
                    VoteType::Precommit,
                    |_| Some(cert.value_id),
                    &sigs,
                    true,
                );
                Ok(r.resume_with(res))
            }
            Effect::VerifyPolkaCertificate(cert, vset, _, r) => {
                let res = self.verify_polka(&cert, &vset);
                Ok(r.resume_with(res))
            }
            Effect::VerifyRoundCertificate(cert, vset, _, r) => {
                let res = self.verify_round_cert(&cert, &vset);
                Ok(r.resume_with(res))
            }
            Effect::WalAppend(_, input, r) => {
                if !self.replaying
                    && let Some(entry) = self.wal_entry(&input)
                {
                    self.out.push(Output::PersistWal(entry));
                }
                Ok(r.resume_with(()))
            }
            Effect::ExtendVote(.., r) => Ok(r.resume_with(None)),
            Effect::VerifyVoteExtension(.., r) => Ok(r.resume_with(Ok(()))),
        }
    }

    fn broadcast_vote(&mut self, v: &SignedMessage<TcContext, TcVote>) {
        if let Some(w) = vote_to_wire(v) {
            self.out.push(Output::Broadcast(ConsensusMsg::Vote(w)));
        }
    }

    fn broadcast_polka(&mut self, c: &PolkaCertificate<TcContext>) {
        if let Some(m) = polka_to_wire(c) {
            self.out.push(Output::Broadcast(m));
        }
    }

    fn broadcast_round_cert(&mut self, c: &RoundCertificate<TcContext>) {
        if let Some(m) = round_cert_to_wire(c) {
            self.out.push(Output::Broadcast(m));
        }
    }

    fn sign_vote(&mut self, vote: TcVote) -> Result<SignedMessage<TcContext, TcVote>, String> {
        let key = self.key.as_ref().ok_or("observer cannot sign")?;
        let round = vote.round.as_u32().ok_or("vote without a round")?;
        let k = (vote.height.0, round, vote_kind(vote.kind));
        let value = nil_or_val_to_option(&vote.value);
        if let Some(prev) = self.own_votes.get(&k)
            && *prev != value
        {
            return Err(format!("refusing to sign a second, different vote for {k:?}"));
        }
        let sig = key.sign(&self.ctx.vote_bytes(&vote));
        self.own_votes.insert(k, value);
        Ok(SignedMessage::new(vote, TcSignature(sig.0)))
    }

    fn sign_proposal(&mut self, p: TcProposal) -> Result<SignedMessage<TcContext, TcProposal>, String> {
        let key = self.key.as_ref().ok_or("observer cannot sign")?;
        let round = p.round.as_u32().ok_or("proposal without a round")?;
        let k = (p.height.0, round);
        if let Some(prev) = self.own_proposals.get(&k)
            && *prev != p.value.0
        {
            return Err(format!("refusing to sign a second, different proposal for {k:?}"));
        }
        let sig = key.sign(&self.ctx.proposal_bytes(&p));
        self.own_proposals.insert(k, p.value.0);
        Ok(SignedMessage::new(p, TcSignature(sig.0)))
    }

    fn on_decide(&mut self, cert: &McCommitCertificate<TcContext>) {
        let height = cert.height.0;
        let Some(round) = cert.round.as_u32() else { return };
        let Some(block) = self.blocks.get(&cert.value_id).cloned() else {
            tracing::error!(height, "decided a block that is not in the cache");
            return;
        };
        let certificate = CommitCertificate {
            height,
            round,
            block_hash: cert.value_id,
            signatures: cert
                .commit_signatures
                .iter()
                .map(|s| CommitSig {
                    validator: s.address.0,
                    signature: s.signature.ledger(),
                })
                .collect(),
        };
        if self.decided.insert(height) {
            self.out.push(Output::Decided { block, certificate });
        }
    }

    /// Signatures over votes of one kind in one round; every signer known, once; power above
    /// 2/3 (`quorum`) or above 1/3.
    #[allow(clippy::too_many_arguments)]
    fn verify_votes(
        &self,
        vset: &TcValidatorSet,
        height: u64,
        round: Round,
        kind: VoteType,
        value_of: impl Fn(usize) -> Option<Hash>,
        sigs: &[(TcAddress, TcSignature)],
        quorum: bool,
    ) -> Result<(), CertificateError<TcContext>> {
        self.verify_vote_list(
            vset,
            height,
            round,
            sigs.iter()
                .enumerate()
                .map(|(i, (a, s))| (kind, value_of(i), *a, *s))
                .collect(),
            quorum,
        )
    }

    fn verify_vote_list(
        &self,
        vset: &TcValidatorSet,
        height: u64,
        round: Round,
        votes: Vec<(VoteType, Option<Hash>, TcAddress, TcSignature)>,
        quorum: bool,
    ) -> Result<(), CertificateError<TcContext>> {
        use malachitebft_core_types::ValidatorSet as _;
        let mut seen = BTreeSet::new();
        let mut power = 0u64;
        for (kind, value, addr, sig) in votes {
            let v = vset
                .get_by_address(&addr)
                .ok_or(CertificateError::UnknownValidator(addr))?;
            if !seen.insert(addr) {
                return Err(CertificateError::DuplicateVote(addr));
            }
            let vote = TcVote {
                height: TcHeight(height),
                round,
                kind,
                value: match value {
                    Some(h) => NilOrVal::Val(h),
                    None => NilOrVal::Nil,
                },
                validator: addr,
            };
            if !self
                .check
                .verify(&v.public_key, &self.ctx.vote_bytes(&vote), &sig.ledger())
            {
                return Err(CertificateError::VerificationError(None));
            }
            power = power.saturating_add(v.power);
        }
        let total = vset.total_voting_power();
        let ok = if quorum {
            power.saturating_mul(3) > total.saturating_mul(2)
        } else {
            power.saturating_mul(3) > total
        };
        if ok {
            Ok(())
        } else {
            Err(CertificateError::NotEnoughVotingPower {
                signed: power,
                total,
                expected: if quorum { total * 2 / 3 + 1 } else { total / 3 + 1 },
            })
        }
    }

    fn verify_polka(
        &self,
        c: &PolkaCertificate<TcContext>,
        vset: &TcValidatorSet,
    ) -> Result<(), CertificateError<TcContext>> {
        let sigs: Vec<(TcAddress, TcSignature)> = c.polka_signatures.iter().map(|s| (s.address, s.signature)).collect();
        self.verify_votes(
            vset,
            c.height.0,
            c.round,
            VoteType::Prevote,
            |_| Some(c.value_id),
            &sigs,
            true,
        )
    }

    fn verify_round_cert(
        &self,
        c: &RoundCertificate<TcContext>,
        vset: &TcValidatorSet,
    ) -> Result<(), CertificateError<TcContext>> {
        let precommit_only = c.cert_type == RoundCertificateType::Precommit;
        let mut votes = Vec::new();
        for s in &c.round_signatures {
            if precommit_only && s.vote_type != VoteType::Precommit {
                return Err(CertificateError::InvalidVoteType(s.address));
            }
            votes.push((s.vote_type, nil_or_val_to_option(&s.value_id), s.address, s.signature));
        }
        self.verify_vote_list(vset, c.height.0, c.round, votes, precommit_only)
    }

    fn wal_entry(&self, input: &McInput<TcContext>) -> Option<WalEntry> {
        match input {
            McInput::Vote(v) => vote_to_wire(v).map(WalEntry::Vote),
            McInput::Proposal(p) => proposal_to_wire(p).map(WalEntry::Proposal),
            McInput::ProposedValue(pv, _) => {
                let block = self.blocks.get(&pv.value.0)?.clone();
                Some(WalEntry::ProposedValue {
                    height: pv.height.0,
                    round: pv.round.as_u32()?,
                    valid_round: pv.valid_round.as_u32(),
                    proposer: pv.proposer.0,
                    valid: pv.validity.is_valid(),
                    block,
                })
            }
            McInput::TimeoutElapsed(t) => Some(WalEntry::Timeout {
                height: self.height,
                round: t.round.as_u32()?,
                kind: timeout_kind_from_mc(&t.kind)?,
            }),
            McInput::PolkaCertificate(c) => match polka_to_wire(c)? {
                ConsensusMsg::PolkaCertificate {
                    height,
                    round,
                    block_hash,
                    signatures,
                } => Some(WalEntry::PolkaCertificate {
                    height,
                    round,
                    block_hash,
                    signatures,
                }),
                _ => None,
            },
            _ => None,
        }
    }
}
