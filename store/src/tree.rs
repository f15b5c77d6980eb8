//! The state tree on disk: the store is `jmt`'s `TreeReader` over the `jmt_nodes` column family
//! (the tree's values are not stored, see `ledger::state_tree`, which owns the pure tree: updates,
//! roots, proofs and their check), computes a height's `StateUpdate` against the committed tree,
//! stages it into a commit's write batch, and serves state proofs at a height.
//!
//! Invariants: tree nodes are written only in the same synced batch as the block (or
//! genesis) whose root they make, so the tree's newest version is always the head's height and its
//! root is `head.state_hash`; a proof is served only with the value it proves (`prove_state_at`
//! answers None when the value changed after the height, and the caller reads again).
//!
//! The node cache ([`NodeCache`]): every block's update reads the paths from the root to
//! thousands of keys, and the top of those paths is the same nodes block after block. The cache
//! keeps, for each position within `CACHED_DEPTH` nibbles of the root (at most 69,905
//! positions), the newest node the store holds there. It holds only what the store holds: nodes
//! enter it after the batch that writes them is written, or when read from the store; a node is
//! never rewritten under its key (the key holds its version), so an entry never goes stale, it
//! is only replaced by a newer version's node at its position.
use super::layout::*;
use super::{Store, StoreError, corrupt};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Version};
use rocksdb::WriteBatch;
use std::sync::RwLock;
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

    /// After the batch holding `u` is written: its nodes near the root enter the cache.
    pub(super) fn cache_tree(&self, u: &StateUpdate) {
        self.node_cache.offer_all(u.nodes());
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

/// Positions within this many nibbles of the root are cached: 1 + 16 + 256 + 4,096 + 65,536.
pub const CACHED_DEPTH: usize = 4;
const CACHED_POSITIONS: usize = 1 + 16 + 256 + 4_096 + 65_536;

/// The newest stored node at each position near the root, with its version (see the module's
/// invariants), in one slot per position.
#[derive(Default)]
pub(crate) struct NodeCache {
    slots: RwLock<Vec<Option<(Version, Node)>>>,
}

/// The slot of a position: positions of depth d follow the 1 + 16 + … + 16^(d-1) shallower ones.
fn slot(path: &jmt::storage::NibblePath) -> Option<usize> {
    let depth = path.num_nibbles();
    if depth > CACHED_DEPTH {
        return None;
    }
    let shallower: usize = (0..depth as u32).map(|d| 16usize.pow(d)).sum();
    let within = path.nibbles().fold(0usize, |v, n| v * 16 + usize::from(u8::from(n)));
    let slot = shallower + within;
    debug_assert!(slot < CACHED_POSITIONS);
    Some(slot)
}

impl NodeCache {
    fn get(&self, key: &NodeKey) -> Option<Node> {
        let i = slot(key.nibble_path())?;
        let slots = self.slots.read().ok()?;
        match slots.get(i) {
            Some(Some((version, node))) if *version == key.version() => Some(node.clone()),
            _ => None,
        }
    }

    /// Keep `node` (which the store holds under `key`) unless its position holds a newer one.
    fn offer(&self, key: &NodeKey, node: &Node) {
        self.offer_all(std::iter::once((key, node)));
    }

    /// `offer` each of `nodes`, under one lock.
    fn offer_all<'a>(&self, nodes: impl Iterator<Item = (&'a NodeKey, &'a Node)>) {
        let mut nodes = nodes
            .filter_map(|(k, n)| slot(k.nibble_path()).map(|i| (i, k.version(), n)))
            .peekable();
        if nodes.peek().is_none() {
            return;
        }
        let Ok(mut slots) = self.slots.write() else {
            return;
        };
        if slots.is_empty() {
            slots.resize_with(CACHED_POSITIONS, || None);
        }
        for (i, version, node) in nodes {
            if let Some(held) = slots.get_mut(i)
                && held.as_ref().is_none_or(|(v, _)| *v < version)
            {
                *held = Some((version, node.clone()));
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.slots.read().map(|s| s.iter().flatten().count()).unwrap_or(0)
    }
}

impl TreeReader for Store {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        if let Some(n) = self.node_cache.get(node_key) {
            return Ok(Some(n));
        }
        match self.get_raw(CF_JMT_NODES, &codec::encode(node_key))? {
            None => Ok(None),
            Some(b) => {
                let n: Node = codec::decode(&b).map_err(|e| corrupt("jmt node", e))?;
                self.node_cache.offer(node_key, &n);
                Ok(Some(n))
            }
        }
    }

    fn get_value_option(&self, _max_version: Version, _key_hash: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        state_tree::unstored_value()
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("get_rightmost_leaf is only for jmt's restore, which tradechain does not use")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use jmt::storage::NibblePath;

    /// A nibble path from its nibbles (jmt's constructors are its own; its borsh form is
    /// the nibble count, then the bytes, two nibbles each, high first).
    fn path(nibbles: &[u8]) -> NibblePath {
        let bytes: Vec<u8> = nibbles
            .chunks(2)
            .map(|c| c[0] << 4 | c.get(1).copied().unwrap_or(0))
            .collect();
        let mut enc = (nibbles.len() as u64).to_le_bytes().to_vec();
        enc.extend((bytes.len() as u32).to_le_bytes());
        enc.extend(bytes);
        let p: NibblePath = codec::decode(&enc).unwrap();
        assert_eq!(p.num_nibbles(), nibbles.len());
        assert!(p.nibbles().map(u8::from).eq(nibbles.iter().copied()));
        p
    }

    fn leaf(b: u8) -> Node {
        Node::Leaf(LeafNode::new(KeyHash([b; 32]), jmt::ValueHash([b; 32])))
    }

    /// A position keeps its newest version: an older node offered later (a proof read at an old
    /// height) does not replace it, and deeper positions are never held.
    #[test]
    fn the_cache_keeps_the_newest_node_at_each_position() {
        let cache = NodeCache::default();
        let at = |v, p: &[u8]| NodeKey::new(v, path(p));
        cache.offer(&at(8, &[1, 2]), &leaf(8));
        cache.offer(&at(6, &[1, 2]), &leaf(6));
        assert_eq!(cache.get(&at(8, &[1, 2])), Some(leaf(8)));
        assert_eq!(
            cache.get(&at(6, &[1, 2])),
            None,
            "an older version is read from the store"
        );
        cache.offer(&at(10, &[1, 2]), &leaf(10));
        assert_eq!(cache.get(&at(10, &[1, 2])), Some(leaf(10)));
        assert_eq!(cache.get(&at(8, &[1, 2])), None);
        cache.offer_all([(&at(3, &[]), &leaf(3)), (&at(3, &[1, 2, 3, 4, 5]), &leaf(3))].into_iter());
        assert_eq!(cache.get(&at(3, &[])), Some(leaf(3)));
        assert_eq!(cache.get(&at(3, &[1, 2, 3, 4, 5])), None);
        assert_eq!(cache.held(), 2);
    }

    /// Every path of up to `CACHED_DEPTH` nibbles has its own slot, and deeper paths none.
    #[test]
    fn each_position_near_the_root_has_its_own_slot() {
        let mut seen = vec![false; CACHED_POSITIONS];
        for depth in 0..=CACHED_DEPTH {
            for v in 0..16usize.pow(depth as u32) {
                let nibbles: Vec<u8> = (0..depth).rev().map(|i| ((v >> (4 * i)) & 0xf) as u8).collect();
                let i = slot(&path(&nibbles)).unwrap();
                assert!(!seen[i], "slot {i} given twice (depth {depth}, value {v:x})");
                seen[i] = true;
            }
        }
        assert!(seen.iter().all(|s| *s), "every slot is some position's");
        assert_eq!(slot(&path(&[1, 2, 3, 4, 5])), None);
        assert_eq!(slot(&path(&[0; 64])), None);
    }
}
