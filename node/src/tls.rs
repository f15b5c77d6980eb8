//! TLS for the node's API ports (gRPC and HTTP): loading the configured certificates into rustls
//! server configurations, and accepting TLS connections for both servers.
//!
//! Owns: the one loader of `[tls]` (`ServerTls::load`: certificate chain, private key, optional
//! client CA → one rustls `ServerConfig` per port, differing only in ALPN and client
//! authentication), the one crypto provider (`provider`: rustls' ring provider; aws-lc is never
//! built), and the one TLS accept loop (`TlsListener`), which tonic takes as an incoming stream
//! and axum as a `Listener`.
//!
//! Invariants:
//! - Every rustls configuration is built with `provider()` explicitly (`builder_with_provider`),
//!   never from the process default, so rustls' "no default provider" panic cannot happen; the
//!   provider is also installed as the process default once, for any library that asks for it.
//! - A load error names the config key (`tls.cert_file`, `tls.key_file`, `tls.client_ca_file`) and
//!   the file; the node does not start with a TLS section it cannot use, nor with a private key
//!   file that others can read (0600, like its other key files).
//! - Accepting never waits on one client: each handshake runs in its own task under a deadline
//!   (`tls.handshake_timeout_ms`) and bounds on handshakes in progress, per port
//!   (`MAX_HANDSHAKES`) and per client IP address (`MAX_HANDSHAKES_PER_IP`, so one member's
//!   stalled connections cannot take the whole port); beyond them a new connection is closed at
//!   once. A failed handshake (plaintext, garbage, an unknown or missing client certificate)
//!   closes that connection only, is logged at debug level and counted (`Refused`, exported as
//!   `tradechain_tls_refused_total{port, reason}`).
//! - With a client CA and `client_auth = "required"` no request reaches a server on a
//!   connection without a certificate chained to that CA; with `"optional"` a certificate, if
//!   presented, must chain to it.
//!
//! What a client certificate means: the connection comes from a system the operator of the
//! client CA admitted (a member system). It grants nothing more: which org a request acts for,
//! and what it may read or do, is still decided by the org's request signature (gRPC `x-tc-*`
//! metadata, `grpc::auth`; HTTP capture headers, `epcis_rest::auth`). No org is derived from the
//! certificate's subject, so a certificate can neither widen nor replace an org's signature.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::config::TlsSection;

/// TLS handshakes in progress at once on one port; connections beyond it are closed unserved.
pub const MAX_HANDSHAKES: usize = 256;
/// TLS handshakes in progress at once from one IP address on one port.
pub const MAX_HANDSHAKES_PER_IP: usize = 32;
/// Handshaken connections waiting for the server to take them.
const READY_QUEUE: usize = 64;

/// Whether a port asks for client certificates (`tls.grpc_client_auth`, `tls.http_client_auth`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    None,
    /// A certificate is asked for; a connection without one is served, one with a certificate
    /// not chained to the client CA is refused.
    Optional,
    /// A certificate chained to the client CA is needed for any request.
    Required,
}

/// A configuration key and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {msg}")]
pub struct TlsError {
    pub key: &'static str,
    pub msg: String,
}

fn err(key: &'static str, msg: impl Into<String>) -> TlsError {
    TlsError { key, msg: msg.into() }
}

/// The one crypto provider: rustls' ring provider (installed as the process default once).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            let p = rustls::crypto::ring::default_provider();
            // Err only when another provider was installed first; ours is used explicitly anyway.
            let _ = p.clone().install_default();
            Arc::new(p)
        })
        .clone()
}

/// Connections a port closed before serving them, by reason (`tradechain_tls_refused_total`).
#[derive(Clone, Debug, Default)]
pub struct Refused {
    /// The handshake failed: plaintext, garbage, an unknown CA, a missing or foreign client certificate.
    pub failed: prometheus_client::metrics::counter::Counter,
    /// The client did not finish its handshake within the deadline.
    pub timed_out: prometheus_client::metrics::counter::Counter,
    /// Closed unserved: too many handshakes in progress (on the port or from the address).
    pub busy: prometheus_client::metrics::counter::Counter,
}

/// TLS for one API port: its rustls configuration, the handshake deadline and its counters.
#[derive(Clone, Debug)]
pub struct PortTls {
    pub config: Arc<ServerConfig>,
    pub handshake_timeout: Duration,
    pub refused: Refused,
}

/// The server side of TLS, loaded from `[tls]` for both API ports.
#[derive(Clone, Debug)]
pub struct ServerTls {
    /// gRPC: ALPN `h2`, client certificates per `tls.grpc_client_auth`.
    pub grpc: PortTls,
    /// HTTP: ALPN `http/1.1`, client certificates per `tls.http_client_auth`.
    pub http: PortTls,
}

impl ServerTls {
    /// Read and check the certificate chain, key and client CA named in `[tls]`.
    pub fn load(t: &TlsSection) -> Result<ServerTls, TlsError> {
        let chain = read_certs("tls.cert_file", &t.cert_file)?;
        let key = read_key("tls.key_file", &t.key_file)?;
        let client_ca = match &t.client_ca_file {
            None => None,
            Some(p) => Some(read_certs("tls.client_ca_file", p)?),
        };
        let port = |config| PortTls {
            config,
            handshake_timeout: Duration::from_millis(t.handshake_timeout_ms),
            refused: Refused::default(),
        };
        let grpc = server_config(&chain, &key, client_ca.as_deref(), t.grpc_client_auth, b"h2")
            .map_err(|(k, m)| err(k.unwrap_or("tls.grpc_client_auth"), m))?;
        let http = server_config(&chain, &key, client_ca.as_deref(), t.http_client_auth, b"http/1.1")
            .map_err(|(k, m)| err(k.unwrap_or("tls.http_client_auth"), m))?;
        Ok(ServerTls {
            grpc: port(grpc),
            http: port(http),
        })
    }
}

/// Every certificate of a PEM file (at least one).
pub fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| err(key, format!("cannot read {}: {e}", path.display())))?;
    read_certs_pem(key, &bytes).map_err(|e| err(key, format!("{}: {}", path.display(), e.msg)))
}

/// The private key of PEM text (PKCS#8, PKCS#1 or SEC1).
pub fn read_key_pem(key: &'static str, pem: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| err(key, format!("no usable private key: {e}")))
}

/// Every certificate of PEM text (at least one).
pub fn read_certs_pem(key: &'static str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(key, format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(err(key, "no CERTIFICATE in it"));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1), refusing one that others can read
/// (as the node's other key files).
pub fn read_key(key: &'static str, path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let meta = std::fs::metadata(path).map_err(|e| err(key, format!("cannot read {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(
                key,
                format!(
                    "{}: mode is {mode:o}; a private key file must be 0600 (run: chmod 600 {})",
                    path.display(),
                    path.display()
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let bytes = std::fs::read(path).map_err(|e| err(key, format!("cannot read {}: {e}", path.display())))?;
    PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| err(key, format!("{}: no usable private key: {e}", path.display())))
}

/// One port's configuration. An error with no key is the client-auth setting's.
fn server_config(
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    client_ca: Option<&[CertificateDer<'static>]>,
    auth: ClientAuth,
    alpn: &[u8],
) -> Result<Arc<ServerConfig>, (Option<&'static str>, String)> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .map_err(|e| (None, format!("TLS versions: {e}")))?;
    let builder = match (auth, client_ca) {
        (ClientAuth::None, _) => builder.with_no_client_auth(),
        (_, None) => return Err((None, "needs tls.client_ca_file".into())),
        (auth, Some(cas)) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in cas {
                roots
                    .add(c.clone())
                    .map_err(|e| (Some("tls.client_ca_file"), format!("not a usable CA certificate: {e}")))?;
            }
            let v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
            let v = if auth == ClientAuth::Optional {
                v.allow_unauthenticated()
            } else {
                v
            };
            builder.with_client_cert_verifier(
                v.build()
                    .map_err(|e| (Some("tls.client_ca_file"), format!("client verifier: {e}")))?,
            )
        }
    };
    let mut cfg = builder.with_single_cert(chain.to_vec(), key.clone_key()).map_err(|e| {
        (
            Some("tls.key_file"),
            format!("certificate and key do not go together: {e}"),
        )
    })?;
    cfg.alpn_protocols = vec![alpn.to_vec()];
    Ok(Arc::new(cfg))
}

/// TLS connections accepted on a TCP listener, handshaken off the accept loop. Dropping it stops
/// the accept loop (and closes the listening socket).
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: std::io::Result<SocketAddr>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsListener {
    pub fn new(listener: TcpListener, tls: PortTls) -> TlsListener {
        let local = listener.local_addr();
        let (tx, ready) = mpsc::channel(READY_QUEUE);
        let task = tokio::spawn(accept_loop(listener, tls, tx));
        TlsListener { ready, local, task }
    }

    /// The next handshaken connection.
    pub async fn next(&mut self) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
        self.ready.recv().await
    }

    /// As a stream for tonic's `serve_with_incoming`.
    pub fn into_stream(self) -> impl futures::Stream<Item = std::io::Result<TlsStream<TcpStream>>> + Send + 'static {
        futures::stream::unfold(self, |mut l| async move { l.next().await.map(|(s, _)| (Ok(s), l)) })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.next().await {
            Some(c) => c,
            // The accept loop ended (it only does when the listener is dropped): accept nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.local {
            Ok(a) => Ok(*a),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}

/// Handshakes in progress per client IP address.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

/// One handshake counted against its IP address until dropped.
struct IpSlot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn take(table: &Arc<PerIp>, ip: IpAddr) -> Option<IpSlot> {
        let mut m = table.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = m.entry(ip).or_insert(0);
        if *n >= MAX_HANDSHAKES_PER_IP {
            return None;
        }
        *n += 1;
        Some(IpSlot {
            table: table.clone(),
            ip,
        })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut m = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

async fn accept_loop(listener: TcpListener, tls: PortTls, ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>) {
    let acceptor = TlsAcceptor::from(tls.config);
    let (handshake_timeout, refused) = (tls.handshake_timeout, tls.refused);
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    let per_ip = Arc::new(PerIp::default());
    loop {
        let (tcp, peer) = tokio::select! {
            _ = ready.closed() => return,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(slot) = PerIp::take(&per_ip, peer.ip()) else {
            refused.busy.inc();
            tracing::debug!(%peer, "TLS: {MAX_HANDSHAKES_PER_IP} handshakes in progress from this address, closing a new connection");
            continue;
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            refused.busy.inc();
            tracing::debug!(%peer, "TLS: {MAX_HANDSHAKES} handshakes in progress, closing a new connection");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        let refused = refused.clone();
        tokio::spawn(async move {
            let done = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await;
            drop((permit, slot));
            match done {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(e)) => {
                    refused.failed.inc();
                    tracing::debug!(%peer, "TLS handshake failed: {e}");
                }
                Err(_) => {
                    refused.timed_out.inc();
                    tracing::debug!(%peer, "TLS handshake timed out");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn section(dir: &Path) -> TlsSection {
        TlsSection {
            cert_file: dir.join("node.pem"),
            key_file: dir.join("node.key"),
            client_ca_file: None,
            grpc_client_auth: ClientAuth::None,
            http_client_auth: ClientAuth::None,
            handshake_timeout_ms: 10_000,
        }
    }

    #[test]
    fn load_errors_name_the_key_and_the_file() {
        let d = tempfile::tempdir().unwrap();
        let t = section(d.path());
        let e = ServerTls::load(&t).unwrap_err();
        assert_eq!(e.key, "tls.cert_file");
        assert!(e.msg.contains("node.pem"), "{e}");
        std::fs::write(&t.cert_file, "not pem at all").unwrap();
        let e = ServerTls::load(&t).unwrap_err();
        assert_eq!(e.key, "tls.cert_file");
        assert!(e.msg.contains("no CERTIFICATE"), "{e}");
    }
}
