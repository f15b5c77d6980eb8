#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `tradechain submit epcis` and `tradechain query epcis` against an in-process gRPC server over
//! the node's in-memory scenario backend: a bad document exits 2 naming the event index and
//! field before anything is sent; a good one is mapped, signed and admitted event by event; the
//! export prints an EPCIS 2.0 document of the item's public provenance.
use assert_cmd::Command;
use predicates::str::contains;
use std::path::PathBuf;
use std::sync::Arc;
use tradechain_ledger::epcis::import_document;
use tradechain_node::grpc::scenario::{Scenario, key_of};
use tradechain_node::grpc::{Backend, RunningServer, ServerLimits, spawn_local};

fn tc() -> Command {
    let mut c = Command::cargo_bin("tradechain").unwrap();
    c.env_remove("TRADECHAIN_ENDPOINT").env_remove("TRADECHAIN_KEY");
    c
}

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("../../shared/testdata/epcis")
        .join(name)
}

/// A port nothing listens on.
const DEAD: &str = "http://127.0.0.1:1";

fn serve(rt: &tokio::runtime::Runtime, backend: Arc<dyn Backend>) -> RunningServer {
    rt.block_on(spawn_local(backend, ServerLimits::default())).unwrap()
}

#[test]
fn submit_epcis_maps_signs_and_submits_each_event() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("producer-fz.key");
    key_of("PRODUCER-FZ").write_file(&key).unwrap();
    let doc = testdata("Example_9.6.1-ObjectEvent.jsonld");

    // A broken document is refused before any network step (the endpoint is dead: exit 2, not 4).
    let broken = d.path().join("broken.jsonld");
    let text = std::fs::read_to_string(&doc).unwrap();
    std::fs::write(&broken, text.replacen("\"OBSERVE\"", "\"MOVE\"", 2)).unwrap();
    tc().args(["--endpoint", DEAD, "submit", "epcis"])
        .arg(&broken)
        .args(["--org", "PRODUCER-FZ", "--key-id", "1", "--key"])
        .arg(&key)
        .assert()
        .code(2)
        .stderr(contains(
            r#"event 0: field "action": "MOVE" is not ADD, OBSERVE or DELETE"#,
        ));

    let rt = tokio::runtime::Runtime::new().unwrap();
    let scenario = Scenario::trade();
    let backend = scenario.backend.clone();
    let server = serve(&rt, backend.clone());
    let out = tc()
        .args(["--endpoint", &server.url(), "--output", "json", "submit", "epcis"])
        .arg(&doc)
        .args(["--org", "PRODUCER-FZ", "--key-id", "1", "--key"])
        .arg(&key)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let id = v["tx_id"].as_str().unwrap().to_string();
    assert_eq!(v["events"], 2);
    let pending = backend.mempool();
    assert_eq!(pending.iter().map(|t| t.id().to_hex()).collect::<Vec<_>>(), vec![id]);
    let events = import_document(&text).unwrap();
    assert_eq!(
        pending[0].tx().payload,
        tradechain_ledger::Payload::ProvenanceDocument(events),
        "the document is one transaction carrying every event"
    );
    // A key that is not the org's: the node refuses every signature (exit 2), nothing more admitted.
    let other = d.path().join("other.key");
    key_of("IMPORTER-NL").write_file(&other).unwrap();
    tc().args(["--endpoint", &server.url(), "submit", "epcis"])
        .arg(&doc)
        .args(["--org", "PRODUCER-FZ", "--key-id", "1", "--key"])
        .arg(&other)
        .assert()
        .code(2)
        .stderr(contains("signature: does not verify"));
    assert_eq!(backend.mempool().len(), 1);
    rt.block_on(server.stop()).unwrap();
}

#[test]
fn query_epcis_prints_the_public_document() {
    let mut s = Scenario::trade();
    let text = std::fs::read_to_string(testdata("Example_9.6.1-ObjectEvent.jsonld")).unwrap();
    let events = import_document(&text).unwrap();
    for ev in &events {
        s.provenance("PRODUCER-FZ", ev.clone());
    }
    s.commit();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = serve(&rt, s.backend.clone());
    let out = tc()
        .args([
            "-q",
            "--endpoint",
            &server.url(),
            "query",
            "epcis",
            "urn:epc:id:sgtin:0614141.107346.2018",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let doc = String::from_utf8(out).unwrap();
    let got = import_document(&doc).unwrap();
    let public: Vec<_> = events
        .iter()
        .map(tradechain_ledger::epcis::export::public_view)
        .collect();
    assert_eq!(got, public);
    assert!(!doc.contains("bizTransactionList"), "{doc}");
    // Filter by bizStep; a bad time flag is a usage error.
    let out = tc()
        .args([
            "-q",
            "--endpoint",
            &server.url(),
            "query",
            "epcis",
            "urn:epc:id:sgtin:0614141.107346.2018",
        ])
        .args(["--biz-step", "urn:epcglobal:cbv:bizstep:receiving"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(
        import_document(&String::from_utf8(out).unwrap()).unwrap(),
        vec![public[1].clone()]
    );
    tc().args([
        "--endpoint",
        &server.url(),
        "query",
        "epcis",
        "urn:epc:id:sgtin:0614141.107346.2018",
    ])
    .args(["--from", "last tuesday"])
    .assert()
    .code(2)
    .stderr(contains("--from"));
    rt.block_on(server.stop()).unwrap();
}
