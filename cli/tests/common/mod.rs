//! Shared by the tests that drive a real testnet through `testnet/*` and the `tradechain` binary.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_tradechain");

/// The repository root, read when the test runs (cargo sets `CARGO_MANIFEST_DIR` for it): a test
/// binary reused from a checkout at another path must not drive that checkout's scripts.
pub fn repo_root() -> PathBuf {
    let cli = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    PathBuf::from(cli).parent().unwrap().to_path_buf()
}

pub struct Testnet {
    pub root: PathBuf,
    pub data: PathBuf,
    pub base: u16,
    /// Created with `up --netns`: nodes at 10.77.0.i instead of 127.0.0.1.
    pub netns: bool,
    _tmp: tempfile::TempDir,
}

/// A port base for a test testnet: gRPC at base+i, p2p at base+10,000+i, HTTP at base+20,000+i.
/// All three ranges lie below the kernel's ephemeral range (32768–60999 on Linux), where a client
/// connection's local port could take one (CI once failed with "http.listen: cannot bind
/// 127.0.0.1:40282: Address already in use"), and away from the default testnet's (9101…, 7101…,
/// 8101…). Varied by pid, and each of the 60 ports is checked free before it is chosen.
fn free_base() -> u16 {
    let start = (std::process::id() % 200) as u16;
    for i in 0..200u16 {
        let base = 2_000 + ((start + i) % 200) * 20;
        let free = [0u16, 10_000, 20_000]
            .iter()
            .all(|off| (0..20).all(|p| std::net::TcpListener::bind(("127.0.0.1", base + off + p)).is_ok()));
        if free {
            return base;
        }
    }
    panic!("no free range of test testnet ports between 2000 and 26000");
}

impl Testnet {
    pub fn new() -> Testnet {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("testnet");
        let base = free_base();
        Testnet {
            root: repo_root(),
            data,
            base,
            netns: false,
            _tmp: tmp,
        }
    }

    pub fn script(&self, name: &str, args: &[&str]) -> Output {
        let out = Command::new("bash")
            .arg(self.root.join("testnet").join(name))
            .args(args)
            .env("TESTNET_DATA", &self.data)
            .env("TRADECHAIN_BIN", BIN)
            .env("TESTNET_BASE_GRPC", self.base.to_string())
            .env("TESTNET_BASE_P2P", (self.base + 10_000).to_string())
            .env("TESTNET_BASE_HTTP", (self.base + 20_000).to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "testnet/{name} {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    pub fn names(&self) -> Vec<String> {
        let out = self.script("status", &["--names"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    pub fn endpoint(&self, node: &str) -> String {
        let i = self.names().iter().position(|n| n == node).unwrap() as u16 + 1;
        let host = if self.netns {
            format!("10.77.0.{i}")
        } else {
            "127.0.0.1".into()
        };
        format!("http://{host}:{}", self.base + i)
    }

    pub fn pids(&self) -> Vec<u32> {
        self.names()
            .iter()
            .filter_map(|n| std::fs::read_to_string(self.data.join(n).join("pid")).ok())
            .filter_map(|p| p.trim().parse().ok())
            .collect()
    }
}

impl Testnet {
    /// Prints the last `lines` lines of every node's log to stderr.
    pub fn dump_logs(&self, lines: usize) {
        let Ok(dirs) = std::fs::read_dir(&self.data) else {
            return;
        };
        let mut logs: Vec<PathBuf> = dirs
            .flatten()
            .map(|d| d.path().join("node.log"))
            .filter(|p| p.exists())
            .collect();
        logs.sort();
        for log in logs {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(lines);
            eprintln!(
                "===== {} (last {} of {} lines)",
                log.display(),
                all.len() - from,
                all.len()
            );
            for l in &all[from..] {
                eprintln!("{l}");
            }
        }
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        // A failed assertion shows each node's last log lines: CI keeps nothing else.
        if std::thread::panicking() {
            self.dump_logs(60);
        }
        // Never leave processes behind, even when an assertion failed.
        let _ = Command::new("bash")
            .arg(self.root.join("testnet/down"))
            .arg("--purge")
            .env("TESTNET_DATA", &self.data)
            .env("TRADECHAIN_BIN", BIN)
            .output();
    }
}

pub fn cli(endpoint: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["--endpoint", endpoint])
        .args(args)
        .output()
        .unwrap()
}

pub fn cli_json(endpoint: &str, args: &[&str]) -> Option<Value> {
    let out = cli(endpoint, &[args, &["--output", "json"]].concat());
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// `tradechain submit FAMILY FILE --org ORG --key KEY [--wait]` against `endpoint`.
pub fn submit(endpoint: &str, family: &str, file: &Path, org: &str, key: &Path, wait: bool) -> Output {
    let (file, key) = (file.to_str().unwrap(), key.to_str().unwrap());
    let mut args = vec!["submit", family, file, "--org", org, "--key", key];
    if wait {
        args.push("--wait");
    }
    cli(endpoint, &args)
}

pub fn height(endpoint: &str) -> Option<u64> {
    cli_json(endpoint, &["query", "status"]).and_then(|v| v["height"].as_u64())
}

pub fn header(endpoint: &str, h: u64) -> Option<(String, String)> {
    let v = cli_json(endpoint, &["query", "header", &h.to_string()])?;
    Some((v["hash"].as_str()?.to_string(), v["state_hash"].as_str()?.to_string()))
}

/// Wait until `cond` holds, polling; panic with `what` after `secs`.
pub fn wait_until(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "timed out after {secs} s: {what}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

pub fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
}
