//! Clients written elsewhere, against a real node's ports: Python `grpcio` + `grpcio-reflection`
//! (every service listed and called through reflection only, no stubs from our .proto files)
//! and Python `requests` + `websocket-client` (capture signed in Python, the job, queries with
//! Link pagination, resources, a WebSocket and a webhook subscription, the hostile paths). The
//! scripts are `scripts/pyclient/*.py`, run with the `.venv` python that `scripts/setup.sh`
//! makes (packages pinned in `scripts/python-requirements.txt`); each prints a JSON report that
//! this test checks against the chain.
//!
//! Without `.venv` the tests say so loudly on stderr and skip — unless
//! `TRADECHAIN_REQUIRE_VENV=1` (set by `scripts/test`), when they fail. A `.venv` that lacks a
//! package fails them: only a missing environment skips.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod grpc_common;
#[path = "../../ledger/tests/gs1_schema/mod.rs"]
mod gs1_schema;
mod rest_common;

use std::path::PathBuf;

use serde_json::{Value, json};
use tradechain_node::epcis_rest::capture::CaptureConfig;
use tradechain_node::epcis_rest::webhook::WebhookConfig;
use tradechain_node::grpc::backend::Backend;
use tradechain_node::grpc::scenario::{CHAIN_ID, ITEM, ITEM_URN, Scenario, WAYBILL_REF, key_of, org};
use tradechain_proto::SERVICE_NAMES;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `.venv` python, or None (after saying so loudly) when the environment is missing and
/// not required.
fn python() -> Option<PathBuf> {
    let p = repo().join(".venv/bin/python");
    if p.exists() {
        return Some(p);
    }
    let msg = format!(
        "{} is missing: run scripts/setup.sh (it makes the Python test environment)",
        p.display()
    );
    if std::env::var("TRADECHAIN_REQUIRE_VENV").is_ok_and(|v| v == "1") {
        panic!("{msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {msg} — the foreign-client tests did NOT run !!!!!!!!\n");
    None
}

/// Run `scripts/pyclient/{script}` with `input` on stdin and `env`; its JSON report (the last
/// stdout line).
fn run(python: &std::path::Path, script: &str, input: &Value, env: &[(&str, &str)]) -> Value {
    let script_path = repo().join("scripts/pyclient").join(script);
    let out = gs1_schema::run_script(python, &script_path, &[], input.to_string().as_bytes(), env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("--- {script} stderr ---\n{stderr}--- {script} stdout ---\n{stdout}");
    assert!(out.status.success(), "{script} failed: {stderr}");
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| panic!("{script}: {e}: {stdout}"))
}

fn party(who: &str) -> Value {
    json!({"org": who, "key_id": 1, "seed": hex::encode(key_of(who).seed())})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_grpc_client_calls_every_service_through_reflection_only() {
    let Some(py) = python() else { return };
    let env = grpc_common::start(Scenario::trade()).await;
    let b = env.scenario.backend.clone();
    let tx_id = b.block(1).unwrap().unwrap().txs[0].id().to_hex();
    let input = json!({
        "grpc": env.server.addr.to_string(),
        "chain_id": CHAIN_ID,
        "height": b.height(),
        "item_urn": ITEM_URN,
        "item_key": ITEM,
        "tx_id": tx_id,
        "waybill": {"carrier": "CARRIER-COSCO", "reference": WAYBILL_REF},
        "reader": party("CARRIER-COSCO"),
    });
    // With grpcio-reflection, and with the fallback a Debian-packaged environment uses (no
    // grpcio-reflection package): the same services, calls and answers.
    let (p, i) = (py.clone(), input.clone());
    let report = tokio::task::spawn_blocking(move || run(&p, "grpc_reflection_client.py", &i, &[]))
        .await
        .unwrap();
    assert_eq!(report["reflection"], "grpcio-reflection");
    let fallback = tokio::task::spawn_blocking(move || {
        run(
            &py,
            "grpc_reflection_client.py",
            &input,
            &[("TC_PY_NO_GRPC_REFLECTION", "1")],
        )
    })
    .await
    .unwrap();
    assert_eq!(fallback["reflection"], "fallback");
    assert_eq!(fallback["services"], report["services"]);
    assert_eq!(fallback["calls"], report["calls"]);
    // Every tradechain service, health and both reflection versions were listed…
    let listed: Vec<&str> = report["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for s in SERVICE_NAMES.iter().chain(&[
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ]) {
        assert!(listed.contains(s), "{s} not listed: {listed:?}");
    }
    // …and called, with the chain's answers.
    let calls = &report["calls"];
    assert_eq!(calls["NodeService/GetStatus"]["chain_id"], CHAIN_ID);
    assert_eq!(calls["NodeService/GetStatus"]["height"], b.height());
    assert_eq!(calls["ProvenanceService/GetProvenance"]["goods_key"], ITEM);
    assert_eq!(calls["TransactionService/GetTransaction"]["height"], 1);
    assert_eq!(
        calls["ChainService/GetHeader"]["block_hash"],
        b.header(1).unwrap().unwrap().hash().to_hex()
    );
    assert_eq!(calls["DocumentService/GetWaybill"]["reference"], WAYBILL_REF);
    assert_eq!(calls["DocumentService/GetWaybill"]["holder"], "IMPORTER-NL");
    assert!(calls["EpcisService/ExportEpcis"]["event_count"].as_u64().unwrap() > 0);
    let errors = calls["errors"].as_array().unwrap();
    let codes: Vec<&str> = errors.iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        vec![
            "UNAUTHENTICATED",
            "NOT_FOUND",
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            "INTERNAL"
        ],
        "{errors:?}"
    );
}

#[test]
fn python_rest_client_captures_queries_and_subscribes() {
    let Some(py) = python() else { return };
    let backend = Scenario::trade().backend;
    let mut capture = CaptureConfig::new(org("PRODUCER-FZ"), 1, key_of("PRODUCER-FZ"));
    capture.commit_timeout = std::time::Duration::from_secs(30);
    let webhooks = WebhookConfig {
        allow_private_destinations: true,
        ..WebhookConfig::default()
    };
    let addr = rest_common::serve_rest(backend.clone(), Some(capture), webhooks);
    let _chain = rest_common::Committer::start(backend.clone());
    let input = json!({
        "http": format!("http://{addr}"),
        "chain_id": CHAIN_ID,
        "capturer": party("PRODUCER-FZ"),
    });
    let report = run(&py, "rest_client.py", &input, &[]);
    // What the client saw is what the chain holds.
    let captured: Vec<String> = report["captured"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(captured.len(), 3);
    for id in &captured {
        assert!(
            tradechain_node::epcis_rest::query::by_event_id(backend.as_ref(), id)
                .unwrap()
                .is_some(),
            "{id} is on the chain"
        );
    }
    let all = report["all_events"]["events"].as_u64().unwrap();
    let mut on_chain = 0u64;
    for h in 1..=backend.height() {
        let block = backend.block(h).unwrap().unwrap();
        let outcomes = backend.outcomes(h).unwrap().unwrap();
        on_chain += block
            .txs
            .iter()
            .zip(&outcomes)
            .filter(|(_, o)| matches!(o, tradechain_ledger::block::TxOutcome::Accepted))
            .map(|(t, _)| t.tx().payload.events().len() as u64)
            .sum::<u64>();
    }
    // The walk of /events ran before the subscription's two events were captured.
    assert_eq!(all + 2, on_chain, "/events walked every accepted event once");
    assert!(report["inspecting"]["pages"].as_u64().unwrap() >= 2);
    assert_eq!(report["hostile"], "ok");
    assert_eq!(report["webhook"]["signature"], "ok");
    assert_eq!(report["websocket"]["eventID"], report["webhook"]["eventID"]);
}
