//! Permissioning over real sockets: a node whose key is not a member cannot connect and receives no gossip;
//! removing a member from the allow-list disconnects it; repeated penalties disconnect and ban a peer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod network_support;

use std::collections::BTreeSet;

use network_support::*;
use tradechain_node::network::{NetCommand, NetEvent, NetLimits, Topic};

const MEMBERS: [&str; 3] = ["perm-a", "perm-b", "perm-c"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_member_cannot_connect_nor_receive() {
    let mut members = cluster(&MEMBERS, 4096, fast_limits()).await;
    wait_meshed(&members).await;

    // The outsider believes the members are its peers and keeps dialling them; they refuse it.
    let bootstrap = members.iter().flat_map(|m| m.handle.dial_addrs()).collect();
    let mut allowed: Vec<&str> = MEMBERS.to_vec();
    allowed.push("perm-outsider");
    let mut outsider = start(config("perm-outsider", &allowed, bootstrap, 4096), fast_limits()).await;
    let outsider_id = outsider.handle.local_peer_id();
    assert!(
        wait_until(|| members.iter().all(|m| m.handle.stats().connections_refused >= 1)).await,
        "every member should have refused the outsider at least once"
    );

    // Gossip among members still flows, and the outsider gets none of it.
    let msg = b"members only".to_vec();
    members[0]
        .handle
        .try_send(NetCommand::Publish {
            topic: Topic::Consensus,
            data: msg.clone(),
        })
        .unwrap();
    for m in members.iter_mut().skip(1) {
        let got = next_event(&mut m.events, |ev| match ev {
            NetEvent::Gossip { data, .. } if data == msg => Some(()),
            _ => None,
        })
        .await;
        assert!(got.is_some(), "member did not receive the message");
    }
    // The outsider's own publish reaches nobody.
    outsider
        .handle
        .try_send(NetCommand::Publish {
            topic: Topic::Txs,
            data: b"spam".to_vec(),
        })
        .unwrap();
    members[0]
        .handle
        .try_send(NetCommand::Publish {
            topic: Topic::Txs,
            data: b"marker".to_vec(),
        })
        .unwrap();
    for m in members.iter_mut().skip(1) {
        let got = next_event(&mut m.events, |ev| match ev {
            NetEvent::Gossip { data, .. } if data == b"spam" => panic!("outsider's gossip delivered"),
            NetEvent::Gossip { data, .. } if data == b"marker" => Some(()),
            _ => None,
        })
        .await;
        assert!(got.is_some());
    }

    for m in &mut members {
        assert!(!m.handle.connected_peers().contains(&outsider_id));
        assert!(!m.handle.topic_peers(Topic::Consensus).contains(&outsider_id));
        for ev in drain(&mut m.events) {
            assert_ne!(
                ev,
                NetEvent::PeerConnected(outsider_id),
                "a member accepted the outsider"
            );
            if let NetEvent::Gossip { from, .. } = ev {
                assert_ne!(from, outsider_id);
            }
        }
    }
    for ev in drain(&mut outsider.events) {
        assert!(
            !matches!(ev, NetEvent::Gossip { .. } | NetEvent::Request { .. }),
            "outsider got {ev:?}"
        );
    }
    assert!(outsider.handle.topic_peers(Topic::Consensus).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removal_from_allow_list_disconnects() {
    let labels = ["allow-a", "allow-b", "allow-c"];
    let mut nodes = cluster(&labels, 4096, fast_limits()).await;
    wait_meshed(&nodes).await;
    let c = nodes[2].handle.local_peer_id();

    let keep: BTreeSet<[u8; 32]> = [key("allow-a").1, key("allow-b").1].into_iter().collect();
    nodes[0].handle.try_send(NetCommand::SetAllowed(keep)).unwrap();
    let gone = next_event(&mut nodes[0].events, |ev| match ev {
        NetEvent::PeerDisconnected(p) if p == c => Some(()),
        _ => None,
    })
    .await;
    assert!(gone.is_some(), "removed member was not disconnected");
    // c keeps redialling a and is refused each time; b stays connected.
    let refused = nodes[0].handle.stats().connections_refused;
    assert!(wait_until(|| nodes[0].handle.stats().connections_refused > refused).await);
    assert!(!nodes[0].handle.connected_peers().contains(&c));
    assert!(
        nodes[0]
            .handle
            .connected_peers()
            .contains(&nodes[1].handle.local_peer_id())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_penalties_ban_a_peer() {
    let labels = ["ban-a", "ban-b", "ban-c"];
    let limits = NetLimits {
        penalty_threshold: 3,
        ..fast_limits()
    };
    let mut nodes = cluster(&labels, 4096, limits).await;
    wait_meshed(&nodes).await;
    let b = nodes[1].handle.local_peer_id();

    for i in 0..2 {
        nodes[0]
            .handle
            .try_send(NetCommand::Penalize {
                peer: b,
                reason: format!("bad signature {i}"),
            })
            .unwrap();
    }
    assert!(wait_until(|| nodes[0].handle.stats().penalties == 2).await);
    assert!(nodes[0].handle.banned_peers().is_empty(), "banned below the threshold");
    assert!(nodes[0].handle.connected_peers().contains(&b));

    nodes[0]
        .handle
        .try_send(NetCommand::Penalize {
            peer: b,
            reason: "garbage".into(),
        })
        .unwrap();
    let gone = next_event(&mut nodes[0].events, |ev| match ev {
        NetEvent::PeerDisconnected(p) if p == b => Some(()),
        _ => None,
    })
    .await;
    assert!(gone.is_some(), "banned peer was not disconnected");
    assert_eq!(nodes[0].handle.banned_peers(), vec![b]);
    assert_eq!(nodes[0].handle.stats().bans, 1);
    // b redials and is refused while banned.
    let refused = nodes[0].handle.stats().connections_refused;
    assert!(wait_until(|| nodes[0].handle.stats().connections_refused > refused).await);
    assert!(!nodes[0].handle.connected_peers().contains(&b));
    assert!(
        nodes[0]
            .handle
            .connected_peers()
            .contains(&nodes[2].handle.local_peer_id())
    );
}
