#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The GS1 Digital Link resolver over a real HTTP port: the page a scanned label opens, its JSON
//! form, check-digit and unknown-item errors, and the public filter (no commercial data).
use std::io::{Read, Write};
use std::sync::Arc;
use tradechain_node::grpc::backend::Backend;
use tradechain_node::grpc::scenario::{self, ITEM, PALLET, Scenario};

fn get(addr: std::net::SocketAddr, path: &str, accept: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let code = buf[9..12].parse().unwrap();
    let body = buf.split_once("\r\n\r\n").map(|x| x.1.to_string()).unwrap_or_default();
    (code, body)
}

fn serve() -> std::net::SocketAddr {
    serve_backend(Scenario::trade().backend)
}

fn serve_backend(backend: Arc<dyn Backend>) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, tradechain_node::resolver::router(backend))
                .await
                .unwrap();
        });
    });
    rx.recv().unwrap()
}

#[test]
fn a_scanned_label_opens_the_items_journey() {
    let addr = serve();
    let (code, html) = get(addr, &format!("/{ITEM}"), "text/html");
    assert_eq!(code, 200, "{html}");
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("Where this item has been"));
    assert!(html.contains(ITEM));
    assert!(html.contains("Customs:"), "{html}");
    // Nothing commercial reaches the public page.
    for private in [
        scenario::CONSIGNEE_NAME,
        scenario::CONSIGNEE_ADDRESS,
        scenario::INVOICE,
        &scenario::AMOUNT_MINOR.to_string(),
    ] {
        assert!(!html.contains(private), "{private} leaked into the page");
    }
    // The same answer as JSON, by Accept header or by GS1 link type.
    let (code, body) = get(addr, &format!("/{ITEM}"), "application/json");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["goods_key"].as_str(), Some(ITEM));
    assert!(v["events"].as_array().is_some_and(|e| !e.is_empty()));
    let (code, body) = get(addr, &format!("/{ITEM}?linkType=gs1:traceability"), "*/*");
    assert_eq!(code, 200);
    assert!(body.starts_with('{'));
    // A logistic unit (SSCC) resolves too.
    let (code, _) = get(addr, &format!("/{PALLET}"), "text/html");
    assert_eq!(code, 200);
}

#[test]
fn bad_check_digits_and_unknown_items_are_named() {
    let addr = serve();
    let (code, body) = get(addr, "/01/09506000134353/21/abc", "application/json");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("check digit"), "{body}");
    let (code, body) = get(addr, "/01/09506000134352/21/unknown", "text/html");
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("unknown"));
}

#[test]
fn ledger_text_is_escaped() {
    assert_eq!(
        tradechain_node::resolver::esc("<script>alert('x')</script> & \""),
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;"
    );
}

/// The JSON form carries, per event, the same proof bytes as `GetProvenance`: rebuilt into an
/// `EventProof`, they pass the Rust verifier (`grpc::proof`) the page's JavaScript mirrors.
#[test]
fn the_json_answer_carries_verifiable_proofs_and_the_genesis() {
    use tradechain_proto::v1;
    let addr = serve();
    let (code, body) = get(addr, &format!("/{ITEM}"), "application/json");
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let genesis = scenario::genesis();
    let g = hex::decode(v["proofs"]["genesis_borsh"].as_str().unwrap()).unwrap();
    assert_eq!(g, tradechain_ledger::codec::encode(&genesis));
    assert_eq!(v["genesis_hash"].as_str(), Some(genesis.hash().to_hex().as_str()));
    let set = genesis.validator_set().unwrap();
    let chains = v["proofs"]["chains"].as_array().unwrap();
    assert!(chains.len() >= 2, "the item and its pallet: {v}");
    assert_eq!(chains[0]["goods_key"].as_str(), Some(ITEM));
    let h = |x: &serde_json::Value| hex::decode(x.as_str().unwrap()).unwrap();
    let (mut redacted, mut signed) = (0, 0);
    for c in chains {
        let gk = c["goods_key"].as_str().unwrap();
        let mut prev = None;
        for e in c["entries"].as_array().unwrap() {
            let p = &e["proof"];
            let proof: tradechain_ledger::merkle::InclusionProof =
                tradechain_ledger::codec::decode(&h(&p["inclusion"])).unwrap();
            let outcome: tradechain_ledger::merkle::InclusionProof =
                tradechain_ledger::codec::decode(&h(&p["outcome"])).unwrap();
            let entry = v1::TimelineEntry {
                seq: e["seq"].as_u64().unwrap(),
                tx_id: e["tx_id"].as_str().unwrap().into(),
                event_time_ms: e["time_ms"].as_i64().unwrap(),
                event_type: e["type"].as_str().unwrap().into(),
                action: e["action"].as_str().unwrap().into(),
                biz_step: e["biz_step"].as_str().unwrap().into(),
                disposition: e["disposition"].as_str().unwrap().into(),
                read_point: e["read_point"].as_str().unwrap().into(),
                unlocode: e["unlocode"].as_str().unwrap().into(),
                customs_step: e["customs_step"].as_str().unwrap().into(),
                event_id: e["event_id"].as_str().unwrap().into(),
                event_time_zone_offset_min: e["tz_min"].as_i64().unwrap() as i32,
                biz_location: e["biz_location"].as_str().unwrap().into(),
                error_declaration: e["error_declaration"].as_bool().unwrap(),
                org: e["org"].as_str().unwrap().into(),
                proof: Some(v1::EventProof {
                    block_header_borsh: h(&p["header"]),
                    commit_certificate_borsh: h(&p["certificate"]),
                    inclusion: Some(tradechain_node::grpc::views::inclusion(&proof)),
                    leaf_hash: h(&p["leaf_hash"]),
                    disclosure_borsh: h(&p["disclosure"]),
                    tx_redacted: p["redacted"].as_bool().unwrap(),
                    event_ref_borsh: h(&p["event_ref"]),
                    prev_event_hash: p["prev_event_hash"].as_str().unwrap().into(),
                    event_hash: p["event_hash"].as_str().unwrap().into(),
                    outcome: Some(tradechain_node::grpc::views::inclusion(&outcome)),
                }),
                ..Default::default()
            };
            if p["redacted"].as_bool().unwrap() {
                redacted += 1;
                assert!(
                    !p["disclosure"].as_str().unwrap().is_empty(),
                    "a redacted event still discloses its public fields"
                );
            } else {
                signed += 1;
            }
            let ev = tradechain_node::grpc::proof::verify_entry(&genesis.chain_id, &set, gk, &entry).unwrap();
            assert_eq!(ev.prev_event_hash, prev.unwrap_or(tradechain_ledger::hash::Hash::ZERO));
            prev = Some(ev.event_hash);
        }
        assert_eq!(prev.map(|p| p.to_hex()).as_deref(), c["last_event_hash"].as_str());
    }
    assert!(
        redacted > 0 && signed > 0,
        "both kinds are exercised: {redacted} redacted, {signed} signed"
    );
    // The page embeds the same data, unable to close its <script> element, and loads the verifier.
    let (_, html) = get(addr, &format!("/{ITEM}"), "text/html");
    let data = html.split("<script type=application/json id=tc-data>").nth(1).unwrap();
    let data = data.split("</script>").next().unwrap();
    let embedded: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(embedded["proofs"], v["proofs"]);
    assert!(html.contains(&format!("<script src={}>", tradechain_node::resolver::VERIFY_JS_PATH)));
    let (code, js) = get(addr, tradechain_node::resolver::VERIFY_JS_PATH, "*/*");
    assert_eq!(code, 200);
    assert!(js.contains("crypto.subtle.verify"), "{js}");
}

/// Debian's `chromium` (or `$CHROMIUM`), if installed; when absent the browser tests skip, except
/// under `CI`, where they fail (CI runs `scripts/setup.sh`, which installs it).
fn chromium() -> Option<String> {
    let found = std::env::var("CHROMIUM")
        .ok()
        .into_iter()
        .chain(["chromium", "chromium-browser"].map(String::from))
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not installed (scripts/setup.sh installs it)"
        );
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium, or run scripts/setup.sh)");
    }
    found
}

/// The DOM after the page's scripts ran, from headless Chromium.
fn dump_dom(chromium: &str, url: &str, extra: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=10000", "--dump-dom"])
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page checks its proofs in a real browser (the scenario's journey has signed and redacted
/// events, a pallet and a container); opened from a non-local http origin, it says it cannot.
#[test]
fn the_page_verifies_itself_in_headless_chromium() {
    let Some(chromium) = chromium() else { return };
    let addr = serve();
    let dom = dump_dom(&chromium, &format!("http://{addr}/{ITEM}"), &[]);
    assert!(dom.contains("data-tc-verified=\"yes\""), "{dom}");
    // Three of the scenario's four validators sign each block.
    assert!(
        dom.contains("verified: committed by 3 of 4 validators · complete as of block"),
        "{dom}"
    );
    assert!(dom.contains("✓ signed &amp; committed"), "{dom}");
    assert!(dom.contains("commercial details withheld"), "{dom}");
    assert!(
        !dom.contains("not proven"),
        "every event's shown fields are proven: {dom}"
    );
    // The certificate of origin, customs and route lines are the proven heads'; the route line
    // is redrawn from the proven waybill head.
    assert_eq!(dom.matches("✓ proven at block").count(), 3, "{dom}");
    assert!(
        dom.contains(
            "Route: sea CNFOC → NLRTM by CARRIER-COSCO (COSCO SHIPPING TAURUS)<span class=\"pf\"> ✓ proven at block"
        ),
        "{dom}"
    );
    assert!(dom.contains(&scenario::genesis().hash().to_hex()), "{dom}");
    // A phone on the LAN: http://<some host> is not a secure context, so no WebCrypto.
    let dom = dump_dom(
        &chromium,
        &format!("http://phone.test:{}/{ITEM}", addr.port()),
        &["--host-resolver-rules=MAP phone.test 127.0.0.1"],
    );
    assert!(dom.contains("data-tc-verified=\"cannot\""), "{dom}");
    assert!(dom.contains("cannot verify here"), "{dom}");
}

/// The page's borsh decoder reads every field of a signed provenance event in the ledger's order:
/// an event that sets every field a public (unredacted) event may carry — lists, quantities,
/// parent, transformation, error declaration (without reason), a customs release,
/// a negative time-zone offset — verifies, and its signed fields are the ones shown. (A field
/// added to `ProvenanceEvent` without the same in `resolver/verify.js` fails here.)
#[test]
fn the_page_decodes_every_field_of_a_public_event() {
    use tradechain_ledger::payload::{
        Action, CustomsStep, ErrorDeclaration, EventType, ProvenanceEvent, QuantityElement,
    };
    let Some(chromium) = chromium() else { return };
    let key = "01/09506000134352/21/full";
    let mut s = Scenario::empty();
    let q = |c: &str| QuantityElement {
        epc_class: c.into(),
        quantity: Some("12.5".into()),
        uom: Some("KGM".into()),
    };
    let ev = ProvenanceEvent {
        event_type: EventType::TransformationEvent,
        event_id: Some("ni:///sha-256;full".into()),
        event_time_ms: s.now() - 60_000,
        event_time_zone_offset_min: -300,
        action: Some(Action::Delete),
        epc_list: vec![format!("https://id.gs1.org/{key}")],
        quantity_list: vec![q("urn:epc:class:lgtin:9506000.013435.L1")],
        parent_id: Some("urn:epc:id:sscc:9506000.1000000001".into()),
        child_epcs: vec![
            "urn:epc:id:sgtin:9506000.013435.c1".into(),
            "urn:epc:id:sgtin:9506000.013435.c2".into(),
        ],
        child_quantity_list: vec![
            q("urn:epc:class:lgtin:9506000.013435.L2"),
            q("urn:epc:class:lgtin:9506000.013435.L3"),
        ],
        input_epc_list: vec!["urn:epc:id:sgtin:9506000.013435.in".into()],
        input_quantity_list: vec![QuantityElement {
            epc_class: "urn:epc:class:lgtin:9506000.013435.L4".into(),
            quantity: None,
            uom: None,
        }],
        output_epc_list: vec!["urn:epc:id:sgtin:9506000.013435.out".into()],
        output_quantity_list: vec![q("urn:epc:class:lgtin:9506000.013435.L5")],
        transformation_id: Some("urn:uuid:7f3c2a9e-0000-4000-8000-000000000001".into()),
        biz_step: Some("urn:epcglobal:cbv:bizstep:commissioning".into()),
        disposition: Some("urn:epcglobal:cbv:disp:in_progress".into()),
        read_point: Some("urn:epc:id:sgln:9506000.00001.0".into()),
        biz_location: Some("urn:epc:id:sgln:9506000.00001.1".into()),
        unlocode: Some("CNFOC".into()),
        biz_transaction_list: Vec::new(),
        source_list: Vec::new(),
        destination_list: Vec::new(),
        customs: Some(CustomsStep::Released),
        error_declaration: Some(ErrorDeclaration {
            declaration_time_ms: s.now(),
            reason: None,
            corrective_event_ids: vec!["ni:///sha-256;a".into(), "ni:///sha-256;b".into()],
        }),
        // Extension members (ILMD, sensor data, certification info) and an error declaration's
        // reason would make the event commercial (withheld from the public): a public event has
        // neither, so the page decodes empty ones.
        extensions: Default::default(),
    };
    // Recorded as the validators require: the goods declared, then the event itself, then the
    // event again carrying its error declaration (an EPCIS error declaration repeats the event).
    let mut declare =
        tradechain_ledger::payload::build::event(EventType::ObjectEvent, Some(Action::Observe), &[], s.now() - 120_000);
    // Every good the event touches: instances by EPC, classes by quantity.
    for id in ev.touched_ids() {
        if id.starts_with("urn:epc:class:") {
            declare.quantity_list.push(QuantityElement {
                epc_class: id.to_string(),
                quantity: None,
                uom: None,
            });
        } else {
            declare.epc_list.push(id.to_string());
        }
    }
    declare.unlocode = Some("CNFOC".into());
    declare.customs = Some(CustomsStep::Declared {
        declaration_id: "DECL-FULL".into(),
        declarant: scenario::org("PRODUCER-FZ"),
        // Not a high-risk category (tea would be: released only after an inspection).
        hs_code: "940360".into(),
        preferential_certificate: None,
        waybill: None,
    });
    s.provenance("CUSTOMS-CN", declare);
    s.commit();
    s.provenance(
        "CUSTOMS-CN",
        ProvenanceEvent {
            error_declaration: None,
            ..ev.clone()
        },
    );
    s.commit();
    s.provenance("CUSTOMS-CN", ev);
    s.commit();
    let addr = serve_backend(s.backend);
    let (code, json) = get(addr, &format!("/{key}"), "application/json");
    assert_eq!(code, 200, "{json}");
    assert!(json.contains("\"redacted\":false"), "the event is public: {json}");
    let dom = dump_dom(&chromium, &format!("http://{addr}/{key}"), &[]);
    assert!(dom.contains("data-tc-verified=\"yes\""), "{dom}");
    assert!(
        dom.contains("<b>customs released</b> at CNFOC — China Customs, Fuzhou (customs)"),
        "{dom}"
    );
}
