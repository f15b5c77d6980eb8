//! Building and checking blocks against the committed store: the proposer's `build_block`
//! and every validator's `check_block`, both running the same ledger execution.
//!
//! Invariants:
//! - A block is valid only if it passes the one parent check (`ledger::block_check::check_links`:
//!   version, chain id, height, prev hash, increasing time, tx count and byte size limits, no
//!   duplicate, tx root), its time is not too far ahead of this node's clock, its validator-set
//!   hash and proposer are the set in force, none of its transactions was committed before, and
//!   re-executing it gives its results hash and state hash.
//! - `check_block` never writes; commit happens only with a certificate (`ChainStore::commit`).
use crate::host::ports::ChainStore;
use tradechain_ledger::block::results_hash;
use tradechain_ledger::block_check::{Parent, Seal, assemble, check_links};
use tradechain_ledger::execute::{BlockExecution, Preverified, Registry, execute_block_preverified};
use tradechain_ledger::state_tree::StateUpdate;
use tradechain_ledger::{Block, Genesis, PublicKey, SignedTransaction};
use tradechain_store::Head;

/// How far ahead of the checking node's clock a proposed block time may be.
pub const MAX_FUTURE_DRIFT_MS: i64 = 5_000;

pub struct Built {
    pub block: Block,
    pub checked: Checked,
}

/// A block's execution and its state-tree update, kept from checking to commit.
pub struct Checked {
    pub exec: BlockExecution,
    pub tree: StateUpdate,
}

/// The head as the parent the next block is checked against.
fn parent(store: &dyn ChainStore, genesis: &Genesis, head: &Head) -> Parent {
    let time_ms = if head.height == 0 {
        genesis.genesis_time_ms
    } else {
        store
            .header(head.height)
            .ok()
            .flatten()
            .map(|h| h.time_ms)
            .unwrap_or(genesis.genesis_time_ms)
    };
    Parent {
        height: head.height,
        block_hash: head.block_hash,
        time_ms,
    }
}

/// Build the next block from candidate transactions (already signature-checked by the mempool).
/// Postcondition: the block passes `check_links` (what every validator checks first).
pub fn build_block(
    store: &dyn ChainStore,
    genesis: &Genesis,
    registry: &Registry,
    proposer: PublicKey,
    now_ms: i64,
    txs: Vec<SignedTransaction>,
    preverified: Preverified,
) -> Result<Built, String> {
    let head = store.head().map_err(|e| e.to_string())?;
    let parent = parent(store, genesis, &head);
    let height = head.height + 1;
    let time_ms = now_ms.max(parent.time_ms + 1);
    let validators = store.validator_set_at(height).map_err(|e| e.to_string())?;
    let exec = execute_block_preverified(registry, genesis, store, height, time_ms, &txs, preverified)
        .map_err(|e| e.to_string())?;
    let tree = store.state_update(height, &exec.writes).map_err(|e| e.to_string())?;
    let seal = Seal {
        time_ms,
        proposer,
        validators_hash: validators.hash(),
        state_hash: tree.root,
    };
    let block = assemble(&genesis.chain_id, &parent, seal, &exec.outcomes, txs);
    debug_assert_eq!(block.header.height, height);
    check_links(genesis, &parent, &block).map_err(|e| format!("built a block it would refuse: {e}"))?;
    Ok(Built {
        block,
        checked: Checked { exec, tree },
    })
}

/// Check a proposed block against the store's head; returns its execution and state-tree update
/// for commit.
pub fn check_block(
    store: &dyn ChainStore,
    genesis: &Genesis,
    registry: &Registry,
    now_ms: i64,
    block: &Block,
    preverified: Preverified,
) -> Result<Checked, String> {
    let head = store.head().map_err(|e| e.to_string())?;
    let h = &block.header;
    let ids = check_links(genesis, &parent(store, genesis, &head), block).map_err(|e| e.to_string())?;
    if h.time_ms > now_ms.saturating_add(MAX_FUTURE_DRIFT_MS) {
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
    // A committed transaction included again would be judged again (a nonce rejection) and
    // overwrite where it was committed: refused before any vote.
    for (index, id) in ids.iter().enumerate() {
        if let Some(at) = store.tx_location(id).map_err(|e| e.to_string())? {
            return Err(format!(
                "transaction {index} ({id}) was already committed at height {}",
                at.height
            ));
        }
    }
    let exec = execute_block_preverified(registry, genesis, store, h.height, h.time_ms, &block.txs, preverified)
        .map_err(|e| e.to_string())?;
    if h.results_hash != results_hash(&exec.outcomes) {
        return Err("header.results_hash does not match re-execution".into());
    }
    let tree = store.state_update(h.height, &exec.writes).map_err(|e| e.to_string())?;
    if h.state_hash != tree.root {
        return Err("header.state_hash does not match re-execution".into());
    }
    Ok(Checked { exec, tree })
}
