//! `bench load`: load a running network and measure what it **commits**.
//!
//! Pre-signs transactions from the testnet's member orgs in a realistic mix (`--mix realistic`,
//! per ten: six provenance events — producers commissioning new serials, ports and carriers
//! observing them —, a carrier issuing a bill of lading, a holder endorsing one, a bank
//! instructing a settlement, a bank confirming one), or provenance only (`--mix provenance`).
//! Endorsements and confirmations need a bill and an instruction to exist: those are created
//! and committed first (the set-up phase, reported apart and not timed). Then it submits over
//! gRPC to the validators with `--concurrency` requests in flight — as fast as accepted, or
//! paced at `--rate` tx/s — retrying while a mempool refuses (counted), and learns commits by
//! reading the committed blocks (signed `GetBlock` as a member), not from acknowledgements:
//! committed tx/s from the first submit to the last commit, latency from each transaction's
//! submit to the commit of its block (p50/p90/p99/max), rejections by rule.
//!
//! `--ramp` runs paced steps at rising rates (`--ramp-start`, × `--ramp-factor`) and reports the
//! highest rate whose p99 stays under `--ramp-p99-ms` with every transaction committed.
//!
//! The client runs on the same machine as the nodes, so it takes CPU from them: the figures are
//! for "everything on this box".
use super::percentile;
use crate::client;
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;
use tradechain_ledger::payload::{
    Action, EventType, ProvenanceEvent, SettlementInstruct, SettlementOp, SettlementRef, WaybillOp,
};
use tradechain_ledger::{OrgId, Payload, SecretKey, SignedTransaction};
use tradechain_node::clock::now_ms;
use tradechain_proto::v1;

#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    /// The member keys (testnet/up writes them to testnet/.data/keys).
    #[arg(long, default_value = "testnet/.data/keys")]
    pub keys_dir: PathBuf,
    /// Validator gRPC endpoints to spread submissions over (default: the testnet's four).
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// Nodes whose CPU the report counts per stage (default: the endpoints, and the testnet's
    /// observer when the endpoints are the testnet's).
    #[arg(long, value_delimiter = ',')]
    pub cpu_endpoints: Vec<String>,
    /// Transactions to submit (measured; the set-up phase adds up to 20 % more).
    #[arg(long, default_value_t = 20_000)]
    pub txs: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Pace submissions at this many tx/s (0: as fast as the network accepts).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// With --rate: submit for this many seconds (txs = rate × duration).
    #[arg(long)]
    pub duration_s: Option<u64>,
    /// What to submit.
    #[arg(long, value_enum, default_value = "realistic")]
    pub mix: Mix,
    /// Find the highest paced rate whose p99 commit latency stays under --ramp-p99-ms.
    #[arg(long)]
    pub ramp: bool,
    #[arg(long, default_value_t = 500)]
    pub ramp_start: u64,
    #[arg(long, default_value_t = 1.5)]
    pub ramp_factor: f64,
    /// Seconds per ramp step.
    #[arg(long, default_value_t = 10)]
    pub ramp_step_s: u64,
    #[arg(long, default_value_t = 1000)]
    pub ramp_p99_ms: u64,
    #[arg(long, default_value_t = 8)]
    pub ramp_max_steps: u32,
    /// A peak-season surge: --rate (default 500) for --burst-pre-s, then --burst-factor × that
    /// for --burst-s, then --rate again for --burst-post-s; reports refusals, losses and how long
    /// the backlog takes to drain.
    #[arg(long, conflicts_with = "ramp")]
    pub burst: bool,
    #[arg(long, default_value_t = 10)]
    pub burst_factor: u64,
    #[arg(long, default_value_t = 30)]
    pub burst_s: u64,
    #[arg(long, default_value_t = 10)]
    pub burst_pre_s: u64,
    #[arg(long, default_value_t = 20)]
    pub burst_post_s: u64,
    /// Give up waiting for commits this many seconds after the last paced submission (per phase).
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mix {
    /// 60 % provenance, 20 % bills of lading (issue, endorse), 20 % settlements (instruct, confirm).
    Realistic,
    /// Provenance events only (1/3 commissioning, 2/3 observations).
    Provenance,
}

impl Mix {
    fn describe(self) -> &'static str {
        match self {
            Mix::Realistic => {
                "per 10 txs: 6 provenance (commissioning by producers, observations by ports and carriers), \
                 1 BL issue, 1 BL endorsement, 1 settlement instruction, 1 settlement confirmation"
            }
            Mix::Provenance => "provenance only: 1/3 commissioning (producers), 2/3 observations (ports, carriers)",
        }
    }
}

/// (sender org, what it records, where): producers commission, ports and carriers observe.
const PROVENANCE: &[(&str, &str, &str)] = &[
    ("PRODUCER-FZ", "urn:epcglobal:cbv:bizstep:commissioning", "CNFOC"),
    ("PRODUCER-XA", "urn:epcglobal:cbv:bizstep:commissioning", "CNXAN"),
    ("PORT-CNFOC", "urn:epcglobal:cbv:bizstep:arriving", "CNFOC"),
    ("PORT-NLRTM", "urn:epcglobal:cbv:bizstep:departing", "NLRTM"),
    ("CARRIER-COSCO", "urn:epcglobal:cbv:bizstep:loading", "CNFOC"),
    ("CARRIER-RAIL", "urn:epcglobal:cbv:bizstep:loading", "CNXAN"),
];
const CARRIER: &str = "CARRIER-COSCO";
const SHIPPER: &str = "PRODUCER-FZ";
const PAYER_BANK: &str = "BANK-CN";
const PAYEE_BANK: &str = "BANK-NL";

/// The network under load and a member's view of it.
pub struct Net {
    pub endpoints: Vec<String>,
    channels: Vec<Channel>,
    /// The nodes whose CPU is counted (`bench::cpu`).
    cpu_nodes: Vec<(String, Channel)>,
    reader: Channel,
    chain_id: String,
    keys_dir: PathBuf,
    senders: BTreeMap<&'static str, (OrgId, SecretKey, u64)>,
    /// Makes ids unique to this run (serials, BL references, settlement ids).
    run: u64,
    seq: u64,
}

impl Net {
    pub async fn connect(a: &LoadArgs, endpoint: &str) -> CliResult<Net> {
        let endpoints = if a.endpoints.is_empty() {
            (1..=4).map(|i| format!("http://127.0.0.1:{}", 9100 + i)).collect()
        } else {
            a.endpoints.clone()
        };
        let mut channels = Vec::new();
        for e in &endpoints {
            channels.push(client::connect(e).await?);
        }
        let cpu_endpoints = match (&a.cpu_endpoints, a.endpoints.is_empty()) {
            (c, _) if !c.is_empty() => c.clone(),
            (_, true) => endpoints
                .iter()
                .cloned()
                .chain(["http://127.0.0.1:9105".to_string()])
                .collect(),
            (_, false) => endpoints.clone(),
        };
        let mut cpu_nodes = Vec::new();
        for e in cpu_endpoints {
            if let Ok(ch) = client::connect(&e).await {
                cpu_nodes.push((e, ch));
            }
        }
        let reader = client::connect(endpoint).await?;
        let chain_id = client::chain_id(&reader).await?;
        let mut senders = BTreeMap::new();
        let names = PROVENANCE.iter().map(|p| p.0).chain([PAYER_BANK, PAYEE_BANK]);
        for id in names {
            let org = OrgId::new(id).map_err(CliError::failure)?;
            let path = a.keys_dir.join(format!("{}.key", id.to_lowercase()));
            let key = SecretKey::read_file(&path).map_err(|e| CliError::usage(format!("--keys-dir: {e}")))?;
            let nonce = client::next_nonce(&reader, &org).await?;
            senders.insert(id, (org, key, nonce));
        }
        Ok(Net {
            endpoints,
            channels,
            cpu_nodes,
            reader,
            chain_id,
            keys_dir: a.keys_dir.clone(),
            senders,
            run: (now_ms() as u64) % 0xff_ffff,
            seq: 0,
        })
    }

    fn sign(&mut self, who: &str, payload: Payload) -> CliResult<SignedTransaction> {
        let Some((org, key, nonce)) = self.senders.get_mut(who) else {
            return Err(CliError::failure(format!("bench: no key for {who}")));
        };
        let tx = client::sign(&self.chain_id, org, 0, *nonce, payload, key);
        *nonce += 1;
        Ok(tx)
    }

    /// `n` measured transactions of `mix`, and the set-up transactions they need committed first.
    fn plan(&mut self, n: usize, mix: Mix) -> CliResult<(Vec<SignedTransaction>, Vec<SignedTransaction>)> {
        let base = self.seq;
        self.seq += n as u64;
        let run = self.run;
        let id = |i: usize| format!("{run:x}-{:x}", base + i as u64);
        let slot = |i: usize| if mix == Mix::Realistic { i % 10 } else { 0 };
        // Set-up first: its nonces must precede the measured ones of the same senders.
        let mut setup = Vec::new();
        for i in 0..n {
            match slot(i) {
                7 => setup.push(self.sign(CARRIER, issue(&format!("BS{}", id(i))))?),
                9 => setup.push(self.sign(PAYER_BANK, instruct(&format!("SS{}", id(i))))?),
                _ => {}
            }
        }
        let t = now_ms() - 1_000;
        let mut measured = Vec::with_capacity(n);
        let mut p = 0usize;
        for i in 0..n {
            let tx = match slot(i) {
                6 => self.sign(CARRIER, issue(&format!("BN{}", id(i))))?,
                7 => {
                    let op = WaybillOp::Transfer {
                        carrier: OrgId::new(CARRIER).map_err(CliError::failure)?,
                        reference: format!("BS{}", id(i)),
                        new_holder: OrgId::new(PAYER_BANK).map_err(CliError::failure)?,
                    };
                    self.sign(SHIPPER, Payload::Waybill(op))?
                }
                8 => self.sign(PAYER_BANK, instruct(&format!("SN{}", id(i))))?,
                9 => {
                    let op = SettlementOp::Confirm {
                        payer_bank: OrgId::new(PAYER_BANK).map_err(CliError::failure)?,
                        settlement_id: format!("SS{}", id(i)),
                    };
                    self.sign(PAYEE_BANK, Payload::Settlement(op))?
                }
                _ => {
                    let s = p % PROVENANCE.len();
                    p += 1;
                    self.sign(PROVENANCE[s].0, Payload::Provenance(event(s, &id(i), t)))?
                }
            };
            measured.push(tx);
        }
        Ok((setup, measured))
    }
}

fn issue(reference: &str) -> Payload {
    Payload::Waybill(WaybillOp::Issue(tradechain_ledger::demo::waybill_issue(
        reference,
        SHIPPER,
        &[],
    )))
}

fn instruct(id: &str) -> Payload {
    let org = |s: &str| OrgId::new(s).unwrap_or_else(|e| unreachable!("fixed org id {s}: {e}"));
    Payload::Settlement(SettlementOp::Instruct(SettlementInstruct {
        settlement_id: id.to_string(),
        payer_bank: org(PAYER_BANK),
        payee_bank: org(PAYEE_BANK),
        amount_minor: 1_250_000,
        currency: "USD".into(),
        reference: SettlementRef::Invoice {
            number: format!("INV-{id}"),
        },
        payer_party: "Rotterdam Importer B.V.".into(),
        payee_party: "Fuzhou Electronics Co.".into(),
    }))
}

fn event(sender: usize, id: &str, time_ms: i64) -> ProvenanceEvent {
    let (org, step, loc) = PROVENANCE[sender];
    // Each producer commissions under its own GS1 Company Prefix (ledger::demo::PREFIXES).
    let prefix = if org == "PRODUCER-XA" { "6907777" } else { "6901234" };
    let epc = format!("urn:epc:id:sgtin:{prefix}.012345.B{id}");
    let action = if step.ends_with("commissioning") {
        Action::Add
    } else {
        Action::Observe
    };
    let mut e = tradechain_ledger::payload::build::event(EventType::ObjectEvent, Some(action), &[&epc], time_ms);
    e.biz_step = Some(step.to_string());
    e.unlocode = Some(loc.to_string());
    e
}

/// One transaction of a phase, in seconds from the phase's start.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct TxTrace {
    /// When the block holding it was read as committed.
    pub committed_s: Option<f64>,
    /// Committed and accepted by the validators (not rejected).
    pub accepted: bool,
    /// Times a mempool refused it as busy before accepting it.
    pub refusals: u32,
}

/// What one phase of submissions came to.
#[derive(Default)]
pub(super) struct Phase {
    pub txs: usize,
    pub latencies_ms: Vec<f64>,
    pub rejected: BTreeMap<String, u64>,
    pub errors: BTreeMap<String, u64>,
    pub blocks: u64,
    pub seconds: f64,
    /// Per transaction, by submission order.
    pub traces: Vec<TxTrace>,
    /// The largest mempool (of the node read) seen while the phase ran.
    pub max_mempool: u64,
    /// Transactions a node acknowledged (Submit returned OK).
    pub acknowledged: usize,
    /// Acknowledged ones submitted again because the node that took them no longer knew them
    /// (or could not be reached), per `GetTransaction`.
    pub resubmitted: u64,
    /// Acknowledged but never seen committed or rejected in a block by the end of the phase.
    pub lost: usize,
    /// Where the nodes' CPU went during the phase (`bench::cpu::report`; null if not read).
    pub cpu: Value,
}

impl Phase {
    pub fn committed(&self) -> usize {
        self.latencies_ms.len()
    }
    /// Busy refusals, each retried.
    pub fn refusals(&self) -> u64 {
        self.traces.iter().map(|t| u64::from(t.refusals)).sum()
    }
    pub fn tps(&self) -> f64 {
        (self.committed() as f64 / self.seconds.max(1e-9)).round()
    }
    pub fn p99(&self) -> f64 {
        percentile(&self.latencies_ms, 0.99).round()
    }
    pub fn json(&self) -> Value {
        let mut v = json!({
            "txs": self.txs,
            "committed": self.committed(),
            "rejected": self.rejected,
            "submit_errors": self.errors,
            "mempool_refusals": self.refusals(),
            "acknowledged": self.acknowledged,
            "resubmitted": self.resubmitted,
            "lost": self.lost,
            "blocks": self.blocks,
            "seconds": (self.seconds * 1000.0).round() / 1000.0,
            "committed_tps": self.tps(),
            "latency_ms": {
                "p50": percentile(&self.latencies_ms, 0.50).round(),
                "p90": percentile(&self.latencies_ms, 0.90).round(),
                "p99": self.p99(),
                "max": self.latencies_ms.last().copied().unwrap_or(0.0).round(),
            },
        });
        if !self.cpu.is_null() {
            v["cpu"] = self.cpu.clone();
        }
        v
    }
}

/// When to submit each transaction, in seconds from the start: `rate` tx/s evenly (0: as fast as
/// accepted).
pub(super) fn even(n: usize, rate: u64) -> Option<Arc<Vec<f64>>> {
    (rate > 0).then(|| Arc::new((0..n).map(|i| i as f64 / rate as f64).collect()))
}

/// Submit `txs` (each not before its `due` offset, when given) and read committed blocks until
/// each has a verdict or `timeout` passes.
pub(super) async fn drive(
    net: &Net,
    txs: Vec<SignedTransaction>,
    concurrency: usize,
    due: Option<Arc<Vec<f64>>>,
    timeout: Duration,
    out: &Output,
) -> CliResult<Phase> {
    let n = txs.len();
    let mut phase = Phase {
        txs: n,
        traces: vec![TxTrace::default(); n],
        ..Phase::default()
    };
    if n == 0 {
        return Ok(phase);
    }
    debug_assert!(
        due.as_ref().is_none_or(|d| d.len() == n),
        "one due time per transaction"
    );
    let submitted: Arc<Mutex<Acks>> = Arc::new(Mutex::new(HashMap::with_capacity(n)));
    let refused: Arc<Mutex<Vec<u32>>> = Arc::new(Mutex::new(vec![0; n]));
    let all: Arc<Vec<SignedTransaction>> = Arc::new(txs);
    let queue: Arc<Mutex<VecDeque<(usize, SignedTransaction)>>> =
        Arc::new(Mutex::new(all.iter().cloned().enumerate().collect()));
    let errors = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let mut node = v1::node_service_client::NodeServiceClient::new(net.reader.clone());
    let start_height = node
        .get_status(v1::GetStatusRequest {})
        .await
        .map_err(|s| client::status_err("status", s))?
        .into_inner()
        .height;
    let started = Instant::now();
    let mut workers = Vec::new();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    for w in 0..concurrency.max(1) {
        let channels = net.channels.clone();
        let mut at_ch = w % channels.len().max(1);
        let (queue, submitted, refused, errors) = (queue.clone(), submitted.clone(), refused.clone(), errors.clone());
        let (due, in_flight, stop) = (due.clone(), in_flight.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let Some(ch) = channels.get(at_ch) else { return };
            let mut grpc = v1::transaction_service_client::TransactionServiceClient::new(ch.clone());
            loop {
                // Popped and counted in flight under the queue lock, so "queue empty and nothing
                // in flight" means every submission has been answered.
                let popped = queue.lock().ok().and_then(|mut q| {
                    let t = q.pop_front();
                    if t.is_some() {
                        in_flight.fetch_add(1, Ordering::SeqCst);
                    }
                    t
                });
                let Some((i, tx)) = popped else {
                    // Resubmissions may still come: wait for them until the phase ends.
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                if let Some(at) = due.as_ref().and_then(|d| d.get(i)) {
                    tokio::time::sleep_until((started + Duration::from_secs_f64(*at)).into()).await;
                }
                let bytes = tradechain_ledger::codec::encode(&tx);
                let id = tx.id().to_hex();
                loop {
                    let at = Instant::now();
                    match grpc
                        .submit(v1::SubmitRequest {
                            signed_tx: bytes.clone(),
                        })
                        .await
                    {
                        Ok(_) => {
                            if let Ok(mut m) = submitted.lock() {
                                m.entry(id.clone()).or_insert((i, at, at_ch)).2 = at_ch;
                            }
                            break;
                        }
                        Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                            if let Some(c) = refused.lock().ok().as_mut().and_then(|r| r.get_mut(i)) {
                                *c += 1;
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        // Down, syncing, unreachable or cut off mid-call (the node may or may
                        // not have taken it: submitting again is harmless): the next endpoint.
                        Err(s) if retry_elsewhere(s.code()) => {
                            if let Some(c) = refused.lock().ok().as_mut().and_then(|r| r.get_mut(i)) {
                                *c += 1;
                            }
                            at_ch = (at_ch + 1) % channels.len().max(1);
                            if let Some(ch) = channels.get(at_ch) {
                                grpc = v1::transaction_service_client::TransactionServiceClient::new(ch.clone());
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        Err(s) => {
                            if let Ok(mut e) = errors.lock() {
                                *e.entry(format!("{:?}: {}", s.code(), s.message())).or_default() += 1;
                            }
                            break;
                        }
                    }
                }
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }));
    }
    // Read committed blocks until every submitted transaction has a verdict.
    let reader_org = SHIPPER.to_string();
    let reader_key = net.keys_dir.join(format!("{}.key", reader_org.to_lowercase()));
    let member = crate::documents::Member {
        org: &reader_org,
        key: Some(reader_key.as_path()),
    };
    let mut chain = v1::chain_service_client::ChainServiceClient::new(net.reader.clone());
    let mut next = start_height + 1;
    let (mut seen, mut last_commit) = (0usize, started);
    let mut seen_ids: HashSet<String> = HashSet::with_capacity(n);
    let deadline = started + timeout;
    let mut last_note = Instant::now();
    let mut last_check = Instant::now();
    while seen < n && Instant::now() < deadline {
        if last_check.elapsed() >= RESUBMIT_CHECK_EVERY {
            last_check = Instant::now();
            phase.resubmitted += resubmit_unknown(&net.channels, &all, &submitted, &seen_ids, &queue).await;
        }
        let status = node
            .get_status(v1::GetStatusRequest {})
            .await
            .map_err(|s| client::status_err("status", s))?
            .into_inner();
        phase.max_mempool = phase.max_mempool.max(status.mempool_size);
        let head = status.height;
        if head < next {
            let done = queue.lock().map(|q| q.is_empty()).unwrap_or(true) && in_flight.load(Ordering::SeqCst) == 0;
            let failed = errors.lock().map(|e| e.values().sum::<u64>()).unwrap_or(0) as usize;
            if done && seen + failed >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        while next <= head {
            let msg = v1::BlockRequest {
                at: Some(v1::block_request::At::Height(next)),
            };
            let req =
                crate::documents::signed(&net.reader, &member, "/tradechain.v1.ChainService/GetBlock", msg).await?;
            let b = chain
                .get_block(req)
                .await
                .map_err(|s| client::status_err("block", s))?
                .into_inner();
            let now = Instant::now();
            phase.blocks += 1;
            let Ok(sub) = submitted.lock() else {
                return Err(CliError::failure("bench: submit bookkeeping poisoned"));
            };
            for o in &b.outcomes {
                let Some((i, at, _)) = sub.get(&o.tx_id) else { continue };
                if !seen_ids.insert(o.tx_id.clone()) {
                    continue;
                }
                seen += 1;
                last_commit = now;
                if let Some(t) = phase.traces.get_mut(*i) {
                    t.committed_s = Some(now.duration_since(started).as_secs_f64());
                    t.accepted = o.accepted;
                }
                if o.accepted {
                    phase.latencies_ms.push(now.duration_since(*at).as_secs_f64() * 1000.0);
                } else {
                    let rule = o.rejection.clone().unwrap_or_default().rule;
                    *phase.rejected.entry(rule).or_default() += 1;
                }
            }
            next += 1;
        }
        if last_note.elapsed() >= Duration::from_secs(2) {
            last_note = Instant::now();
            out.note(&format!("bench: {seen}/{n} committed or rejected"));
        }
    }
    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.abort();
    }
    phase.seconds = last_commit.duration_since(started).as_secs_f64();
    phase.latencies_ms.sort_by(f64::total_cmp);
    if let Ok(refused) = refused.lock() {
        for (t, r) in phase.traces.iter_mut().zip(refused.iter()) {
            t.refusals = *r;
        }
    }
    phase.errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    if let Ok(sub) = submitted.lock() {
        phase.acknowledged = sub.len();
        phase.lost = sub.keys().filter(|id| !seen_ids.contains(*id)).count();
    }
    Ok(phase)
}

/// Whether a failed submission says nothing about the transaction itself (the node is down,
/// syncing, or the call broke off), so it is submitted again elsewhere rather than counted as an
/// error: dropping it would leave a nonce hole that stalls every later transaction of its sender.
fn retry_elsewhere(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unavailable | Unknown | Cancelled | DeadlineExceeded | Internal | Aborted
    )
}

/// Acknowledged transactions: tx id → (index in the phase, first acknowledged at, endpoint that
/// acknowledged it last).
type Acks = HashMap<String, (usize, Instant, usize)>;

/// How often the phase looks for acknowledged transactions that are overdue.
const RESUBMIT_CHECK_EVERY: Duration = Duration::from_secs(3);
/// An acknowledged transaction not seen committed after this long is asked after.
const RESUBMIT_AFTER: Duration = Duration::from_secs(5);
/// At most this many status checks per round (the oldest first).
const RESUBMIT_MAX_CHECKS: usize = 4_000;

/// Ask the node that acknowledged each overdue transaction whether it still knows it; queue the
/// ones it does not (NOT_FOUND: lost in a crash, or expired behind a missing nonce) or that
/// cannot be reached, to be submitted again. Returns how many were queued.
async fn resubmit_unknown(
    channels: &[Channel],
    all: &[SignedTransaction],
    submitted: &Mutex<Acks>,
    seen: &HashSet<String>,
    queue: &Mutex<VecDeque<(usize, SignedTransaction)>>,
) -> u64 {
    let mut overdue: Vec<(Instant, usize, usize, String)> = match submitted.lock() {
        Ok(sub) => sub
            .iter()
            .filter(|(id, (_, at, _))| at.elapsed() >= RESUBMIT_AFTER && !seen.contains(*id))
            .map(|(id, (i, at, ch))| (*at, *i, *ch, id.clone()))
            .collect(),
        Err(_) => return 0,
    };
    overdue.sort();
    overdue.truncate(RESUBMIT_MAX_CHECKS);
    let mut again = Vec::new();
    for (_, i, ch, id) in overdue {
        let Some(ch) = channels.get(ch) else { continue };
        let r = v1::transaction_service_client::TransactionServiceClient::new(ch.clone())
            .get_transaction(v1::GetTransactionRequest {
                tx_id: id,
                include_tx: false,
            })
            .await;
        if let Err(s) = r
            && matches!(s.code(), tonic::Code::NotFound | tonic::Code::Unavailable)
            && let Some(tx) = all.get(i)
        {
            again.push((i, tx.clone()));
        }
    }
    let k = again.len() as u64;
    if let Ok(mut q) = queue.lock() {
        for t in again.into_iter().rev() {
            q.push_front(t);
        }
    }
    k
}

/// Set-up (untimed) then the measured phase: `n` transactions, each submitted not before its
/// `due` offset when given. The phase may run `--timeout-s` past the last due time.
pub(super) async fn measure(
    net: &mut Net,
    a: &LoadArgs,
    n: usize,
    due: Option<Arc<Vec<f64>>>,
    out: &Output,
) -> CliResult<(Phase, Phase)> {
    out.note(&format!("bench: signing {n} transactions ({:?} mix)...", a.mix));
    let (setup, measured) = net.plan(n, a.mix)?;
    let timeout = Duration::from_secs(a.timeout_s);
    if !setup.is_empty() {
        out.note(&format!(
            "bench: set-up: {} bills and instructions to endorse and confirm",
            setup.len()
        ));
    }
    let pre = drive(net, setup, a.concurrency, None, timeout, out).await?;
    let span = due.as_ref().and_then(|d| d.last().copied()).unwrap_or(0.0);
    out.note(&format!(
        "bench: submitting {n} to {} endpoints, {} in flight{}",
        net.endpoints.len(),
        a.concurrency,
        if span > 0.0 {
            format!(", paced over {span:.0} s")
        } else {
            String::new()
        }
    ));
    let timeout = timeout + Duration::from_secs_f64(span);
    let before = super::cpu::snapshot(&net.cpu_nodes).await;
    let mut main = drive(net, measured, a.concurrency, due, timeout, out).await?;
    let after = super::cpu::snapshot(&net.cpu_nodes).await;
    let names: Vec<String> = net.cpu_nodes.iter().map(|(n, _)| n.clone()).collect();
    main.cpu = super::cpu::report(&before, &after, &names, main.committed() as u64, main.tps());
    Ok((pre, main))
}

pub async fn load(a: LoadArgs, endpoint: &str, out: &Output) -> CliResult<Value> {
    let mut net = Net::connect(&a, endpoint).await?;
    if a.ramp {
        return ramp(&mut net, &a, out).await;
    }
    if a.burst {
        return super::burst::burst(&mut net, &a, out).await;
    }
    let n = match (a.rate, a.duration_s) {
        (r, Some(d)) if r > 0 => (r * d) as usize,
        _ => a.txs,
    };
    let (pre, main) = measure(&mut net, &a, n, even(n, a.rate), out).await?;
    let mut v = main.json();
    v["benchmark"] = json!("load");
    v["setup"] = pre.json();
    v["rate"] = json!(a.rate);
    v["endpoints"] = json!(net.endpoints);
    v["concurrency"] = json!(a.concurrency);
    v["mix"] = json!(a.mix.describe());
    v["machine_cores"] = json!(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    if main.committed() == 0 && n > 0 {
        return Err(CliError::failure(format!("nothing committed: {v}")));
    }
    Ok(v)
}

pub fn human(v: &Value) -> String {
    if v["benchmark"] == "load-burst" {
        return super::burst::human(v);
    }
    if v["benchmark"] == "load-ramp" {
        let steps: Vec<String> = v["steps"]
            .as_array()
            .map(|s| {
                s.iter()
                    .map(|x| {
                        format!(
                            "  {} tx/s offered → {} committed, p99 {} ms",
                            x["rate"], x["committed_tps"], x["latency_ms"]["p99"]
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        return format!(
            "{}\nhighest rate with p99 under {} ms: {} tx/s",
            steps.join("\n"),
            v["p99_target_ms"],
            v["max_rate_within_target"]
        );
    }
    format!(
        "committed {} of {} in {} s: {} tx/s committed; latency p50 {} ms, p90 {} ms, p99 {} ms, max {} ms; \
         {} blocks; rejected {}; mempool refusals {}; submit errors {}; acknowledged {}, resubmitted {}, lost {}{}",
        v["committed"],
        v["txs"],
        v["seconds"],
        v["committed_tps"],
        v["latency_ms"]["p50"],
        v["latency_ms"]["p90"],
        v["latency_ms"]["p99"],
        v["latency_ms"]["max"],
        v["blocks"],
        v["rejected"],
        v["mempool_refusals"],
        v["submit_errors"],
        v["acknowledged"],
        v["resubmitted"],
        v["lost"],
        super::cpu::human(&v["cpu"]),
    )
}

/// Paced steps at rising rates; stops at the first step that misses the p99 target or fails to
/// commit everything it was offered.
async fn ramp(net: &mut Net, a: &LoadArgs, out: &Output) -> CliResult<Value> {
    let mut rate = a.ramp_start.max(1);
    let mut steps = Vec::new();
    let mut best = 0u64;
    let mut best_tps = 0.0;
    for _ in 0..a.ramp_max_steps.max(1) {
        let n = (rate * a.ramp_step_s.max(1)) as usize;
        out.note(&format!("bench ramp: {rate} tx/s for {} s", a.ramp_step_s));
        let (_, main) = measure(net, a, n, even(n, rate), out).await?;
        let mut s = main.json();
        s["rate"] = json!(rate);
        let ok = main.committed() == n && main.p99() <= a.ramp_p99_ms as f64;
        s["within_target"] = json!(ok);
        steps.push(s);
        if !ok {
            break;
        }
        best = rate;
        best_tps = main.tps();
        rate = ((rate as f64) * a.ramp_factor.max(1.05)).round() as u64;
    }
    Ok(json!({
        "benchmark": "load-ramp",
        "p99_target_ms": a.ramp_p99_ms,
        "max_rate_within_target": best,
        "committed_tps": best_tps,
        "steps": steps,
        "step_seconds": a.ramp_step_s,
        "endpoints": net.endpoints,
        "concurrency": a.concurrency,
        "mix": a.mix.describe(),
    }))
}
