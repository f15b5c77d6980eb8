//! Validator sets, consensus votes' signed bytes, and commit certificates.
//!
//! A block is final only with a `CommitCertificate`: precommits for its hash from validators
//! holding more than 2/3 of the voting power of the set in force at that height.
//!
//! Invariants (checked by `CommitCertificate::verify`):
//! - every signer is in the validator set, at most once;
//! - every signature verifies over `vote_sign_bytes(chain_id, Precommit, height, round, Some(hash))`;
//! - the signers' power is > 2/3 of the set's total power.
use crate::crypto::{PublicKey, Signature};
use crate::hash::Hash;
use crate::identity::OrgId;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ValidatorInfo {
    pub org: OrgId,
    /// The consensus signing key (one of the org's keys, or a dedicated one).
    pub public_key: PublicKey,
    pub power: u64,
}

/// The largest total voting power a validator set may have (keeps power sums far from overflow).
pub const MAX_TOTAL_POWER: u64 = 1 << 60;

/// The validator set, sorted by public key (a canonical order every node agrees on).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct ValidatorSet {
    pub validators: Vec<ValidatorInfo>,
}

impl ValidatorSet {
    /// Build a set, sorting by key and refusing duplicates and zero power.
    pub fn new(mut validators: Vec<ValidatorInfo>) -> Result<ValidatorSet, String> {
        validators.sort_by_key(|v| v.public_key);
        for w in validators.windows(2) {
            if w[0].public_key == w[1].public_key {
                return Err(format!("validator key {} appears twice", w[0].public_key));
            }
        }
        if let Some(v) = validators.iter().find(|v| v.power == 0) {
            return Err(format!("validator {} has zero power", v.org));
        }
        if validators.is_empty() {
            return Err("the validator set is empty".into());
        }
        let total: u128 = validators.iter().map(|v| u128::from(v.power)).sum();
        if total > u128::from(MAX_TOTAL_POWER) {
            return Err(format!(
                "total voting power {total} is above the limit of {MAX_TOTAL_POWER}"
            ));
        }
        Ok(ValidatorSet { validators })
    }
    /// Total voting power (saturating: a set built by `new` is at most `MAX_TOTAL_POWER`).
    pub fn total_power(&self) -> u64 {
        self.validators.iter().fold(0u64, |a, v| a.saturating_add(v.power))
    }
    /// Smallest power that is strictly more than 2/3 of the total.
    pub fn quorum_power(&self) -> u64 {
        let q = u128::from(self.total_power()) * 2 / 3 + 1;
        u64::try_from(q).unwrap_or(u64::MAX)
    }
    pub fn get(&self, key: &PublicKey) -> Option<&ValidatorInfo> {
        self.validators
            .binary_search_by(|v| v.public_key.cmp(key))
            .ok()
            .map(|i| &self.validators[i])
    }
    pub fn len(&self) -> usize {
        self.validators.len()
    }
    pub fn is_empty(&self) -> bool {
        self.validators.is_empty()
    }
    pub fn hash(&self) -> Hash {
        Hash::tagged("tradechain/validator-set", &crate::codec::encode(self))
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
pub enum VoteKind {
    Prevote,
    Precommit,
}

#[derive(BorshSerialize)]
struct VoteSignable<'a> {
    domain: &'static str,
    chain_id: &'a str,
    kind: VoteKind,
    height: u64,
    round: u32,
    block_hash: Option<Hash>,
}

/// The exact bytes a validator signs for a vote. `block_hash: None` is a nil vote.
pub fn vote_sign_bytes(chain_id: &str, kind: VoteKind, height: u64, round: u32, block_hash: Option<Hash>) -> Vec<u8> {
    crate::codec::encode(&VoteSignable {
        domain: "tradechain/vote/v1",
        chain_id,
        kind,
        height,
        round,
        block_hash,
    })
}

#[derive(BorshSerialize)]
struct ProposalSignable<'a> {
    domain: &'static str,
    chain_id: &'a str,
    height: u64,
    round: u32,
    pol_round: Option<u32>,
    block_hash: Hash,
}

/// The exact bytes a proposer signs for a proposal.
pub fn proposal_sign_bytes(
    chain_id: &str,
    height: u64,
    round: u32,
    pol_round: Option<u32>,
    block_hash: Hash,
) -> Vec<u8> {
    crate::codec::encode(&ProposalSignable {
        domain: "tradechain/proposal/v1",
        chain_id,
        height,
        round,
        pol_round,
        block_hash,
    })
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitSig {
    pub validator: PublicKey,
    pub signature: Signature,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CommitCertificate {
    pub height: u64,
    pub round: u32,
    pub block_hash: Hash,
    pub signatures: Vec<CommitSig>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CertError {
    #[error("certificate is for height {got}, expected {expected}")]
    WrongHeight { expected: u64, got: u64 },
    #[error("certificate is for block {got}, expected {expected}")]
    WrongBlock { expected: Hash, got: Hash },
    #[error("signer {0} is not in the validator set")]
    UnknownSigner(PublicKey),
    #[error("signer {0} signed twice")]
    DuplicateSigner(PublicKey),
    #[error("signature of {0} does not verify")]
    BadSignature(PublicKey),
    #[error("signers hold {got} of {total} power; more than 2/3 ({needed}) is needed")]
    NoQuorum { got: u64, needed: u64, total: u64 },
}

impl CommitCertificate {
    /// Check the certificate finalises `block_hash` at `height` under `validators`.
    pub fn verify(
        &self,
        chain_id: &str,
        height: u64,
        block_hash: &Hash,
        validators: &ValidatorSet,
    ) -> Result<(), CertError> {
        if self.height != height {
            return Err(CertError::WrongHeight {
                expected: height,
                got: self.height,
            });
        }
        if &self.block_hash != block_hash {
            return Err(CertError::WrongBlock {
                expected: *block_hash,
                got: self.block_hash,
            });
        }
        let msg = vote_sign_bytes(
            chain_id,
            VoteKind::Precommit,
            self.height,
            self.round,
            Some(self.block_hash),
        );
        let mut seen = std::collections::BTreeSet::new();
        let mut power = 0u64;
        for s in &self.signatures {
            let v = validators
                .get(&s.validator)
                .ok_or(CertError::UnknownSigner(s.validator))?;
            if !seen.insert(s.validator) {
                return Err(CertError::DuplicateSigner(s.validator));
            }
            s.validator
                .verify(&msg, &s.signature)
                .map_err(|_| CertError::BadSignature(s.validator))?;
            power = power.saturating_add(v.power);
        }
        let needed = validators.quorum_power();
        if power < needed {
            return Err(CertError::NoQuorum {
                got: power,
                needed,
                total: validators.total_power(),
            });
        }
        Ok(())
    }
}
