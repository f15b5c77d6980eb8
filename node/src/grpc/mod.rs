//! The node's gRPC API (package `tradechain.v1`, see `proto/`): tonic services over a `Backend`.
//!
//! Module map:
//! - `backend`: the trait the node implements (store reads, mempool, commit notifications, status);
//! - `transaction`, `provenance`, `document`, `chain`, `node_status`, `epcis`: one file per service;
//! - `auth`: member request signatures; `status`: error → gRPC status mapping; `views`: ledger →
//!   proto conversions; `proof`: client-side offline verification of provenance replies;
//! - `mem`, `scenario` (feature `testkit`, tests only): an in-memory backend and a prepared trade
//!   played through the real validators.
//!
//! `serve` adds the standard health service (every tradechain service reported SERVING) and
//! server reflection, v1 and v1alpha (which many clients, e.g. Python's grpcio-reflection, still
//! speak), from the same descriptor set the code was generated from, and applies
//! the configured message size limits, per-connection concurrency limit, HTTP/2 stream limit and
//! request timeout. With a port's TLS (`tls::PortTls`; `serve_listener_tls`, `spawn_local_tls`) it speaks
//! only TLS, accepted by `crate::tls::TlsListener` (the same accept loop as the HTTP port), with
//! the same limits.
pub mod auth;
pub mod backend;
pub mod chain;
pub mod disclosure;
pub mod document;
pub mod epcis;
pub mod journey;
#[cfg(feature = "testkit")]
pub mod mem;
pub mod node_status;
pub mod proof;
pub mod provenance;
#[cfg(feature = "testkit")]
pub mod scenario;
pub mod status;
pub mod transaction;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use borsh::BorshDeserialize;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Status};
use tradechain_proto::v1::{
    chain_service_server::ChainServiceServer, document_service_server::DocumentServiceServer,
    epcis_service_server::EpcisServiceServer, node_service_server::NodeServiceServer,
    provenance_service_server::ProvenanceServiceServer, transaction_service_server::TransactionServiceServer,
};
use tradechain_proto::{FILE_DESCRIPTOR_SET, SERVICE_NAMES};

pub use backend::{Backend, BackendError, DocQuery, Head, MempoolStatus, NodeInfo, NodeRole, SubmitError};

/// Server limits; every one is configurable (node config file / CLI flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Largest request and reply message, bytes (decoding and encoding).
    pub max_message_bytes: usize,
    /// Requests served at once on one connection (further ones queue).
    pub concurrency_per_connection: usize,
    /// HTTP/2 streams open at once on one connection.
    pub max_concurrent_streams: u32,
    /// Deadline for a unary request (streams are not cut by it).
    pub request_timeout: Duration,
    /// Longest WaitForCommit.
    pub max_wait_for_commit: Duration,
    pub default_page_size: usize,
    pub max_page_size: usize,
    /// How far a member request's signed time may be from the server's clock.
    pub auth_skew_ms: u64,
    /// Items a stream buffers ahead of a slow client.
    pub stream_buffer: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            max_message_bytes: 16 * 1024 * 1024,
            concurrency_per_connection: 64,
            max_concurrent_streams: 128,
            request_timeout: Duration::from_secs(60),
            max_wait_for_commit: Duration::from_secs(30),
            default_page_size: 50,
            max_page_size: 500,
            auth_skew_ms: 5 * 60 * 1000,
            stream_buffer: 64,
        }
    }
}

/// What every service holds: the backend and the limits.
pub struct Inner {
    pub backend: Arc<dyn Backend>,
    pub limits: ServerLimits,
}

/// State shared by all services of one server.
#[derive(Clone)]
pub struct ApiState(pub(crate) Arc<Inner>);

impl std::ops::Deref for ApiState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl ApiState {
    pub fn new(backend: Arc<dyn Backend>, limits: ServerLimits) -> ApiState {
        ApiState(Arc::new(Inner { backend, limits }))
    }

    /// Authenticate a member read for `method` (full path, e.g. `/tradechain.v1.ChainService/GetBlock`).
    /// The caller of a read that members may sign and anyone may send unsigned: `None` without
    /// `x-tc-org` metadata; with it, the signature must verify (UNAUTHENTICATED otherwise).
    pub fn auth_optional<M: prost::Message>(
        &self,
        req: &Request<M>,
        method: &str,
    ) -> Result<Option<auth::Caller>, Status> {
        if req.metadata().get(auth::ORG).is_none() {
            return Ok(None);
        }
        self.auth(req, method).map(Some)
    }

    pub fn auth<M: prost::Message>(&self, req: &Request<M>, method: &str) -> Result<auth::Caller, Status> {
        auth::authenticate(
            self.backend.as_ref(),
            req.metadata(),
            req.get_ref(),
            method,
            crate::clock::now_ms(),
            self.limits.auth_skew_ms,
        )
    }
}

/// Read and decode a record from committed state: None when absent, INTERNAL when undecodable.
pub(crate) fn read_record<T: BorshDeserialize>(b: &dyn Backend, key: &[u8]) -> Result<Option<T>, Status> {
    match b.state_get(key).map_err(status::internal)? {
        None => Ok(None),
        Some(bytes) => tradechain_ledger::codec::decode(&bytes)
            .map(Some)
            .map_err(|e| Status::internal(format!("stored record does not decode: {e}"))),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("binding {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("gRPC transport: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Serve the API on `addr` until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    backend: Arc<dyn Backend>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    serve_listener(listener, backend, limits, shutdown).await
}

/// Serve the API on an already bound listener (lets tests and the node bind port 0 first).
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    backend: Arc<dyn Backend>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    serve_listener_tls(listener, None, backend, limits, shutdown).await
}

/// `serve_listener`, speaking TLS when `tls` is given (plaintext otherwise).
pub async fn serve_listener_tls(
    listener: tokio::net::TcpListener,
    tls: Option<crate::tls::PortTls>,
    backend: Arc<dyn Backend>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    match tls {
        None => {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            serve_incoming(incoming, backend, limits, shutdown).await
        }
        Some(t) => {
            let incoming = crate::tls::TlsListener::new(listener, t).into_stream();
            serve_incoming(incoming, backend, limits, shutdown).await
        }
    }
}

/// The one server: every service, with the limits, over any incoming stream of connections.
async fn serve_incoming<I, IO, IE>(
    incoming: I,
    backend: Arc<dyn Backend>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError>
where
    I: futures::Stream<Item = Result<IO, IE>> + Send + 'static,
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + tonic::transport::server::Connected + Unpin + Send + 'static,
    IO::ConnectInfo: Clone + Send + Sync + 'static,
    IE: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let shared = ApiState::new(backend, limits.clone());
    let (reporter, health) = tonic_health::server::health_reporter();
    for name in SERVICE_NAMES {
        reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_alpha = reflection().build_v1alpha()?;
    let reflection = reflection().build_v1()?;
    let max = limits.max_message_bytes;
    Server::builder()
        .concurrency_limit_per_connection(limits.concurrency_per_connection)
        .max_concurrent_streams(limits.max_concurrent_streams)
        .timeout(limits.request_timeout)
        .add_service(health)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(
            TransactionServiceServer::new(transaction::TransactionApi(shared.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(
            ProvenanceServiceServer::new(provenance::ProvenanceApi(shared.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(
            DocumentServiceServer::new(document::DocumentApi(shared.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(
            ChainServiceServer::new(chain::ChainApi(shared.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(
            EpcisServiceServer::new(epcis::EpcisApi(shared.clone()))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .add_service(
            NodeServiceServer::new(node_status::NodeApi(shared))
                .max_decoding_message_size(max)
                .max_encoding_message_size(max),
        )
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

/// A server running in a background task (tests, benches, local tools).
pub struct RunningServer {
    pub addr: SocketAddr,
    tls: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl RunningServer {
    /// `http://ADDR`, or `https://ADDR` for a TLS server.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
    /// Stop accepting, finish in-flight requests, and wait for the server task.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(ServeError::Bind {
                addr: self.addr,
                source: std::io::Error::other(e.to_string()),
            }),
        }
    }
}

/// Bind `127.0.0.1:0` and serve in a background task.
pub async fn spawn_local(backend: Arc<dyn Backend>, limits: ServerLimits) -> Result<RunningServer, ServeError> {
    spawn_local_tls(backend, limits, None).await
}

/// `spawn_local`, speaking TLS when `tls` is given.
pub async fn spawn_local_tls(
    backend: Arc<dyn Backend>,
    limits: ServerLimits,
    tls: Option<crate::tls::PortTls>,
) -> Result<RunningServer, ServeError> {
    let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let (stop, rx) = tokio::sync::oneshot::channel();
    let is_tls = tls.is_some();
    let task = tokio::spawn(serve_listener_tls(listener, tls, backend, limits, async move {
        let _ = rx.await;
    }));
    Ok(RunningServer {
        addr,
        tls: is_tls,
        stop: Some(stop),
        task,
    })
}
