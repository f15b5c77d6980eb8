//! The state tree's node cache (`Store`'s, see the store's `tree` module) serves only what the
//! store holds: a chain of blocks, each with a losing proposal's tree update computed at its
//! height and never committed, keeps the roots an independent in-memory tree computes from the
//! same writes; and a cold store opened on the same files serves the same proofs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use std::collections::BTreeMap;
use store_support::*;
use tradechain_ledger::execute::genesis_writes;
use tradechain_ledger::state::keys;
use tradechain_ledger::state_tree::MemTree;
use tradechain_store::Store;

#[test]
fn tree_reads_through_the_cache_match_an_independent_tree_and_a_cold_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    store.init_genesis(&genesis()).unwrap();
    let mut mem = MemTree::default();
    assert_eq!(
        mem.advance(0, &genesis_writes(&genesis()).unwrap()).unwrap().root,
        store.state_root(0).unwrap()
    );
    let mut n = Nonces::default();
    let mut probe = Vec::new();
    for h in 1..=12u64 {
        let head = store.head().unwrap();
        // A proposal that loses the round: its update touches the root and many positions
        // near it, at the very tree version the committed block then writes.
        let losing: BTreeMap<Vec<u8>, Option<Vec<u8>>> = (0..64)
            .map(|i| {
                (
                    keys::item(&goods_of(&format!("LOSER-{h}-{i}"))),
                    Some(vec![h as u8, i as u8]),
                )
            })
            .collect();
        let lost = store.state_update(h, &losing).unwrap();
        let txs = (0..24)
            .map(|i| {
                let org = ORGS[i % ORGS.len()];
                n.tx(org, h, instruct_for(&format!("S-{h}-{i}"), &format!("ITEM-{h}-{i}")))
            })
            .collect();
        let (block, cert, exec) = build_block(&registry(), &genesis(), &store, &head, txs);
        store.commit_block(&block, &cert, &exec).unwrap();
        let independent = mem.advance(h, &exec.writes).unwrap().root;
        assert_ne!(lost.root, independent);
        assert_eq!(block.header.state_hash, independent, "height {h}: the header's root");
        assert_eq!(
            store.state_root(h).unwrap(),
            independent,
            "height {h}: the store's root"
        );
        probe.extend(exec.writes.keys().take(3).cloned());
        probe.push(keys::item(&goods_of(&format!("LOSER-{h}-0"))));
    }
    let head = store.head().unwrap().height;
    let cold = Store::open_read_only(dir.path()).unwrap();
    for h in 0..=head {
        assert_eq!(store.state_root(h).unwrap(), cold.state_root(h).unwrap(), "root at {h}");
    }
    let root = store.state_root(head).unwrap();
    for key in &probe {
        let warm = store.prove_state_at(key, head).unwrap().unwrap();
        assert_eq!(Some(warm.clone()), cold.prove_state_at(key, head).unwrap());
        warm.proof.verify(&root, key, warm.value.as_deref()).unwrap();
    }
    // The losing proposals' keys were never written.
    let lost_key = keys::item(&goods_of("LOSER-5-0"));
    assert_eq!(store.prove_state_at(&lost_key, head).unwrap().unwrap().value, None);
}
