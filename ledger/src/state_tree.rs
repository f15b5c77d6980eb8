//! The authenticated state: a Jellyfish Merkle Tree (`jmt`, SHA-256) over every state key, whose
//! root after block h is `header.state_hash` of block h (genesis is height 0).
//!
//! Two tree versions per height (`puts_version`, `root_version`): a height's writes go in as
//! version 2h with `jmt`'s batch insertion, which hashes each new node once per block (inserting
//! key by key rehashes the whole path per key: 2–3× the CPU for a block of thousands of keys),
//! but takes no deletions; its deletions then go in as version 2h + 1, whose root is the height's.
//! Nodes the deletions replace within the same height are never stored.
//!
//! What a leaf holds: key hash = SHA-256(state key); the tree's value = `value_digest(value)` =
//! SHA-256(value bytes), so a leaf commits to SHA-256(SHA-256(value)) (`jmt` hashes the value it
//! is given). The tree's values are not stored at all (the store keeps each record once, in its
//! namespace's column family): a proof needs only the leaf's value hash, which the leaf node
//! holds, and `prove_value` checks the state's value against it. So the readers here answer
//! `jmt`'s value lookups with an empty value, which `jmt` passes through `get_with_proof` and
//! this module drops.
//!
//! A `StateProof` is `jmt`'s sparse Merkle proof in a flat form a phone can check: the leaf found on
//! the key's path (if any) and the sibling hashes from the deepest up. `StateProof::verify` is the
//! one check (the page's `verify.js` ports it line for line); it accepts exactly what `jmt`'s own
//! `SparseMerkleProof::verify` accepts (`state_tree_props` tests both on random trees).
//!
//! Invariants:
//! - The root depends only on the set of (key, value) pairs, not on the order or the blocks that
//!   wrote them (a sparse Merkle tree is history independent): two honest nodes with equal state
//!   have equal roots, whatever path they took (block by block, or sync).
//! - `update` reads only the tree at `version - 1`; nothing is written until the caller writes the
//!   returned batch (`Store::commit_block`, `MemTree::apply`), so a proposal that is not committed
//!   leaves no trace.
//! - Versions are written in order, two per height, with no gaps: an empty write set (or no
//!   deletions) still gives the version its root (`jmt` copies the previous root).
use crate::hash::Hash;
use crate::state::WriteSet;
use borsh::{BorshDeserialize, BorshSerialize};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader};
use jmt::{KeyHash, OwnedValue, Version};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// `jmt`'s hash of an empty subtree (and the root of an empty tree).
pub const PLACEHOLDER: [u8; 32] = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";
const LEAF_DOMAIN: &[u8] = b"JMT::LeafNode";
const INTERNAL_DOMAIN: &[u8] = b"JMT::IntrnalNode";
/// Longest possible path: one sibling per bit of the key hash.
pub const MAX_SIBLINGS: usize = 256;

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// The tree's key for a state key.
pub fn key_hash(key: &[u8]) -> Hash {
    Hash(sha256(&[key]))
}

/// The tree's value for a state value (what `jmt` is given; it hashes it once more).
pub fn value_digest(value: &[u8]) -> [u8; 32] {
    sha256(&[value])
}

fn leaf_hash(key_hash: &Hash, value_hash: &Hash) -> [u8; 32] {
    sha256(&[LEAF_DOMAIN, &key_hash.0, &value_hash.0])
}

fn internal_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    sha256(&[INTERNAL_DOMAIN, left, right])
}

/// Bit `i` of a key hash, most significant bit of byte 0 first (`jmt`'s order).
fn bit(h: &Hash, i: usize) -> bool {
    h.0.get(i / 8).is_some_and(|b| (b >> (7 - (i % 8))) & 1 == 1)
}

fn common_prefix_bits(a: &Hash, b: &Hash) -> usize {
    (0..256).take_while(|&i| bit(a, i) == bit(b, i)).count()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateTreeError {
    #[error("state tree: {0}")]
    Tree(String),
}

fn tree_err(e: impl std::fmt::Display) -> StateTreeError {
    StateTreeError::Tree(e.to_string())
}

/// The tree version holding height `height`'s puts.
fn puts_version(height: u64) -> Result<Version, StateTreeError> {
    height
        .checked_mul(2)
        .ok_or_else(|| StateTreeError::Tree(format!("height {height} is past the tree's versions")))
}

/// The tree version whose root is height `height`'s state root.
fn root_version(height: u64) -> Result<Version, StateTreeError> {
    puts_version(height)?
        .checked_add(1)
        .ok_or_else(|| StateTreeError::Tree(format!("height {height} is past the tree's versions")))
}

/// The result of applying one height's writes to the tree: the new root and what to store.
/// The nodes are kept as `jmt` returned them (the puts' batch, the deletions' batch, and which
/// of the puts' nodes the deletions replaced), not copied into one map: a block of thousands
/// of keys makes thousands of nodes of ~1 KB each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateUpdate {
    /// The height (not `jmt`'s version).
    pub version: u64,
    pub root: Hash,
    puts: jmt::storage::NodeBatch,
    /// Nodes of `puts` that the deletions replaced within the height: never stored.
    replaced: std::collections::BTreeSet<NodeKey>,
    deletions: jmt::storage::NodeBatch,
}

impl StateUpdate {
    /// The tree nodes to store (the `jmt_nodes` layout), each once. The tree's values are not
    /// stored.
    pub fn nodes(&self) -> impl Iterator<Item = (&NodeKey, &Node)> {
        // The two batches are of different `jmt` versions (2h and 2h + 1), so no key is in both.
        self.puts
            .nodes()
            .iter()
            .filter(|(k, _)| !self.replaced.contains(*k))
            .chain(self.deletions.nodes().iter())
    }
}

/// A tree with one height's puts laid over it, for its deletions to read.
struct Staged<'a, R> {
    base: &'a R,
    nodes: &'a BTreeMap<NodeKey, Node>,
}

impl<R: TreeReader> TreeReader for Staged<'_, R> {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        match self.nodes.get(node_key) {
            Some(n) => Ok(Some(n.clone())),
            None => self.base.get_node_option(node_key),
        }
    }
    fn get_value_option(&self, _max_version: Version, _key_hash: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        unstored_value()
    }
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("get_rightmost_leaf is only for jmt's restore, which tradechain does not use")
    }
}

/// Apply `writes` (the state changes of height `height`) to the tree as it stands after height
/// `height - 1` (empty before genesis).
pub fn update<R: TreeReader>(tree: &R, height: u64, writes: &WriteSet) -> Result<StateUpdate, StateTreeError> {
    let (pv, rv) = (puts_version(height)?, root_version(height)?);
    let jmt = jmt::Sha256Jmt::new(tree);
    let puts: Vec<(KeyHash, OwnedValue)> = writes
        .iter()
        .filter_map(|(k, v)| Some((KeyHash(key_hash(k).0), value_digest(v.as_ref()?).to_vec())))
        .collect();
    let (_, first) = if puts.is_empty() {
        // `batch_put_value_sets` refuses an empty set; this copies the previous root.
        jmt.put_value_set(std::iter::empty(), pv).map_err(tree_err)?
    } else {
        let (roots, batch) = jmt.batch_put_value_sets(vec![puts], None, pv).map_err(tree_err)?;
        (roots.first().copied().unwrap_or(jmt::RootHash(PLACEHOLDER)), batch)
    };
    let deletions = writes
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| (KeyHash(key_hash(k).0), None));
    let staged = Staged {
        base: tree,
        nodes: first.node_batch.nodes(),
    };
    let (root, second) = jmt::Sha256Jmt::new(&staged)
        .put_value_set(deletions, rv)
        .map_err(tree_err)?;
    // What the deletions replaced of this height's puts is never stored.
    let replaced = second
        .stale_node_index_batch
        .iter()
        .filter(|stale| stale.node_key.version() == pv)
        .map(|stale| stale.node_key.clone())
        .collect();
    debug_assert!(
        second.node_batch.nodes().keys().all(|k| k.version() == rv),
        "the deletions' batch holds only nodes of its own version"
    );
    Ok(StateUpdate {
        version: height,
        root: Hash(root.0),
        puts: first.node_batch,
        replaced,
        deletions: second.node_batch,
    })
}

/// The proof of `key`'s leaf (or of its absence) after height `height`.
pub fn prove<R: TreeReader>(tree: &R, height: u64, key: &[u8]) -> Result<StateProof, StateTreeError> {
    let (_, proof) = jmt::Sha256Jmt::new(tree)
        .get_with_proof(KeyHash(key_hash(key).0), root_version(height)?)
        .map_err(tree_err)?;
    StateProof::from_jmt(&proof)
}

/// The root of the tree after height `height`.
pub fn root<R: TreeReader>(tree: &R, height: u64) -> Result<Hash, StateTreeError> {
    let r = jmt::Sha256Jmt::new(tree)
        .get_root_hash(root_version(height)?)
        .map_err(tree_err)?;
    Ok(Hash(r.0))
}

/// A committed state value with its proof under the state root of `height`'s header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenState {
    pub height: u64,
    pub value: Option<Vec<u8>>,
    pub proof: StateProof,
}

/// `key`'s value and proof after height `version` from a tree and the state it commits to (`MemTree` and
/// `MemState` kept together); None if the value does not match its leaf.
pub fn prove_value<R: TreeReader>(
    tree: &R,
    version: u64,
    key: &[u8],
    value: Option<Vec<u8>>,
) -> Result<Option<ProvenState>, StateTreeError> {
    let proof = prove(tree, version, key)?;
    let root = root(tree, version)?;
    Ok(proof
        .verify(&root, key, value.as_deref())
        .is_ok()
        .then_some(ProvenState {
            height: version,
            value,
            proof,
        }))
}

/// The leaf a proof's path ends in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct ProofLeaf {
    pub key_hash: Hash,
    /// SHA-256 of the tree's value (= SHA-256(SHA-256(state value))).
    pub value_hash: Hash,
}

/// A proof that a state key has a value (or none) under a state root.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct StateProof {
    pub leaf: Option<ProofLeaf>,
    /// Sibling hashes on the path, deepest first.
    pub siblings: Vec<Hash>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StateProofError {
    #[error("state proof has {0} siblings (at most 256)")]
    TooLong(usize),
    #[error("state proof: the value is present but the proof shows its absence")]
    ExpectedInclusion,
    #[error("state proof: the proof's leaf is another key")]
    OtherKey,
    #[error("state proof: the proof's leaf holds another value")]
    OtherValue,
    #[error("state proof: the key is present but was claimed absent")]
    KeyExists,
    #[error("state proof: the absent key would not be under the proof's leaf")]
    NotOnPath,
    #[error("state proof: the path does not hash to the state root")]
    WrongRoot,
}

impl StateProof {
    /// Check that `key` holds `value` (`None`: no value) in the state whose root is `root`.
    pub fn verify(&self, root: &Hash, key: &[u8], value: Option<&[u8]>) -> Result<(), StateProofError> {
        let n = self.siblings.len();
        if n > MAX_SIBLINGS {
            return Err(StateProofError::TooLong(n));
        }
        let kh = key_hash(key);
        match (value, &self.leaf) {
            (Some(v), Some(leaf)) => {
                if leaf.key_hash != kh {
                    return Err(StateProofError::OtherKey);
                }
                if leaf.value_hash.0 != sha256(&[&value_digest(v)]) {
                    return Err(StateProofError::OtherValue);
                }
            }
            (Some(_), None) => return Err(StateProofError::ExpectedInclusion),
            (None, Some(leaf)) => {
                if leaf.key_hash == kh {
                    return Err(StateProofError::KeyExists);
                }
                if common_prefix_bits(&kh, &leaf.key_hash) < n {
                    return Err(StateProofError::NotOnPath);
                }
            }
            (None, None) => {}
        }
        let mut cur = self
            .leaf
            .as_ref()
            .map_or(PLACEHOLDER, |l| leaf_hash(&l.key_hash, &l.value_hash));
        for (i, sib) in self.siblings.iter().enumerate() {
            cur = if bit(&kh, n - 1 - i) {
                internal_hash(&sib.0, &cur)
            } else {
                internal_hash(&cur, &sib.0)
            };
        }
        if cur != root.0 {
            return Err(StateProofError::WrongRoot);
        }
        Ok(())
    }

    /// Flatten `jmt`'s proof (its fields are private; its borsh encoding is its public form:
    /// `Option<leaf{key_hash, value_hash}>`, then `Vec<SparseMerkleNode>` where a node is
    /// 0 = empty, 1 = internal{left, right}, 2 = leaf{key_hash, value_hash}).
    fn from_jmt<H: jmt::SimpleHasher>(p: &jmt::proof::SparseMerkleProof<H>) -> Result<StateProof, StateTreeError> {
        let bytes = borsh::to_vec(p).map_err(tree_err)?;
        let mut r = Reader(&bytes);
        let leaf = match r.u8()? {
            0 => None,
            1 => Some(ProofLeaf {
                key_hash: Hash(r.h32()?),
                value_hash: Hash(r.h32()?),
            }),
            t => return Err(StateTreeError::Tree(format!("jmt proof: leaf tag {t}"))),
        };
        let count = r.u32()? as usize;
        if count > MAX_SIBLINGS {
            return Err(StateTreeError::Tree(format!("jmt proof: {count} siblings")));
        }
        let mut siblings = Vec::with_capacity(count);
        for _ in 0..count {
            let h = match r.u8()? {
                0 => PLACEHOLDER,
                1 => internal_hash(&r.h32()?, &r.h32()?),
                2 => leaf_hash(&Hash(r.h32()?), &Hash(r.h32()?)),
                t => return Err(StateTreeError::Tree(format!("jmt proof: node tag {t}"))),
            };
            siblings.push(Hash(h));
        }
        if !r.0.is_empty() {
            return Err(StateTreeError::Tree("jmt proof: trailing bytes".into()));
        }
        Ok(StateProof { leaf, siblings })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], StateTreeError> {
        let (head, tail) = self
            .0
            .split_first_chunk::<N>()
            .ok_or_else(|| StateTreeError::Tree("jmt proof: truncated".into()))?;
        self.0 = tail;
        Ok(*head)
    }
    fn u8(&mut self) -> Result<u8, StateTreeError> {
        Ok(self.take::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32, StateTreeError> {
        Ok(u32::from_le_bytes(self.take::<4>()?))
    }
    fn h32(&mut self) -> Result<[u8; 32], StateTreeError> {
        self.take::<32>()
    }
}

/// What a reader answers `jmt`'s value lookups with: values are not stored (module doc).
pub fn unstored_value() -> anyhow::Result<Option<OwnedValue>> {
    Ok(Some(Vec::new()))
}

/// An in-memory tree (tests, the in-memory gRPC backend, `verify`'s re-derivation).
#[derive(Clone, Debug, Default)]
pub struct MemTree {
    nodes: BTreeMap<NodeKey, Node>,
}

impl MemTree {
    pub fn apply(&mut self, u: &StateUpdate) {
        for (k, n) in u.nodes() {
            self.nodes.insert(k.clone(), n.clone());
        }
    }

    /// Apply `writes` as version `version` (`update`, then `apply`); the update, for its root
    /// and nodes.
    pub fn advance(&mut self, version: u64, writes: &WriteSet) -> Result<StateUpdate, StateTreeError> {
        let u = update(self, version, writes)?;
        self.apply(&u);
        Ok(u)
    }
}

impl TreeReader for MemTree {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        Ok(self.nodes.get(node_key).cloned())
    }
    fn get_value_option(&self, _max_version: Version, _key_hash: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        unstored_value()
    }
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        anyhow::bail!("get_rightmost_leaf is only for jmt's restore, which tradechain does not use")
    }
}
