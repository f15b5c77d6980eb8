//! Smoke runs of the read-side and scale benchmarks at tiny sizes (the real runs are by hand, see
//! BENCHMARKS.md): each drives real node processes and must measure something, answer correctly
//! and write its JSON + Markdown report.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::BIN;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn bench(reports: &Path, args: &[&str]) -> Value {
    let out = Command::new(BIN)
        .args(["--output", "json", "bench", "--report-dir", reports.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bench {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn report_of(v: &Value) -> Value {
    let path = v["report"].as_str().expect("report path");
    let md = Path::new(path).with_extension("md");
    let md = std::fs::read_to_string(md).unwrap();
    assert!(md.contains("## Machine") && md.contains("| cores |"), "{md}");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn bench_query_and_sync_measure_real_nodes_and_write_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let reports = tmp.path().join("reports");
    let q = tmp.path().join("q");
    let args = [
        "query",
        "--dir",
        q.to_str().unwrap(),
        "--items",
        "300",
        "--events-per-item",
        "3",
        "--per-block",
        "100",
        "--clients",
        "4",
        "--connections",
        "2",
        "--duration-s",
        "1",
        "--raw-duration-s",
        "1",
    ];
    let v = bench(&reports, &args);
    assert_eq!(v["events_stored"].as_u64(), Some(900), "{v}");
    assert_eq!(v["blocks"].as_u64(), Some(9), "{v}");
    assert!(v["queries"].as_u64().is_some_and(|n| n > 0), "{v}");
    assert_eq!(v["incomplete_replies"].as_u64(), Some(0), "{v}");
    assert!(
        v["raw_rocksdb"]["point_lookups_per_s"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{v}"
    );
    assert!(
        v["raw_rocksdb"]["history_reads_per_s"]
            .as_f64()
            .is_some_and(|r| r > 0.0),
        "{v}"
    );
    let r = report_of(&v);
    assert_eq!(r["benchmark"], "query");
    assert!(r["machine"]["cores"].as_u64().is_some_and(|c| c >= 1), "{r}");
    assert!(r["commit"].as_str().is_some_and(|c| !c.is_empty()), "{r}");
    assert_eq!(r["result"]["queries"], v["queries"]);
    // A second run reuses the chain it built.
    let again = bench(&reports, &args);
    assert_eq!(again["chain_build_seconds"], Value::Null, "{again}");

    let s = tmp.path().join("s");
    let v = bench(
        &reports,
        &[
            "sync",
            "--dir",
            s.to_str().unwrap(),
            "--items",
            "500",
            "--events-per-item",
            "2",
            "--per-block",
            "100",
            "--timeout-s",
            "120",
        ],
    );
    assert_eq!(v["blocks"].as_u64(), Some(10), "{v}");
    assert_eq!(v["txs"].as_u64(), Some(1000), "{v}");
    assert!(v["txs_per_s"].as_f64().is_some_and(|t| t > 0.0), "{v}");
    assert_eq!(report_of(&v)["benchmark"], "sync");
}

#[test]
fn bench_scale_brings_up_loads_and_purges_each_testnet() {
    let tmp = tempfile::tempdir().unwrap();
    let root = common::repo_root();
    let base = (24_000 + (std::process::id() % 300) * 10).to_string();
    let v = bench(
        &tmp.path().join("reports"),
        &[
            "scale",
            "--testnet-dir",
            root.join("testnet").to_str().unwrap(),
            "--validators",
            "1",
            "--base-port",
            &base,
            "--txs",
            "100",
        ],
    );
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{v}");
    assert_eq!(runs[0]["validators"].as_u64(), Some(1), "{v}");
    assert_eq!(runs[0]["committed"].as_u64(), Some(100), "{v}");
    let leftovers: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("tradechain-bench-scale-"))
        .collect();
    assert!(
        leftovers.iter().all(|e| !e.path().join("nodes").exists()),
        "testnets purged"
    );
}
