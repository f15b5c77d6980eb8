#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Membership follows governance, live, on real processes (4 validators + observer):
//! 1. A new org (REGULATOR-SG) is admitted by governance — its node, started before, could not
//!    connect; once the admission commits, every node's allow-list takes it in, with no restart.
//! 2. By governance it becomes a fifth validator; its key then signs commit certificates and it
//!    proposes blocks.
//! 3. Another validator (BANK-CN) is removed from the set, then its org from the consortium: its
//!    node is cut off within a few blocks.
//!
//! Throughout, the chain never stops committing (checked between every step).
mod common;

use common::*;
use serde_json::{Value, json};
use std::path::Path;

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

fn public_key(bin_key: &Path) -> String {
    let out = std::process::Command::new(BIN)
        .args(["keys", "show"])
        .arg(bin_key)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines()
        .find_map(|l| l.strip_prefix("public key:").map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("no public key in {text}"))
}

/// Submit a governance op as `org` and wait for it to commit; panics on rejection.
fn govern(net: &Testnet, org: &str, op: &Value, name: &str) {
    let file = net.data.join(format!("{name}.json"));
    write_json(&file, op);
    let key = net.data.join(format!("keys/{}.key", org.to_lowercase()));
    let out = submit(&net.endpoint("customs-cn"), "governance", &file, org, &key, true);
    assert!(
        out.status.success(),
        "{org} {name}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Propose as CUSTOMS-CN, approve by `approvers` (the quorum is 2/3 of the validator orgs in
/// force: 3 of 4, 4 of 5).
fn pass(net: &Testnet, id: &str, change: Value, approvers: &[&str]) {
    govern(
        net,
        "CUSTOMS-CN",
        &json!({"action": "propose", "proposal_id": id, "change": change}),
        id,
    );
    for org in approvers {
        govern(
            net,
            org,
            &json!({"action": "approve", "proposal_id": id}),
            &format!("{id}-{org}"),
        );
    }
}

/// The chain is still committing: the head moves by at least `blocks` within `secs`.
fn keeps_committing(net: &Testnet, what: &str, blocks: u64, secs: u64) {
    let ep = net.endpoint("customs-cn");
    let h = height(&ep).expect("status");
    wait_until(what, secs, || height(&ep).is_some_and(|n| n >= h + blocks));
}

fn validator(org: &str, key: &str) -> Value {
    json!({"org": org, "public_key": key, "power": 1})
}

#[test]
fn membership_and_validator_set_follow_governance_live() {
    let net = Testnet::new();
    net.script("up", &["--no-demo"]);
    let keys = net.data.join("keys");
    let pk = |org: &str| public_key(&keys.join(format!("{}.key", org.to_lowercase())));
    let genesis_validators: Vec<(String, String)> = ["CUSTOMS-CN", "PORT-CNFOC", "CARRIER-COSCO", "BANK-CN"]
        .iter()
        .map(|o| (o.to_string(), pk(o)))
        .collect();

    // The newcomer's keys and node, started before it is a member: it gets no peers.
    let new = "regulator-sg";
    for (file, _) in [(format!("{new}.key"), ()), (format!("{new}.node"), ())] {
        let out = std::process::Command::new(BIN)
            .args(["-q", "keys", "generate", "--out"])
            .arg(keys.join(&file))
            .output()
            .unwrap();
        assert!(out.status.success());
    }
    let new_key = public_key(&keys.join(format!("{new}.key")));
    let new_node_key = public_key(&keys.join(format!("{new}.node")));
    let nodes = std::fs::read_to_string(net.data.join("nodes")).unwrap();
    std::fs::write(net.data.join("nodes"), format!("{nodes}{new}\n")).unwrap();
    let i = nodes.lines().count() + 1;
    let boot = std::fs::read_to_string(net.data.join("customs-cn/node.toml")).unwrap();
    let boot_line = boot.lines().find(|l| l.starts_with("bootstrap")).unwrap().to_string();
    std::fs::create_dir_all(net.data.join(new)).unwrap();
    std::fs::write(
        net.data.join(new).join("node.toml"),
        format!(
            "[node]\nname = \"{new}\"\nrole = \"validator\"\ndata_dir = \"data\"\ngenesis = \"../genesis.json\"\n\
             node_key = \"../keys/{new}.node\"\nconsensus_key = \"../keys/{new}.key\"\n\n[p2p]\n\
             listen = [\"/ip4/127.0.0.1/tcp/{}\"]\n{boot_line}\n\n[grpc]\nlisten = \"127.0.0.1:{}\"\n\n\
             [log]\nformat = \"human\"\nlevel = \"info\"\n",
            net.base + 10_000 + i as u16,
            net.base + i as u16,
        ),
    )
    .unwrap();
    net.script("restart", &[new]);
    let new_ep = net.endpoint(new);
    wait_until("the newcomer's node answers", 30, || height(&new_ep).is_some());
    keeps_committing(&net, "commits before the change", 3, 30);
    assert_eq!(height(&new_ep), Some(0), "a non-member node gets no blocks");

    // 1. Admitted by governance: its node connects and syncs, no restart anywhere.
    pass(
        &net,
        "ADD-SG",
        json!({"kind": "add_org", "org": {
            "id": "REGULATOR-SG", "name": "Singapore trade regulator", "country": "SG",
            "roles": ["regulator"], "keys": [{"key_id": 0, "public_key": new_key}],
            "node_keys": [new_node_key]
        }}),
        &["PORT-CNFOC", "CARRIER-COSCO"],
    );
    wait_until("the admitted org's node syncs", 60, || {
        let head = height(&net.endpoint("customs-cn")).unwrap_or(0);
        height(&new_ep).is_some_and(|h| h + 2 >= head && h > 0)
    });
    keeps_committing(&net, "commits after the admission", 3, 30);

    // 2. A fifth validator by governance; it signs blocks.
    let mut five: Vec<Value> = genesis_validators.iter().map(|(o, k)| validator(o, k)).collect();
    five.push(validator("REGULATOR-SG", &new_key));
    pass(
        &net,
        "FIVE",
        json!({"kind": "set_validators", "validators": five}),
        &["PORT-CNFOC", "CARRIER-COSCO"],
    );
    let signed_by_new = |from: u64, to: u64| {
        (from..=to).any(|h| {
            cli_json(
                &net.endpoint("customs-cn"),
                &[
                    "query",
                    "block",
                    &h.to_string(),
                    "--org",
                    "CUSTOMS-CN",
                    "--key",
                    keys.join("customs-cn.key").to_str().unwrap(),
                ],
            )
            .is_some_and(|b| {
                b["signers"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|k| k.as_str() == Some(new_key.as_str())))
            })
        })
    };
    let h0 = height(&net.endpoint("customs-cn")).unwrap();
    wait_until("the new validator signs a commit certificate", 60, || {
        let h = height(&net.endpoint("customs-cn")).unwrap_or(h0);
        h > h0 + 3 && signed_by_new(h.saturating_sub(3), h)
    });
    let status = cli_json(&net.endpoint("customs-cn"), &["query", "status"]).unwrap();
    assert_eq!(status["validators"].as_u64(), Some(5), "{status}");
    keeps_committing(&net, "commits with five validators", 5, 30);

    // 3. BANK-CN leaves the set, then the consortium; its node is cut off.
    let four: Vec<Value> = genesis_validators
        .iter()
        .filter(|(o, _)| o != "BANK-CN")
        .map(|(o, k)| validator(o, k))
        .chain([validator("REGULATOR-SG", &new_key)])
        .collect();
    // Five validator orgs now: 4 approvals make 2/3, the newcomer's among them.
    pass(
        &net,
        "DROP-BANK",
        json!({"kind": "set_validators", "validators": four}),
        &["PORT-CNFOC", "CARRIER-COSCO", "REGULATOR-SG"],
    );
    keeps_committing(&net, "commits after BANK-CN left the set", 5, 30);
    wait_until("four validators in force", 30, || {
        cli_json(&net.endpoint("customs-cn"), &["query", "status"]).is_some_and(|s| s["validators"].as_u64() == Some(4))
    });
    pass(
        &net,
        "REMOVE-BANK",
        json!({"kind": "remove_org", "org": "BANK-CN"}),
        &["PORT-CNFOC", "CARRIER-COSCO"],
    );
    let bank = net.endpoint("bank-cn");
    wait_until("the removed org's node is disconnected", 30, || {
        cli_json(&bank, &["query", "status"]).is_some_and(|s| s["peers"].as_u64() == Some(0))
    });
    keeps_committing(&net, "commits without BANK-CN", 5, 30);
    // BANK-CN's node falls behind for good.
    let bank_h = height(&bank).unwrap();
    keeps_committing(&net, "the others go on", 5, 30);
    assert!(
        height(&bank).unwrap() <= bank_h + 1,
        "a removed org's node gets no more blocks"
    );
}
