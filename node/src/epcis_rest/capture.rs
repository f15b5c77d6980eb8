//! EPCIS capture over REST: `POST /capture` takes an `EPCISDocument` (or `EPCISQueryDocument`),
//! the node signs it as ONE provenance document transaction (`epcis::document_transaction`) of
//! the ONE org it is configured to capture for (`[http.epcis_capture]`: org, key id, key file),
//! and a capture job reports the outcome (`GET /capture/{captureID}`, `GET /capture`).
//!
//! Who may capture: only a request signed by that same org (`epcis_rest::auth`: headers
//! `x-tc-*`, signature over method, path and the body's SHA-256, time within the skew, each
//! signed POST accepted once). The node's key signs the transaction; the request's signature
//! only authenticates the caller (it may be another of the org's keys). Without the config entry
//! the endpoints answer 501; a valid signature of another org is 403; anything unsigned, badly
//! signed, outside the time window or replayed is 401. Job reads are signed too (rejection
//! reasons are not public: see `grpc::disclosure`).
//!
//! Before anything is submitted, the whole document is checked: the request (media type, size:
//! `max_body_bytes`, 413), the mapping (`ledger::epcis::import_document`; 400 naming the event and
//! field), the event count (`max_events`, 413), the chain's size limits (`epcis::check_limits`:
//! the document is one transaction, so it must fit `max_tx_bytes`).
//! An event without an `eventID` gets one derived from the chain, the org and the event's
//! content (`urn:uuid:`, version 8), so every captured event can be read back at
//! `/events/{eventID}` and capturing the same event twice is refused as a duplicate.
//! Then, in the job, every event is dry-run in document order with the ledger's own execution
//! (`ledger::execute::execute_tx`, the real envelope checks and validators) against the current
//! committed state plus the document's earlier passing events, so every refused event is
//! reported (its index, eventID, the ledger's rule id and message), not only the first.
//! - `rollback` (the default, `GS1-Capture-Error-Behaviour`): if any event would be refused,
//!   nothing is submitted; otherwise the whole document is submitted as one transaction.
//! - `proceed`: the events that pass are submitted as one transaction; refused ones are reported.
//!
//! Atomic on the ledger: the validators record every event of the transaction or none
//! (`validate::provenance`), so even when the state changes between the dry run and the commit
//! (another org's custody move, the same org's own CLI), the outcome is all or nothing: the job
//! reports each submitted event captured, or each refused with the rule that refused the
//! transaction (`rejected at commit`). To keep its own nonces straight the worker handles one job
//! at a time, waits (up to `pending_wait`) until the org has no transaction pending in this
//! node's mempool before the dry run, and waits for a job's transaction to commit (up to
//! `commit_timeout`) before the next job.
//!
//! Bounds: `max_body_bytes` per request, `max_events` per document, `QUEUE` jobs waiting
//! (then 503), `MAX_JOBS` jobs kept in memory (the oldest finished ones are forgotten; when all
//! are running, 503). Jobs do not survive a restart.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::codec::encode;
use tradechain_ledger::crypto::SecretKey;
use tradechain_ledger::epcis::{self, time};
use tradechain_ledger::execute::{Registry, Rejection, execute_tx, next_nonce};
use tradechain_ledger::genesis::Genesis;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::identity::{Org, OrgId};
use tradechain_ledger::payload::{Payload, ProvenanceEvent};
use tradechain_ledger::state::{Overlay, StateView, get_typed, keys};
use tradechain_ledger::tx::{SignedTransaction, TX_VERSION, Transaction};

use super::auth::ReplayGuard;
use crate::grpc::backend::{Backend, SubmitError};

/// Jobs kept in memory.
pub const MAX_JOBS: usize = 1000;
/// Jobs waiting for the worker.
pub const QUEUE: usize = 16;
/// Dry runs of one job before it gives up on a moving head.
pub const DRY_RUN_ATTEMPTS: usize = 3;

/// `[http.epcis_capture]`, loaded: the org the node captures for and its signing key.
#[derive(Clone)]
pub struct CaptureConfig {
    pub org: OrgId,
    pub key_id: u32,
    pub key: SecretKey,
    pub max_events: usize,
    pub max_body_bytes: usize,
    pub auth_skew_ms: u64,
    pub pending_wait: Duration,
    pub commit_timeout: Duration,
}

impl CaptureConfig {
    /// Defaults for everything but who signs.
    pub fn new(org: OrgId, key_id: u32, key: SecretKey) -> CaptureConfig {
        CaptureConfig {
            org,
            key_id,
            key,
            max_events: 500,
            max_body_bytes: 4 * 1024 * 1024,
            auth_skew_ms: 60_000,
            pending_wait: Duration::from_secs(30),
            commit_timeout: Duration::from_secs(120),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Rollback,
    Proceed,
}

impl Behaviour {
    pub fn as_str(&self) -> &'static str {
        match self {
            Behaviour::Rollback => "rollback",
            Behaviour::Proceed => "proceed",
        }
    }
}

/// Why one event of a document was not captured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventError {
    pub index: usize,
    pub event_id: Option<String>,
    pub rule: String,
    pub detail: String,
    /// A refusal by the ledger's rules (vs. the node failing to submit or to see a commit).
    pub validation: bool,
}

impl EventError {
    fn json(&self) -> Value {
        let (kind, status) = if self.validation {
            ("epcisException:ValidationException", 400)
        } else {
            ("epcisException:ImplementationException", 500)
        };
        let mut v = json!({
            "type": kind,
            "title": format!("event {}: {}", self.index, self.rule),
            "status": status,
            "detail": self.detail,
            "instance": format!("#/epcisBody/eventList/{}", self.index),
            "tradechain:eventIndex": self.index,
            "tradechain:rule": self.rule,
        });
        if let Some(id) = &self.event_id {
            v["tradechain:eventID"] = json!(id);
        }
        v
    }
}

struct Job {
    id: String,
    created_ms: i64,
    finished_ms: Option<i64>,
    behaviour: Behaviour,
    event_count: usize,
    errors: Vec<EventError>,
    /// (event index, eventID, tx id, height) of each event committed as accepted.
    captured: Vec<(usize, Option<String>, Hash, u64)>,
    /// A failure of the job as a whole (not of one event).
    failure: Option<String>,
}

impl Job {
    fn running(&self) -> bool {
        self.finished_ms.is_none()
    }
    fn json(&self) -> Value {
        let mut errors: Vec<Value> = self.errors.iter().map(EventError::json).collect();
        if let Some(f) = &self.failure {
            errors.push(json!({
                "type": "epcisException:ImplementationException",
                "title": "capture job failed",
                "status": 500,
                "detail": f,
            }));
        }
        let mut v = json!({
            "captureID": self.id,
            "createdAt": time::render_ms(self.created_ms),
            "running": self.running(),
            "success": errors.is_empty(),
            "captureErrorBehaviour": self.behaviour.as_str(),
            "errors": errors,
            "tradechain:eventCount": self.event_count,
            "tradechain:captured": self.captured.iter().map(|(i, id, tx, h)| json!({
                "eventIndex": i, "eventID": id, "txId": tx.to_hex(), "height": h,
            })).collect::<Vec<_>>(),
        });
        if let Some(t) = self.finished_ms {
            v["finishedAt"] = json!(time::render_ms(t));
        }
        v
    }
}

struct Work {
    id: String,
    events: Vec<ProvenanceEvent>,
    behaviour: Behaviour,
}

/// What the worker and the handlers share.
struct Core {
    cfg: CaptureConfig,
    backend: Arc<dyn Backend>,
    jobs: Mutex<VecDeque<Job>>,
}

impl Core {
    fn with_job<T>(&self, id: &str, f: impl FnOnce(&mut Job) -> T) -> Option<T> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.iter_mut().find(|j| j.id == id).map(f)
    }
}

/// The capture service of one HTTP server.
pub struct Capture {
    core: Arc<Core>,
    queue: mpsc::Sender<Work>,
    pub replay: ReplayGuard,
    next_id: AtomicU64,
    epoch_ms: i64,
}

/// Why a capture could not be queued.
#[derive(Debug)]
pub enum QueueError {
    Busy(String),
}

impl Capture {
    /// Start the worker (needs a tokio runtime).
    pub fn start(cfg: CaptureConfig, backend: Arc<dyn Backend>) -> Arc<Capture> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let core = Arc::new(Core {
            cfg,
            backend,
            jobs: Mutex::new(VecDeque::new()),
        });
        tokio::spawn(worker(core.clone(), rx));
        Arc::new(Capture {
            core,
            queue: tx,
            replay: ReplayGuard::default(),
            next_id: AtomicU64::new(1),
            epoch_ms: crate::clock::now_ms(),
        })
    }

    pub fn config(&self) -> &CaptureConfig {
        &self.core.cfg
    }

    /// Queue a checked document's events as a new job; its id.
    pub fn submit(&self, events: Vec<ProvenanceEvent>, behaviour: Behaviour) -> Result<String, QueueError> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let id = format!("cap-{}-{n}", self.epoch_ms);
        {
            let mut jobs = self.core.jobs.lock().unwrap_or_else(|p| p.into_inner());
            if jobs.len() >= MAX_JOBS {
                match jobs.iter().position(|j| !j.running()) {
                    Some(i) => {
                        jobs.remove(i);
                    }
                    None => {
                        return Err(QueueError::Busy(format!(
                            "{MAX_JOBS} capture jobs are running; retry later"
                        )));
                    }
                }
            }
            jobs.push_back(Job {
                id: id.clone(),
                created_ms: crate::clock::now_ms(),
                finished_ms: None,
                behaviour,
                event_count: events.len(),
                errors: Vec::new(),
                captured: Vec::new(),
                failure: None,
            });
        }
        let work = Work {
            id: id.clone(),
            events,
            behaviour,
        };
        if self.queue.try_send(work).is_err() {
            let mut jobs = self.core.jobs.lock().unwrap_or_else(|p| p.into_inner());
            jobs.retain(|j| j.id != id);
            return Err(QueueError::Busy(format!(
                "{QUEUE} capture jobs are waiting; retry later"
            )));
        }
        Ok(id)
    }

    /// A job as the binding shows it.
    pub fn job(&self, id: &str) -> Option<Value> {
        self.core.with_job(id, |j| j.json())
    }

    /// Jobs, newest first, from `offset`, at most `n`; and whether more follow.
    pub fn jobs(&self, offset: usize, n: usize) -> (Vec<Value>, bool) {
        let jobs = self.core.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let page: Vec<Value> = jobs.iter().rev().skip(offset).take(n).map(Job::json).collect();
        let more = jobs.len() > offset.saturating_add(n);
        (page, more)
    }
}

/// The `urn:uuid:` (version 8, from SHA-256) the node gives an event without an eventID: the
/// chain, the capturing org and the event's content.
pub fn derived_event_id(chain_id: &str, org: &OrgId, ev: &ProvenanceEvent) -> String {
    let h = Hash::tagged_parts(
        "tradechain/epcis-rest/event-id",
        &[chain_id.as_bytes(), org.as_str().as_bytes(), &encode(ev)],
    );
    let mut b = [0u8; 16];
    b.copy_from_slice(h.0.get(..16).unwrap_or(&[0; 16]));
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        x.get(0..8).unwrap_or(""),
        x.get(8..12).unwrap_or(""),
        x.get(12..16).unwrap_or(""),
        x.get(16..20).unwrap_or(""),
        x.get(20..32).unwrap_or("")
    )
}

/// Give every event without an eventID its derived one.
pub fn assign_event_ids(chain_id: &str, org: &OrgId, events: &mut [ProvenanceEvent]) {
    for ev in events.iter_mut() {
        if ev.event_id.is_none() {
            ev.event_id = Some(derived_event_id(chain_id, org, ev));
        }
    }
}

/// Committed state through a `Backend`; the first storage error is kept (a read that failed
/// reads as absent, and the dry run is then discarded).
struct BackendView<'a> {
    b: &'a dyn Backend,
    err: Mutex<Option<String>>,
}

impl StateView for BackendView<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.b.state_get(key) {
            Ok(v) => v,
            Err(e) => {
                let mut err = self.err.lock().unwrap_or_else(|p| p.into_inner());
                err.get_or_insert(e.to_string());
                None
            }
        }
    }
}

/// The result of a dry run: the document transaction to submit (the events that pass, in
/// document order; None when none do) and the events that would be refused.
pub struct Plan {
    pub head: u64,
    /// Indices (in the captured document) of the events the transaction carries.
    pub events: Vec<usize>,
    pub tx: Option<SignedTransaction>,
    pub errors: Vec<EventError>,
}

/// Judge one transaction with the ledger's execution (a panic is the ledger's `internal.fault`).
fn judge(
    registry: &Registry,
    genesis: &Genesis,
    view: &dyn StateView,
    height: u64,
    now_ms: i64,
    stx: &SignedTransaction,
) -> Result<tradechain_ledger::state::WriteSet, Rejection> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        execute_tx(registry, genesis, view, height, now_ms, 0, stx, true)
    })) {
        Ok(Ok(verdict)) => verdict,
        Ok(Err(e)) => Err(Rejection::new(
            tradechain_ledger::execute::INTERNAL_FAULT,
            e.to_string(),
        )),
        Err(_) => Err(Rejection::new(
            tradechain_ledger::execute::INTERNAL_FAULT,
            "the node's checks failed on this event (a bug); it would be rejected on every node",
        )),
    }
}

/// Dry-run `events` against committed state at the current head, at block time `now_ms`: each
/// event is judged in order with the ledger's own execution, seeing the writes of the earlier
/// ones that pass (so every refused event is reported, not only the first); then the document
/// transaction of the passing events is signed and judged as a whole, as the validators will.
pub fn dry_run(b: &dyn Backend, cfg: &CaptureConfig, events: &[ProvenanceEvent], now_ms: i64) -> Result<Plan, String> {
    let genesis: &Genesis = b.genesis();
    let head = b.head().map_err(|e| e.to_string())?.map(|h| h.height).unwrap_or(0);
    let view = BackendView {
        b,
        err: Mutex::new(None),
    };
    let org: Org = get_typed(&view, &keys::org(&cfg.org))
        .ok_or_else(|| format!("{} is not a current member: the node cannot capture for it", cfg.org))?;
    if org.key(cfg.key_id) != Some(&cfg.key.public()) {
        return Err(format!(
            "the node's capture key is not {}'s current key {} (rotated? update [http.epcis_capture])",
            cfg.org, cfg.key_id
        ));
    }
    let registry = Registry::default();
    let nonce = next_nonce(&view, &org);
    let height = head.saturating_add(1);
    let unsigned = |nonce: u64, payload: Payload| {
        let tx = Transaction {
            version: TX_VERSION,
            chain_id: genesis.chain_id.clone(),
            sender: cfg.org.clone(),
            key_id: cfg.key_id,
            nonce,
            time_ms: now_ms,
            payload,
        };
        SignedTransaction::new(tx, Hash::ZERO, tradechain_ledger::crypto::Signature([0; 64]))
    };
    // Event by event (unsigned: these transactions are never submitted, the signature is the
    // envelope's business and is judged on the real one below).
    let mut overlay = Overlay::new(&view);
    let mut n = nonce;
    let mut plan = Plan {
        head,
        events: Vec::new(),
        tx: None,
        errors: Vec::new(),
    };
    for (i, ev) in events.iter().enumerate() {
        match judge(
            &registry,
            genesis,
            &overlay,
            height,
            now_ms,
            &unsigned(n, Payload::Provenance(ev.clone())),
        ) {
            Ok(writes) => {
                overlay.apply(writes);
                n = n.saturating_add(1);
                plan.events.push(i);
            }
            Err(r) => plan.errors.push(EventError {
                index: i,
                event_id: ev.event_id.clone(),
                rule: r.rule,
                detail: r.reason,
                validation: true,
            }),
        }
    }
    if !plan.events.is_empty() {
        let passing: Vec<ProvenanceEvent> = plan.events.iter().filter_map(|&i| events.get(i).cloned()).collect();
        let stx = epcis::document_transaction(&passing, &genesis.chain_id, &cfg.org, cfg.key_id, nonce, now_ms)
            .sign(&cfg.key);
        if let Err(r) = judge(&registry, genesis, &view, height, now_ms, &stx) {
            // Judged one by one they pass; as a document they do not (a bug or a limit that
            // only the whole reaches, e.g. the transaction size): nothing is submitted.
            return Err(format!(
                "the document's transaction would be refused ({}: {}); nothing was submitted",
                r.rule, r.reason
            ));
        }
        plan.tx = Some(stx);
    }
    if let Some(e) = view.err.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(format!("storage: {e}"));
    }
    Ok(plan)
}

async fn worker(core: Arc<Core>, mut rx: mpsc::Receiver<Work>) {
    while let Some(work) = rx.recv().await {
        let id = work.id.clone();
        if let Err(e) = run(&core, work).await {
            core.with_job(&id, |j| j.failure = Some(e));
        }
        core.with_job(&id, |j| j.finished_ms = Some(crate::clock::now_ms()));
    }
}

/// The org's committed next nonce.
fn committed_next(b: &dyn Backend, org: &OrgId) -> Result<u64, String> {
    let view = BackendView {
        b,
        err: Mutex::new(None),
    };
    let org: Org = get_typed(&view, &keys::org(org)).ok_or_else(|| format!("{org} is not a current member"))?;
    Ok(next_nonce(&view, &org))
}

async fn run(core: &Arc<Core>, work: Work) -> Result<(), String> {
    let b = core.backend.clone();
    let cfg = &core.cfg;
    // 1. No transaction of the org pending here, so the dry run's nonces are the real ones.
    let mut commits = b.subscribe_commits();
    let deadline = tokio::time::Instant::now() + cfg.pending_wait;
    loop {
        let next = committed_next(b.as_ref(), &cfg.org)?;
        if b.pending_next_nonce(&cfg.org, next) == next {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "{} still has transactions pending in this node's mempool after {} s; nothing was submitted",
                cfg.org,
                cfg.pending_wait.as_secs()
            ));
        }
        let _ = tokio::time::timeout(Duration::from_millis(200), commits.recv()).await;
    }
    // 2. Dry run at a stable head.
    let events = Arc::new(work.events);
    let mut plan = None;
    for _ in 0..DRY_RUN_ATTEMPTS {
        let (b2, cfg2, ev2) = (b.clone(), cfg.clone(), events.clone());
        let p = tokio::task::spawn_blocking(move || dry_run(b2.as_ref(), &cfg2, &ev2, crate::clock::now_ms()))
            .await
            .map_err(|e| format!("dry run: {e}"))??;
        let head = b.head().map_err(|e| e.to_string())?.map(|h| h.height).unwrap_or(0);
        if head == p.head {
            plan = Some(p);
            break;
        }
    }
    let plan = plan.ok_or_else(|| {
        format!("the chain moved during each of {DRY_RUN_ATTEMPTS} dry runs; nothing was submitted, retry")
    })?;
    let refused = !plan.errors.is_empty();
    core.with_job(&work.id, |j| j.errors = plan.errors.clone());
    if refused && work.behaviour == Behaviour::Rollback {
        return Ok(());
    }
    let Some(stx) = plan.tx else {
        return Ok(());
    };
    let event_id = |i: usize| events.get(i).and_then(|e| e.event_id.clone());
    // Every event of the transaction shares its fate.
    let all = |rule: &str, detail: String, validation: bool| -> Vec<EventError> {
        plan.events
            .iter()
            .map(|&i| EventError {
                index: i,
                event_id: event_id(i),
                rule: rule.to_string(),
                detail: detail.clone(),
                validation,
            })
            .collect()
    };
    // 3. Submit the one transaction.
    let mut commits = b.subscribe_commits();
    let id = match b.submit(stx) {
        Ok(id) => id,
        Err(e) => {
            let validation = matches!(e, SubmitError::Rejected { .. });
            let rule = match &e {
                SubmitError::Rejected { rule, .. } => rule.clone(),
                SubmitError::Busy(_) => "node.busy".into(),
                SubmitError::Unavailable(_) => "node.unavailable".into(),
                _ => "node.submit".into(),
            };
            let late = all(&rule, format!("not submitted: {e}"), validation);
            core.with_job(&work.id, |j| {
                j.errors.extend(late);
                j.errors.sort_by_key(|e| e.index);
            });
            return Ok(());
        }
    };
    // 4. Wait for its verdict: all of the document's submitted events, or none.
    let deadline = tokio::time::Instant::now() + cfg.commit_timeout;
    let (late, captured) = loop {
        if let Some(at) = b.tx_location(&id).map_err(|e| e.to_string())? {
            let outcome = b
                .outcomes(at.height)
                .map_err(|e| e.to_string())?
                .and_then(|o| o.get(at.index as usize).cloned());
            break match outcome {
                Some(TxOutcome::Accepted) => (
                    Vec::new(),
                    plan.events.iter().map(|&i| (i, event_id(i), id, at.height)).collect(),
                ),
                Some(TxOutcome::Rejected { rule, reason }) => (
                    all(
                        &rule,
                        format!(
                            "the document's transaction was rejected at commit in block {} (the state changed after the check), none of its events recorded: {reason}",
                            at.height
                        ),
                        true,
                    ),
                    Vec::new(),
                ),
                None => (
                    all(
                        "node.outcome_missing",
                        format!("committed in block {} without a stored outcome", at.height),
                        false,
                    ),
                    Vec::new(),
                ),
            };
        }
        if tokio::time::Instant::now() >= deadline {
            break (
                all(
                    "node.commit_timeout",
                    format!(
                        "submitted as {} but not committed within {} s (it may still commit: GetTransaction tells)",
                        id.to_hex(),
                        cfg.commit_timeout.as_secs()
                    ),
                    false,
                ),
                Vec::new(),
            );
        }
        let _ = tokio::time::timeout(Duration::from_millis(250), commits.recv()).await;
    };
    core.with_job(&work.id, |j| {
        j.errors.extend(late);
        j.errors.sort_by_key(|e| e.index);
        j.captured = captured;
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tradechain_ledger::payload::EventType;

    #[test]
    fn derived_event_ids_are_uuids_bound_to_chain_org_and_content() {
        let org = OrgId::new("PRODUCER-FZ").unwrap();
        let mut e = ProvenanceEvent::new(EventType::ObjectEvent);
        let a = derived_event_id("c", &org, &e);
        assert!(a.starts_with("urn:uuid:") && a.len() == 45, "{a}");
        assert_eq!(a.as_bytes()[23], b'8', "version 8: {a}");
        assert_eq!(a, derived_event_id("c", &org, &e));
        assert_ne!(a, derived_event_id("d", &org, &e));
        assert_ne!(a, derived_event_id("c", &OrgId::new("OTHER-XX").unwrap(), &e));
        e.event_time_ms = 1;
        assert_ne!(a, derived_event_id("c", &org, &e));
    }
}
