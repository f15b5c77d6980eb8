//! Validation throughput: transactions per second through the envelope checks and family
//! validators alone (`execute::execute_tx` with `signature_checked = true`, so no signature
//! verification), over an in-memory state.
//!
//! Run: `cargo bench -p tradechain-ledger --bench validate` (the bench profile inherits release)
#![allow(clippy::unwrap_used, clippy::expect_used)]
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tradechain_ledger::SignedTransaction;
use tradechain_ledger::execute::{Registry, execute_tx};
use tradechain_ledger::payload::*;
use tradechain_ledger::state::{MemState, Overlay};
use tradechain_ledger::testkit::*;

const N: usize = 1000;

fn commission_block(c: &Chain) -> Vec<SignedTransaction> {
    (0..N)
        .map(|i| {
            let id = format!("urn:epc:id:sgtin:6901234.012345.{}", 10_000 + i);
            let mut e = event(
                EventType::ObjectEvent,
                Some(Action::Add),
                &[id.as_str()],
                GENESIS_TIME_MS,
            );
            e.biz_step = Some("commissioning".into());
            e.unlocode = Some("CNFOC".into());
            c.sign("PRODUCER-FZ", i as u64 + 1, Payload::Provenance(e))
        })
        .collect()
}

fn run_block(reg: &Registry, c: &Chain, state: &MemState, txs: &[SignedTransaction]) -> usize {
    let mut overlay = Overlay::new(state);
    let mut accepted = 0;
    for (i, t) in txs.iter().enumerate() {
        let r = execute_tx(
            reg,
            &c.genesis,
            &overlay,
            1,
            c.time_ms + BLOCK_STEP_MS,
            i as u32,
            t,
            true,
        )
        .unwrap();
        if let Ok(ws) = r {
            overlay.apply(ws);
            accepted += 1;
        }
    }
    accepted
}

fn bench(cr: &mut Criterion) {
    let reg = Registry::default();
    let c = Chain::demo();
    let txs = commission_block(&c);
    assert_eq!(run_block(&reg, &c, &c.state, &txs), N);
    let mut g = cr.benchmark_group("validate");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("commission_1000_items", |b| {
        b.iter(|| black_box(run_block(&reg, &c, &c.state, &txs)))
    });

    // The 18 shipment steps, each judged against the state after the steps before it.
    let steps = shipment();
    let mut chain = Chain::demo();
    let mut cases = Vec::new();
    for s in &steps {
        cases.push((
            chain.state.clone(),
            chain.tx(s.sender, s.payload.clone()),
            chain.time_ms + BLOCK_STEP_MS,
            chain.height + 1,
        ));
        chain.accept(s.sender, s.payload.clone());
    }
    g.throughput(Throughput::Elements(cases.len() as u64));
    g.bench_function("shipment_18_steps", |b| {
        b.iter(|| {
            for (state, t, time, h) in &cases {
                let r = execute_tx(&reg, &c.genesis, state, *h, *time, 0, t, true).unwrap();
                assert!(r.is_ok());
                let _ = black_box(r);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
