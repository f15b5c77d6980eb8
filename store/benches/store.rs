//! Store benchmarks (Criterion):
//! - `append/block_1000_txs_synced`: commit of one block of 1,000 signed transactions (each
//!   writing to every state namespace through the test validators), one synced WriteBatch.
//!   Signing and execution are outside the timing; only `commit_block` is measured.
//! - `item_history/*`: point lookups of one goods item's events with 1,000,000 events stored
//!   (100,000 items × 10 events, bulk-loaded): the whole history, one event, an unknown item.
//!
//! Run: `cargo bench -p tradechain-store --bench store -- --warm-up-time 1 --measurement-time 5`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/store_support/mod.rs"]
mod store_support;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};
use store_support::*;
use tradechain_ledger::records::{ItemEventRef, TxLocation, item_event_hash};
use tradechain_ledger::state::{WriteSet, keys};
use tradechain_ledger::{Hash, codec};
use tradechain_store::Store;

const BLOCK_TXS: usize = 1000;
const ITEMS: u64 = 100_000;
const EVENTS_PER_ITEM: u64 = 10;

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = genesis();
    store.init_genesis(&g).unwrap();
    let reg = registry();
    let mut group = c.benchmark_group("append");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BLOCK_TXS as u64));
    group.bench_function("block_1000_txs_synced", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let head = store.head().unwrap();
                let h = head.height + 1;
                let mut nonces = Nonces::from_view(&store);
                let txs = (0..BLOCK_TXS)
                    .map(|i| {
                        let org = ORGS[i % ORGS.len()];
                        nonces.tx(org, h, instruct_for(&format!("B{h}-{i}"), &format!("ITEM-{}", i % 100)))
                    })
                    .collect();
                let (block, cert, exec) = build_block(&reg, &g, &store, &head, txs);
                let t = Instant::now();
                store.commit_block(&block, &cert, &exec).unwrap();
                total += t.elapsed();
            }
            total
        })
    });
    group.finish();
}

fn goods(i: u64) -> String {
    format!("01/{:014}/21/SN{i:08}", 4_012_345_000_000u64 + i % 1000)
}

fn load_events(store: &Store) {
    let mut batch = WriteSet::new();
    for item in 0..ITEMS {
        let g = goods(item);
        let mut prev = Hash::ZERO;
        for seq in 0..EVENTS_PER_ITEM {
            let tx_id = Hash::tagged("bench", &(item * EVENTS_PER_ITEM + seq).to_be_bytes());
            let event_hash = item_event_hash(&prev, &tx_id, 0, &g);
            let ev = ItemEventRef {
                seq,
                tx_id,
                at: TxLocation {
                    height: item,
                    index: seq as u32,
                },
                event: 0,
                event_time_ms: 1_700_000_000_000 + seq as i64,
                prev_event_hash: prev,
                event_hash,
            };
            prev = event_hash;
            batch.insert(keys::item_event(&g, seq), Some(codec::encode(&ev)));
        }
        if batch.len() >= 50_000 {
            store.bulk_load_state_unchecked(&batch).unwrap();
            batch.clear();
        }
    }
    store.bulk_load_state_unchecked(&batch).unwrap();
    store.flush().unwrap();
}

fn item_history(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let t = Instant::now();
    load_events(&store);
    eprintln!(
        "loaded {} item events in {:.1}s",
        ITEMS * EVENTS_PER_ITEM,
        t.elapsed().as_secs_f64()
    );
    // A fixed pseudo-random walk over the items (xorshift), so runs are comparable.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next_item = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % ITEMS
    };
    let mut group = c.benchmark_group("item_history");
    group.bench_function("whole_history_of_one_item_1M_stored", |b| {
        b.iter(|| {
            let ev = store.item_events(&goods(next_item()), 0, 100).unwrap();
            assert_eq!(ev.len(), EVENTS_PER_ITEM as usize);
            black_box(ev)
        })
    });
    group.bench_function("one_event_of_one_item_1M_stored", |b| {
        b.iter(|| {
            let ev = store.item_events(&goods(next_item()), 7, 1).unwrap();
            assert_eq!(ev.len(), 1);
            black_box(ev)
        })
    });
    group.bench_function("unknown_item_1M_stored", |b| {
        b.iter(|| {
            let ev = store.item_events(&goods(ITEMS + next_item()), 0, 100).unwrap();
            assert!(ev.is_empty());
            black_box(ev)
        })
    });
    group.finish();
}

criterion_group!(benches, append, item_history);
criterion_main!(benches);
