//! `bench attack`: a Byzantine member against a live testnet.
//!
//! The attacker is a real libp2p peer speaking the node's own protocol (this crate's network
//! stack), holding a member org's node key and signing key (`--as`, default CUSTOMS-DE — a foreign
//! customs authority, which `bench load` does not use — whose
//! node `testnet/up` registers but does not run). For `--duration-s` it sends, interleaved:
//! - `txflood`: transaction gossip batches — transactions from a non-member, and the member's
//!   own validly signed transactions far ahead of its nonce (holes that can never be selected),
//!   with large fields, to fill mempools;
//! - `garbage`: undecodable gossip on both topics;
//! - `oversized`: gossip messages larger than any node accepts;
//! - `future`: consensus proposals for near- and far-future heights carrying multi-megabyte
//!   blocks (what an unverifiable-yet message buffer must bound);
//! - `syncflood`: block-sync requests for the whole chain, as fast as it can send them;
//! - `replay`: every honest consensus message it receives, re-published again and again.
//!
//! While it runs it samples the resident memory of every testnet node (`/proc/PID/status`)
//! and the chain height, and reports per kind what it sent, the nodes' peak RSS, the heights
//! reached, and when (if) the honest nodes banned it. Measure honest latency with `bench load`
//! alongside (the README and BENCHMARKS.md show both together).
use crate::client;
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::{Args, ValueEnum};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tradechain_consensus::{ConsensusMsg, SignedProposalMsg};
use tradechain_ledger::block::BlockHeader;
use tradechain_ledger::codec::encode;
use tradechain_ledger::payload::{Action, EventType, ProvenanceEvent};
use tradechain_ledger::tx::{TX_VERSION, Transaction};
use tradechain_ledger::{Block, Genesis, Hash, OrgId, Payload, SecretKey, SignedTransaction};
use tradechain_node::network::{self, Multiaddr, NetCommand, NetConfig, NetEvent, Topic};
use tradechain_node::peer_messages::{SyncRequest, TxGossip};
use tradechain_proto::v1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Kind {
    Txflood,
    Garbage,
    Oversized,
    Future,
    Syncflood,
    Replay,
}

#[derive(Args, Debug, Clone)]
pub struct AttackArgs {
    /// The testnet's directory (`testnet/up` writes keys, genesis and node configs there).
    #[arg(long, default_value = "testnet/.data")]
    pub testnet_dir: PathBuf,
    /// The member org the attacker is (its keys are `keys/<org>.key` and `.node`; its node must
    /// not be running).
    #[arg(long = "as", default_value = "CUSTOMS-DE")]
    pub org: String,
    /// How long to attack.
    #[arg(long, default_value_t = 20)]
    pub duration_s: u64,
    /// Which attacks (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub kinds: Vec<Kind>,
}

fn fail(e: impl std::fmt::Display) -> CliError {
    CliError::failure(format!("bench attack: {e}"))
}

/// The testnet's nodes: name, p2p address (with peer id), gRPC endpoint, pid file.
struct Target {
    name: String,
    addr: Multiaddr,
    peer: network::PeerId,
    grpc: String,
    pid_file: PathBuf,
}

fn targets(dir: &Path) -> CliResult<Vec<Target>> {
    let names =
        std::fs::read_to_string(dir.join("nodes")).map_err(|e| fail(format!("{}/nodes: {e}", dir.display())))?;
    let mut out = Vec::new();
    for name in names.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let cfg = tradechain_node::config::NodeConfig::load(&dir.join(name).join("node.toml")).map_err(fail)?;
        let key = SecretKey::read_file(&dir.join("keys").join(format!("{name}.node"))).map_err(fail)?;
        let peer_id = network::peer_id_from_node_key(&key.public().0).map_err(fail)?;
        let peer = peer_id.to_string();
        let listen = cfg
            .p2p
            .listen
            .first()
            .ok_or_else(|| fail(format!("{name}: no p2p listen address")))?;
        let addr: Multiaddr = format!("{listen}/p2p/{peer}").parse().map_err(fail)?;
        out.push(Target {
            name: name.to_string(),
            addr,
            peer: peer_id,
            grpc: format!("http://{}", cfg.grpc.listen),
            pid_file: dir.join(name).join("pid"),
        });
    }
    Ok(out)
}

/// Resident set size of a process in KiB (Linux), if it is running.
fn rss_kib(pid_file: &Path) -> Option<u64> {
    let pid = std::fs::read_to_string(pid_file).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

async fn height(grpc: &str) -> Option<u64> {
    let ch = client::connect(grpc).await.ok()?;
    v1::node_service_client::NodeServiceClient::new(ch)
        .get_status(v1::GetStatusRequest {})
        .await
        .ok()
        .map(|r| r.into_inner().height)
}

/// A provenance event with a large free-text field (hits byte quotas sooner).
fn heavy_event(i: u64, pad: usize) -> ProvenanceEvent {
    let mut e = ProvenanceEvent::new(EventType::ObjectEvent);
    e.action = Some(Action::Observe);
    e.epc_list = vec![format!("urn:epc:id:sgtin:6901234.012345.ATK{i}")];
    e.biz_step = Some("x".repeat(pad));
    e.event_time_ms = 0;
    e
}

fn signed(chain_id: &str, sender: &str, key: &SecretKey, nonce: u64, payload: Payload) -> Option<SignedTransaction> {
    Some(
        Transaction {
            version: TX_VERSION,
            chain_id: chain_id.to_string(),
            sender: OrgId::new(sender).ok()?,
            key_id: 0,
            nonce,
            time_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
            payload,
        }
        .sign(key),
    )
}

/// Pseudo-random bytes (xorshift): garbage need not be cryptographic.
fn junk(seed: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as u8
        })
        .collect()
}

pub async fn run(a: AttackArgs, _out: &Output) -> CliResult<Value> {
    let dir = a.testnet_dir.clone();
    let kinds: Vec<Kind> = if a.kinds.is_empty() {
        Kind::value_variants().to_vec()
    } else {
        a.kinds.clone()
    };
    let genesis = Genesis::from_json(
        &std::fs::read_to_string(dir.join("genesis.json")).map_err(|e| fail(format!("genesis.json: {e}")))?,
    )
    .map_err(fail)?;
    let lc = a.org.to_lowercase();
    let node_key = SecretKey::read_file(&dir.join("keys").join(format!("{lc}.node"))).map_err(fail)?;
    let org_key = SecretKey::read_file(&dir.join("keys").join(format!("{lc}.key"))).map_err(fail)?;
    let stranger = SecretKey::from_label("bench-attack/not-a-member");
    let targets = targets(&dir)?;
    let allowed = genesis
        .orgs
        .iter()
        .flat_map(|o| o.node_keys.iter().map(|k| k.0))
        .collect();
    let max_message_bytes = 16 * 1024 * 1024;
    let (net, mut events) = network::spawn(NetConfig {
        node_key_seed: node_key.seed(),
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().map_err(fail)?],
        bootstrap: targets.iter().map(|t| t.addr.clone()).collect(),
        allowed,
        chain_id: genesis.chain_id.clone(),
        // The attacker sends what honest nodes refuse: its own limit is far above theirs.
        max_message_bytes: 4 * max_message_bytes,
    })
    .await
    .map_err(fail)?;
    let first = targets.first().ok_or_else(|| fail("no nodes"))?;
    let start_height = height(&first.grpc).await.unwrap_or(0);
    let mut next_nonce = client::next_nonce(&client::connect(&first.grpc).await?, &OrgId::new(&a.org).map_err(fail)?)
        .await
        .unwrap_or(1);
    // Wait for the attacker to be connected (at most 10 s).
    let connect_deadline = Instant::now() + Duration::from_secs(10);
    while net.connected_peers().is_empty() && Instant::now() < connect_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected_at_start = net.connected_peers().len();

    let mut sent: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut bytes_sent: u64 = 0;
    let mut peak_rss: BTreeMap<String, u64> = BTreeMap::new();
    let mut replay: Vec<Vec<u8>> = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut banned_after_ms: Option<u128> = None;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(a.duration_s);
    let mut tick = 0u64;
    let mut head = start_height;
    let mut publish = |topic: Topic, data: Vec<u8>, kind: &'static str, sent: &mut BTreeMap<&'static str, u64>| {
        bytes_sent += data.len() as u64;
        *sent.entry(kind).or_default() += 1;
        net.send(NetCommand::Publish { topic, data });
    };
    while Instant::now() < deadline {
        tick += 1;
        // Collect honest consensus messages to replay; drain everything else.
        while let Ok(ev) = events.try_recv() {
            if let NetEvent::Gossip {
                topic: Topic::Consensus,
                data,
                ..
            } = ev
                && replay.len() < 256
            {
                replay.push(data);
            }
        }
        if kinds.contains(&Kind::Txflood) {
            let mut batch = Vec::new();
            for i in 0..100u64 {
                let n = tick * 100 + i;
                if let Some(t) = signed(
                    &genesis.chain_id,
                    "NOT-A-MEMBER",
                    &stranger,
                    n,
                    Payload::Provenance(heavy_event(n, 2_000)),
                ) {
                    batch.push(t);
                }
                // The member's own signature, 5,000+ nonces ahead: admitted, never selectable.
                if let Some(t) = signed(
                    &genesis.chain_id,
                    &a.org,
                    &org_key,
                    next_nonce + 5_000 + n % 4_000,
                    Payload::Provenance(heavy_event(n, 2_000)),
                ) {
                    batch.push(t);
                }
            }
            publish(Topic::Txs, encode(&TxGossip::Batch(batch)), "txflood", &mut sent);
        }
        if kinds.contains(&Kind::Garbage) {
            publish(Topic::Txs, junk(&mut seed, 64 * 1024), "garbage", &mut sent);
            publish(Topic::Consensus, junk(&mut seed, 4 * 1024), "garbage", &mut sent);
        }
        if kinds.contains(&Kind::Oversized) && tick.is_multiple_of(50) {
            publish(
                Topic::Consensus,
                vec![0u8; max_message_bytes + 1],
                "oversized",
                &mut sent,
            );
        }
        if kinds.contains(&Kind::Future) && tick.is_multiple_of(10) {
            for (ahead, label) in [(3u64, "future_near"), (10_000, "future_far")] {
                let txs: Vec<SignedTransaction> = (0..30)
                    .filter_map(|i| {
                        signed(
                            &genesis.chain_id,
                            &a.org,
                            &org_key,
                            1 + i,
                            Payload::Provenance(heavy_event(i, 60_000)),
                        )
                    })
                    .collect();
                let block = Block {
                    header: BlockHeader {
                        version: 1,
                        chain_id: genesis.chain_id.clone(),
                        height: head + ahead,
                        prev_hash: Hash::ZERO,
                        tx_root: Hash::ZERO,
                        tx_count: txs.len() as u32,
                        results_hash: Hash::ZERO,
                        time_ms: 0,
                        proposer: org_key.public(),
                        validators_hash: Hash::ZERO,
                        state_hash: Hash::ZERO,
                    },
                    txs,
                };
                let proposal = SignedProposalMsg {
                    height: head + ahead,
                    round: (tick % 1000) as u32,
                    pol_round: None,
                    block_hash: block.hash(),
                    proposer: org_key.public(),
                    signature: org_key.sign(b"not a proposal signature"),
                };
                publish(
                    Topic::Consensus,
                    encode(&ConsensusMsg::Proposal { proposal, block }),
                    label,
                    &mut sent,
                );
            }
        }
        if kinds.contains(&Kind::Syncflood) {
            for t in &targets {
                *sent.entry("syncflood").or_default() += 1;
                net.send(NetCommand::SendRequest {
                    peer: t.peer,
                    data: encode(&SyncRequest::Blocks { from: 1, max: u32::MAX }),
                });
            }
        }
        if kinds.contains(&Kind::Replay) && !replay.is_empty() {
            let i = (tick as usize) % replay.len();
            if let Some(m) = replay.get(i).cloned() {
                publish(Topic::Consensus, m, "replay", &mut sent);
            }
        }
        if tick.is_multiple_of(25) {
            for t in &targets {
                if let Some(r) = rss_kib(&t.pid_file) {
                    let p = peak_rss.entry(t.name.clone()).or_default();
                    *p = (*p).max(r);
                }
            }
            if let Some(h) = height(&first.grpc).await {
                head = h;
            }
            if let Ok(c) = client::connect(&first.grpc).await
                && let Ok(n) = client::next_nonce(&c, &OrgId::new(&a.org).map_err(fail)?).await
            {
                next_nonce = n;
            }
            if banned_after_ms.is_none() && connected_at_start > 0 && net.connected_peers().is_empty() {
                banned_after_ms = Some(started.elapsed().as_millis());
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut end_heights = BTreeMap::new();
    for t in &targets {
        end_heights.insert(t.name.clone(), height(&t.grpc).await);
    }
    let end_height = end_heights.values().flatten().copied().max().unwrap_or(0);
    Ok(json!({
        "bench": "attack",
        "as": a.org,
        "duration_s": a.duration_s,
        "kinds": kinds.iter().map(|k| format!("{k:?}").to_lowercase()).collect::<Vec<_>>(),
        "sent": sent,
        "bytes_sent": bytes_sent,
        "connected_at_start": connected_at_start,
        "connected_at_end": net.connected_peers().len(),
        "disconnected_after_ms": banned_after_ms,
        "start_height": start_height,
        "end_heights": end_heights,
        "blocks_committed_during_attack": end_height.saturating_sub(start_height),
        "peak_rss_kib": peak_rss,
    }))
}

pub fn human(v: &Value) -> String {
    format!(
        "attack {} s as {}: sent {}; nodes committed {} blocks meanwhile; peak RSS (KiB) {}; attacker disconnected after {} ms",
        v["duration_s"],
        v["as"],
        v["sent"],
        v["blocks_committed_during_attack"],
        v["peak_rss_kib"],
        v["disconnected_after_ms"]
    )
}
