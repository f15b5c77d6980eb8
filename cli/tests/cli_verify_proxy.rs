#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The CLI verifier against a live testnet through a tampering gRPC proxy: real node processes
//! with the demo data (`testnet/up`), and in this test process a `ProvenanceService` that forwards
//! each request to a real node and rewrites the reply on the way back. The real `tradechain`
//! binary asks the proxy: `query provenance ITEM --verify genesis.json --save FILE`, then
//! `verify-proof FILE --genesis genesis.json` on what it saved.
//!
//! Untampered, both say verified and complete (also with the item's event-hash chain recomputed
//! by the proxy's own tool, `forge::rechain`). Each tamper — with the rest of the reply kept
//! consistent, so that only the one check can catch it — fails both with a non-zero exit and a
//! message naming the failed check:
//! (a) another item's events under this item's key, their event-hash chain recomputed for it:
//!     the signed event does not name the goods;
//! (b) a rejected transaction shown as an event (a customs release the producer signed and the
//!     validators refused, spliced in with its real inclusion and outcome proofs and the chain
//!     recomputed): not proven accepted;
//! (c) the last event dropped, the chain and the summary rewritten to end before it: the proven
//!     head counts one more event;
//! (d) a shown field (bizStep) of a public, signed event altered: it is not the signed one;
//! (e) state from another item: the certificate of origin of a food lot, the customs status of
//!     another item, or another item's whole proven head — each against this item's proven head.
//!
//! One testnet for all cases; the proxy's tamper is swapped between them. About 15 s on a 2-core
//! machine: `testnet/up` with the demo 3–5 s, all the CLI runs under 1 s, `testnet/down` ~10 s.
mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tonic::transport::{Channel, Server, server::TcpIncoming};
use tonic::{Request, Response, Status};
use tradechain_ledger::{demo, gs1::goods_key};
use tradechain_proto::v1::{self, provenance_service_server::ProvenanceService};

type Tamper = Arc<dyn Fn(&mut v1::ProvenanceReply) + Send + Sync>;

/// A `ProvenanceService` in front of a real node: forwards each request with a tonic client and
/// applies the current tamper to the reply. `query provenance --verify` calls nothing else.
#[derive(Clone)]
struct TamperingProxy {
    upstream: Channel,
    tamper: Arc<Mutex<Tamper>>,
}

#[tonic::async_trait]
impl ProvenanceService for TamperingProxy {
    async fn get_provenance(
        &self,
        req: Request<v1::GetProvenanceRequest>,
    ) -> Result<Response<v1::ProvenanceReply>, Status> {
        let mut reply = v1::provenance_service_client::ProvenanceServiceClient::new(self.upstream.clone())
            .get_provenance(req.into_inner())
            .await?
            .into_inner();
        let tamper = self.tamper.lock().unwrap().clone();
        tamper(&mut reply);
        Ok(Response::new(reply))
    }
}

impl TamperingProxy {
    /// Serve on a free port of 127.0.0.1 until `shutdown` is dropped or fired.
    async fn start(upstream: Channel) -> (String, Arc<Mutex<Tamper>>, tokio::sync::oneshot::Sender<()>) {
        let tamper: Arc<Mutex<Tamper>> = Arc::new(Mutex::new(Arc::new(|_| {})));
        let proxy = TamperingProxy {
            upstream,
            tamper: tamper.clone(),
        };
        let incoming = TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let addr = incoming.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(
            Server::builder()
                .add_service(v1::provenance_service_server::ProvenanceServiceServer::new(proxy))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = rx.await;
                }),
        );
        (format!("http://{addr}"), tamper, tx)
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `query provenance ITEM --verify G --save FILE` through `endpoint`, then `verify-proof FILE`.
fn verify_both(endpoint: &str, item: &str, genesis: &Path, save: &Path) -> [Output; 2] {
    let _ = std::fs::remove_file(save);
    let (g, f) = (genesis.to_str().unwrap(), save.to_str().unwrap());
    let query = cli(endpoint, &["query", "provenance", item, "--verify", g, "--save", f]);
    assert!(
        save.exists(),
        "the answer is saved before it is verified: {}",
        text(&query)
    );
    let offline = std::process::Command::new(BIN)
        .args(["verify-proof", f, "--genesis", g])
        .output()
        .unwrap();
    [query, offline]
}

#[test]
fn the_cli_verifier_names_each_tamper_of_a_live_answer() {
    let t0 = Instant::now();
    let net = Testnet::new();
    net.script("up", &[]);
    let up = t0.elapsed();
    eprintln!("testnet up with demo data in {up:?}");
    let node = net.endpoint(&net.names()[0]);
    let genesis = net.data.join("genesis.json");
    let keys = net.data.join("keys");
    let demo: Value = serde_json::from_slice(&std::fs::read(net.data.join("demo.json")).unwrap()).unwrap();
    let item = demo["sample_item"].as_str().unwrap().to_string();
    let key = goods_key(&item).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();

    // The forger's material: a rejected claim about the item, and other items' answers — the
    // phone packed next to it in the same case, and a food lot of the rail shipment.
    let urn = demo::phone(0, 0, 0);
    assert_eq!(goods_key(&urn).unwrap(), key, "the demo's scanned item");
    let (sibling_key, lot_key) = (
        goods_key(&demo::phone(0, 0, 1)).unwrap(),
        goods_key(&demo::lot(0)).unwrap(),
    );
    let rejected_tx = forge::submit_rejected_release(BIN, &node, &keys, &urn);
    let ch = rt.block_on(forge::connect(&node));
    let rejected = rt.block_on(forge::rejected_entry(&ch, &rejected_tx, &keys));
    let honest = rt.block_on(forge::fetch(&ch, &key));
    let sibling = rt.block_on(forge::fetch(&ch, &sibling_key));
    let lot = rt.block_on(forge::fetch(&ch, &lot_key));
    assert!(
        honest.timeline.iter().all(|e| e.tx_id != rejected_tx),
        "the rejected claim is no event of the item"
    );
    assert!(honest.timeline.len() >= 2, "{honest:?}");
    assert!(!honest.containers.is_empty(), "the item travels in containers");
    assert_ne!(
        honest.certificate_of_origin, lot.certificate_of_origin,
        "the lot has another certificate of origin"
    );
    let container = honest.containers.last().unwrap().clone();
    assert_ne!(
        honest.customs, container.customs,
        "the outermost container has another customs status than the item's own"
    );

    let (proxy, tamper, _shutdown) = rt.block_on(TamperingProxy::start(ch.clone()));
    let tmp = tempfile::tempdir().unwrap();
    let save = tmp.path().join("answer.pb");

    // Untampered: verified and complete, in both commands.
    let t = Instant::now();
    for out in verify_both(&proxy, &item, &genesis, &save) {
        let said = text(&out);
        assert!(out.status.success(), "{said}");
        assert!(
            said.contains("verified: all") && said.contains("complete as of block"),
            "{said}"
        );
    }
    eprintln!("one untampered query + verify-proof in {:?}", t.elapsed());
    // The forger's tool is sound: the item's own events, their chain recomputed, still verify
    // (so each failure below is the one tamper's, not the rewrite's).
    *tamper.lock().unwrap() = {
        let k = key.clone();
        Arc::new(move |r: &mut v1::ProvenanceReply| {
            if r.goods_key == k {
                forge::rechain(r, &k);
            }
        })
    };
    for out in verify_both(&proxy, &item, &genesis, &save) {
        assert!(out.status.success(), "rechained untouched: {}", text(&out));
    }

    let k = key.clone();
    let cases: Vec<(&str, Tamper, Vec<String>)> = vec![
        (
            "(a) another item's events under this item's key",
            Arc::new(move |r: &mut v1::ProvenanceReply| {
                if r.goods_key == k {
                    r.timeline = sibling.timeline.clone();
                    forge::rechain(r, &k);
                }
            }),
            vec![format!("entry seq 0: the signed event does not name goods {key}")],
        ),
        (
            "(b) a rejected transaction shown as an event",
            {
                let k = key.clone();
                Arc::new(move |r: &mut v1::ProvenanceReply| {
                    if r.goods_key == k {
                        r.timeline.push(rejected.clone());
                        forge::rechain(r, &k);
                    }
                })
            },
            vec![format!(
                "entry seq {}: the transaction is not proven accepted",
                honest.timeline.len()
            )],
        ),
        (
            "(c) the last event dropped, chain and summary rewritten",
            {
                let k = key.clone();
                Arc::new(move |r: &mut v1::ProvenanceReply| {
                    if r.goods_key == k {
                        r.timeline.pop();
                        forge::rechain(r, &k);
                    }
                })
            },
            vec![format!(
                "{key}: the reply shows event count \"{}\" but the proven head says \"{}\"",
                honest.timeline.len() - 1,
                honest.timeline.len()
            )],
        ),
        (
            "(d) a shown field of a signed event altered",
            {
                let k = key.clone();
                Arc::new(move |r: &mut v1::ProvenanceReply| {
                    if r.goods_key == k {
                        forge::set_shown_field(r);
                    }
                })
            },
            vec!["shows bizStep".into(), "but the signed event says".into()],
        ),
        (
            "(e1) the certificate of origin of another item",
            {
                let (k, coo) = (key.clone(), lot.certificate_of_origin.clone());
                Arc::new(move |r: &mut v1::ProvenanceReply| {
                    if r.goods_key == k {
                        r.certificate_of_origin = coo.clone();
                    }
                })
            },
            vec![format!(
                "{key}: the reply shows another certificate of origin than the proven one"
            )],
        ),
        (
            "(e2) the customs status of another item",
            {
                let (k, customs) = (key.clone(), container.customs.clone());
                Arc::new(move |r: &mut v1::ProvenanceReply| {
                    if r.goods_key == k {
                        r.customs = customs.clone();
                    }
                })
            },
            vec![format!("{key}: the reply shows customs status")],
        ),
        (
            "(e3) another item's proven head",
            {
                let (k, head) = (key.clone(), container.head.clone());
                Arc::new(move |r: &mut v1::ProvenanceReply| {
                    if r.goods_key == k {
                        r.head = head.clone();
                    }
                })
            },
            vec![format!("head proof of {key} at block")],
        ),
    ];
    for (name, t, reasons) in cases {
        *tamper.lock().unwrap() = t;
        for (cmd, out) in ["query provenance --verify", "verify-proof"]
            .iter()
            .zip(verify_both(&proxy, &item, &genesis, &save))
        {
            let said = text(&out);
            assert_eq!(out.status.code(), Some(1), "{name}: {cmd} must fail: {said}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("proof verification FAILED: "), "{name}: {cmd}: {said}");
            for r in &reasons {
                assert!(err.contains(r.as_str()), "{name}: {cmd}: expected {r:?}: {said}");
            }
            assert!(!said.contains("verified: all"), "{name}: {cmd}: {said}");
            eprintln!("{name}: {cmd}: {}", err.trim());
        }
    }
    eprintln!("cli verify-proxy test done in {:?} (testnet up {up:?})", t0.elapsed());
}
