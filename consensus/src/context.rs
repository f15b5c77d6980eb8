//! Malachite's `Context` for tradechain: which concrete types the Tendermint core runs on.
//!
//! Owns: the height, address, value, vote, proposal, validator-set, timeout and signing-scheme
//! types handed to `malachitebft-core-consensus`, plus the proposer rule.
//!
//! Invariants:
//! - A consensus value is a block *hash* (`BlockValue`); the block itself travels next to the
//!   signed proposal on the wire (Malachite's `ProposalAndParts` mode, with the whole block as
//!   the single "part").
//! - Every vote is signed over exactly `ledger::certificate::vote_sign_bytes` and every proposal
//!   over `proposal_sign_bytes`, so decided precommits form a ledger `CommitCertificate`.
//! - The validator list keeps the ledger's canonical order (sorted by public key) and the
//!   proposer of (height, round) is `validators[(height + round) % n]`.
use malachitebft_core_types::{self as mc, NilOrVal, Round, VoteType};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tradechain_ledger::certificate::{VoteKind, proposal_sign_bytes, vote_sign_bytes};
use tradechain_ledger::genesis::ConsensusParams;
use tradechain_ledger::{Hash, PublicKey, SecretKey, ValidatorSet};

/// The context: carries the chain id, which every signed byte string is prefixed with.
#[derive(Clone, Debug)]
pub struct TcContext {
    pub chain_id: Arc<str>,
}

/// Block height.
#[derive(Copy, Clone, Default, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TcHeight(pub u64);

impl fmt::Display for TcHeight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl mc::Height for TcHeight {
    const ZERO: Self = TcHeight(0);
    const INITIAL: Self = TcHeight(1);
    fn increment_by(&self, n: u64) -> Self {
        TcHeight(self.0.saturating_add(n))
    }
    fn decrement_by(&self, n: u64) -> Option<Self> {
        self.0.checked_sub(n).map(TcHeight)
    }
    fn as_u64(&self) -> u64 {
        self.0
    }
}

/// A validator's address is its consensus public key.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TcAddress(pub PublicKey);

impl fmt::Display for TcAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", &self.0.to_hex()[..12])
    }
}
impl mc::Address for TcAddress {}

/// The value consensus agrees on: a block hash.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BlockValue(pub Hash);

impl mc::Value for BlockValue {
    type Id = Hash;
    fn id(&self) -> Hash {
        self.0
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcVote {
    pub height: TcHeight,
    pub round: Round,
    pub kind: VoteType,
    pub value: NilOrVal<Hash>,
    pub validator: TcAddress,
}

impl mc::Vote<TcContext> for TcVote {
    fn height(&self) -> TcHeight {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &NilOrVal<Hash> {
        &self.value
    }
    fn take_value(self) -> NilOrVal<Hash> {
        self.value
    }
    fn vote_type(&self) -> VoteType {
        self.kind
    }
    fn validator_address(&self) -> &TcAddress {
        &self.validator
    }
    fn extension(&self) -> Option<&mc::SignedExtension<TcContext>> {
        None
    }
    fn take_extension(&mut self) -> Option<mc::SignedExtension<TcContext>> {
        None
    }
    fn extend(self, _extension: mc::SignedExtension<TcContext>) -> Self {
        // Vote extensions are disabled for tradechain (policy `Disabled` at every height).
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcProposal {
    pub height: TcHeight,
    pub round: Round,
    pub value: BlockValue,
    pub pol_round: Round,
    pub proposer: TcAddress,
}

impl mc::Proposal<TcContext> for TcProposal {
    fn height(&self) -> TcHeight {
        self.height
    }
    fn round(&self) -> Round {
        self.round
    }
    fn value(&self) -> &BlockValue {
        &self.value
    }
    fn take_value(self) -> BlockValue {
        self.value
    }
    fn pol_round(&self) -> Round {
        self.pol_round
    }
    fn validator_address(&self) -> &TcAddress {
        &self.proposer
    }
}

/// Unused: the block travels whole next to the proposal, never in parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WholeBlockPart;

impl mc::ProposalPart<TcContext> for WholeBlockPart {
    fn is_first(&self) -> bool {
        true
    }
    fn is_last(&self) -> bool {
        true
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcValidator {
    pub address: TcAddress,
    pub public_key: PublicKey,
    pub power: u64,
}

impl mc::Validator<TcContext> for TcValidator {
    fn address(&self) -> &TcAddress {
        &self.address
    }
    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
    fn voting_power(&self) -> u64 {
        self.power
    }
}

/// The ledger's validator set, in its canonical (sorted by key) order. Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcValidatorSet {
    pub validators: Vec<TcValidator>,
}

impl TcValidatorSet {
    /// `None` for an empty set (the ledger's constructor refuses those; a set built by hand may not).
    pub fn from_ledger(set: &ValidatorSet) -> Option<TcValidatorSet> {
        if set.validators.is_empty() {
            return None;
        }
        let mut validators: Vec<TcValidator> = set
            .validators
            .iter()
            .map(|v| TcValidator {
                address: TcAddress(v.public_key),
                public_key: v.public_key,
                power: v.power,
            })
            .collect();
        validators.sort_by_key(|a| a.address);
        validators.dedup_by(|a, b| a.address == b.address);
        Some(TcValidatorSet { validators })
    }
}

impl mc::ValidatorSet<TcContext> for TcValidatorSet {
    fn count(&self) -> usize {
        self.validators.len()
    }
    fn total_voting_power(&self) -> u64 {
        self.validators.iter().fold(0u64, |a, v| a.saturating_add(v.power))
    }
    fn get_by_address(&self, address: &TcAddress) -> Option<&TcValidator> {
        self.validators
            .binary_search_by(|v| v.address.cmp(address))
            .ok()
            .map(|i| &self.validators[i])
    }
    fn get_by_index(&self, index: usize) -> Option<&TcValidator> {
        self.validators.get(index)
    }
}

/// Timeouts grow linearly per round: `base + round * delta` (ledger `ConsensusParams`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct TcTimeouts {
    pub propose_ms: u64,
    pub prevote_ms: u64,
    pub precommit_ms: u64,
    pub delta_ms: u64,
}

impl TcTimeouts {
    pub fn from_params(p: &ConsensusParams) -> TcTimeouts {
        TcTimeouts {
            propose_ms: p.timeout_propose_ms,
            prevote_ms: p.timeout_prevote_ms,
            precommit_ms: p.timeout_precommit_ms,
            delta_ms: p.timeout_delta_ms,
        }
    }

    /// Milliseconds until `timeout` fires.
    pub fn millis_for(&self, timeout: &mc::Timeout) -> u64 {
        let r = u64::from(timeout.round.as_u32().unwrap_or(0));
        let grow = |base: u64| base.saturating_add(r.saturating_mul(self.delta_ms));
        match timeout.kind {
            mc::TimeoutKind::Propose => grow(self.propose_ms),
            mc::TimeoutKind::Prevote => grow(self.prevote_ms),
            mc::TimeoutKind::Precommit => grow(self.precommit_ms),
            mc::TimeoutKind::Rebroadcast => {
                let base = self
                    .propose_ms
                    .saturating_add(self.prevote_ms)
                    .saturating_add(self.precommit_ms);
                base.saturating_add(r.saturating_mul(self.delta_ms.saturating_mul(3)))
            }
            mc::TimeoutKind::FinalizeHeight(d) => u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl mc::Timeouts<TcContext> for TcTimeouts {
    fn duration_for(&self, timeout: mc::Timeout) -> Duration {
        Duration::from_millis(self.millis_for(&timeout))
    }
}

/// A 64-byte ed25519 signature, ordered bytewise (Malachite wants `Ord`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TcSignature(pub [u8; 64]);

impl TcSignature {
    pub fn ledger(&self) -> tradechain_ledger::Signature {
        tradechain_ledger::Signature(self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ed25519;

impl mc::SigningScheme for Ed25519 {
    type DecodingError = String;
    type Signature = TcSignature;
    type PublicKey = PublicKey;
    type PrivateKey = SecretKey;

    fn decode_signature(bytes: &[u8]) -> Result<TcSignature, String> {
        let a: [u8; 64] = bytes
            .try_into()
            .map_err(|_| format!("signature is {} bytes, not 64", bytes.len()))?;
        Ok(TcSignature(a))
    }
    fn encode_signature(signature: &TcSignature) -> Vec<u8> {
        signature.0.to_vec()
    }
    fn decode_public_key(bytes: &[u8]) -> Result<PublicKey, String> {
        let a: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("key is {} bytes, not 32", bytes.len()))?;
        Ok(PublicKey(a))
    }
    fn encode_public_key(public_key: &PublicKey) -> Vec<u8> {
        public_key.0.to_vec()
    }
}

impl mc::Context for TcContext {
    type Address = TcAddress;
    type Height = TcHeight;
    type ProposalPart = WholeBlockPart;
    type Proposal = TcProposal;
    type Validator = TcValidator;
    type ValidatorSet = TcValidatorSet;
    type Timeouts = TcTimeouts;
    type Value = BlockValue;
    type Vote = TcVote;
    type Extension = ();
    type SigningScheme = Ed25519;

    fn select_proposer<'a>(&self, set: &'a TcValidatorSet, height: TcHeight, round: Round) -> &'a TcValidator {
        let i = proposer_index(set.validators.len(), height.0, round.as_u32().unwrap_or(0));
        // `TcValidatorSet` is never empty (see `from_ledger`), so the index is in range.
        &set.validators[i]
    }

    fn new_proposal(
        &self,
        height: TcHeight,
        round: Round,
        value: BlockValue,
        pol_round: Round,
        address: TcAddress,
    ) -> TcProposal {
        TcProposal {
            height,
            round,
            value,
            pol_round,
            proposer: address,
        }
    }

    fn new_prevote(&self, height: TcHeight, round: Round, value: NilOrVal<Hash>, address: TcAddress) -> TcVote {
        TcVote {
            height,
            round,
            kind: VoteType::Prevote,
            value,
            validator: address,
        }
    }

    fn new_precommit(&self, height: TcHeight, round: Round, value: NilOrVal<Hash>, address: TcAddress) -> TcVote {
        TcVote {
            height,
            round,
            kind: VoteType::Precommit,
            value,
            validator: address,
        }
    }
}

/// Round-robin proposer: index `(height + round) mod n` into the key-sorted validator list.
pub fn proposer_index(n: usize, height: u64, round: u32) -> usize {
    if n == 0 {
        return 0;
    }
    let n = n as u64;
    ((height % n + u64::from(round) % n) % n) as usize
}

pub fn vote_kind(t: VoteType) -> VoteKind {
    match t {
        VoteType::Prevote => VoteKind::Prevote,
        VoteType::Precommit => VoteKind::Precommit,
    }
}

pub fn vote_type(k: VoteKind) -> VoteType {
    match k {
        VoteKind::Prevote => VoteType::Prevote,
        VoteKind::Precommit => VoteType::Precommit,
    }
}

pub fn nil_or_val_to_option(v: &NilOrVal<Hash>) -> Option<Hash> {
    match v {
        NilOrVal::Nil => None,
        NilOrVal::Val(h) => Some(*h),
    }
}

impl TcContext {
    /// The ledger's bytes for a vote (`vote_sign_bytes`). Votes always carry a defined round.
    pub fn vote_bytes(&self, v: &TcVote) -> Vec<u8> {
        vote_sign_bytes(
            &self.chain_id,
            vote_kind(v.kind),
            v.height.0,
            v.round.as_u32().unwrap_or(0),
            nil_or_val_to_option(&v.value),
        )
    }

    /// The ledger's bytes for a proposal (`proposal_sign_bytes`).
    pub fn proposal_bytes(&self, p: &TcProposal) -> Vec<u8> {
        proposal_sign_bytes(
            &self.chain_id,
            p.height.0,
            p.round.as_u32().unwrap_or(0),
            p.pol_round.as_u32(),
            p.value.0,
        )
    }
}
