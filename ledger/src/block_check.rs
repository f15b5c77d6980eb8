//! The one check of a block against its parent, used by every place that accepts a block: the
//! validator judging a proposal (`node::blocks::check_block`) and the store committing one
//! (`Store::commit_block`).
//!
//! Owns: what a block's header and body must satisfy given only the parent and genesis — header
//! version, chain id, height, link, strictly increasing time, transaction count and byte size
//! against the consensus limits, no transaction twice, tx root. What needs more than the parent
//! (re-execution, the validator set, the certificate, the local clock, the committed tx index)
//! stays with the caller, which has it.
//!
//! Invariant: a block that fails here is refused the same way by every caller (one function,
//! one typed error), so a proposer cannot slip in what a committing node would refuse. Blocks
//! are put together in one place too (`assemble`): the derived header fields (count, tx root,
//! results root, link, height, version) come from the body and the parent, never by hand. Only
//! what must build impossible headers on purpose does so by hand: fuzzers, `bench attack`, and the
//! consensus simulator's stand-in blocks (no ledger behind them).
use crate::block::{Block, BlockHeader, TxOutcome, results_hash};
use crate::crypto::PublicKey;
use crate::genesis::Genesis;
use crate::hash::Hash;
use crate::tx::SignedTransaction;

/// The only block header version this code accepts.
pub const BLOCK_VERSION: u16 = 1;

/// What a block is checked against: the block it extends (height 0 = genesis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parent {
    pub height: u64,
    pub block_hash: Hash,
    pub time_ms: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockCheckError {
    #[error("block {height}: header.version {got} is not supported (expected {BLOCK_VERSION})")]
    Version { height: u64, got: u16 },
    #[error("block height {got} does not extend the head: expected {expected}")]
    WrongHeight { expected: u64, got: u64 },
    #[error("block {height}: header.chain_id {got:?}, this chain is {expected:?}")]
    WrongChainId { height: u64, expected: String, got: String },
    #[error("block {height}: header.prev_hash {got} is not the head's block hash {expected}")]
    WrongPrevHash { height: u64, expected: Hash, got: Hash },
    #[error("block {height}: header.time_ms {got} is not after the parent's {parent}")]
    TimeNotIncreasing { height: u64, parent: i64, got: i64 },
    #[error("block {height}: header.tx_count {header} but the block has {txs} transactions")]
    TxCountMismatch { height: u64, header: u32, txs: usize },
    #[error("block {height}: {count} transactions, above consensus.max_block_txs {limit}")]
    TooManyTxs { height: u64, count: usize, limit: u32 },
    #[error("block {height}: {bytes} bytes, above consensus.max_block_bytes {limit}")]
    TooLarge { height: u64, bytes: u64, limit: u64 },
    #[error("block {height}: transaction {index} ({tx_id}) appears twice")]
    DuplicateTx { height: u64, index: usize, tx_id: Hash },
    #[error("block {height}: header.tx_root {got} but the transactions' Merkle root is {expected}")]
    WrongTxRoot { height: u64, expected: Hash, got: Hash },
}

/// Room left for the header and framing when a proposer fills a block: its transactions take
/// at most `max_block_bytes - HEADER_ALLOWANCE` bytes, so the whole block passes `TooLarge`.
pub const HEADER_ALLOWANCE: u64 = 1024;

/// How many bytes of encoded transactions a proposer may put in one block.
pub fn tx_bytes_budget(params: &crate::genesis::ConsensusParams) -> u64 {
    params.max_block_bytes.saturating_sub(HEADER_ALLOWANCE)
}

/// The block's encoded size, without building the encoding.
pub fn encoded_len(block: &Block) -> u64 {
    borsh::object_length(block).map(|n| n as u64).unwrap_or(u64::MAX)
}

/// What the proposer decides for a header beyond the parent and the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seal {
    pub time_ms: i64,
    pub proposer: PublicKey,
    /// Hash of the validator set that certifies the block.
    pub validators_hash: Hash,
    /// The state root after executing the block.
    pub state_hash: Hash,
}

/// The one header assembly: the block at `parent.height + 1` linking to `parent`, with
/// `tx_count`, `tx_root` and `results_hash` derived from the body and its outcomes, never set by
/// hand. Every builder of a real block (the proposer, the in-memory test backend, the store's
/// fixtures) assembles it here, so a header a node builds is the header `check_links` expects.
pub fn assemble(
    chain_id: &str,
    parent: &Parent,
    seal: Seal,
    outcomes: &[TxOutcome],
    txs: Vec<SignedTransaction>,
) -> Block {
    debug_assert_eq!(outcomes.len(), txs.len(), "one outcome per transaction");
    let mut block = Block {
        header: BlockHeader {
            version: BLOCK_VERSION,
            chain_id: chain_id.to_string(),
            height: parent.height.saturating_add(1),
            prev_hash: parent.block_hash,
            tx_root: Hash::ZERO,
            // A count past u32 is refused by `check_links` (TxCountMismatch), never wrapped.
            tx_count: u32::try_from(txs.len()).unwrap_or(u32::MAX),
            results_hash: results_hash(outcomes),
            time_ms: seal.time_ms,
            proposer: seal.proposer,
            validators_hash: seal.validators_hash,
            state_hash: seal.state_hash,
        },
        txs,
    };
    block.header.tx_root = block.compute_tx_root();
    block
}

/// Check `block` against `parent` and genesis; returns the transaction ids in block order.
pub fn check_links(genesis: &Genesis, parent: &Parent, block: &Block) -> Result<Vec<Hash>, BlockCheckError> {
    let h = &block.header;
    let height = h.height;
    if h.version != BLOCK_VERSION {
        return Err(BlockCheckError::Version { height, got: h.version });
    }
    if height != parent.height.saturating_add(1) {
        return Err(BlockCheckError::WrongHeight {
            expected: parent.height.saturating_add(1),
            got: height,
        });
    }
    if h.chain_id != genesis.chain_id {
        return Err(BlockCheckError::WrongChainId {
            height,
            expected: genesis.chain_id.clone(),
            got: h.chain_id.clone(),
        });
    }
    if h.prev_hash != parent.block_hash {
        return Err(BlockCheckError::WrongPrevHash {
            height,
            expected: parent.block_hash,
            got: h.prev_hash,
        });
    }
    if h.time_ms <= parent.time_ms {
        return Err(BlockCheckError::TimeNotIncreasing {
            height,
            parent: parent.time_ms,
            got: h.time_ms,
        });
    }
    if h.tx_count as usize != block.txs.len() {
        return Err(BlockCheckError::TxCountMismatch {
            height,
            header: h.tx_count,
            txs: block.txs.len(),
        });
    }
    let limits = &genesis.consensus;
    if block.txs.len() > limits.max_block_txs as usize {
        return Err(BlockCheckError::TooManyTxs {
            height,
            count: block.txs.len(),
            limit: limits.max_block_txs,
        });
    }
    let bytes = encoded_len(block);
    if bytes > limits.max_block_bytes {
        return Err(BlockCheckError::TooLarge {
            height,
            bytes,
            limit: limits.max_block_bytes,
        });
    }
    let mut ids = Vec::with_capacity(block.txs.len());
    let mut seen = std::collections::BTreeSet::new();
    for (index, t) in block.txs.iter().enumerate() {
        let tx_id = t.id();
        if !seen.insert(tx_id) {
            return Err(BlockCheckError::DuplicateTx { height, index, tx_id });
        }
        ids.push(tx_id);
    }
    let tx_root = block.compute_tx_root();
    if h.tx_root != tx_root {
        return Err(BlockCheckError::WrongTxRoot {
            height,
            expected: tx_root,
            got: h.tx_root,
        });
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::payload::{Action, EventType, Payload};
    use crate::testkit::{Chain, event};

    #[test]
    fn an_assembled_block_passes_the_one_check_and_its_header_follows_its_body() {
        let c = Chain::demo();
        let txs: Vec<SignedTransaction> = (1..=3)
            .map(|i| {
                let epc = format!("urn:epc:id:sgtin:6901234.012345.B{i}");
                let e = event(EventType::ObjectEvent, Some(Action::Add), &[&epc], 1_000);
                c.sign("PRODUCER-FZ", i, Payload::Provenance(e))
            })
            .collect();
        let outcomes = vec![
            TxOutcome::Accepted,
            TxOutcome::Rejected {
                rule: "x.y".into(),
                reason: "z".into(),
            },
            TxOutcome::Accepted,
        ];
        let parent = Parent {
            height: 7,
            block_hash: Hash::tagged("parent", b"7"),
            time_ms: 5_000,
        };
        let seal = Seal {
            time_ms: 5_001,
            proposer: crate::testkit::secret("CUSTOMS-CN").public(),
            validators_hash: Hash::tagged("set", b"v"),
            state_hash: Hash::tagged("state", b"s"),
        };
        let b = assemble(&c.genesis.chain_id, &parent, seal, &outcomes, txs.clone());
        assert_eq!(b.header.height, 8);
        assert_eq!(b.header.tx_count, 3);
        assert_eq!(b.header.results_hash, results_hash(&outcomes));
        assert_eq!(check_links(&c.genesis, &parent, &b).unwrap().len(), 3);
        // A body changed after assembly no longer matches its header.
        let mut swapped = b.clone();
        swapped.txs.swap(0, 2);
        assert!(matches!(
            check_links(&c.genesis, &parent, &swapped),
            Err(BlockCheckError::WrongTxRoot { .. })
        ));
        let mut dropped = b;
        dropped.txs.pop();
        assert!(matches!(
            check_links(&c.genesis, &parent, &dropped),
            Err(BlockCheckError::TxCountMismatch { .. })
        ));
        // Another parent: the link and the height are wrong.
        let other = Parent { height: 8, ..parent };
        let b = assemble(&c.genesis.chain_id, &parent, seal, &outcomes, txs);
        assert!(matches!(
            check_links(&c.genesis, &other, &b),
            Err(BlockCheckError::WrongHeight { .. })
        ));
    }
}
