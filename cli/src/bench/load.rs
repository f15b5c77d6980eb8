//! `tradechain bench`: load a running network and measure what it commits.
//!
//! `bench load` pre-signs `--txs` provenance transactions (producers commissioning new serials,
//! ports and carriers recording gate/loading observations of new serials) from six member orgs,
//! submits them over gRPC to the validators with `--concurrency` requests in flight (retrying
//! while a mempool says busy, and counting those refusals), and learns commits by **reading the
//! committed blocks** (signed `GetBlock` as a member), not from acknowledgements: committed tx/s
//! from the first submit to the last commit, latency from each transaction's submit to the commit
//! of its block (p50/p90/p99/max), rejections by rule. `bench verify-bound` measures this
//! machine's ed25519 verification rate (single and batched, one core × cores), the physical
//! bound for a network whose every validator checks every signature on this machine.
//!
//! The client runs on the same machine as the nodes, so it takes CPU from them: the figures are
//! for "everything on this box".
use crate::client;
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::{Args, Subcommand};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tradechain_ledger::payload::{Action, EventType, ProvenanceEvent};
use tradechain_ledger::{OrgId, Payload, SecretKey, SignedTransaction};
use tradechain_proto::v1;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// Submit pre-signed transactions and measure committed tx/s and commit latency.
    #[command(after_help = "Example (against testnet/up):\n  \
        tradechain bench load --keys-dir testnet/.data/keys --txs 20000 --output json")]
    Load(LoadArgs),
    /// This machine's ed25519 verification rate: the bound on a network that checks every signature.
    VerifyBound {
        /// Validators sharing the machine (the bound is divided by this).
        #[arg(long, default_value_t = 4)]
        validators: u64,
    },
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The member keys (testnet/up writes them to testnet/.data/keys).
    #[arg(long, default_value = "testnet/.data/keys")]
    pub keys_dir: PathBuf,
    /// Validator gRPC endpoints to spread submissions over (default: the testnet's four).
    #[arg(long, value_delimiter = ',')]
    pub endpoints: Vec<String>,
    #[arg(long, default_value_t = 20_000)]
    pub txs: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Give up waiting for commits after this many seconds.
    #[arg(long, default_value_t = 120)]
    pub timeout_s: u64,
}

/// (sender org, what it records): producers commission, ports and carriers observe.
const SENDERS: &[(&str, &str, &str)] = &[
    ("PRODUCER-FZ", "urn:epcglobal:cbv:bizstep:commissioning", "CNFOC"),
    ("PRODUCER-XA", "urn:epcglobal:cbv:bizstep:commissioning", "CNXAN"),
    ("PORT-CNFOC", "urn:epcglobal:cbv:bizstep:arriving", "CNFOC"),
    ("PORT-NLRTM", "urn:epcglobal:cbv:bizstep:departing", "NLRTM"),
    ("CARRIER-COSCO", "urn:epcglobal:cbv:bizstep:loading", "CNFOC"),
    ("CARRIER-RAIL", "urn:epcglobal:cbv:bizstep:loading", "CNXAN"),
];

pub async fn run(cmd: BenchCmd, endpoint: &str, out: &Output) -> CliResult {
    match cmd {
        BenchCmd::Load(a) => load(a, endpoint, out).await,
        BenchCmd::VerifyBound { validators } => {
            let v = verify_bound(validators);
            out.print(&v, |v| {
                format!(
                    "ed25519 on this machine: {} single/s, {} batched/s per core, {} cores → bound {} tx/s with {} validators",
                    v["single_per_core"], v["batch_per_core"], v["cores"], v["bound_tps"], v["validators"]
                )
            });
            Ok(())
        }
    }
}

fn event(sender: usize, i: usize, run: u64, time_ms: i64) -> ProvenanceEvent {
    let (_, step, loc) = SENDERS[sender];
    let serial = format!("B{run:x}{i:x}");
    let epc = format!("urn:epc:id:sgtin:6901234.012345.{serial}");
    let action = if step.ends_with("commissioning") {
        Action::Add
    } else {
        Action::Observe
    };
    let mut e = tradechain_ledger::testkit::event(EventType::ObjectEvent, Some(action), &[&epc], time_ms);
    e.biz_step = Some(step.to_string());
    e.unlocode = Some(loc.to_string());
    e
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn load(a: LoadArgs, endpoint: &str, out: &Output) -> CliResult {
    let endpoints = if a.endpoints.is_empty() {
        (1..=4).map(|i| format!("http://127.0.0.1:{}", 9100 + i)).collect()
    } else {
        a.endpoints.clone()
    };
    let mut channels = Vec::new();
    for e in &endpoints {
        channels.push(client::connect(e).await?);
    }
    let reader = client::connect(endpoint).await?;
    let chain_id = client::chain_id(&reader).await?;
    // Keys and nonces of the senders.
    let mut senders: Vec<(OrgId, SecretKey, u64)> = Vec::new();
    for (id, ..) in SENDERS {
        let org = OrgId::new(id).map_err(CliError::failure)?;
        let path = a.keys_dir.join(format!("{}.key", id.to_lowercase()));
        let key = SecretKey::read_file(&path).map_err(|e| CliError::usage(format!("--keys-dir: {e}")))?;
        let nonce = client::next_nonce(&reader, &org).await?;
        senders.push((org, key, nonce));
    }
    let reader_org = senders[0].0.to_string();
    let reader_key = a.keys_dir.join(format!("{}.key", reader_org.to_lowercase()));
    // Pre-sign.
    let run = (client::now_ms() as u64) % 0xff_ffff;
    let t = client::now_ms() - 1_000;
    out.note(&format!("bench: signing {} transactions...", a.txs));
    let mut queue: VecDeque<SignedTransaction> = VecDeque::with_capacity(a.txs);
    for i in 0..a.txs {
        let s = i % senders.len();
        let (org, key, nonce) = &mut senders[s];
        let tx = client::sign(&chain_id, org, 0, *nonce, Payload::Provenance(event(s, i, run, t)), key);
        *nonce += 1;
        queue.push_back(tx);
    }
    let submitted: Arc<Mutex<HashMap<String, Instant>>> = Arc::new(Mutex::new(HashMap::with_capacity(a.txs)));
    let queue = Arc::new(Mutex::new(queue));
    let refusals = Arc::new(Mutex::new(0u64));
    let errors = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let start_height = v1::node_service_client::NodeServiceClient::new(reader.clone())
        .get_status(v1::GetStatusRequest {})
        .await
        .map_err(|s| client::status_err("status", s))?
        .into_inner()
        .height;
    out.note(&format!(
        "bench: submitting to {} endpoints, {} in flight, from height {start_height}",
        endpoints.len(),
        a.concurrency
    ));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..a.concurrency.max(1) {
        let ch = channels[w % channels.len()].clone();
        let (queue, submitted, refusals, errors) = (queue.clone(), submitted.clone(), refusals.clone(), errors.clone());
        workers.push(tokio::spawn(async move {
            let mut grpc = v1::transaction_service_client::TransactionServiceClient::new(ch);
            loop {
                let Some(tx) = queue.lock().ok().and_then(|mut q| q.pop_front()) else {
                    return;
                };
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
                                m.entry(id.clone()).or_insert(at);
                            }
                            break;
                        }
                        Err(s) if matches!(s.code(), tonic::Code::ResourceExhausted | tonic::Code::Unavailable) => {
                            if let Ok(mut r) = refusals.lock() {
                                *r += 1;
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
            }
        }));
    }
    // Read committed blocks until every submitted transaction has a verdict.
    let member = crate::documents::Member {
        org: &reader_org,
        key: Some(reader_key.as_path()),
    };
    let mut chain = v1::chain_service_client::ChainServiceClient::new(reader.clone());
    let mut node = v1::node_service_client::NodeServiceClient::new(reader.clone());
    let mut next = start_height + 1;
    let mut latencies: Vec<f64> = Vec::with_capacity(a.txs);
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    let (mut seen, mut last_commit) = (0usize, started);
    let deadline = started + Duration::from_secs(a.timeout_s);
    let mut blocks = 0u64;
    let mut last_note = Instant::now();
    while seen < a.txs && Instant::now() < deadline {
        let head = node
            .get_status(v1::GetStatusRequest {})
            .await
            .map_err(|s| client::status_err("status", s))?
            .into_inner()
            .height;
        if head < next {
            let done = workers.iter().all(|w| w.is_finished());
            let lost = errors.lock().map(|e| e.values().sum::<u64>()).unwrap_or(0) as usize;
            if done && seen + lost >= a.txs {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        }
        while next <= head {
            let msg = v1::BlockRequest {
                at: Some(v1::block_request::At::Height(next)),
            };
            let req = crate::documents::signed(&reader, &member, "/tradechain.v1.ChainService/GetBlock", msg).await?;
            let b = chain
                .get_block(req)
                .await
                .map_err(|s| client::status_err("block", s))?
                .into_inner();
            let now = Instant::now();
            blocks += 1;
            let Ok(sub) = submitted.lock() else {
                return Err(CliError::failure("bench: submit bookkeeping poisoned"));
            };
            for o in &b.outcomes {
                let Some(at) = sub.get(&o.tx_id) else { continue };
                seen += 1;
                last_commit = now;
                if o.accepted {
                    latencies.push(now.duration_since(*at).as_secs_f64() * 1000.0);
                } else {
                    let rule = o.rejection.clone().unwrap_or_default().rule;
                    *rejected.entry(rule).or_default() += 1;
                }
            }
            next += 1;
        }
        if last_note.elapsed() >= Duration::from_secs(2) {
            last_note = Instant::now();
            out.note(&format!("bench: {seen}/{} committed or rejected", a.txs));
        }
    }
    for w in workers {
        w.abort();
    }
    let span = last_commit.duration_since(started).as_secs_f64().max(1e-9);
    latencies.sort_by(f64::total_cmp);
    let committed = latencies.len();
    let refusals = refusals.lock().map(|r| *r).unwrap_or(0);
    let errors = errors.lock().map(|e| e.clone()).unwrap_or_default();
    let v = serde_json::json!({
        "benchmark": "load",
        "txs": a.txs,
        "committed": committed,
        "rejected": rejected,
        "submit_errors": errors,
        "mempool_refusals": refusals,
        "blocks": blocks,
        "seconds": (span * 1000.0).round() / 1000.0,
        "committed_tps": (committed as f64 / span).round(),
        "latency_ms": {
            "p50": percentile(&latencies, 0.50).round(),
            "p90": percentile(&latencies, 0.90).round(),
            "p99": percentile(&latencies, 0.99).round(),
            "max": latencies.last().copied().unwrap_or(0.0).round(),
        },
        "endpoints": endpoints,
        "concurrency": a.concurrency,
        "mix": "provenance: 1/3 commissioning (producers), 2/3 observations (ports, carriers); new serials",
        "machine_cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    });
    out.print(&v, |v| {
        format!(
            "committed {} of {} in {} s: {} tx/s committed; latency p50 {} ms, p90 {} ms, p99 {} ms, max {} ms; \
             {} blocks; rejected {}; mempool refusals {}; submit errors {}",
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
            v["submit_errors"]
        )
    });
    if committed == 0 && a.txs > 0 {
        return Err(CliError::failure("nothing committed"));
    }
    Ok(())
}

/// ed25519 verifications per second on one core, single and in batches of 1,024, and the
/// resulting bound for `validators` validators sharing this machine's cores.
pub fn verify_bound(validators: u64) -> serde_json::Value {
    let keys: Vec<SecretKey> = (0..64).map(|i| SecretKey::from_label(&format!("bench-{i}"))).collect();
    let msgs: Vec<Vec<u8>> = (0..1024u32)
        .map(|i| format!("tradechain bench message {i}").into_bytes())
        .collect();
    let sigs: Vec<_> = msgs.iter().enumerate().map(|(i, m)| keys[i % 64].sign(m)).collect();
    let pks: Vec<_> = (0..msgs.len()).map(|i| keys[i % 64].public()).collect();
    let rate = |f: &mut dyn FnMut() -> usize| {
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed() < Duration::from_millis(700) {
            n += f();
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    let single = rate(&mut || {
        for i in 0..64 {
            let _ = pks[i].verify(&msgs[i], &sigs[i]);
        }
        64
    });
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let batch = rate(&mut || {
        let _ = tradechain_ledger::crypto::verify_batch(&refs, &sigs, &pks);
        refs.len()
    });
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let validators = validators.max(1);
    serde_json::json!({
        "benchmark": "verify-bound",
        "single_per_core": single.round(),
        "batch_per_core": batch.round(),
        "cores": cores,
        "validators": validators,
        "bound_tps": (batch * cores / validators as f64).round(),
    })
}
