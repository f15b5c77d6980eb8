//! The state tree on disk: the store is `jmt`'s `TreeReader` over the `jmt_nodes` column family
//! (the tree's values are not stored, see `ledger::state_tree`, which owns the pure tree: updates,
//! roots, proofs and their check), computes a height's `StateUpdate` against the committed tree,
//! stages it into a commit's write batch, and serves state proofs at a height.
//!
//! Invariants: tree nodes are written only in the same synced batch as the block (or
//! genesis) whose root they make, so the tree's newest version is always the head's height and its
//! root is `head.state_hash`; a proof is served only with the value it proves (`prove_state_at`
//! answers None when the value changed after the height, and the caller reads again).
use super::layout::*;
use super::{Store, StoreError, corrupt};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Version};
use rocksdb::WriteBatch;
use tradechain_ledger::codec;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::state::WriteSet;
use tradechain_ledger::state_tree::{self, ProvenState, StateUpdate};

impl Store {
    /// The tree update of `height`'s writes against the committed tree (at `height - 1`).
    pub fn state_update(&self, height: u64, writes: &WriteSet) -> Result<StateUpdate, StoreError> {
        state_tree::update(self, height, writes).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// Stage a tree update into a commit's batch.
    pub(super) fn stage_tree(&self, batch: &mut WriteBatch, u: &StateUpdate) -> Result<(), StoreError> {
        let nodes = self.cf(CF_JMT_NODES)?;
        for (k, n) in u.nodes() {
            batch.put_cf(nodes, codec::encode(k), codec::encode(n));
        }
        Ok(())
    }

    /// The committed value of `key` with its proof at `height`, or None when the value has
    /// changed since that height (read again at the head).
    pub fn prove_state_at(&self, key: &[u8], height: u64) -> Result<Option<ProvenState>, StoreError> {
        let value = self.state_get(key)?;
        state_tree::prove_value(self, height, key, value).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    /// The state tree's root at `height` (as `verify` and tests read it back).
    pub fn state_root(&self, height: u64) -> Result<Hash, StoreError> {
        state_tree::root(self, height).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

impl TreeReader for Store {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        match self.get_raw(CF_JMT_NODES, &codec::encode(node_key))? {
            None => Ok(None),
            Some(b) => Ok(Some(codec::decode(&b).map_err(|e| corrupt("jmt node", e))?)),
        }
    }

    fn get_value_option(&self, _max_version: Version, _key_hash: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        state_tree::unstored_value()
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("get_rightmost_leaf is only for jmt's restore, which tradechain does not use")
    }
}
