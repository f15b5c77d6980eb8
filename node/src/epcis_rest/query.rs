//! Bounded, paged reads of committed provenance events for the REST binding: the chain scan
//! (events in record order: block by block, transaction by transaction), the item-index read
//! (one goods key's event chain), the eventID lookup, and the page tokens that resume them.
//!
//! Bounds (per request, whatever the query or token): a page reads at most `SCAN_BLOCKS`
//! block headers and `SCAN_TXS` transactions (item index: `SCAN_TXS` index entries) from its
//! start position, plus a binary search over headers (log₂ height reads) for `GE_recordTime`.
//! When the bound is reached before the page is full, the page is returned as it is — possibly
//! empty — with a token for the next position: a client walks the chain in bounded steps, and no
//! member or anonymous caller can make the node scan the whole chain in one request.
//!
//! Invariants:
//! - Only accepted transactions are read (the block's outcome; the item index and the eventID
//!   index hold accepted ones only); only provenance events; each one through
//!   `export::public_view` (commercial fields withheld) with `recordTime` set to the committing
//!   block's time — the ledger's record time (a `recordTime` in a captured document is the
//!   capturing client's claim; EPCIS has the repository set it).
//! - Positions only move forward and blocks are immutable once committed, so a walk over the
//!   pages returns each matching event exactly once, in record order, as of the chain when each
//!   page was read. Reaching the head ends the walk (no token); later commits are a new query.
//! - A token is validated before any read: its shape, numbers, and the fingerprint of the query
//!   it was issued for (a token of another query or endpoint is refused); a chain position past
//!   the head or past its block's transaction count is refused. Tokens carry no state on the
//!   node and do not expire.
use sha2::{Digest, Sha256};
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::epcis::export::public_view;
use tradechain_ledger::epcis::json::Json;
use tradechain_ledger::epcis::time;
use tradechain_ledger::payload::ProvenanceEvent;
use tradechain_ledger::records::{EventIdRecord, TxLocation};
use tradechain_ledger::state::keys;

use super::filter::{EventFilter, ParamError};
use crate::grpc::backend::Backend;

/// Events a page holds unless `perPage` says otherwise (the OpenAPI default).
pub const DEFAULT_PER_PAGE: usize = 30;
/// The most a page holds; a larger `perPage` is lowered to it.
pub const MAX_PER_PAGE: usize = 500;
/// Block headers one page reads at most.
pub const SCAN_BLOCKS: u64 = 4096;
/// Transactions (or item-index entries) one page reads at most.
pub const SCAN_TXS: usize = 2048;
const TOKEN_MAX_BYTES: usize = 96;

#[derive(Debug)]
pub enum QueryError {
    Param(ParamError),
    NotFound(String),
    Internal(String),
}

impl From<ParamError> for QueryError {
    fn from(e: ParamError) -> Self {
        QueryError::Param(e)
    }
}

fn internal<E: std::fmt::Display>(e: E) -> QueryError {
    QueryError::Internal(e.to_string())
}

fn bad_token(detail: impl Into<String>) -> QueryError {
    QueryError::Param(ParamError::new("nextPageToken", detail))
}

/// Where a walk resumes: block `height`, transaction `index`, its event `event` (of a
/// document transaction; 0 otherwise) and `sub` values already returned from that event
/// (collections of identifiers), or the item index's `seq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cursor {
    Chain {
        height: u64,
        index: u32,
        event: u32,
        sub: u32,
    },
    Item {
        seq: u64,
    },
    Offset {
        n: u64,
    },
}

impl Cursor {
    /// The start of block `height`.
    pub fn block_start(height: u64) -> Cursor {
        Cursor::Chain {
            height,
            index: 0,
            event: 0,
            sub: 0,
        }
    }
}

/// The fingerprint a token carries: the endpoint (`scope`) and the query's other parameters.
pub fn fingerprint(scope: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut h = Sha256::new();
    h.update(b"tradechain/epcis-rest/page/v1\0");
    h.update(scope.as_bytes());
    for (k, v) in sorted {
        h.update([0]);
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
    }
    hex::encode(h.finalize().get(..8).unwrap_or_default())
}

pub fn encode_token(c: Cursor, fp: &str) -> String {
    match c {
        Cursor::Chain {
            height,
            index,
            event,
            sub,
        } => format!("c{height}.{index}.{event}.{sub}.{fp}"),
        Cursor::Item { seq } => format!("i{seq}.0.0.0.{fp}"),
        Cursor::Offset { n } => format!("o{n}.0.0.0.{fp}"),
    }
}

/// Parse and check a token's shape and fingerprint (positions are checked by the reader).
pub fn decode_token(token: &str, fp: &str) -> Result<Cursor, QueryError> {
    if token.is_empty() || token.len() > TOKEN_MAX_BYTES || !token.is_ascii() {
        return Err(bad_token("is not a token this node issued"));
    }
    let (kind, rest) = token.split_at(1);
    let parts: Vec<&str> = rest.split('.').collect();
    let [a, b, e, c, f] = parts.as_slice() else {
        return Err(bad_token("is not a token this node issued"));
    };
    let num = |s: &str| -> Result<u64, QueryError> {
        if s.is_empty() || s.len() > 20 || !s.bytes().all(|x| x.is_ascii_digit()) {
            return Err(bad_token("is not a token this node issued"));
        }
        s.parse::<u64>()
            .map_err(|_| bad_token("is not a token this node issued"))
    };
    let (a, b, e, c) = (num(a)?, num(b)?, num(e)?, num(c)?);
    if *f != fp {
        return Err(bad_token(
            "was issued for another query or endpoint (send the same parameters as the page it came from)",
        ));
    }
    let small = |x: u64| u32::try_from(x).map_err(|_| bad_token("is not a token this node issued"));
    match kind {
        "c" => Ok(Cursor::Chain {
            height: a,
            index: small(b)?,
            event: small(e)?,
            sub: small(c)?,
        }),
        "i" => Ok(Cursor::Item { seq: a }),
        "o" => Ok(Cursor::Offset { n: a }),
        _ => Err(bad_token("is not a token this node issued")),
    }
}

/// `perPage`: a positive integer, lowered to `MAX_PER_PAGE`.
pub fn per_page(value: Option<&str>) -> Result<usize, ParamError> {
    match value {
        None => Ok(DEFAULT_PER_PAGE),
        Some(v) => match v.parse::<u64>() {
            Ok(0) | Err(_) => Err(ParamError::new(
                "perPage",
                format!("{v:?} is not a positive integer (at most {MAX_PER_PAGE} are returned per page)"),
            )),
            Ok(n) => Ok(usize::try_from(n).unwrap_or(MAX_PER_PAGE).min(MAX_PER_PAGE)),
        },
    }
}

/// The public view of a committed event, with the ledger's record time.
pub fn public_event(ev: &ProvenanceEvent, record_time_ms: i64) -> ProvenanceEvent {
    let mut p = public_view(ev);
    if let Some(t) = time::render_ms(record_time_ms) {
        p.extensions
            .insert("recordTime".to_string(), Json::String(t).canonical());
    }
    p
}

/// What a visitor tells the scan after one event.
pub enum Step {
    /// Go on.
    More,
    /// The page is full after `taken` values of this event (`taken` < the event's values: the
    /// rest are for the next page; `None`: the event is done).
    Full { taken: Option<u32> },
}

/// One page's walk: where to go on from, when the chain has more; and the head it walked to
/// (a chain walk without `next` has read every block up to it).
pub struct Walk {
    pub next: Option<Cursor>,
    pub head: u64,
}

/// Smallest height whose block time is ≥ `t` (head + 1 when none), by binary search.
pub fn first_height_at(b: &dyn Backend, head: u64, t: i64) -> Result<u64, QueryError> {
    let (mut lo, mut hi) = (1u64, head.saturating_add(1));
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let time = b
            .header(mid)
            .map_err(internal)?
            .ok_or_else(|| QueryError::Internal(format!("block {mid} is missing below the head {head}")))?
            .time_ms;
        if time >= t {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Ok(lo)
}

/// Walk accepted provenance events in record order from `from` (or the chain's start, or the
/// first block at `record_ge`), within the page bounds; `visit` gets each event, its block time
/// and how many of its values to skip (a resumed transaction).
pub fn scan_chain(
    b: &dyn Backend,
    from: Option<Cursor>,
    record_ge: Option<i64>,
    record_lt: Option<i64>,
    visit: &mut dyn FnMut(&ProvenanceEvent, i64, u32) -> Step,
) -> Result<Walk, QueryError> {
    let head = b.head().map_err(internal)?.map(|h| h.height).unwrap_or(0);
    let (mut height, mut index, mut event, mut sub) = match from {
        Some(Cursor::Chain {
            height,
            index,
            event,
            sub,
        }) => {
            if height == 0 || height > head {
                return Err(bad_token(format!(
                    "names block {height}, outside the chain's blocks 1..={head}"
                )));
            }
            (height, index, event, sub)
        }
        Some(_) => return Err(bad_token("is not a token of this endpoint")),
        None => (
            match record_ge {
                Some(t) => first_height_at(b, head, t)?,
                None => 1,
            },
            0,
            0,
            0,
        ),
    };
    let (mut blocks, mut txs) = (0u64, 0usize);
    while height <= head {
        if blocks == SCAN_BLOCKS || txs >= SCAN_TXS {
            return Ok(Walk {
                next: Some(Cursor::Chain {
                    height,
                    index,
                    event,
                    sub,
                }),
                head,
            });
        }
        blocks += 1;
        let header = b
            .header(height)
            .map_err(internal)?
            .ok_or_else(|| QueryError::Internal(format!("block {height} is missing below the head {head}")))?;
        if record_lt.is_some_and(|lt| header.time_ms >= lt) {
            return Ok(Walk { next: None, head });
        }
        if index > header.tx_count || ((sub > 0 || event > 0) && index == header.tx_count) {
            return Err(bad_token(format!(
                "names transaction {index} of block {height}, which holds {}",
                header.tx_count
            )));
        }
        if index < header.tx_count {
            let outcomes = b
                .outcomes(height)
                .map_err(internal)?
                .ok_or_else(|| QueryError::Internal(format!("block {height} has no stored outcomes")))?;
            while index < header.tx_count {
                if txs >= SCAN_TXS {
                    return Ok(Walk {
                        next: Some(Cursor::Chain {
                            height,
                            index,
                            event,
                            sub,
                        }),
                        head,
                    });
                }
                txs += 1;
                let at = TxLocation { height, index };
                let accepted = matches!(outcomes.get(index as usize), Some(TxOutcome::Accepted));
                let (first_event, first_skip) = (std::mem::take(&mut event), std::mem::take(&mut sub));
                index += 1;
                if !accepted {
                    continue;
                }
                let Some(stx) = b.tx(at).map_err(internal)? else {
                    return Err(QueryError::Internal(format!(
                        "transaction {} of block {height} is missing",
                        at.index
                    )));
                };
                let events = stx.tx().payload.events();
                for (e, ev) in (0u32..).zip(events).skip(first_event as usize) {
                    let skip = if e == first_event { first_skip } else { 0 };
                    let Step::Full { taken } = visit(ev, header.time_ms, skip) else {
                        continue;
                    };
                    let next = match taken {
                        Some(n) => Cursor::Chain {
                            height,
                            index: at.index,
                            event: e,
                            sub: skip.saturating_add(n),
                        },
                        None if (e as usize) + 1 < events.len() => Cursor::Chain {
                            height,
                            index: at.index,
                            event: e + 1,
                            sub: 0,
                        },
                        None if index < header.tx_count => Cursor::Chain {
                            height,
                            index,
                            event: 0,
                            sub: 0,
                        },
                        None => Cursor::block_start(height + 1),
                    };
                    let more = match next {
                        Cursor::Chain { height: h, .. } => h <= head,
                        _ => false,
                    };
                    return Ok(Walk {
                        next: more.then_some(next),
                        head,
                    });
                }
            }
        }
        height += 1;
        index = 0;
    }
    Ok(Walk { next: None, head })
}

/// Walk one goods key's event chain from `from` within the page bounds.
pub fn scan_item(
    b: &dyn Backend,
    goods_key: &str,
    from: Option<Cursor>,
    visit: &mut dyn FnMut(&ProvenanceEvent, i64) -> Step,
) -> Result<Walk, QueryError> {
    let mut seq = match from {
        None => 0,
        Some(Cursor::Item { seq }) => seq,
        Some(_) => return Err(bad_token("is not a token of this endpoint")),
    };
    let mut read = 0usize;
    let mut block_time: Option<(u64, i64)> = None;
    loop {
        let chunk = (SCAN_TXS - read).min(256);
        if chunk == 0 {
            let more = !b.item_events(goods_key, seq, 1).map_err(internal)?.is_empty();
            return Ok(Walk {
                next: more.then_some(Cursor::Item { seq }),
                head: 0,
            });
        }
        let refs = b.item_events(goods_key, seq, chunk).map_err(internal)?;
        if refs.is_empty() {
            return Ok(Walk { next: None, head: 0 });
        }
        for er in &refs {
            read += 1;
            seq = er.seq.saturating_add(1);
            let Some(stx) = b.tx(er.at).map_err(internal)? else {
                return Err(QueryError::Internal(format!(
                    "item event {} of {goods_key} names a missing transaction",
                    er.seq
                )));
            };
            let Some(ev) = stx.tx().payload.events().get(er.event as usize) else {
                continue;
            };
            let t = match block_time {
                Some((h, t)) if h == er.at.height => t,
                _ => {
                    let t = b
                        .header(er.at.height)
                        .map_err(internal)?
                        .ok_or_else(|| QueryError::Internal(format!("block {} is missing", er.at.height)))?
                        .time_ms;
                    block_time = Some((er.at.height, t));
                    t
                }
            };
            if let Step::Full { .. } = visit(ev, t) {
                let more = !b.item_events(goods_key, seq, 1).map_err(internal)?.is_empty();
                return Ok(Walk {
                    next: more.then_some(Cursor::Item { seq }),
                    head: 0,
                });
            }
        }
    }
}

/// A page of matching events (public views with record times) and the walk (next position).
pub fn events_page(
    b: &dyn Backend,
    filter: &EventFilter,
    item: Option<&str>,
    per_page: usize,
    from: Option<Cursor>,
) -> Result<(Vec<ProvenanceEvent>, Walk), QueryError> {
    let gk = |s: &str| b.goods_key(s).ok();
    let mut out = Vec::new();
    let mut take = |ev: &ProvenanceEvent, t: i64| {
        if filter.matches(ev, t, &gk) {
            out.push(public_event(ev, t));
            if out.len() >= per_page {
                return Step::Full { taken: None };
            }
        }
        Step::More
    };
    let walk = match item {
        Some(key) => scan_item(b, key, from, &mut take)?,
        None => scan_chain(
            b,
            from,
            filter.record_time_ge,
            filter.record_time_lt,
            &mut |ev, t, _| take(ev, t),
        )?,
    };
    Ok((out, walk))
}

/// A page of distinct identifiers that public events use (`values` picks them from an event),
/// in first-use order within the scanned window; an identifier may recur on a later page.
pub fn values_page(
    b: &dyn Backend,
    values: &dyn Fn(&ProvenanceEvent) -> Vec<String>,
    per_page: usize,
    from: Option<Cursor>,
) -> Result<(Vec<String>, Option<Cursor>), QueryError> {
    let mut out: Vec<String> = Vec::new();
    let walk = scan_chain(b, from, None, None, &mut |ev, _, skip| {
        let all = values(&public_view(ev));
        let mut taken = 0u32;
        for v in all.iter().skip(skip as usize) {
            taken += 1;
            if !out.contains(v) {
                out.push(v.clone());
                if out.len() >= per_page {
                    let rest = all.len().saturating_sub(skip as usize).saturating_sub(taken as usize);
                    return Step::Full {
                        taken: (rest > 0).then_some(taken),
                    };
                }
            }
        }
        Step::More
    })?;
    Ok((out, walk.next))
}

/// The event recorded under `event_id` and, when it was declared erroneous, the error
/// declaration (the same eventID): public views with record times. None when unknown.
pub fn by_event_id(b: &dyn Backend, event_id: &str) -> Result<Option<Vec<ProvenanceEvent>>, QueryError> {
    let Some(bytes) = b.state_get(&keys::event_id(event_id)).map_err(internal)? else {
        return Ok(None);
    };
    let rec: EventIdRecord = tradechain_ledger::codec::decode(&bytes).map_err(internal)?;
    // The recorded event is event `rec.event` of its transaction; the declaration is the event
    // of the declaring transaction that names this eventID with an `errorDeclaration`.
    let mut locs = vec![(rec.at, Some(rec.event))];
    if let Some(id) = rec.corrected_by
        && let Some(at) = b.tx_location(&id).map_err(internal)?
    {
        locs.push((at, None));
    }
    let mut out = Vec::new();
    for (at, event) in locs {
        let Some(stx) = b.tx(at).map_err(internal)? else {
            return Err(QueryError::Internal(format!(
                "eventID {event_id} names a missing transaction at block {}",
                at.height
            )));
        };
        let t = b
            .header(at.height)
            .map_err(internal)?
            .map(|h| h.time_ms)
            .unwrap_or_default();
        let events = stx.tx().payload.events();
        let found = match event {
            Some(i) => events.get(i as usize),
            None => events
                .iter()
                .find(|e| e.error_declaration.is_some() && e.event_id.as_deref() == Some(event_id)),
        };
        if let Some(ev) = found {
            out.push(public_event(ev, t));
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let fp = fingerprint("/events", &[("EQ_bizStep".into(), "shipping".into())]);
        for c in [
            Cursor::Chain {
                height: 7,
                index: 3,
                event: 4,
                sub: 2,
            },
            Cursor::Item { seq: 99 },
            Cursor::Offset { n: 30 },
        ] {
            assert_eq!(decode_token(&encode_token(c, &fp), &fp).unwrap(), c);
        }
        let other = fingerprint("/events", &[("EQ_bizStep".into(), "receiving".into())]);
        assert!(decode_token(&encode_token(Cursor::Item { seq: 1 }, &other), &fp).is_err());
        for bad in [
            "",
            "x",
            "c1.2.3",
            "c1.2.3.4.5.6",
            "c-1.0.0.0.abc",
            "c99999999999999999999999.0.0.0.x",
            "c1.99999999999.0.0.x",
            "c1.0.99999999999.0.x",
            "z1.0.0.0.x",
            "c1.0.0.",
            "ç1.0.0.x",
            &"c1.0.0.".repeat(40),
        ] {
            let e = decode_token(bad, &fp).unwrap_err();
            assert!(
                matches!(&e, QueryError::Param(p) if p.parameter == "nextPageToken"),
                "{bad}: {e:?}"
            );
        }
    }

    #[test]
    fn per_page_is_positive_and_capped() {
        assert_eq!(per_page(None).unwrap(), DEFAULT_PER_PAGE);
        assert_eq!(per_page(Some("7")).unwrap(), 7);
        assert_eq!(per_page(Some("100000000000")).unwrap(), MAX_PER_PAGE);
        assert!(per_page(Some("0")).is_err());
        assert!(per_page(Some("-1")).is_err());
        assert!(per_page(Some("ten")).is_err());
    }
}
