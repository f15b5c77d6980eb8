//! gRPC client helpers: connecting, mapping gRPC statuses to exit codes, signing transactions.
//!
//! `connect` is the one place a channel to a node is built: `http://` endpoints are plaintext,
//! `https://` endpoints TLS with the process's `--tls-ca` (required: nodes' certificates come from
//! the network's own CA, not the public web PKI) and, for nodes that ask for client certificates,
//! `--tls-cert`/`--tls-key` (set once by `main`, `set_tls`). The server's name is checked against
//! the endpoint's host (an IP address or DNS name in the certificate's SANs).
use crate::exit::{CliError, CliResult};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tradechain_ledger::tx::{TX_VERSION, Transaction};
use tradechain_ledger::{OrgId, Payload, SecretKey, SignedTransaction};
use tradechain_node::clock::now_ms;
use tradechain_proto::v1;

/// TLS files for every connection the process makes (`--tls-ca`, `--tls-cert`, `--tls-key`).
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

static TLS: OnceLock<TlsFiles> = OnceLock::new();

/// Set the process's TLS files (once, from the command line).
pub fn set_tls(files: TlsFiles) {
    let _ = TLS.set(files);
}

/// The TLS configuration for `endpoint`: None for `http://`; an error naming the flag when the
/// files are missing, unreadable or do not fit the endpoint.
fn client_tls(endpoint: &str, f: &TlsFiles) -> CliResult<Option<ClientTlsConfig>> {
    let https = endpoint.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"));
    if !https {
        if f.ca.is_some() || f.cert.is_some() || f.key.is_some() {
            return Err(CliError::usage(format!(
                "--endpoint {endpoint:?}: --tls-ca/--tls-cert/--tls-key are for https:// endpoints (this one is plaintext)"
            )));
        }
        return Ok(None);
    }
    let read = |flag: &'static str, p: &Path| {
        std::fs::read(p).map_err(|e| CliError::usage(format!("{flag}: cannot read {}: {e}", p.display())))
    };
    let Some(ca_path) = &f.ca else {
        return Err(CliError::usage(format!(
            "--endpoint {endpoint:?}: an https:// endpoint needs --tls-ca FILE (the CA certificate the node's certificate chains to)"
        )));
    };
    let ca = read("--tls-ca", ca_path)?;
    tradechain_node::tls::read_certs_pem("--tls-ca", &ca)
        .map_err(|e| CliError::usage(format!("{e} ({})", ca_path.display())))?;
    let mut cfg = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    match (&f.cert, &f.key) {
        (None, None) => {}
        (Some(c), Some(k)) => {
            let cert = read("--tls-cert", c)?;
            tradechain_node::tls::read_certs_pem("--tls-cert", &cert)
                .map_err(|e| CliError::usage(format!("{e} ({})", c.display())))?;
            let key = read("--tls-key", k)?;
            tradechain_node::tls::read_key_pem("--tls-key", &key)
                .map_err(|e| CliError::usage(format!("{e} ({})", k.display())))?;
            cfg = cfg.identity(Identity::from_pem(cert, key));
        }
        _ => return Err(CliError::usage("--tls-cert and --tls-key go together")),
    }
    Ok(Some(cfg))
}

pub async fn connect(endpoint: &str) -> CliResult<Channel> {
    let mut ep = Channel::from_shared(endpoint.to_string())
        .map_err(|e| CliError::usage(format!("--endpoint {endpoint:?}: {e}")))?;
    if let Some(tls) = client_tls(endpoint, TLS.get().unwrap_or(&TlsFiles::default()))? {
        ep = ep
            .tls_config(tls)
            .map_err(|e| CliError::usage(format!("--endpoint {endpoint:?}: TLS: {e}")))?;
    }
    ep.connect_timeout(std::time::Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| {
            let why = [vec![e.to_string()], causes(&e)].concat().join(": ");
            CliError::unavailable(format!("node unreachable at {endpoint}: {why}"))
        })
}

/// The source chain of an error: where a transport error's cause is (a TLS alert, an unknown
/// issuer, a refused connection).
fn causes(e: &dyn std::error::Error) -> Vec<String> {
    let mut out = Vec::new();
    let mut src = e.source();
    while let Some(e) = src {
        out.push(e.to_string());
        src = e.source();
    }
    out
}

/// Map a gRPC status to the documented exit codes.
pub fn status_err(what: &str, s: tonic::Status) -> CliError {
    use tonic::Code;
    let causes = causes(&s);
    let mut m = format!("{what}: {} ({:?})", s.message(), s.code());
    if !causes.is_empty() {
        m = format!("{m}: {}", causes.join(": "));
    }
    let no_client_cert = TLS.get().is_some_and(|f| f.ca.is_some() && f.cert.is_none());
    // A node that requires client certificates closes the connection after the handshake (TLS
    // 1.3), which the client sees as a transport error on its first request, alert or not.
    if no_client_cert && !causes.is_empty() {
        m.push_str(" (if the node requires client certificates: --tls-cert and --tls-key)");
    }
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
