//! The GS1 Digital Link resolver, served over HTTP beside gRPC: what a phone opens when it scans
//! a goods label. `GET /01/{gtin}/21/{serial}` (a serialised item), `/01/{gtin}/10/{lot}` (a lot),
//! `/00/{sscc}` (a logistic unit) — check digits validated — answers with the item's journey
//! (`grpc::journey`): an HTML page for a browser, or JSON when the client asks for
//! `application/json` or `?linkType=gs1:traceability`.
//!
//! Invariants: the page shows only what the public `GetProvenance` shows (the same assembly,
//! `provenance::assemble_with_containers`, so no private commercial data); every text taken from
//! the ledger is HTML-escaped; a bad identifier is 400 naming the problem, an unknown item 404.
//! Proofs are not verified by this page: it says so, and points to `tradechain verify-proof`.
use crate::grpc::backend::Backend;
use crate::grpc::journey::{fmt_time, journey, what};
use crate::grpc::provenance::assemble_with_containers;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::Arc;
use tradechain_proto::v1;

/// Events shown on one page (the first page of the item's timeline; more via gRPC).
const PAGE: usize = 500;

pub fn router(backend: Arc<dyn Backend>) -> Router {
    Router::new()
        .route("/01/{*rest}", get(resolve))
        .route("/00/{*rest}", get(resolve))
        .with_state(backend)
}

fn wants_json(headers: &HeaderMap, uri: &Uri) -> bool {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    accept.contains("application/json") || uri.query().is_some_and(|q| q.contains("linkType=gs1:traceability"))
}

async fn resolve(State(b): State<Arc<dyn Backend>>, headers: HeaderMap, uri: Uri) -> Response {
    let json = wants_json(&headers, &uri);
    let link = format!("https://id.gs1.org{}", uri.path());
    let answer = tokio::task::spawn_blocking(move || -> Result<v1::ProvenanceReply, (StatusCode, String)> {
        // The strict GS1 parser (check digits, AI order), whatever else the backend accepts.
        let key = tradechain_ledger::gs1::goods_key(&link).map_err(|e| (StatusCode::BAD_REQUEST, e.0))?;
        assemble_with_containers(b.as_ref(), &key, 0, PAGE, false).map_err(|s| {
            let code = match s.code() {
                tonic::Code::NotFound => StatusCode::NOT_FOUND,
                tonic::Code::InvalidArgument => StatusCode::BAD_REQUEST,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (code, s.message().to_string())
        })
    })
    .await;
    let reply = match answer {
        Ok(Ok(r)) => r,
        Ok(Err((code, msg))) => return error(code, &msg, json),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), json),
    };
    let pages = [reply];
    let Some(j) = journey(&pages) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "empty reply", json);
    };
    if json {
        let body = j.to_json("https://id.gs1.org", None).to_string();
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page(&j)).into_response()
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
.note{color:#555;font-size:.85rem;border-top:1px solid #ddd;padding-top:.5rem}</style>";

fn page(j: &crate::grpc::journey::Journey<'_>) -> String {
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
                "<section>Certificate of origin: <span class={class}>{state}</span> — {} {}, origin {}</section>",
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
            "<section>Customs: <span class={class}>{state}</span>{on}</section>"
        ));
    }
    if let Some((r, _)) = j.route {
        h.push_str(&format!(
            "<section>Route: {} {} → {} by {} ({})</section>",
            esc(&r.mode),
            esc(&r.port_of_loading),
            esc(&r.port_of_discharge),
            esc(&r.carrier),
            esc(&r.vehicle)
        ));
    }
    h.push_str(&format!("<h2>{} events</h2><ol>", j.events.len()));
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
        "<p class=note>Recorded on the permissioned ledger <b>{}</b> (genesis {}). Every event carries a \
         commit certificate, a Merkle inclusion proof and the item's event-hash chain; this page does not \
         check them itself — check them offline with <code>tradechain query provenance {} --verify genesis.json</code>.</p>",
        esc(&item.chain_id),
        esc(item.genesis_hash.get(..16).unwrap_or("")),
        esc(&item.goods_key)
    ));
    h.push_str("</body></html>");
    h
}
