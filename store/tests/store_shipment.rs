//! The demo shipment (testkit) committed block by block to a real store with the node's own
//! validators (`Registry::default()`): the store's state hash follows the in-memory chain's,
//! the goods item's event chain and the bill of lading's versions are readable (each version
//! written with its public head, the route, proven under the head block's state root), and
//! `verify_store` (the production audit, default registry) passes, then names the block of a
//! tampered item event.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use store_support::certify;
use tradechain_ledger::block_check::{Parent, Seal, assemble};
use tradechain_ledger::execute::{Registry, execute_block};
use tradechain_ledger::records::{ItemRecord, WaybillHead, WaybillRecord};
use tradechain_ledger::state::{Ns, StateView, get_typed, keys};
use tradechain_ledger::testkit::*;
use tradechain_ledger::{Hash, TxOutcome, ValidatorSet};
use tradechain_store::Store;
use tradechain_store::verify::verify_store;

fn commit_shipment(dir: &std::path::Path) -> Chain {
    let store = Store::open(dir).unwrap();
    let mut chain = Chain::demo();
    store.init_genesis(&chain.genesis).unwrap();
    assert_eq!(store.head().unwrap().state_hash, chain.state_hash);
    let registry = Registry::default();
    for step in shipment() {
        let tx = chain.tx(step.sender, step.payload.clone());
        let head = store.head().unwrap();
        let height = head.height + 1;
        let time_ms = chain.time_ms + BLOCK_STEP_MS;
        let exec = execute_block(
            &registry,
            &chain.genesis,
            &store,
            height,
            time_ms,
            std::slice::from_ref(&tx),
        )
        .unwrap();
        assert_eq!(exec.outcomes, vec![TxOutcome::Accepted], "step {}", step.name);
        let set: ValidatorSet = get_typed(&store, &keys::validators()).unwrap();
        let seal = Seal {
            time_ms,
            proposer: set.validators[0].public_key,
            validators_hash: set.hash(),
            state_hash: store.state_update(height, &exec.writes).unwrap().root,
        };
        let parent = Parent {
            height: head.height,
            block_hash: head.block_hash,
            time_ms: time_ms - 1,
        };
        let block = assemble(&chain.genesis.chain_id, &parent, seal, &exec.outcomes, vec![tx.clone()]);
        let cert = certify(&chain.genesis, &set, &block);
        store.commit_block(&block, &cert, &exec).unwrap();
        // The in-memory chain executes the same block; both agree on the state hash.
        chain.execute(&[tx]).unwrap();
        assert_eq!(
            store.head().unwrap().state_hash,
            chain.state_hash,
            "after {}",
            step.name
        );
    }
    chain
}

#[test]
fn shipment_commits_reads_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let chain = commit_shipment(dir.path());
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.head().unwrap().height, chain.height);
    // Every state entry of the in-memory chain is in the store, and nothing else.
    for ns in Ns::ALL {
        let stored = store.scan(ns, &[], usize::MAX).unwrap();
        let expected: Vec<(Vec<u8>, Vec<u8>)> = chain
            .state
            .0
            .range(vec![ns as u8]..vec![ns as u8 + 1])
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(stored, expected, "{ns:?}");
    }
    // Every item's events form a complete hash chain, each pointing at its transaction.
    // (Ns::Item holds each item's record and, under ("head", key), its public head.)
    let entries = store.scan(Ns::Item, &[], usize::MAX).unwrap();
    let (heads, items): (Vec<_>, Vec<_>) = entries
        .iter()
        .partition(|(k, _)| tradechain_ledger::state::split_key(k).is_some_and(|(_, parts)| parts.len() == 2));
    assert!(items.len() >= 3, "{} items", items.len());
    assert_eq!(heads.len(), items.len(), "every item has its public head");
    for (_, v) in &items {
        let item: ItemRecord = tradechain_ledger::codec::decode(v).unwrap();
        let head: tradechain_ledger::records::ItemHead = get_typed(&store, &keys::item_head(&item.goods_key)).unwrap();
        assert_eq!(head, tradechain_ledger::records::ItemHead::of(&item));
        let events = store.item_events(&item.goods_key, 0, 1000).unwrap();
        assert_eq!(events.len() as u64, item.event_count, "{}", item.goods_key);
        let mut prev = Hash::ZERO;
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.seq, i as u64);
            assert_eq!(e.prev_event_hash, prev);
            prev = e.event_hash;
            let (_, loc, outcome) = store.transaction(&e.tx_id).unwrap().unwrap();
            assert_eq!(loc, e.at);
            assert_eq!(outcome, TxOutcome::Accepted);
        }
        assert_eq!(prev, item.last_event_hash, "{}", item.goods_key);
    }
    let phone = tradechain_ledger::gs1::goods_key(PHONE1_DL).unwrap();
    let events = store.item_events(&phone, 0, 100).unwrap();
    assert!(events.len() >= 2, "{} events", events.len());
    // Every version of the bill of lading is kept; the last is the current record.
    let bl = keys::waybill(&oid("CARRIER-COSCO"), BL_REF);
    let versions = store.document_history(&bl).unwrap();
    assert!(versions.len() >= 5, "{} versions", versions.len());
    assert!(versions.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(versions.last().unwrap().1, store.get(&bl));
    // Every waybill has its public head (`WaybillRecord::write`), the record's, provable under
    // the head block's state root.
    let entries = store.scan(Ns::Waybill, &[], usize::MAX).unwrap();
    let (heads, bills): (Vec<_>, Vec<_>) = entries
        .iter()
        .partition(|(k, _)| tradechain_ledger::state::split_key(k).is_some_and(|(_, parts)| parts.len() == 3));
    assert!(!bills.is_empty());
    assert_eq!(heads.len(), bills.len(), "every waybill has its public head");
    let top = store.head().unwrap();
    let header = store.header(top.height).unwrap().unwrap();
    for (_, v) in &bills {
        let rec: WaybillRecord = tradechain_ledger::codec::decode(v).unwrap();
        let key = keys::waybill_head(&rec.issuer, &rec.document.reference);
        let head: WaybillHead = get_typed(&store, &key).unwrap();
        assert_eq!(head, WaybillHead::of(&rec));
        let p = store.prove_state_at(&key, top.height).unwrap().unwrap();
        p.proof.verify(&header.state_hash, &key, p.value.as_deref()).unwrap();
        assert_eq!(p.value, Some(tradechain_ledger::codec::encode(&head)));
    }
    let shipped: WaybillHead = get_typed(&store, &keys::waybill_head(&oid("CARRIER-COSCO"), BL_REF)).unwrap();
    assert_eq!(shipped.status, tradechain_ledger::payload::WaybillStatus::Accomplished);
    drop(store);

    let report = verify_store(dir.path(), &mut |_, _| {}).unwrap();
    assert_eq!(report.blocks, chain.height);
    assert_eq!(report.accepted, chain.height);

    // Tamper with the phone's second event: verify names the block that recorded it.
    let target = keys::item_event(&phone, 1);
    {
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), Store::column_families()).unwrap();
        let cf = db.cf_handle(Ns::ItemEvent.cf_name()).unwrap();
        let mut v = db.get_cf(cf, &target).unwrap().unwrap();
        v[3] ^= 0x10;
        db.put_cf(cf, &target, v).unwrap();
    }
    let e = verify_store(dir.path(), &mut |_, _| {}).unwrap_err();
    assert_eq!(e.height, events[1].at.height, "{e}");
}
