//! The node runtime: wires the sans-IO host (`node::host`) to real parts — the RocksDB store,
//! the WAL file, tokio timers and libp2p — and starts the API servers. It decides nothing: every
//! decision about proposals, checks, commits, sync and the mempool is the host's.
//!
//! Data flow: gRPC `Submit` → `NodeState::submit` (mempool admits after signature/nonce checks,
//! journals) → gossiped to peers in batches by the host's gossip tick → a proposer's host builds a
//! gap-free block → every validator's host re-executes it (`blocks::check_block`) → the engine
//! decides with a commit certificate → `ChainStore::commit` (one synced RocksDB batch) → mempool
//! eviction, metrics, and a commit notification that `WaitForCommit` and streams wait on.
//!
//! Invariants:
//! - One core task owns the host; nothing else writes the store.
//! - Work that would hold up consensus runs off the core task and comes back as an input:
//!   decoding consensus gossip (a proposal carries a whole block), admitting gossiped
//!   transactions (batch signature checks), and reading blocks for a peer's sync request (at
//!   most one per peer at a time).
use crate::clock::now_ms;
use crate::config::{NodeConfig, NodeRole};
use crate::cpu::Stage;
use crate::evidence::EvidenceLog;
use crate::host::ports::{ChainStore, HostIo, HostTimer, member_node_keys, validator_node_keys};
use crate::host::sync_vouches::SyncVouches;
use crate::host::{Host, HostInput};
use crate::mempool::{Mempool, MempoolLimits};
use crate::network::{self, NetCommand, NetConfig, NetEvent, NetHandle, Topic};
use crate::node_state::NodeState;
use crate::peer_messages::{self, MAX_SYNC_BLOCKS, SyncRequest, SyncResponse, TxGossip};
use crate::submit_journal::SubmitJournal;
use crate::wal::Wal;
use anyhow::Context as _;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tradechain_consensus::{ConsensusMsg, Engine, EngineConfig};
use tradechain_ledger::{Genesis, PublicKey, SecretKey, SignedTransaction, codec};
use tradechain_store::Store;

pub use crate::node_state::{SYNC_LAG_BLOCKS, Status};

/// What comes back to the core task from timers and off-task work.
enum CoreEvent {
    Timer(HostTimer),
    Input(HostInput),
}

/// The host's clock, timers and outbox in production: the wall clock, tokio sleeps, libp2p.
struct TokioIo {
    net: NetHandle,
    events: mpsc::UnboundedSender<CoreEvent>,
}

impl HostIo for TokioIo {
    fn now_ms(&self) -> i64 {
        now_ms()
    }
    fn schedule(&mut self, timer: HostTimer, after_ms: u64) {
        let tx = self.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            let _ = tx.send(CoreEvent::Timer(timer));
        });
    }
    fn send(&mut self, cmd: NetCommand) {
        self.net.send(cmd);
    }
    fn thread_cpu_ns(&self) -> u64 {
        crate::cpu::thread_cpu_ns()
    }
    fn take_state_tree_ns(&mut self) -> u64 {
        crate::cpu::take_state_tree_ns()
    }
}

/// Open the store, start networking, the API servers and the core task; run until `shutdown`.
pub async fn run(cfg: NodeConfig, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    let gtext = std::fs::read_to_string(&cfg.node.genesis)
        .with_context(|| format!("node.genesis: cannot read {}", cfg.node.genesis.display()))?;
    let genesis = Genesis::from_json(&gtext).map_err(|e| anyhow::anyhow!("node.genesis: {e}"))?;
    let problems = genesis.validate();
    if !problems.is_empty() {
        anyhow::bail!(
            "node.genesis: {} is invalid: {}",
            cfg.node.genesis.display(),
            problems.join("; ")
        );
    }
    std::fs::create_dir_all(&cfg.node.data_dir)
        .with_context(|| format!("node.data_dir: cannot create {}", cfg.node.data_dir.display()))?;
    let store = Arc::new(Store::open(&cfg.node.data_dir.join("db")).context("opening the store")?);
    store
        .init_genesis(&genesis)
        .context("initialising the store from genesis")?;
    let node_key = SecretKey::read_file(&cfg.node.node_key).map_err(|e| anyhow::anyhow!("node.node_key: {e}"))?;
    let consensus_key = match (&cfg.node.role, &cfg.node.consensus_key) {
        (NodeRole::Validator, Some(p)) => {
            Some(SecretKey::read_file(p).map_err(|e| anyhow::anyhow!("node.consensus_key: {e}"))?)
        }
        _ => None,
    };
    let head = store.head()?;
    tracing::info!(name = %cfg.node.name, role = ?cfg.node.role, chain = %genesis.chain_id, height = head.height, "starting");

    let (net, mut net_rx) = network::spawn(NetConfig {
        node_key_seed: node_key.seed(),
        listen: cfg.p2p.listen.iter().filter_map(|a| a.parse().ok()).collect(),
        bootstrap: cfg.p2p.bootstrap.iter().filter_map(|a| a.parse().ok()).collect(),
        allowed: member_node_keys(store.as_ref()),
        chain_id: genesis.chain_id.clone(),
        max_message_bytes: cfg.p2p.max_message_bytes,
    })
    .await
    .map_err(|e| anyhow::anyhow!("p2p: {e}"))?;
    net.send(NetCommand::SetConsensusAuthors(validator_node_keys(store.as_ref())));

    let mempool = Mempool::new(
        &genesis.chain_id,
        genesis.limits.max_tx_bytes as usize,
        MempoolLimits {
            max_txs: cfg.mempool.max_txs,
            max_bytes: cfg.mempool.max_bytes,
            ..Default::default()
        },
    );
    let (journal, journaled) = SubmitJournal::open(&cfg.node.data_dir.join("submissions.journal"))
        .context("opening the submission journal")?;
    let shared = Arc::new(NodeState::new(
        cfg.node.name.clone(),
        cfg.node.role,
        genesis.clone(),
        store.clone(),
        mempool,
        journal,
    ));
    shared.metrics.height.set(head.height as i64);
    if let Ok(mut s) = shared.status.write() {
        s.local_peer_id = net.local_peer_id().to_string();
    }
    shared.readmit_journaled(journaled);

    crate::api::spawn_servers(&cfg, shared.clone()).await?;

    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let wal = match consensus_key {
        Some(_) => Some(Wal::open(&cfg.node.data_dir.join("consensus.wal")).context("opening the consensus WAL")?),
        None => None,
    };
    let evidence = EvidenceLog::open(&cfg.node.data_dir.join("evidence.log")).context("opening the evidence log")?;
    let engine = consensus_key.as_ref().map(|k| {
        Engine::new(EngineConfig {
            chain_id: genesis.chain_id.clone(),
            secret_key: Some(k.clone()),
            params: genesis.consensus.clone(),
        })
    });
    let validator = engine.is_some();
    let max_msg = cfg.p2p.max_message_bytes;
    let mut host = Host::new(shared.clone(), engine, consensus_key, wal, Some(evidence), max_msg);
    let mut io = TokioIo {
        net: net.clone(),
        events: ev_tx.clone(),
    };
    host.start(&mut io, cfg.node.discard_unreadable_wal)?;
    let serving: Arc<Mutex<BTreeSet<libp2p::PeerId>>> = Arc::new(Mutex::new(BTreeSet::new()));

    let mut gossip_tick = tokio::time::interval(Duration::from_millis(10));
    let mut sync_tick = tokio::time::interval(Duration::from_millis(if validator { 1000 } else { 250 }));
    tokio::pin!(shutdown);
    loop {
        let input = tokio::select! {
            _ = &mut shutdown => break,
            ev = net_rx.recv() => match ev {
                Some(ev) => on_net(ev, &shared, &net, &ev_tx, &serving, max_msg),
                None => anyhow::bail!("p2p: the network task stopped"),
            },
            Some(ev) = ev_rx.recv() => Some(match ev {
                CoreEvent::Timer(t) => HostInput::Timer(t),
                CoreEvent::Input(i) => i,
            }),
            _ = gossip_tick.tick() => Some(HostInput::GossipTick),
            _ = sync_tick.tick() => Some(HostInput::SyncTick),
        };
        if let Some(input) = input {
            shared
                .metrics
                .stage_cpu
                .time(Stage::Host, || host.handle(&mut io, input));
            if let Some(e) = host.fatal() {
                anyhow::bail!("the store failed ({e}); restart the node to resume from what it holds");
            }
        }
    }
    tracing::info!("shutting down");
    Ok(())
}

/// Route one network event: what the host must see becomes an input now or, after work off the
/// core task, later; what it need not see (tx gossip, sync requests) is handled here.
fn on_net(
    ev: NetEvent,
    shared: &Arc<NodeState>,
    net: &NetHandle,
    events: &mpsc::UnboundedSender<CoreEvent>,
    serving: &Arc<Mutex<BTreeSet<libp2p::PeerId>>>,
    max: usize,
) -> Option<HostInput> {
    let penalize = |peer, reason: String| net.send(NetCommand::Penalize { peer, reason });
    match ev {
        NetEvent::Gossip {
            from,
            topic: Topic::Consensus,
            data,
        } => {
            let (events, net) = (events.clone(), net.clone());
            let cpu = shared.metrics.stage_cpu.clone();
            tokio::task::spawn_blocking(move || {
                match cpu.time(Stage::ConsensusIn, || peer_messages::decode::<ConsensusMsg>(&data, max)) {
                    Ok(msg) => {
                        let _ = events.send(CoreEvent::Input(HostInput::Consensus(Box::new(msg))));
                    }
                    Err(e) => net.send(NetCommand::Penalize {
                        peer: from,
                        reason: format!("bad consensus message: {e}"),
                    }),
                }
            });
            None
        }
        NetEvent::Gossip {
            from,
            topic: Topic::Txs,
            data,
        } => {
            // Decoding and batch verification of a big gossip batch must not hold up consensus
            // messages (nor, under the mempool lock, submissions and block checks).
            let (shared, net) = (shared.clone(), net.clone());
            tokio::task::spawn_blocking(move || {
                let reason = shared.metrics.stage_cpu.time(Stage::GossipIn, || {
                    match peer_messages::decode::<TxGossip>(&data, max) {
                        Ok(TxGossip::Batch(txs)) => shared.admit_gossip(txs).map(str::to_string),
                        Err(e) => Some(format!("bad tx gossip: {e}")),
                    }
                });
                if let Some(reason) = reason {
                    net.send(NetCommand::Penalize { peer: from, reason });
                }
            });
            None
        }
        NetEvent::Request { from, request_id, data } => {
            match peer_messages::decode::<SyncRequest>(&data, max) {
                Ok(SyncRequest::Blocks { from: start, max: n }) => {
                    serve_blocks(shared, net, serving, from, request_id, start, n, max);
                }
                Err(e) => penalize(from, format!("bad sync request: {e}")),
            }
            None
        }
        NetEvent::Response { from, data } => {
            // Decoding a sync answer and verifying its signatures happen off the core task, so
            // they overlap the host applying the previous answer (`host::sync_vouches`).
            let (shared, events, net) = (shared.clone(), events.clone(), net.clone());
            tokio::task::spawn_blocking(move || {
                let decoded = shared.metrics.stage_cpu.time(Stage::SyncIn, || {
                    peer_messages::decode::<SyncResponse>(&data, max).map(|SyncResponse::Blocks { head, blocks }| {
                        let at = shared.store.head().map(|h| h.height).unwrap_or(0);
                        let mempool = |t: &SignedTransaction, k: &PublicKey| {
                            shared.mempool.lock().is_ok_and(|m| m.verified(t, k))
                        };
                        let vouched = SyncVouches::verify(shared.store.as_ref(), at, &blocks, &mempool);
                        HostInput::SyncBlocks {
                            from,
                            head,
                            blocks,
                            vouched,
                        }
                    })
                });
                match decoded {
                    Ok(input) => {
                        let _ = events.send(CoreEvent::Input(input));
                    }
                    Err(e) => net.send(NetCommand::Penalize {
                        peer: from,
                        reason: format!("bad sync response: {e}"),
                    }),
                }
            });
            None
        }
        NetEvent::RequestFailed { peer, error } => {
            tracing::debug!(%peer, "sync request failed: {error}");
            None
        }
        NetEvent::PeerConnected(p) => Some(HostInput::PeerConnected(p)),
        NetEvent::PeerDisconnected(p) => Some(HostInput::PeerDisconnected(p)),
    }
}

/// Answer a block-sync request off the core task: reading and encoding blocks never holds up
/// consensus. At most one request per peer is served at a time (a request arriving while that
/// peer's previous one is still being read gets an empty answer), each answer is at most half a
/// message, and requests have their own per-peer rate budget in the network layer.
#[allow(clippy::too_many_arguments)]
fn serve_blocks(
    shared: &Arc<NodeState>,
    net: &NetHandle,
    serving: &Arc<Mutex<BTreeSet<libp2p::PeerId>>>,
    peer: libp2p::PeerId,
    request_id: u64,
    from: u64,
    max: u32,
    max_msg: usize,
) {
    let head = shared.store.head().map(|h| h.height).unwrap_or(0);
    let busy = match serving.lock() {
        Ok(mut s) => !s.insert(peer),
        Err(_) => true,
    };
    if busy {
        net.send(NetCommand::Respond {
            request_id,
            data: codec::encode(&SyncResponse::Blocks {
                head,
                blocks: Vec::new(),
            }),
        });
        return;
    }
    let (shared, net, serving) = (shared.clone(), net.clone(), serving.clone());
    tokio::task::spawn_blocking(move || {
        let data = shared.metrics.stage_cpu.time(Stage::SyncServe, || {
            codec::encode(&read_blocks(shared.store.as_ref(), head, from, max, max_msg / 2))
        });
        net.send(NetCommand::Respond { request_id, data });
        if let Ok(mut s) = serving.lock() {
            s.remove(&peer);
        }
    });
}

/// Up to `max` committed blocks from `from`, stopping before `budget` bytes (at least one).
pub fn read_blocks(store: &dyn ChainStore, head: u64, from: u64, max: u32, budget: usize) -> SyncResponse {
    let mut blocks = Vec::new();
    let mut bytes = 0usize;
    let mut h = from.max(1);
    while h <= head && blocks.len() < max.min(MAX_SYNC_BLOCKS) as usize {
        let (Ok(Some(b)), Ok(Some(c))) = (store.block(h), store.certificate(h)) else {
            break;
        };
        bytes += tradechain_ledger::block_check::encoded_len(&b) as usize;
        if bytes > budget && !blocks.is_empty() {
            break;
        }
        blocks.push((b, c));
        h += 1;
    }
    SyncResponse::Blocks { head, blocks }
}
