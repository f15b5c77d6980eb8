//! Inbound limits over real sockets: gossip larger than the receiver's `max_message_bytes` is never delivered
//! (whether it passes the gossipsub frame limit or not), and the per-peer rate limit drops and counts excess.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod network_support;

use network_support::*;
use tradechain_node::network::{NetCommand, NetEvent, NetLimits, Topic};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_gossip_is_rejected() {
    const SMALL_MAX: usize = 10_000;
    let labels = ["size-big", "size-small"];
    let big = start(config("size-big", &labels, vec![], 1024 * 1024), fast_limits()).await;
    let small = start(
        config("size-small", &labels, big.handle.dial_addrs(), SMALL_MAX),
        fast_limits(),
    )
    .await;
    let mut nodes = vec![big, small];
    wait_meshed(&nodes).await;

    // Just above the limit: fits the gossipsub frame (limit + envelope) and is rejected by our payload check,
    // which also counts a penalty against the sender.
    nodes[0]
        .handle
        .try_send(NetCommand::Publish {
            topic: Topic::Txs,
            data: vec![1; SMALL_MAX + 1],
        })
        .unwrap();
    assert!(wait_until(|| nodes[1].handle.stats().gossip_oversized == 1).await);
    assert_eq!(nodes[1].handle.stats().penalties, 1);

    // Exactly at the limit is delivered, and it is the only thing delivered so far.
    nodes[0]
        .handle
        .try_send(NetCommand::Publish {
            topic: Topic::Txs,
            data: vec![3; SMALL_MAX],
        })
        .unwrap();
    let data = next_event(&mut nodes[1].events, |ev| match ev {
        NetEvent::Gossip { data, .. } => Some(data),
        _ => None,
    })
    .await
    .expect("at-limit message not delivered");
    assert_eq!(data, vec![3; SMALL_MAX]);

    // Far above: refused by the receiver's gossipsub frame limit (libp2p drops the frame and that inbound stream;
    // honest members never send such frames since they share the limit). It must never be delivered.
    nodes[0]
        .handle
        .try_send(NetCommand::Publish {
            topic: Topic::Txs,
            data: vec![2; 200_000],
        })
        .unwrap();
    // The connection itself stays usable: a request round trip still works.
    let small_id = nodes[1].handle.local_peer_id();
    nodes[0]
        .handle
        .try_send(NetCommand::SendRequest {
            peer: small_id,
            data: b"ping".to_vec(),
        })
        .unwrap();
    let id = next_event(&mut nodes[1].events, |ev| match ev {
        NetEvent::Gossip { data, .. } => panic!("unexpected gossip of {} bytes delivered", data.len()),
        NetEvent::Request { request_id, .. } => Some(request_id),
        _ => None,
    })
    .await
    .expect("request not received");
    nodes[1]
        .handle
        .try_send(NetCommand::Respond {
            request_id: id,
            data: b"pong".to_vec(),
        })
        .unwrap();
    let pong = next_event(&mut nodes[0].events, |ev| match ev {
        NetEvent::Response { data, .. } => Some(data),
        _ => None,
    })
    .await;
    assert_eq!(pong.as_deref(), Some(b"pong".as_slice()));
    for ev in drain(&mut nodes[1].events) {
        assert!(!matches!(ev, NetEvent::Gossip { .. }), "unexpected {ev:?}");
    }
    assert_eq!(nodes[1].handle.stats().gossip_delivered, 1);
    assert_eq!(nodes[1].handle.stats().gossip_oversized, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_drops_and_counts_excess_and_a_tx_flood_never_costs_a_vote() {
    const SENT: u64 = 40;
    const VOTES: u64 = 5;
    let labels = ["rate-sender", "rate-receiver"];
    let sender = start(config("rate-sender", &labels, vec![], 4096), fast_limits()).await;
    let strict = NetLimits {
        rate_per_sec: 1,
        rate_burst: 3,
        ..fast_limits()
    };
    let receiver = start(
        config("rate-receiver", &labels, sender.handle.dial_addrs(), 4096),
        strict,
    )
    .await;
    let mut nodes = vec![sender, receiver];
    wait_meshed(&nodes).await;

    // A transaction flood far over the receiver's transaction budget…
    for i in 0..SENT {
        nodes[0]
            .handle
            .try_send(NetCommand::Publish {
                topic: Topic::Txs,
                data: i.to_be_bytes().to_vec(),
            })
            .unwrap();
    }
    // …then a few consensus messages from the same peer.
    for i in 0..VOTES {
        nodes[0]
            .handle
            .try_send(NetCommand::Publish {
                topic: Topic::Consensus,
                data: (1000 + i).to_be_bytes().to_vec(),
            })
            .unwrap();
    }
    // Every message is either delivered or dropped by the limiter, and the limiter dropped some.
    let stats = |n: &Node| n.handle.stats();
    assert!(
        wait_until(|| stats(&nodes[1]).gossip_delivered + stats(&nodes[1]).rate_limited == SENT + VOTES).await,
        "{:?}",
        stats(&nodes[1])
    );
    assert!(stats(&nodes[1]).rate_limited >= 1, "{:?}", stats(&nodes[1]));
    // Every consensus message got through: their budget is their own.
    let mut votes = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while votes < VOTES && tokio::time::Instant::now() < deadline {
        if let Ok(Some(NetEvent::Gossip {
            topic: Topic::Consensus,
            ..
        })) = tokio::time::timeout(std::time::Duration::from_millis(200), nodes[1].events.recv()).await
        {
            votes += 1;
        }
    }
    assert_eq!(
        votes,
        VOTES,
        "a throttled transaction gossip cost a vote: {:?}",
        stats(&nodes[1])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_validator_nodes_author_consensus_gossip() {
    let labels = ["author-member", "author-receiver"];
    let member = start(config("author-member", &labels, vec![], 4096), fast_limits()).await;
    let receiver = start(
        config("author-receiver", &labels, member.handle.dial_addrs(), 4096),
        fast_limits(),
    )
    .await;
    let mut nodes = vec![member, receiver];
    wait_meshed(&nodes).await;
    // The receiver learns (from committed state, in a node) that only its own key is a validator's.
    nodes[1]
        .handle
        .try_send(NetCommand::SetConsensusAuthors([nodes[1].public].into_iter().collect()))
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for (topic, data) in [(Topic::Consensus, b"vote".to_vec()), (Topic::Txs, b"tx".to_vec())] {
        nodes[0].handle.try_send(NetCommand::Publish { topic, data }).unwrap();
    }
    // The member's transaction gossip arrives; its consensus gossip does not, and it is penalised.
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if let Ok(Some(NetEvent::Gossip { topic, .. })) =
            tokio::time::timeout(std::time::Duration::from_millis(200), nodes[1].events.recv()).await
        {
            got.push(topic);
        }
        if got.contains(&Topic::Txs) && nodes[1].handle.stats().penalties >= 1 {
            break;
        }
    }
    assert!(got.contains(&Topic::Txs), "{got:?}");
    assert!(
        !got.contains(&Topic::Consensus),
        "a non-validator authored a vote: {got:?}"
    );
    assert!(nodes[1].handle.stats().penalties >= 1, "{:?}", nodes[1].handle.stats());
}
