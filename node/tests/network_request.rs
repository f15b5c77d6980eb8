//! Request-response over real sockets: a round trip between two members, local refusal of oversized requests,
//! and remote refusal (by the receiver's size limit) of a request larger than it accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod network_support;

use network_support::*;
use tradechain_node::network::{NetCommand, NetEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_response_round_trip() {
    let labels = ["rr-a", "rr-b"];
    let mut nodes = cluster(&labels, 4096, fast_limits()).await;
    wait_meshed(&nodes).await;
    let (a, b) = (nodes[0].handle.local_peer_id(), nodes[1].handle.local_peer_id());

    nodes[0]
        .handle
        .try_send(NetCommand::SendRequest {
            peer: b,
            data: b"get block 1".to_vec(),
        })
        .unwrap();
    let (from, id, data) = next_event(&mut nodes[1].events, |ev| match ev {
        NetEvent::Request { from, request_id, data } => Some((from, request_id, data)),
        _ => None,
    })
    .await
    .expect("request not received");
    assert_eq!((from, data.as_slice()), (a, b"get block 1".as_slice()));

    nodes[1]
        .handle
        .try_send(NetCommand::Respond {
            request_id: id,
            data: b"block 1 bytes".to_vec(),
        })
        .unwrap();
    let (from, data) = next_event(&mut nodes[0].events, |ev| match ev {
        NetEvent::Response { from, data } => Some((from, data)),
        NetEvent::RequestFailed { error, .. } => panic!("request failed: {error}"),
        _ => None,
    })
    .await
    .expect("response not received");
    assert_eq!((from, data.as_slice()), (b, b"block 1 bytes".as_slice()));

    // An empty request and response are valid frames too.
    nodes[1]
        .handle
        .try_send(NetCommand::SendRequest { peer: a, data: vec![] })
        .unwrap();
    let id = next_event(&mut nodes[0].events, |ev| match ev {
        NetEvent::Request { request_id, data, .. } if data.is_empty() => Some(request_id),
        _ => None,
    })
    .await
    .expect("empty request not received");
    nodes[0]
        .handle
        .try_send(NetCommand::Respond {
            request_id: id,
            data: vec![],
        })
        .unwrap();
    let got = next_event(&mut nodes[1].events, |ev| match ev {
        NetEvent::Response { from, data } => Some((from, data)),
        _ => None,
    })
    .await;
    assert_eq!(got, Some((a, vec![])));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_are_refused() {
    // "big" accepts 64 KiB, "small" only 1 KiB.
    let mut big = start(
        config("rr-big", &["rr-big", "rr-small"], vec![], 64 * 1024),
        fast_limits(),
    )
    .await;
    let mut small = start(
        config("rr-small", &["rr-big", "rr-small"], big.handle.dial_addrs(), 1024),
        fast_limits(),
    )
    .await;
    assert!(wait_until(|| big.handle.connected_peers().len() == 1 && small.handle.connected_peers().len() == 1).await);
    let (big_id, small_id) = (big.handle.local_peer_id(), small.handle.local_peer_id());

    // Refused locally: above our own limit.
    small
        .handle
        .try_send(NetCommand::SendRequest {
            peer: big_id,
            data: vec![1; 1025],
        })
        .unwrap();
    let failed = next_event(&mut small.events, |ev| match ev {
        NetEvent::RequestFailed { peer, error } => Some((peer, error)),
        _ => None,
    })
    .await
    .expect("local refusal not reported");
    assert_eq!(failed.0, big_id);
    assert!(failed.1.contains("exceeds"), "{}", failed.1);

    // Refused by the receiver: within the sender's limit, above the receiver's.
    big.handle
        .try_send(NetCommand::SendRequest {
            peer: small_id,
            data: vec![2; 8 * 1024],
        })
        .unwrap();
    let failed = next_event(&mut big.events, |ev| match ev {
        NetEvent::RequestFailed { peer, error } => Some((peer, error)),
        NetEvent::Response { .. } => panic!("oversized request was answered"),
        _ => None,
    })
    .await
    .expect("remote refusal not reported");
    assert_eq!(failed.0, small_id);
    assert!(
        wait_until(|| small.handle.stats().requests_malformed == 1).await,
        "{:?}",
        small.handle.stats()
    );
    assert_eq!(
        small.handle.stats().penalties,
        1,
        "the sender of an oversized request is penalised"
    );
    assert!(
        !drain(&mut small.events)
            .iter()
            .any(|e| matches!(e, NetEvent::Request { .. }))
    );
}
