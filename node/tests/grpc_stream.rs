//! Server streams against a real tonic server: StreamBlocks and StreamEvents deliver committed
//! data in order, follow new commits live, and resume after the client drops with no gap and no
//! duplicate.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod grpc_common;

use grpc_common::{signed, start};
use tonic::Code;
use tradechain_node::grpc::scenario::{self, ITEM, ITEM_LINK, Scenario};
use tradechain_proto::v1;

/// The next `n` messages. A stream that skipped data would wait forever for the missing count,
/// so a generous guard turns such a hang into a failure (it bounds no speed).
async fn next_n<T>(s: &mut tonic::Streaming<T>, n: usize) -> Vec<T> {
    let mut out = Vec::new();
    while out.len() < n {
        let m = tokio::time::timeout(std::time::Duration::from_secs(20), s.message())
            .await
            .expect("stream stalled: a message is missing");
        out.push(m.unwrap().expect("stream ended early"));
    }
    out
}

fn blocks_req(from: u64) -> tonic::Request<v1::StreamBlocksRequest> {
    signed(
        v1::StreamBlocksRequest { from_height: from },
        "PORT-NLRTM",
        "ChainService/StreamBlocks",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_blocks_follows_commits_and_resumes() {
    let mut env = start(Scenario::trade()).await;
    let mut c = env.chain();
    let mut seen = Vec::new();

    let mut s = c.stream_blocks(blocks_req(0)).await.unwrap().into_inner();
    seen.extend(next_n(&mut s, 5).await);
    // Live: commits after the stream caught up arrive in order.
    env.scenario.grow(ITEM, 3, 1);
    seen.extend(next_n(&mut s, 3).await);
    // The client drops; more blocks commit while it is away.
    drop(s);
    env.scenario.grow(ITEM, 4, 2);
    let last = seen.last().unwrap().header.as_ref().unwrap().height;
    let mut s = c.stream_blocks(blocks_req(last + 1)).await.unwrap().into_inner();
    seen.extend(next_n(&mut s, 2).await);
    env.scenario.grow(ITEM, 1, 1);
    seen.extend(next_n(&mut s, 1).await);

    let heights: Vec<u64> = seen.iter().map(|b| b.header.as_ref().unwrap().height).collect();
    assert_eq!(heights, (1..=11).collect::<Vec<u64>>());
    // Each block links to the one before: nothing was skipped or replaced.
    for w in seen.windows(2) {
        assert_eq!(
            w[1].header.as_ref().unwrap().prev_hash,
            w[0].header.as_ref().unwrap().block_hash
        );
    }
    for b in &seen {
        assert!(!b.commit_certificate_borsh.is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_events_filters_and_resumes_by_position() {
    let mut env = start(Scenario::trade()).await;
    env.scenario.grow(ITEM, 4, 2);
    let mut c = env.chain();
    let req = |h: u64, i: u32, rejected: bool| {
        signed(
            v1::StreamEventsRequest {
                from_height: h,
                from_index: i,
                filter: Some(v1::EventFilter {
                    families: vec!["provenance".into()],
                    senders: vec![],
                    goods_id: ITEM_LINK.into(),
                    include_rejected: rejected,
                }),
                include_tx: false,
            },
            "REGULATOR-EU",
            "ChainService/StreamEvents",
        )
    };
    // The item has 6 + 4 events.
    let mut s = c.stream_events(req(1, 0, false)).await.unwrap().into_inner();
    let all = next_n(&mut s, 10).await;
    drop(s);
    assert!(
        all.iter()
            .all(|e| e.family == "provenance" && e.accepted && e.goods_keys.contains(&ITEM.to_string()))
    );
    let pos: Vec<(u64, u32)> = all
        .iter()
        .map(|e| {
            let l = e.location.unwrap();
            (l.height, l.index)
        })
        .collect();
    let mut sorted = pos.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, pos, "events out of order or duplicated");

    // Resume right after the 4th event: the rest, exactly.
    let (h, i) = pos[3];
    let mut s = c.stream_events(req(h, i + 1, false)).await.unwrap().into_inner();
    let rest = next_n(&mut s, 6).await;
    assert_eq!(rest, all[4..].to_vec());
    // Live events keep coming on the resumed stream.
    env.scenario.grow(ITEM, 1, 1);
    let live = next_n(&mut s, 1).await;
    assert!(live[0].location.unwrap().height > pos[9].0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_events_rejected_and_errors() {
    let env = start(Scenario::trade()).await;
    let mut c = env.chain();
    let req = |filter: v1::EventFilter| {
        signed(
            v1::StreamEventsRequest {
                from_height: 2,
                from_index: 0,
                filter: Some(filter),
                include_tx: true,
            },
            "REGULATOR-EU",
            "ChainService/StreamEvents",
        )
    };
    let mut s = c
        .stream_events(req(v1::EventFilter {
            families: vec!["waybill".into()],
            include_rejected: true,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let ev = next_n(&mut s, 2).await;
    assert!(!ev[0].accepted);
    assert_eq!(ev[0].rejection.as_ref().unwrap().rule, scenario::REJECTED_RULE);
    assert_eq!(ev[0].location.unwrap(), v1::TxLocation { height: 2, index: 1 });
    assert!(ev[1].accepted);
    assert_eq!(ev[1].location.unwrap().height, 3);
    assert!(!ev[1].signed_tx_borsh.is_empty() && ev[1].tx_json.contains("COSU123456789"));

    // A port asking for settlement events with include_tx learns that they happened, not what
    // they say: no bytes, no JSON.
    let mut port = c
        .stream_events(signed(
            v1::StreamEventsRequest {
                from_height: 1,
                from_index: 0,
                filter: Some(v1::EventFilter {
                    families: vec!["settlement".into()],
                    ..Default::default()
                }),
                include_tx: true,
            },
            "PORT-NLRTM",
            "ChainService/StreamEvents",
        ))
        .await
        .unwrap()
        .into_inner();
    let st = next_n(&mut port, 1).await;
    assert!(st[0].withheld && st[0].signed_tx_borsh.is_empty() && st[0].tx_json.is_empty());

    let e = c
        .stream_events(req(v1::EventFilter {
            families: vec!["shipping".into()],
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("filter.families:"));

    let e = c.stream_events(v1::StreamEventsRequest::default()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    let e = c
        .stream_blocks(v1::StreamBlocksRequest { from_height: 1 })
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
}
