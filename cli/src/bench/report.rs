//! Per-run benchmark reports. Every `tradechain bench` run writes `<dir>/<benchmark>-<unix s>.json`
//! and a `.md` beside it: the machine (CPU model, cores, memory, kernel), the commit it ran, the
//! parameters and the figures — so a figure in BENCHMARKS.md can be traced to the run behind it.
//!
//! Invariant: a report holds exactly the JSON the run printed (`result`), plus where and when it
//! ran; nothing is recomputed or rounded here.
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn first_line_with(path: &str, prefix: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(prefix))?;
    Some(line.split_once(':').map(|x| x.1).unwrap_or(line).trim().to_string())
}

/// What this machine is.
pub fn machine() -> Value {
    json!({
        "cpu": first_line_with("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into()),
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory": first_line_with("/proc/meminfo", "MemTotal").unwrap_or_else(|| "unknown".into()),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default(),
    })
}

fn git(args: &[&str]) -> Option<String> {
    let out = std::process::Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The commit under test: `TRADECHAIN_COMMIT`, else `git` in the working directory (with
/// `-dirty` when the tree has changes), else "unknown".
pub fn commit() -> String {
    if let Ok(c) = std::env::var("TRADECHAIN_COMMIT") {
        return c;
    }
    match git(&["rev-parse", "--short=10", "HEAD"]) {
        Some(c) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        }
        None => "unknown".into(),
    }
}

fn flatten(prefix: &str, v: &Value, rows: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, x, rows);
            }
        }
        Value::Array(a) if a.iter().any(|x| x.is_object()) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, rows);
            }
        }
        Value::String(s) => rows.push((prefix.to_string(), s.clone())),
        other => rows.push((prefix.to_string(), other.to_string())),
    }
}

fn table(v: &Value) -> String {
    let mut rows = Vec::new();
    flatten("", v, &mut rows);
    let mut s = String::from("| | |\n|---|---|\n");
    for (k, x) in rows {
        s.push_str(&format!("| {} | {} |\n", k.replace('|', "\\|"), x.replace('|', "\\|")));
    }
    s
}

/// Write the run's JSON and Markdown report into `dir`; returns the JSON report's path.
pub fn write(dir: &Path, result: &Value) -> Result<PathBuf, String> {
    let name = result["benchmark"].as_str().unwrap_or("bench").to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let report = json!({
        "benchmark": name,
        "started_utc": tradechain_node::grpc::journey::fmt_time(now),
        "commit": commit(),
        "machine": machine(),
        "result": result,
    });
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let base = dir.join(format!("{name}-{}", now / 1000));
    let json_path = base.with_extension("json");
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(&json_path, text).map_err(|e| format!("{}: {e}", json_path.display()))?;
    let md = format!(
        "# tradechain bench {name}\n\n{} · commit `{}`\n\n## Machine\n\n{}\n## Parameters and figures\n\n{}",
        report["started_utc"].as_str().unwrap_or(""),
        report["commit"].as_str().unwrap_or(""),
        table(&report["machine"]),
        table(result)
    );
    let md_path = base.with_extension("md");
    std::fs::write(&md_path, md).map_err(|e| format!("{}: {e}", md_path.display()))?;
    Ok(json_path)
}
