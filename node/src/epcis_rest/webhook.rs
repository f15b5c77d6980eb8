//! Webhook subscriptions of the REST binding: `POST /queries/{name}/subscriptions` with
//! `{"dest": "http://…", "signatureToken": "…", "stream": true}` (GS1's
//! `AbstractQuerySubscription` + `QueryStreamSubscription`) makes the node POST every newly
//! committed event matching the named query to `dest`, as `EPCISQueryDocument`s (the public view,
//! the same messages as a WebSocket stream: `queryName`, `subscriptionID`, the events and
//! `tradechain:resumeToken`, the position after the last event).
//!
//! Supported fields of the request: `dest` (required; `http://` only — this node has no TLS
//! client, so `https://` is refused with 400 rather than sent in clear), `stream` (must be
//! `true`), `signatureToken` (optional: every delivery then carries
//! `GS1-Signature: sha256=<hex HMAC-SHA256(signatureToken, body)>`), `initialRecordTime` (start
//! with the history from that record time), `reportIfEmpty: false`, and the extension
//! `tradechain:resumeToken` (start exactly after a position: a token from a delivery or a
//! WebSocket message of the same query). Refused with 400: `schedule` and `reportIfEmpty: true`
//! (scheduled subscriptions are not implemented), unknown fields. The answer (201, `Location:
//! /queries/{name}/subscriptions/{id}`) and `GET` of that resource never show the token.
//!
//! Who: a webhook is an outbound request the node makes on a member's behalf, so creating one
//! needs an org-signed request (`epcis_rest::auth`, the headers of capture; each signed request
//! accepted once); the subscription belongs to that org, and only it reads its details (`GET
//! …/subscriptions/{id}`: `dest`, `lastNotifiedAt`, failures, its position) or deletes it
//! (`DELETE`, 204). The anonymous list of a query's subscriptions shows a webhook's id and
//! creation time, never its `dest`.
//!
//! Delivery (one task per webhook):
//! - At least once, in record order, once per subscriber: the subscription keeps its position
//!   (the chain position of `subscribe::next_batch`, the one the WebSocket resume uses) and moves
//!   it only when the receiver answers 2xx. A failure (refused connection, timeout, non-2xx,
//!   redirect) retries the same batch with exponential backoff (`retry_min` doubling to
//!   `retry_max`), so a receiver that was down gets what it missed, in order, and nothing twice
//!   — unless it answered 2xx and the answer was lost, the one duplicate at-least-once allows;
//!   its `tradechain:resumeToken` tells a receiver which batch it already has.
//! - Never on the commit path: a webhook task wakes on the commit broadcast (a lagging task
//!   only re-reads from its position) or every `IDLE_RECHECK`, reads through the query gate, and
//!   holds no queue of events — a dead or slow receiver delays only its own webhook.
//! - Bounded: `max_per_org` webhooks per org and `max_total` per node (then 429 / 503), each
//!   delivery within `timeout` (connect, send, response head; the response body is not read),
//!   each body at most `max_body_bytes` (a batch above it is halved; a single event above it is
//!   sent alone — the chain's transaction size limit bounds it), at most `subscribe::BATCH`
//!   events per POST.
//! - SSRF: the destination is resolved at creation and again before every delivery, and the
//!   connection goes to an address that passed the check: loopback, private (RFC 1918, unique
//!   local), link-local (cloud metadata at 169.254.169.254), CGNAT, unspecified, multicast,
//!   broadcast, documentation and reserved addresses are refused unless
//!   `allow_private_destinations` is set (default: off; set it only where every member may
//!   reach the node's own network). Credentials in the URL are refused; redirects are not
//!   followed.
//! - Webhooks live in memory: a restart forgets them (the owner re-creates one with the
//!   `tradechain:resumeToken` of the last delivery it processed: nothing lost, nothing twice).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{broadcast, watch};
use tradechain_ledger::epcis::time;
use tradechain_ledger::identity::OrgId;

use super::auth::{self, ReplayGuard};
use super::filter::{EventFilter, ParamError};
use super::query::{self, Cursor};
use super::subscribe::{self, BATCH, IDLE_RECHECK, MAX_QUERY_BODY};
use super::{Problem, Rest, path_value, respond, set};

/// Longest `dest` URL.
pub const MAX_DEST_BYTES: usize = 2048;
/// Longest `signatureToken`.
pub const MAX_TOKEN_BYTES: usize = 1024;
/// Addresses of one destination tried per delivery at most.
const MAX_ADDRESSES: usize = 8;

/// `[http.epcis_webhooks]`: the bounds of webhook subscriptions.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Deliver to loopback, private, link-local and other non-global addresses (off: refused).
    pub allow_private_destinations: bool,
    /// Webhooks one org may hold.
    pub max_per_org: usize,
    /// Webhooks on this node.
    pub max_total: usize,
    /// One delivery: connect, send and the response's head.
    pub timeout: Duration,
    /// One delivery's body.
    pub max_body_bytes: usize,
    /// How far a signed request's time may be from the node's clock.
    pub auth_skew_ms: u64,
    /// First retry delay after a failed delivery (doubling on each failure).
    pub retry_min: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            allow_private_destinations: false,
            max_per_org: 4,
            max_total: 256,
            timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            auth_skew_ms: 60_000,
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(60),
        }
    }
}

/// The webhook side of one HTTP server: its bounds and the replay guard of its signed requests.
pub struct Webhooks {
    config: WebhookConfig,
    replay: ReplayGuard,
}

impl Webhooks {
    pub fn new(config: WebhookConfig) -> Webhooks {
        Webhooks {
            config,
            replay: ReplayGuard::default(),
        }
    }
}

/// What a webhook's task reports (for its owner's `GET`).
#[derive(Default)]
struct Progress {
    token: String,
    last_notified_ms: Option<i64>,
    delivered: u64,
    failures: u32,
    last_error: Option<String>,
}

/// A webhook subscription in the registry (`subscribe::Registry::hooks`). Removing it stops its
/// task (the task watches `_stop`'s channel).
pub(super) struct Hook {
    id: String,
    pub(super) query: String,
    org: OrgId,
    dest: String,
    created_ms: i64,
    initial_record_time: Option<i64>,
    progress: Arc<Mutex<Progress>>,
    _stop: watch::Sender<()>,
}

impl Hook {
    /// What anyone may see: the id, the creation time, the kind of delivery.
    pub(super) fn public_json(&self) -> Value {
        json!({"subscriptionID": self.id, "createdAt": time::render_ms(self.created_ms), "stream": true,
            "tradechain:delivery": "webhook"})
    }
    /// What its owner sees (`AbstractQuerySubscriptionResponse`, without the token).
    fn owner_json(&self) -> Value {
        let p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        let mut v = json!({
            "subscriptionID": self.id,
            "queryName": self.query,
            "dest": self.dest,
            "stream": true,
            "createdAt": time::render_ms(self.created_ms),
            "tradechain:owner": self.org.as_str(),
            "tradechain:resumeToken": p.token,
            "tradechain:deliveredEvents": p.delivered,
            "tradechain:consecutiveFailures": p.failures,
        });
        if let Some(t) = p.last_notified_ms {
            v["lastNotifiedAt"] = json!(time::render_ms(t));
        }
        if let Some(t) = self.initial_record_time {
            v["initialRecordTime"] = json!(time::render_ms(t));
        }
        if let Some(e) = &p.last_error {
            v["tradechain:lastError"] = json!(e);
        }
        v
    }
}

/// A checked `dest`: an absolute `http://` URL without credentials.
#[derive(Clone, Debug)]
pub struct Dest {
    url: String,
    host: String,
    port: u16,
    authority: String,
    path: String,
}

/// Parse a webhook destination (the scheme, host and shape; addresses are checked by `resolve`).
pub fn parse_dest(text: &str) -> Result<Dest, String> {
    if text.len() > MAX_DEST_BYTES {
        return Err(format!("is {} bytes, above the limit of {MAX_DEST_BYTES}", text.len()));
    }
    let uri: Uri = text.parse().map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(format!(
                "{text:?}: https destinations are not supported by this node (it has no TLS client, and will not \
                 downgrade to http); use an http:// receiver on a network path you trust"
            ));
        }
        Some(other) => return Err(format!("{text:?}: scheme {other:?} is not http")),
        None => return Err(format!("{text:?} is not an absolute http:// URL")),
    }
    let authority = uri.authority().ok_or_else(|| format!("{text:?} has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("{text:?}: credentials in the URL are not allowed"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    if host.is_empty() {
        return Err(format!("{text:?} has no host"));
    }
    Ok(Dest {
        url: text.to_string(),
        host,
        port: authority.port_u16().unwrap_or(80),
        authority: authority.as_str().to_string(),
        path: uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string(),
    })
}

/// Whether `ip` is a global unicast address (not loopback, private, link-local, CGNAT,
/// unspecified, multicast, broadcast, documentation or reserved).
pub fn is_global(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => is_global_v4(a),
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return is_global_v4(v4);
            }
            let s = a.segments();
            let first = s.first().copied().unwrap_or(0);
            !(a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || (first == 0x2001 && s.get(1).copied() == Some(0x0db8)) // documentation
                || a == Ipv6Addr::from([0u16, 0, 0, 0, 0, 0xffff, 0, 0]))
        }
    }
}

fn is_global_v4(a: Ipv4Addr) -> bool {
    let [b0, b1, _, _] = a.octets();
    !(a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_documentation()
        || b0 == 0
        || (b0 == 100 && (64..128).contains(&b1)) // shared address space (CGNAT)
        || (b0 == 192 && b1 == 0) // IETF protocol assignments
        || (b0 == 198 && (18..20).contains(&b1)) // benchmarking
        || b0 >= 240)
}

/// The destination's addresses that may be connected to (at least one, else why not).
async fn resolve(dest: &Dest, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let all: Vec<SocketAddr> = tokio::net::lookup_host((dest.host.as_str(), dest.port))
        .await
        .map_err(|e| format!("{}: does not resolve: {e}", dest.host))?
        .take(MAX_ADDRESSES)
        .collect();
    if all.is_empty() {
        return Err(format!("{}: resolves to no address", dest.host));
    }
    let ok: Vec<SocketAddr> = all
        .iter()
        .copied()
        .filter(|a| allow_private || is_global(a.ip()))
        .collect();
    if ok.is_empty() {
        let list: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
        return Err(format!(
            "{}: resolves only to private or reserved addresses ({}); this node delivers to them only with \
             [http.epcis_webhooks] allow_private_destinations = true",
            dest.host,
            list.join(", ")
        ));
    }
    Ok(ok)
}

/// `GS1-Signature` of a body: HMAC-SHA256 keyed with the subscriber's `signatureToken`.
pub fn signature(token: &str, body: &[u8]) -> String {
    match Hmac::<Sha256>::new_from_slice(token.as_bytes()) {
        Ok(mut m) => {
            m.update(body);
            format!("sha256={}", hex::encode(m.finalize().into_bytes()))
        }
        // HMAC takes keys of any length; unreachable, and a delivery without a valid signature
        // is refused by a receiver that checks it.
        Err(_) => String::new(),
    }
}

/// POST `body` to `dest` once: Ok on a 2xx answer, else why not. Bounded by `cfg.timeout`.
async fn deliver(cfg: &WebhookConfig, dest: &Dest, id: &str, body: Bytes, token: Option<&str>) -> Result<(), String> {
    let attempt = async {
        let addrs = resolve(dest, cfg.allow_private_destinations).await?;
        let mut last = String::new();
        let mut stream = None;
        for a in addrs {
            match tokio::net::TcpStream::connect(a).await {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = format!("{a}: {e}"),
            }
        }
        let stream = stream.ok_or_else(|| format!("cannot connect: {last}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        let mut req = Request::post(dest.path.as_str())
            .header(header::HOST, dest.authority.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header("gs1-epcis-version", super::EPCIS_VERSION)
            .header("gs1-cbv-version", super::CBV_VERSION)
            .header("gs1-query-subscription-id", id)
            .header(header::USER_AGENT, concat!("tradechain/", env!("CARGO_PKG_VERSION")));
        if let Some(t) = token {
            req = req.header("gs1-signature", signature(t, &body));
        }
        let req = req.body(Full::new(body)).map_err(|e| format!("request: {e}"))?;
        let send = sender.send_request(req);
        tokio::pin!(conn);
        let resp = tokio::select! {
            r = send => r.map_err(|e| format!("HTTP: {e}"))?,
            c = &mut conn => return Err(match c {
                Ok(()) => "the receiver closed the connection".to_string(),
                Err(e) => format!("HTTP: {e}"),
            }),
        };
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    };
    match tokio::time::timeout(cfg.timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} ms", cfg.timeout.as_millis())),
    }
}

fn backoff(cfg: &WebhookConfig, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    cfg.retry_min.saturating_mul(factor).min(cfg.retry_max)
}

/// One webhook's delivery loop (see the module doc): ends when its registry entry goes.
#[allow(clippy::too_many_arguments)]
async fn run(
    s: Rest,
    id: String,
    name: String,
    filter: Arc<EventFilter>,
    fp: String,
    mut pos: Cursor,
    dest: Dest,
    token: Option<String>,
    progress: Arc<Mutex<Progress>>,
    mut stop: watch::Receiver<()>,
) {
    let cfg = s.webhooks.config.clone();
    let mut commits = s.backend.subscribe_commits();
    let mut failures: u32 = 0;
    let mut max = BATCH;
    let note = |f: &dyn Fn(&mut Progress)| f(&mut progress.lock().unwrap_or_else(|e| e.into_inner()));
    loop {
        let mut wait = IDLE_RECHECK;
        // Deliver from the position until caught up, or until a delivery fails.
        loop {
            if stop.has_changed().is_err() {
                return;
            }
            let batch = match subscribe::next_batch(&s, &filter, pos, max).await {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(p) => {
                    // A busy gate or a read failure: retry later from the same position.
                    failures = failures.saturating_add(1);
                    wait = backoff(&cfg, failures);
                    note(&|g: &mut Progress| {
                        g.failures = failures;
                        g.last_error = Some(p.detail.clone());
                    });
                    break;
                }
            };
            let after_token = query::encode_token(batch.after, &fp);
            if batch.events.is_empty() {
                pos = batch.after;
                note(&|g: &mut Progress| g.token = after_token.clone());
                if batch.caught_up {
                    break;
                }
                continue;
            }
            let text = match subscribe::message(&batch.events, &name, &id, &after_token) {
                Ok(t) => t,
                Err(e) => {
                    tracing::error!(subscription = %id, "a committed event does not export: {e}");
                    return;
                }
            };
            if text.len() > cfg.max_body_bytes && batch.events.len() > 1 {
                max = (batch.events.len() / 2).max(1);
                continue;
            }
            let n = batch.events.len() as u64;
            match deliver(&cfg, &dest, &id, Bytes::from(text), token.as_deref()).await {
                Ok(()) => {
                    pos = batch.after;
                    failures = 0;
                    max = BATCH;
                    note(&|g: &mut Progress| {
                        g.token = after_token.clone();
                        g.last_notified_ms = Some(crate::clock::now_ms());
                        g.delivered = g.delivered.saturating_add(n);
                        g.failures = 0;
                        g.last_error = None;
                    });
                    if batch.caught_up {
                        break;
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    wait = backoff(&cfg, failures);
                    tracing::debug!(subscription = %id, dest = %dest.url, failures, "webhook delivery failed: {e}");
                    note(&|g: &mut Progress| {
                        g.failures = failures;
                        g.last_error = Some(e.clone());
                    });
                    break;
                }
            }
        }
        tokio::select! {
            _ = stop.changed() => return,
            r = commits.recv(), if failures == 0 => {
                if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

fn auth_problem(e: auth::AuthError) -> Problem {
    super::auth_problem(e)
}

fn field(name: &str, detail: impl Into<String>) -> Problem {
    Problem::param(ParamError::new(name, detail))
}

fn too_many(detail: String) -> Problem {
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "epcisException:SubscriptionControlsException",
        "Too many subscriptions",
        detail,
    )
}

/// What a creation request asks for.
struct Ask {
    dest: Dest,
    token: Option<String>,
    initial: Option<i64>,
    resume: Option<String>,
}

fn read_ask(v: &Value) -> Result<Ask, Problem> {
    let Value::Object(m) = v else {
        return Err(field("body", "must be a JSON object (dest, stream, signatureToken…)"));
    };
    let text = |k: &str| -> Result<Option<&str>, Problem> {
        match m.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => Err(field(k, "must be a string")),
        }
    };
    let mut stream = false;
    for (k, v) in m {
        match k.as_str() {
            "dest" | "signatureToken" | "initialRecordTime" | "tradechain:resumeToken" => {}
            "stream" => match v {
                Value::Bool(b) => stream = *b,
                _ => return Err(field(k, "must be true or false")),
            },
            "reportIfEmpty" if v == &Value::Bool(false) => {}
            "schedule" | "reportIfEmpty" => {
                let mut e = ParamError::new(
                    k,
                    "scheduled subscriptions are not supported: subscribe with stream: true",
                );
                e.unsupported = true;
                return Err(Problem::param(e));
            }
            _ => {
                return Err(field(
                    k,
                    "is not a field of a subscription (dest, stream, signatureToken, initialRecordTime, reportIfEmpty, \
                     tradechain:resumeToken)",
                ));
            }
        }
    }
    if !stream {
        return Err(field(
            "stream",
            "must be true: this node delivers every new matching event (scheduled subscriptions are not supported)",
        ));
    }
    let dest = text("dest")?.ok_or_else(|| field("dest", "is missing (the webhook's http:// URL)"))?;
    let dest = parse_dest(dest).map_err(|e| field("dest", e))?;
    let token = text("signatureToken")?.map(str::to_string);
    if let Some(t) = &token
        && (t.is_empty() || t.len() > MAX_TOKEN_BYTES)
    {
        return Err(field("signatureToken", format!("must be 1-{MAX_TOKEN_BYTES} bytes")));
    }
    let initial = text("initialRecordTime")?
        .map(|t| time::parse_ms(t).map_err(|e| field("initialRecordTime", e)))
        .transpose()?;
    Ok(Ask {
        dest,
        token,
        initial,
        resume: text("tradechain:resumeToken")?.map(str::to_string),
    })
}

/// `POST /queries/{name}/subscriptions`: create a webhook (org-signed).
pub(super) async fn create(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Response {
    respond(create_inner(&s, p, &headers, &uri, body).await)
}

async fn create_inner(
    s: &Rest,
    p: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    uri: &Uri,
    body: Body,
) -> Result<Response, Problem> {
    let name = path_value(p, "queryName")?;
    let bytes = axum::body::to_bytes(body, MAX_QUERY_BODY).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "epcisException:ValidationException",
            "Subscription too large",
            format!("a subscription request is at most {MAX_QUERY_BODY} bytes"),
        )
    })?;
    let cfg = &s.webhooks.config;
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let caller = auth::authenticate(
        s.backend.as_ref(),
        headers,
        "POST",
        pq,
        &bytes,
        None,
        crate::clock::now_ms(),
        cfg.auth_skew_ms,
        Some(&s.webhooks.replay),
    )
    .map_err(auth_problem)?;
    let media = super::media_type(headers);
    if !matches!(media.as_str(), "application/json" | "application/ld+json") {
        let mut p = Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "epcisException:UnsupportedMediaTypeException",
            "Unsupported media type",
            format!("Content-Type {media:?}: send the subscription as application/json"),
        );
        p.parameter = Some("Content-Type".into());
        return Err(p);
    }
    let params = s.queries.params(&name).ok_or_else(|| subscribe::unknown_query(&name))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "epcisException:ValidationException",
            "Invalid subscription",
            format!("not JSON: {e}"),
        )
    })?;
    let ask = read_ask(&v)?;
    match tokio::time::timeout(cfg.timeout, resolve(&ask.dest, cfg.allow_private_destinations)).await {
        Ok(r) => r.map_err(|e| field("dest", e))?,
        Err(_) => {
            return Err(field(
                "dest",
                format!("{}: no address within the delivery timeout", ask.dest.host),
            ));
        }
    };
    let b = s.backend.clone();
    let gk = |x: &str| b.goods_key(x).ok();
    let filter = Arc::new(EventFilter::from_params(&params, &gk).map_err(Problem::param)?);
    let fp = subscribe::subscription_fingerprint(&name, &params);
    let start = subscribe::start_position(s, ask.resume.as_deref(), ask.initial, &fp, "tradechain:resumeToken").await?;
    let org = caller.id().clone();
    let id = s.queries.new_id();
    let (stop_tx, stop_rx) = watch::channel(());
    let progress = Arc::new(Mutex::new(Progress {
        token: query::encode_token(start, &fp),
        ..Progress::default()
    }));
    let hook = Hook {
        id: id.clone(),
        query: name.clone(),
        org: org.clone(),
        dest: ask.dest.url.clone(),
        created_ms: crate::clock::now_ms(),
        initial_record_time: ask.initial,
        progress: progress.clone(),
        _stop: stop_tx,
    };
    let shown = hook.owner_json();
    {
        let mut r = s.queries.reg();
        let mine = r.hooks.iter().filter(|h| h.org == org).count();
        if mine >= cfg.max_per_org {
            return Err(too_many(format!(
                "{org} holds {mine} webhook subscriptions, the limit per org ({}); delete one first",
                cfg.max_per_org
            )));
        }
        if r.hooks.len() >= cfg.max_total {
            return Err(Problem::busy(format!(
                "this node holds {} webhook subscriptions, its limit; retry later",
                cfg.max_total
            )));
        }
        r.hooks.push(hook);
    }
    tracing::info!(subscription = %id, org = %org, query = %name, dest = %ask.dest.url, "webhook subscription created");
    tokio::spawn(run(
        s.clone(),
        id.clone(),
        name.clone(),
        filter,
        fp,
        start,
        ask.dest,
        ask.token,
        progress,
        stop_rx,
    ));
    let mut resp = (StatusCode::CREATED, shown.to_string()).into_response();
    set(resp.headers_mut(), "content-type", "application/json");
    set(
        resp.headers_mut(),
        "location",
        &format!("/queries/{name}/subscriptions/{id}"),
    );
    set(resp.headers_mut(), "gs1-query-subscription-id", &id);
    Ok(resp)
}

fn no_subscription(name: &str, id: &str) -> Problem {
    Problem::not_found(format!("query {name} has no subscription {id}"))
}

/// The owner of webhook `id` of query `name`, authenticated (else 401/403/404).
fn owned(s: &Rest, name: &str, id: &str, headers: &HeaderMap, method: &str, uri: &Uri) -> Result<(), Problem> {
    let owner = {
        let r = s.queries.reg();
        r.hooks
            .iter()
            .find(|h| h.query == name && h.id == id)
            .map(|h| h.org.clone())
    };
    let owner = owner.ok_or_else(|| no_subscription(name, id))?;
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let replay = (method != "GET").then_some(&s.webhooks.replay);
    let caller = auth::authenticate(
        s.backend.as_ref(),
        headers,
        method,
        pq,
        b"",
        None,
        crate::clock::now_ms(),
        s.webhooks.config.auth_skew_ms,
        replay,
    )
    .map_err(auth_problem)?;
    if caller.id() != &owner {
        return Err(auth_problem(auth::AuthError::Forbidden(format!(
            "{} is authenticated, but subscription {id} belongs to another org",
            caller.id()
        ))));
    }
    Ok(())
}

/// `GET /queries/{name}/subscriptions/{id}`: a webhook's details to its owner (signed); a
/// WebSocket stream's public details to anyone.
pub(super) async fn get_one(
    State(s): State<Rest>,
    p: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    respond((|| -> Result<Response, Problem> {
        let (name, id) = two(p)?;
        if let Some(public) = subscribe::stream_json(&s, &name, &id) {
            return Ok(json_ok(public));
        }
        owned(&s, &name, &id, &headers, "GET", &uri)?;
        let r = s.queries.reg();
        let h = r
            .hooks
            .iter()
            .find(|h| h.query == name && h.id == id)
            .ok_or_else(|| no_subscription(&name, &id))?;
        Ok(json_ok(h.owner_json()))
    })())
}

/// `DELETE /queries/{name}/subscriptions/{id}`: its owner ends a webhook (204); its task stops.
pub(super) async fn delete_one(
    State(s): State<Rest>,
    p: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    respond((|| -> Result<Response, Problem> {
        let (name, id) = two(p)?;
        if subscribe::stream_json(&s, &name, &id).is_some() {
            return Err(field(
                "subscriptionID",
                "is a WebSocket stream: it ends when its client closes the socket",
            ));
        }
        owned(&s, &name, &id, &headers, "DELETE", &uri)?;
        s.queries.reg().hooks.retain(|h| !(h.query == name && h.id == id));
        tracing::info!(subscription = %id, query = %name, "webhook subscription deleted");
        Ok(StatusCode::NO_CONTENT.into_response())
    })())
}

fn two(p: Result<Path<(String, String)>, PathRejection>) -> Result<(String, String), Problem> {
    match p {
        Ok(Path((name, id))) => {
            let name = path_value(Ok(Path(name)), "queryName")?;
            let id = path_value(Ok(Path(id)), "subscriptionID")?;
            Ok((name, id))
        }
        Err(e) => Err(field("subscriptionID", e.body_text())),
    }
}

fn json_ok(v: Value) -> Response {
    let mut r = (StatusCode::OK, v.to_string()).into_response();
    set(r.headers_mut(), "content-type", "application/json");
    r
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn destinations_are_http_urls_without_credentials() {
        let d = parse_dest("http://example.com:8080/hook?x=1").unwrap();
        assert_eq!(
            (d.host.as_str(), d.port, d.path.as_str()),
            ("example.com", 8080, "/hook?x=1")
        );
        assert_eq!(parse_dest("http://[::1]/").unwrap().host, "::1");
        assert_eq!(parse_dest("http://example.com").unwrap().port, 80);
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "https://example.com/",
            "gopher://x/",
            "/relative",
            "http://user:pw@example.com/",
            "not a url",
        ] {
            assert!(parse_dest(bad).is_err(), "{bad}");
        }
        assert!(parse_dest(&format!("http://e.com/{}", "a".repeat(MAX_DEST_BYTES))).is_err());
    }

    #[test]
    fn only_global_addresses_pass_by_default() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_global(private.parse().unwrap()), "{private}");
        }
        for public in ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(is_global(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cfg = WebhookConfig {
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_millis(1000),
            ..WebhookConfig::default()
        };
        let d: Vec<u128> = (1..=6).map(|f| backoff(&cfg, f).as_millis()).collect();
        assert_eq!(d, vec![100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff(&cfg, u32::MAX).as_millis(), 1000);
    }
}
