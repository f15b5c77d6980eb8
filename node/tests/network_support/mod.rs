//! Shared helpers for the network integration tests: deterministic member keys, configs listening on ephemeral
//! 127.0.0.1 ports, clusters that bootstrap to each other, and condition waits with generous timeouts (tests
//! wait for conditions, they never assert on durations).
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::{collections::BTreeSet, future::Future, time::Duration};

use tokio::sync::mpsc::Receiver;
use tradechain_ledger::crypto::SecretKey;
use tradechain_node::network::{
    Multiaddr, NetConfig, NetEvent, NetHandle, NetLimits, PeerId, Topic, peer_id_from_node_key, spawn_with_limits,
};

/// Generous upper bound for any condition to become true.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Node {
    pub handle: NetHandle,
    pub events: Receiver<NetEvent>,
    pub public: [u8; 32],
}

/// (seed, public key) of a deterministic test key.
pub fn key(label: &str) -> ([u8; 32], [u8; 32]) {
    let sk = SecretKey::from_label(label);
    (sk.seed(), sk.public().0)
}

pub fn peer_of(label: &str) -> PeerId {
    peer_id_from_node_key(&key(label).1).unwrap()
}

pub fn config(label: &str, allowed: &[&str], bootstrap: Vec<Multiaddr>, max: usize) -> NetConfig {
    NetConfig {
        node_key_seed: key(label).0,
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        bootstrap,
        allowed: allowed.iter().map(|l| key(l).1).collect::<BTreeSet<_>>(),
        chain_id: "testchain".into(),
        max_message_bytes: max,
    }
}

pub fn fast_limits() -> NetLimits {
    NetLimits {
        redial_interval: Duration::from_millis(300),
        heartbeat: Duration::from_millis(200),
        ..NetLimits::default()
    }
}

pub async fn start(cfg: NetConfig, limits: NetLimits) -> Node {
    let public = peer_public(&cfg);
    let (handle, events) = spawn_with_limits(cfg, limits).await.unwrap();
    Node { handle, events, public }
}

fn peer_public(cfg: &NetConfig) -> [u8; 32] {
    SecretKey::from_seed(cfg.node_key_seed).public().0
}

/// Starts members `labels[i]`, each bootstrapping to all previously started nodes; all of `labels` are allowed.
pub async fn cluster(labels: &[&str], max: usize, limits: NetLimits) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::new();
    for l in labels {
        let bootstrap = nodes.iter().flat_map(|n| n.handle.dial_addrs()).collect();
        nodes.push(start(config(l, labels, bootstrap, max), limits.clone()).await);
    }
    nodes
}

/// Polls `cond` until it holds or `TIMEOUT` passes; returns whether it held.
pub async fn wait_until(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

/// Waits until every node is connected to, and sees subscriptions on both topics from, all the others.
pub async fn wait_meshed(nodes: &[Node]) {
    let n = nodes.len() - 1;
    let ok = wait_until(|| {
        nodes.iter().all(|x| {
            x.handle.connected_peers().len() == n && Topic::ALL.iter().all(|t| x.handle.topic_peers(*t).len() == n)
        })
    })
    .await;
    assert!(ok, "nodes did not form a full mesh");
}

/// The next event satisfying `pred`, skipping others, within `TIMEOUT`.
pub async fn next_event<T>(rx: &mut Receiver<NetEvent>, mut pred: impl FnMut(NetEvent) -> Option<T>) -> Option<T> {
    with_timeout(async {
        while let Some(ev) = rx.recv().await {
            if let Some(t) = pred(ev) {
                return Some(t);
            }
        }
        None
    })
    .await
    .flatten()
}

pub async fn with_timeout<F: Future>(f: F) -> Option<F::Output> {
    tokio::time::timeout(TIMEOUT, f).await.ok()
}

/// Drains everything already queued.
pub fn drain(rx: &mut Receiver<NetEvent>) -> Vec<NetEvent> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        out.push(ev);
    }
    out
}
