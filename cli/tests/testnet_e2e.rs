#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End-to-end: the local testnet of real node processes (4 validators + 1 observer on 127.0.0.1,
//! RocksDB on disk, libp2p over TCP, gRPC on real ports), driven only through `testnet/*` scripts
//! and the `tradechain` binary — what an operator does.
//!
//! One test, in order (each step depends on the last):
//! 1. `testnet/up` from nothing: keys, genesis, five processes, first commit, the demo scenario.
//! 2. The consumer's provenance answer for the demo's scanned item (events, origin, customs
//!    release) and its proofs verified offline against the genesis file.
//! 3. Under a steady load of transactions submitted to different nodes (one is the observer),
//!    kill -9 one validator: commits continue; restart it: it catches up to the same head.
//! 4. Every node (observer included, synced from genesis) holds the same block hash and state hash
//!    at a common height.
//! 5. Two of four validators down: no commits (safety); one back: commits resume.
//! 6. A process with a non-member node key gets no peers and no blocks.
//! 7. `testnet/down`, then the offline audit of a validator's store, then `down --purge` leaves
//!    no process and no data.
mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A steady load: commissioning events from the producer, submitted round-robin to `endpoints`
/// and waited for; counts commits.
struct Load {
    stop: Arc<AtomicBool>,
    committed: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(endpoints: Vec<String>, key: PathBuf, dir: PathBuf) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let committed = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let (s, c, f) = (stop.clone(), committed.clone(), failed.clone());
        let handle = std::thread::spawn(move || {
            let mut i = 0u64;
            while !s.load(Ordering::SeqCst) {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_millis() as i64;
                let epc = format!("urn:epc:id:sgtin:6901234.012345.LOAD{i}");
                let mut e = tradechain_ledger::testkit::event(
                    tradechain_ledger::payload::EventType::ObjectEvent,
                    Some(tradechain_ledger::payload::Action::Add),
                    &[&epc],
                    now - 1_000,
                );
                e.biz_step = Some("urn:epcglobal:cbv:bizstep:commissioning".into());
                let file = dir.join(format!("load-{i}.json"));
                std::fs::write(&file, serde_json::to_vec(&e).unwrap()).unwrap();
                let ep = &endpoints[i as usize % endpoints.len()];
                let out = cli(
                    ep,
                    &[
                        "submit",
                        "event",
                        file.to_str().unwrap(),
                        "--org",
                        "PRODUCER-FZ",
                        "--key",
                        key.to_str().unwrap(),
                        "--wait",
                        "--timeout-ms",
                        "20000",
                    ],
                );
                if out.status.success() {
                    c.fetch_add(1, Ordering::SeqCst);
                } else {
                    f.fetch_add(1, Ordering::SeqCst);
                    eprintln!("load: {ep}: {}", String::from_utf8_lossy(&out.stderr).trim());
                    std::thread::sleep(Duration::from_millis(200));
                }
                i += 1;
            }
        });
        Load {
            stop,
            committed,
            failed,
            handle: Some(handle),
        }
    }

    fn committed(&self) -> u64 {
        self.committed.load(Ordering::SeqCst)
    }

    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        (self.committed(), self.failed.load(Ordering::SeqCst))
    }
}

#[test]
fn testnet_end_to_end() {
    let net = Testnet::new();
    let t0 = Instant::now();

    // 1. Up from nothing, with the demo scenario.
    let up = net.script("up", &[]);
    let up_out = String::from_utf8_lossy(&up.stdout).to_string();
    assert!(
        up_out.contains("query provenance"),
        "up prints a ready query line:\n{up_out}"
    );
    assert!(up_out.contains("grpcurl"), "up prints a grpcurl line:\n{up_out}");
    let names = net.names();
    assert_eq!(
        names,
        ["customs-cn", "port-cnfoc", "carrier-cosco", "bank-cn", "customs-nl"],
        "validators first, then the observer"
    );
    eprintln!("testnet up with demo data in {:?}", t0.elapsed());
    let genesis = net.data.join("genesis.json");
    let observer = net.endpoint("customs-nl");

    // 2. The consumer scans the demo item at the observer; proofs verify offline.
    let demo: Value = serde_json::from_slice(&std::fs::read(net.data.join("demo.json")).unwrap()).unwrap();
    let item = demo["sample_item"].as_str().unwrap().to_string();
    let accepted = demo["accepted"].as_u64().unwrap_or(0);
    assert!(accepted >= 200, "demo committed {accepted} transactions: {demo}");
    assert_eq!(
        demo["rejected"].as_array().map(Vec::len),
        Some(0),
        "no demo transaction rejected: {demo}"
    );
    let head = height(&net.endpoint("customs-cn")).unwrap();
    wait_until("the observer has the demo", 60, || {
        height(&observer).is_some_and(|h| h >= head)
    });
    let p = cli_json(
        &observer,
        &["query", "provenance", &item, "--verify", genesis.to_str().unwrap()],
    )
    .expect("provenance query with offline verification succeeds");
    let events = p["events"].as_array().unwrap();
    assert!(events.len() >= 5, "a whole journey, got {p}");
    let verified = p["proofs_verified"].as_u64().unwrap_or(0);
    assert!(verified >= events.len() as u64, "every event shown was verified: {p}");
    assert!(
        p["containers"].as_array().is_some_and(|c| !c.is_empty()),
        "the item travels packed: {p}"
    );
    assert_eq!(p["customs"].as_str(), Some("Released"), "{p}");
    assert_eq!(p["certificate_of_origin"]["origin_country"].as_str(), Some("CN"), "{p}");
    let steps: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["biz_step"].as_str().unwrap_or(""),
                e["customs_step"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(steps[0].contains("commissioning"), "starts at production: {steps:?}");
    assert!(
        steps.iter().any(|s| s.contains("release")),
        "customs release: {steps:?}"
    );
    // The same journey as the page a phone opens from the label's QR code (the observer's resolver).
    let path = item.trim_start_matches("https://id.gs1.org");
    let http = format!("127.0.0.1:{}", net.base + 20_000 + 5);
    let page = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&http).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).unwrap();
        buf
    };
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Customs: <span class=ok>released</span>"), "{page}");
    // Checked against the wrong validator keys (two validators' keys swapped), the proofs fail.
    let other = net.data.join("other-genesis.json");
    let mut g: Value = serde_json::from_slice(&std::fs::read(&genesis).unwrap()).unwrap();
    let k0 = g["validators"][0]["public_key"].clone();
    g["validators"][0]["public_key"] = g["validators"][1]["public_key"].clone();
    g["validators"][1]["public_key"] = k0;
    std::fs::write(&other, serde_json::to_vec(&g).unwrap()).unwrap();
    let bad = cli(
        &observer,
        &["query", "provenance", &item, "--verify", other.to_str().unwrap()],
    );
    assert!(
        !bad.status.success(),
        "proofs must not verify against another validator set"
    );

    // 2b. The README's example documents, submitted by their orgs and waited for; then errors a
    // member meets: the same goods commissioned twice (a rule), and a document signed with
    // another org's key.
    let examples = net.root.join("examples");
    let port = net.endpoint("port-cnfoc");
    for (family, file, org) in [
        ("event", "commission.json", "producer-fz"),
        ("certificate", "certificate.json", "chamber-cn"),
        ("waybill", "waybill.json", "carrier-cosco"),
        ("waybill", "endorse.json", "producer-fz"),
        ("settlement", "settlement.json", "bank-nl"),
    ] {
        let key = net.data.join(format!("keys/{org}.key"));
        let out = submit(&port, family, &examples.join(file), &org.to_uppercase(), &key, true);
        assert!(
            out.status.success(),
            "examples/{file} by {org}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("committed"));
    }
    // The documents as members read them (signed reads), and a block's verdicts.
    let member_args = |org: &str, args: &[&str]| -> Vec<String> {
        let key = net.data.join(format!("keys/{}.key", org.to_lowercase()));
        let mut a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        a.extend(["--org".into(), org.into(), "--key".into(), key.to_str().unwrap().into()]);
        a
    };
    let member = |org: &str, args: &[&str]| {
        let a = member_args(org, args);
        cli_json(&port, &a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let bl = member("BANK-NL", &["query", "waybill", "CARRIER-COSCO", "COSU-EX-0001"]).expect("waybill read");
    assert_eq!(bl["holder"].as_str(), Some("BANK-NL"), "{bl}");
    assert_eq!(bl["endorsements"].as_array().map(Vec::len), Some(1), "{bl}");
    let co = member(
        "CUSTOMS-NL",
        &["query", "certificate", "CHAMBER-CN", "CCPIT-FJ-EX-0001"],
    )
    .expect("customs reads certificates");
    assert_eq!(co["revoked"].as_bool(), Some(false), "{co}");
    // A bank that is no party to the certificate may not read it.
    let denied = member_args("BANK-NL", &["query", "certificate", "CHAMBER-CN", "CCPIT-FJ-EX-0001"]);
    let denied = cli(&port, &denied.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("may not read"));
    let pay = member("BANK-NL", &["query", "settlement", "PAY-EX-0001"]).expect("settlement read");
    assert_eq!(pay["amount_minor"].as_u64(), Some(1_250_000), "{pay}");
    // Without a member's signature the document is not shown.
    let anon = cli(&port, &["query", "settlement", "PAY-EX-0001", "--org", "BANK-NL"]);
    assert_eq!(anon.status.code(), Some(2), "no --key: usage error");
    let co_height = co["issued_at"]["height"].as_u64().unwrap();
    let block = member("CUSTOMS-NL", &["query", "block", &co_height.to_string()]).expect("block read");
    assert!(
        block["transactions"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["accepted"] == true)),
        "{block}"
    );
    // The consumer's answer saved with its proofs and checked offline; the label as a PNG.
    let saved = net.data.join("answer.pb");
    let png = net.data.join("label.png");
    let q = cli(
        &observer,
        &[
            "query",
            "provenance",
            &item,
            "--save",
            saved.to_str().unwrap(),
            "--qr-png",
            png.to_str().unwrap(),
        ],
    );
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
    let vp = cli(
        &observer,
        &[
            "verify-proof",
            saved.to_str().unwrap(),
            "--genesis",
            genesis.to_str().unwrap(),
        ],
    );
    assert!(vp.status.success(), "{}", String::from_utf8_lossy(&vp.stderr));
    assert!(String::from_utf8_lossy(&vp.stdout).contains("verified"));
    // A node that rewrites what an event shows (here: a container's loading becomes destroying)
    // is caught: the shown fields must be the signed ones.
    {
        use prost::Message;
        let bytes = std::fs::read(&saved).unwrap();
        let mut rest = bytes.as_slice();
        let mut pages = Vec::new();
        while !rest.is_empty() {
            pages.push(tradechain_proto::v1::ProvenanceReply::decode_length_delimited(&mut rest).unwrap());
        }
        let entry = pages[0]
            .containers
            .iter_mut()
            .flat_map(|c| c.timeline.iter_mut())
            .find(|e| e.biz_step.contains("loading"))
            .expect("a loading event on a container");
        entry.biz_step = "urn:epcglobal:cbv:bizstep:destroying".into();
        let mut out = Vec::new();
        for p in &pages {
            p.encode_length_delimited(&mut out).unwrap();
        }
        std::fs::write(&saved, out).unwrap();
    }
    let tampered = cli(
        &observer,
        &[
            "verify-proof",
            saved.to_str().unwrap(),
            "--genesis",
            genesis.to_str().unwrap(),
        ],
    );
    assert!(!tampered.status.success(), "a tampered answer must not verify");
    assert!(
        String::from_utf8_lossy(&tampered.stderr).contains("bizStep"),
        "{}",
        String::from_utf8_lossy(&tampered.stderr)
    );

    let producer_key = net.data.join("keys/producer-fz.key");
    let commission = examples.join("commission.json");
    let again = submit(&port, "event", &commission, "PRODUCER-FZ", &producer_key, true);
    let again_err = String::from_utf8_lossy(&again.stderr).to_string();
    assert_eq!(again.status.code(), Some(3), "a rule rejects it: {again_err}");
    assert!(again_err.contains("provenance."), "the rule id is named: {again_err}");
    let forged = submit(
        &port,
        "event",
        &commission,
        "PRODUCER-FZ",
        &net.data.join("keys/bank-cn.key"),
        false,
    );
    let forged_err = String::from_utf8_lossy(&forged.stderr).to_string();
    assert!(!forged.status.success(), "a forged signature is refused");
    assert!(forged_err.contains("signed_tx.signature"), "{forged_err}");
    // A rival minting serials under PRODUCER-FZ's GS1 Company Prefix (genesis) is refused by rule.
    let rival = data_file(
        &net,
        "rival.json",
        &std::fs::read_to_string(&commission).unwrap().replace("EX000", "RIVAL"),
    );
    let minted = submit(
        &port,
        "event",
        &rival,
        "CARRIER-COSCO",
        &net.data.join("keys/carrier-cosco.key"),
        true,
    );
    let minted_err = String::from_utf8_lossy(&minted.stderr).to_string();
    assert_eq!(minted.status.code(), Some(3), "a rule rejects it: {minted_err}");
    assert!(minted_err.contains("gs1.prefix_not_owner"), "{minted_err}");

    // 2c. Smoke runs of the benchmarks (tiny sizes; the real runs are by hand, see BENCHMARKS.md).
    let validator_eps: Vec<String> = names[..4].iter().map(|n| net.endpoint(n)).collect();
    let (keys_dir, eps) = (net.data.join("keys"), validator_eps.join(","));
    let keys_dir = keys_dir.to_str().unwrap();
    let bench_load = |extra: &[&str]| {
        let base = [
            "bench",
            "--no-report",
            "load",
            "--keys-dir",
            keys_dir,
            "--endpoints",
            &eps,
        ];
        cli_json(&port, &[&base[..], extra].concat())
    };
    let bench = bench_load(&["--txs", "300"]).expect("bench load runs");
    // The realistic mix (BL endorsements, settlement confirmations on set-up records) all commits.
    assert_eq!(bench["committed"].as_u64(), Some(300), "{bench}");
    assert_eq!(bench["setup"]["committed"].as_u64(), Some(60), "{bench}");
    assert_eq!(bench["rejected"], serde_json::json!({}), "{bench}");
    assert!(bench["committed_tps"].as_f64().is_some_and(|t| t > 0.0), "{bench}");
    // Where the CPU went: read from all four validators; every one executed and committed
    // the 300 transactions, so execution, the state tree and commit cost something on each.
    let cpu = &bench["cpu"];
    assert_eq!(cpu["replicas"].as_u64(), Some(4), "{cpu}");
    assert_eq!(cpu["unread"], serde_json::json!([]), "{cpu}");
    let stages = &cpu["stages_us_per_tx_per_replica"];
    for s in ["execution (build + check)", "  of which state_tree", "commit"] {
        assert!(stages[s].as_f64().is_some_and(|us| us > 0.0), "{s}: {cpu}");
    }
    let (total, tree) = (
        cpu["us_per_tx_per_replica"].as_f64(),
        stages["  of which state_tree"].as_f64(),
    );
    assert!(total.zip(tree).is_some_and(|(t, s)| t > s), "{cpu}");
    assert!(cpu["bound"]["bound_tps"].as_f64().is_some_and(|b| b > 0.0), "{cpu}");
    let ramp = bench_load(&[
        "--ramp",
        "--ramp-start",
        "50",
        "--ramp-step-s",
        "1",
        "--ramp-max-steps",
        "2",
        "--ramp-p99-ms",
        "60000",
    ])
    .expect("bench load --ramp runs");
    assert_eq!(ramp["steps"].as_array().map(Vec::len), Some(2), "{ramp}");
    assert_eq!(ramp["max_rate_within_target"].as_u64(), Some(75), "{ramp}");
    let burst = bench_load(&[
        "--burst",
        "--rate",
        "20",
        "--burst-factor",
        "5",
        "--burst-pre-s",
        "1",
        "--burst-s",
        "1",
        "--burst-post-s",
        "1",
    ])
    .expect("bench load --burst runs");
    // 20 + 100 + 20 paced transactions, every one committed, none lost, the surge drained.
    assert_eq!(burst["txs"].as_u64(), Some(140), "{burst}");
    assert_eq!(burst["committed"].as_u64(), Some(140), "{burst}");
    assert_eq!(burst["lost"].as_u64(), Some(0), "{burst}");
    let stages = burst["stages"].as_array().expect("stages");
    let offered: Vec<u64> = stages.iter().filter_map(|s| s["offered"].as_u64()).collect();
    assert_eq!(offered, [20, 100, 20], "{burst}");
    assert!(burst["drain_s"].as_f64().is_some(), "{burst}");
    let bound = cli_json(&port, &["bench", "--no-report", "verify-bound"]).expect("bench verify-bound runs");
    assert!(bound["batch_per_core"].as_f64().is_some_and(|r| r > 0.0), "{bound}");

    // 2d. A Byzantine member (CUSTOMS-DE's node key and signing key, over the real protocol)
    // floods transactions, garbage, oversized and far-future messages, sync requests and replays
    // for a few seconds while honest paced load runs: every honest transaction commits, the chain
    // keeps committing, and the honest nodes cut the attacker off.
    let attack = Command::new(BIN)
        .args([
            "--endpoint",
            &port,
            "bench",
            "--no-report",
            "attack",
            "--duration-s",
            "6",
            "--testnet-dir",
        ])
        .arg(&net.data)
        .args(["--output", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bench attack starts");
    let h_attack = height(&net.endpoint("customs-cn")).unwrap();
    let honest = bench_load(&["--rate", "40", "--duration-s", "5"]).expect("honest load runs under attack");
    assert_eq!(honest["lost"].as_u64().unwrap_or(0), 0, "{honest}");
    assert_eq!(
        honest["committed"], honest["txs"],
        "every honest transaction commits: {honest}"
    );
    assert_eq!(honest["rejected"], serde_json::json!({}), "{honest}");
    let out = attack.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("attack report");
    eprintln!("attack: {report}");
    assert!(
        report["connected_at_start"].as_u64().unwrap_or(0) >= 1,
        "the attacker was a peer: {report}"
    );
    assert!(report["sent"]["txflood"].as_u64().unwrap_or(0) > 0, "{report}");
    assert!(
        height(&net.endpoint("customs-cn")).is_some_and(|h| h > h_attack + 5),
        "the chain kept committing: {report}"
    );
    assert_eq!(
        report["connected_at_end"].as_u64(),
        Some(0),
        "the attacker was cut off: {report}"
    );

    // 3. Steady load to three different nodes (the observer forwards); kill -9 a validator.
    let key = net.data.join("keys/producer-fz.key");
    let load_eps = vec![net.endpoint("customs-cn"), net.endpoint("port-cnfoc"), observer.clone()];
    let load = Load::start(load_eps, key, net.data.clone());
    wait_until("load commits", 60, || load.committed() >= 3);
    net.script("kill", &["bank-cn"]);
    let at_kill = load.committed();
    let h_kill = height(&net.endpoint("customs-cn")).unwrap();
    wait_until("three validators keep committing", 60, || {
        height(&net.endpoint("customs-cn")).is_some_and(|h| h >= h_kill + 20) && load.committed() >= at_kill + 5
    });
    net.script("restart", &["bank-cn"]);
    let bank = net.endpoint("bank-cn");
    wait_until("the restarted validator catches up", 120, || {
        let target = height(&net.endpoint("customs-cn")).unwrap_or(u64::MAX);
        height(&bank).is_some_and(|h| h + 2 >= target)
    });
    let (ok, failed) = load.finish();
    eprintln!("load: {ok} committed, {failed} failed");
    assert!(ok >= at_kill + 5);

    // 4. Same block hash and state hash everywhere at a common height (observer included).
    let endpoints: Vec<String> = names.iter().map(|n| net.endpoint(n)).collect();
    let common = endpoints.iter().map(|e| height(e).unwrap()).min().unwrap();
    assert!(common > head, "the chain grew under load");
    let heads: Vec<(String, String)> = endpoints.iter().map(|e| header(e, common).unwrap()).collect();
    assert!(
        heads.iter().all(|h| h == &heads[0]),
        "all nodes agree at height {common}: {heads:?}"
    );

    // 5. Two of four validators down: no commits; one back: commits resume.
    net.script("kill", &["bank-cn"]);
    net.script("kill", &["carrier-cosco"]);
    std::thread::sleep(Duration::from_secs(2));
    let stalled = height(&net.endpoint("customs-cn")).unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(
        height(&net.endpoint("customs-cn")).unwrap(),
        stalled,
        "2 of 4 validators must not commit"
    );
    assert_eq!(height(&net.endpoint("port-cnfoc")).unwrap(), stalled);
    net.script("restart", &["carrier-cosco"]);
    wait_until("commits resume with 3 of 4", 120, || {
        height(&net.endpoint("customs-cn")).is_some_and(|h| h >= stalled + 5)
    });

    // 6. A node whose key is not a member's: refused by every peer, it never gets a block.
    let intruder = net.data.join("intruder");
    std::fs::create_dir_all(&intruder).unwrap();
    let keygen = cli(
        &observer,
        &["keys", "generate", "--out", intruder.join("node.key").to_str().unwrap()],
    );
    assert!(keygen.status.success());
    let obs_toml = std::fs::read_to_string(net.data.join("customs-nl/node.toml")).unwrap();
    let bootstrap = obs_toml.lines().find(|l| l.starts_with("bootstrap =")).unwrap();
    let grpc_port = net.base + 9;
    let toml = format!(
        "[node]\nname = \"intruder\"\nrole = \"observer\"\ndata_dir = \"data\"\ngenesis = {:?}\n\
         node_key = \"node.key\"\n\n[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/{}\"]\n{bootstrap}\n\n\
         [grpc]\nlisten = \"127.0.0.1:{grpc_port}\"\n",
        genesis.to_str().unwrap(),
        net.base + 10_009
    );
    std::fs::write(intruder.join("node.toml"), toml).unwrap();
    let mut child = Command::new(BIN)
        .args(["node", "run", "--config", "node.toml"])
        .current_dir(&intruder)
        .stdout(std::fs::File::create(intruder.join("node.log")).unwrap())
        .stderr(std::fs::File::create(intruder.join("node.err")).unwrap())
        .spawn()
        .unwrap();
    let ie = format!("http://127.0.0.1:{grpc_port}");
    wait_until("the intruder's gRPC answers", 30, || height(&ie).is_some());
    std::thread::sleep(Duration::from_secs(5));
    let st = cli_json(&ie, &["query", "status"]).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(st["height"].as_u64(), Some(0), "the intruder got no block: {st}");
    assert_eq!(st["peers"].as_u64(), Some(0), "the intruder holds no connection: {st}");

    // 7. Down, audit a validator's store offline, purge: no process, no data.
    let pids = net.pids();
    assert_eq!(pids.len(), 4, "four nodes still running (bank-cn is down)");
    net.script("down", &[]);
    for p in &pids {
        assert!(!alive(*p), "process {p} survived testnet/down");
    }
    let audit = Command::new(BIN)
        .args(["verify", "--data-dir"])
        .arg(net.data.join("customs-cn/data"))
        .output()
        .unwrap();
    assert!(
        audit.status.success(),
        "offline audit of customs-cn's store: {}",
        String::from_utf8_lossy(&audit.stderr)
    );
    net.script("down", &["--purge"]);
    assert!(!net.data.exists(), "down --purge removes data and logs");
    eprintln!("end-to-end in {:?}", t0.elapsed());
}

/// Write `text` to a file in the testnet's data directory.
fn data_file(net: &Testnet, name: &str, text: &str) -> std::path::PathBuf {
    let p = net.data.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
