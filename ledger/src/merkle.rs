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

/// Sizes of the tree's levels for `n` leaves, leaves first, root last (empty for `n == 0`).
pub fn level_sizes(n: usize) -> Vec<usize> {
    let mut v = Vec::new();
    let mut m = n;
    while m > 0 {
        v.push(m);
        if m == 1 {
            break;
        }
        m = m.div_ceil(2);
    }
    v
}

/// Every level of the tree over `leaves`, flattened: leaves first, root last. Built bottom-up by
/// hashing adjacent pairs and carrying a lone last node up unchanged — the same tree as the
/// RFC 6962 split at the largest power of two (`root_from_leaf_hashes`), so a proof can be read
/// off it in O(log n) (`prove_from_levels`) instead of re-hashing the block.
pub fn levels(leaves: &[Hash]) -> Vec<Hash> {
    let mut all: Vec<Hash> = leaves.to_vec();
    let mut start = 0;
    let mut len = leaves.len();
    while len > 1 {
        for j in (0..len).step_by(2) {
            let node = if j + 1 < len {
                node_hash(&all[start + j], &all[start + j + 1])
            } else {
                all[start + j]
            };
            all.push(node);
        }
        start += len;
        len = len.div_ceil(2);
    }
    all
}

/// Proof of leaf `index` read off `levels(leaves)` of a tree of `n` leaves. None if out of range
/// or if `levels` is not the size such a tree has.
pub fn prove_from_levels(levels: &[Hash], n: usize, index: usize) -> Option<InclusionProof> {
    if levels.len() != level_sizes(n).iter().sum::<usize>() {
        return None;
    }
    prove_with(n, index, |pos| levels[pos])
}

/// Proof of leaf `index` in a tree of `n` leaves, reading only the O(log n) sibling nodes it
/// needs through `node(position in levels(..))` (e.g. straight from a stored record).
pub fn prove_with(n: usize, index: usize, node: impl Fn(usize) -> Hash) -> Option<InclusionProof> {
    if index >= n {
        return None;
    }
    let sizes = level_sizes(n);
    let mut path = Vec::new();
    let (mut start, mut j) = (0usize, index);
    for &len in &sizes[..sizes.len() - 1] {
        let sib = j ^ 1;
        if sib < len {
            path.push(node(start + sib));
        }
        start += len;
        j /= 2;
    }
    Some(InclusionProof {
        index: index as u64,
        tree_size: n as u64,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn levels_give_the_rfc6962_root_and_proofs() {
        for n in 0..=70usize {
            let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&(i as u64).to_le_bytes())).collect();
            let lv = levels(&leaves);
            assert_eq!(lv.len(), level_sizes(n).iter().sum::<usize>(), "n={n}");
            if n > 0 {
                assert_eq!(lv.last(), Some(&root_from_leaf_hashes(&leaves)), "n={n}");
            }
            for i in 0..n {
                let fast = prove_from_levels(&lv, n, i).unwrap();
                assert_eq!(Some(fast.clone()), prove(&leaves, i), "n={n} i={i}");
                assert!(fast.verify_hash(&leaves[i], &root_from_leaf_hashes(&leaves)));
            }
            assert!(prove_from_levels(&lv, n, n).is_none());
            if n > 1 {
                assert!(prove_from_levels(&lv[1..], n, 0).is_none(), "a short record is refused");
            }
        }
    }
}
