//! Starts the node's API servers: gRPC (tonic; see `grpc`) and HTTP (Prometheus `/metrics`,
//! `/healthz`, the GS1 Digital Link resolver and the EPCIS 2.0 REST binding, `epcis_rest`).
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
    let backend: Arc<dyn crate::grpc::backend::Backend> =
        Arc::new(crate::store_backend::StoreBackend::new(shared.clone()));
    let resolver_backend = backend.clone();
    tokio::spawn(async move {
        if let Err(e) = crate::grpc::serve_listener(listener, backend, limits, std::future::pending()).await {
            tracing::error!("grpc server stopped: {e}");
        }
    });
    if let Some(addr) = &cfg.http.listen {
        let capture = match &cfg.http.epcis_capture {
            None => None,
            Some(c) => {
                let key = tradechain_ledger::crypto::SecretKey::read_file(&c.key_file)
                    .map_err(|e| anyhow::anyhow!("http.epcis_capture.key_file: {e}"))?;
                let org = tradechain_ledger::OrgId::new(&c.org)
                    .map_err(|e| anyhow::anyhow!("http.epcis_capture.org: {e}"))?;
                let mut cc = crate::epcis_rest::capture::CaptureConfig::new(org, c.key_id, key);
                cc.max_events = c.max_events;
                cc.max_body_bytes = c.max_body_bytes;
                cc.auth_skew_ms = c.auth_skew_ms;
                tracing::info!(org = %cc.org, key_id = cc.key_id, "EPCIS REST capture enabled");
                Some(cc)
            }
        };
        let w = &cfg.http.epcis_webhooks;
        let webhooks = crate::epcis_rest::webhook::WebhookConfig {
            allow_private_destinations: w.allow_private_destinations,
            max_per_org: w.max_per_org,
            max_total: w.max_total,
            timeout: std::time::Duration::from_millis(w.timeout_ms),
            max_body_bytes: w.max_body_bytes,
            auth_skew_ms: w.auth_skew_ms,
            ..Default::default()
        };
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("http.listen: cannot bind {addr}: {e}"))?;
        let app = Router::new()
            .route("/metrics", get(metrics))
            .route("/healthz", get(|| async { "ok" }))
            .with_state(shared.clone())
            .merge(crate::resolver::router(resolver_backend.clone()))
            .merge(crate::epcis_rest::router_with(resolver_backend, capture, webhooks));
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
