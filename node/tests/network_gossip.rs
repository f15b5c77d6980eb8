//! Gossip among four member nodes over real TCP sockets on 127.0.0.1: consensus and transaction messages
//! published by one node reach the three others, attributed to their signed author.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod network_support;

use network_support::*;
use tradechain_node::network::{NetCommand, NetEvent, Topic, peer_id_from_node_key};

const MEMBERS: [&str; 4] = ["gossip-a", "gossip-b", "gossip-c", "gossip-d"];

async fn expect_gossip(node: &mut Node, want_topic: Topic, want: &[u8]) -> tradechain_node::network::PeerId {
    next_event(&mut node.events, |ev| match ev {
        NetEvent::Gossip { from, topic, data } if topic == want_topic && data == want => Some(from),
        _ => None,
    })
    .await
    .expect("gossip message not received")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_members_gossip_consensus_and_txs() {
    let mut nodes = cluster(&MEMBERS, 64 * 1024, fast_limits()).await;
    for (n, label) in nodes.iter().zip(MEMBERS) {
        assert_eq!(n.handle.local_peer_id(), peer_id_from_node_key(&key(label).1).unwrap());
        assert!(!n.handle.listen_addrs().is_empty());
    }
    wait_meshed(&nodes).await;

    let vote = b"consensus: prevote h=1 r=0".to_vec();
    nodes[0]
        .handle
        .try_send(NetCommand::Publish {
            topic: Topic::Consensus,
            data: vote.clone(),
        })
        .unwrap();
    let author = nodes[0].handle.local_peer_id();
    for n in nodes.iter_mut().skip(1) {
        assert_eq!(expect_gossip(n, Topic::Consensus, &vote).await, author);
    }

    let tx = vec![7u8; 10_000];
    nodes[2]
        .handle
        .try_send(NetCommand::Publish {
            topic: Topic::Txs,
            data: tx.clone(),
        })
        .unwrap();
    let author = nodes[2].handle.local_peer_id();
    for (i, n) in nodes.iter_mut().enumerate() {
        if i != 2 {
            assert_eq!(expect_gossip(n, Topic::Txs, &tx).await, author);
        }
    }
    // The publisher does not receive its own message back.
    assert!(
        !drain(&mut nodes[2].events)
            .iter()
            .any(|e| matches!(e, NetEvent::Gossip { .. }))
    );
    for n in &nodes {
        assert_eq!(n.handle.stats().publish_errors, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_alone_is_not_fatal() {
    let node = start(config("lonely", &["lonely"], vec![], 1024), fast_limits()).await;
    for i in 0..3u8 {
        node.handle.send(NetCommand::Publish {
            topic: Topic::Consensus,
            data: vec![i; 10],
        });
    }
    // The task is still alive and handles later commands in order: an oversized publish is the first (and only)
    // publish error counted, so the peer-less publishes above were not counted as errors.
    node.handle
        .try_send(NetCommand::Publish {
            topic: Topic::Txs,
            data: vec![9; 1025],
        })
        .unwrap();
    assert!(wait_until(|| node.handle.stats().publish_errors >= 1).await);
    assert_eq!(node.handle.stats().publish_errors, 1);
    assert_eq!(node.handle.stats().commands_dropped, 0);
    assert!(node.handle.connected_peers().is_empty());
}
