//! Starts the node's API servers: gRPC (tonic; see `grpc`) and HTTP (Prometheus `/metrics`,
//! `/healthz`, the GS1 Digital Link resolver and the EPCIS 2.0 REST binding, `epcis_rest`).
//!
//! TLS is terminated here, in the node process, on both ports, when the config has `[tls]`: the
//! certificates are loaded (`tls::ServerTls::load`, which `NodeConfig::load` already ran as a
//! check) before either port is bound, and both servers accept through `tls::TlsListener`;
//! without `[tls]` both speak plaintext as before.
use crate::config::NodeConfig;
use crate::node_state::NodeState;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use std::sync::Arc;

pub async fn spawn_servers(cfg: &NodeConfig, shared: Arc<NodeState>) -> anyhow::Result<()> {
    let tls = match &cfg.tls {
        None => None,
        Some(t) => {
            let mut loaded = crate::tls::ServerTls::load(t)?;
            loaded.grpc.refused = shared.metrics.tls_refused("grpc");
            loaded.http.refused = shared.metrics.tls_refused("http");
            tracing::info!(
                grpc_client_auth = ?t.grpc_client_auth,
                http_client_auth = ?t.http_client_auth,
                "TLS on the gRPC and HTTP ports"
            );
            Some(loaded)
        }
    };
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
    let grpc_tls = tls.as_ref().map(|t| t.grpc.clone());
    tokio::spawn(async move {
        if let Err(e) =
            crate::grpc::serve_listener_tls(listener, grpc_tls, backend, limits, std::future::pending()).await
        {
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
        let http_tls = tls.map(|t| t.http);
        tokio::spawn(async move {
            if let Err(e) = serve_http(listener, app, http_tls).await {
                tracing::error!("http server stopped: {e}");
            }
        });
    }
    Ok(())
}

/// Serve an HTTP router on a bound listener: over TLS (`tls::ServerTls::http`: ALPN `http/1.1`)
/// or plaintext.
pub async fn serve_http(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<crate::tls::PortTls>,
) -> std::io::Result<()> {
    match tls {
        None => axum::serve(listener, app).await,
        Some(t) => axum::serve(crate::tls::TlsListener::new(listener, t), app).await,
    }
}

async fn metrics(State(shared): State<Arc<NodeState>>) -> String {
    shared.metrics.render()
}
