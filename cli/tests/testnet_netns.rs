#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The testnet in network namespaces (`testnet/up --netns`): every node behind its own veth link,
//! so a partition is real — packets go nowhere — not a simulated drop. Cut two of four validators:
//! no commits (safety); heal one: commits resume; heal both: everyone converges on one head.
//! Skipped, saying so, where namespaces are unavailable (not root, no iproute2).
mod common;

use common::*;
use std::time::Duration;

#[test]
fn real_partitions_in_network_namespaces() {
    let mut net = Testnet::new();
    let probe = std::process::Command::new("bash")
        .arg(net.root.join("testnet/netns"))
        .arg("probe")
        .env("TESTNET_DATA", &net.data)
        .output()
        .unwrap();
    if !probe.status.success() {
        eprintln!("SKIPPED: network namespaces are not available here (root and iproute2 needed)");
        return;
    }
    net.script("up", &["--netns", "--no-demo"]);
    net.netns = true;
    let status = String::from_utf8_lossy(&net.script("status", &["--endpoints"]).stdout).to_string();
    assert!(
        status.contains("http://10.77.0.1:"),
        "nodes live in namespaces: {status}"
    );
    let v1 = net.endpoint("customs-cn");
    let h = |e: &str| height(e).unwrap();
    wait_until("first commits", 60, || height(&v1).is_some_and(|x| x >= 3));

    net.script("netns", &["partition", "bank-cn"]);
    net.script("netns", &["partition", "carrier-cosco"]);
    std::thread::sleep(Duration::from_secs(2));
    let stalled = h(&v1);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(h(&v1), stalled, "2 of 4 validators cut off: no commits");

    net.script("netns", &["heal", "carrier-cosco"]);
    wait_until("commits resume with 3 of 4", 90, || h(&v1) >= stalled + 3);
    net.script("netns", &["heal", "bank-cn"]);
    let bank = net.endpoint("bank-cn");
    wait_until("the healed validator catches up", 90, || {
        height(&bank).is_some_and(|b| b + 1 >= h(&v1))
    });
    let common_height = net.names().iter().map(|n| h(&net.endpoint(n))).min().unwrap();
    let heads: Vec<_> = net
        .names()
        .iter()
        .map(|n| header(&net.endpoint(n), common_height).unwrap())
        .collect();
    assert!(
        heads.iter().all(|x| x == &heads[0]),
        "one chain after healing: {heads:?}"
    );

    net.script("down", &["--purge"]);
    let ns = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&ns.stdout).contains("tcn-"),
        "down --purge removes the namespaces"
    );
}
