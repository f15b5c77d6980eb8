//! TransactionService: admit signed transactions and report their fate.
//!
//! Submit checks, in order: encoding and size (INVALID_ARGUMENT `signed_tx`), chain id
//! (INVALID_ARGUMENT `signed_tx.tx.chain_id`), node syncing (UNAVAILABLE), then the backend's
//! admission: sender and key membership (FAILED_PRECONDITION, the validators' own rule ids),
//! the signature — verified once per submission, there (INVALID_ARGUMENT
//! `signed_tx.signature`) — nonce and mempool room (RESOURCE_EXHAUSTED when full,
//! FAILED_PRECONDITION on a rule). Submit answers only once the backend says the admitted
//! transaction is durable (`Backend::durable`: the node's fsynced submission journal), so an
//! acknowledgement survives the node's crash. WaitForCommit never polls: it sleeps on the commit
//! broadcast and re-reads the store on each wake-up, so a lagging receiver cannot miss a commit;
//! a transaction the node has not known for `UNKNOWN_GRACE` is NOT_FOUND ("submit it again"),
//! which is what clients resubmit on.
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tonic::{Request, Response, Status};
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::codec::{decode_with_limit, encode};
use tradechain_ledger::hash::Hash;
use tradechain_ledger::tx::SignedTransaction;
use tradechain_proto::v1::{self, transaction_service_server::TransactionService, transaction_status::State};

use super::auth::Caller;
use super::backend::MempoolStatus;
use super::disclosure::may_see_tx;
use super::status::{internal, invalid, not_found, parse_hash, submit_error, unavailable_syncing};
use super::{ApiState, views};

#[derive(Clone)]
pub struct TransactionApi(pub ApiState);

impl TransactionApi {
    fn decode_checked(&self, bytes: &[u8]) -> Result<SignedTransaction, Status> {
        let b = &self.0.backend;
        if bytes.is_empty() {
            return Err(invalid("signed_tx", "is required (borsh of SignedTransaction)"));
        }
        let limit = b.genesis().limits.max_tx_bytes as usize;
        let stx: SignedTransaction =
            decode_with_limit(bytes, limit).map_err(|e| invalid("signed_tx", format!("does not decode: {e}")))?;
        let chain_id = &b.genesis().chain_id;
        if &stx.tx().chain_id != chain_id {
            return Err(invalid(
                "signed_tx.tx.chain_id",
                format!("is {:?}; this node serves chain {chain_id:?}", stx.tx().chain_id),
            ));
        }
        Ok(stx)
    }

    /// Current status of a transaction; None when the node has never seen it. With `include_tx`
    /// the bytes come only if `caller` may see them (`disclosure::may_see_tx`).
    fn status_of(
        &self,
        id: &Hash,
        include_tx: bool,
        caller: Option<&Caller>,
    ) -> Result<Option<v1::TransactionStatus>, Status> {
        let b = &self.0.backend;
        let mut st = v1::TransactionStatus {
            tx_id: id.to_hex(),
            ..Default::default()
        };
        if let Some(loc) = b.tx_location(id).map_err(internal)? {
            let outcome = b
                .outcomes(loc.height)
                .map_err(internal)?
                .and_then(|o| o.into_iter().nth(loc.index as usize));
            let header = b.header(loc.height).map_err(internal)?;
            st.location = Some(views::location(loc));
            st.block_hash = header.map(|h| h.hash().to_hex()).unwrap_or_default();
            match outcome {
                Some(TxOutcome::Rejected { rule, reason }) => {
                    st.state = State::Rejected as i32;
                    st.rejection = Some(views::rejection(&rule, &reason));
                }
                _ => st.state = State::Committed as i32,
            }
            if include_tx && let Some(tx) = b.tx(loc).map_err(internal)? {
                if !may_see_tx(&self.0, caller, &tx)? {
                    return Err(Status::permission_denied(match caller {
                        None => format!(
                            "include_tx: transaction {id} carries fields withheld from the public; \
                             sign the request as a party to it (x-tc-org metadata) or ask without include_tx"
                        ),
                        Some(c) => format!("include_tx: {} is not a party to transaction {id}", c.id()),
                    }));
                }
                st.signed_tx = encode(&tx);
                st.tx_json = views::json(&tx);
            }
            return Ok(Some(st));
        }
        match b.mempool_status(id) {
            Some(MempoolStatus::Pending) => st.state = State::Pending as i32,
            Some(MempoolStatus::Rejected(r)) => {
                st.state = State::Rejected as i32;
                st.rejection = Some(views::rejection(&r.rule, &r.reason));
            }
            None => return Ok(None),
        }
        Ok(Some(st))
    }
}

/// How long WaitForCommit waits for a transaction this node does not know before it answers
/// NOT_FOUND (it may still arrive by gossip from the node that took it).
pub const UNKNOWN_GRACE: Duration = Duration::from_secs(2);

/// The caller's deadline from the `grpc-timeout` header (`<digits><H|M|S|m|u|n>`).
fn grpc_timeout(md: &tonic::metadata::MetadataMap) -> Option<Duration> {
    let v = md.get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[tonic::async_trait]
impl TransactionService for TransactionApi {
    async fn submit(&self, req: Request<v1::SubmitRequest>) -> Result<Response<v1::SubmitReply>, Status> {
        let stx = self.decode_checked(&req.get_ref().signed_tx)?;
        let b = &self.0.backend;
        let info = b.node_info();
        if info.sync.syncing {
            let h = b.head().map_err(internal)?.map(|h| h.height).unwrap_or(0);
            return Err(unavailable_syncing(h, info.sync.target_height));
        }
        // Sender, key and signature are checked once, by the backend's admission (the node's
        // mempool: `ApiState::submit`), not here as well.
        let id = b.submit(stx).map_err(submit_error)?;
        // Acknowledged only once it survives this node's crash.
        b.durable().await.map_err(submit_error)?;
        Ok(Response::new(v1::SubmitReply { tx_id: id.to_hex() }))
    }

    async fn get_transaction(
        &self,
        req: Request<v1::GetTransactionRequest>,
    ) -> Result<Response<v1::TransactionStatus>, Status> {
        let caller = self
            .0
            .auth_optional(&req, "/tradechain.v1.TransactionService/GetTransaction")?;
        let r = req.get_ref();
        let id = parse_hash("tx_id", &r.tx_id)?;
        match self.status_of(&id, r.include_tx, caller.as_ref())? {
            Some(st) => Ok(Response::new(st)),
            None => Err(not_found(format!("transaction {id} is unknown to this node"))),
        }
    }

    async fn wait_for_commit(
        &self,
        req: Request<v1::WaitForCommitRequest>,
    ) -> Result<Response<v1::TransactionStatus>, Status> {
        let r = req.get_ref();
        let id = parse_hash("tx_id", &r.tx_id)?;
        let max = self.0.limits.max_wait_for_commit;
        let mut wait = match r.timeout_ms {
            0 => max,
            ms => Duration::from_millis(ms).min(max),
        };
        // Answer DEADLINE_EXCEEDED ourselves shortly before the caller's own deadline would make
        // the transport cancel the call.
        if let Some(d) = grpc_timeout(req.metadata()) {
            wait = wait.min(d.saturating_sub((d / 10).max(Duration::from_millis(5))));
        }
        let deadline = tokio::time::Instant::now() + wait;
        // Subscribe before the first read, so a commit between the read and the wait wakes us.
        let mut commits = self.0.backend.subscribe_commits();
        let mut unknown_since = None;
        loop {
            let now = tokio::time::Instant::now();
            match self.status_of(&id, false, None)? {
                Some(st) => {
                    unknown_since = None;
                    let state = st.state;
                    // Committed (accepted or rejected in a block), or refused by the mempool
                    // (it will never commit).
                    if state == State::Committed as i32 || state == State::Rejected as i32 {
                        return Ok(Response::new(st));
                    }
                }
                None => {
                    let since = *unknown_since.get_or_insert(now);
                    if now.duration_since(since) >= UNKNOWN_GRACE {
                        return Err(not_found(format!(
                            "transaction {id} is unknown to this node: neither pending nor committed \
                             (not received, lost in a crash before it was acknowledged, or expired \
                             behind a missing nonce); submit it again"
                        )));
                    }
                }
            }
            // Unknown: look again when the grace ends (gossip may still bring it).
            let wake = match unknown_since {
                Some(since) => deadline.min(since + UNKNOWN_GRACE),
                None => deadline,
            };
            tokio::select! {
                r = commits.recv() => match r {
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                    Err(RecvError::Closed) => return Err(Status::unavailable("node is shutting down")),
                },
                _ = tokio::time::sleep_until(wake) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(Status::deadline_exceeded(format!(
                            "transaction {id} not committed within {} ms", wait.as_millis()
                        )));
                    }
                }
            }
        }
    }
}
