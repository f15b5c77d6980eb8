//! `bench query`: provenance lookups over gRPC against a store of (by default) 1,000,000 events,
//! beside the raw RocksDB lookup rates measured on the same store in the same run.
//!
//! The store is a synthetic chain (`synthetic`: 100,000 items × 10 events, real blocks and
//! certificates). First the raw rates, the store opened in-process on every core: point lookups
//! (`state_get` of an item record) and whole-history reads (`item_events`, the index a
//! provenance query walks). Then a real node process serves the store and `--clients` concurrent
//! clients over `--connections` HTTP/2 connections ask `GetProvenance` by GS1 Digital Link for
//! random items, with proofs (header, certificate, Merkle path, signed tx per event), for
//! `--duration-s`. Every reply is checked to hold the item's whole timeline.
use super::node_proc;
use super::percentile;
use super::synthetic::{self, item_epc};
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tradechain_ledger::state::keys;
use tradechain_proto::v1;
use tradechain_store::Store;

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// Where the bench chain lives (reused by later runs with the same sizes).
    #[arg(long, default_value = "bench-data/query")]
    pub dir: PathBuf,
    #[arg(long, default_value_t = 100_000)]
    pub items: u64,
    #[arg(long, default_value_t = 10)]
    pub events_per_item: u64,
    /// Transactions per block of the bench chain.
    #[arg(long, default_value_t = 1000)]
    pub per_block: usize,
    /// Concurrent clients (requests in flight).
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// HTTP/2 connections the clients share.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    #[arg(long, default_value_t = 10)]
    pub duration_s: u64,
    /// Seconds for each raw RocksDB measurement.
    #[arg(long, default_value_t = 3)]
    pub raw_duration_s: u64,
}

/// xorshift64: a fixed pseudo-random walk, so runs are comparable.
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn raw_rate(store: &Store, goods: &[String], secs: u64, history: bool) -> (f64, u64) {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let misses = AtomicU64::new(0);
    let started = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let misses = &misses;
                s.spawn(move || {
                    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
                    let mut n = 0u64;
                    while started.elapsed() < Duration::from_secs(secs) {
                        for _ in 0..64 {
                            let g = &goods[(xorshift(&mut x) % goods.len() as u64) as usize];
                            let found = if history {
                                store.item_events(g, 0, 1000).is_ok_and(|v| !v.is_empty())
                            } else {
                                store.state_get(&keys::item(g)).is_ok_and(|v| v.is_some())
                            };
                            if !found {
                                misses.fetch_add(1, Ordering::Relaxed);
                            }
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    (total as f64 / started.elapsed().as_secs_f64(), misses.into_inner())
}

pub async fn run(a: QueryArgs, out: &Output) -> CliResult<Value> {
    let items = a.items.max(1);
    out.note(&format!(
        "bench query: a chain of {} items × {} events in {}",
        items,
        a.events_per_item,
        a.dir.display()
    ));
    let dir = a.dir.clone();
    let (events_per_item, per_block) = (a.events_per_item.max(1), a.per_block.max(1));
    let quiet = Output {
        format: out.format,
        quiet: out.quiet,
    };
    let built = tokio::task::spawn_blocking(move || synthetic::build(&dir, items, events_per_item, per_block, &quiet))
        .await
        .map_err(|e| CliError::failure(e.to_string()))??;
    let goods: Vec<String> = (0..items)
        .map(|j| tradechain_ledger::gs1::goods_key(&item_epc(j)).map_err(|e| CliError::failure(e.0)))
        .collect::<CliResult<_>>()?;
    // Raw RocksDB, in-process, before the node opens the store.
    out.note("bench query: raw RocksDB lookups...");
    let db = built.data_dir("source").join("db");
    let raw_secs = a.raw_duration_s.max(1);
    let goods = Arc::new(goods);
    let g2 = goods.clone();
    let (point, history, raw_misses) = tokio::task::spawn_blocking(move || -> CliResult<(f64, f64, u64)> {
        let store = Store::open(&db).map_err(|e| CliError::failure(format!("{}: {e}", db.display())))?;
        let (p, m1) = raw_rate(&store, &g2, raw_secs, false);
        let (h, m2) = raw_rate(&store, &g2, raw_secs, true);
        Ok((p, h, m1 + m2))
    })
    .await
    .map_err(|e| CliError::failure(e.to_string()))??;
    // The same store served by a real node.
    let mut node = node_proc::start(&built, "source", &[])?;
    let ch0 = node.ready(Duration::from_secs(60)).await?;
    let mut channels = vec![ch0];
    for _ in 1..a.connections.max(1) {
        channels.push(crate::client::connect(&node.grpc).await?);
    }
    out.note(&format!(
        "bench query: {} clients over {} connections for {} s...",
        a.clients,
        channels.len(),
        a.duration_s
    ));
    let started = Instant::now();
    let until = started + Duration::from_secs(a.duration_s.max(1));
    let mut tasks = Vec::new();
    for c in 0..a.clients.max(1) {
        let ch = channels[c % channels.len()].clone();
        let goods = goods.clone();
        let expect = events_per_item as usize;
        tasks.push(tokio::spawn(async move {
            let mut grpc =
                v1::provenance_service_client::ProvenanceServiceClient::new(ch).max_decoding_message_size(64 << 20);
            let mut x = 0xD1B5_4A32_D192_ED03u64 ^ (c as u64 + 1);
            let (mut lat, mut bad, mut errors, mut bytes) = (Vec::new(), 0u64, 0u64, 0u64);
            while Instant::now() < until {
                let j = xorshift(&mut x) % goods.len() as u64;
                let link = tradechain_ledger::gs1::digital_link(&goods[j as usize], "https://id.gs1.org");
                let t = Instant::now();
                let r = grpc
                    .get_provenance(v1::GetProvenanceRequest {
                        id: Some(v1::get_provenance_request::Id::DigitalLink(link)),
                        ..Default::default()
                    })
                    .await;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                match r {
                    Ok(reply) => {
                        let reply = reply.into_inner();
                        let proofs = reply.timeline.iter().all(|e| e.proof.is_some());
                        if reply.timeline.len() != expect || !proofs {
                            bad += 1;
                        }
                        bytes += prost::Message::encoded_len(&reply) as u64;
                        lat.push(ms);
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, bad, errors, bytes)
        }));
    }
    let mut lat = Vec::new();
    let (mut bad, mut errors, mut bytes) = (0u64, 0u64, 0u64);
    for t in tasks {
        let (l, b, e, by) = t.await.map_err(|e| CliError::failure(e.to_string()))?;
        lat.extend(l);
        bad += b;
        errors += e;
        bytes += by;
    }
    let secs = started.elapsed().as_secs_f64();
    drop(node);
    lat.sort_by(f64::total_cmp);
    let qps = lat.len() as f64 / secs;
    let v = json!({
        "benchmark": "query",
        "events_stored": built.txs,
        "items": built.items,
        "events_per_item": built.events_per_item,
        "blocks": built.height,
        "chain_build_seconds": built.build_seconds.map(|s| (s * 10.0).round() / 10.0),
        "store": built.data_dir("source").join("db").display().to_string(),
        "clients": a.clients,
        "connections": channels.len(),
        "seconds": (secs * 1000.0).round() / 1000.0,
        "queries": lat.len(),
        "queries_per_s": qps.round(),
        "latency_ms": {
            "p50": (percentile(&lat, 0.50) * 100.0).round() / 100.0,
            "p90": (percentile(&lat, 0.90) * 100.0).round() / 100.0,
            "p99": (percentile(&lat, 0.99) * 100.0).round() / 100.0,
            "max": (lat.last().copied().unwrap_or(0.0) * 100.0).round() / 100.0,
        },
        "reply_bytes_avg": if lat.is_empty() { 0 } else { bytes / lat.len() as u64 },
        "incomplete_replies": bad,
        "errors": errors,
        "raw_rocksdb": {
            "point_lookups_per_s": point.round(),
            "history_reads_per_s": history.round(),
            "misses": raw_misses,
            "threads": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        },
        "grpc_vs_raw_point_lookup": ((qps / point.max(1.0)) * 1000.0).round() / 1000.0,
        "grpc_vs_raw_history_read": ((qps / history.max(1.0)) * 1000.0).round() / 1000.0,
    });
    if lat.is_empty() || bad > 0 || raw_misses > 0 {
        return Err(CliError::failure(format!("bench query: wrong or missing answers: {v}")));
    }
    Ok(v)
}

pub fn human(v: &Value) -> String {
    format!(
        "{} provenance queries/s over gRPC ({} clients, {} events stored); latency p50 {} ms, p90 {} ms, p99 {} ms, max {} ms; \
         {} B per reply; raw RocksDB: {} point lookups/s, {} history reads/s (gRPC = {} of point, {} of history)",
        v["queries_per_s"],
        v["clients"],
        v["events_stored"],
        v["latency_ms"]["p50"],
        v["latency_ms"]["p90"],
        v["latency_ms"]["p99"],
        v["latency_ms"]["max"],
        v["reply_bytes_avg"],
        v["raw_rocksdb"]["point_lookups_per_s"],
        v["raw_rocksdb"]["history_reads_per_s"],
        v["grpc_vs_raw_point_lookup"],
        v["grpc_vs_raw_history_read"]
    )
}
