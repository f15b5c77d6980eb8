//! `tradechain bench`: the load generator and the performance benchmarks.
//!
//! - `load` (`load`): committed tx/s and submit→commit latency against a running network, a
//!   realistic mix, paced or as fast as accepted, with a `--ramp` mode.
//! - `verify-bound` (`verify_bound`): this machine's ed25519 rate and the bound it sets.
//! - `query` (`query`): provenance queries/s over gRPC on a 1 M-event store, beside raw RocksDB.
//! - `sync` (`sync`): how fast a fresh observer syncs from genesis.
//! - `scale` (`scale`): `load` on testnets of 4, 7 and 10 validators.
//!
//! Every run prints its JSON (`--output json`) or a line of text, and writes a JSON and a
//! Markdown report (`report`) into `--report-dir` unless `--no-report`. Targets are goals to
//! measure against, never assertions: a run fails only when it could not measure (nothing
//! committed, wrong answers).
pub mod attack;
pub mod burst;
pub mod cpu;
pub mod load;
pub mod node_proc;
pub mod query;
pub mod report;
pub mod scale;
pub mod sync;
pub mod synthetic;
pub mod verify_bound;

use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub cmd: BenchCmd,
    /// Where each run's JSON and Markdown report go.
    #[arg(long, global = true, default_value = "bench-results")]
    pub report_dir: PathBuf,
    /// Write no report files.
    #[arg(long, global = true)]
    pub no_report: bool,
}

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Submit pre-signed transactions and measure committed tx/s and commit latency.
    #[command(after_help = "Examples (against testnet/up):\n  \
        tradechain bench load --txs 20000 --output json\n  \
        tradechain bench load --rate 2000 --duration-s 30\n  \
        tradechain bench load --ramp --ramp-start 500 --ramp-step-s 10")]
    Load(load::LoadArgs),
    /// This machine's ed25519 verification rate: the bound on a network that checks every signature.
    VerifyBound {
        /// Validators sharing the machine (the bound is divided by this).
        #[arg(long, default_value_t = 4)]
        validators: u64,
    },
    /// Provenance queries over gRPC against a 1 M-event store, beside raw RocksDB lookups.
    Query(query::QueryArgs),
    /// Blocks/s and tx/s a fresh observer syncs from genesis.
    Sync(sync::SyncArgs),
    /// The load benchmark on testnets of 4, 7 and 10 validators.
    Scale(scale::ScaleArgs),
    /// A Byzantine member against the live testnet: floods, garbage, oversized and far-future
    /// messages, sync-request floods and replayed votes; reports what it sent and the nodes' peak memory.
    #[command(
        after_help = "Example (against testnet/up; run bench load alongside for honest latency):\n  \
        tradechain bench attack --duration-s 30"
    )]
    Attack(attack::AttackArgs),
}

/// The `p` quantile (0..=1) of an ascending slice (nearest rank); 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub async fn run(args: BenchArgs, endpoint: &str, out: &Output) -> CliResult {
    let (mut v, human): (serde_json::Value, fn(&serde_json::Value) -> String) = match args.cmd {
        BenchCmd::Load(a) => (load::load(a, endpoint, out).await?, load::human),
        BenchCmd::VerifyBound { validators } => (verify_bound::verify_bound(validators), verify_bound::human),
        BenchCmd::Query(a) => (query::run(a, out).await?, query::human),
        BenchCmd::Sync(a) => (sync::run(a, out).await?, sync::human),
        BenchCmd::Scale(a) => (scale::run(a, out).await?, scale::human),
        BenchCmd::Attack(a) => (attack::run(a, out).await?, attack::human),
    };
    if !args.no_report {
        let path = report::write(&args.report_dir, &v).map_err(|e| CliError::failure(format!("--report-dir: {e}")))?;
        v["report"] = serde_json::Value::String(path.display().to_string());
        out.note(&format!("bench: report written to {} (and .md)", path.display()));
    }
    out.print(&v, human);
    Ok(())
}
