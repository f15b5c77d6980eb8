//! Wire and WAL formats: the borsh messages peers exchange and the entries the host persists,
//! with their conversions to and from Malachite's generic types.
//!
//! Invariants:
//! - Every signed message here carries exactly the fields its ledger sign-bytes cover, so a
//!   signature checked by the receiver is the signature the ledger's certificate check accepts.
//! - Conversions never panic: a Malachite value that cannot be expressed on the wire (an
//!   undefined round) yields `None` and is dropped.
//! - `WalEntry` holds what the engine needs to rebuild a height after a crash: every vote it
//!   accepted or cast, the proposals it stored, host verdicts on blocks (with the block), the
//!   timeouts that fired, and polka certificates.
use crate::context::{
    BlockValue, TcAddress, TcContext, TcHeight, TcProposal, TcSignature, TcVote, nil_or_val_to_option, vote_kind,
    vote_type,
};
use borsh::{BorshDeserialize, BorshSerialize};
use malachitebft_core_consensus::{Input as McInput, ProposedValue};
use malachitebft_core_types::{
    NilOrVal, PolkaCertificate, PolkaSignature, Round, RoundCertificate, RoundCertificateType, RoundSignature,
    SignedProposal, SignedVote, Timeout as McTimeout, TimeoutKind as McTimeoutKind, Validity, ValueOrigin,
};
use tradechain_ledger::certificate::{CommitSig, VoteKind};
use tradechain_ledger::{Block, Hash, PublicKey, Signature};

/// A signed prevote or precommit.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedVoteMsg {
    pub height: u64,
    pub round: u32,
    pub kind: VoteKind,
    /// `None` is a nil vote.
    pub block_hash: Option<Hash>,
    pub validator: PublicKey,
    /// Over `vote_sign_bytes(chain_id, kind, height, round, block_hash)`.
    pub signature: Signature,
}

/// A signed proposal header (the block travels next to it in `ConsensusMsg::Proposal`).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct SignedProposalMsg {
    pub height: u64,
    pub round: u32,
    pub pol_round: Option<u32>,
    pub block_hash: Hash,
    pub proposer: PublicKey,
    /// Over `proposal_sign_bytes(chain_id, height, round, pol_round, block_hash)`.
    pub signature: Signature,
}

/// Everything validators send each other. (Messages are moved one at a time, never stored in
/// bulk, so the size gap between a proposal with its block and a vote does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum ConsensusMsg {
    /// A proposal and the block it proposes (`block.hash() == proposal.block_hash`).
    Proposal {
        proposal: SignedProposalMsg,
        block: Block,
    },
    Vote(SignedVoteMsg),
    /// 2f+1 prevotes for one block in one round (sent with re-proposals, for liveness).
    PolkaCertificate {
        height: u64,
        round: u32,
        block_hash: Hash,
        signatures: Vec<CommitSig>,
    },
    /// Votes justifying a jump to a later round (`skip`: f+1 votes; else 2f+1 precommits).
    RoundCertificate {
        height: u64,
        round: u32,
        skip: bool,
        votes: Vec<SignedVoteMsg>,
    },
}

impl ConsensusMsg {
    pub fn height(&self) -> u64 {
        match self {
            ConsensusMsg::Proposal { proposal, .. } => proposal.height,
            ConsensusMsg::Vote(v) => v.height,
            ConsensusMsg::PolkaCertificate { height, .. } | ConsensusMsg::RoundCertificate { height, .. } => *height,
        }
    }
}

/// The engine's own timeout kinds (Malachite's, minus the finalization delay we do not use).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub enum TimeoutKind {
    Propose,
    Prevote,
    Precommit,
    /// Re-send own last votes (and round certificate) so lost messages are recovered.
    Rebroadcast,
}

/// One scheduled timeout. `seq` makes it unique: a later schedule or a cancel makes older ones stale.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct Timeout {
    pub height: u64,
    pub round: u32,
    pub kind: TimeoutKind,
    pub seq: u64,
}

/// A record of the consensus write-ahead log (one height's worth is replayed after a restart).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum WalEntry {
    Vote(SignedVoteMsg),
    Proposal(SignedProposalMsg),
    /// A block this node proposed or the host judged, with the verdict.
    ProposedValue {
        height: u64,
        round: u32,
        valid_round: Option<u32>,
        proposer: PublicKey,
        valid: bool,
        block: Block,
    },
    Timeout {
        height: u64,
        round: u32,
        kind: TimeoutKind,
    },
    PolkaCertificate {
        height: u64,
        round: u32,
        block_hash: Hash,
        signatures: Vec<CommitSig>,
    },
}

impl WalEntry {
    pub fn height(&self) -> u64 {
        match self {
            WalEntry::Vote(v) => v.height,
            WalEntry::Proposal(p) => p.height,
            WalEntry::ProposedValue { height, .. }
            | WalEntry::Timeout { height, .. }
            | WalEntry::PolkaCertificate { height, .. } => *height,
        }
    }
}

pub(crate) fn round_u32(r: Round) -> Option<u32> {
    r.as_u32()
}

pub(crate) fn vote_to_wire(v: &SignedVote<TcContext>) -> Option<SignedVoteMsg> {
    Some(SignedVoteMsg {
        height: v.message.height.0,
        round: round_u32(v.message.round)?,
        kind: vote_kind(v.message.kind),
        block_hash: nil_or_val_to_option(&v.message.value),
        validator: v.message.validator.0,
        signature: v.signature.ledger(),
    })
}

pub(crate) fn vote_from_wire(w: &SignedVoteMsg) -> SignedVote<TcContext> {
    SignedVote::new(
        TcVote {
            height: TcHeight(w.height),
            round: Round::new(w.round),
            kind: vote_type(w.kind),
            value: match w.block_hash {
                Some(h) => NilOrVal::Val(h),
                None => NilOrVal::Nil,
            },
            validator: TcAddress(w.validator),
        },
        TcSignature(w.signature.0),
    )
}

pub(crate) fn proposal_to_wire(p: &SignedProposal<TcContext>) -> Option<SignedProposalMsg> {
    Some(SignedProposalMsg {
        height: p.message.height.0,
        round: round_u32(p.message.round)?,
        pol_round: p.message.pol_round.as_u32(),
        block_hash: p.message.value.0,
        proposer: p.message.proposer.0,
        signature: p.signature.ledger(),
    })
}

pub(crate) fn proposal_from_wire(w: &SignedProposalMsg) -> SignedProposal<TcContext> {
    SignedProposal::new(
        TcProposal {
            height: TcHeight(w.height),
            round: Round::new(w.round),
            value: BlockValue(w.block_hash),
            pol_round: match w.pol_round {
                Some(r) => Round::new(r),
                None => Round::Nil,
            },
            proposer: TcAddress(w.proposer),
        },
        TcSignature(w.signature.0),
    )
}

pub(crate) fn polka_to_wire(c: &PolkaCertificate<TcContext>) -> Option<ConsensusMsg> {
    Some(ConsensusMsg::PolkaCertificate {
        height: c.height.0,
        round: round_u32(c.round)?,
        block_hash: c.value_id,
        signatures: c
            .polka_signatures
            .iter()
            .map(|s| CommitSig {
                validator: s.address.0,
                signature: s.signature.ledger(),
            })
            .collect(),
    })
}

pub(crate) fn polka_from_wire(
    height: u64,
    round: u32,
    block_hash: Hash,
    sigs: &[CommitSig],
) -> PolkaCertificate<TcContext> {
    PolkaCertificate {
        height: TcHeight(height),
        round: Round::new(round),
        value_id: block_hash,
        polka_signatures: sigs
            .iter()
            .map(|s| PolkaSignature {
                address: TcAddress(s.validator),
                signature: TcSignature(s.signature.0),
            })
            .collect(),
    }
}

pub(crate) fn round_cert_to_wire(c: &RoundCertificate<TcContext>) -> Option<ConsensusMsg> {
    let round = round_u32(c.round)?;
    Some(ConsensusMsg::RoundCertificate {
        height: c.height.0,
        round,
        skip: c.cert_type == RoundCertificateType::Skip,
        votes: c
            .round_signatures
            .iter()
            .map(|s| SignedVoteMsg {
                height: c.height.0,
                round,
                kind: vote_kind(s.vote_type),
                block_hash: nil_or_val_to_option(&s.value_id),
                validator: s.address.0,
                signature: s.signature.ledger(),
            })
            .collect(),
    })
}

pub(crate) fn round_cert_from_wire(
    height: u64,
    round: u32,
    skip: bool,
    votes: &[SignedVoteMsg],
) -> Option<RoundCertificate<TcContext>> {
    // Every vote must belong to the certificate's own height and round.
    if votes.iter().any(|v| v.height != height || v.round != round) {
        return None;
    }
    Some(RoundCertificate {
        height: TcHeight(height),
        round: Round::new(round),
        cert_type: if skip {
            RoundCertificateType::Skip
        } else {
            RoundCertificateType::Precommit
        },
        round_signatures: votes
            .iter()
            .map(|v| RoundSignature {
                vote_type: vote_type(v.kind),
                value_id: match v.block_hash {
                    Some(h) => NilOrVal::Val(h),
                    None => NilOrVal::Nil,
                },
                address: TcAddress(v.validator),
                signature: TcSignature(v.signature.0),
            })
            .collect(),
    })
}

pub(crate) fn timeout_kind_from_mc(k: &McTimeoutKind) -> Option<TimeoutKind> {
    match k {
        McTimeoutKind::Propose => Some(TimeoutKind::Propose),
        McTimeoutKind::Prevote => Some(TimeoutKind::Prevote),
        McTimeoutKind::Precommit => Some(TimeoutKind::Precommit),
        McTimeoutKind::Rebroadcast => Some(TimeoutKind::Rebroadcast),
        McTimeoutKind::FinalizeHeight(_) => None,
    }
}

pub(crate) fn timeout_to_mc(kind: TimeoutKind, round: u32) -> McTimeout {
    let r = Round::new(round);
    match kind {
        TimeoutKind::Propose => McTimeout::propose(r),
        TimeoutKind::Prevote => McTimeout::prevote(r),
        TimeoutKind::Precommit => McTimeout::precommit(r),
        TimeoutKind::Rebroadcast => McTimeout::rebroadcast(r),
    }
}

/// A WAL entry as the Malachite input it records (the block of a `ProposedValue` is returned aside).
pub(crate) fn wal_to_input(e: &WalEntry) -> (McInput<TcContext>, Option<&Block>) {
    match e {
        WalEntry::Vote(v) => (McInput::Vote(vote_from_wire(v)), None),
        WalEntry::Proposal(p) => (McInput::Proposal(proposal_from_wire(p)), None),
        WalEntry::ProposedValue {
            height,
            round,
            valid_round,
            proposer,
            valid,
            block,
        } => (
            McInput::ProposedValue(
                ProposedValue {
                    height: TcHeight(*height),
                    round: Round::new(*round),
                    valid_round: valid_round.map(Round::new).unwrap_or(Round::Nil),
                    proposer: TcAddress(*proposer),
                    value: BlockValue(block.hash()),
                    validity: Validity::from_bool(*valid),
                },
                ValueOrigin::Consensus,
            ),
            Some(block),
        ),
        WalEntry::Timeout { round, kind, .. } => (McInput::TimeoutElapsed(timeout_to_mc(*kind, *round)), None),
        WalEntry::PolkaCertificate {
            height,
            round,
            block_hash,
            signatures,
        } => (
            McInput::PolkaCertificate(polka_from_wire(*height, *round, *block_hash, signatures)),
            None,
        ),
    }
}
