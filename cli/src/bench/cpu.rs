//! Where the CPU of a load run went: each node's own per-stage CPU counters (`GetStatus`'s
//! `stage_cpu`, `node::cpu`) read before and after the measured phase, turned into µs of CPU per
//! committed transaction per replica, in total and per stage, beside the load client's own, and
//! the CPU bound the run sets: how many tx/s the cores could commit if each replica spent only the
//! work every replica must do on a transaction (one batched signature check, execution with the
//! state tree, commit) and nothing else.
//!
//! Invariants: a node that cannot be read before or after is left out of the figures and named
//! in `unread`; a node whose counters went down (it restarted) is left out as well.
use super::verify_bound::verify_bound;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tonic::transport::Channel;
use tradechain_proto::v1;

/// One node's counters at one moment (µs since it started).
#[derive(Clone, Debug, Default)]
pub struct NodeCpu {
    pub stages: BTreeMap<String, u64>,
    pub process_us: u64,
}

/// Every node's counters, and this (client) process's CPU.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    nodes: BTreeMap<String, NodeCpu>,
    client_us: u64,
}

async fn read(ch: &Channel) -> Option<NodeCpu> {
    let st = v1::node_service_client::NodeServiceClient::new(ch.clone())
        .get_status(v1::GetStatusRequest {})
        .await
        .ok()?
        .into_inner();
    Some(NodeCpu {
        stages: st.stage_cpu.into_iter().map(|s| (s.stage, s.cpu_us)).collect(),
        process_us: st.process_cpu_us,
    })
}

/// Read every node's counters (the ones that answer).
pub async fn snapshot(nodes: &[(String, Channel)]) -> Snapshot {
    let mut s = Snapshot {
        client_us: tradechain_node::cpu::process_cpu_ns() / 1_000,
        ..Snapshot::default()
    };
    for (name, ch) in nodes {
        if let Some(c) = read(ch).await {
            s.nodes.insert(name.clone(), c);
        }
    }
    s
}

fn per_tx(us: u64, txs: u64) -> f64 {
    (us as f64 / txs.max(1) as f64 * 10.0).round() / 10.0
}

/// The run's CPU figures for `txs` committed transactions at `committed_tps`.
pub fn report(before: &Snapshot, after: &Snapshot, names: &[String], txs: u64, committed_tps: f64) -> Value {
    let mut total_stage: BTreeMap<String, u64> = BTreeMap::new();
    let mut total_process = 0u64;
    let mut nodes = Vec::new();
    let mut unread = Vec::new();
    for name in names {
        let (Some(b), Some(a)) = (before.nodes.get(name), after.nodes.get(name)) else {
            unread.push(name.clone());
            continue;
        };
        if a.process_us < b.process_us {
            unread.push(format!("{name} (restarted)"));
            continue;
        }
        let mut stages = BTreeMap::new();
        for (stage, us) in &a.stages {
            let d = us.saturating_sub(b.stages.get(stage).copied().unwrap_or(0));
            *total_stage.entry(stage.clone()).or_default() += d;
            stages.insert(stage.clone(), per_tx(d, txs));
        }
        let process = a.process_us - b.process_us;
        total_process += process;
        nodes.push(json!({ "node": name, "us_per_tx": per_tx(process, txs), "stages_us_per_tx": stages }));
    }
    let replicas = nodes.len() as u64;
    let stage = |s: &str| total_stage.get(s).copied().unwrap_or(0);
    let top: u64 = tradechain_node::cpu::Stage::TOP.iter().map(|s| stage(s.name())).sum();
    let host_other = stage("host").saturating_sub(stage("build") + stage("check") + stage("commit"));
    let execution = stage("build") + stage("check");
    let per_replica = |us: u64| per_tx(us, txs.saturating_mul(replicas.max(1)));
    let mut stages_out = serde_json::Map::new();
    for s in ["submit", "gossip_in", "consensus_in"] {
        stages_out.insert(s.into(), json!(per_replica(stage(s))));
    }
    stages_out.insert("execution (build + check)".into(), json!(per_replica(execution)));
    stages_out.insert("  of which state_tree".into(), json!(per_replica(stage("state_tree"))));
    stages_out.insert("commit".into(), json!(per_replica(stage("commit"))));
    stages_out.insert(
        "host, other (engine, gossip out)".into(),
        json!(per_replica(host_other)),
    );
    stages_out.insert("sync_serve".into(), json!(per_replica(stage("sync_serve"))));
    stages_out.insert("sync_in".into(), json!(per_replica(stage("sync_in"))));
    stages_out.insert(
        "other (libp2p, tonic, RocksDB background, queries, fsyncs)".into(),
        json!(per_replica(total_process.saturating_sub(top))),
    );
    // The bound: each replica must verify each signature once (batched), execute each
    // transaction (state tree included) and write it; the cores share every replica's work.
    let vb = verify_bound(1);
    let batch_per_core = vb["batch_per_core"].as_f64().unwrap_or(0.0);
    let cores = vb["cores"].as_f64().unwrap_or(1.0);
    let verify_us = if batch_per_core > 0.0 {
        1e6 / batch_per_core
    } else {
        0.0
    };
    let needed_us = verify_us + (execution + stage("commit")) as f64 / (txs.max(1) * replicas.max(1)) as f64;
    let bound_tps = if needed_us > 0.0 && replicas > 0 {
        (cores * 1e6 / (needed_us * replicas as f64)).round()
    } else {
        0.0
    };
    json!({
        "replicas": replicas,
        "unread": unread,
        "us_per_tx_per_replica": per_replica(total_process),
        "stages_us_per_tx_per_replica": stages_out,
        "client_us_per_tx": per_tx(after.client_us.saturating_sub(before.client_us), txs),
        "nodes": nodes,
        "bound": {
            "what": "cores × 10^6 / (replicas × (one batched ed25519 verify + execution + commit µs per tx per replica, this run))",
            "verify_us": (verify_us * 100.0).round() / 100.0,
            "needed_us_per_tx_per_replica": (needed_us * 10.0).round() / 10.0,
            "cores": cores,
            "bound_tps": bound_tps,
            "share_of_bound": if bound_tps > 0.0 { (committed_tps / bound_tps * 1000.0).round() / 1000.0 } else { 0.0 },
        },
    })
}

/// One line for the human report.
pub fn human(v: &Value) -> String {
    let Some(stages) = v["stages_us_per_tx_per_replica"].as_object() else {
        return String::new();
    };
    let parts: Vec<String> = stages.iter().map(|(k, x)| format!("{}: {x}", k.trim())).collect();
    format!(
        "\nCPU per committed tx per replica ({} replicas): {} µs — {}; load client {} µs/tx\n\
         bound (verify {} µs + execution + commit = {} µs per replica, {} cores): {} tx/s; this run {} of it",
        v["replicas"],
        v["us_per_tx_per_replica"],
        parts.join(", "),
        v["client_us_per_tx"],
        v["bound"]["verify_us"],
        v["bound"]["needed_us_per_tx_per_replica"],
        v["bound"]["cores"],
        v["bound"]["bound_tps"],
        v["bound"]["share_of_bound"],
    )
}
