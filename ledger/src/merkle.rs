//! Merkle trees over a block's transactions (RFC 6962 / Certificate Transparency shape) and
//! inclusion proofs a consumer checks offline.
//!
//! Invariants: leaf hash = SHA-256(0x00 || leaf), node hash = SHA-256(0x01 || left || right);
//! the tree splits at the largest power of two below n (no duplicated last leaf, so two
//! different leaf lists never share a root — the CVE-2012-2459 trap). The empty tree's root
//! is SHA-256 of nothing.
use crate::hash::Hash;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Hash(h.finalize().into())
}

pub fn node_hash(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(l.0);
    h.update(r.0);
    Hash(h.finalize().into())
}

fn split(n: usize) -> usize {
    debug_assert!(n > 1);
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn root_of(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => Hash(Sha256::digest([]).into()),
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root_of(&leaves[..k]), &root_of(&leaves[k..]))
        }
    }
}

/// Root over already-hashed leaves.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    root_of(leaves)
}

/// Root over raw leaves.
pub fn root<T: AsRef<[u8]>>(leaves: &[T]) -> Hash {
    let hashed: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l.as_ref())).collect();
    root_of(&hashed)
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    /// Sibling hashes from the leaf up to the root.
    pub path: Vec<Hash>,
}

fn path_of(index: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if index < k {
        path_of(index, &leaves[..k], out);
        out.push(root_of(&leaves[k..]));
    } else {
        path_of(index - k, &leaves[k..], out);
        out.push(root_of(&leaves[..k]));
    }
}

/// Proof that leaf `index` is in the tree over `leaves` (already hashed). None if out of range.
pub fn prove(leaves: &[Hash], index: usize) -> Option<InclusionProof> {
    if index >= leaves.len() {
        return None;
    }
    let mut path = Vec::new();
    path_of(index, leaves, &mut path);
    Some(InclusionProof {
        index: index as u64,
        tree_size: leaves.len() as u64,
        path,
    })
}

impl InclusionProof {
    /// RFC 9162 §2.1.3.2 verification of `leaf` (raw bytes) against `root`.
    pub fn verify(&self, leaf: &[u8], root: &Hash) -> bool {
        self.verify_hash(&leaf_hash(leaf), root)
    }

    pub fn verify_hash(&self, leaf: &Hash, root: &Hash) -> bool {
        if self.index >= self.tree_size {
            return false;
        }
        let (mut fn_, mut sn) = (self.index, self.tree_size - 1);
        let mut r = *leaf;
        for p in &self.path {
            if sn == 0 {
                return false;
            }
            if fn_ & 1 == 1 || fn_ == sn {
                r = node_hash(p, &r);
                if fn_ & 1 == 0 {
                    while fn_ & 1 == 0 && fn_ != 0 {
                        fn_ >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                r = node_hash(&r, p);
            }
            fn_ >>= 1;
            sn >>= 1;
        }
        sn == 0 && &r == root
    }
}
