#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `tradechain` command offline: every command's success and its main errors, with the
//! documented exit codes (0 ok, 1 failure, 2 usage, 3 rejected by a rule, 4 unavailable).
//! Commands that need a running network are covered by `testnet_e2e.rs`.
use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn tc() -> Command {
    let mut c = Command::cargo_bin("tradechain").unwrap();
    c.env_remove("TRADECHAIN_ENDPOINT").env_remove("TRADECHAIN_KEY");
    c
}

fn example(name: &str) -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("../examples")
        .join(name)
}

/// A port nothing listens on.
const DEAD: &str = "http://127.0.0.1:1";

#[test]
fn keys_are_written_0600_and_never_printed_unless_asked() {
    let d = tempfile::tempdir().unwrap();
    let k = d.path().join("org.key");
    let out = tc().args(["keys", "generate", "--out"]).arg(&k).assert().success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert_eq!(std::fs::metadata(&k).unwrap().permissions().mode() & 0o777, 0o600);
    let seed = std::fs::read_to_string(&k).unwrap();
    assert!(!stdout.contains(seed.trim()), "generate must not print the secret");
    // Refuses to overwrite without --force.
    tc().args(["keys", "generate", "--out"])
        .arg(&k)
        .assert()
        .code(2)
        .stderr(contains("exists"));
    tc().args(["keys", "show"])
        .arg(&k)
        .assert()
        .success()
        .stdout(contains("peer id"));
    tc().args(["keys", "export-public"]).arg(&k).assert().success();
    // A key readable by others is refused, naming the problem.
    std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o644)).unwrap();
    tc().args(["keys", "show"])
        .arg(&k)
        .assert()
        .failure()
        .stderr(contains("0600"));
}

/// `keys sign-http` signs what the node's EPCIS REST capture checks (the node's own verifier).
#[test]
fn sign_http_prints_headers_the_node_verifies() {
    let d = tempfile::tempdir().unwrap();
    let k = d.path().join("org.key");
    tc().args(["keys", "generate", "--out"]).arg(&k).assert().success();
    let body = d.path().join("doc.jsonld");
    std::fs::write(&body, b"{\"type\":\"EPCISDocument\"}").unwrap();
    let out = tc()
        .args([
            "--output",
            "json",
            "keys",
            "sign-http",
            "post",
            "/capture",
            "--org",
            "PRODUCER-FZ",
        ])
        .args(["--chain-id", "test-chain", "--body"])
        .arg(&body)
        .arg("--key")
        .arg(&k)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["x-tc-org"], "PRODUCER-FZ");
    assert_eq!(v["x-tc-key-id"], "0");
    let t: i64 = v["x-tc-time-ms"].as_str().unwrap().parse().unwrap();
    let sig: [u8; 64] = hex::decode(v["x-tc-signature"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    let key = tradechain_ledger::SecretKey::read_file(&k).unwrap();
    let msg = tradechain_node::epcis_rest::auth::sign_bytes(
        "test-chain",
        "POST",
        "/capture",
        t,
        &std::fs::read(&body).unwrap(),
    );
    key.public()
        .verify(&msg, &tradechain_ledger::crypto::Signature(sig))
        .unwrap();
    // Text: curl arguments.
    let out = tc()
        .args([
            "keys",
            "sign-http",
            "GET",
            "/capture",
            "--org",
            "PRODUCER-FZ",
            "--chain-id",
            "c",
            "--key",
        ])
        .arg(&k)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.starts_with("-H x-tc-org:PRODUCER-FZ -H x-tc-key-id:0 -H x-tc-time-ms:"),
        "{text}"
    );
    // A chain id is required; a bad org is named.
    tc().args(["keys", "sign-http", "GET", "/capture", "--org", "PRODUCER-FZ", "--key"])
        .arg(&k)
        .assert()
        .code(2);
    tc().args([
        "keys",
        "sign-http",
        "GET",
        "/",
        "--org",
        "bad org",
        "--chain-id",
        "c",
        "--key",
    ])
    .arg(&k)
    .assert()
    .code(2)
    .stderr(contains("--org"));
}

#[test]
fn genesis_is_built_step_by_step_and_validate_lists_every_problem() {
    let d = tempfile::tempdir().unwrap();
    let g = d.path().join("genesis.json");
    let key = |n: &str| {
        let p = d.path().join(n);
        tc().args(["-q", "keys", "generate", "--out"])
            .arg(&p)
            .assert()
            .success();
        p
    };
    let (ka, kb) = (key("a.key"), key("b.key"));
    tc().args(["genesis", "init", "--chain-id", "t-1", "--out"])
        .arg(&g)
        .assert()
        .success();
    // An empty consortium is not a valid genesis: every problem is named.
    let bad = tc().args(["genesis", "validate"]).arg(&g).assert().failure();
    let o = bad.get_output();
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        err.contains("validators: at least one"),
        "names the missing validators: {err}"
    );
    for (id, role, k) in [("CUSTOMS-XX", "customs", &ka), ("BANK-XX", "bank", &kb)] {
        tc().args(["genesis", "add-org", "--file"])
            .arg(&g)
            .args([
                "--id",
                id,
                "--name",
                id,
                "--country",
                "CN",
                "--role",
                role,
                "--key-file",
            ])
            .arg(k)
            .assert()
            .success();
        tc().args(["genesis", "add-validator", "--file"])
            .arg(&g)
            .args(["--org", id])
            .assert()
            .success();
    }
    tc().args(["genesis", "validate"]).arg(&g).assert().success();
    tc().args(["genesis", "show"])
        .arg(&g)
        .assert()
        .success()
        .stdout(contains("CUSTOMS-XX"));
    // An unknown country code is refused naming the field.
    tc().args(["genesis", "add-org", "--file"])
        .arg(&g)
        .args([
            "--id",
            "PORT-XX",
            "--name",
            "p",
            "--country",
            "XX",
            "--role",
            "port",
            "--key-file",
        ])
        .arg(&ka)
        .assert()
        .failure()
        .stderr(contains("country"));
}

#[test]
fn submit_reports_missing_files_bad_json_bad_keys_and_unreachable_nodes() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("p.key");
    tc().args(["-q", "keys", "generate", "--out"])
        .arg(&key)
        .assert()
        .success();
    let sub = |file: &Path| {
        let mut c = tc();
        c.args(["--endpoint", DEAD, "submit", "event"])
            .arg(file)
            .args(["--org", "PRODUCER-FZ", "--key"])
            .arg(&key);
        c
    };
    sub(&d.path().join("missing.json"))
        .assert()
        .code(2)
        .stderr(contains("missing.json"));
    // Malformed JSON names the line and column; a wrong field type names the field.
    let broken = d.path().join("broken.json");
    std::fs::write(&broken, "{\n  \"event_type\": \"ObjectEvent\",\n  oops\n}").unwrap();
    sub(&broken).assert().code(2).stderr(contains("line 3"));
    let wrong = d.path().join("wrong.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(example("commission.json")).unwrap()).unwrap();
    v["eventTimeMs"] = serde_json::Value::from("yesterday");
    std::fs::write(&wrong, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    sub(&wrong).assert().code(2).stderr(contains("invalid type"));
    // A well-formed document reaches the network step: no node there → exit 4.
    sub(&example("commission.json"))
        .assert()
        .code(4)
        .stderr(contains("unreachable"));
    // A missing key file is a usage error naming --key.
    tc().args(["--endpoint", DEAD, "submit", "event"])
        .arg(example("commission.json"))
        .args(["--org", "PRODUCER-FZ", "--key"])
        .arg(d.path().join("nope.key"))
        .assert()
        .code(2)
        .stderr(contains("--key"));
    // An org id that is not one is refused before anything is signed.
    tc().args(["--endpoint", DEAD, "submit", "event"])
        .arg(example("commission.json"))
        .args(["--org", "not an org", "--key"])
        .arg(&key)
        .assert()
        .code(2)
        .stderr(contains("--org"));
}

#[test]
fn every_example_document_parses_as_its_family() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("k.key");
    tc().args(["-q", "keys", "generate", "--out"])
        .arg(&key)
        .assert()
        .success();
    for (family, file) in [
        ("event", "commission.json"),
        ("certificate", "certificate.json"),
        ("waybill", "waybill.json"),
        ("waybill", "endorse.json"),
        ("settlement", "settlement.json"),
    ] {
        // Parsing succeeds, so the failure is the unreachable node (4), not the document (2).
        tc().args(["--endpoint", DEAD, "submit", family])
            .arg(example(file))
            .args(["--org", "PRODUCER-FZ", "--key"])
            .arg(&key)
            .assert()
            .code(4);
    }
    // The wrong family for a document is a usage error.
    tc().args(["--endpoint", DEAD, "submit", "settlement"])
        .arg(example("commission.json"))
        .args(["--org", "PRODUCER-FZ", "--key"])
        .arg(&key)
        .assert()
        .code(2);
}

#[test]
fn queries_against_no_node_exit_4_and_bad_arguments_exit_2() {
    tc().args(["--endpoint", DEAD, "query", "status"])
        .assert()
        .code(4)
        .stderr(contains("unreachable"));
    tc().args(["--endpoint", "not a url", "query", "status"])
        .assert()
        .code(2);
    tc().args(["query", "header", "minus-one"]).assert().code(2);
    tc().args(["frobnicate"]).assert().code(2);
    // The QR code's resolver must be a web address; checked before the node is asked.
    tc().args([
        "--endpoint",
        DEAD,
        "query",
        "provenance",
        "06901234123456",
        "SN1",
        "--qr",
    ])
    .args(["--resolver", "ftp://192.168.1.20"])
    .assert()
    .code(2)
    .stderr(contains("must be an http(s) URL"));
}

#[test]
fn verify_names_a_missing_store_and_completions_print_a_script() {
    let d = tempfile::tempdir().unwrap();
    tc().args(["verify", "--data-dir"])
        .arg(d.path().join("none"))
        .assert()
        .failure();
    tc().args(["completions", "bash"])
        .assert()
        .success()
        .stdout(contains("tradechain"));
    tc().args(["completions", "zsh"]).assert().success();
    tc().args(["completions", "fish"]).assert().success();
    tc().arg("--help").assert().success().stdout(contains("Exit codes"));
}

#[test]
fn node_init_writes_a_config_and_run_names_the_bad_key() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("node.toml");
    tc().args(["node", "init", "--out"]).arg(&cfg).assert().success();
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(text.contains("[node]") && text.contains("Unknown keys are errors"));
    tc().args(["node", "init", "--out"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(contains("exists"));
    std::fs::write(&cfg, text.replace("max_message_bytes", "max_mesage_bytes")).unwrap();
    tc().args(["node", "run", "--config"])
        .arg(&cfg)
        .assert()
        .code(2)
        .stderr(contains("max_mesage_bytes"));
}

#[test]
fn a_validator_with_an_undecodable_wal_refuses_to_start_unless_told() {
    let d = tempfile::tempdir().unwrap();
    let p = |n: &str| d.path().join(n);
    std::fs::create_dir_all(p("keys")).unwrap();
    for k in ["keys/org.key", "keys/node.key"] {
        tc().args(["-q", "keys", "generate", "--out"])
            .arg(p(k))
            .assert()
            .success();
    }
    let g = p("genesis.json");
    tc().args(["genesis", "init", "--chain-id", "wal-1", "--out"])
        .arg(&g)
        .assert()
        .success();
    tc().args(["genesis", "add-org", "--file"])
        .arg(&g)
        .args([
            "--id",
            "CUSTOMS-XX",
            "--name",
            "c",
            "--country",
            "CN",
            "--role",
            "customs",
            "--key-file",
        ])
        .arg(p("keys/org.key"))
        .arg("--node-key-file")
        .arg(p("keys/node.key"))
        .assert()
        .success();
    tc().args(["genesis", "add-validator", "--file"])
        .arg(&g)
        .args(["--org", "CUSTOMS-XX"])
        .assert()
        .success();
    let cfg = p("node.toml");
    tc().args(["node", "init", "--out"]).arg(&cfg).assert().success();
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("role = \"observer\"", "role = \"validator\"")
        .replace(
            "# consensus_key = \"keys/consensus.key\"",
            "consensus_key = \"keys/org.key\"",
        )
        .replace("/tcp/7001", "/tcp/0")
        .replace("127.0.0.1:9001", "127.0.0.1:0")
        .replace("listen = \"127.0.0.1:8001\"", "listen = \"127.0.0.1:0\"");
    std::fs::write(&cfg, text).unwrap();
    // One whole record (its checksum holds) whose body is not a WAL entry: not a torn write.
    std::fs::create_dir_all(p("data")).unwrap();
    let body = b"\xff\xff\xff\xff not a consensus wal entry";
    tradechain_node::wal::Wal::open(&p("data/consensus.wal"))
        .unwrap()
        .append(body)
        .unwrap();
    let rec = std::fs::read(p("data/consensus.wal")).unwrap();
    tc().args(["node", "run", "--config"])
        .arg(&cfg)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .code(1)
        .stderr(contains("consensus WAL is unreadable").and(contains("--discard-unreadable-wal")));
    // The WAL is left as it was for the person who decides.
    assert_eq!(std::fs::read(p("data/consensus.wal")).unwrap(), rec);
    // With the operator's override it starts (and runs until the timeout stops it).
    let out = tc()
        .args(["node", "run", "--discard-unreadable-wal", "--config"])
        .arg(&cfg)
        .timeout(std::time::Duration::from_secs(4))
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.contains("discarding it as configured"), "{log}");
}

fn dcsa_testdata(name: &str) -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("../../shared/testdata/dcsa")
        .join(name)
}

#[test]
fn submit_waybill_takes_dcsa_documents_and_names_the_bad_field() {
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("c.key");
    tc().args(["-q", "keys", "generate", "--out"])
        .arg(&key)
        .assert()
        .success();
    let notification = dcsa_testdata("ebl-3.0.3_td-notification_issuedFullStateTransferExample.json");
    let dry = |file: &Path, extra: &[&str]| {
        let mut c = tc();
        c.args(["--endpoint", DEAD, "submit", "waybill"])
            .arg(file)
            .args(["--org", "CARRIER-COSCO", "--dry-run"])
            .args(extra);
        c
    };
    // The notification is recognised as DCSA and mapped to an issue keeping the document.
    let out = dry(&notification, &["--holder", "PRODUCER-FZ"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["family"], "waybill");
    assert_eq!(v["op"]["action"], "issue");
    assert_eq!(v["op"]["reference"], "HHL71800000");
    assert_eq!(v["op"]["kind"], "to_order");
    assert_eq!(v["op"]["holder"], "PRODUCER-FZ");
    assert_eq!(v["op"]["goods"][0]["gross_weight_grams"], 12_000_000);
    assert!(v["op"]["dcsa"].as_str().unwrap().contains("\"carrierCode\":\"MSC\""));
    // No holder: the field and the flag are named.
    dry(&notification, &[])
        .assert()
        .code(2)
        .stderr(contains("documentParties.issueTo").and(contains("--holder")));
    // Our own shape still goes through the same command (and --format tradechain forces it).
    dry(&example("waybill.json"), &[]).assert().success();
    dry(&notification, &["--format", "tradechain"]).assert().code(2);
    // Surrender request: needs --carrier, then maps to a surrender for delivery.
    let sur = dcsa_testdata("ebl-sur-3.0.3_surrender-request_surrenderExample.json");
    dry(&sur, &[]).assert().code(2).stderr(contains("--carrier"));
    let out = dry(&sur, &["--carrier", "CARRIER-COSCO"]).assert().success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["op"]["action"], "surrender");
    assert_eq!(v["op"]["purpose"], "delivery");
    assert_eq!(v["op"]["reference"], "HHL71800000");
    // PINT envelope: DCSA's example has illustrative checksums, so its chain does not check.
    let pint = dcsa_testdata("ebl-pint-3.0.0_envelope_regularSTDExample.json");
    dry(&pint, &["--holder", "BANK-NL"])
        .assert()
        .code(2)
        .stderr(contains("envelopeTransferChain[0].transportDocumentChecksum"));
    let out = dry(&pint, &["--holder", "BANK-NL", "--unchecked-transfer-chain"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["op"]["reference"], "62CD536BA8D34C469AFD");
    // The endorsement-chains document is a read shape, not something to submit.
    let end = dcsa_testdata("ebl-end-3.0.3_endorsement-chains_twoTDSRExample.json");
    dry(&end, &["--format", "dcsa"])
        .assert()
        .code(2)
        .stderr(contains("a DCSA document is an object"));
    // A float weight finer than a gram is refused naming the field.
    let bad = d.path().join("bad.json");
    let text = std::fs::read_to_string(&notification).unwrap();
    std::fs::write(&bad, text.replacen("\"value\": 12000", "\"value\": 12000.0001", 1)).unwrap();
    dry(&bad, &["--holder", "PRODUCER-FZ"])
        .assert()
        .code(2)
        .stderr(contains(
            "data.transportDocument.consignmentItems[0].cargoItems[0].cargoGrossWeight.value",
        ));
    // An issuingParty naming another member than the signer is refused.
    let other = d.path().join("other.json");
    std::fs::write(
        &other,
        text.replacen(
            "\"codeListProvider\": \"GLEIF\",\n              \"codeListName\": \"LEI\",\n              \"partyCode\": \"529900T8BM49AURSDO55\"",
            "\"codeListProvider\": \"ZZZ\",\n              \"codeListName\": \"tradechain\",\n              \"partyCode\": \"CARRIER-MSC\"",
            1,
        ),
    )
    .unwrap();
    dry(&other, &["--holder", "PRODUCER-FZ"])
        .assert()
        .code(2)
        .stderr(contains("documentParties.issuingParty").and(contains("CARRIER-MSC")));
    // Without --dry-run a mapped document reaches the network step: no node → 4.
    tc().args(["--endpoint", DEAD, "submit", "waybill"])
        .arg(&notification)
        .args(["--org", "CARRIER-COSCO", "--holder", "PRODUCER-FZ", "--key"])
        .arg(&key)
        .assert()
        .code(4);
    // query waybill --format dcsa: a node is needed (4); a bad format is a usage error (2).
    tc().args(["--endpoint", DEAD, "query", "waybill", "CARRIER-COSCO", "HHL71800000"])
        .args(["--org", "CARRIER-COSCO", "--format", "dcsa", "--key"])
        .arg(&key)
        .assert()
        .code(4);
    tc().args(["--endpoint", DEAD, "query", "waybill", "CARRIER-COSCO", "HHL71800000"])
        .args(["--org", "CARRIER-COSCO", "--format", "pdf"])
        .assert()
        .code(2);
}
