//! `bench scale`: the load benchmark on testnets of 4, 7 and 10 validators (by default), each
//! brought up from nothing by `testnet/up --no-demo --validators N` on private ports in a
//! temporary directory, loaded, and purged.
use super::load::{self, LoadArgs};
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::Args;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

#[derive(Args, Debug)]
pub struct ScaleArgs {
    /// Validator counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "4,7,10")]
    pub validators: Vec<u32>,
    /// The repository's testnet scripts.
    #[arg(long, default_value = "testnet")]
    pub testnet_dir: PathBuf,
    /// First port of the private range (gRPC base; p2p +1000, HTTP +2000).
    #[arg(long, default_value_t = 21_100)]
    pub base_port: u16,
    #[command(flatten)]
    pub load: LoadArgs,
}

fn script(a: &ScaleArgs, data: &std::path::Path, name: &str, args: &[&str]) -> CliResult<()> {
    let exe = std::env::current_exe().map_err(|e| CliError::failure(format!("this binary: {e}")))?;
    let status = Command::new("bash")
        .arg(a.testnet_dir.join(name))
        .args(args)
        .env("TESTNET_DATA", data)
        .env("TRADECHAIN_BIN", exe)
        .env("TESTNET_BASE_GRPC", a.base_port.to_string())
        .env("TESTNET_BASE_P2P", (a.base_port + 1000).to_string())
        .env("TESTNET_BASE_HTTP", (a.base_port + 2000).to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| CliError::failure(format!("testnet/{name}: {e}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "testnet/{name} {} failed ({status})",
            args.join(" ")
        )))
    }
}

pub async fn run(a: ScaleArgs, out: &Output) -> CliResult<Value> {
    if !a.testnet_dir.join("up").exists() {
        return Err(CliError::usage(format!(
            "--testnet-dir {}: no testnet/up there (run from the repository root)",
            a.testnet_dir.display()
        )));
    }
    let mut runs = Vec::new();
    for &n in &a.validators {
        let tmp = std::env::temp_dir().join(format!("tradechain-bench-scale-{}-{n}", std::process::id()));
        out.note(&format!("bench scale: {n} validators: testnet up in {}", tmp.display()));
        script(&a, &tmp, "up", &["--no-demo", "--validators", &n.to_string()])?;
        let mut la = a.load.clone();
        la.keys_dir = tmp.join("keys");
        la.endpoints = (1..=n)
            .map(|i| format!("http://127.0.0.1:{}", u32::from(a.base_port) + i))
            .collect();
        let reader = la.endpoints[0].clone();
        let res = load::load(la, &reader, out).await;
        let down = script(&a, &tmp, "down", &["--purge"]);
        let mut v = res?;
        down?;
        v["validators"] = json!(n);
        runs.push(v);
    }
    Ok(json!({
        "benchmark": "scale",
        "runs": runs.iter().map(|r| json!({
            "validators": r["validators"],
            "committed_tps": r["committed_tps"],
            "latency_ms": r["latency_ms"],
            "committed": r["committed"],
            "txs": r["txs"],
            "rejected": r["rejected"],
            "mempool_refusals": r["mempool_refusals"],
        })).collect::<Vec<_>>(),
        "txs": a.load.txs,
        "concurrency": a.load.concurrency,
        "mix": runs.first().map(|r| r["mix"].clone()).unwrap_or_default(),
    }))
}

pub fn human(v: &Value) -> String {
    v["runs"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    format!(
                        "{} validators: {} tx/s committed, p50 {} ms, p99 {} ms",
                        r["validators"], r["committed_tps"], r["latency_ms"]["p50"], r["latency_ms"]["p99"]
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}
