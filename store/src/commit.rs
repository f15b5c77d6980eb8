//! Writing to the store: genesis initialisation and block commits. What a block does is the
//! caller's `ledger::execute::BlockExecution`; the parent check is `ledger::block_check::check_links`.
//!
//! Invariants: every write goes through one `WriteBatch` written with a synced WAL; a block is
//! checked against the head (height, prev hash, chain id, time, tx root, results hash, state
//! hash, validator set, certificate) before anything is written, and commits are serialised by
//! a lock so two callers cannot both extend the same head.
use super::layout::*;
use super::{Store, StoreError};
use rocksdb::{WriteBatch, WriteOptions};
use tradechain_ledger::block::Block;
use tradechain_ledger::block_check::{Parent, check_links};
use tradechain_ledger::certificate::{CommitCertificate, ValidatorSet};
use tradechain_ledger::codec;
use tradechain_ledger::execute::BlockExecution;
use tradechain_ledger::genesis::Genesis;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::records::TxLocation;
use tradechain_ledger::state::{Ns, WriteSet, keys, split_key};
use tradechain_ledger::state_tree::StateUpdate;

fn synced() -> WriteOptions {
    let mut o = WriteOptions::default();
    o.set_sync(true);
    o
}

impl Store {
    /// Put the state writes of `height` (genesis = 0) into `batch`: each key to its namespace's
    /// column family, document versions to `doc_history`, validator-set changes to `validator_sets`.
    fn stage_writes(&self, batch: &mut WriteBatch, height: u64, writes: &WriteSet) -> Result<(), StoreError> {
        let validators_key = keys::validators();
        for (k, v) in writes {
            let Some((ns, _)) = split_key(k) else {
                return Err(StoreError::BadStateKey {
                    height,
                    key: hex::encode(k),
                });
            };
            let cf = self.cf(ns.cf_name())?;
            match v {
                Some(v) => batch.put_cf(cf, k, v),
                None => batch.delete_cf(cf, k),
            }
            if ns.is_document() {
                batch.put_cf(self.cf(CF_DOC_HISTORY)?, doc_history_key(k, height), codec::encode(v));
            }
            if ns == Ns::Meta && *k == validators_key {
                let Some(v) = v else {
                    return Err(StoreError::BadValidatorSet {
                        height,
                        reason: "the validator set is deleted".into(),
                    });
                };
                codec::decode::<ValidatorSet>(v).map_err(|e| StoreError::BadValidatorSet {
                    height,
                    reason: e.to_string(),
                })?;
                batch.put_cf(self.cf(CF_VALIDATOR_SETS)?, height_key(height), v);
            }
        }
        Ok(())
    }

    /// Initialise the store with `genesis` (height 0). Idempotent for the same genesis;
    /// refuses a different one.
    pub fn init_genesis(&self, genesis: &Genesis) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
        let _guard = self.commit_lock.lock().unwrap_or_else(|p| p.into_inner());
        let given = genesis.hash();
        if let Some(stored) = self.get_raw(CF_CHAIN, KEY_GENESIS_HASH)? {
            if stored.as_slice() == given.0.as_slice() {
                return Ok(());
            }
            let stored = Hash(
                stored
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("recorded genesis hash is not 32 bytes".into()))?,
            );
            return Err(StoreError::GenesisMismatch { stored, given });
        }
        let problems = genesis.validate();
        if !problems.is_empty() {
            return Err(StoreError::BadGenesis(problems.join("; ")));
        }
        let writes = tradechain_ledger::execute::genesis_writes(genesis).map_err(StoreError::BadGenesis)?;
        let tree = self.state_update(0, &writes)?;
        let mut batch = WriteBatch::default();
        self.stage_writes(&mut batch, 0, &writes)?;
        self.stage_tree(&mut batch, &tree)?;
        let head = Head {
            height: 0,
            block_hash: given,
            state_hash: tree.root,
        };
        let chain = self.cf(CF_CHAIN)?;
        batch.put_cf(chain, KEY_GENESIS, codec::encode(genesis));
        batch.put_cf(chain, KEY_GENESIS_HASH, given.0);
        batch.put_cf(chain, KEY_HEAD, codec::encode(&head));
        batch.put_cf(chain, KEY_LAYOUT, LAYOUT_VERSION.to_be_bytes());
        self.db.write_opt(batch, &synced())?;
        Ok(())
    }

    /// Check that `block` with `cert` and `exec` (whose outcome leaves are `outcome_leaves`)
    /// extends the head; returns the tx ids.
    #[allow(clippy::too_many_arguments)]
    fn check_block(
        &self,
        head: &Head,
        genesis: &Genesis,
        block: &Block,
        cert: &CommitCertificate,
        exec: &BlockExecution,
        tree: &StateUpdate,
        outcome_leaves: &[Hash],
    ) -> Result<Vec<Hash>, StoreError> {
        let h = &block.header;
        let height = h.height;
        let parent_time = match head.height {
            0 => genesis.genesis_time_ms,
            p => {
                self.header(p)?
                    .ok_or_else(|| StoreError::Corrupt(format!("head is at {p} but its header is missing")))?
                    .time_ms
            }
        };
        let parent = Parent {
            height: head.height,
            block_hash: head.block_hash,
            time_ms: parent_time,
        };
        let ids = check_links(genesis, &parent, block)?;
        // The tree update must be of this height, computed on this head (`state_update`).
        if tree.version != height {
            return Err(StoreError::Corrupt(format!(
                "a state update of version {} offered for block {height}",
                tree.version
            )));
        }
        if exec.outcomes.len() != block.txs.len() {
            return Err(StoreError::OutcomeCountMismatch {
                height,
                txs: block.txs.len(),
                outcomes: exec.outcomes.len(),
            });
        }
        // A transaction committed before keeps its location and outcome: a block that includes it
        // again is refused (honest validators never certify one: `node::blocks::check_block`).
        for (index, id) in ids.iter().enumerate() {
            if let Some(at) = self.tx_location(id)? {
                return Err(StoreError::TxAlreadyCommitted {
                    height,
                    index,
                    tx_id: *id,
                    at: at.height,
                });
            }
        }
        let results = tradechain_ledger::merkle::root_from_leaf_hashes(outcome_leaves);
        if h.results_hash != results {
            return Err(StoreError::WrongResultsHash {
                height,
                expected: results,
                got: h.results_hash,
            });
        }
        if h.state_hash != tree.root {
            return Err(StoreError::WrongStateHash {
                height,
                expected: tree.root,
                got: h.state_hash,
            });
        }
        let set = self.validator_set_at(height)?;
        if h.validators_hash != set.hash() {
            return Err(StoreError::WrongValidatorsHash {
                height,
                expected: set.hash(),
                got: h.validators_hash,
            });
        }
        cert.verify(&genesis.chain_id, height, &block.hash(), &set)
            .map_err(|source| StoreError::BadCertificate { height, source })?;
        Ok(ids)
    }

    /// Append a certified, executed block: everything in one synced `WriteBatch`. Computes the
    /// block's state-tree update; `commit_block_with_tree` takes one computed already (the node
    /// computed it when it checked the proposal).
    pub fn commit_block(
        &self,
        block: &Block,
        cert: &CommitCertificate,
        exec: &BlockExecution,
    ) -> Result<(), StoreError> {
        // At the version after the head: a block of another height is refused by the header
        // checks, not by the tree.
        let tree = self.state_update(self.head()?.height.saturating_add(1), &exec.writes)?;
        self.commit_block_with_tree(block, cert, exec, &tree)
    }

    /// `commit_block` with the block's state-tree update (`Store::state_update` of its writes).
    pub fn commit_block_with_tree(
        &self,
        block: &Block,
        cert: &CommitCertificate,
        exec: &BlockExecution,
        tree: &StateUpdate,
    ) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
        let _guard = self.commit_lock.lock().unwrap_or_else(|p| p.into_inner());
        let genesis = self.genesis()?;
        let head = self.head()?;
        // Hashed once: their root checks the header, their levels are the stored outcome tree.
        let outcome_leaves = tradechain_ledger::block::outcome_leaves(&exec.outcomes);
        let ids = self.check_block(&head, &genesis, block, cert, exec, tree, &outcome_leaves)?;
        let height = block.header.height;
        let block_hash = block.hash();

        let mut batch = WriteBatch::default();
        let hk = height_key(height);
        batch.put_cf(self.cf(CF_HEADERS)?, hk, codec::encode(&block.header));
        let blocks = self.cf(CF_BLOCKS)?;
        let locations = self.cf(CF_TX_LOCATIONS)?;
        for (i, (t, id)) in block.txs.iter().zip(&ids).enumerate() {
            let index = i as u32;
            batch.put_cf(blocks, tx_key(height, index), codec::encode(t));
            batch.put_cf(locations, id.0, codec::encode(&TxLocation { height, index }));
        }
        batch.put_cf(self.cf(CF_TX_MERKLE)?, hk, merkle_record(&block.leaf_hashes()));
        batch.put_cf(self.cf(CF_OUTCOME_MERKLE)?, hk, merkle_record(&outcome_leaves));
        batch.put_cf(self.cf(CF_CERTIFICATES)?, hk, codec::encode(cert));
        batch.put_cf(self.cf(CF_OUTCOMES)?, hk, codec::encode(&exec.outcomes));
        batch.put_cf(self.cf(CF_BLOCK_HASHES)?, block_hash.0, hk);
        self.stage_writes(&mut batch, height, &exec.writes)?;
        self.stage_tree(&mut batch, tree)?;
        let new_head = Head {
            height,
            block_hash,
            state_hash: block.header.state_hash,
        };
        batch.put_cf(self.cf(CF_CHAIN)?, KEY_HEAD, codec::encode(&new_head));
        self.db.write_opt(batch, &synced())?;
        self.cache_tree(tree);
        Ok(())
    }

    /// Bulk-load state entries WITHOUT a block (benchmarks and tools only: `verify` reports
    /// such entries as not derived from any block). Not synced.
    #[doc(hidden)]
    pub fn bulk_load_state_unchecked(&self, writes: &WriteSet) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly);
        }
        let mut batch = WriteBatch::default();
        for (k, v) in writes {
            let Some(ns) = k.first().and_then(|b| Ns::from_byte(*b)) else {
                return Err(StoreError::BadStateKey {
                    height: 0,
                    key: hex::encode(k),
                });
            };
            match v {
                Some(v) => batch.put_cf(self.cf(ns.cf_name())?, k, v),
                None => batch.delete_cf(self.cf(ns.cf_name())?, k),
            }
        }
        self.db.write(batch)?;
        Ok(())
    }
}

/// The `tx_merkle` record of a block with these leaf hashes (see `layout`).
pub(crate) fn merkle_record(leaves: &[Hash]) -> Vec<u8> {
    let levels = tradechain_ledger::merkle::levels(leaves);
    let mut v = Vec::with_capacity(4 + 32 * levels.len());
    v.extend_from_slice(&(leaves.len() as u32).to_le_bytes());
    for h in &levels {
        v.extend_from_slice(&h.0);
    }
    v
}
