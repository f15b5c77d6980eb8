//! Merkle tree properties (proptest): for random trees, the proof of every index verifies, and
//! changing any byte of the leaf, any path hash, the root, or the proof's index/size makes it fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::collection::vec;
use proptest::prelude::*;
use tradechain_ledger::Hash;
use tradechain_ledger::merkle::{leaf_hash, prove, root, root_from_leaf_hashes};

fn leaves() -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(vec(any::<u8>(), 1..24), 1..40)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_index_proves_and_every_changed_byte_fails(leaves in leaves()) {
        let hashed: Vec<Hash> = leaves.iter().map(|l| leaf_hash(l)).collect();
        let r = root(&leaves);
        prop_assert_eq!(r, root_from_leaf_hashes(&hashed));
        for (i, leaf) in leaves.iter().enumerate() {
            let p = prove(&hashed, i).unwrap();
            prop_assert!(p.verify(leaf, &r), "index {} of {}", i, leaves.len());
            // Any byte of the leaf.
            for b in 0..leaf.len() {
                let mut l = leaf.clone();
                l[b] ^= 0x01;
                prop_assert!(!p.verify(&l, &r));
            }
            // Any byte of any path element.
            for j in 0..p.path.len() {
                for b in 0..32 {
                    let mut q = p.clone();
                    q.path[j].0[b] ^= 0x80;
                    prop_assert!(!q.verify(leaf, &r));
                }
            }
            // Any byte of the root.
            for b in 0..32 {
                let mut rr = r;
                rr.0[b] ^= 0x01;
                prop_assert!(!p.verify(leaf, &rr));
            }
            // Another index, a size that excludes the index, a path element dropped or added.
            let mut q = p.clone();
            q.index ^= 1;
            if (q.index as usize) < leaves.len() && leaves[q.index as usize] != *leaf {
                prop_assert!(!q.verify(leaf, &r));
            }
            let mut q = p.clone();
            q.tree_size = q.index;
            prop_assert!(!q.verify(leaf, &r));
            if !p.path.is_empty() {
                let mut q = p.clone();
                q.path.pop();
                prop_assert!(!q.verify(leaf, &r));
            }
            let mut q = p.clone();
            q.path.push(Hash([0; 32]));
            prop_assert!(!q.verify(leaf, &r));
        }
        prop_assert!(prove(&hashed, leaves.len()).is_none());
    }

    #[test]
    fn different_leaf_lists_have_different_roots(a in leaves(), b in leaves()) {
        prop_assume!(a != b);
        prop_assert_ne!(root(&a), root(&b));
    }

    #[test]
    fn duplicating_the_last_leaf_changes_the_root(a in leaves()) {
        let mut b = a.clone();
        b.push(a.last().unwrap().clone());
        prop_assert_ne!(root(&a), root(&b));
    }
}
