//! Acknowledged means kept, on real processes: `bench load` against the four validators, two of
//! them `kill -9`ed while it runs (no quorum until one comes back), one restarted. Every
//! transaction a node acknowledged must end in a block — the restarted node re-admits its
//! submission journal, the dead node's acknowledgements are found unknown and submitted again
//! by the client — and none is lost.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;

use common::{BIN, Testnet, height, wait_until};
use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::Duration;

const TXS: u64 = 3_000;

#[test]
fn validators_killed_under_load_lose_nothing_they_acknowledged() {
    let net = Testnet::new();
    net.script("up", &["--no-demo"]);
    let names = net.names();
    assert_eq!(names.len(), 5, "four validators and an observer: {names:?}");
    let observer = net.endpoint(&names[4]);
    let validators: Vec<String> = names[..4].iter().map(|n| net.endpoint(n)).collect();
    let keys = net.data.join("keys");
    let start_height = height(&observer).unwrap();

    let load = Command::new(BIN)
        .args([
            "--endpoint",
            &observer,
            "--output",
            "json",
            "bench",
            "--no-report",
            "load",
        ])
        .args([
            "--keys-dir",
            keys.to_str().unwrap(),
            "--endpoints",
            &validators.join(","),
        ])
        .args(["--mix", "provenance", "--txs", &TXS.to_string(), "--rate", "300"])
        .args(["--concurrency", "16", "--timeout-s", "240"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // Kill two validators once the load is committing; the chain stops (2 of 4 left).
    wait_until("the load commits", 60, || {
        height(&observer).is_some_and(|h| h >= start_height + 3)
    });
    std::thread::sleep(Duration::from_secs(2));
    let (restarted, dead) = (&names[2], &names[3]);
    net.script("kill", &[restarted]);
    net.script("kill", &[dead]);
    std::thread::sleep(Duration::from_secs(6));
    net.script("restart", &[restarted]);

    let out = load.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bench load failed: {stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    eprintln!("bench load under kill -9: {v}");

    let acknowledged = v["acknowledged"].as_u64().unwrap();
    let committed = v["committed"].as_u64().unwrap();
    let rejected: u64 = v["rejected"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(acknowledged, TXS, "every transaction was acknowledged in the end: {v}");
    assert_eq!(v["lost"].as_u64(), Some(0), "nothing acknowledged was lost: {v}");
    assert_eq!(committed + rejected, acknowledged, "{v}");
    assert_eq!(committed, TXS, "provenance events from members all commit: {v}");

    // The restarted validator read back what it had acknowledged before the kill.
    let line = journal_line(&net, restarted).unwrap_or_else(|| panic!("{restarted} did not read its journal back"));
    assert!(!line.contains("read=0 "), "{line}");
    eprintln!("{restarted}: {line}");

    // The journal alone: a node that is the only one up acknowledges a transaction (no peer gets
    // it by gossip), is killed at once, and no client submits it again. Restarted with the others,
    // it must still commit.
    net.script("restart", &[dead]);
    wait_until("the dead validator catches up", 60, || {
        height(&net.endpoint(dead)).is_some_and(|h| h >= height(&observer).unwrap_or(u64::MAX))
    });
    let others: Vec<&String> = names.iter().filter(|n| *n != dead).collect();
    for n in &others {
        net.script("kill", &[n.as_str()]);
    }
    let event = net.data.join("journal-event.json");
    std::fs::write(
        &event,
        std::fs::read_to_string(net.root.join("examples/commission.json"))
            .unwrap()
            .replace("EX000", "JOURNAL"),
    )
    .unwrap();
    let sub = common::submit(
        &net.endpoint(dead),
        "event",
        &event,
        "PRODUCER-FZ",
        &keys.join("producer-fz.key"),
        false,
    );
    assert!(sub.status.success(), "{}", String::from_utf8_lossy(&sub.stderr));
    let tx_id = String::from_utf8_lossy(&sub.stdout)
        .split_whitespace()
        .last()
        .unwrap()
        .to_string();
    net.script("kill", &[dead]);
    for n in names.iter() {
        net.script("restart", &[n.as_str()]);
    }
    wait_until(
        "the acknowledged transaction commits after every node restarted",
        90,
        || common::cli_json(&observer, &["query", "tx", &tx_id]).is_some_and(|v| v["state"] == "Committed"),
    );
    let line = journal_line(&net, dead).unwrap_or_else(|| panic!("{dead} did not read its journal back"));
    assert!(line.contains("pending=1 "), "{line}");
}

/// The last "re-admitted" line of `node`'s log, without terminal colours.
fn journal_line(net: &Testnet, node: &str) -> Option<String> {
    let log = std::fs::read_to_string(net.data.join(node).join("node.log")).ok()?;
    let line = log.lines().rfind(|l| l.contains("submission journal: re-admitted"))?;
    // Drop ANSI escapes (ESC [ ... m).
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    Some(out + " ")
}
