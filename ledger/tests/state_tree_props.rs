//! The authenticated state tree (`ledger::state_tree`) on random histories: the root depends only
//! on the state (not on the blocks that built it); a proof checks exactly the committed value or
//! absence, as `jmt`'s own check does; any other value, root or sibling is refused; the two-phase
//! update (batched puts, then deletions) gives the root `jmt`'s key-by-key insertion gives.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use std::collections::BTreeMap;
use tradechain_ledger::state::WriteSet;
use tradechain_ledger::state_tree::{self, MemTree, StateProofError};

fn key(i: u8) -> Vec<u8> {
    vec![5, 0, 1, i]
}

type Blocks = Vec<Vec<(u8, Option<Vec<u8>>)>>;

/// `jmt` used the plain way, one version per height and key by key: the reference.
#[derive(Default)]
struct KeyByKey(BTreeMap<jmt::storage::NodeKey, jmt::storage::Node>);

impl jmt::storage::TreeReader for KeyByKey {
    fn get_node_option(&self, k: &jmt::storage::NodeKey) -> anyhow::Result<Option<jmt::storage::Node>> {
        Ok(self.0.get(k).cloned())
    }
    fn get_value_option(&self, _: jmt::Version, _: jmt::KeyHash) -> anyhow::Result<Option<jmt::OwnedValue>> {
        Ok(None)
    }
    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(jmt::storage::NodeKey, jmt::storage::LeafNode)>> {
        Ok(None)
    }
}

impl KeyByKey {
    fn put(&mut self, version: u64, ws: &WriteSet) -> [u8; 32] {
        let set = ws.iter().map(|(k, v)| {
            let kh = jmt::KeyHash(state_tree::key_hash(k).0);
            (kh, v.as_ref().map(|v| state_tree::value_digest(v).to_vec()))
        });
        let (root, batch) = jmt::Sha256Jmt::new(&*self).put_value_set(set, version).unwrap();
        self.0.extend(batch.node_batch.nodes().clone());
        root.0
    }
}

fn blocks() -> impl Strategy<Value = Blocks> {
    vec(vec((0u8..40, option::of(vec(any::<u8>(), 0..20))), 0..12), 1..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn proofs_check_exactly_the_committed_state(blocks in blocks(), probe in 0u8..48) {
        let mut tree = MemTree::default();
        let mut reference = KeyByKey::default();
        let mut state: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for (v, b) in blocks.iter().enumerate() {
            let ws: WriteSet = b.iter().map(|(k, val)| (key(*k), val.clone())).collect();
            let u = state_tree::update(&tree, v as u64, &ws).unwrap();
            tree.apply(&u);
            prop_assert_eq!(reference.put(v as u64, &ws), u.root.0);
            for (k, val) in &ws {
                match val {
                    Some(x) => state.insert(k.clone(), x.clone()),
                    None => state.remove(k),
                };
            }
            // History independence: one update of the whole state from nothing, same root.
            let all: WriteSet = state.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
            let fresh = state_tree::update(&MemTree::default(), 0, &all).unwrap();
            prop_assert_eq!(fresh.root, u.root);
            prop_assert_eq!(state_tree::root(&tree, v as u64).unwrap(), u.root);
        }
        let version = blocks.len() as u64 - 1;
        let root = state_tree::root(&tree, version).unwrap();
        let k = key(probe);
        let value = state.get(&k).map(|v| v.as_slice());
        let digest = value.map(state_tree::value_digest);
        let proof = state_tree::prove(&tree, version, &k).unwrap();
        prop_assert_eq!(proof.verify(&root, &k, value), Ok(()));
        let proven = state_tree::prove_value(&tree, version, &k, value.map(|v| v.to_vec())).unwrap();
        prop_assert_eq!(proven.map(|p| p.proof), Some(proof.clone()));
        prop_assert!(state_tree::prove_value(&tree, version, &k, Some(b"not it".to_vec())).unwrap().is_none() || value == Some(&b"not it"[..]));
        // jmt's own check agrees on the same tree (height h's root is jmt's version 2h + 1).
        let (_, jp) = jmt::Sha256Jmt::new(&tree)
            .get_with_proof(jmt::KeyHash(state_tree::key_hash(&k).0), 2 * version + 1)
            .unwrap();
        prop_assert!(jp.verify(jmt::RootHash(root.0), jmt::KeyHash(state_tree::key_hash(&k).0), digest.map(|d| d.to_vec())).is_ok());

        // Anything else is refused: another value, absence of a present key, presence of an
        // absent one, another key, another root, any changed sibling.
        if value != Some(&b"other"[..]) {
            prop_assert!(proof.verify(&root, &k, Some(b"other")).is_err());
        }
        match value {
            Some(v) => {
                prop_assert!(proof.verify(&root, &k, None).is_err());
                prop_assert!(proof.verify(&root, &key(probe.wrapping_add(100)), Some(v)).is_err());
            }
            None => prop_assert!(proof.verify(&root, &k, Some(b"x")).is_err()),
        }
        let mut bad_root = root;
        bad_root.0[0] ^= 1;
        prop_assert!(proof.verify(&bad_root, &k, value).is_err());
        for i in 0..proof.siblings.len() {
            let mut p = proof.clone();
            p.siblings[i].0[31] ^= 1;
            prop_assert!(p.verify(&root, &k, value).is_err(), "sibling {} changed yet verified", i);
        }
    }
}

#[test]
fn empty_writes_keep_the_root_and_every_version_stays_provable() {
    let mut tree = MemTree::default();
    let ws: WriteSet = [(key(1), Some(b"a".to_vec())), (key(2), Some(b"b".to_vec()))].into();
    let u0 = state_tree::update(&tree, 0, &ws).unwrap();
    tree.apply(&u0);
    let u1 = state_tree::update(&tree, 1, &WriteSet::new()).unwrap();
    tree.apply(&u1);
    assert_eq!(u0.root, u1.root);
    let ws2: WriteSet = [(key(1), Some(b"c".to_vec()))].into();
    let u2 = state_tree::update(&tree, 2, &ws2).unwrap();
    tree.apply(&u2);
    assert_ne!(u2.root, u1.root);
    // The old version still proves the old value; the new one the new value.
    let p1 = state_tree::prove(&tree, 1, &key(1)).unwrap();
    p1.verify(&u1.root, &key(1), Some(b"a")).unwrap();
    assert!(p1.verify(&u1.root, &key(1), Some(b"c")).is_err());
    let p2 = state_tree::prove(&tree, 2, &key(1)).unwrap();
    p2.verify(&u2.root, &key(1), Some(b"c")).unwrap();
    // A proof longer than any path is refused before hashing.
    let mut long = p2.clone();
    long.siblings = vec![tradechain_ledger::Hash::ZERO; 257];
    assert_eq!(
        long.verify(&u2.root, &key(1), Some(b"c")),
        Err(StateProofError::TooLong(257))
    );
}
