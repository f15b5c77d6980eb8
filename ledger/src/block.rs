//! Blocks and headers.
//!
//! Invariants: `header.tx_root` is the Merkle root over the block's signed transactions;
//! `header.results_hash` commits to each transaction's outcome (accepted or rejected with rule
//! id), so every node stores the same verdicts: it is the Merkle root over `outcome_leaf(i, o)`,
//! so one transaction's verdict is provable alone (`outcome_proof`, checked by a consumer's
//! verifier: a rejected transaction is never shown as an item's event); `header.state_hash` is the state after the
//! block (the root of the state tree, `state_tree`); `header.prev_hash` links to the previous header;
//! the block hash is `Hash::tagged("tradechain/block", borsh(header))`.
use crate::crypto::PublicKey;
use crate::hash::Hash;
use crate::tx::SignedTransaction;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct BlockHeader {
    pub version: u16,
    pub chain_id: String,
    pub height: u64,
    pub prev_hash: Hash,
    pub tx_root: Hash,
    pub tx_count: u32,
    pub results_hash: Hash,
    /// Block time, Unix milliseconds, chosen by the proposer; strictly greater than the parent's.
    pub time_ms: i64,
    pub proposer: PublicKey,
    /// Hash of the validator set that certifies this block.
    pub validators_hash: Hash,
    /// Application state after executing this block.
    pub state_hash: Hash,
}

impl BlockHeader {
    pub fn hash(&self) -> Hash {
        Hash::tagged("tradechain/block", &crate::codec::encode(self))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Block {
    pub header: BlockHeader,
    pub txs: Vec<SignedTransaction>,
}

impl Block {
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }
    pub fn leaf_hashes(&self) -> Vec<Hash> {
        self.txs
            .iter()
            .map(|t| crate::merkle::leaf_hash(&t.leaf_bytes()))
            .collect()
    }
    pub fn compute_tx_root(&self) -> Hash {
        crate::merkle::root_from_leaf_hashes(&self.leaf_hashes())
    }
}

/// The outcome of one transaction in a block.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum TxOutcome {
    Accepted,
    Rejected { rule: String, reason: String },
}

/// The Merkle leaf of transaction `index`'s outcome: `leaf_hash(borsh((index as u32, outcome)))`
/// (for an accepted one, the bytes `index u32 LE, 0`).
pub fn outcome_leaf(index: u32, outcome: &TxOutcome) -> Hash {
    crate::merkle::leaf_hash(&crate::codec::encode(&(index, outcome)))
}

/// The outcome leaves of a block, in transaction order.
pub fn outcome_leaves(results: &[TxOutcome]) -> Vec<Hash> {
    results
        .iter()
        .enumerate()
        .map(|(i, o)| outcome_leaf(u32::try_from(i).unwrap_or(u32::MAX), o))
        .collect()
}

/// `header.results_hash`: the Merkle root of the block's outcome leaves.
pub fn results_hash(results: &[TxOutcome]) -> Hash {
    crate::merkle::root_from_leaf_hashes(&outcome_leaves(results))
}

/// Inclusion proof of transaction `index`'s outcome leaf in `results_hash(results)`.
pub fn outcome_proof(results: &[TxOutcome], index: usize) -> Option<crate::merkle::InclusionProof> {
    crate::merkle::prove(&outcome_leaves(results), index)
}

/// The genesis block's "previous hash" is the genesis file's hash: the chain's identity.
pub fn genesis_prev_hash(genesis_hash: &Hash) -> Hash {
    *genesis_hash
}
