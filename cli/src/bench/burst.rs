//! `bench load --burst`: a peak-season surge, and whether the network absorbs it.
//!
//! Three paced stages in one measured phase: the base rate (`--rate`, default 500 tx/s) for
//! `--burst-pre-s`, `--burst-factor` × the base (default 10×) for `--burst-s` (default 30 s), and
//! the base again for `--burst-post-s`. While a mempool is full the node refuses a submission with
//! a retryable `RESOURCE_EXHAUSTED` and the client retries it (each refusal counted); nothing may
//! be lost. Reported per stage: offered, committed, rejected, lost (never committed before the
//! timeout), refused, and latency from the time the client **meant** to submit (its due time) to
//! the commit — so a refusal's wait counts. `drain_s` is how long after the surge ended the last
//! transaction offered up to then committed: the time the backlog took to drain.
//!
//! Invariant checked here: the stages partition the measured transactions (`debug_assert!`).
use super::load::{LoadArgs, Net, Phase, TxTrace, measure};
use super::percentile;
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use serde_json::{Value, json};
use std::sync::Arc;

/// One stage of the surge: `[from, to)` of the measured transactions, paced at `rate` tx/s.
struct Stage {
    name: &'static str,
    rate: u64,
    seconds: u64,
    from: usize,
    to: usize,
}

fn stages(a: &LoadArgs) -> Vec<Stage> {
    let base = if a.rate > 0 { a.rate } else { 500 };
    let plan = [
        ("before", base, a.burst_pre_s),
        ("surge", base.saturating_mul(a.burst_factor.max(1)), a.burst_s.max(1)),
        ("after", base, a.burst_post_s),
    ];
    let mut from = 0usize;
    plan.into_iter()
        .map(|(name, rate, seconds)| {
            let n = (rate.saturating_mul(seconds)) as usize;
            let s = Stage {
                name,
                rate,
                seconds,
                from,
                to: from + n,
            };
            from += n;
            s
        })
        .collect()
}

/// Due time of every measured transaction, in seconds from the phase's start.
fn schedule(stages: &[Stage]) -> Vec<f64> {
    let mut due = Vec::with_capacity(stages.last().map_or(0, |s| s.to));
    let mut t0 = 0.0;
    for s in stages {
        for k in 0..(s.to - s.from) {
            due.push(t0 + k as f64 / s.rate as f64);
        }
        t0 += s.seconds as f64;
    }
    due
}

fn stage_json(s: &Stage, traces: &[TxTrace], due: &[f64]) -> Value {
    let (mut committed, mut rejected, mut lost, mut refused_txs, mut refusals) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut lat = Vec::new();
    for (t, d) in traces[s.from..s.to].iter().zip(&due[s.from..s.to]) {
        match t.committed_s {
            Some(c) if t.accepted => {
                committed += 1;
                lat.push((c - d).max(0.0) * 1000.0);
            }
            Some(_) => rejected += 1,
            None => lost += 1,
        }
        refusals += u64::from(t.refusals);
        refused_txs += u64::from(t.refusals > 0);
    }
    lat.sort_by(f64::total_cmp);
    json!({
        "stage": s.name,
        "offered_tps": s.rate,
        "seconds": s.seconds,
        "offered": s.to - s.from,
        "committed": committed,
        "rejected": rejected,
        "lost": lost,
        "refused_txs": refused_txs,
        "mempool_refusals": refusals,
        "latency_from_due_ms": {
            "p50": percentile(&lat, 0.50).round(),
            "p90": percentile(&lat, 0.90).round(),
            "p99": percentile(&lat, 0.99).round(),
            "max": lat.last().copied().unwrap_or(0.0).round(),
        },
    })
}

pub async fn burst(net: &mut Net, a: &LoadArgs, out: &Output) -> CliResult<Value> {
    let st = stages(a);
    let due = schedule(&st);
    let n = due.len();
    debug_assert!(st.windows(2).all(|w| w[0].to == w[1].from) && st.last().map_or(0, |s| s.to) == n);
    for s in &st {
        out.note(&format!("bench burst: {} {} tx/s for {} s", s.name, s.rate, s.seconds));
    }
    let (pre, main): (Phase, Phase) = measure(net, a, n, Some(Arc::new(due.clone())), out).await?;
    let surge_end = (a.burst_pre_s + a.burst_s.max(1)) as f64;
    let upto = st.get(1).map_or(0, |s| s.to);
    // The backlog has drained once everything offered up to the surge's end has a verdict.
    let drained_at = main.traces[..upto]
        .iter()
        .map(|t| t.committed_s)
        .try_fold(0.0f64, |m, c| c.map(|c| m.max(c)));
    let lost: u64 = main.traces.iter().filter(|t| t.committed_s.is_none()).count() as u64;
    let v = json!({
        "benchmark": "load-burst",
        "base_tps": st.first().map_or(0, |s| s.rate),
        "factor": a.burst_factor,
        "txs": n,
        "committed": main.committed(),
        "lost": lost,
        "mempool_refusals": main.refusals(),
        "submit_errors": main.errors,
        "rejected": main.rejected,
        "max_mempool": main.max_mempool,
        "drain_s": drained_at.map(|d| ((d - surge_end).max(0.0) * 10.0).round() / 10.0),
        "committed_tps": main.tps(),
        "seconds": (main.seconds * 1000.0).round() / 1000.0,
        "stages": st.iter().map(|s| stage_json(s, &main.traces, &due)).collect::<Vec<_>>(),
        "setup": pre.json(),
        "endpoints": net.endpoints,
        "concurrency": a.concurrency,
        "machine_cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    if main.committed() == 0 {
        return Err(CliError::failure(format!("nothing committed: {v}")));
    }
    Ok(v)
}

pub fn human(v: &Value) -> String {
    let stages: Vec<String> = v["stages"]
        .as_array()
        .map(|s| {
            s.iter()
                .map(|x| {
                    format!(
                        "  {:<6} {} tx/s × {} s: {} offered, {} committed, {} lost, {} refused (retried); \
                         due→commit p50 {} ms, p99 {} ms",
                        x["stage"].as_str().unwrap_or(""),
                        x["offered_tps"],
                        x["seconds"],
                        x["offered"],
                        x["committed"],
                        x["lost"],
                        x["refused_txs"],
                        x["latency_from_due_ms"]["p50"],
                        x["latency_from_due_ms"]["p99"],
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    format!(
        "{}\ncommitted {} of {} ({} tx/s), lost {}, mempool refusals {}, largest mempool {}; \
         backlog drained {} s after the surge",
        stages.join("\n"),
        v["committed"],
        v["txs"],
        v["committed_tps"],
        v["lost"],
        v["mempool_refusals"],
        v["max_mempool"],
        v["drain_s"],
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: LoadArgs,
    }

    #[test]
    fn stages_partition_the_schedule_and_the_surge_is_paced_faster() {
        let a = T::parse_from(["t", "--burst", "--rate", "100", "--burst-s", "3", "--burst-pre-s", "2"]).a;
        let st = stages(&a);
        assert_eq!(st.iter().map(|s| s.rate).collect::<Vec<_>>(), [100, 1000, 100]);
        assert_eq!((st[0].to, st[1].to, st[2].to), (200, 3200, 5200));
        let due = schedule(&st);
        assert_eq!(due.len(), 5200);
        assert!(due.windows(2).all(|w| w[0] <= w[1]), "due times never go back");
        assert!((due[200] - 2.0).abs() < 1e-9 && (due[3200] - 5.0).abs() < 1e-9);
        assert!((due[201] - due[200] - 0.001).abs() < 1e-9, "surge at 1,000 tx/s");
    }
}
