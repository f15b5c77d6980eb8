//! The EPCIS 2.0 REST binding over a real HTTP port, on the in-memory backend whose blocks are
//! executed by the ledger's real validators (`commit_executed`): every GS1 example document
//! captured as it is (`POST /capture`, proceed), then queries with each parameter checked
//! against an oracle that reads the chain directly, pagination walks, bounded pages, garbage
//! parameters and tokens, resource endpoints, no commercial byte in any answer, and capture:
//! success, all-or-nothing refusal, proceed, limits, and every authentication refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::Value;

#[path = "../../ledger/tests/gs1_schema/mod.rs"]
mod gs1_schema;
mod rest_common;
use rest_common::{View, commit_executed};
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::epcis::import_document;
use tradechain_ledger::execute::{Registry, execute_block};
use tradechain_ledger::payload::{Action, Payload, ProvenanceEvent};
use tradechain_node::epcis_rest::auth::sign_headers;
use tradechain_node::epcis_rest::capture::CaptureConfig;
use tradechain_node::epcis_rest::query;
use tradechain_node::epcis_rest::webhook::{self, WebhookConfig};
use tradechain_node::grpc::backend::Backend;
use tradechain_node::grpc::mem::MemBackend;
use tradechain_node::grpc::scenario::{self, CHAIN_ID, ITEM, ITEM_URN, PALLET_URN, Scenario, key_of, org};

// ---- HTTP ----

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn events(&self) -> Vec<ProvenanceEvent> {
        assert_eq!(self.status, 200, "{}", self.body);
        import_document(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn next(&self) -> Option<String> {
        let l = self.header("link")?;
        let (url, rel) = l.split_once(">;")?;
        assert_eq!(rel.trim(), "rel=\"next\"");
        Some(url.trim_start_matches('<').to_string())
    }
    /// A problem answer: its status, type and the parameter named.
    fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let v = self.json();
        assert_eq!(v["status"].as_u64(), Some(status as u64), "{v}");
        assert!(v["type"].as_str().unwrap().starts_with("epcisException:"), "{v}");
        assert!(v["title"].is_string(), "{v}");
        v
    }
}

fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) -> Resp {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_string() };
    Resp { status, headers, body }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

fn get(addr: SocketAddr, path: &str) -> Resp {
    request(addr, "GET", path, &[], b"")
}

// ---- a node ----

struct Node {
    addr: SocketAddr,
    backend: Arc<MemBackend>,
}

fn now_ms() -> i64 {
    tradechain_node::clock::now_ms()
}

fn capture_config() -> CaptureConfig {
    let mut c = CaptureConfig::new(org("PRODUCER-FZ"), 1, key_of("PRODUCER-FZ"));
    c.max_events = 20;
    c.max_body_bytes = 64 * 1024;
    c.commit_timeout = Duration::from_secs(30);
    c
}

fn serve(backend: Arc<MemBackend>, capture: Option<CaptureConfig>) -> Node {
    serve_with(backend, capture, WebhookConfig::default())
}

fn serve_with(backend: Arc<MemBackend>, capture: Option<CaptureConfig>, webhooks: WebhookConfig) -> Node {
    Node {
        addr: rest_common::serve_rest(backend.clone(), capture, webhooks),
        backend,
    }
}

/// `GET path`, signed by `who` now.
fn signed_get(addr: SocketAddr, path: &str, who: &str) -> Resp {
    request(addr, "GET", path, &signed("GET", path, b"", who, now_ms()), b"")
}

/// Signed headers for `method path` with `body`, by `who`, at `time_ms`.
fn signed(method: &str, path: &str, body: &[u8], who: &str, time_ms: i64) -> Vec<(&'static str, String)> {
    sign_headers(CHAIN_ID, method, path, body, &org(who), 1, &key_of(who), time_ms)
}

fn post_capture(n: &Node, doc: &str, behaviour: Option<&str>) -> Resp {
    let mut h = signed("POST", "/capture", doc.as_bytes(), "PRODUCER-FZ", now_ms());
    h.push(("content-type", "application/ld+json".into()));
    if let Some(b) = behaviour {
        h.push(("gs1-capture-error-behaviour", b.into()));
    }
    request(n.addr, "POST", "/capture", &h, doc.as_bytes())
}

fn job(n: &Node, id: &str) -> Value {
    let path = format!("/capture/{id}");
    let r = signed_get(n.addr, &path, "PRODUCER-FZ");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Poll a job to its end, committing (executed) whatever the worker submits.
fn finish(n: &Node, id: &str) -> Value {
    for _ in 0..400 {
        commit_executed(&n.backend);
        let j = job(n, id);
        if j["running"] == Value::Bool(false) {
            return j;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("capture job {id} did not finish");
}

fn capture(n: &Node, doc: &str, behaviour: Option<&str>) -> Value {
    let r = post_capture(n, doc, behaviour);
    assert_eq!(r.status, 202, "{}", r.body);
    let loc = r.header("location").unwrap().to_string();
    let id = loc.strip_prefix("/capture/").unwrap().to_string();
    assert_eq!(r.json()["captureID"].as_str(), Some(id.as_str()));
    finish(n, &id)
}

fn testdata_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/epcis")
}

fn testdata() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(testdata_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonld"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// An event as EPCIS 2.0 JSON carries it (through the ledger's one export mapping and back):
/// standard CBV values as bare terms, whatever spelling was signed.
fn as_json_shows(ev: ProvenanceEvent) -> ProvenanceEvent {
    let opts = tradechain_ledger::epcis::ExportOptions { creation_date_ms: 0 };
    let doc = tradechain_ledger::epcis::export_document(std::slice::from_ref(&ev), &opts).unwrap();
    tradechain_ledger::epcis::import_document(&doc).unwrap().pop().unwrap()
}

/// The oracle: every accepted provenance event in record order, as the binding must show it.
fn all_public_events(b: &MemBackend) -> Vec<ProvenanceEvent> {
    let mut out = Vec::new();
    for h in 1..=b.height() {
        let block = b.block(h).unwrap().unwrap();
        let outcomes = b.outcomes(h).unwrap().unwrap();
        for (tx, o) in block.txs.iter().zip(&outcomes) {
            if let TxOutcome::Accepted = o {
                for ev in tx.tx().payload.events() {
                    out.push(as_json_shows(query::public_event(ev, block.header.time_ms)));
                }
            }
        }
    }
    out
}

/// Follow the `Link` headers from `first`; every page's events, in order.
fn walk(addr: SocketAddr, first: &str) -> (Vec<ProvenanceEvent>, usize) {
    let (mut all, mut pages, mut next) = (Vec::new(), 0, Some(first.to_string()));
    while let Some(path) = next {
        let r = get(addr, &path);
        all.extend(r.events());
        pages += 1;
        next = r.next();
        assert!(pages < 10_000);
    }
    (all, pages)
}

/// The eventID `ErrorDeclarationAndCorrectiveEvent.jsonld` declares erroneous.
const DECLARED_ID: &str = "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8";
const NI_ID: &str = "ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69?ver=CBV2.0";

/// A rejected provenance event with a distinctive id: it must never be shown.
const REJECTED_ID: &str = "urn:uuid:00000000-0000-4000-8000-00000000dead";

/// The shared read-only node: the trade scenario, a rejected event, then every example
/// document captured as it is (proceed), committed by the real validators.
fn shared() -> &'static (Node, Vec<(String, Value)>) {
    static NODE: OnceLock<(Node, Vec<(String, Value)>)> = OnceLock::new();
    NODE.get_or_init(|| {
        let mut s = Scenario::trade();
        let mut bad =
            tradechain_ledger::testkit::event(tradechain_ledger::payload::EventType::ObjectEvent, None, &[], s.now());
        bad.event_id = Some(REJECTED_ID.into());
        bad.action = Some(Action::Observe);
        bad.epc_list = vec!["urn:epc:id:sgtin:0614141.107346.4242".into()];
        // An hour ahead of the block: beyond the chain's clock skew.
        bad.event_time_ms = s.now() + 3_600_000;
        s.reject("PRODUCER-FZ", Payload::Provenance(bad), "provenance.time_future");
        s.commit();
        let n = serve(s.backend.clone(), Some(capture_config()));
        // The event two examples declare erroneous, so that their declarations apply.
        let original = doc(&[observe("8001", "2024-01-01T00:00:00Z").replacen(
            '{',
            &format!("{{\"eventID\":\"{DECLARED_ID}\","),
            1,
        )]);
        assert_eq!(capture(&n, &original, None)["success"], true);
        let mut jobs = Vec::new();
        for (name, doc) in testdata() {
            let j = capture(&n, &doc, Some("proceed"));
            jobs.push((name, j));
        }
        (n, jobs)
    })
}

// ---- the examples, captured ----

#[test]
fn every_example_document_is_captured_as_it_is() {
    let (n, jobs) = shared();
    let mut captured = 0;
    for (name, j) in jobs {
        let doc = testdata().into_iter().find(|(f, _)| f == name).unwrap().1;
        let count = import_document(&doc).unwrap().len();
        assert_eq!(j["tradechain:eventCount"].as_u64(), Some(count as u64), "{name}: {j}");
        assert_eq!(j["captureErrorBehaviour"], "proceed");
        let ok = j["tradechain:captured"].as_array().unwrap().len();
        let errors = j["errors"].as_array().unwrap();
        assert_eq!(ok + errors.len(), count, "{name}: every event captured or refused: {j}");
        assert_eq!(j["success"].as_bool(), Some(errors.is_empty()), "{name}: {j}");
        eprintln!("{name}: {count} events, {ok} captured, {} refused", errors.len());
        for e in errors {
            eprintln!(
                "{name}: event {} refused: {} {}",
                e["tradechain:eventIndex"], e["tradechain:rule"], e["detail"]
            );
            // A refusal names the event and the ledger's rule.
            assert!(e["tradechain:rule"].as_str().unwrap().contains('.'), "{name}: {e}");
            assert!(e["tradechain:eventIndex"].as_u64().unwrap() < count as u64);
        }
        captured += ok;
        for c in j["tradechain:captured"].as_array().unwrap() {
            // Each captured event is readable by its eventID (given or derived by the node).
            let id = c["eventID"].as_str().unwrap();
            let r = get(n.addr, &format!("/events/{}", urlencode(id)));
            let evs = r.events();
            assert_eq!(evs.first().and_then(|e| e.event_id.as_deref()), Some(id), "{name}");
        }
    }
    eprintln!("captured {captured} example events");
    assert!(
        captured >= 15,
        "most example events pass the ledger's rules ({captured})"
    );
    // The events the 9.6.1 variants share (same eventIDs) were refused as duplicates.
    let dup = jobs
        .iter()
        .flat_map(|(_, j)| j["errors"].as_array().unwrap().clone())
        .filter(|e| e["tradechain:rule"] == "provenance.event_id.duplicate")
        .count();
    assert!(dup >= 2, "{jobs:?}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- queries ----

#[test]
fn events_answers_a_query_document_with_the_binding_headers() {
    let (n, _) = shared();
    let r = get(n.addr, "/events?perPage=500");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("gs1-epcis-version"), Some("2.0.0"));
    assert_eq!(r.header("gs1-cbv-version"), Some("2.0.0"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("tradechain-scan-limit").unwrap().contains("transactions=2048"));
    let v = r.json();
    assert_eq!(v["type"], "EPCISQueryDocument");
    assert_eq!(v["schemaVersion"], "2.0");
    assert_eq!(v["epcisBody"]["queryResults"]["queryName"], "SimpleEventQuery");
    assert!(v["epcisBody"]["queryResults"]["resultsBody"]["eventList"].is_array());
    assert_eq!(r.events(), all_public_events(&n.backend));
    // JSON-LD on request.
    let r = request(
        n.addr,
        "GET",
        "/events",
        &[("accept", "application/ld+json".into())],
        b"",
    );
    assert_eq!(r.header("content-type"), Some("application/ld+json"));
}

#[test]
fn each_query_parameter_selects_what_the_chain_holds() {
    let (n, _) = shared();
    let all = all_public_events(&n.backend);
    let gk = |s: &str| tradechain_ledger::gs1::goods_key(s).ok();
    let word = |v: &Option<String>| {
        v.as_deref()
            .map(|s| s.rsplit([':', '-']).next().unwrap_or(s).to_string())
    };
    let names =
        |e: &ProvenanceEvent| -> Vec<String> { e.epc_list.iter().chain(&e.child_epcs).filter_map(|x| gk(x)).collect() };
    let rt = |e: &ProvenanceEvent| {
        tradechain_ledger::epcis::time::parse_ms(
            &serde_json::from_str::<String>(e.extensions.get("recordTime").unwrap()).unwrap(),
        )
        .unwrap()
    };
    let mid_event = all[all.len() / 2].event_time_ms;
    let mid_record = rt(&all[all.len() / 2]);
    let t = |ms: i64| urlencode(&tradechain_ledger::epcis::time::render_ms(ms).unwrap());
    let sgtin = "urn:epc:id:sgtin:0614141.107346.2018";
    type Pred<'a> = Box<dyn Fn(&ProvenanceEvent) -> bool + 'a>;
    let cases: Vec<(String, Pred)> = vec![
        (
            "eventType=AggregationEvent".into(),
            Box::new(|e| format!("{:?}", e.event_type) == "AggregationEvent"),
        ),
        (
            "eventType=TransformationEvent%7CAssociationEvent".into(),
            Box::new(|e| {
                matches!(
                    format!("{:?}", e.event_type).as_str(),
                    "TransformationEvent" | "AssociationEvent"
                )
            }),
        ),
        (
            format!("GE_eventTime={}", t(mid_event)),
            Box::new(move |e| e.event_time_ms >= mid_event),
        ),
        (
            format!("LT_eventTime={}", t(mid_event)),
            Box::new(move |e| e.event_time_ms < mid_event),
        ),
        (
            format!("GE_recordTime={}", t(mid_record)),
            Box::new(move |e| rt(e) >= mid_record),
        ),
        (
            format!("LT_recordTime={}", t(mid_record)),
            Box::new(move |e| rt(e) < mid_record),
        ),
        ("EQ_action=ADD".into(), Box::new(|e| e.action == Some(Action::Add))),
        (
            "EQ_action=OBSERVE%7CDELETE".into(),
            Box::new(|e| matches!(e.action, Some(Action::Observe | Action::Delete))),
        ),
        (
            "EQ_bizStep=receiving".into(),
            Box::new(move |e| word(&e.biz_step).as_deref() == Some("receiving")),
        ),
        (
            "EQ_bizStep=urn:epcglobal:cbv:bizstep:shipping".into(),
            Box::new(move |e| word(&e.biz_step).as_deref() == Some("shipping")),
        ),
        (
            "EQ_disposition=in_transit".into(),
            Box::new(move |e| word(&e.disposition).as_deref() == Some("in_transit")),
        ),
        (
            "EQ_readPoint=urn:epc:id:sgln:0012345.11111.400".into(),
            Box::new(|e| e.read_point.as_deref() == Some("urn:epc:id:sgln:0012345.11111.400")),
        ),
        (
            "EQ_bizLocation=urn:epc:id:sgln:0012345.11111.0".into(),
            Box::new(|e| e.biz_location.as_deref() == Some("urn:epc:id:sgln:0012345.11111.0")),
        ),
        (
            format!("MATCH_epc={sgtin}"),
            Box::new(move |e| names(e).contains(&gk(sgtin).unwrap())),
        ),
        (
            "MATCH_epc=urn:epc:idpat:sgtin:0614141.107346.*".into(),
            Box::new(|e| {
                e.epc_list
                    .iter()
                    .chain(&e.child_epcs)
                    .any(|x| x.starts_with("urn:epc:id:sgtin:0614141.107346."))
            }),
        ),
        (
            format!("MATCH_anyEPC={}", urlencode(PALLET_URN)),
            Box::new(|e| {
                e.parent_id.as_deref() == Some(PALLET_URN)
                    || e.epc_list.iter().chain(&e.child_epcs).any(|x| x == PALLET_URN)
            }),
        ),
        (
            format!("MATCH_parentID={}", urlencode(PALLET_URN)),
            Box::new(|e| e.parent_id.as_deref() == Some(PALLET_URN)),
        ),
        (
            "MATCH_inputEPC=urn:epc:id:sgtin:4012345.011122.25".into(),
            Box::new(|e| {
                e.input_epc_list
                    .iter()
                    .any(|x| x == "urn:epc:id:sgtin:4012345.011122.25")
            }),
        ),
        (
            "MATCH_outputEPC=urn:epc:id:sgtin:4012345.077889.25".into(),
            Box::new(|e| {
                e.output_epc_list
                    .iter()
                    .any(|x| x == "urn:epc:id:sgtin:4012345.077889.25")
            }),
        ),
        (
            "MATCH_epcClass=urn:epc:class:lgtin:4012345.012345.998877".into(),
            Box::new(|e| {
                e.quantity_list
                    .iter()
                    .chain(&e.child_quantity_list)
                    .any(|q| gk(&q.epc_class) == gk("urn:epc:class:lgtin:4012345.012345.998877"))
            }),
        ),
        (
            "MATCH_anyEPCClass=urn:epc:class:lgtin:4012345.012345.998877".into(),
            Box::new(|e| {
                e.quantity_list
                    .iter()
                    .chain(&e.child_quantity_list)
                    .chain(&e.input_quantity_list)
                    .chain(&e.output_quantity_list)
                    .any(|q| gk(&q.epc_class) == gk("urn:epc:class:lgtin:4012345.012345.998877"))
            }),
        ),
        (
            "EXISTS_errorDeclaration=true".into(),
            Box::new(|e| e.error_declaration.is_some()),
        ),
        (
            "EQ_persistentDisposition_set=completeness_verified".into(),
            Box::new(|e| {
                e.extensions.get("persistentDisposition").is_some_and(|p| {
                    let v: Value = serde_json::from_str(p).unwrap();
                    v["set"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|x| x == "completeness_verified"))
                })
            }),
        ),
        (
            format!("EQ_eventID={}", urlencode(NI_ID)),
            Box::new(|e| e.event_id.as_deref() == Some(NI_ID)),
        ),
        (
            "EQ_bizStep=receiving&EQ_action=OBSERVE&eventType=ObjectEvent".into(),
            Box::new(move |e| {
                word(&e.biz_step).as_deref() == Some("receiving")
                    && e.action == Some(Action::Observe)
                    && format!("{:?}", e.event_type) == "ObjectEvent"
            }),
        ),
    ];
    let mut nonempty = 0;
    for (q, pred) in &cases {
        let want: Vec<ProvenanceEvent> = all.iter().filter(|e| pred(e)).cloned().collect();
        let (got, _) = walk(n.addr, &format!("/events?{q}&perPage=3"));
        assert_eq!(got, want, "query {q}");
        nonempty += usize::from(!want.is_empty());
    }
    assert!(
        nonempty >= cases.len() - 1,
        "most cases select something ({nonempty}/{})",
        cases.len()
    );
    // The same EPC as a Digital Link selects the same events (the item index).
    let (a, _) = walk(n.addr, &format!("/events?MATCH_epc={sgtin}"));
    let (b, _) = walk(
        n.addr,
        "/events?MATCH_epc=https%3A%2F%2Fid.gs1.org%2F01%2F10614141073464%2F21%2F2018",
    );
    assert_eq!(a, b);
    assert!(!a.is_empty());
}

#[test]
fn pagination_walks_every_event_exactly_once() {
    let (n, _) = shared();
    let all = all_public_events(&n.backend);
    for per in [1, 2, 7, 30, 500] {
        let (got, pages) = walk(n.addr, &format!("/events?perPage={per}"));
        assert_eq!(got, all, "perPage={per}");
        assert_eq!(pages, all.len().div_ceil(per).max(1), "perPage={per}");
    }
    // With a filter, through the item index: the same walk.
    let (got, _) = walk(
        n.addr,
        &format!("/events?MATCH_anyEPC={}&perPage=1", urlencode(ITEM_URN)),
    );
    let (one, _) = walk(
        n.addr,
        &format!("/events?MATCH_anyEPC={}&perPage=100", urlencode(ITEM_URN)),
    );
    assert_eq!(got, one);
    assert!(got.len() >= 3, "{got:?}");
    // The Link keeps the other parameters.
    let r = get(n.addr, "/events?EQ_action=OBSERVE&perPage=1");
    let link = r.next().unwrap();
    assert!(
        link.starts_with("/events?EQ_action=OBSERVE&perPage=1&nextPageToken="),
        "{link}"
    );
    assert_eq!(r.events().len(), 1);
}

#[test]
fn bad_parameters_and_tokens_are_400_problems_never_panics() {
    let (n, _) = shared();
    for (q, param) in [
        ("GE_eventTime=yesterday", "GE_eventTime"),
        ("LT_recordTime=2024-13-01T00:00:00Z", "LT_recordTime"),
        ("EQ_action=SHIP", "EQ_action"),
        ("eventType=Objectevent", "eventType"),
        ("EQ_bizStep=", "EQ_bizStep"),
        ("EQ_bizStep=a%7C%7Cb", "EQ_bizStep"),
        ("perPage=0", "perPage"),
        ("perPage=-3", "perPage"),
        ("perPage=many", "perPage"),
        ("colour=red", "colour"),
        ("EQ_bizTransaction_po=x", "EQ_bizTransaction_po"),
        ("EQ_errorReason=incorrect_data", "EQ_errorReason"),
        ("EQ_ILMD_bestBeforeDate=x", "EQ_ILMD_bestBeforeDate"),
        ("WD_readPoint=urn:epc:id:sgln:0012345.11111.0", "WD_readPoint"),
        ("GT_quantity=3", "GT_quantity"),
        ("orderBy=eventTime", "orderBy"),
        ("EQ_bizStep=a&EQ_bizStep=b", "EQ_bizStep"),
        ("nextPageToken=a&nextPageToken=b", "nextPageToken"),
        ("EXISTS_errorDeclaration=maybe", "EXISTS_errorDeclaration"),
        ("nextPageToken=garbage", "nextPageToken"),
        ("nextPageToken=c999999.0.0.0000000000000000", "nextPageToken"),
    ] {
        let r = get(n.addr, &format!("/events?{q}"));
        let v = r.problem(400);
        assert_eq!(v["type"], "epcisException:QueryParameterException", "{q}: {v}");
        assert_eq!(v["parameter"].as_str(), Some(param), "{q}: {v}");
        assert!(v["detail"].as_str().unwrap().starts_with(param), "{q}: {v}");
    }
    // A commercial filter says why it is refused.
    let v = get(n.addr, "/events?EQ_source_owning_party=x").problem(400);
    assert!(v["detail"].as_str().unwrap().contains("commercial"), "{v}");
    // A token of another query, another endpoint, or past the head / a block's transactions.
    let r = get(n.addr, "/events?EQ_action=OBSERVE&perPage=1");
    let token = r.next().unwrap().rsplit("nextPageToken=").next().unwrap().to_string();
    let v = get(
        n.addr,
        &format!("/events?EQ_action=ADD&perPage=1&nextPageToken={token}"),
    )
    .problem(400);
    assert!(v["detail"].as_str().unwrap().contains("another query"), "{v}");
    let v = get(n.addr, &format!("/bizSteps/shipping/events?nextPageToken={token}")).problem(400);
    assert_eq!(v["parameter"], "nextPageToken");
    let fp = token.rsplit('.').next().unwrap();
    let head = n.backend.height();
    for forged in [
        format!("c{}.0.0.{fp}", head + 1),
        format!("c0.0.0.{fp}"),
        format!("c1.4000000000.0.{fp}"),
        format!("c1.0.99.{fp}"),
        format!("i5.0.0.{fp}"),
        format!("o5.0.0.{fp}"),
        format!("c18446744073709551615.0.0.{fp}"),
    ] {
        let r = get(
            n.addr,
            &format!("/events?EQ_action=OBSERVE&perPage=1&nextPageToken={forged}"),
        );
        assert!(r.status == 400 || r.status == 200, "{forged}: {} {}", r.status, r.body);
        if r.status == 400 {
            r.problem(400);
        }
    }
    // Garbage of every shape: never a 5xx.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..300 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 40) as usize;
        let tok: String = (0..len)
            .map(|j| {
                let c = ((x >> (j % 60)) as u8 % 64) as usize;
                "abcdefghijklmnopqrstuvwxyz0123456789.-_ci%~ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                    .as_bytes()
                    .get(c)
                    .copied()
                    .unwrap_or(b'.') as char
            })
            .collect();
        let r = get(n.addr, &format!("/events?nextPageToken={tok}&perPage={}", i % 5 + 1));
        assert!(r.status < 500, "{tok}: {} {}", r.status, r.body);
        let r = get(
            n.addr,
            &format!("/epcs/{}/events?nextPageToken={tok}", urlencode(ITEM_URN)),
        );
        assert!(r.status < 500, "{tok}: {} {}", r.status, r.body);
    }
}

#[test]
fn headers_are_negotiated() {
    let (n, _) = shared();
    let r = request(n.addr, "GET", "/events", &[("accept", "application/xml".into())], b"");
    r.problem(406);
    let r = request(n.addr, "GET", "/events", &[("gs1-epcis-version", "1.2.0".into())], b"");
    assert_eq!(r.problem(406)["parameter"], "gs1-epcis-version");
    let r = request(n.addr, "GET", "/events", &[("gs1-epcis-min", "2.1".into())], b"");
    r.problem(406);
    let r = request(n.addr, "GET", "/events", &[("gs1-cbv-max", "1.2.0".into())], b"");
    r.problem(406);
    let r = request(
        n.addr,
        "GET",
        "/events",
        &[("gs1-epcis-version", "2.0".into()), ("gs1-epcis-max", "2.0.0".into())],
        b"",
    );
    assert_eq!(r.status, 200);
    let long = format!("/events?EQ_eventID={}", "x".repeat(9000));
    get(n.addr, &long).problem(414);
    let r = request(n.addr, "OPTIONS", "/events", &[], b"");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("allow"), Some("OPTIONS, GET"));
    assert_eq!(r.header("gs1-epcis-max"), Some("2.0.0"));
    assert_eq!(r.header("tradechain-max-per-page"), Some("500"));
    let r = request(n.addr, "OPTIONS", "/capture", &[], b"");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("gs1-epcis-capture-limit"), Some("20"));
    assert_eq!(r.header("gs1-epcis-capture-file-size-limit"), Some("65536"));
    assert_eq!(r.header("gs1-capture-error-behaviour"), Some("all"));
}

#[test]
fn resource_endpoints_are_paged_collections() {
    let (n, _) = shared();
    let all = all_public_events(&n.backend);
    let coll = |r: &Resp| -> Vec<String> {
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        assert_eq!(v["type"], "Collection");
        assert!(v["@context"].is_string());
        v["member"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m.as_str().unwrap().to_string())
            .collect()
    };
    let top = coll(&get(n.addr, "/"));
    assert!(top.contains(&"events".to_string()) && top.contains(&"capture".to_string()));
    assert_eq!(coll(&get(n.addr, "/eventTypes")).len(), 5);
    // 41 standard business steps: two pages of 30.
    let r = get(n.addr, "/bizSteps");
    let first = coll(&r);
    assert_eq!(first.len(), 30);
    let second = coll(&get(n.addr, &r.next().unwrap()));
    assert_eq!(second.len(), 11);
    assert!(second.contains(&"void_shipping".to_string()));
    assert!(coll(&get(n.addr, "/dispositions?perPage=100")).contains(&"in_transit".to_string()));
    // Identifiers in use, walked to the end.
    let walk_coll = |first: &str| {
        let (mut out, mut next) = (Vec::new(), Some(first.to_string()));
        while let Some(p) = next {
            let r = get(n.addr, &p);
            out.extend(coll(&r));
            next = r.next();
        }
        out
    };
    let rps = walk_coll("/readPoints?perPage=2");
    let mut want: Vec<String> = Vec::new();
    for e in &all {
        if let Some(r) = &e.read_point
            && !want.contains(r)
        {
            want.push(r.clone());
        }
    }
    let mut uniq: Vec<String> = Vec::new();
    for r in rps {
        if !uniq.contains(&r) {
            uniq.push(r);
        }
    }
    assert_eq!(uniq, want);
    let locs = walk_coll("/bizLocations");
    assert!(
        locs.contains(&"urn:epc:id:sgln:0012345.11111.0".to_string()),
        "{locs:?}"
    );
    let epcs = walk_coll("/epcs?perPage=3");
    assert!(
        epcs.contains(&ITEM_URN.to_string()) && epcs.contains(&PALLET_URN.to_string()),
        "{epcs:?}"
    );
    // Sub-resources and their events.
    assert_eq!(coll(&get(n.addr, "/eventTypes/ObjectEvent")), vec!["events"]);
    assert_eq!(coll(&get(n.addr, "/bizSteps/shipping")), vec!["events"]);
    get(n.addr, "/eventTypes/Shipment").problem(404);
    get(n.addr, "/eventTypes/Shipment/events").problem(404);
    let same = |a: &str, b: &str| assert_eq!(walk(n.addr, a).0, walk(n.addr, b).0, "{a} vs {b}");
    same(
        "/eventTypes/AggregationEvent/events",
        "/events?eventType=AggregationEvent",
    );
    same("/bizSteps/receiving/events?perPage=2", "/events?EQ_bizStep=receiving");
    same("/dispositions/in_transit/events", "/events?EQ_disposition=in_transit");
    same(
        &format!("/readPoints/{}/events", urlencode("urn:epc:id:sgln:0012345.11111.400")),
        "/events?EQ_readPoint=urn:epc:id:sgln:0012345.11111.400",
    );
    same(
        &format!("/bizLocations/{}/events", urlencode("urn:epc:id:sgln:0012345.11111.0")),
        "/events?EQ_bizLocation=urn:epc:id:sgln:0012345.11111.0",
    );
    // A path criterion cannot be given again.
    get(n.addr, "/bizSteps/receiving/events?EQ_bizStep=shipping").problem(400);
    // An item by EPC URN or Digital Link: its index, every event naming it in any role.
    let (by_urn, _) = walk(n.addr, &format!("/epcs/{}/events?perPage=1", urlencode(ITEM_URN)));
    let (by_dl, _) = walk(
        n.addr,
        &format!("/epcs/{}/events", urlencode(&format!("https://id.gs1.org/{ITEM}"))),
    );
    assert_eq!(by_urn, by_dl);
    let want: Vec<ProvenanceEvent> = all
        .iter()
        .filter(|e| {
            e.touched_ids()
                .iter()
                .any(|x| n.backend.goods_key(x).ok().as_deref() == Some(ITEM))
        })
        .cloned()
        .collect();
    assert_eq!(by_urn, want);
    let (customs, _) = walk(
        n.addr,
        &format!("/epcs/{}/events?EQ_action=OBSERVE", urlencode(ITEM_URN)),
    );
    assert!(customs.iter().all(|e| e.action == Some(Action::Observe)));
    get(
        n.addr,
        &format!("/epcs/{}/events", urlencode("urn:epc:id:sgtin:0614141.107346.777777")),
    )
    .problem(404);
    let v = get(n.addr, "/epcs/not-an-epc/events").problem(400);
    assert_eq!(v["parameter"], "epc");
    get(n.addr, &format!("/events/{}", urlencode("urn:uuid:nothing"))).problem(404);
    // An event declared erroneous: the original and its declaration, both kept.
    let evs = get(n.addr, &format!("/events/{}", urlencode(DECLARED_ID))).events();
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert!(evs[0].error_declaration.is_none() && evs[1].error_declaration.is_some());
    assert!(evs.iter().all(|e| e.event_id.as_deref() == Some(DECLARED_ID)));
}

#[test]
fn no_answer_carries_a_commercial_field_or_a_rejected_event() {
    let (n, _) = shared();
    let mut answers = Vec::new();
    for p in [
        "/events?perPage=500".to_string(),
        format!("/epcs/{}/events", urlencode(ITEM_URN)),
        format!("/epcs/{}/events", urlencode(PALLET_URN)),
        "/epcs?perPage=500".into(),
        "/readPoints?perPage=500".into(),
        "/bizLocations?perPage=500".into(),
        format!(
            "/events/{}",
            urlencode("ni:///sha-256;00e1e6eba3a7cc6125be4793a631f0af50f8322e0ab5f2c0bab994a11cec1d79?ver=CBV2.0")
        ),
        "/events?EXISTS_errorDeclaration=true".into(),
    ] {
        let r = get(n.addr, &p);
        assert_eq!(r.status, 200, "{p}: {}", r.body);
        answers.push((p, r.body));
    }
    let private = [
        scenario::CONSIGNEE_NAME,
        scenario::CONSIGNEE_ADDRESS,
        scenario::SHIPPER_NAME,
        scenario::INVOICE,
        scenario::PO,
        "sourceList",
        "destinationList",
        "possessing_party",
        "owning_party",
        "http://transaction.acme.com/po/12345678",
        "urn:epcglobal:cbv:bt:0614141073467:1152",
        "ilmd",
        "example:myField",
        "Example of a vendor/user extension",
        "declaration_id",
        "hs_code",
        "\"reason\"",
        REJECTED_ID,
        "0614141.107346.4242",
    ];
    for (p, body) in &answers {
        for x in private {
            assert!(!body.contains(x), "{p}: {x:?} leaked");
        }
    }
    // A public TransactionEvent names a business transaction (EPCIS requires one): only the
    // placeholder, never a real one nor its type.
    fn biz_transactions<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    if k == "bizTransactionList" {
                        out.push(x);
                    } else {
                        biz_transactions(x, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|x| biz_transactions(x, out)),
            _ => {}
        }
    }
    let placeholder =
        serde_json::json!([{ "bizTransaction": tradechain_ledger::epcis::export::WITHHELD_BIZ_TRANSACTION }]);
    for (p, body) in &answers {
        let v: Value = serde_json::from_str(body).unwrap();
        let mut lists = Vec::new();
        biz_transactions(&v, &mut lists);
        assert!(lists.iter().all(|l| **l == placeholder), "{p}: {lists:?}");
    }
    get(n.addr, &format!("/events/{}", urlencode(REJECTED_ID))).problem(404);
    // A customs step's public name is shown, not its details.
    assert!(answers[0].1.contains("tradechain:customsStep") || answers[0].1.contains("tradechain:customs"));
}

/// What the binding answers is EPCIS: query documents and single events pass GS1's JSON Schema
/// (checked by Python `jsonschema`, not by us).
#[test]
fn query_answers_validate_against_gs1s_json_schema() {
    let (n, _) = shared();
    let mut docs = Vec::new();
    for p in [
        "/events?perPage=500".to_string(),
        "/events?eventType=TransactionEvent".into(),
        "/events?EXISTS_errorDeclaration=true".into(),
        format!("/epcs/{}/events", urlencode(ITEM_URN)),
        format!("/epcs/{}/events", urlencode(PALLET_URN)),
    ] {
        let r = get(n.addr, &p);
        assert_eq!(r.status, 200, "{p}: {}", r.body);
        assert!(r.body.contains("EPCISQueryDocument"), "{p}: {}", r.body);
        docs.push((p, r.body));
    }
    let all = get(n.addr, "/events?eventType=TransactionEvent").json();
    assert!(
        all["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .is_some_and(|l| !l.is_empty()),
        "the examples hold TransactionEvents: {all}"
    );
    let (ok, report) = gs1_schema::check(&docs);
    assert!(ok, "answers the GS1 schema refuses:\n{report}");
}

// ---- bounds ----

#[test]
fn a_page_scans_a_bounded_window_and_resumes() {
    // More transactions than one page may read, then the one match; then more empty blocks
    // than one page may read, then another match.
    let mut s = Scenario::empty();
    s.grow("01/09506000134352/21/bulk", query::SCAN_TXS + 100, 500);
    let mut ev =
        tradechain_ledger::testkit::event(tradechain_ledger::payload::EventType::ObjectEvent, None, &[], s.now());
    ev.action = Some(Action::Observe);
    ev.epc_list = vec![ITEM_URN.into()];
    ev.biz_step = Some("shipping".into());
    s.provenance("PRODUCER-FZ", ev.clone());
    s.commit();
    for _ in 0..query::SCAN_BLOCKS + 10 {
        s.commit();
    }
    s.provenance("PRODUCER-FZ", ev);
    s.commit();
    let n = serve(s.backend.clone(), None);
    let r = get(n.addr, "/events?EQ_bizStep=shipping");
    assert!(r.events().is_empty(), "the first window holds no match");
    assert!(r.next().is_some(), "but the walk goes on");
    let (got, pages) = walk(n.addr, "/events?EQ_bizStep=shipping");
    assert_eq!(got.len(), 2);
    assert!(pages >= 3, "{pages}");
    let (all, _) = walk(n.addr, "/events?perPage=500");
    assert_eq!(all, all_public_events(&n.backend));
    // GE_recordTime starts at the first block at that time (binary search), not at block 1.
    let last = n.backend.header(n.backend.height()).unwrap().unwrap().time_ms;
    let r = get(
        n.addr,
        &format!(
            "/events?GE_recordTime={}",
            urlencode(&tradechain_ledger::epcis::time::render_ms(last).unwrap())
        ),
    );
    assert_eq!(r.events().len(), 1);
    assert!(r.next().is_none());
}

// ---- capture ----

fn doc(events: &[String]) -> String {
    format!(
        r#"{{"@context":["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2024-01-01T00:00:00Z","epcisBody":{{"eventList":[{}]}}}}"#,
        events.join(",")
    )
}

fn observe(serial: &str, time: &str) -> String {
    format!(
        r#"{{"type":"ObjectEvent","eventTime":"{time}","eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":["urn:epc:id:sgtin:0614141.107346.{serial}"],"bizStep":"inspecting"}}"#
    )
}

/// Sensor readings at a place name no goods: captured, and found by read point and business
/// location (the query and the resources), on no item's timeline.
#[test]
fn events_naming_no_goods_are_captured_and_found_by_place() {
    let n = own_node();
    let rp = "urn:epc:id:sgln:0614141.00777.0";
    let loc = "urn:epc:id:sgln:0614141.00888.0";
    let reading = |t: &str, place: &str| {
        format!(
            r#"{{"type":"ObjectEvent","eventTime":"{t}","eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":[],"readPoint":{{"id":"{place}"}},"sensorElementList":[{{"sensorReport":[{{"type":"Temperature","value":4.5,"uom":"CEL"}}]}}]}}"#
        )
    };
    let at_loc = reading("2024-03-01T00:00:01Z", rp).replacen(
        r#""readPoint":{"id":"urn:epc:id:sgln:0614141.00777.0"}"#,
        &format!(r#""bizLocation":{{"id":"{loc}"}}"#),
        1,
    );
    let j = capture(&n, &doc(&[reading("2024-03-01T00:00:00Z", rp), at_loc]), None);
    assert_eq!(j["success"], true, "{j}");
    let by_rp = get(n.addr, &format!("/events?EQ_readPoint={}", urlencode(rp))).events();
    assert_eq!(by_rp.len(), 1, "{by_rp:?}");
    assert!(by_rp[0].epc_list.is_empty() && by_rp[0].extensions.contains_key("sensorElementList"));
    assert_eq!(
        get(n.addr, &format!("/readPoints/{}/events", urlencode(rp)))
            .events()
            .len(),
        1
    );
    let by_loc = get(n.addr, &format!("/events?EQ_bizLocation={}", urlencode(loc))).events();
    assert_eq!(by_loc.len(), 1, "{by_loc:?}");
    // Neither goods nor place: refused, naming the rule; nothing submitted.
    let nowhere =
        reading("2024-03-01T00:00:02Z", rp).replacen(r#","readPoint":{"id":"urn:epc:id:sgln:0614141.00777.0"}"#, "", 1);
    let j = capture(&n, &doc(&[nowhere]), None);
    assert_eq!(j["errors"][0]["tradechain:rule"], "provenance.empty", "{j}");
}

/// A document is one transaction: one above the chain's transaction size is too large to
/// capture (413, naming the limit), and nothing is queued or submitted.
#[test]
fn a_document_above_the_transaction_limit_is_413() {
    let mut cfg = capture_config();
    cfg.max_body_bytes = 4 * 1024 * 1024;
    cfg.max_events = 500;
    let n = serve(Scenario::trade().backend, Some(cfg));
    let events: Vec<String> = (0..450)
        .map(|i| observe(&format!("7{i:03}"), "2024-01-01T00:00:00Z"))
        .collect();
    let r = post_capture(&n, &doc(&events), None);
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(
        r.body.contains("transaction limit") && r.body.contains("split it"),
        "{}",
        r.body
    );
    assert!(n.backend.mempool().is_empty());
}

fn own_node() -> Node {
    serve(Scenario::trade().backend, Some(capture_config()))
}

#[test]
fn capture_is_all_or_nothing_by_default_and_proceeds_on_request() {
    let n = own_node();
    let start = n.backend.height();
    let mixed = doc(&[
        observe("5001", "2024-01-01T00:00:00Z"),
        observe("5002", "2999-01-01T00:00:00Z"),
        observe("5003", "2024-01-01T00:00:01Z"),
    ]);
    // rollback: nothing submitted; the refused event named with the ledger's rule.
    let j = capture(&n, &mixed, None);
    assert_eq!(j["captureErrorBehaviour"], "rollback");
    assert_eq!(j["success"], false, "{j}");
    assert_eq!(j["running"], false);
    assert!(j["finishedAt"].is_string());
    let errors = j["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{j}");
    assert_eq!(errors[0]["tradechain:eventIndex"], 1);
    assert_eq!(errors[0]["tradechain:rule"], "provenance.time_future");
    assert_eq!(errors[0]["type"], "epcisException:ValidationException");
    assert!(
        errors[0]["tradechain:eventID"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );
    assert!(j["tradechain:captured"].as_array().unwrap().is_empty());
    assert!(n.backend.mempool().is_empty());
    assert_eq!(n.backend.height(), start, "nothing was committed");
    // proceed: the two valid events are submitted (nonces chained over them) and committed.
    let j = capture(&n, &mixed, Some("proceed"));
    assert_eq!(j["success"], false, "{j}");
    assert_eq!(j["errors"].as_array().unwrap().len(), 1);
    let captured = j["tradechain:captured"].as_array().unwrap();
    assert_eq!(
        captured
            .iter()
            .map(|c| c["eventIndex"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 2]
    );
    // One document transaction carries both: they were recorded together or not at all.
    assert_eq!(captured[0]["txId"], captured[1]["txId"], "{j}");
    for c in captured {
        let at = n
            .backend
            .tx_location(&tradechain_ledger::hash::Hash::from_hex(c["txId"].as_str().unwrap()).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(
            n.backend.outcomes(at.height).unwrap().unwrap()[at.index as usize],
            TxOutcome::Accepted
        );
        let tx = n.backend.tx(at).unwrap().unwrap();
        assert_eq!(tx.tx().sender, org("PRODUCER-FZ"));
    }
    // The same valid document again: every event is now a duplicate (content-derived eventIDs).
    let again = doc(&[observe("5001", "2024-01-01T00:00:00Z")]);
    let j = capture(&n, &again, None);
    assert_eq!(
        j["errors"][0]["tradechain:rule"], "provenance.event_id.duplicate",
        "{j}"
    );
    // A clean document: success, readable back by eventID and by EPC.
    let j = capture(&n, &doc(&[observe("5004", "2024-02-01T00:00:00Z")]), None);
    assert_eq!(j["success"], true, "{j}");
    assert!(j["errors"].as_array().unwrap().is_empty());
    let id = j["tradechain:captured"][0]["eventID"].as_str().unwrap();
    let evs = get(n.addr, &format!("/events/{}", urlencode(id))).events();
    assert_eq!(evs.len(), 1);
    let evs = get(
        n.addr,
        &format!("/epcs/{}/events", urlencode("urn:epc:id:sgtin:0614141.107346.5004")),
    )
    .events();
    assert_eq!(evs.len(), 1);
    // The job list, newest first.
    let r = signed_get(n.addr, "/capture", "PRODUCER-FZ");
    assert_eq!(r.status, 200, "{}", r.body);
    let list = r.json();
    assert_eq!(list.as_array().unwrap().len(), 4);
    assert_eq!(list[0]["success"], true);
    let r = signed_get(n.addr, "/capture?perPage=1", "PRODUCER-FZ");
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert!(r.next().is_some());
}

#[test]
fn capture_refuses_unauthenticated_and_foreign_requests_and_submits_nothing() {
    let n = own_node();
    let body = doc(&[observe("6001", "2024-01-01T00:00:00Z")]);
    let b = body.as_bytes();
    let ct = ("content-type", "application/json".to_string());
    let post = |h: Vec<(&'static str, String)>| {
        let mut h = h;
        h.push(ct.clone());
        request(n.addr, "POST", "/capture", &h, b)
    };
    // Unsigned.
    let v = post(Vec::new()).problem(401);
    assert_eq!(v["type"], "epcisException:SecurityException");
    assert!(v["detail"].as_str().unwrap().contains("x-tc-org"), "{v}");
    // Signed by another key than the org's.
    let mut forged = signed("POST", "/capture", b, "PRODUCER-FZ", now_ms());
    let other = signed("POST", "/capture", b, "IMPORTER-NL", now_ms());
    forged[3] = other[3].clone();
    let v = post(forged).problem(401);
    assert!(v["detail"].as_str().unwrap().starts_with("x-tc-signature"), "{v}");
    // Signed over another body, method or path.
    post(signed("POST", "/capture", b"{}", "PRODUCER-FZ", now_ms())).problem(401);
    post(signed("GET", "/capture", b, "PRODUCER-FZ", now_ms())).problem(401);
    post(signed("POST", "/capture?x=1", b, "PRODUCER-FZ", now_ms())).problem(401);
    // Outside the time window.
    let v = post(signed("POST", "/capture", b, "PRODUCER-FZ", now_ms() - 120_000)).problem(401);
    assert!(v["detail"].as_str().unwrap().starts_with("x-tc-time-ms"), "{v}");
    // Another member, validly signed: authenticated but not the org this node captures for.
    let v = post(signed("POST", "/capture", b, "IMPORTER-NL", now_ms())).problem(403);
    assert!(v["detail"].as_str().unwrap().contains("PRODUCER-FZ"), "{v}");
    // Not a member at all.
    let stranger = sign_headers(
        CHAIN_ID,
        "POST",
        "/capture",
        b,
        &org("NOBODY-XX"),
        1,
        &key_of("NOBODY-XX"),
        now_ms(),
    );
    post(stranger).problem(401);
    // Malformed proof fields.
    let mut bad = signed("POST", "/capture", b, "PRODUCER-FZ", now_ms());
    bad[1].1 = "one".into();
    post(bad).problem(401);
    assert!(n.backend.mempool().is_empty(), "nothing submitted");
    // The genuine request is accepted once; the same bytes again are a replay.
    let h = signed("POST", "/capture", b, "PRODUCER-FZ", now_ms());
    let r = post(h.clone());
    assert_eq!(r.status, 202, "{}", r.body);
    let v = post(h).problem(401);
    assert!(v["detail"].as_str().unwrap().contains("replay"), "{v}");
    let id = r
        .header("location")
        .unwrap()
        .trim_start_matches("/capture/")
        .to_string();
    assert_eq!(finish(&n, &id)["success"], true);
    assert_eq!(n.backend.mempool().len(), 0);
    // Job reads are signed too, by the same org.
    get(n.addr, &format!("/capture/{id}")).problem(401);
    get(n.addr, "/capture").problem(401);
    let path = format!("/capture/{id}");
    signed_get(n.addr, &path, "IMPORTER-NL").problem(403);
    let path = "/capture/cap-0-0";
    signed_get(n.addr, path, "PRODUCER-FZ").problem(404);
}

#[test]
fn capture_limits_and_bad_documents_are_refused_before_anything_runs() {
    let n = own_node();
    let send = |body: &str, ct: &str, extra: &[(&'static str, String)]| {
        let mut h = signed("POST", "/capture", body.as_bytes(), "PRODUCER-FZ", now_ms());
        h.push(("content-type", ct.to_string()));
        h.extend(extra.iter().cloned());
        request(n.addr, "POST", "/capture", &h, body.as_bytes())
    };
    let ok = doc(&[observe("7001", "2024-01-01T00:00:00Z")]);
    let v = send(&ok, "text/plain", &[]).problem(415);
    assert_eq!(v["type"], "epcisException:UnsupportedMediaTypeException");
    let v = send(
        &ok,
        "application/json",
        &[("gs1-capture-error-behaviour", "sometimes".into())],
    )
    .problem(400);
    assert_eq!(v["parameter"], "GS1-Capture-Error-Behaviour");
    // Too many events, too many bytes: 413 with the limits.
    let many: Vec<String> = (0..21)
        .map(|i| observe(&format!("71{i:02}"), "2024-01-01T00:00:00Z"))
        .collect();
    let r = send(&doc(&many), "application/json", &[]);
    let v = r.problem(413);
    assert_eq!(v["type"], "epcisException:CaptureLimitExceededException");
    assert_eq!(r.header("gs1-epcis-capture-limit"), Some("20"));
    let big = doc(&[observe(&"9".repeat(70_000), "2024-01-01T00:00:00Z")]);
    let r = send(&big, "application/json", &[]);
    r.problem(413);
    assert_eq!(r.header("gs1-epcis-capture-file-size-limit"), Some("65536"));
    // A document that does not map: the event and the field.
    let broken = ok.replace("2024-01-01T00:00:00Z", "2024-01-01 00:00");
    let v = send(&broken, "application/json", &[]).problem(400);
    assert_eq!(v["type"], "epcisException:ValidationException");
    assert!(
        v["detail"].as_str().unwrap().contains("event 0: field \"eventTime\""),
        "{v}"
    );
    send(&doc(&[]), "application/json", &[]).problem(400);
    send("not json", "application/json", &[]).problem(400);
    assert!(n.backend.mempool().is_empty());
    // A node without the config entry does not capture.
    let off = serve(Scenario::trade().backend, None);
    let h = signed("POST", "/capture", ok.as_bytes(), "PRODUCER-FZ", now_ms());
    let v = request(off.addr, "POST", "/capture", &h, ok.as_bytes()).problem(501);
    assert!(v["detail"].as_str().unwrap().contains("[http.epcis_capture]"), "{v}");
}

/// What stays non-atomic: another member's transaction committed between the dry run and the
/// commit (here: the same eventID, first in the block) makes a checked event fail at commit;
/// the job reports it with the ledger's rule.
#[test]
fn a_transaction_committed_between_check_and_commit_is_reported() {
    let n = own_node();
    let id = "urn:uuid:00000000-0000-4000-8000-0000000000aa";
    let body = doc(&[observe("9001", "2024-01-01T00:00:00Z").replacen('{', &format!("{{\"eventID\":\"{id}\","), 1)]);
    let r = post_capture(&n, &body, None);
    assert_eq!(r.status, 202, "{}", r.body);
    let job_id = r
        .header("location")
        .unwrap()
        .trim_start_matches("/capture/")
        .to_string();
    // Wait until the worker has checked and submitted it.
    let mut pending = Vec::new();
    for _ in 0..400 {
        pending = n.backend.mempool();
        if !pending.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(pending.len(), 1);
    // A rival records the same eventID first, in the same block.
    let mut ev = tradechain_ledger::testkit::event(
        tradechain_ledger::payload::EventType::ObjectEvent,
        Some(Action::Observe),
        &["urn:epc:id:sgtin:0614141.107346.9002"],
        now_ms() - 60_000,
    );
    ev.event_id = Some(id.into());
    let view = View(&n.backend);
    let importer: tradechain_ledger::Org =
        tradechain_ledger::state::get_typed(&view, &tradechain_ledger::state::keys::org(&org("IMPORTER-NL"))).unwrap();
    let rival = tradechain_ledger::tx::Transaction {
        version: tradechain_ledger::tx::TX_VERSION,
        chain_id: CHAIN_ID.into(),
        sender: org("IMPORTER-NL"),
        key_id: 1,
        nonce: tradechain_ledger::execute::next_nonce(&view, &importer),
        time_ms: now_ms(),
        payload: Payload::Provenance(ev),
    }
    .sign(&key_of("IMPORTER-NL"));
    let txs = vec![rival, pending.remove(0)];
    let last = n.backend.header(n.backend.height()).unwrap().unwrap().time_ms;
    let time = now_ms().max(last + 1);
    let ex = execute_block(
        &Registry::default(),
        n.backend.genesis(),
        &view,
        n.backend.height() + 1,
        time,
        &txs,
    )
    .unwrap();
    assert_eq!(ex.outcomes[0], TxOutcome::Accepted);
    n.backend.commit_block(txs, ex.outcomes, ex.writes, time).unwrap();
    let j = finish(&n, &job_id);
    assert_eq!(j["success"], false, "{j}");
    let e = &j["errors"][0];
    assert_eq!(e["tradechain:rule"], "provenance.event_id.duplicate", "{j}");
    assert!(e["detail"].as_str().unwrap().contains("rejected at commit"), "{j}");
    assert!(j["tradechain:captured"].as_array().unwrap().is_empty());
}

// ---- named queries and WebSocket subscriptions ----

type Ws = tungstenite::WebSocket<std::net::TcpStream>;

fn ws_connect(addr: SocketAddr, path: &str) -> Result<Ws, u16> {
    let s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    match tungstenite::client::client(format!("ws://{addr}{path}"), s) {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(r))) => Err(r.status().as_u16()),
        Err(e) => panic!("{path}: {e}"),
    }
}

/// Read messages until `n` events arrived; the events and the last message's resume token.
fn ws_events(ws: &mut Ws, n: usize, sub: &str, query: &str) -> (Vec<ProvenanceEvent>, String) {
    let (mut got, mut token) = (Vec::new(), String::new());
    while got.len() < n {
        let msg = ws.read().unwrap();
        let text = msg.into_text().unwrap().to_string();
        let v: Value = serde_json::from_str(&text).unwrap();
        let r = &v["epcisBody"]["queryResults"];
        assert_eq!(v["type"], "EPCISQueryDocument");
        assert_eq!(r["queryName"], query);
        assert_eq!(r["subscriptionID"], sub);
        token = r["tradechain:resumeToken"].as_str().unwrap().to_string();
        let evs = import_document(&text).unwrap();
        assert!(!evs.is_empty(), "no empty messages");
        got.extend(evs);
    }
    assert_eq!(got.len(), n, "exactly the expected events");
    (got, token)
}

/// Nothing more arrives within `ms`.
fn ws_quiet(ws: &mut Ws, ms: u64) {
    ws.get_mut().set_read_timeout(Some(Duration::from_millis(ms))).unwrap();
    match ws.read() {
        Err(tungstenite::Error::Io(e))
            if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
        other => panic!("expected no message, got {other:?}"),
    }
}

fn sub_id(n: &Node, query: &str) -> Vec<String> {
    let r = get(n.addr, &format!("/queries/{query}/subscriptions"));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["subscriptionID"].as_str().unwrap().to_string())
        .collect()
}

fn post_query(n: &Node, body: &str) -> Resp {
    request(
        n.addr,
        "POST",
        "/queries",
        &[("content-type", "application/json".into())],
        body.as_bytes(),
    )
}

#[test]
fn named_queries_stream_each_new_matching_event_once_and_resume_exactly() {
    let n = own_node();
    let def = r#"{"name":"inspections","query":{"EQ_bizStep":["inspecting"],"eventType":"ObjectEvent"}}"#;
    let r = post_query(&n, def);
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("location"), Some("/queries/inspections"));
    assert_eq!(post_query(&n, def).status, 201, "the same definition again");
    post_query(&n, r#"{"name":"inspections","query":{"EQ_bizStep":["shipping"]}}"#).problem(409);
    assert_eq!(
        post_query(&n, r#"{"name":"bad name","query":{}}"#).problem(400)["parameter"],
        "name"
    );
    assert_eq!(
        post_query(&n, r#"{"name":"q2","query":{"EQ_action":["SHIP"]}}"#).problem(400)["parameter"],
        "EQ_action"
    );
    post_query(&n, r#"{"name":"q3","query":{"EQ_bizTransaction_po":["x"]}}"#).problem(400);
    post_query(&n, "not json").problem(400);
    let list = get(n.addr, "/queries").json();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(
        get(n.addr, "/queries/inspections").json()["query"]["EQ_bizStep"][0],
        "inspecting"
    );
    get(n.addr, "/queries/nothing").problem(404);
    // Refused subscriptions, before any upgrade.
    assert_eq!(
        ws_connect(n.addr, "/queries/nothing/subscriptions?stream=true").err(),
        Some(404)
    );
    assert_eq!(
        ws_connect(n.addr, "/queries/inspections/subscriptions").err(),
        Some(400)
    );
    assert_eq!(
        ws_connect(n.addr, "/queries/inspections/subscriptions?stream=true&hour=1").err(),
        Some(400)
    );
    assert_eq!(
        ws_connect(
            n.addr,
            "/queries/inspections/subscriptions?stream=true&resumeToken=c1.0.0.00"
        )
        .err(),
        Some(400)
    );

    let matches = |b: &MemBackend| -> Vec<ProvenanceEvent> {
        all_public_events(b)
            .into_iter()
            .filter(|e| {
                format!("{:?}", e.event_type) == "ObjectEvent"
                    && e.biz_step
                        .as_deref()
                        .map(tradechain_ledger::epcis::export::biz_step_term)
                        == Some("inspecting")
            })
            .collect()
    };
    assert_eq!(
        capture(&n, &doc(&[observe("9100", "2024-02-29T00:00:00Z")]), None)["success"],
        true
    );
    let history = matches(&n.backend);
    assert!(!history.is_empty());
    // A: new events only. B: everything since 1970 (the history first).
    let mut a = ws_connect(n.addr, "/queries/inspections/subscriptions?stream=true").unwrap();
    let mut b = ws_connect(
        n.addr,
        "/queries/inspections/subscriptions?stream=true&initialRecordTime=1970-01-01T00:00:00Z",
    )
    .unwrap();
    let subs = sub_id(&n, "inspections");
    assert_eq!(subs.len(), 2);
    let (b_history, _) = ws_events(&mut b, history.len(), &subs[1], "inspections");
    assert_eq!(b_history, history);
    // Two matching events and one that does not match, committed.
    let j = capture(
        &n,
        &doc(&[
            observe("9101", "2024-03-01T00:00:00Z"),
            observe("9102", "2024-03-01T00:00:01Z").replace("inspecting", "shipping"),
            observe("9103", "2024-03-01T00:00:02Z"),
        ]),
        None,
    );
    assert_eq!(j["success"], true, "{j}");
    let now = matches(&n.backend);
    let new: Vec<ProvenanceEvent> = now[history.len()..].to_vec();
    assert_eq!(new.len(), 2);
    let (a_got, token) = ws_events(&mut a, 2, &subs[0], "inspections");
    assert_eq!(a_got, new, "each new matching event once, in record order");
    let (b_got, _) = ws_events(&mut b, 2, &subs[1], "inspections");
    assert_eq!(b_got, new, "every subscriber gets each event");
    ws_quiet(&mut a, 300);
    // A disconnects; one more matching event commits; A resumes exactly after what it had.
    a.close(None).unwrap();
    drop(a);
    let j = capture(&n, &doc(&[observe("9104", "2024-03-02T00:00:00Z")]), None);
    assert_eq!(j["success"], true, "{j}");
    let missed = matches(&n.backend).last().cloned().unwrap();
    let mut a2 = ws_connect(
        n.addr,
        &format!("/queries/inspections/subscriptions?stream=true&resumeToken={token}"),
    )
    .unwrap();
    let id2 = sub_id(&n, "inspections").into_iter().find(|s| s != &subs[1]).unwrap();
    let (resumed, _) = ws_events(&mut a2, 1, &id2, "inspections");
    assert_eq!(resumed, vec![missed.clone()], "nothing lost, nothing repeated");
    ws_quiet(&mut a2, 300);
    let (b_more, _) = ws_events(&mut b, 1, &subs[1], "inspections");
    assert_eq!(b_more, vec![missed]);
    // The named query's events resource is the same query, paged.
    let (all, _) = walk(n.addr, "/queries/inspections/events?perPage=2");
    assert_eq!(all, matches(&n.backend));
    // A token of another query does not resume this one.
    post_query(&n, r#"{"name":"other","query":{"EQ_action":["ADD"]}}"#);
    assert_eq!(
        ws_connect(
            n.addr,
            &format!("/queries/other/subscriptions?stream=true&resumeToken={token}")
        )
        .err(),
        Some(400)
    );
}

// ---- webhook subscriptions ----

/// What a webhook receiver got: (path, GS1-Signature, body).
type Got = Arc<std::sync::Mutex<Vec<(String, Option<String>, String)>>>;

/// A webhook receiver on a real port: records every POST and answers 204. `stop` ends it (the
/// port is then closed: deliveries fail until it is started again on the same port).
struct Receiver {
    addr: SocketAddr,
    got: Got,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(port: u16, got: Got) -> Receiver {
        use axum::routing::post;
        let (tx, rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let g = got.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let mut tries = 0;
                let l = loop {
                    match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
                        Ok(l) => break l,
                        Err(e) if tries < 100 => {
                            tries += 1;
                            let _ = e;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(e) => panic!("bind 127.0.0.1:{port}: {e}"),
                    }
                };
                tx.send(l.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().route(
                    "/{*path}",
                    post(move |uri: axum::http::Uri, h: axum::http::HeaderMap, body: String| {
                        let g = g.clone();
                        async move {
                            let sig = h.get("gs1-signature").map(|v| v.to_str().unwrap().to_string());
                            g.lock().unwrap().push((uri.path().to_string(), sig, body));
                            axum::http::StatusCode::NO_CONTENT
                        }
                    }),
                );
                axum::serve(l, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
                    .unwrap();
            });
        });
        Receiver {
            addr: rx.recv().unwrap(),
            got,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap();
    }

    /// The events delivered to `path` so far, each delivery's signature checked against `token`.
    fn events(&self, path: &str, token: &str) -> (Vec<ProvenanceEvent>, usize) {
        let got = self.got.lock().unwrap();
        let mut out = Vec::new();
        let mut posts = 0;
        for (p, sig, body) in got.iter().filter(|(p, _, _)| p == path) {
            assert_eq!(p, path);
            assert_eq!(
                sig.as_deref(),
                Some(webhook::signature(token, body.as_bytes()).as_str()),
                "GS1-Signature is the HMAC of the body"
            );
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["type"], "EPCISQueryDocument");
            assert!(
                v["epcisBody"]["queryResults"]["tradechain:resumeToken"]
                    .as_str()
                    .is_some()
            );
            let evs = import_document(body).unwrap();
            assert!(!evs.is_empty(), "no empty deliveries");
            out.extend(evs);
            posts += 1;
        }
        (out, posts)
    }

    /// Wait until `n` events arrived at `path` (then nothing more for 400 ms).
    fn wait(&self, path: &str, token: &str, n: usize) -> Vec<ProvenanceEvent> {
        for _ in 0..400 {
            if self.events(path, token).0.len() >= n {
                break;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        std::thread::sleep(Duration::from_millis(400));
        let (evs, _) = self.events(path, token);
        assert_eq!(evs.len(), n, "exactly {n} events at {path}: {evs:?}");
        evs
    }
}

fn hook_config() -> WebhookConfig {
    WebhookConfig {
        allow_private_destinations: true,
        max_per_org: 2,
        retry_min: Duration::from_millis(50),
        retry_max: Duration::from_millis(300),
        timeout: Duration::from_secs(2),
        ..WebhookConfig::default()
    }
}

/// A signed `method path` with a JSON body, by `who`.
fn signed_json(n: &Node, method: &str, path: &str, body: &str, who: &str) -> Resp {
    let mut h = signed(method, path, body.as_bytes(), who, now_ms());
    h.push(("content-type", "application/json".into()));
    request(n.addr, method, path, &h, body.as_bytes())
}

#[test]
fn webhooks_deliver_each_new_matching_event_once_and_resume_after_the_receiver_returns() {
    let n = serve_with(Scenario::trade().backend, Some(capture_config()), hook_config());
    assert_eq!(
        post_query(&n, r#"{"name":"hooked","query":{"EQ_bizStep":["inspecting"]}}"#).status,
        201
    );
    let got: Got = Arc::default();
    let rx = Receiver::start(0, got.clone());
    let port = rx.addr.port();
    let subs = "/queries/hooked/subscriptions";
    let token = "13df38d8275b13f05704629e5f1cf3d45d6132d5";
    let body = format!(r#"{{"dest":"http://127.0.0.1:{port}/hook","signatureToken":"{token}","stream":true}}"#);

    // Refusals: unsigned 401; bad schemes, no stream, schedules, unknown fields 400 naming the
    // field; an unknown query 404; a foreign org's signature on another's body 401.
    let r = request(
        n.addr,
        "POST",
        subs,
        &[("content-type", "application/json".into())],
        body.as_bytes(),
    );
    assert!(r.problem(401)["detail"].as_str().unwrap().contains("x-tc-org"));
    for (bad, field) in [
        (r#"{"dest":"ftp://127.0.0.1/x","stream":true}"#.to_string(), "dest"),
        (r#"{"dest":"file:///etc/passwd","stream":true}"#.to_string(), "dest"),
        (
            format!(r#"{{"dest":"https://127.0.0.1:{port}/hook","stream":true}}"#),
            "dest",
        ),
        (
            r#"{"dest":"http://user:pw@127.0.0.1/x","stream":true}"#.to_string(),
            "dest",
        ),
        (format!(r#"{{"dest":"http://127.0.0.1:{port}/hook"}}"#), "stream"),
        (
            format!(r#"{{"dest":"http://127.0.0.1:{port}/hook","stream":true,"schedule":{{"hour":"1"}}}}"#),
            "schedule",
        ),
        (
            format!(r#"{{"dest":"http://127.0.0.1:{port}/hook","stream":true,"secret":"x"}}"#),
            "secret",
        ),
    ] {
        let p = signed_json(&n, "POST", subs, &bad, "PRODUCER-FZ").problem(400);
        assert_eq!(p["parameter"], field, "{bad}: {p}");
    }
    signed_json(&n, "POST", "/queries/nothing/subscriptions", &body, "PRODUCER-FZ").problem(404);

    // Created (201, Location, the token never shown), by BANK-NL (any member may subscribe).
    let r = signed_json(&n, "POST", subs, &body, "BANK-NL");
    assert_eq!(r.status, 201, "{}", r.body);
    let created = r.json();
    let id = created["subscriptionID"].as_str().unwrap().to_string();
    assert_eq!(r.header("location"), Some(format!("{subs}/{id}").as_str()));
    assert!(!r.body.contains(token), "the token is not shown");
    assert_eq!(created["dest"], format!("http://127.0.0.1:{port}/hook"));
    // The anonymous list shows it without its destination.
    let list = get(n.addr, subs);
    assert_eq!(list.status, 200);
    assert!(list.body.contains(&id) && !list.body.contains("/hook"), "{}", list.body);

    let matches = |b: &MemBackend| -> Vec<ProvenanceEvent> {
        all_public_events(b)
            .into_iter()
            .filter(|e| {
                e.biz_step
                    .as_deref()
                    .map(tradechain_ledger::epcis::export::biz_step_term)
                    == Some("inspecting")
            })
            .collect()
    };
    let before = matches(&n.backend).len();
    // One matching event (and one that does not match): delivered once.
    let j = capture(
        &n,
        &doc(&[
            observe("9301", "2024-04-01T00:00:00Z"),
            observe("9302", "2024-04-01T00:00:01Z").replace("inspecting", "shipping"),
        ]),
        None,
    );
    assert_eq!(j["success"], true, "{j}");
    let first = rx.wait("/hook", token, 1);
    assert_eq!(first, matches(&n.backend)[before..].to_vec(), "new events only, once");

    // The receiver goes away; three more matching events commit meanwhile (two documents).
    rx.stop();
    for d in [
        doc(&[
            observe("9303", "2024-04-02T00:00:00Z"),
            observe("9304", "2024-04-02T00:00:01Z"),
        ]),
        doc(&[observe("9305", "2024-04-02T00:00:02Z")]),
    ] {
        assert_eq!(capture(&n, &d, None)["success"], true);
    }
    // Deliveries fail: the owner sees the failures; another org may not look.
    let path = format!("{subs}/{id}");
    let mut failures = 0;
    for _ in 0..200 {
        let r = signed_get(n.addr, &path, "BANK-NL");
        assert_eq!(r.status, 200, "{}", r.body);
        failures = r.json()["tradechain:consecutiveFailures"].as_u64().unwrap();
        if failures >= 2 {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(failures >= 2, "deliveries to a stopped receiver fail and are retried");
    signed_get(n.addr, &path, "PRODUCER-FZ").problem(403);
    request(n.addr, "GET", &path, &[], b"").problem(401);

    // Back on the same port: the missed events arrive, in order, none twice, none lost.
    let rx = Receiver::start(port, got.clone());
    let all = rx.wait("/hook", token, 4);
    let expected = matches(&n.backend)[before..].to_vec();
    assert_eq!(expected.len(), 4);
    assert_eq!(all, expected, "exactly once, in record order, across the outage");
    let details = signed_get(n.addr, &path, "BANK-NL").json();
    assert_eq!(details["tradechain:deliveredEvents"], 4, "{details}");
    assert_eq!(details["tradechain:consecutiveFailures"], 0, "{details}");
    assert!(details["lastNotifiedAt"].is_string(), "{details}");

    // The per-org bound: BANK-NL may hold 2; the third is refused, another org is not affected.
    let other = format!(r#"{{"dest":"http://127.0.0.1:{port}/other","stream":true,"signatureToken":"t"}}"#);
    assert_eq!(signed_json(&n, "POST", subs, &other, "BANK-NL").status, 201);
    // (Another body: the same request signed in the same millisecond would be a replay, 401.)
    let third = other.replace("/other", "/third");
    signed_json(&n, "POST", subs, &third, "BANK-NL").problem(429);
    assert_eq!(signed_json(&n, "POST", subs, &other, "BANK-CN").status, 201);

    // Deleted by its owner (not by another org): nothing more is delivered to it.
    request(
        n.addr,
        "DELETE",
        &path,
        &signed("DELETE", &path, b"", "BANK-CN", now_ms()),
        b"",
    )
    .problem(403);
    let r = request(
        n.addr,
        "DELETE",
        &path,
        &signed("DELETE", &path, b"", "BANK-NL", now_ms()),
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    signed_get(n.addr, &path, "BANK-NL").problem(404);
    assert_eq!(
        capture(&n, &doc(&[observe("9306", "2024-04-03T00:00:00Z")]), None)["success"],
        true
    );
    // The two /other webhooks (started after the outage) each get exactly the new event.
    let other_got = rx.wait("/other", "t", 2);
    assert_eq!(other_got[0], other_got[1]);
    assert_eq!(&other_got[0], matches(&n.backend).last().unwrap());
    let (hook_evs, _) = rx.events("/hook", token);
    assert_eq!(hook_evs.len(), 4, "a deleted webhook gets nothing more");
    rx.stop();

    // A node with the default bounds refuses a destination on a private address (SSRF).
    let strict = serve(Scenario::trade().backend, None);
    assert_eq!(
        post_query(&strict, r#"{"name":"q","query":{"EQ_bizStep":["inspecting"]}}"#).status,
        201
    );
    let p = signed_json(
        &strict,
        "POST",
        "/queries/q/subscriptions",
        r#"{"dest":"http://127.0.0.1:9/x","stream":true}"#,
        "BANK-NL",
    )
    .problem(400);
    assert_eq!(p["parameter"], "dest");
    assert!(p["detail"].as_str().unwrap().contains("private"), "{p}");
}
