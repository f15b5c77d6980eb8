//! The GS1 Digital Link resolver, served over HTTP beside gRPC: what a phone opens when it scans
//! a goods label. `GET /01/{gtin}/21/{serial}` (a serialised item), `/01/{gtin}/10/{lot}` (a lot),
//! `/00/{sscc}` (a logistic unit) — check digits validated — answers with the item's journey
//! (`grpc::journey`): an HTML page for a browser, or JSON when the client asks for
//! `application/json` or `?linkType=gs1:traceability`. Both carry the proof material (`proofs`:
//! hex of the `GetProvenance` bytes per event, for the item's chain and each container's, and the
//! borsh of the genesis this node runs).
//!
//! The page checks its own proofs in the browser (`resolver/verify.js`, served at
//! [`VERIFY_JS_PATH`]; WebCrypto Ed25519 and SHA-256, no library, no build step, no CDN). It
//! hashes the embedded genesis itself (the genesis hash it shows is computed, not claimed), takes
//! the validator set and member names from it, and for every event checks what `grpc::proof`
//! checks: the header names the chain and the genesis validator set; the commit certificate's
//! precommit signatures (exact borsh vote bytes) from validators holding more than 2/3 of the
//! power finalise the header; the Merkle path leads from the leaf to the header's `tx_root`; the
//! event's disclosure (public fields opened with their salts, commercial fields as salted
//! hashes: `ledger::event_fields`) recomputes the leaf and the event's tx id; every public field
//! is opened; the signed event names the scanned item; every field the timeline shows (time and
//! zone, recording org, type, eventID, action, bizStep, disposition, readPoint, bizLocation,
//! UN/LOCODE, customs step, error declaration) is the signed one; each chain links from the zero hash through
//! `prev_event_hash` → `event_hash` to the item's head; and each chain's head proof: the item's
//! public head (`ItemHead`) under the state root of a certified block, for the state key of the
//! scanned item (each container: of the container the previous proven head names), holding
//! exactly the chain's event count and last event hash, and the customs status the page shows; and
//! the certificate of origin's and the waybill's public heads under the same root, saying what
//! the page shows (the route: the item's waybill, or failing that its innermost container's, as
//! `grpc::journey` picks it; the route line is redrawn from the proven head). It then redraws
//! the timeline from the verified data and shows "verified: committed by k of n
//! validators · complete as of block h, <time>" (k: the fewest signers of any event's
//! certificate; n: the genesis set), or "not verified: <reason>".
//!
//! Not proven by the page (and labelled so): the commercial fields of an event (withheld: only
//! their salted hashes are given, which prove they exist and were signed); names of orgs that are
//! not genesis members; events after the proven height (the page says which block it is
//! complete as of); validator-set changes after genesis (a header certified by a later set fails, as in
//! `grpc::proof`). The trust anchor is the genesis the page embeds: a node that serves a forged
//! genesis *and* forged certificates passes, which is why the page shows the full genesis hash to
//! compare with the consortium's published one. `crypto.subtle` exists only in secure contexts
//! (https, localhost): elsewhere (a phone on `http://192.168.x.y`) the page says it cannot verify
//! there and why, and keeps the node's timeline.
//!
//! Invariants: the page shows only what the public `GetProvenance` shows (the same assembly,
//! `provenance::assemble_with_containers`, so no private commercial data; commercial fields appear
//! only as salted hashes), plus the genesis (members, public keys, parameters); every text taken from
//! the ledger is HTML-escaped, and the embedded JSON cannot close its `<script>` element; a bad
//! identifier is 400 naming the problem, an unknown item 404.
use crate::grpc::backend::Backend;
use crate::grpc::journey::{fmt_time, journey, what};
use crate::grpc::provenance::assemble_with_containers;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;
use tradechain_proto::v1;

/// Where the page's verifier script is served (a fixed path on every node's HTTP port).
pub const VERIFY_JS_PATH: &str = "/resolver/verify.js";
/// The browser-side verifier: plain JavaScript, compiled into the binary.
pub const VERIFY_JS: &str = include_str!("resolver/verify.js");

/// Events shown on one page (the first page of the item's timeline; more via gRPC).
const PAGE: usize = 500;

pub fn router(backend: Arc<dyn Backend>) -> Router {
    Router::new()
        .route("/01/{*rest}", get(resolve))
        .route("/00/{*rest}", get(resolve))
        .route(VERIFY_JS_PATH, get(verify_js))
        .with_state(backend)
}

async fn verify_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        VERIFY_JS,
    )
        .into_response()
}

fn wants_json(headers: &HeaderMap, uri: &Uri) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") || uri.query().is_some_and(|q| q.contains("linkType=gs1:traceability"))
}

async fn resolve(State(b): State<Arc<dyn Backend>>, headers: HeaderMap, uri: Uri) -> Response {
    let json = wants_json(&headers, &uri);
    let link = format!("https://id.gs1.org{}", uri.path());
    type Answer = (v1::ProvenanceReply, Vec<u8>);
    let answer = tokio::task::spawn_blocking(move || -> Result<Answer, (StatusCode, String)> {
        // The strict GS1 parser (check digits, AI order), whatever else the backend accepts.
        let key = tradechain_ledger::gs1::goods_key(&link).map_err(|e| (StatusCode::BAD_REQUEST, e.0))?;
        let genesis = tradechain_ledger::codec::encode(b.genesis());
        let reply = assemble_with_containers(b.as_ref(), &key, 0, PAGE, true).map_err(|s| {
            let code = match s.code() {
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (code, s.message().to_string())
        })?;
        Ok((reply, genesis))
    })
    .await;
    let (reply, genesis) = match answer {
        Ok(Ok(r)) => r,
        Ok(Err((code, msg))) => return error(code, &msg, json),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), json),
    };
    let pages = [reply];
    let Some(j) = journey(&pages) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "empty reply", json);
    };
    let mut data = j.to_json("https://id.gs1.org", None);
    data["proofs"] = proofs_json(j.item, &genesis);
    if json {
        return ([(header::CONTENT_TYPE, "application/json")], data.to_string()).into_response();
    }
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page(&j, &data)).into_response()
}

/// The proof material of a reply as JSON (the `proofs` field of the page's data and of the JSON
/// answer): the genesis borsh, then per chain (the item's, then each container's) every entry's
/// shown fields and the hex of its `EventProof` bytes. `resolver/verify.js` reads exactly this.
pub fn proofs_json(item: &v1::ProvenanceReply, genesis_borsh: &[u8]) -> Value {
    let chain = |r: &v1::ProvenanceReply| {
        json!({
            "goods_key": r.goods_key,
            "last_event_hash": r.summary.as_ref().map(|s| s.last_event_hash.as_str()).unwrap_or(""),
            "complete": r.next_page_token.is_empty(),
            "entries": r.timeline.iter().map(entry_json).collect::<Vec<_>>(),
            "head": r.head.as_ref().map(|h| json!({
                "item_head": hex::encode(&h.item_head_borsh),
                "header": hex::encode(&h.block_header_borsh),
                "certificate": hex::encode(&h.commit_certificate_borsh),
                "state_proof": hex::encode(&h.state_proof_borsh),
                "certificate_head": hex::encode(&h.certificate_head_borsh),
                "certificate_proof": hex::encode(&h.certificate_proof_borsh),
                "waybill_head": hex::encode(&h.waybill_head_borsh),
                "waybill_proof": hex::encode(&h.waybill_proof_borsh),
            })),
        })
    };
    json!({
        "genesis_borsh": hex::encode(genesis_borsh),
        "chains": std::iter::once(item).chain(&item.containers).map(chain).collect::<Vec<_>>(),
    })
}

fn entry_json(e: &v1::TimelineEntry) -> Value {
    let mut v = json!({
        "seq": e.seq, "tx_id": e.tx_id, "time_ms": e.event_time_ms, "type": e.event_type,
        "action": e.action, "biz_step": e.biz_step, "disposition": e.disposition,
        "read_point": e.read_point, "unlocode": e.unlocode, "customs_step": e.customs_step,
        "event_id": e.event_id, "tz_min": e.event_time_zone_offset_min, "biz_location": e.biz_location,
        "error_declaration": e.error_declaration,
        "org": e.org, "org_name": e.org_name, "roles": e.roles,
        "height": e.location.map(|l| l.height), "index": e.location.map(|l| l.index),
    });
    if let Some(p) = &e.proof {
        v["proof"] = json!({
            "header": hex::encode(&p.block_header_borsh),
            "certificate": hex::encode(&p.commit_certificate_borsh),
            "inclusion": p.inclusion.as_ref().map(|i| hex::encode(&i.proof_borsh)).unwrap_or_default(),
            "leaf_hash": hex::encode(&p.leaf_hash),
            "outcome": p.outcome.as_ref().map(|i| hex::encode(&i.proof_borsh)).unwrap_or_default(),
            "disclosure": hex::encode(&p.disclosure_borsh),
            "redacted": p.tx_redacted,
            "event_ref": hex::encode(&p.event_ref_borsh),
            "prev_event_hash": p.prev_event_hash,
            "event_hash": p.event_hash,
        });
    }
    v
}

/// JSON to embed in a `<script type=application/json>`: no `<` (so no `</script>`), and no
/// `&`/`>` either; JSON reads `\u003c` back as `<`.
fn script_json(v: &Value) -> String {
    v.to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

fn error(code: StatusCode, msg: &str, json: bool) -> Response {
    if json {
        let body = serde_json::json!({ "error": msg }).to_string();
        return (code, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let body = format!(
        "{HEAD}<title>Not found</title></head><body><h1>{}</h1><p>{}</p></body></html>",
        esc(code.canonical_reason().unwrap_or("Error")),
        esc(msg)
    );
    (code, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// Minimal HTML escaping for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const HEAD: &str = "<!doctype html><html lang=en><head><meta charset=utf-8>\
<meta name=viewport content=\"width=device-width,initial-scale=1\">\
<style>body{font:16px/1.45 system-ui,sans-serif;margin:1rem auto;max-width:46rem;padding:0 1rem;color:#111}\
h1{font-size:1.3rem}.k{font-family:monospace;color:#555}section{margin:.6rem 0}\
ol{list-style:none;padding:0;border-left:3px solid #2a7;margin-left:.4rem}\
li{padding:.3rem .8rem;position:relative}li:before{content:'';position:absolute;left:-.45rem;top:.7rem;\
width:.6rem;height:.6rem;border-radius:50%;background:#2a7}time{color:#555;font-size:.9rem}\
.on{color:#777;font-size:.85rem}.ok{color:#176b3a;font-weight:600}.warn{color:#a40;font-weight:600}\
.note{color:#555;font-size:.85rem;border-top:1px solid #ddd;padding-top:.5rem}\
.badge{padding:.5rem .7rem;border-radius:.4rem;font-weight:600;background:#eee;color:#333}\
.badge.yes{background:#dff3e6;color:#125a2f}.badge.no{background:#fbe0dc;color:#8a1c0c}\
.badge.cannot{background:#fff1d6;color:#7a4a00}.pf{font-size:.8rem;color:#176b3a}.np{font-size:.8rem;color:#a40}\
.hash{font-family:monospace;word-break:break-all}</style>";

fn page(j: &crate::grpc::journey::Journey<'_>, data: &Value) -> String {
    let item = j.item;
    let mut h = String::with_capacity(4096);
    h.push_str(HEAD);
    h.push_str(&format!(
        "<title>Provenance of {}</title></head><body>",
        esc(&item.goods_key)
    ));
    h.push_str(&format!(
        "<h1>Where this item has been</h1><p class=k>{}</p>",
        esc(&item.goods_key)
    ));
    h.push_str(
        "<p id=tc-badge class=badge>Checking the proofs in this browser…</p><noscript><p class=\"badge cannot\">\
         JavaScript is off: this page cannot check its proofs here.</p></noscript>",
    );
    if let Some(c) = &item.certificate_of_origin {
        use v1::certificate_of_origin_status::State;
        let (class, state) = match c.state() {
            State::Valid => ("ok", "valid"),
            State::Revoked => ("warn", "REVOKED"),
            State::Unknown => ("warn", "not found on the ledger"),
            _ => ("", "none"),
        };
        if c.state() != State::None {
            h.push_str(&format!(
                "<section id=tc-origin>Certificate of origin: <span class={class}>{state}</span> — {} {}, origin {}</section>",
                esc(&c.issuer),
                esc(&c.number),
                esc(&c.origin_country)
            ));
        }
    }
    if let Some((c, on)) = j.customs {
        use v1::customs_status::State;
        let (class, state) = match c.state() {
            State::Released => ("ok", "released"),
            State::Held => ("warn", "held"),
            State::Declared => ("", "declared"),
            _ => ("", "none"),
        };
        let on = if on.is_empty() {
            String::new()
        } else {
            format!(" <span class=on>(recorded on {})</span>", esc(on))
        };
        h.push_str(&format!(
            "<section id=tc-customs>Customs: <span class={class}>{state}</span>{on}</section>"
        ));
    }
    if let Some((r, _)) = j.route {
        h.push_str(&format!(
            "<section id=tc-route>Route: {} {} → {} by {} ({})</section>",
            esc(&r.mode),
            esc(&r.port_of_loading),
            esc(&r.port_of_discharge),
            esc(&r.carrier),
            esc(&r.vehicle)
        ));
    }
    h.push_str(&format!(
        "<h2 id=tc-count>{} events</h2><ol id=tc-timeline>",
        j.events.len()
    ));
    for (on, e) in &j.events {
        let who = if e.org_name.is_empty() { &e.org } else { &e.org_name };
        let on = if on.is_empty() {
            String::new()
        } else {
            format!(" <span class=on>on {}</span>", esc(on))
        };
        h.push_str(&format!(
            "<li><time>{}</time> <b>{}</b> at {} — {} ({}) · block {}{on}</li>",
            esc(&fmt_time(e.event_time_ms)),
            esc(&what(e)),
            esc(&e.unlocode),
            esc(who),
            esc(&e.roles.join(", ")),
            e.location.map(|l| l.height).unwrap_or(0)
        ));
    }
    h.push_str("</ol>");
    if !item.next_page_token.is_empty() {
        h.push_str(&format!("<p>Only the first {PAGE} events are shown here.</p>"));
    }
    h.push_str(&format!(
        "<p class=note id=tc-note>Recorded on the permissioned ledger <b>{}</b> (genesis <span class=hash>{}</span>). Every event \
         carries a commit certificate, a Merkle inclusion proof and the item's event-hash chain; this page \
         checks them in your browser against the validator set of the genesis it embeds. Offline: \
         <code>tradechain query provenance {} --verify genesis.json</code>.</p>",
        esc(&item.chain_id),
        esc(&item.genesis_hash),
        esc(&item.goods_key)
    ));
    h.push_str(&format!(
        "<script type=application/json id=tc-data>{}</script><script src={VERIFY_JS_PATH}></script></body></html>",
        script_json(data)
    ));
    h
}
