//! The node's permissioned, byte-oriented libp2p layer (TCP + Noise + Yamux; gossipsub; request-response;
//! identify). This module owns the public API — config, commands, events, the handle and `spawn` — and nothing
//! about what the bytes mean: decoding and validating payloads is the node's job, which reports bad peers back
//! with [`NetCommand::Penalize`].
//!
//! Invariants:
//! - only peers whose PeerId derives from an allowed member node key ever hold a connection (see [`gate`]);
//! - every inbound gossip payload, request and response is at most `max_message_bytes` long, checked before it
//!   is handed to the node; gossip must carry a valid author signature (strict validation) by a member;
//! - per-peer inbound rate limits drop (and count) excess gossip and requests, with separate budgets for
//!   consensus gossip, transaction gossip and requests (a transaction flood never costs a vote);
//! - consensus gossip is authored only by validator orgs' nodes (once the node has said which, from committed
//!   state): a non-validator member cannot make every node decode and buffer proposals and votes;
//! - gossip authored by a banned peer is rejected whoever relays it (a ban applies by author, not only by
//!   connection);
//! - the swarm runs in its own tokio task; it stops when every [`NetHandle`] is dropped.

pub mod codec;
pub mod gate;
pub mod rate;
mod swarm;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex, MutexGuard},
    time::Duration,
};

pub use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

/// Network configuration.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Our ed25519 node identity: the 32-byte seed of the ledger `SecretKey` registered as an org node key.
    pub node_key_seed: [u8; 32],
    /// Addresses to listen on, e.g. `/ip4/127.0.0.1/tcp/7001` (`tcp/0` picks a free port; see
    /// [`NetHandle::listen_addrs`]).
    pub listen: Vec<Multiaddr>,
    /// Peers to dial, ideally ending in `/p2p/<PeerId>`; those are redialled periodically while disconnected.
    pub bootstrap: Vec<Multiaddr>,
    /// Member node public keys (the ledger's `Org.node_keys`); any other peer is refused at connection.
    pub allowed: BTreeSet<[u8; 32]>,
    /// Chain id: gossip topics are `tradechain/{chain_id}/consensus` and `tradechain/{chain_id}/txs`.
    pub chain_id: String,
    /// Largest inbound (and outbound) gossip payload, request or response, in bytes.
    pub max_message_bytes: usize,
}

/// Tunables beyond [`NetConfig`]; [`spawn`] uses the defaults.
#[derive(Debug, Clone)]
pub struct NetLimits {
    /// Transaction gossip messages admitted per peer per second.
    pub rate_per_sec: u32,
    /// Burst size of the per-peer transaction-gossip bucket.
    pub rate_burst: u32,
    /// Consensus gossip per peer: its own budget, which a transaction flood cannot spend.
    pub consensus_rate_per_sec: u32,
    pub consensus_rate_burst: u32,
    /// Requests (block sync) per peer per second, and burst.
    pub request_rate_per_sec: u32,
    pub request_rate_burst: u32,
    /// Penalties after which a peer is disconnected and banned.
    pub penalty_threshold: u32,
    /// How long a ban lasts.
    pub ban_duration: Duration,
    /// How often disconnected bootstrap peers are redialled (and bans expired).
    pub redial_interval: Duration,
    /// Request-response timeout.
    pub request_timeout: Duration,
    /// Gossipsub heartbeat.
    pub heartbeat: Duration,
}

impl Default for NetLimits {
    fn default() -> NetLimits {
        NetLimits {
            rate_per_sec: 500,
            rate_burst: 1000,
            consensus_rate_per_sec: 500,
            consensus_rate_burst: 1000,
            request_rate_per_sec: 10,
            request_rate_burst: 20,
            penalty_threshold: 3,
            ban_duration: Duration::from_secs(600),
            redial_interval: Duration::from_secs(3),
            request_timeout: Duration::from_secs(20),
            heartbeat: Duration::from_millis(500),
        }
    }
}

/// A gossip topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// Consensus messages (proposals, votes).
    Consensus,
    /// Transactions.
    Txs,
}

impl Topic {
    /// Both topics.
    pub const ALL: [Topic; 2] = [Topic::Consensus, Topic::Txs];

    /// The gossipsub topic name for `chain_id`.
    pub fn name(self, chain_id: &str) -> String {
        match self {
            Topic::Consensus => format!("tradechain/{chain_id}/consensus"),
            Topic::Txs => format!("tradechain/{chain_id}/txs"),
        }
    }
}

/// Commands from the node to the network task.
#[derive(Debug, Clone)]
pub enum NetCommand {
    /// Gossip `data` on `topic` (a self-only mesh is not an error: the message is simply not delivered).
    Publish { topic: Topic, data: Vec<u8> },
    /// Send a request to `peer`; the answer arrives as [`NetEvent::Response`] or [`NetEvent::RequestFailed`].
    SendRequest { peer: PeerId, data: Vec<u8> },
    /// Answer the inbound request `request_id` (from [`NetEvent::Request`]).
    Respond { request_id: u64, data: Vec<u8> },
    /// Replace the allow-list of member node keys; peers no longer allowed are disconnected.
    SetAllowed(BTreeSet<[u8; 32]>),
    /// Only nodes of validator orgs author consensus gossip: messages on the consensus topic by
    /// any other author are rejected (and penalised when that author relays them itself).
    /// Until the node sends this, any member may author consensus gossip.
    SetConsensusAuthors(BTreeSet<[u8; 32]>),
    /// Report a misbehaving peer (garbage, bad signatures); after `penalty_threshold` reports it is banned.
    Penalize { peer: PeerId, reason: String },
}

/// Events from the network task to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// A gossip message; `from` is its signed author (a member), not the peer that relayed it.
    Gossip { from: PeerId, topic: Topic, data: Vec<u8> },
    /// An inbound request; answer with [`NetCommand::Respond`] and the same `request_id`.
    Request {
        from: PeerId,
        request_id: u64,
        data: Vec<u8>,
    },
    /// The response to one of our requests.
    Response { from: PeerId, data: Vec<u8> },
    /// One of our requests failed (unreachable peer, timeout, oversized, ...).
    RequestFailed { peer: PeerId, error: String },
    /// First connection to a peer established.
    PeerConnected(PeerId),
    /// Last connection to a peer closed.
    PeerDisconnected(PeerId),
}

/// Counters kept by the network task.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetStats {
    /// Gossip messages delivered to the node.
    pub gossip_delivered: u64,
    /// Gossip messages rejected as larger than `max_message_bytes`.
    pub gossip_oversized: u64,
    /// Gossip messages rejected because their author is not a member.
    pub gossip_non_member: u64,
    /// Gossip rejected because its author is banned (whoever relayed it).
    pub gossip_banned_author: u64,
    /// Inbound requests delivered to the node.
    pub requests_delivered: u64,
    /// Inbound requests that failed to decode (oversized or malformed frames).
    pub requests_malformed: u64,
    /// Gossip messages and requests dropped by the per-peer rate limit.
    pub rate_limited: u64,
    /// Penalties counted (from the node and internal).
    pub penalties: u64,
    /// Bans imposed.
    pub bans: u64,
    /// Connections refused by the gate (non-members, banned peers).
    pub connections_refused: u64,
    /// Publishes that failed for a reason other than having no peers yet.
    pub publish_errors: u64,
    /// Events dropped because the node's event queue was full.
    pub events_dropped: u64,
    /// Commands dropped by [`NetHandle::send`] because the command queue was full or the task had stopped.
    pub commands_dropped: u64,
}

/// Errors of the network layer.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A key is not a valid ed25519 key.
    #[error("invalid node key: {0}")]
    InvalidKey(String),
    /// Building the transport or behaviours failed.
    #[error("network setup failed: {0}")]
    Setup(String),
    /// Listening on an address failed.
    #[error("cannot listen on {addr}: {error}")]
    Listen { addr: Multiaddr, error: String },
    /// The command queue is full; retry later.
    #[error("network busy, retry")]
    Busy,
    /// The network task has stopped.
    #[error("network task stopped")]
    Closed,
}

/// State the network task publishes for the handle's getters.
#[derive(Debug, Default)]
struct PeerView {
    connected: BTreeSet<PeerId>,
    listen: Vec<Multiaddr>,
    topic_peers: BTreeMap<Topic, BTreeSet<PeerId>>,
    banned: BTreeSet<PeerId>,
    stats: NetStats,
}

#[derive(Debug, Clone, Default)]
struct PeerViewCell(Arc<Mutex<PeerView>>);

impl PeerViewCell {
    fn lock(&self) -> MutexGuard<'_, PeerView> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Capacity of the command queue (node -> network).
pub const COMMAND_QUEUE: usize = 4096;
/// Capacity of the event queue (network -> node); events beyond it are dropped and counted.
pub const EVENT_QUEUE: usize = 8192;

/// A cloneable handle on the network task.
#[derive(Debug, Clone)]
pub struct NetHandle {
    tx: mpsc::Sender<NetCommand>,
    local: PeerId,
    shared: PeerViewCell,
}

impl NetHandle {
    /// Queues a command without waiting. Never blocks and never fails loudly: if the queue is full or the task
    /// has stopped, the command is dropped, logged and counted in [`NetStats::commands_dropped`] (gossip and sync
    /// are retried by their callers anyway). Use [`NetHandle::try_send`] to see the error.
    pub fn send(&self, cmd: NetCommand) {
        if let Err(e) = self.try_send(cmd) {
            self.shared.lock().stats.commands_dropped += 1;
            tracing::warn!(error = %e, "network command dropped");
        }
    }

    /// Queues a command without waiting; `NetError::Busy` if the queue is full, `NetError::Closed` if the task
    /// has stopped.
    pub fn try_send(&self, cmd: NetCommand) -> Result<(), NetError> {
        self.tx.try_send(cmd).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => NetError::Busy,
            mpsc::error::TrySendError::Closed(_) => NetError::Closed,
        })
    }

    /// Queues a command, waiting for room in the queue.
    pub async fn send_async(&self, cmd: NetCommand) -> Result<(), NetError> {
        self.tx.send(cmd).await.map_err(|_| NetError::Closed)
    }

    /// Our PeerId.
    pub fn local_peer_id(&self) -> PeerId {
        self.local
    }

    /// Peers with at least one open connection.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        self.shared.lock().connected.iter().copied().collect()
    }

    /// The addresses we actually listen on (ports resolved), without a `/p2p/` suffix.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.shared.lock().listen.clone()
    }

    /// The listen addresses with `/p2p/<our PeerId>` appended, ready to be used as another node's bootstrap.
    pub fn dial_addrs(&self) -> Vec<Multiaddr> {
        self.listen_addrs()
            .into_iter()
            .map(|a| a.with_p2p(self.local).unwrap_or_else(|a| a))
            .collect()
    }

    /// Connected peers that subscribed to `topic`.
    pub fn topic_peers(&self, topic: Topic) -> Vec<PeerId> {
        self.shared
            .lock()
            .topic_peers
            .get(&topic)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Peers currently banned.
    pub fn banned_peers(&self) -> Vec<PeerId> {
        self.shared.lock().banned.iter().copied().collect()
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> NetStats {
        self.shared.lock().stats.clone()
    }
}

/// The PeerId of a member node key (ed25519 public key bytes).
pub fn peer_id_from_node_key(pk: &[u8; 32]) -> Result<PeerId, NetError> {
    let key =
        libp2p::identity::ed25519::PublicKey::try_from_bytes(pk).map_err(|e| NetError::InvalidKey(e.to_string()))?;
    Ok(libp2p::identity::PublicKey::from(key).to_peer_id())
}

/// Starts the network with default [`NetLimits`]; returns once listening (listen addresses known).
pub async fn spawn(cfg: NetConfig) -> Result<(NetHandle, mpsc::Receiver<NetEvent>), NetError> {
    spawn_with_limits(cfg, NetLimits::default()).await
}

/// Starts the network with explicit limits.
pub async fn spawn_with_limits(
    cfg: NetConfig,
    limits: NetLimits,
) -> Result<(NetHandle, mpsc::Receiver<NetEvent>), NetError> {
    swarm::start(cfg, limits).await
}

fn allowed_peer_ids(keys: &BTreeSet<[u8; 32]>) -> BTreeSet<PeerId> {
    keys.iter()
        .filter_map(|k| match peer_id_from_node_key(k) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(key = %hex::encode(k), error = %e, "ignoring invalid member node key");
                None
            }
        })
        .collect()
}
