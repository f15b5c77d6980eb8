//! Starts the node's API servers: gRPC (tonic; see `grpc`) and HTTP (Prometheus `/metrics`,
//! `/healthz`, and the GS1 Digital Link resolver).
use crate::config::NodeConfig;
use crate::runtime::Shared;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use std::sync::Arc;

pub async fn spawn_servers(cfg: &NodeConfig, shared: Arc<Shared>) -> anyhow::Result<()> {
    let addr: std::net::SocketAddr = cfg
        .grpc
        .listen
        .parse()
        .map_err(|e| anyhow::anyhow!("grpc.listen: {:?}: {e}", cfg.grpc.listen))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("grpc.listen: cannot bind {addr}: {e}"))?;
    let limits = crate::grpc::ServerLimits {
        max_message_bytes: cfg.grpc.max_message_bytes,
        concurrency_per_connection: cfg.grpc.concurrency_per_connection,
        request_timeout: std::time::Duration::from_millis(cfg.grpc.request_timeout_ms),
        ..Default::default()
    };
    let backend: Arc<dyn crate::grpc::backend::Backend> = Arc::new(crate::backend::StoreBackend::new(shared.clone()));
    let resolver_backend = backend.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::grpc::serve_listener(listener, backend, limits, std::future::pending()).await {
            tracing::error!("grpc server stopped: {e}");
        }
    });
    if let Some(addr) = &cfg.http.listen {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("http.listen: cannot bind {addr}: {e}"))?;
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(shared.clone())
            .merge(crate::resolver::router(resolver_backend));
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!("http server stopped: {e}");
            }
        });
    }
    Ok(())
}

async fn metrics(State(shared): State<Arc<Shared>>) -> String {
    shared.metrics.render()
}
