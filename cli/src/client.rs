//! gRPC client helpers: connecting, mapping gRPC statuses to exit codes, signing transactions.
use crate::exit::{CliError, CliResult};
use std::path::Path;
use tonic::transport::Channel;
use tradechain_ledger::tx::{TX_VERSION, Transaction};
use tradechain_ledger::{OrgId, Payload, SecretKey, SignedTransaction};
use tradechain_node::clock::now_ms;
use tradechain_proto::v1;

pub async fn connect(endpoint: &str) -> CliResult<Channel> {
    let ep = Channel::from_shared(endpoint.to_string())
        .map_err(|e| CliError::usage(format!("--endpoint {endpoint:?}: {e}")))?;
    ep.connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| CliError::unavailable(format!("node unreachable at {endpoint}: {e}")))
}

/// Map a gRPC status to the documented exit codes.
pub fn status_err(what: &str, s: tonic::Status) -> CliError {
    use tonic::Code;
    let m = format!("{what}: {} ({:?})", s.message(), s.code());
    match s.code() {
        Code::FailedPrecondition => CliError::rejected(m),
        Code::InvalidArgument | Code::OutOfRange => CliError::usage(m),
        Code::Unavailable | Code::ResourceExhausted | Code::DeadlineExceeded => CliError::unavailable(m),
        _ => CliError::failure(m),
    }
}

pub fn read_key(path: Option<&Path>) -> CliResult<SecretKey> {
    let p = path.ok_or_else(|| CliError::usage("--key FILE (or TRADECHAIN_KEY) is required to sign"))?;
    SecretKey::read_file(p).map_err(|e| CliError::usage(format!("--key: {e}")))
}

pub async fn chain_id(ch: &Channel) -> CliResult<String> {
    let st = v1::node_service_client::NodeServiceClient::new(ch.clone())
        .get_status(v1::GetStatusRequest {})
        .await
        .map_err(|s| status_err("status", s))?;
    Ok(st.into_inner().chain_id)
}

pub async fn next_nonce(ch: &Channel, org: &OrgId) -> CliResult<u64> {
    let a = v1::node_service_client::NodeServiceClient::new(ch.clone())
        .get_account(v1::GetAccountRequest { org: org.to_string() })
        .await
        .map_err(|s| status_err(&format!("account {org}"), s))?;
    let a = a.into_inner();
    // Count this node's pending transactions from the org, so back-to-back submits chain.
    Ok(a.pending_next_nonce.max(a.next_nonce))
}

pub fn sign(
    chain_id: &str,
    org: &OrgId,
    key_id: u32,
    nonce: u64,
    payload: Payload,
    key: &SecretKey,
) -> SignedTransaction {
    Transaction {
        version: TX_VERSION,
        chain_id: chain_id.to_string(),
        sender: org.clone(),
        key_id,
        nonce,
        time_ms: now_ms(),
        payload,
    }
    .sign(key)
}

pub async fn submit(ch: &Channel, tx: &SignedTransaction) -> CliResult<String> {
    let r = v1::transaction_service_client::TransactionServiceClient::new(ch.clone())
        .submit(v1::SubmitRequest {
            signed_tx: tradechain_ledger::codec::encode(tx),
        })
        .await
        .map_err(|s| status_err("submit", s))?;
    Ok(r.into_inner().tx_id)
}

/// How often `wait` submits a transaction again that the node reports unknown.
pub const MAX_RESUBMITS: u32 = 3;

/// Wait for `tx` to commit. A node that answers "unknown" (NOT_FOUND: it lost the transaction —
/// it crashed before gossiping it, or expired it behind a missing nonce) gets it again, up to
/// `MAX_RESUBMITS` times: the client holds the signed bytes, so nothing acknowledged is lost.
pub async fn wait(ch: &Channel, tx: &SignedTransaction, timeout_ms: u64) -> CliResult<v1::TransactionStatus> {
    let tx_id = tx.id().to_hex();
    let mut resubmits = 0;
    loop {
        let r = v1::transaction_service_client::TransactionServiceClient::new(ch.clone())
            .wait_for_commit(v1::WaitForCommitRequest {
                tx_id: tx_id.clone(),
                timeout_ms,
            })
            .await;
        match r {
            Ok(r) => return Ok(r.into_inner()),
            Err(s) if s.code() == tonic::Code::NotFound && resubmits < MAX_RESUBMITS => {
                resubmits += 1;
                eprintln!(
                    "note: the node no longer knows {tx_id} ({}); submitting it again",
                    s.message()
                );
                submit(ch, tx).await?;
            }
            Err(s) => return Err(status_err("wait for commit", s)),
        }
    }
}
