//! Deterministic simulation of n real engines under faults, checked by an independent checker.
//!
//! `SIM_SEED=x` replays one seed; `SIM_SEEDS=N SIM_SEED_START=S` runs seeds S..S+N (default:
//! `DEFAULT_SEEDS` from 0). Seeds run on all cores; results are merged in seed order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sim;

use sim::world::{SimConfig, SimResult, World};
use std::collections::BTreeMap;

const DEFAULT_SEEDS: u64 = 10_000;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn seed_range() -> (u64, u64) {
    if let Some(s) = env_u64("SIM_SEED") {
        return (s, 1);
    }
    (
        env_u64("SIM_SEED_START").unwrap_or(0),
        env_u64("SIM_SEEDS").unwrap_or(DEFAULT_SEEDS),
    )
}

fn run_seeds(start: u64, count: u64, amnesia: bool) -> Vec<(u64, SimResult)> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) as u64;
    let mut handles = Vec::new();
    for t in 0..threads {
        handles.push(std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut s = start + t;
            while s < start + count {
                out.push((s, World::new(SimConfig { seed: s, amnesia }).run()));
                s += threads;
            }
            out
        }));
    }
    let mut all: Vec<(u64, SimResult)> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    all.sort_by_key(|(s, _)| *s);
    all
}

#[test]
fn simulated_seeds_keep_safety_and_liveness() {
    let (start, count) = seed_range();
    let results = run_seeds(start, count, false);
    let mut faults: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut per_n: BTreeMap<usize, (u64, u64, u64)> = BTreeMap::new(); // seeds, msgs, heights
    let mut worst_ttc = 0;
    let mut failing = Vec::new();
    for (seed, r) in &results {
        for (k, v) in &r.faults {
            *faults.entry(k).or_default() += v;
        }
        let e = per_n.entry(r.n).or_default();
        e.0 += 1;
        e.1 += r.msgs_sent;
        e.2 += r.heights;
        worst_ttc = worst_ttc.max(r.worst_ttc_after_heal);
        if !r.violations.is_empty() {
            failing.push((*seed, r.violations.clone()));
        }
    }
    println!("seeds run: {count} (from {start})");
    println!("faults injected by kind: {faults:?}");
    println!("violations: {} seeds", failing.len());
    println!("worst time-to-commit after heal: {worst_ttc} ms (simulated)");
    for (n, (seeds, msgs, heights)) in &per_n {
        println!(
            "n={n}: {seeds} seeds, {heights} heights, {:.0} messages per committed height",
            *msgs as f64 / (*heights).max(1) as f64
        );
    }
    for (seed, v) in failing.iter().take(5) {
        println!(
            "FAILING SEED {seed} (replay: SIM_SEED={seed} cargo test --release -p tradechain-consensus --test simulation): {v:?}"
        );
    }
    assert!(failing.is_empty(), "{} seeds violated a property", failing.len());
}

#[test]
fn same_seed_gives_same_trace() {
    let seed = env_u64("SIM_SEED").unwrap_or(12345);
    let a = World::new(SimConfig { seed, amnesia: false }).run();
    let b = World::new(SimConfig { seed, amnesia: false }).run();
    assert_eq!(a.trace_hash, b.trace_hash);
    assert!(a.heights > 0);
    let c = World::new(SimConfig {
        seed: seed + 3,
        amnesia: false,
    })
    .run();
    assert_ne!(
        a.trace_hash, c.trace_hash,
        "different seeds should give different traces"
    );
}

/// The broken variant (restart without the WAL) must be caught within the CI seed range.
#[test]
fn broken_variant_amnesia_is_caught() {
    let (start, count) = (0, env_u64("SIM_BROKEN_SEEDS").unwrap_or(100));
    let results = run_seeds(start, count, true);
    let caught: Vec<u64> = results
        .iter()
        .filter(|(_, r)| r.violations.iter().any(|v| v.contains("double-signed")))
        .map(|(s, _)| *s)
        .collect();
    println!(
        "broken variant (amnesiac restart): {} of {count} seeds caught a double-sign; first: {:?}",
        caught.len(),
        caught.first()
    );
    assert!(
        !caught.is_empty(),
        "the checker missed the amnesia bug in {count} seeds"
    );
}
