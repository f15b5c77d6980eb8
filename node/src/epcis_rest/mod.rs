//! The GS1 EPCIS 2.0 REST binding on the node's HTTP port (beside the Digital Link resolver),
//! after GS1's OpenAPI (`EPCIS 2.0 REST Bindings`). Module map: `filter` which events a query
//! selects (shared with gRPC `ExportEpcis`); `query` bounded, paged reads and page tokens;
//! `capture` capture jobs (the node signs for one configured org); `auth` org-signed HTTP
//! requests; `subscribe` named queries, WebSocket subscriptions and the subscription walk both
//! kinds share; `webhook` webhook subscriptions (org-signed, delivered by the node). This file
//! owns the HTTP surface: routes, headers, content negotiation, problem answers.
//!
//! Endpoints (each also answers `OPTIONS` with `Allow` and the binding's headers):
//! - `GET /` top-level resources; `GET /events` the standard query (parameters: `filter`);
//!   `GET /events/{eventID}` an event and its error declaration (the eventID index);
//! - `GET /eventTypes`, `/bizSteps`, `/dispositions` (the five event types, the CBV 2.0
//!   standard vocabularies), `/readPoints`, `/bizLocations`, `/epcs` (identifiers public events
//!   use, from a bounded chain scan: distinct within a page, possibly repeated on a later page),
//!   each `/{x}` (its sub-resources: `events`) and `/{x}/events` (the query with that criterion);
//!   `/epcs/{epc}/events` reads the item's event index (every event naming it in any role);
//! - `POST /capture`, `GET /capture`, `GET /capture/{captureID}` (see `capture`);
//! - `POST /queries`, `GET /queries`, `/queries/{name}`, `/queries/{name}/events`, and
//!   `/queries/{name}/subscriptions` (`GET` with an upgrade: a WebSocket stream, `subscribe`;
//!   without: the list; `POST`: a webhook, `webhook`), `GET`/`DELETE
//!   /queries/{name}/subscriptions/{id}`.
//!
//! Not implemented: scheduled subscriptions, webhooks to `https://` destinations (no TLS
//! client), `DELETE` of queries and of WebSocket subscriptions (they end when the socket
//! closes), `POST /events`, `/nextPageToken/{token}`, XML; `GS1-EPC-Format` and
//! `GS1-CBV-XML-Format` are not applied (identifiers come back as recorded:
//! `GS1-EPC-Format: Never_Translates`).
//!
//! Invariants:
//! - Public data only: every event passes `export::public_view` (no business transactions,
//!   parties, customs details, ILMD or extension members), rejected transactions never appear,
//!   and filters over withheld fields are refused (`filter`).
//! - Bounded work per request: `query::SCAN_BLOCKS` headers and `query::SCAN_TXS` transactions
//!   per page, at most `query::MAX_PER_PAGE` results, at most `QUERY_CONCURRENCY` queries at once
//!   (then 503), URIs up to `MAX_URI_BYTES` (414), `MAX_PARAMS` parameters; the limits are
//!   advertised in `OPTIONS` and on every page (`TradeChain-Scan-Limit`, `TradeChain-Max-Per-Page`).
//! - Every error is an RFC 7807 problem (`application/problem+json`, GS1 `epcisException:*`
//!   type) naming the parameter or header at fault; bad input never panics.
//! - Requests that state versions (`GS1-EPCIS-Version`, `-Min`, `-Max`, and the CBV ones) must
//!   admit 2.0 (406 otherwise); an `Accept` that admits no JSON is 406. Every answer carries
//!   `GS1-EPCIS-Version: 2.0.0` and `GS1-CBV-Version: 2.0.0`.
pub mod auth;
pub mod capture;
pub mod filter;
pub mod query;
pub mod subscribe;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tradechain_ledger::epcis::{self, EPCIS_CONTEXT, ExportOptions};
use tradechain_ledger::payload::ProvenanceEvent;

use self::capture::{Behaviour, Capture, CaptureConfig};
use self::filter::{EVENT_TYPES, EventFilter, ParamError};
use self::query::{Cursor, QueryError};
use crate::grpc::backend::Backend;

pub const EPCIS_VERSION: &str = "2.0.0";
pub const CBV_VERSION: &str = "2.0.0";
/// Longest request URI (path and query).
pub const MAX_URI_BYTES: usize = 8192;
/// Query parameters one request may carry.
pub const MAX_PARAMS: usize = 64;
/// Queries served at once; others wait up to `QUERY_WAIT`, then 503.
pub const QUERY_CONCURRENCY: usize = 8;
const QUERY_WAIT: Duration = Duration::from_secs(10);

/// The CBV 2.0 standard business steps.
pub const BIZ_STEPS: &[&str] = &[
    "accepting",
    "arriving",
    "assembling",
    "collecting",
    "commissioning",
    "consigning",
    "creating_class_instance",
    "cycle_counting",
    "decommissioning",
    "departing",
    "destroying",
    "disassembling",
    "dispensing",
    "encoding",
    "entering_exiting",
    "holding",
    "inspecting",
    "installing",
    "killing",
    "loading",
    "other",
    "packing",
    "picking",
    "receiving",
    "removing",
    "repackaging",
    "repairing",
    "replacing",
    "reserving",
    "retail_selling",
    "sampling",
    "sensor_reporting",
    "shipping",
    "staging_outbound",
    "stock_taking",
    "stocking",
    "storing",
    "transporting",
    "unloading",
    "unpacking",
    "void_shipping",
];

/// The CBV 2.0 standard dispositions.
pub const DISPOSITIONS: &[&str] = &[
    "active",
    "available",
    "completeness_inferred",
    "completeness_verified",
    "conformant",
    "container_closed",
    "container_open",
    "damaged",
    "destroyed",
    "dispensed",
    "disposed",
    "encoded",
    "expired",
    "in_progress",
    "in_transit",
    "inactive",
    "mismatch_class",
    "mismatch_instance",
    "mismatch_quantity",
    "needs_replacement",
    "no_pedigree_match",
    "non_conformant",
    "non_sellable_other",
    "partially_dispensed",
    "recalled",
    "reserved",
    "retail_sold",
    "returned",
    "sellable_accessible",
    "sellable_not_accessible",
    "stolen",
    "unavailable",
    "unknown",
];

const TOP_LEVEL: &[&str] = &[
    "events",
    "eventTypes",
    "epcs",
    "bizSteps",
    "bizLocations",
    "readPoints",
    "dispositions",
    "capture",
    "queries",
];

#[derive(Clone)]
struct Rest {
    backend: Arc<dyn Backend>,
    capture: Option<Arc<Capture>>,
    gate: Arc<Semaphore>,
    queries: Arc<subscribe::Queries>,
    webhooks: Arc<webhook::Webhooks>,
}

/// An RFC 7807 problem with a GS1 exception type.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub kind: &'static str,
    pub title: String,
    pub detail: String,
    /// The query parameter or header at fault.
    pub parameter: Option<String>,
    pub headers: Vec<(&'static str, String)>,
}

impl Problem {
    pub fn new(status: StatusCode, kind: &'static str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            status,
            kind,
            title: title.to_string(),
            detail: detail.into(),
            parameter: None,
            headers: Vec::new(),
        }
    }
    fn param(e: ParamError) -> Problem {
        let title = if e.unsupported {
            "Query parameter not supported"
        } else {
            "Invalid query parameter"
        };
        Problem {
            parameter: Some(e.parameter.clone()),
            ..Problem::new(
                StatusCode::BAD_REQUEST,
                "epcisException:QueryParameterException",
                title,
                format!("{}: {}", e.parameter, e.detail),
            )
        }
    }
    fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "epcisException:NoSuchResourceException",
            "Resource not found",
            detail,
        )
    }
    fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "epcisException:ImplementationException",
            "Implementation exception",
            detail,
        )
    }
    fn busy(detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "epcisException:ImplementationException",
            "Busy",
            detail,
        );
        p.headers.push(("retry-after", "1".into()));
        p
    }
    fn not_acceptable(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "epcisException:NotAcceptableException",
            "Not acceptable",
            detail,
        )
    }
}

impl From<QueryError> for Problem {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Param(p) => Problem::param(p),
            QueryError::NotFound(d) => Problem::not_found(d),
            QueryError::Internal(d) => Problem::internal(d),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": self.kind,
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(p) = &self.parameter {
            body["parameter"] = json!(p);
        }
        let mut r = (self.status, body.to_string()).into_response();
        set(r.headers_mut(), "content-type", "application/problem+json");
        for (k, v) in &self.headers {
            set(r.headers_mut(), k, v);
        }
        r
    }
}

fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

/// The binding's routes over `backend`; capture is served only with a `capture` config;
/// webhooks with the default bounds (`webhook::WebhookConfig`). Must be called inside a tokio
/// runtime (the capture worker is spawned).
pub fn router(backend: Arc<dyn Backend>, capture: Option<CaptureConfig>) -> Router {
    router_with(backend, capture, webhook::WebhookConfig::default())
}

/// `router` with the webhook bounds of `[http.epcis_webhooks]`.
pub fn router_with(
    backend: Arc<dyn Backend>,
    capture: Option<CaptureConfig>,
    webhooks: webhook::WebhookConfig,
) -> Router {
    let capture = capture.map(|c| Capture::start(c, backend.clone()));
    let state = Rest {
        backend,
        capture,
        gate: Arc::new(Semaphore::new(QUERY_CONCURRENCY)),
        queries: Arc::new(subscribe::Queries::default()),
        webhooks: Arc::new(webhook::Webhooks::new(webhooks)),
    };
    let read = |h: MethodRouter<Rest>| h.options(|| async { discovery("OPTIONS, GET") });
    Router::new()
        .route("/", read(get(top_level)))
        .route("/events", read(get(events)))
        .route("/events/{event_id}", read(get(event_by_id)))
        .route("/eventTypes", read(get(event_types)))
        .route("/eventTypes/{v}", read(get(event_type_resource)))
        .route("/eventTypes/{v}/events", read(get(event_type_events)))
        .route("/epcs", read(get(epcs)))
        .route("/epcs/{v}", read(get(sub_resource)))
        .route("/epcs/{v}/events", read(get(epc_events)))
        .route("/bizSteps", read(get(biz_steps)))
        .route("/bizSteps/{v}", read(get(sub_resource)))
        .route("/bizSteps/{v}/events", read(get(biz_step_events)))
        .route("/dispositions", read(get(dispositions)))
        .route("/dispositions/{v}", read(get(sub_resource)))
        .route("/dispositions/{v}/events", read(get(disposition_events)))
        .route("/readPoints", read(get(read_points)))
        .route("/readPoints/{v}", read(get(sub_resource)))
        .route("/readPoints/{v}/events", read(get(read_point_events)))
        .route("/bizLocations", read(get(biz_locations)))
        .route("/bizLocations/{v}", read(get(sub_resource)))
        .route("/bizLocations/{v}/events", read(get(biz_location_events)))
        .route(
            "/capture",
            get(capture_list).post(capture_post).options(capture_options),
        )
        .route(
            "/queries",
            get(subscribe::list)
                .post(subscribe::create)
                .options(|| async { discovery("OPTIONS, GET, POST") }),
        )
        .route("/queries/{name}", read(get(subscribe::get_query)))
        .route("/queries/{name}/events", read(get(subscribe::events)))
        .route(
            "/queries/{name}/subscriptions",
            get(subscribe::subscriptions)
                .post(webhook::create)
                .options(|| async { discovery("OPTIONS, GET, POST") }),
        )
        .route(
            "/queries/{name}/subscriptions/{id}",
            get(webhook::get_one)
                .delete(webhook::delete_one)
                .options(|| async { discovery("OPTIONS, GET, DELETE") }),
        )
        .route(
            "/capture/{id}",
            get(capture_get).options(|| async { discovery("OPTIONS, GET") }),
        )
        .layer(middleware::from_fn(negotiate))
        .with_state(state)
}

/// Version and content negotiation before any handler; the binding's headers after.
async fn negotiate(req: Request, next: Next) -> Response {
    if let Err(p) = check_request(req.method(), req.headers(), req.uri()) {
        return with_base_headers(p.into_response());
    }
    with_base_headers(next.run(req).await)
}

fn with_base_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    set(h, "gs1-epcis-version", EPCIS_VERSION);
    set(h, "gs1-cbv-version", CBV_VERSION);
    set(h, "gs1-epc-format", "Never_Translates");
    set(
        h,
        "gs1-vendor-version",
        concat!("tradechain/", env!("CARGO_PKG_VERSION")),
    );
    r
}

/// A dotted version as numbers (`2.0` = `2.0.0`).
fn version(v: &str) -> Option<Vec<u64>> {
    let mut out: Vec<u64> = v.trim().split('.').map(|p| p.parse().ok()).collect::<Option<_>>()?;
    if out.is_empty() || out.len() > 4 {
        return None;
    }
    while out.last() == Some(&0) && out.len() > 1 {
        out.pop();
    }
    Some(out)
}

fn check_request(method: &Method, h: &HeaderMap, uri: &Uri) -> Result<(), Problem> {
    let uri_len = uri.path_and_query().map(|p| p.as_str().len()).unwrap_or(0);
    if uri_len > MAX_URI_BYTES {
        return Err(Problem::new(
            StatusCode::URI_TOO_LONG,
            "epcisException:URITooLongException",
            "URI too long",
            format!("the request URI is {uri_len} bytes, above the limit of {MAX_URI_BYTES}"),
        ));
    }
    for (name, ours) in [("gs1-epcis", EPCIS_VERSION), ("gs1-cbv", CBV_VERSION)] {
        let ours = version(ours).unwrap_or_default();
        for (suffix, ok) in [
            (
                "-version",
                (|v: &Vec<u64>, o: &Vec<u64>| v.get(..2) == o.get(..2)) as fn(&Vec<u64>, &Vec<u64>) -> bool,
            ),
            ("-min", |v, o| v <= o),
            ("-max", |v, o| v >= o),
        ] {
            let header = format!("{name}{suffix}");
            let Some(value) = h.get(header.as_str()) else {
                continue;
            };
            let text = value.to_str().unwrap_or("");
            let Some(v) = version(text) else {
                let mut p = Problem::not_acceptable(format!("{header}: {text:?} is not a version like 2.0.0"));
                p.parameter = Some(header.clone());
                return Err(p);
            };
            let mut padded = v.clone();
            padded.resize(2, 0);
            let mut o = ours.clone();
            o.resize(2, 0);
            if !ok(&padded, &o) {
                let mut p = Problem::not_acceptable(format!(
                    "{header}: {text}: this node speaks EPCIS {EPCIS_VERSION} and CBV {CBV_VERSION} only"
                ));
                p.parameter = Some(header.clone());
                return Err(p);
            }
        }
    }
    if method == Method::GET
        && let Some(accept) = h.get(header::ACCEPT)
    {
        let text = accept.to_str().unwrap_or("");
        let ok = text.split(',').any(|m| {
            let m = m.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            matches!(
                m.as_str(),
                "application/json" | "application/ld+json" | "application/problem+json" | "application/*" | "*/*"
            )
        });
        if !ok {
            let mut p = Problem::not_acceptable(format!(
                "Accept: {text:?}: answers are JSON (application/json or application/ld+json); XML is not served"
            ));
            p.parameter = Some("Accept".into());
            return Err(p);
        }
    }
    Ok(())
}

/// The content type of a JSON answer: JSON-LD when the client asks for it and not for JSON.
fn json_type(h: &HeaderMap) -> &'static str {
    let accept = h.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("application/ld+json") && !accept.contains("application/json") {
        "application/ld+json"
    } else {
        "application/json"
    }
}

fn limit_headers(h: &mut HeaderMap) {
    set(h, "tradechain-max-per-page", &query::MAX_PER_PAGE.to_string());
    set(
        h,
        "tradechain-scan-limit",
        &format!("blocks={}, transactions={}", query::SCAN_BLOCKS, query::SCAN_TXS),
    );
}

fn discovery(allow: &'static str) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    let h = r.headers_mut();
    set(h, "allow", allow);
    set(h, "gs1-epcis-min", EPCIS_VERSION);
    set(h, "gs1-epcis-max", EPCIS_VERSION);
    set(h, "gs1-cbv-min", CBV_VERSION);
    set(h, "gs1-cbv-max", CBV_VERSION);
    limit_headers(h);
    r
}

async fn capture_options(State(s): State<Rest>) -> Response {
    let mut r = discovery("OPTIONS, GET, POST");
    if let Some(c) = &s.capture {
        let h = r.headers_mut();
        set(h, "gs1-epcis-capture-limit", &c.config().max_events.to_string());
        set(
            h,
            "gs1-epcis-capture-file-size-limit",
            &c.config().max_body_bytes.to_string(),
        );
        set(h, "gs1-capture-error-behaviour", "all");
    }
    r
}

fn collection(h: &HeaderMap, members: Vec<Value>) -> Response {
    let body = json!({"@context": EPCIS_CONTEXT, "type": "Collection", "member": members});
    let mut r = (StatusCode::OK, body.to_string()).into_response();
    set(r.headers_mut(), "content-type", json_type(h));
    r
}

/// The query string's pairs, bounded in number.
fn query_pairs(uri: &Uri) -> Result<Vec<(String, String)>, Problem> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .take(MAX_PARAMS + 1)
        .collect();
    if pairs.len() > MAX_PARAMS {
        return Err(Problem::param(ParamError::new(
            "query",
            format!("more than {MAX_PARAMS} parameters"),
        )));
    }
    Ok(pairs)
}

/// `perPage`, `nextPageToken` (each at most once) and the other pairs.
struct Paging {
    per_page: usize,
    per_page_text: Option<String>,
    token: Option<String>,
    rest: Vec<(String, String)>,
}

/// A request's media type, without parameters, lower case ("" when absent or unreadable).
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Where a page of an offset-paged collection (`/capture`, `/queries`) starts, and the
/// collection's token fingerprint: 0, or the offset its token holds (a token of another
/// collection, or not an offset, is refused).
fn offset_start(p: &Paging, collection: &str) -> Result<(usize, String), Problem> {
    let fp = query::fingerprint(collection, &[]);
    let start = match p.token.as_deref().map(|t| query::decode_token(t, &fp)).transpose()? {
        None => 0,
        Some(Cursor::Offset { n }) => usize::try_from(n).unwrap_or(usize::MAX),
        Some(_) => {
            return Err(Problem::param(ParamError::new(
                "nextPageToken",
                "is not a position of this collection",
            )));
        }
    };
    Ok((start, fp))
}

fn paging(pairs: Vec<(String, String)>) -> Result<Paging, Problem> {
    let (mut per, mut token, mut rest) = (None, None, Vec::new());
    for (k, v) in pairs {
        let slot = match k.as_str() {
            "perPage" => &mut per,
            "nextPageToken" => &mut token,
            _ => {
                rest.push((k, v));
                continue;
            }
        };
        if slot.is_some() {
            return Err(Problem::param(ParamError::new(&k, "is given more than once")));
        }
        *slot = Some(v);
    }
    Ok(Paging {
        per_page: query::per_page(per.as_deref()).map_err(Problem::param)?,
        per_page_text: per,
        token,
        rest,
    })
}

/// `Link: <path?params&perPage=…&nextPageToken=…>; rel="next"` (relative to the request).
fn next_link(uri: &Uri, p: &Paging, token: &str) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &p.rest {
        q.append_pair(k, v);
    }
    if let Some(n) = &p.per_page_text {
        q.append_pair("perPage", n);
    }
    q.append_pair("nextPageToken", token);
    format!("<{}?{}>; rel=\"next\"", uri.path(), q.finish())
}

fn paged(mut r: Response, uri: &Uri, p: &Paging, next: Option<String>) -> Response {
    let h = r.headers_mut();
    limit_headers(h);
    if let Some(t) = next {
        set(h, "link", &next_link(uri, p, &t));
    }
    r
}

/// Run blocking reads under the query gate.
async fn gated<T: Send + 'static>(
    s: &Rest,
    f: impl FnOnce(&dyn Backend) -> Result<T, QueryError> + Send + 'static,
) -> Result<T, Problem> {
    let permit = tokio::time::timeout(QUERY_WAIT, s.gate.clone().acquire_owned())
        .await
        .map_err(|_| Problem::busy(format!("{QUERY_CONCURRENCY} queries are running; retry shortly")))?
        .map_err(|e| Problem::internal(e.to_string()))?;
    let b = s.backend.clone();
    let out = tokio::task::spawn_blocking(move || {
        let r = f(b.as_ref());
        drop(permit);
        r
    })
    .await
    .map_err(|e| Problem::internal(format!("query task: {e}")))?;
    out.map_err(Problem::from)
}

fn path_value(p: Result<Path<String>, PathRejection>, name: &str) -> Result<String, Problem> {
    match p {
        Ok(Path(v)) if !v.is_empty() && v.len() <= filter::MAX_VALUE_BYTES => Ok(v),
        Ok(Path(v)) => Err(Problem::param(ParamError::new(
            name,
            format!("must be 1-{} bytes, got {}", filter::MAX_VALUE_BYTES, v.len()),
        ))),
        Err(e) => Err(Problem::param(ParamError::new(name, e.body_text()))),
    }
}

fn respond(r: Result<Response, Problem>) -> Response {
    r.unwrap_or_else(IntoResponse::into_response)
}

async fn top_level(headers: HeaderMap, uri: Uri) -> Response {
    respond((|| -> Result<Response, Problem> {
        let p = paging(query_pairs(&uri)?)?;
        no_params(&p)?;
        Ok(collection(&headers, TOP_LEVEL.iter().map(|m| json!(m)).collect()))
    })())
}

fn no_params(p: &Paging) -> Result<(), Problem> {
    match p.rest.first() {
        Some((k, _)) => Err(Problem::param(ParamError::new(
            k,
            "is not a query parameter of this endpoint",
        ))),
        None => Ok(()),
    }
}

/// A query over events: `scope` names the endpoint (for tokens), `fixed` the criteria its path
/// sets, `item` the goods key whose index to read (else the chain, or the index a single EPC
/// criterion names).
async fn run_events(
    s: Rest,
    headers: HeaderMap,
    uri: Uri,
    scope: String,
    fixed: Vec<(String, String)>,
    item: Option<String>,
) -> Response {
    let prepared = (|| -> Result<_, Problem> {
        let p = paging(query_pairs(&uri)?)?;
        if let Some((k, _)) = p.rest.iter().find(|(k, _)| fixed.iter().any(|(f, _)| f == k)) {
            return Err(Problem::param(ParamError::new(
                k,
                "is already fixed by this endpoint's path",
            )));
        }
        let mut all = fixed.clone();
        all.extend(p.rest.iter().cloned());
        let b = s.backend.clone();
        let gk = |x: &str| b.goods_key(x).ok();
        let filter = EventFilter::from_params(&all, &gk).map_err(Problem::param)?;
        let index = item.clone().or_else(|| filter.index_key());
        let fp = query::fingerprint(&scope, &all);
        let from = p
            .token
            .as_deref()
            .map(|t| query::decode_token(t, &fp))
            .transpose()
            .map_err(Problem::from)?;
        Ok((p, filter, index, fp, from))
    })();
    let (p, filter, index, fp, from) = match prepared {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let per_page = p.per_page;
    let must_exist = item.is_some();
    let found = gated(&s, move |b| {
        if must_exist
            && let Some(k) = &index
            && b.item_events(k, 0, 1)
                .map_err(|e| QueryError::Internal(e.to_string()))?
                .is_empty()
        {
            return Err(QueryError::NotFound(format!("no events are recorded for {k}")));
        }
        query::events_page(b, &filter, index.as_deref(), per_page, from).map(|(e, w)| (e, w.next))
    })
    .await;
    let (events, next) = match found {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    query_document(&headers, &uri, &p, &events, next.map(|c| query::encode_token(c, &fp)))
}

fn query_document(
    headers: &HeaderMap,
    uri: &Uri,
    p: &Paging,
    events: &[ProvenanceEvent],
    next: Option<String>,
) -> Response {
    let opts = ExportOptions {
        creation_date_ms: crate::clock::now_ms(),
    };
    match epcis::export_query_document(events, &opts, "SimpleEventQuery") {
        Ok(doc) => {
            let mut r = (StatusCode::OK, doc).into_response();
            set(r.headers_mut(), "content-type", json_type(headers));
            paged(r, uri, p, next)
        }
        Err(e) => Problem::internal(format!("a recorded event does not export: {e}")).into_response(),
    }
}

async fn events(State(s): State<Rest>, headers: HeaderMap, uri: Uri) -> Response {
    run_events(s, headers, uri, "/events".into(), Vec::new(), None).await
}

async fn event_by_id(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let id = match path_value(p, "eventID").and_then(|id| -> Result<(String, Paging), Problem> {
        let pg = paging(query_pairs(&uri)?)?;
        no_params(&pg)?;
        Ok((id, pg))
    }) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let (id, pg) = id;
    let lookup = id.clone();
    match gated(&s, move |b| query::by_event_id(b, &lookup)).await {
        Ok(Some(evs)) => query_document(&headers, &uri, &pg, &evs, None),
        Ok(None) => Problem::not_found(format!("no event with eventID {id} is recorded")).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn event_type_resource(p: Result<Path<String>, PathRejection>, headers: HeaderMap) -> Response {
    match path_value(p, "eventType") {
        Ok(t) if EVENT_TYPES.contains(&t.as_str()) => collection(&headers, vec![json!("events")]),
        Ok(t) => Problem::not_found(format!(
            "{t:?} is not an event type of this repository ({})",
            EVENT_TYPES.join(", ")
        ))
        .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn sub_resource(p: Result<Path<String>, PathRejection>, headers: HeaderMap) -> Response {
    match path_value(p, "resource") {
        Ok(_) => collection(&headers, vec![json!("events")]),
        Err(e) => e.into_response(),
    }
}

async fn event_type_events(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    match path_value(p, "eventType") {
        Ok(t) if EVENT_TYPES.contains(&t.as_str()) => {
            let scope = format!("/eventTypes/{t}/events");
            run_events(s, headers, uri, scope, vec![("eventType".into(), t)], None).await
        }
        Ok(t) => Problem::not_found(format!("{t:?} is not an event type of this repository")).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn fixed_events(
    s: Rest,
    p: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
    resource: &str,
    param: &str,
) -> Response {
    match path_value(p, resource) {
        Ok(v) => {
            let scope = format!("/{resource}/{v}/events");
            run_events(s, headers, uri, scope, vec![(param.to_string(), v)], None).await
        }
        Err(e) => e.into_response(),
    }
}

async fn biz_step_events(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    fixed_events(s, p, h, uri, "bizSteps", "EQ_bizStep").await
}

async fn disposition_events(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    fixed_events(s, p, h, uri, "dispositions", "EQ_disposition").await
}

async fn read_point_events(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    fixed_events(s, p, h, uri, "readPoints", "EQ_readPoint").await
}

async fn biz_location_events(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    h: HeaderMap,
    uri: Uri,
) -> Response {
    fixed_events(s, p, h, uri, "bizLocations", "EQ_bizLocation").await
}

async fn epc_events(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let epc = match path_value(p, "epc") {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let key = match s.backend.goods_key(&epc) {
        Ok(k) => k,
        Err(e) => {
            return Problem::param(ParamError::new("epc", format!("{epc:?} is not a GS1 identifier: {e}")))
                .into_response();
        }
    };
    let scope = format!("/epcs/{key}/events");
    run_events(s, headers, uri, scope, Vec::new(), Some(key)).await
}

/// A static vocabulary, paged by offset.
fn static_collection(headers: &HeaderMap, uri: &Uri, scope: &str, all: &[&str]) -> Result<Response, Problem> {
    let p = paging(query_pairs(uri)?)?;
    no_params(&p)?;
    let fp = query::fingerprint(scope, &[]);
    let start = match p.token.as_deref().map(|t| query::decode_token(t, &fp)).transpose()? {
        None => 0,
        Some(Cursor::Offset { n }) if n <= all.len() as u64 => usize::try_from(n).unwrap_or(all.len()),
        Some(_) => {
            return Err(Problem::param(ParamError::new(
                "nextPageToken",
                "is not a position of this collection",
            )));
        }
    };
    let end = start.saturating_add(p.per_page).min(all.len());
    let members = all
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|m| json!(m))
        .collect();
    let next = (end < all.len()).then(|| query::encode_token(Cursor::Offset { n: end as u64 }, &fp));
    Ok(paged(collection(headers, members), uri, &p, next))
}

async fn event_types(headers: HeaderMap, uri: Uri) -> Response {
    respond(static_collection(&headers, &uri, "/eventTypes", &EVENT_TYPES))
}

async fn biz_steps(headers: HeaderMap, uri: Uri) -> Response {
    respond(static_collection(&headers, &uri, "/bizSteps", BIZ_STEPS))
}

async fn dispositions(headers: HeaderMap, uri: Uri) -> Response {
    respond(static_collection(&headers, &uri, "/dispositions", DISPOSITIONS))
}

/// Identifiers public events use, from a bounded chain scan.
async fn values_collection(
    s: Rest,
    headers: HeaderMap,
    uri: Uri,
    scope: &'static str,
    pick: fn(&ProvenanceEvent) -> Vec<String>,
) -> Response {
    let prepared = (|| -> Result<_, Problem> {
        let p = paging(query_pairs(&uri)?)?;
        no_params(&p)?;
        let fp = query::fingerprint(scope, &[]);
        let from = p.token.as_deref().map(|t| query::decode_token(t, &fp)).transpose()?;
        Ok((p, fp, from))
    })();
    let (p, fp, from) = match prepared {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let n = p.per_page;
    match gated(&s, move |b| query::values_page(b, &pick, n, from)).await {
        Ok((values, next)) => {
            let r = collection(&headers, values.into_iter().map(Value::String).collect());
            paged(r, &uri, &p, next.map(|c| query::encode_token(c, &fp)))
        }
        Err(e) => e.into_response(),
    }
}

async fn read_points(State(s): State<Rest>, headers: HeaderMap, uri: Uri) -> Response {
    values_collection(s, headers, uri, "/readPoints", |e| {
        e.read_point.iter().cloned().collect()
    })
    .await
}

async fn biz_locations(State(s): State<Rest>, headers: HeaderMap, uri: Uri) -> Response {
    values_collection(s, headers, uri, "/bizLocations", |e| {
        e.biz_location.iter().cloned().collect()
    })
    .await
}

async fn epcs(State(s): State<Rest>, headers: HeaderMap, uri: Uri) -> Response {
    values_collection(s, headers, uri, "/epcs", |e| {
        e.epc_list
            .iter()
            .chain(e.parent_id.iter())
            .chain(&e.child_epcs)
            .chain(&e.input_epc_list)
            .chain(&e.output_epc_list)
            .cloned()
            .collect()
    })
    .await
}

// ---- capture ----

fn capture_of(s: &Rest) -> Result<&Arc<Capture>, Problem> {
    s.capture.as_ref().ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_IMPLEMENTED,
            "epcisException:ImplementationException",
            "Capture is not enabled on this node",
            "this node does not capture EPCIS events: it signs for an org only when configured with that org's \
             key ([http.epcis_capture] org, key_id, key_file); submit signed events over gRPC SubmitEpcis or \
             `tradechain submit epcis` instead",
        )
    })
}

fn auth_problem(e: auth::AuthError) -> Problem {
    match e {
        auth::AuthError::Unauthenticated(d) => Problem::new(
            StatusCode::UNAUTHORIZED,
            "epcisException:SecurityException",
            "Unauthorised request",
            d,
        ),
        auth::AuthError::Forbidden(d) => Problem::new(
            StatusCode::FORBIDDEN,
            "epcisException:SecurityException",
            "Access to resource forbidden",
            d,
        ),
        auth::AuthError::Busy(d) => Problem::busy(d),
        auth::AuthError::Internal(d) => Problem::internal(d),
    }
}

fn authenticate_read(s: &Rest, c: &Capture, headers: &HeaderMap, uri: &Uri) -> Result<(), Problem> {
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    auth::authenticate(
        s.backend.as_ref(),
        headers,
        "GET",
        pq,
        b"",
        Some(&c.config().org),
        crate::clock::now_ms(),
        c.config().auth_skew_ms,
        None,
    )
    .map(|_| ())
    .map_err(auth_problem)
}

fn too_large(c: &CaptureConfig, detail: String) -> Problem {
    let mut p = Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "epcisException:CaptureLimitExceededException",
        "Capture payload too large",
        detail,
    );
    p.headers.push(("gs1-epcis-capture-limit", c.max_events.to_string()));
    p.headers
        .push(("gs1-epcis-capture-file-size-limit", c.max_body_bytes.to_string()));
    p
}

fn validation(detail: String) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "epcisException:ValidationException",
        "Invalid EPCIS document",
        detail,
    )
}

async fn capture_post(State(s): State<Rest>, headers: HeaderMap, uri: Uri, body: Body) -> Response {
    respond(capture_post_inner(&s, &headers, &uri, body).await)
}

async fn capture_post_inner(s: &Rest, headers: &HeaderMap, uri: &Uri, body: Body) -> Result<Response, Problem> {
    let c = capture_of(s)?;
    let cfg = c.config();
    let media = media_type(headers);
    if !matches!(media.as_str(), "application/json" | "application/ld+json") {
        let mut p = Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "epcisException:UnsupportedMediaTypeException",
            "Unsupported media type",
            format!("Content-Type {media:?}: send an EPCIS document as application/json or application/ld+json"),
        );
        p.parameter = Some("Content-Type".into());
        return Err(p);
    }
    let behaviour = match headers.get("gs1-capture-error-behaviour").map(|v| v.to_str()) {
        None => Behaviour::Rollback,
        Some(Ok("rollback")) => Behaviour::Rollback,
        Some(Ok("proceed")) => Behaviour::Proceed,
        Some(v) => {
            let mut p = validation(format!(
                "GS1-Capture-Error-Behaviour: {:?} is not rollback or proceed",
                v.unwrap_or("")
            ));
            p.parameter = Some("GS1-Capture-Error-Behaviour".into());
            return Err(p);
        }
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cfg.max_body_bytes as u64) {
        return Err(too_large(
            cfg,
            format!(
                "the document is {} bytes, above the limit of {} bytes",
                declared.unwrap_or_default(),
                cfg.max_body_bytes
            ),
        ));
    }
    let bytes = axum::body::to_bytes(body, cfg.max_body_bytes).await.map_err(|_| {
        too_large(
            cfg,
            format!("the document is above the limit of {} bytes", cfg.max_body_bytes),
        )
    })?;
    let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/capture");
    auth::authenticate(
        s.backend.as_ref(),
        headers,
        "POST",
        pq,
        &bytes,
        Some(&cfg.org),
        crate::clock::now_ms(),
        cfg.auth_skew_ms,
        Some(&c.replay),
    )
    .map_err(auth_problem)?;
    let text = std::str::from_utf8(&bytes).map_err(|e| validation(format!("the document is not UTF-8: {e}")))?;
    let mut events = epcis::import_document(text).map_err(|e| validation(e.to_string()))?;
    if events.is_empty() {
        return Err(validation("the document holds no events".into()));
    }
    if events.len() > cfg.max_events {
        return Err(too_large(
            cfg,
            format!(
                "the document holds {} events, above the limit of {}",
                events.len(),
                cfg.max_events
            ),
        ));
    }
    let genesis = s.backend.genesis();
    capture::assign_event_ids(&genesis.chain_id, &cfg.org, &mut events);
    // An event above the chain's limits is a bad event (400); a document above them as a whole
    // (it is one transaction: its size and event count) is too large to capture (413, split it).
    epcis::check_limits(&events, &genesis.limits).map_err(|e| match e.index() {
        Some(_) => validation(e.to_string()),
        None => too_large(cfg, e.to_string()),
    })?;
    let id = c
        .submit(events, behaviour)
        .map_err(|capture::QueueError::Busy(d)| Problem::busy(d))?;
    let job = c.job(&id).unwrap_or_else(|| json!({"captureID": id}));
    let mut r = (StatusCode::ACCEPTED, job.to_string()).into_response();
    set(r.headers_mut(), "content-type", "application/json");
    set(r.headers_mut(), "location", &format!("/capture/{id}"));
    Ok(r)
}

async fn capture_get(
    State(s): State<Rest>,
    p: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    respond((|| -> Result<Response, Problem> {
        let c = capture_of(&s)?;
        let id = path_value(p, "captureID")?;
        authenticate_read(&s, c, &headers, &uri)?;
        let pg = paging(query_pairs(&uri)?)?;
        no_params(&pg)?;
        let job = c.job(&id).ok_or_else(|| {
            Problem::not_found(format!(
                "no capture job {id} (jobs are kept in memory, at most {})",
                capture::MAX_JOBS
            ))
        })?;
        let mut r = (StatusCode::OK, job.to_string()).into_response();
        set(r.headers_mut(), "content-type", "application/json");
        Ok(r)
    })())
}

async fn capture_list(State(s): State<Rest>, headers: HeaderMap, uri: Uri) -> Response {
    respond((|| -> Result<Response, Problem> {
        let c = capture_of(&s)?;
        authenticate_read(&s, c, &headers, &uri)?;
        let p = paging(query_pairs(&uri)?)?;
        no_params(&p)?;
        let (start, fp) = offset_start(&p, "/capture")?;
        let (jobs, more) = c.jobs(start, p.per_page);
        let next = more.then(|| {
            query::encode_token(
                Cursor::Offset {
                    n: start.saturating_add(p.per_page) as u64,
                },
                &fp,
            )
        });
        let mut r = (StatusCode::OK, Value::Array(jobs).to_string()).into_response();
        set(r.headers_mut(), "content-type", "application/json");
        Ok(paged(r, &uri, &p, next))
    })())
}
