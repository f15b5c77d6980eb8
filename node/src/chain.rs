//! Building and checking blocks against the committed store: the proposer's `build_block`
//! and every validator's `check_block`, both running the same ledger execution.
//!
//! Invariants:
//! - A block is valid only if its header fields follow from the parent (chain id, height,
//!   prev hash, strictly increasing time not too far ahead, validator-set hash) and from
//!   re-executing its transactions (tx root, results hash, state hash).
//! - `check_block` never writes; commit happens only with a certificate (`Store::commit_block`).
use tradechain_ledger::block::{BlockHeader, results_hash};
use tradechain_ledger::execute::{BlockExecution, Preverified, Registry, execute_block_preverified};
use tradechain_ledger::state::next_state_hash;
use tradechain_ledger::store::{Head, Store};
use tradechain_ledger::{Block, Genesis, Hash, PublicKey, SignedTransaction};

/// How far ahead of the checking node's clock a proposed block time may be.
pub const MAX_FUTURE_DRIFT_MS: i64 = 5_000;

pub struct Built {
    pub block: Block,
    pub exec: BlockExecution,
}

fn parent_time(store: &Store, genesis: &Genesis, head: &Head) -> i64 {
    if head.height == 0 {
        return genesis.genesis_time_ms;
    }
    store
        .header(head.height)
        .ok()
        .flatten()
        .map(|h| h.time_ms)
        .unwrap_or(genesis.genesis_time_ms)
}

/// Build the next block from candidate transactions (already signature-checked by the mempool).
pub fn build_block(
    store: &Store,
    genesis: &Genesis,
    registry: &Registry,
    proposer: PublicKey,
    now_ms: i64,
    txs: Vec<SignedTransaction>,
    preverified: Preverified,
) -> Result<Built, String> {
    let head = store.head().map_err(|e| e.to_string())?;
    let height = head.height + 1;
    let time_ms = now_ms.max(parent_time(store, genesis, &head) + 1);
    let validators = store.validator_set_at(height).map_err(|e| e.to_string())?;
    let exec = execute_block_preverified(registry, genesis, store, height, time_ms, &txs, preverified)
        .map_err(|e| e.to_string())?;
    let mut block = Block {
        header: BlockHeader {
            version: 1,
            chain_id: genesis.chain_id.clone(),
            height,
            prev_hash: head.block_hash,
            tx_root: Hash::ZERO,
            tx_count: txs.len() as u32,
            results_hash: results_hash(&exec.outcomes),
            time_ms,
            proposer,
            validators_hash: validators.hash(),
            state_hash: next_state_hash(&head.state_hash, &exec.writes),
        },
        txs,
    };
    block.header.tx_root = block.compute_tx_root();
    Ok(Built { block, exec })
}

/// Check a proposed block against the store's head; returns its execution for commit.
pub fn check_block(
    store: &Store,
    genesis: &Genesis,
    registry: &Registry,
    now_ms: i64,
    block: &Block,
    preverified: Preverified,
) -> Result<BlockExecution, String> {
    let head = store.head().map_err(|e| e.to_string())?;
    let h = &block.header;
    if h.chain_id != genesis.chain_id {
        return Err(format!(
            "header.chain_id {:?} is not {:?}",
            h.chain_id, genesis.chain_id
        ));
    }
    if h.height != head.height + 1 {
        return Err(format!(
            "header.height {} does not follow head {}",
            h.height, head.height
        ));
    }
    if h.prev_hash != head.block_hash {
        return Err(format!(
            "header.prev_hash {} is not the head {}",
            h.prev_hash, head.block_hash
        ));
    }
    let pt = parent_time(store, genesis, &head);
    if h.time_ms <= pt {
        return Err(format!("header.time_ms {} is not after the parent's {pt}", h.time_ms));
    }
    if h.time_ms > now_ms + MAX_FUTURE_DRIFT_MS {
        return Err(format!(
            "header.time_ms {} is more than {MAX_FUTURE_DRIFT_MS} ms ahead of this node's clock",
            h.time_ms
        ));
    }
    let validators = store.validator_set_at(h.height).map_err(|e| e.to_string())?;
    if h.validators_hash != validators.hash() {
        return Err("header.validators_hash does not match the validator set in force".into());
    }
    if validators.get(&h.proposer).is_none() {
        return Err(format!("header.proposer {} is not a validator", h.proposer));
    }
    if h.tx_count as usize != block.txs.len() {
        return Err(format!(
            "header.tx_count {} but the block has {} transactions",
            h.tx_count,
            block.txs.len()
        ));
    }
    if h.tx_count > genesis.consensus.max_block_txs {
        return Err(format!(
            "block has {} transactions, above the limit of {}",
            h.tx_count, genesis.consensus.max_block_txs
        ));
    }
    if h.tx_root != block.compute_tx_root() {
        return Err("header.tx_root does not match the transactions".into());
    }
    let exec = execute_block_preverified(registry, genesis, store, h.height, h.time_ms, &block.txs, preverified)
        .map_err(|e| e.to_string())?;
    if h.results_hash != results_hash(&exec.outcomes) {
        return Err("header.results_hash does not match re-execution".into());
    }
    if h.state_hash != next_state_hash(&head.state_hash, &exec.writes) {
        return Err("header.state_hash does not match re-execution".into());
    }
    Ok(exec)
}
