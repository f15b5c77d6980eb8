//! Watching one's own signatures: `DoubleSignWatch` remembers, per key, the block hash each
//! (height, round, kind) vote and each (height, round) proposal named, and reports a second,
//! different one. The simulators' checkers use it on honest nodes' broadcasts (an honest
//! validator that signs twice is the bug a WAL exists to prevent).
//!
//! Invariant: `observe` returns a description exactly when the message's signer already signed a
//! different value for the same slot; memory grows by one entry per distinct slot (callers bound
//! it by the length of the run they watch).
use crate::wire::ConsensusMsg;
use std::collections::BTreeMap;
use tradechain_ledger::certificate::VoteKind;
use tradechain_ledger::{Hash, PublicKey};

#[derive(Default)]
pub struct DoubleSignWatch {
    votes: BTreeMap<(PublicKey, u64, u32, VoteKind), Option<Hash>>,
    proposals: BTreeMap<(PublicKey, u64, u32), Hash>,
}

impl DoubleSignWatch {
    /// A message `key` broadcast; messages signed by other keys (relays) are ignored. Returns
    /// what was signed twice, if anything was.
    pub fn observe(&mut self, key: &PublicKey, msg: &ConsensusMsg) -> Option<String> {
        match msg {
            ConsensusMsg::Vote(v) if &v.validator == key => {
                let prev = *self
                    .votes
                    .entry((v.validator, v.height, v.round, v.kind))
                    .or_insert(v.block_hash);
                (prev != v.block_hash).then(|| {
                    format!(
                        "double-signed {:?} at h={} r={}: {:?} then {:?}",
                        v.kind, v.height, v.round, prev, v.block_hash
                    )
                })
            }
            ConsensusMsg::Proposal { proposal, .. } if &proposal.proposer == key => {
                let prev = *self
                    .proposals
                    .entry((*key, proposal.height, proposal.round))
                    .or_insert(proposal.block_hash);
                (prev != proposal.block_hash)
                    .then(|| format!("proposed two blocks at h={} r={}", proposal.height, proposal.round))
            }
            _ => None,
        }
    }
}
