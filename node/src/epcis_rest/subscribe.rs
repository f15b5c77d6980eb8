//! Named queries and their subscriptions (`/queries…` of the REST binding): WebSocket streams
//! here, webhooks in `webhook`; both move through the chain the one way this module defines
//! (`start_position`, `next_batch`, `message`).
//!
//! - `POST /queries` `{"name": …, "query": {"EQ_bizStep": ["shipping"], …}}` stores a named query
//!   (the `filter` parameters; array values are the `|` alternatives); 201 with `Location`;
//!   the same name again with the same query is 201 (idempotent), with another 409.
//!   `GET /queries` lists them, `GET /queries/{name}` shows one, `GET /queries/{name}/events` runs
//!   it like `/events` (paged, bounded).
//! - `GET /queries/{name}/subscriptions` with a WebSocket upgrade and `stream=true` opens a stream:
//!   every event committed after the start that matches the query is sent once, in record order,
//!   as an `EPCISQueryDocument` text message (`queryName`, `subscriptionID`, the events, and
//!   `tradechain:resumeToken`: the position after its last event). The start is, in order of
//!   precedence: `resumeToken` (resume exactly after the last message a client processed — a
//!   reconnecting client loses and repeats nothing), `initialRecordTime` (the first block of that
//!   time), or the head at connection (new events only). Without an upgrade the same GET lists the
//!   query's open subscriptions (WebSocket and webhook; a webhook's `dest` only to its owner,
//!   `webhook`). Webhooks: `POST …/subscriptions` (see `webhook`). Scheduled subscriptions are
//!   not implemented.
//!
//! Invariants:
//! - A subscription (stream or webhook) reads committed data through `next_batch` →
//!   `query::events_page` — the same public view, the same bounded pages and the same query gate
//!   as `/events` — from its own position, so a slow client or a lagging commit notification
//!   never loses or repeats an event: the position only moves after a batch is delivered (sent
//!   on the socket; a webhook: answered 2xx), and a missed notification only delays the next
//!   read (a subscription also re-reads every `IDLE_RECHECK`). Positions are page tokens of the
//!   query's subscription scope (`subscription_fingerprint`): one token resumes a WebSocket or
//!   starts a webhook alike.
//! - Bounded: `MAX_QUERIES` named queries in memory (when full, the least recently used one
//!   without an open subscription is forgotten; if all have one, 503), `MAX_SUBSCRIPTIONS` open
//!   streams (then 503), `BATCH` events per message, `MAX_QUERY_BODY` bytes per definition, and
//!   messages from the client (ignored) at most `MAX_CLIENT_MESSAGE` bytes. Named queries and
//!   subscriptions do not survive a restart (a client re-creates the query and resumes with its
//!   token: positions are chain positions, valid on every node of the chain).
//! - Named queries are public and anonymous (they select public data only); nobody can change
//!   or delete another's definition.
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tradechain_ledger::epcis::json::{self as ljson, Json};
use tradechain_ledger::epcis::{self, ExportOptions, time};
use tradechain_ledger::payload::ProvenanceEvent;

use super::filter::{EventFilter, ParamError};
use super::query::{self, Cursor, QueryError};
use super::{MAX_PARAMS, Paging, Problem, Rest, gated, no_params, paged, path_value, query_pairs, respond, set};

/// Named queries kept in memory.
pub const MAX_QUERIES: usize = 256;
/// Open WebSocket streams.
pub const MAX_SUBSCRIPTIONS: usize = 64;
/// Bytes of a `POST /queries` body.
pub const MAX_QUERY_BODY: usize = 64 * 1024;
/// Events per stream message at most.
pub const BATCH: usize = 100;
/// Bytes of a message a subscriber may send (they are ignored).
pub const MAX_CLIENT_MESSAGE: usize = 4096;
/// A stream re-reads the chain at least this often.
pub const IDLE_RECHECK: Duration = Duration::from_secs(5);

struct NamedQuery {
    params: Vec<(String, String)>,
    definition: Value,
    created_ms: i64,
    last_used_ms: i64,
}

struct Sub {
    id: String,
    query: String,
    created_ms: i64,
}

#[derive(Default)]
pub(super) struct Registry {
    queries: BTreeMap<String, NamedQuery>,
    subs: Vec<Sub>,
    pub(super) hooks: Vec<super::webhook::Hook>,
}

/// The named queries and open subscriptions of one HTTP server.
pub struct Queries {
    reg: Mutex<Registry>,
    slots: Arc<Semaphore>,
    next_id: AtomicU64,
    epoch_ms: i64,
}

/// One batch of a subscription's walk: the events (possibly none — a bounded page without a
/// match), the position after them, and whether the walk has reached the head.
pub(super) struct Batch {
    pub events: Vec<ProvenanceEvent>,
    pub after: Cursor,
    pub caught_up: bool,
}

impl Default for Queries {
    fn default() -> Self {
        Queries {
            reg: Mutex::new(Registry::default()),
            slots: Arc::new(Semaphore::new(MAX_SUBSCRIPTIONS)),
            next_id: AtomicU64::new(1),
            epoch_ms: crate::clock::now_ms(),
        }
    }
}

impl Queries {
    pub(super) fn reg(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.reg.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new subscription id (unique on this node: its start time and a counter).
    pub(super) fn new_id(&self) -> String {
        format!("sub-{}-{}", self.epoch_ms, self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// The query's parameters (and mark it used).
    pub(super) fn params(&self, name: &str) -> Option<Vec<(String, String)>> {
        let mut r = self.reg();
        let q = r.queries.get_mut(name)?;
        q.last_used_ms = crate::clock::now_ms();
        Some(q.params.clone())
    }
}

/// Removes a subscription from the registry when its stream ends, however it ends.
struct SubGuard {
    queries: Arc<Queries>,
    id: String,
}

impl Drop for SubGuard {
    fn drop(&mut self) {
        self.queries.reg().subs.retain(|s| s.id != self.id);
    }
}

fn name_ok(name: &str) -> Result<(), Problem> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(Problem::param(ParamError::new(
            "name",
            format!("{name:?}: a query name is 1-64 characters of A-Z a-z 0-9 . _ -"),
        )));
    }
    Ok(())
}

/// A query definition (`EPCISEventsQuery`) as query parameters.
fn params_of(q: &Value) -> Result<Vec<(String, String)>, Problem> {
    let Value::Object(m) = q else {
        return Err(Problem::param(ParamError::new(
            "query",
            "must be a JSON object of query parameters",
        )));
    };
    if m.len() > MAX_PARAMS {
        return Err(Problem::param(ParamError::new(
            "query",
            format!("has {} parameters, above the limit of {MAX_PARAMS}", m.len()),
        )));
    }
    let scalar = |k: &str, v: &Value| -> Result<String, Problem> {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(Problem::param(ParamError::new(
                    k,
                    "values are strings, numbers or booleans (or an array of them)",
                )));
            }
        };
        if s.contains('|') {
            return Err(Problem::param(ParamError::new(k, "a value may not contain '|'")));
        }
        Ok(s)
    };
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m {
        if matches!(k.as_str(), "perPage" | "nextPageToken") {
            return Err(Problem::param(ParamError::new(
                k,
                "paging is not part of a query definition",
            )));
        }
        let text = match v {
            Value::Array(a) if a.is_empty() => return Err(Problem::param(ParamError::new(k, "is an empty list"))),
            Value::Array(a) => a.iter().map(|x| scalar(k, x)).collect::<Result<Vec<_>, _>>()?.join("|"),
            other => scalar(k, other)?,
        };
        out.push((k.clone(), text));
    }
    Ok(out)
}

pub(super) async fn create(State(s): State<Rest>, headers: HeaderMap, body: Body) -> Response {
    respond(create_inner(&s, &headers, body).await)
}

async fn create_inner(s: &Rest, headers: &HeaderMap, body: Body) -> Result<Response, Problem> {
    let media = super::media_type(headers);
    if !matches!(media.as_str(), "application/json" | "application/ld+json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "epcisException:UnsupportedMediaTypeException",
            "Unsupported media type",
            format!("Content-Type {media:?}: send the query as application/json"),
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_QUERY_BODY).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "epcisException:QueryTooComplexException",
            "Query too large",
            format!("a query definition is at most {MAX_QUERY_BODY} bytes"),
        )
    })?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "epcisException:ValidationException",
            "Invalid query definition",
            format!("not JSON: {e}"),
        )
    })?;
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::param(ParamError::new("name", "is missing (a string)")))?
        .to_string();
    name_ok(&name)?;
    let definition = v
        .get("query")
        .ok_or_else(|| Problem::param(ParamError::new("query", "is missing (an object of query parameters)")))?
        .clone();
    let params = params_of(&definition)?;
    let b = s.backend.clone();
    let gk = |x: &str| b.goods_key(x).ok();
    EventFilter::from_params(&params, &gk).map_err(Problem::param)?;
    let now = crate::clock::now_ms();
    {
        let mut r = s.queries.reg();
        if let Some(q) = r.queries.get(&name) {
            if q.params != params {
                return Err(Problem::new(
                    StatusCode::CONFLICT,
                    "epcisException:ResourceAlreadyExistsException",
                    "Query exists",
                    format!("a query named {name} exists with another definition"),
                ));
            }
        } else {
            if r.queries.len() >= MAX_QUERIES {
                let busy: Vec<String> = r
                    .subs
                    .iter()
                    .map(|s| s.query.clone())
                    .chain(r.hooks.iter().map(|h| h.query.clone()))
                    .collect();
                let victim = r
                    .queries
                    .iter()
                    .filter(|(n, _)| !busy.contains(n))
                    .min_by_key(|(_, q)| q.last_used_ms)
                    .map(|(n, _)| n.clone());
                match victim {
                    Some(v) => {
                        r.queries.remove(&v);
                    }
                    None => {
                        return Err(Problem::busy(format!(
                            "{MAX_QUERIES} named queries all have open subscriptions; retry later"
                        )));
                    }
                }
            }
            r.queries.insert(
                name.clone(),
                NamedQuery {
                    params,
                    definition: definition.clone(),
                    created_ms: now,
                    last_used_ms: now,
                },
            );
        }
    }
    let mut r = (
        StatusCode::CREATED,
        json!({"name": name, "query": definition}).to_string(),
    )
        .into_response();
    set(r.headers_mut(), "content-type", "application/json");
    set(r.headers_mut(), "location", &format!("/queries/{name}"));
    Ok(r)
}

fn query_json(name: &str, q: &NamedQuery) -> Value {
    json!({
        "name": name,
        "query": q.definition,
        "tradechain:createdAt": time::render_ms(q.created_ms),
    })
}

pub(super) async fn list(State(s): State<Rest>, uri: Uri) -> Response {
    respond((|| -> Result<Response, Problem> {
        let p = super::paging(query_pairs(&uri)?)?;
        no_params(&p)?;
        let (start, fp) = super::offset_start(&p, "/queries")?;
        let r = s.queries.reg();
        let page: Vec<Value> = r
            .queries
            .iter()
            .skip(start)
            .take(p.per_page)
            .map(|(n, q)| query_json(n, q))
            .collect();
        let end = start.saturating_add(p.per_page);
        let next = (r.queries.len() > end).then(|| query::encode_token(Cursor::Offset { n: end as u64 }, &fp));
        drop(r);
        let mut resp = (StatusCode::OK, Value::Array(page).to_string()).into_response();
        set(resp.headers_mut(), "content-type", "application/json");
        Ok(paged(resp, &uri, &p, next))
    })())
}

pub(super) fn unknown_query(name: &str) -> Problem {
    let mut p = Problem::not_found(format!(
        "no query named {name} (named queries are kept in memory, at most {MAX_QUERIES}: create it with POST /queries)"
    ));
    p.kind = "epcisException:NoSuchNameException";
    p
}

pub(super) async fn get_query(State(s): State<Rest>, p: Result<Path<String>, PathRejection>) -> Response {
    respond((|| -> Result<Response, Problem> {
        let name = path_value(p, "queryName")?;
        let r = s.queries.reg();
        let q = r.queries.get(&name).ok_or_else(|| unknown_query(&name))?;
        let mut resp = (StatusCode::OK, query_json(&name, q).to_string()).into_response();
        set(resp.headers_mut(), "content-type", "application/json");
        Ok(resp)
    })())
}

pub(super) async fn events(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let name = match path_value(p, "queryName") {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let Some(params) = s.queries.params(&name) else {
        return unknown_query(&name).into_response();
    };
    let scope = format!("/queries/{name}/events");
    super::run_events(s, headers, uri, scope, params, None).await
}

/// The token fingerprint of a query's subscriptions (WebSocket and webhook alike).
pub(super) fn subscription_fingerprint(name: &str, params: &[(String, String)]) -> String {
    query::fingerprint(&format!("subscription:{name}"), params)
}

/// Where a subscription starts, in order of precedence: `resume` (a token of this query's
/// subscriptions: exactly after the last batch a client processed), `initial` (the first block
/// of that record time, history first), else the block after the head (new events only).
/// `resume_param` names the parameter or field the token came in (for the problem).
pub(super) async fn start_position(
    s: &Rest,
    resume: Option<&str>,
    initial: Option<i64>,
    fp: &str,
    resume_param: &'static str,
) -> Result<Cursor, Problem> {
    let bad = |detail: String| Problem::param(ParamError::new(resume_param, detail));
    let resume = match resume.map(|t| query::decode_token(t, fp)).transpose() {
        Ok(r) => r,
        Err(QueryError::Param(p)) => return Err(bad(p.detail)),
        Err(other) => return Err(Problem::from(other)),
    };
    let found = gated(s, move |b| {
        let head = b
            .head()
            .map_err(|e| QueryError::Internal(e.to_string()))?
            .map(|h| h.height)
            .unwrap_or(0);
        match (resume, initial) {
            (Some(c @ Cursor::Chain { height, .. }), _) => {
                if height == 0 || height > head.saturating_add(1) {
                    return Ok(Err(format!(
                        "names block {height}, outside the chain's blocks 1..={}",
                        head + 1
                    )));
                }
                Ok(Ok(c))
            }
            (Some(_), _) => Ok(Err("is not a token of a subscription".to_string())),
            (None, Some(t)) => Ok(Ok(Cursor::block_start(query::first_height_at(b, head, t)?))),
            (None, None) => Ok(Ok(Cursor::block_start(head.saturating_add(1)))),
        }
    })
    .await?;
    found.map_err(bad)
}

/// A WebSocket subscription request's parameters: its start.
async fn start_of(s: &Rest, pairs: Vec<(String, String)>, fp: &str) -> Result<Cursor, Problem> {
    let (mut stream, mut initial, mut resume) = (false, None, None);
    for (k, v) in &pairs {
        match k.as_str() {
            "stream" => match v.as_str() {
                "true" => stream = true,
                "false" => {}
                _ => {
                    return Err(Problem::param(ParamError::new(
                        k,
                        format!("{v:?} is not true or false"),
                    )));
                }
            },
            "initialRecordTime" => {
                initial = Some(time::parse_ms(v).map_err(|e| Problem::param(ParamError::new(k, e)))?);
            }
            "resumeToken" => resume = Some(v.clone()),
            "reportIfEmpty" if v == "false" => {}
            "reportIfEmpty" | "second" | "minute" | "hour" | "dayOfMonth" | "month" | "dayOfWeek" => {
                let mut e = ParamError::new(
                    k,
                    "scheduled subscriptions are not supported: subscribe with stream=true",
                );
                e.unsupported = true;
                return Err(Problem::param(e));
            }
            _ => {
                return Err(Problem::param(ParamError::new(
                    k,
                    "is not a subscription parameter (stream, initialRecordTime, resumeToken)",
                )));
            }
        }
    }
    if !stream {
        return Err(Problem::param(ParamError::new(
            "stream",
            "must be true: this node streams every new matching event (scheduled subscriptions are not supported)",
        )));
    }
    start_position(s, resume.as_deref(), initial, fp, "resumeToken").await
}

/// The next batch of a subscription's walk from `pos`, at most `max` events: `None` when `pos`
/// is past the head (nothing to read until the next commit). The caller moves its position to
/// `after` only once the batch is delivered; reading again from the same position gives the
/// same events (committed data does not change).
pub(super) async fn next_batch(
    s: &Rest,
    filter: &Arc<EventFilter>,
    pos: Cursor,
    max: usize,
) -> Result<Option<Batch>, Problem> {
    let Cursor::Chain { height, .. } = pos else {
        return Err(Problem::internal("a subscription's position is not a chain position"));
    };
    let head = s
        .backend
        .head()
        .map_err(|e| Problem::internal(e.to_string()))?
        .map(|h| h.height)
        .unwrap_or(0);
    if height > head {
        return Ok(None);
    }
    let f = filter.clone();
    let (events, walk) = gated(s, move |b| query::events_page(b, &f, None, max.max(1), Some(pos))).await?;
    let after = walk.next.unwrap_or(Cursor::block_start(walk.head.saturating_add(1)));
    Ok(Some(Batch {
        events,
        after,
        caught_up: walk.next.is_none(),
    }))
}

/// A WebSocket stream's public details, if `id` is one of query `name`'s open streams.
pub(super) fn stream_json(s: &Rest, name: &str, id: &str) -> Option<Value> {
    let r = s.queries.reg();
    r.subs.iter().find(|x| x.query == name && x.id == id).map(|x| {
        json!({"subscriptionID": x.id, "queryName": x.query, "createdAt": time::render_ms(x.created_ms),
            "stream": true, "tradechain:delivery": "websocket"})
    })
}

pub(super) async fn subscriptions(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    uri: Uri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let name = match path_value(p, "queryName") {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    let Some(params) = s.queries.params(&name) else {
        return unknown_query(&name).into_response();
    };
    let pairs = match query_pairs(&uri) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Ok(upgrade) = ws else {
        // A plain GET: the query's open subscriptions.
        return respond((|| -> Result<Response, Problem> {
            let pg: Paging = super::paging(pairs)?;
            no_params(&pg)?;
            let r = s.queries.reg();
            let subs: Vec<Value> = r
                .subs
                .iter()
                .filter(|x| x.query == name)
                .map(|x| {
                    json!({"subscriptionID": x.id, "createdAt": time::render_ms(x.created_ms), "stream": true,
                        "tradechain:delivery": "websocket"})
                })
                .chain(
                    r.hooks
                        .iter()
                        .filter(|h| h.query == name)
                        .map(super::webhook::Hook::public_json),
                )
                .collect();
            drop(r);
            let mut resp = (StatusCode::OK, Value::Array(subs).to_string()).into_response();
            set(resp.headers_mut(), "content-type", "application/json");
            Ok(resp)
        })());
    };
    let b = s.backend.clone();
    let gk = |x: &str| b.goods_key(x).ok();
    let filter = match EventFilter::from_params(&params, &gk) {
        Ok(f) => Arc::new(f),
        Err(e) => return Problem::param(e).into_response(),
    };
    let fp = subscription_fingerprint(&name, &params);
    let start = match start_of(&s, pairs, &fp).await {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let Ok(permit) = s.queries.slots.clone().try_acquire_owned() else {
        return Problem::busy(format!("{MAX_SUBSCRIPTIONS} subscriptions are open; retry later")).into_response();
    };
    let now = crate::clock::now_ms();
    let id = s.queries.new_id();
    s.queries.reg().subs.push(Sub {
        id: id.clone(),
        query: name.clone(),
        created_ms: now,
    });
    let guard = SubGuard {
        queries: s.queries.clone(),
        id: id.clone(),
    };
    let mut resp = upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| stream(socket, s, name, filter, fp, start, guard, permit));
    set(resp.headers_mut(), "gs1-query-subscription-id", &id);
    resp
}

/// One stream message: the events as an `EPCISQueryDocument` with the subscription's id and
/// the position after its last event.
pub(super) fn message(events: &[ProvenanceEvent], name: &str, id: &str, token: &str) -> Result<String, String> {
    let opts = ExportOptions {
        creation_date_ms: crate::clock::now_ms(),
    };
    let doc = epcis::export_query_document(events, &opts, name).map_err(|e| e.to_string())?;
    let mut j = ljson::parse(&doc).map_err(|e| e.to_string())?;
    if let Json::Object(m) = &mut j
        && let Some((_, Json::Object(body))) = m.iter_mut().find(|(k, _)| k == "epcisBody")
        && let Some((_, Json::Object(results))) = body.iter_mut().find(|(k, _)| k == "queryResults")
    {
        results.insert(0, ("subscriptionID".to_string(), Json::String(id.to_string())));
        results.push(("tradechain:resumeToken".to_string(), Json::String(token.to_string())));
    }
    Ok(j.pretty())
}

#[allow(clippy::too_many_arguments)]
async fn stream(
    socket: WebSocket,
    s: Rest,
    name: String,
    filter: Arc<EventFilter>,
    fp: String,
    mut pos: Cursor,
    guard: SubGuard,
    _permit: OwnedSemaphorePermit,
) {
    let (mut tx, mut rx) = socket.split();
    let mut commits = s.backend.subscribe_commits();
    loop {
        // Catch up from the position to the head, one bounded page at a time.
        loop {
            let batch = match next_batch(&s, &filter, pos, BATCH).await {
                Ok(Some(b)) => b,
                Ok(None) => break,
                Err(_) => {
                    let _ = tx.send(Message::Close(None)).await;
                    return;
                }
            };
            if !batch.events.is_empty() {
                let Ok(text) = message(&batch.events, &name, &guard.id, &query::encode_token(batch.after, &fp)) else {
                    return;
                };
                if tx.send(Message::Text(text.into())).await.is_err() {
                    return;
                }
            }
            pos = batch.after;
            if batch.caught_up {
                break;
            }
        }
        tokio::select! {
            r = commits.recv() => {
                if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
            m = rx.next() => {
                if matches!(m, None | Some(Err(_)) | Some(Ok(Message::Close(_)))) {
                    return;
                }
            }
            _ = tokio::time::sleep(IDLE_RECHECK) => {}
        }
    }
}
