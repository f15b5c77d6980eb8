//! Deterministic simulation of the production host (`node::host::Host`) under faults, checked by
//! an independent checker: real ledger execution, the real WAL and submission journal, member
//! clients (honest and adversarial), a validator-set change through governance, a late joiner
//! catching up by sync, crashes with torn writes, failed fsyncs, partitions and Byzantine
//! validators.
//!
//! `SIM_SEED=x` replays one seed (add `SIM_TRACE=1` for every event with its virtual time);
//! `SIM_SEEDS=N SIM_SEED_START=S` runs seeds S..S+N (default `DEFAULT_SEEDS` from 0). Seeds run on
//! all cores; results are merged in seed order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod host_world;

use host_world::world::{Broken, SimConfig, SimResult, World};
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

fn run_seeds(start: u64, count: u64, broken: Option<Broken>) -> Vec<(u64, SimResult)> {
    let trace = std::env::var("SIM_TRACE").is_ok_and(|v| v == "1") && count == 1;
    if trace {
        // The hosts' own log lines (warnings and errors) go between the events.
        let _ = tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_writer(std::io::stderr)
            .without_time()
            .try_init();
    }
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) as u64;
    let mut handles = Vec::new();
    for t in 0..threads {
        handles.push(std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut s = start + t;
            while s < start + count {
                out.push((s, World::new(SimConfig { seed: s, broken, trace }).run()));
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
fn simulated_hosts_keep_safety_liveness_and_acknowledgements() {
    let started = std::time::Instant::now();
    let (start, count) = seed_range();
    let results = run_seeds(start, count, None);
    let mut faults: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut t = SimResult::default();
    let (mut changed, mut joined) = (0, 0);
    let mut failing = Vec::new();
    for (seed, r) in &results {
        for (k, v) in &r.faults {
            *faults.entry(k).or_default() += v;
        }
        t.heights += r.heights;
        t.submitted += r.submitted;
        t.acknowledged += r.acknowledged;
        t.refused_at_submit += r.refused_at_submit;
        t.committed_accepted += r.committed_accepted;
        t.committed_rejected += r.committed_rejected;
        t.root_checks += r.root_checks;
        t.worst_ttc_after_heal = t.worst_ttc_after_heal.max(r.worst_ttc_after_heal);
        changed += u64::from(r.validator_change_applied);
        joined += u64::from(r.joiner_synced);
        if !r.violations.is_empty() {
            failing.push((*seed, r.violations.clone()));
        }
    }
    println!(
        "host simulation: {count} seeds (from {start}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("faults injected by kind: {faults:?}");
    println!(
        "transactions: {} submitted, {} acknowledged, {} refused at submission; committed {} accepted + {} rejected",
        t.submitted, t.acknowledged, t.refused_at_submit, t.committed_accepted, t.committed_rejected
    );
    println!(
        "{} heights committed; {} state-root agreement checks; validator set changed by governance in {changed} seeds; \
         the late joiner synced in {joined}",
        t.heights, t.root_checks
    );
    println!(
        "worst time-to-commit after heal: {} ms (simulated)",
        t.worst_ttc_after_heal
    );
    println!("violations: {} seeds", failing.len());
    for (seed, v) in failing.iter().take(5) {
        println!(
            "FAILING SEED {seed}: {:?}\n  replay: SIM_SEED={seed} SIM_TRACE=1 cargo test --release --workspace --test host_sim -- \
             simulated_hosts --nocapture",
            v.iter().take(3).collect::<Vec<_>>()
        );
    }
    assert!(failing.is_empty(), "{} seeds violated a property", failing.len());
}

#[test]
fn same_seed_gives_same_trace() {
    let seed = env_u64("SIM_SEED").unwrap_or(7);
    let cfg = SimConfig {
        seed,
        ..SimConfig::default()
    };
    let a = World::new(cfg).run();
    let b = World::new(cfg).run();
    assert_eq!(a.trace_hash, b.trace_hash);
    assert!(a.heights > 0);
    let c = World::new(SimConfig { seed: seed + 1, ..cfg }).run();
    assert_ne!(
        a.trace_hash, c.trace_hash,
        "different seeds should give different traces"
    );
}

fn caught(broken: Broken, seeds: u64, needle: &str) -> Vec<u64> {
    let results = run_seeds(0, seeds, Some(broken));
    if let Some((seed, r)) = results.iter().find(|(_, r)| !r.violations.is_empty()) {
        println!("{broken:?}, seed {seed}: {:?}", r.violations.first());
    }
    results
        .into_iter()
        .filter(|(_, r)| r.violations.iter().any(|v| v.contains(needle)))
        .map(|(s, _)| s)
        .collect()
}

/// A WAL that acknowledges appends it never wrote lets a restarted validator sign again what it
/// signed before its crash: the checker sees the double sign.
#[test]
fn broken_variant_vote_before_wal_is_caught() {
    let seeds = env_u64("SIM_BROKEN_SEEDS").unwrap_or(200);
    let c = caught(Broken::LyingWal, seeds, "double-signed");
    println!(
        "broken variant (vote before its WAL record is durable): {} of {seeds} seeds caught; first {:?}",
        c.len(),
        c.first()
    );
    assert!(!c.is_empty(), "the checker missed the lying WAL in {seeds} seeds");
}

/// Hosts that vote for proposals without re-executing them certify a forged state root: honest
/// nodes then cannot commit the decided block (it does not re-execute), and the chain stops.
#[test]
fn broken_variant_accept_without_reexecution_is_caught() {
    let seeds = env_u64("SIM_BROKEN_SEEDS").unwrap_or(50);
    let c = caught(Broken::SkipReexecution, seeds, "LIVENESS");
    println!(
        "broken variant (proposals accepted without re-execution): {} of {seeds} seeds caught; first {:?}",
        c.len(),
        c.first()
    );
    assert!(
        !c.is_empty(),
        "the checker missed hosts that skip re-execution in {seeds} seeds"
    );
}
