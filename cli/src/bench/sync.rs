//! `bench sync`: how fast a fresh observer syncs a chain from genesis over libp2p.
//!
//! A synthetic chain (`synthetic`, real blocks and certificates; by default 200 blocks of 1,000
//! provenance transactions) is served by one node process; a second node process with an empty
//! store and the first as its only bootstrap peer syncs it — fetching blocks, checking each
//! certificate against the validator set and re-executing every transaction (signatures
//! included) before committing it to its own RocksDB. Measured from the fresh node's start
//! (and, apart, from its first synced block) to its head reaching the source's height.
use super::node_proc;
use super::synthetic;
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tradechain_proto::v1;

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// Where the bench chain lives (reused by later runs with the same sizes).
    #[arg(long, default_value = "bench-data/sync")]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 50_000)]
    pub items: u64,
    #[arg(long, default_value_t = 4)]
    pub events_per_item: u64,
    #[arg(long, default_value_t = 1000)]
    pub per_block: usize,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    pub timeout_s: u64,
}

async fn height(ch: &tonic::transport::Channel) -> u64 {
    v1::node_service_client::NodeServiceClient::new(ch.clone())
        .get_status(v1::GetStatusRequest {})
        .await
        .map(|r| r.into_inner().height)
        .unwrap_or(0)
}

pub async fn run(a: SyncArgs, out: &Output) -> CliResult<Value> {
    let dir = a.dir.clone();
    let (items, epi, per_block) = (a.items.max(1), a.events_per_item.max(1), a.per_block.max(1));
    let quiet = Output {
        format: out.format,
        quiet: out.quiet,
    };
    let built = tokio::task::spawn_blocking(move || synthetic::build(&dir, items, epi, per_block, &quiet))
        .await
        .map_err(|e| CliError::failure(e.to_string()))??;
    let mut source = node_proc::start(&built, "source", &[])?;
    let src = source.ready(Duration::from_secs(60)).await?;
    let target = height(&src).await;
    if target < built.height {
        return Err(CliError::failure(format!(
            "bench sync: source serves height {target}, built {}",
            built.height
        )));
    }
    // The fresh node starts from nothing every run.
    let fresh_data = built.dir.join("fresh");
    if fresh_data.exists() {
        std::fs::remove_dir_all(&fresh_data)
            .map_err(|e| CliError::failure(format!("{}: {e}", fresh_data.display())))?;
    }
    out.note(&format!(
        "bench sync: a fresh observer syncs {} blocks ({} txs)...",
        target, built.txs
    ));
    let started = Instant::now();
    let mut fresh = node_proc::start(&built, "fresh", std::slice::from_ref(&source.p2p_addr))?;
    let ch = fresh.ready(Duration::from_secs(60)).await?;
    let deadline = started + Duration::from_secs(a.timeout_s);
    let mut first_block: Option<(Instant, u64)> = None;
    let mut last_note = Instant::now();
    let mut h = 0;
    while h < target {
        if Instant::now() > deadline {
            return Err(CliError::failure(format!(
                "bench sync: at height {h} of {target} after {} s; see {}",
                a.timeout_s,
                fresh.log.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        h = height(&ch).await;
        if h > 0 && first_block.is_none() {
            first_block = Some((Instant::now(), h));
        }
        if last_note.elapsed() >= Duration::from_secs(2) {
            last_note = Instant::now();
            out.note(&format!("bench sync: {h}/{target}"));
        }
    }
    let total = started.elapsed().as_secs_f64();
    let (t1, h1) = first_block.unwrap_or((started, 0));
    let steady = t1.elapsed().as_secs_f64();
    let steady_blocks = target.saturating_sub(h1);
    let txs_per_block = built.txs as f64 / built.height.max(1) as f64;
    drop(fresh);
    drop(source);
    Ok(json!({
        "benchmark": "sync",
        "blocks": target,
        "txs": built.txs,
        "txs_per_block": txs_per_block.round(),
        "seconds_from_start": (total * 1000.0).round() / 1000.0,
        "blocks_per_s": (target as f64 / total).round(),
        "txs_per_s": (built.txs as f64 / total).round(),
        "seconds_after_first_block": (steady * 1000.0).round() / 1000.0,
        "steady_blocks_per_s": (steady_blocks as f64 / steady.max(1e-9)).round(),
        "steady_txs_per_s": (steady_blocks as f64 * txs_per_block / steady.max(1e-9)).round(),
    }))
}

pub fn human(v: &Value) -> String {
    format!(
        "a fresh observer synced {} blocks ({} txs) in {} s: {} blocks/s, {} tx/s ({} tx/s after its first block)",
        v["blocks"], v["txs"], v["seconds_from_start"], v["blocks_per_s"], v["txs_per_s"], v["steady_txs_per_s"]
    )
}
