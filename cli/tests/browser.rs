#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The consumer page in a real browser: a local testnet with the demo data (`testnet/up`), the
//! observer's GS1 Digital Link resolver page of the demo's scanned item loaded in headless
//! Chromium (Debian's `chromium`, installed by `scripts/setup.sh`), which checks the proofs itself
//! (WebCrypto Ed25519 and SHA-256 against the genesis validator set the page embeds).
//!
//! One testnet, then in order:
//! 1. the page as served: the timeline is redrawn from verified data and the badge says
//!    "verified: committed by k of n validators · complete as of block h, <time>"; a screenshot
//!    is saved;
//! 2. the same page through a proxy that changes one shown field of a signed event: "not verified";
//! 3. through a proxy that flips one byte of a commit certificate's signature: "not verified";
//!    and through one that shows the item's events under a counterfeit serial (its event-hash
//!    chain recomputed): "not verified", the signed event does not name that item; and through
//!    proxies that leave out the last event (chain rewritten), show the container's proven head
//!    for the item, change the customs status or the certificate of origin, or drop the
//!    containers: each "not verified"; and through proxies that show another item's events under
//!    the item's key, or splice in a transaction the validators rejected (a customs release the
//!    producer signed, with its real inclusion and outcome proofs), each with the event-hash
//!    chain recomputed: "not verified", naming the unbound event or the unproven acceptance;
//! 4. from an origin that is not a secure context (a phone on the LAN): "cannot verify here".
//!
//! Screenshots and the label's QR code: `$CARGO_TARGET_TMPDIR/browser/` (`resolver-verified.png`,
//! `resolver-tampered.png`, `label.png`; the paths are printed).
//! Without chromium the test prints SKIPPED and passes — unless `CI` is set, then it fails.
mod common;
#[path = "common/forge.rs"]
mod forge;

use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tradechain_proto::v1;

/// Debian's `chromium` (or `$CHROMIUM`), if it runs.
fn chromium() -> Option<String> {
    let found = std::env::var("CHROMIUM")
        .ok()
        .into_iter()
        .chain(["chromium", "chromium-browser"].map(String::from))
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not installed (scripts/setup.sh installs it)"
        );
        eprintln!(
            "SKIPPED browser test: chromium is not installed (apt-get install chromium, or run scripts/setup.sh)"
        );
    }
    found
}

/// Run headless Chromium on `url` with `args` (`--dump-dom` or `--screenshot=…`); its stdout.
fn chromium_run(chromium: &str, url: &str, args: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--virtual-time-budget=15000")
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium {args:?} {url} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn dom(chromium: &str, url: &str, extra: &[&str]) -> String {
    let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    args.push("--dump-dom".into());
    chromium_run(chromium, url, &args)
}

fn screenshot(chromium: &str, url: &str, file: &Path) {
    let _ = std::fs::remove_file(file);
    chromium_run(
        chromium,
        url,
        &[
            format!("--screenshot={}", file.display()),
            "--window-size=480,1800".into(),
            "--hide-scrollbars".into(),
        ],
    );
    let png = std::fs::read(file).unwrap_or_default();
    assert!(png.starts_with(b"\x89PNG"), "no screenshot at {}", file.display());
    eprintln!("screenshot: {}", file.display());
}

/// The badge's text, from the dumped DOM.
fn badge(dom: &str) -> String {
    let after = dom.split("id=\"tc-badge\"").nth(1).unwrap_or("");
    let text = after.split_once('>').map(|x| x.1).unwrap_or("");
    text.split("</p>").next().unwrap_or("").replace("&amp;", "&")
}

/// A plain HTTP GET (the node's resolver speaks HTTP/1.1 and closes when asked).
fn http_get(addr: &str, path: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    assert!(
        !head.to_ascii_lowercase().contains("transfer-encoding: chunked"),
        "unexpected chunked answer: {head}"
    );
    (head, buf[split + 4..].to_vec())
}

/// A rewrite of the page's embedded data.
type Tamper = Arc<dyn Fn(&mut Value) + Send + Sync>;

/// A tiny HTTP proxy in front of the node that rewrites the resolver page on the way (the data
/// embedded in `<script id=tc-data>`) with `tamper`; everything else passes unchanged.
struct Proxy {
    addr: String,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream: String, tamper: Tamper) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        l.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((c, _)) => {
                        let (up, tamper) = (upstream.clone(), tamper.clone());
                        std::thread::spawn(move || Proxy::serve(c, &up, tamper.as_ref()));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Proxy { addr, stop }
    }

    fn serve(mut c: TcpStream, upstream: &str, tamper: &dyn Fn(&mut Value)) {
        c.set_nonblocking(false).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut req = Vec::new();
        let mut byte = [0u8; 1];
        while !req.ends_with(b"\r\n\r\n") {
            match c.read(&mut byte) {
                Ok(1) => req.push(byte[0]),
                _ => return,
            }
        }
        let req = String::from_utf8_lossy(&req).into_owned();
        // A label the node never issued is answered with the demo item's page (the dishonest
        // node's trick), which the tamper function may then rewrite.
        let path = req
            .split_whitespace()
            .nth(1)
            .unwrap_or("/")
            .replace(COUNTERFEIT_SERIAL, "SN0101001");
        let (head, mut body) = http_get(upstream, &path);
        let status = head.lines().next().unwrap_or("HTTP/1.1 502 Bad Gateway").to_string();
        let ctype = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-type:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        if ctype.starts_with("text/html") {
            body = tamper_page(&String::from_utf8(body).unwrap(), tamper).into_bytes();
        }
        let _ = write!(
            c,
            "{status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = c.write_all(&body);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

const DATA_OPEN: &str = "<script type=application/json id=tc-data>";

/// Apply `tamper` to the JSON the page embeds, written back the way the node writes it.
fn tamper_page(html: &str, tamper: &dyn Fn(&mut Value)) -> String {
    let (before, rest) = html.split_once(DATA_OPEN).expect("the page embeds its proof data");
    let (json, after) = rest.split_once("</script>").unwrap();
    let mut v: Value = serde_json::from_str(json).unwrap();
    tamper(&mut v);
    let json = v
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    format!("{before}{DATA_OPEN}{json}</script>{after}")
}

/// The first entry of the item's chains that carries commercial fields: they are withheld, yet
/// the fields it shows are proven against the signed, salted field commitment.
fn first_signed(v: &mut Value) -> &mut Value {
    v["proofs"]["chains"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .flat_map(|c| c["entries"].as_array_mut().unwrap().iter_mut())
        .find(|e| e["proof"]["redacted"].as_bool() == Some(true))
        .expect("an event with commercial fields withheld")
}

/// The page shows a different business step than the one signed.
fn tamper_shown_field(v: &mut Value) {
    let e = first_signed(v);
    let step = e["biz_step"].as_str().unwrap().to_string();
    e["biz_step"] = Value::from(if step.ends_with("receiving") {
        "urn:epcglobal:cbv:bizstep:shipping"
    } else {
        "urn:epcglobal:cbv:bizstep:receiving"
    });
}

/// An event of a document transaction (the demo's packing documents) disclosed as another
/// position of the same document.
fn tamper_document_position(v: &mut Value) {
    use tradechain_ledger::event_fields::EventDisclosure;
    let entry = v["proofs"]["chains"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .flat_map(|c| c["entries"].as_array_mut().unwrap().iter_mut())
        .find(|e| {
            let d: EventDisclosure =
                tradechain_ledger::codec::decode(&hex::decode(e["proof"]["disclosure"].as_str().unwrap()).unwrap())
                    .unwrap();
            d.document.is_some()
        })
        .expect("an event of a document transaction");
    let p = &mut entry["proof"];
    let mut d: EventDisclosure =
        tradechain_ledger::codec::decode(&hex::decode(p["disclosure"].as_str().unwrap()).unwrap()).unwrap();
    let pos = d.document.as_mut().unwrap();
    pos.event = (pos.event + 1) % u32::try_from(pos.event_digests.len()).unwrap();
    p["disclosure"] = Value::from(hex::encode(tradechain_ledger::codec::encode(&d)));
}

/// The serial of a counterfeit label (never commissioned on the ledger).
const COUNTERFEIT_SERIAL: &str = "FAKE0001";

fn untouched(_: &mut Value) {}

/// Rewrite a proof chain's entries into a consistent event-hash chain of `goods_key` (anyone
/// can; the chain is node state, not certified): each entry's seq is its position, its event
/// reference chains from the zero hash over its tx id at its (height, index), and the chain's
/// last event hash follows. `forge::rechain` for the page's JSON.
fn rechain_json(chain: &mut Value, goods_key: &str) {
    use tradechain_ledger::records::{ItemEventRef, TxLocation, item_event_hash};
    let mut prev = tradechain_ledger::hash::Hash::ZERO;
    for (seq, e) in chain["entries"].as_array_mut().unwrap().iter_mut().enumerate() {
        let tx_id = tradechain_ledger::hash::Hash::from_hex(e["tx_id"].as_str().unwrap()).unwrap();
        let er = ItemEventRef {
            seq: seq as u64,
            tx_id,
            at: TxLocation {
                height: e["height"].as_u64().unwrap(),
                index: e["index"].as_u64().unwrap() as u32,
            },
            event: 0,
            event_time_ms: e["time_ms"].as_i64().unwrap(),
            prev_event_hash: prev,
            event_hash: item_event_hash(&prev, &tx_id, 0, goods_key),
        };
        prev = er.event_hash;
        e["seq"] = Value::from(seq);
        let p = &mut e["proof"];
        p["event_ref"] = Value::from(hex::encode(tradechain_ledger::codec::encode(&er)));
        p["prev_event_hash"] = Value::from(er.prev_event_hash.to_hex());
        p["event_hash"] = Value::from(er.event_hash.to_hex());
    }
    chain["last_event_hash"] = Value::from(prev.to_hex());
}

/// A counterfeit: the item's chain shown under another serial, its event-hash chain recomputed
/// for that key.
fn tamper_counterfeit(v: &mut Value) {
    let fake = format!("01/06901234123456/21/{COUNTERFEIT_SERIAL}");
    v["goods_key"] = Value::from(fake.as_str());
    let chain = &mut v["proofs"]["chains"][0];
    chain["goods_key"] = Value::from(fake.as_str());
    rechain_json(chain, &fake);
}

/// Another item's events (`entries`, its proof chain's) shown under this item's key, their
/// event-hash chain recomputed for it.
fn tamper_other_items_events(entries: Value) -> Tamper {
    Arc::new(move |v: &mut Value| {
        let key = v["goods_key"].as_str().unwrap().to_string();
        let chain = &mut v["proofs"]["chains"][0];
        chain["entries"] = entries.clone();
        rechain_json(chain, &key);
    })
}

/// A rejected transaction (`entry`, with its real inclusion and outcome proofs) shown as the
/// item's latest event, the event-hash chain extended over it.
fn tamper_rejected_event(entry: Value) -> Tamper {
    Arc::new(move |v: &mut Value| {
        let key = v["goods_key"].as_str().unwrap().to_string();
        let chain = &mut v["proofs"]["chains"][0];
        chain["entries"].as_array_mut().unwrap().push(entry.clone());
        rechain_json(chain, &key);
    })
}

/// The item's last event left out, the chain's head rewritten to the event before it (a
/// consistent chain: only the proven head shows the event is missing).
fn tamper_drop_last_event(v: &mut Value) {
    let chain = &mut v["proofs"]["chains"][0];
    let last = chain["entries"].as_array_mut().unwrap().pop().unwrap();
    chain["last_event_hash"] = last["proof"]["prev_event_hash"].clone();
}

/// The item's proven head replaced by its container's (state of another item).
fn tamper_borrowed_head(v: &mut Value) {
    let other = v["proofs"]["chains"][1]["head"].clone();
    assert!(other.is_object(), "the item travels in a container with a proven head");
    v["proofs"]["chains"][0]["head"] = other;
}

/// The customs status shown is not the proven one.
fn tamper_customs(v: &mut Value) {
    v["customs"] = Value::from("Held");
}

/// The certificate of origin shown names another origin country than the proven one.
fn tamper_certificate(v: &mut Value) {
    v["certificate_of_origin"]["origin_country"] = Value::from("VN");
}

/// The route shown names another port of discharge than the proven waybill's.
fn tamper_route(v: &mut Value) {
    assert!(
        v["route"].is_object(),
        "the demo item travels under a waybill: {}",
        v["route"]
    );
    v["route"]["to"] = Value::from("DEHAM");
}

/// The route left out of the answer.
fn tamper_drop_route(v: &mut Value) {
    v["route"] = Value::Null;
}

/// The containers the item travels in left out of the answer.
fn tamper_drop_containers(v: &mut Value) {
    v["proofs"]["chains"].as_array_mut().unwrap().truncate(1);
}

/// One byte of one validator's precommit signature (the last byte of the certificate) flipped.
fn tamper_signature_byte(v: &mut Value) {
    let e = first_signed(v);
    let mut cert = hex::decode(e["proof"]["certificate"].as_str().unwrap()).unwrap();
    *cert.last_mut().unwrap() ^= 0x01;
    e["proof"]["certificate"] = Value::from(hex::encode(cert));
}

fn shots_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn the_resolver_page_verifies_its_proofs_in_headless_chromium() {
    let Some(chromium) = chromium() else { return };
    let t0 = Instant::now();
    let net = Testnet::new();
    net.script("up", &[]);
    eprintln!("testnet up with demo data in {:?}", t0.elapsed());
    let names = net.names();
    let obs = names.iter().position(|n| n == "customs-nl").unwrap() as u16 + 1;
    let http = format!("127.0.0.1:{}", net.base + 20_000 + obs);
    let validators = names.len() - 1;
    let demo: Value = serde_json::from_slice(&std::fs::read(net.data.join("demo.json")).unwrap()).unwrap();
    let item = demo["sample_item"].as_str().unwrap();
    let path = item.trim_start_matches("https://id.gs1.org").to_string();
    // The observer has synced the demo when its resolver shows the item with its customs release.
    wait_until("the observer serves the demo item", 90, || {
        let (head, body) = http_get(&http, &format!("{path}?linkType=gs1:traceability"));
        head.starts_with("HTTP/1.1 200")
            && serde_json::from_slice::<Value>(&body).is_ok_and(|v| v["customs"] == "Released")
    });
    let (_, body) = http_get(&http, &format!("{path}?linkType=gs1:traceability"));
    let answer: Value = serde_json::from_slice(&body).unwrap();
    let events = answer["events"].as_array().unwrap().len();
    assert!(events >= 5, "a whole journey: {answer}");
    // The item's own events (the journey adds its containers').
    let own = answer["proofs"]["chains"][0]["entries"].as_array().unwrap().len();

    // The label: a QR code whose link is this resolver page (README's example).
    let png = shots_dir().join("label.png");
    let _ = std::fs::remove_file(&png);
    let grpc = net.endpoint("customs-nl");
    let resolver = format!("http://{http}");
    let out = cli(
        &grpc,
        &[
            "query",
            "provenance",
            item,
            "--resolver",
            &resolver,
            "--qr-png",
            png.to_str().unwrap(),
            "--pin-genesis",
            net.data.join("genesis.json").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("{resolver}{path}?tc_genesis=")),
        "the QR code holds the page's URL, pinning the genesis: {said}"
    );
    assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));

    // 1. As served: verified, the timeline redrawn from the verified events.
    let t = Instant::now();
    let url = format!("http://{http}{path}");
    let page = dom(&chromium, &url, &[]);
    eprintln!("chromium: verified page in {:?}", t.elapsed());
    let b = badge(&page);
    assert!(page.contains("data-tc-verified=\"yes\""), "badge: {b}\n{page}");
    let verify_ms: u64 = page
        .split("data-tc-verify-ms=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|ms| ms.parse().ok())
        .unwrap_or_else(|| panic!("the page records how long it verified: {page}"));
    eprintln!("chromium: the page's checks took {verify_ms} ms ({events} events shown)");
    let (committed, complete) = b.split_once(" · ").unwrap_or_else(|| panic!("badge {b:?}"));
    let k: usize = committed
        .strip_prefix("verified: committed by ")
        .and_then(|r| r.strip_suffix(&format!(" of {validators} validators")))
        .and_then(|k| k.parse().ok())
        .unwrap_or_else(|| panic!("badge {b:?}"));
    assert!(complete.starts_with("complete as of block "), "badge {b:?}");
    assert_eq!(
        page.matches("✓ proven at block").count(),
        3,
        "the customs, certificate of origin and route lines are proven: {page}"
    );
    assert!(k * 3 > validators * 2 && k <= validators, "k = {k} of {validators}");
    let rows = page.matches("<li class=\"v ").count();
    assert_eq!(rows, events, "every event of the journey is shown verified:\n{page}");
    assert!(page.contains("<b>commissioning</b>"), "{page}");
    assert!(page.contains("<b>customs released</b>"), "{page}");
    assert!(page.contains("✓ signed &amp; committed"), "{page}");
    let genesis = tradechain_ledger::genesis::Genesis::from_json(
        &std::fs::read_to_string(net.data.join("genesis.json")).unwrap(),
    )
    .unwrap();
    let gh = genesis.hash().to_hex();
    assert!(
        page.contains(&format!("id=\"tc-genesis\">{gh}<")),
        "the genesis hash computed in the browser is the genesis file's: {page}"
    );
    screenshot(&chromium, &url, &shots_dir().join("resolver-verified.png"));

    // 1b. A label that pins the consortium's genesis (`query provenance --pin-genesis`): the
    // right hash verifies; any other (a node serving another chain's genesis) does not.
    assert!(
        said.contains(&format!("?tc_genesis={gh}")),
        "the label pins this genesis: {said}"
    );
    let page = dom(&chromium, &format!("{url}?tc_genesis={gh}"), &[]);
    assert!(page.contains("data-tc-verified=\"yes\""), "badge: {}", badge(&page));
    assert!(page.contains("and the one the label pins"), "{page}");
    let page = dom(&chromium, &format!("{url}?tc_genesis={}", "ab".repeat(32)), &[]);
    let b = badge(&page);
    assert!(page.contains("data-tc-verified=\"no\""), "badge: {b}");
    assert!(b.contains("is not the one the label pins"), "badge: {b}");

    // 2. A shown field changed on the way: not verified, and the reason names it.
    let proxy = Proxy::start(http.clone(), Arc::new(tamper_shown_field));
    let url = format!("http://{}{path}", proxy.addr);
    let page = dom(&chromium, &url, &[]);
    let b = badge(&page);
    assert!(page.contains("data-tc-verified=\"no\""), "badge: {b}");
    assert!(b.starts_with("not verified: ") && b.contains("bizStep"), "badge: {b}");
    screenshot(&chromium, &url, &shots_dir().join("resolver-tampered.png"));
    drop(proxy);

    // 2b. A counterfeit label scanned: the node answers with the real item's page, as it is
    // (refused: not the scanned label), or rewritten for the counterfeit serial with its
    // event-hash chain recomputed (refused: the signed events do not name it).
    let fake_path = path.replace("SN0101001", COUNTERFEIT_SERIAL);
    assert_ne!(fake_path, path);
    for (tamper, reason) in [
        (untouched as fn(&mut Value), "not for the scanned label"),
        (tamper_counterfeit, "does not name goods 01/06901234123456/21/FAKE0001"),
    ] {
        let proxy = Proxy::start(http.clone(), Arc::new(tamper));
        let page = dom(&chromium, &format!("http://{}{fake_path}", proxy.addr), &[]);
        let b = badge(&page);
        assert!(page.contains("data-tc-verified=\"no\""), "badge: {b}");
        assert!(b.contains(reason), "badge: {b}");
        drop(proxy);
    }

    // 3. One byte of a validator's signature flipped: not verified.
    let proxy = Proxy::start(http.clone(), Arc::new(tamper_signature_byte));
    let page = dom(&chromium, &format!("http://{}{path}", proxy.addr), &[]);
    let b = badge(&page);
    assert!(page.contains("data-tc-verified=\"no\""), "badge: {b}");
    assert!(b.contains("does not verify"), "badge: {b}");
    drop(proxy);

    // 3b. What only the proven head catches: an event left out with the chain rewritten to end
    // before it, another item's state, a customs status it does not say, the containers dropped,
    // another certificate of origin, another route or none.
    // And what the event proofs catch with the chain recomputed around it: another item's events
    // under this item's key (the phone packed next to it), and a transaction the validators
    // rejected (the producer's customs release of the item) spliced in as its latest event.
    let key = tradechain_ledger::gs1::goods_key(item).unwrap();
    let sibling = tradechain_ledger::gs1::goods_key(&tradechain_ledger::demo::phone(0, 0, 1)).unwrap();
    let (_, body) = http_get(&http, &format!("/{sibling}?linkType=gs1:traceability"));
    let sibling: Value = serde_json::from_slice(&body).unwrap();
    let sibling_entries = sibling["proofs"]["chains"][0]["entries"].clone();
    assert!(sibling_entries.as_array().is_some_and(|e| !e.is_empty()), "{sibling}");
    let validator = net.endpoint(&names[0]);
    let urn = tradechain_ledger::demo::phone(0, 0, 0);
    let keys = net.data.join("keys");
    let tx = forge::submit_rejected_release(BIN, &validator, &keys, &urn);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let entry = rt.block_on(async {
        let ch = forge::connect(&validator).await;
        forge::rejected_entry(&ch, &tx, &keys).await
    });
    let as_page = v1::ProvenanceReply {
        goods_key: key.clone(),
        timeline: vec![entry],
        ..Default::default()
    };
    let rejected = tradechain_node::resolver::proofs_json(&as_page, &[])["chains"][0]["entries"][0].clone();
    let cases: Vec<(Tamper, String)> = vec![
        (Arc::new(tamper_drop_last_event), "missing or added".into()),
        (Arc::new(tamper_borrowed_head), "head proof".into()),
        (Arc::new(tamper_customs), "which its proven head does not say".into()),
        (Arc::new(tamper_drop_containers), "leaves it out".into()),
        (
            Arc::new(tamper_certificate),
            "certificate of origin origin_country".into(),
        ),
        (Arc::new(tamper_route), "route to \"DEHAM\"".into()),
        (Arc::new(tamper_drop_route), "the page shows no route".into()),
        (
            Arc::new(tamper_document_position),
            "the opened event is not event 1 of the document (6 events)".into(),
        ),
        (
            tamper_other_items_events(sibling_entries),
            format!("entry seq 0: the signed event does not name goods {key}"),
        ),
        (
            tamper_rejected_event(rejected),
            format!("entry seq {own}: the transaction is not proven accepted"),
        ),
    ];
    for (tamper, reason) in cases {
        let reason = reason.as_str();
        let proxy = Proxy::start(http.clone(), tamper);
        let page = dom(&chromium, &format!("http://{}{path}", proxy.addr), &[]);
        let b = badge(&page);
        assert!(page.contains("data-tc-verified=\"no\""), "badge: {b}");
        assert!(b.contains(reason), "expected {reason:?}; badge: {b}");
        drop(proxy);
    }

    // 4. A phone on the LAN opening http://<address>: no WebCrypto there, and the page says so.
    let port = net.base + 20_000 + obs;
    let page = dom(
        &chromium,
        &format!("http://phone.test:{port}{path}"),
        &["--host-resolver-rules=MAP phone.test 127.0.0.1"],
    );
    let b = badge(&page);
    assert!(page.contains("data-tc-verified=\"cannot\""), "badge: {b}");
    assert!(b.starts_with("cannot verify here: "), "badge: {b}");
    eprintln!("browser test done in {:?}", t0.elapsed());
}
