//! ChainService: blocks, headers and resumable server streams of blocks and transaction events.
//!
//! Streams (invariant: in order, no gaps, no duplicates, resumable): each stream keeps a cursor
//! (`next` height, and for events the index within it), subscribes to commit notifications
//! *before* its first read, and on every wake-up sends everything from the cursor up to the
//! store's head. The store is the source of truth and notifications only wake the stream, so a
//! lagged or missed notification can delay but never skip data. A client that reconnects asks
//! again from the last position it saw plus one.
use std::pin::Pin;

use futures::Stream;
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::codec::encode;
use tradechain_proto::v1::{self, block_request::At, chain_service_server::ChainService};

use super::auth::Caller;
use super::disclosure::{WITHHELD_REASON, may_see_tx};
use super::status::{internal, invalid, not_found, parse_hash};
use super::{ApiState, views};

#[derive(Clone)]
pub struct ChainApi(pub ApiState);

const SVC: &str = "/tradechain.v1.ChainService/";
const FAMILIES: &[&str] = &["waybill", "certificate", "provenance", "settlement", "governance"];

type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn height_of(shared: &ApiState, at: Option<&At>) -> Result<u64, Status> {
    match at {
        None => Err(invalid("at", "one of height or hash is required")),
        Some(At::Height(0)) => Err(invalid("height", "heights start at 1")),
        Some(At::Height(h)) => Ok(*h),
        Some(At::Hash(s)) => {
            let h = parse_hash("hash", s)?;
            shared
                .backend
                .height_of(&h)
                .map_err(internal)?
                .ok_or_else(|| not_found(format!("no block with hash {h}")))
        }
    }
}

/// A block as `caller` may see it: every transaction it is not a party to comes as its leaf
/// hash only, with its rejection reason withheld (`disclosure`); the whole block's bytes only
/// when nothing is withheld.
fn block_reply(shared: &ApiState, height: u64, caller: &Caller) -> Result<Option<v1::BlockReply>, Status> {
    let b = shared.backend.as_ref();
    let Some(block) = b.block(height).map_err(internal)? else {
        return Ok(None);
    };
    let cert = b.certificate(height).map_err(internal)?;
    let outcomes = b.outcomes(height).map_err(internal)?.unwrap_or_default();
    let mut views_ = views::outcomes(&block, &outcomes);
    let visible = block
        .txs
        .iter()
        .map(|stx| may_see_tx(shared, Some(caller), stx))
        .collect::<Result<Vec<bool>, Status>>()?;
    // When nothing is withheld the whole block carries every transaction's bytes: not twice.
    let all_visible = visible.iter().all(|v| *v);
    let mut txs = Vec::with_capacity(block.txs.len());
    for (i, (stx, visible)) in block.txs.iter().zip(&visible).enumerate() {
        if !visible && let Some(r) = views_.get_mut(i).and_then(|o| o.rejection.as_mut()) {
            r.reason = WITHHELD_REASON.into();
        }
        txs.push(v1::BlockTx {
            index: i as u32,
            signed_tx_borsh: if *visible && !all_visible {
                encode(stx)
            } else {
                Vec::new()
            },
            leaf_hash: tradechain_ledger::merkle::leaf_hash(&stx.leaf_bytes()).0.to_vec(),
            withheld: !visible,
        });
    }
    Ok(Some(v1::BlockReply {
        header: Some(views::header(&block.header)),
        outcomes: views_,
        commit_certificate_borsh: cert.as_ref().map(encode).unwrap_or_default(),
        block_borsh: if all_visible { encode(&block) } else { Vec::new() },
        txs,
    }))
}

/// A validated event filter with the goods identifier normalised.
struct Filter {
    families: Vec<String>,
    senders: Vec<String>,
    goods_key: Option<String>,
    include_rejected: bool,
}

impl Filter {
    fn new(shared: &ApiState, f: Option<&v1::EventFilter>) -> Result<Filter, Status> {
        let f = f.cloned().unwrap_or_default();
        for fam in &f.families {
            if !FAMILIES.contains(&fam.as_str()) {
                return Err(invalid(
                    "filter.families",
                    format!("{fam:?} is not one of {FAMILIES:?}"),
                ));
            }
        }
        let goods_key = match f.goods_id.as_str() {
            "" => None,
            g => Some(shared.backend.goods_key(g).map_err(|e| invalid("filter.goods_id", e))?),
        };
        Ok(Filter {
            families: f.families,
            senders: f.senders,
            goods_key,
            include_rejected: f.include_rejected,
        })
    }
}

/// Events of one block from `from_index` on, filtered.
fn block_events(
    shared: &ApiState,
    height: u64,
    from_index: u32,
    filter: &Filter,
    include_tx: bool,
    caller: &Caller,
) -> Result<Vec<v1::ChainEvent>, Status> {
    let b = shared.backend.as_ref();
    let block = b
        .block(height)
        .map_err(internal)?
        .ok_or_else(|| Status::internal(format!("block {height} is missing below the head")))?;
    let outcomes = b.outcomes(height).map_err(internal)?.unwrap_or_default();
    let mut out = Vec::new();
    for (i, stx) in block.txs.iter().enumerate().skip(from_index as usize) {
        let family = stx.tx().payload.family();
        let rejected = match outcomes.get(i) {
            Some(TxOutcome::Rejected { rule, reason }) => Some((rule, reason)),
            _ => None,
        };
        if (rejected.is_some() && !filter.include_rejected)
            || (!filter.families.is_empty() && !filter.families.iter().any(|f| f == family))
            || (!filter.senders.is_empty() && !filter.senders.iter().any(|s| s == stx.tx().sender.as_str()))
        {
            continue;
        }
        let mut goods_keys: Vec<String> = stx
            .tx()
            .payload
            .events()
            .iter()
            .flat_map(|ev| ev.touched_ids())
            .filter_map(|id| b.goods_key(id).ok())
            .collect();
        goods_keys.sort();
        goods_keys.dedup();
        if let Some(k) = &filter.goods_key
            && !goods_keys.contains(k)
        {
            continue;
        }
        // Asked only where it shows: the bytes, or a rejection's reason.
        let visible = if include_tx || rejected.is_some() {
            may_see_tx(shared, Some(caller), stx)?
        } else {
            true
        };
        let rejection =
            rejected.map(|(rule, reason)| views::rejection(rule, if visible { reason } else { WITHHELD_REASON }));
        out.push(v1::ChainEvent {
            location: Some(v1::TxLocation {
                height,
                index: i as u32,
            }),
            tx_id: stx.id().to_hex(),
            family: family.to_string(),
            sender: stx.tx().sender.to_string(),
            accepted: rejection.is_none(),
            rejection,
            block_time_ms: block.header.time_ms,
            goods_keys,
            signed_tx_borsh: if include_tx && visible { encode(stx) } else { Vec::new() },
            tx_json: if include_tx && visible {
                views::json(stx)
            } else {
                String::new()
            },
            withheld: include_tx && !visible,
        });
    }
    Ok(out)
}

/// Drive a stream: `produce(height, first)` yields the items of one height; the cursor advances
/// one height at a time up to the head, then waits for the next commit.
fn follow<T, F>(shared: ApiState, from_height: u64, mut produce: F) -> ReplyStream<T>
where
    T: Send + 'static,
    F: FnMut(&ApiState, u64, bool) -> Result<Vec<T>, Status> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(shared.limits.stream_buffer.max(1));
    let mut commits = shared.backend.subscribe_commits();
    tokio::spawn(async move {
        let mut next = from_height.max(1);
        let mut first = true;
        loop {
            let head = match shared.backend.head() {
                Ok(h) => h.map(|h| h.height).unwrap_or(0),
                Err(e) => {
                    let _ = tx.send(Err(internal(e))).await;
                    return;
                }
            };
            while next <= head {
                match produce(&shared, next, first) {
                    Ok(items) => {
                        for it in items {
                            if tx.send(Ok(it)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(st) => {
                        let _ = tx.send(Err(st)).await;
                        return;
                    }
                }
                first = false;
                next += 1;
            }
            tokio::select! {
                r = commits.recv() => match r {
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return,
                },
                _ = tx.closed() => return,
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

#[tonic::async_trait]
impl ChainService for ChainApi {
    async fn get_block(&self, req: Request<v1::BlockRequest>) -> Result<Response<v1::BlockReply>, Status> {
        let caller = self.0.auth(&req, &format!("{SVC}GetBlock"))?;
        let h = height_of(&self.0, req.get_ref().at.as_ref())?;
        block_reply(&self.0, h, &caller)?
            .map(Response::new)
            .ok_or_else(|| not_found(format!("no block at height {h}")))
    }

    async fn get_header(&self, req: Request<v1::BlockRequest>) -> Result<Response<v1::HeaderReply>, Status> {
        let h = height_of(&self.0, req.get_ref().at.as_ref())?;
        let b = self.0.backend.as_ref();
        let header = b
            .header(h)
            .map_err(internal)?
            .ok_or_else(|| not_found(format!("no block at height {h}")))?;
        let cert = b.certificate(h).map_err(internal)?;
        Ok(Response::new(v1::HeaderReply {
            header: Some(views::header(&header)),
            commit_certificate_borsh: cert.as_ref().map(encode).unwrap_or_default(),
        }))
    }

    type StreamBlocksStream = ReplyStream<v1::BlockReply>;

    async fn stream_blocks(
        &self,
        req: Request<v1::StreamBlocksRequest>,
    ) -> Result<Response<Self::StreamBlocksStream>, Status> {
        let caller = self.0.auth(&req, &format!("{SVC}StreamBlocks"))?;
        let from = req.get_ref().from_height;
        Ok(Response::new(follow(self.0.clone(), from, move |s, h, _| {
            block_reply(s, h, &caller)?
                .map(|r| vec![r])
                .ok_or_else(|| Status::internal(format!("block {h} is missing below the head")))
        })))
    }

    type StreamEventsStream = ReplyStream<v1::ChainEvent>;

    async fn stream_events(
        &self,
        req: Request<v1::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        let caller = self.0.auth(&req, &format!("{SVC}StreamEvents"))?;
        let r = req.get_ref();
        let filter = Filter::new(&self.0, r.filter.as_ref())?;
        let (from, from_index, include_tx) = (r.from_height.max(1), r.from_index, r.include_tx);
        Ok(Response::new(follow(self.0.clone(), from, move |s, h, first| {
            block_events(s, h, if first { from_index } else { 0 }, &filter, include_tx, &caller)
        })))
    }
}
