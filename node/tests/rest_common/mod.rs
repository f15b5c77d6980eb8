//! Shared set-up of the REST binding tests: the binding on a real port over an in-memory
//! backend, and blocks committed as the validators would (executed by the ledger's rules).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tradechain_ledger::state::StateView;
use tradechain_node::epcis_rest::{self, capture::CaptureConfig, webhook::WebhookConfig};
use tradechain_node::grpc::backend::Backend;
use tradechain_node::grpc::mem::MemBackend;

/// Serve the binding over `backend` on 127.0.0.1 (an ephemeral port), on its own runtime thread.
pub fn serve_rest(backend: Arc<MemBackend>, capture: Option<CaptureConfig>, webhooks: WebhookConfig) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    let b: Arc<dyn Backend> = backend;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, epcis_rest::router_with(b, capture, webhooks))
                .await
                .unwrap();
        });
    });
    rx.recv().unwrap()
}

pub struct View<'a>(pub &'a MemBackend);
impl StateView for View<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.state_get(key).unwrap()
    }
}

/// Commit the mempool as the validators would: executed by the ledger, verdicts and writes.
pub fn commit_executed(b: &MemBackend) {
    if b.mempool().is_empty() {
        return;
    }
    let last = b.header(b.height()).unwrap().map(|h| h.time_ms).unwrap_or(0);
    b.commit_executed(tradechain_node::clock::now_ms().max(last + 1))
        .unwrap();
}

/// Commits whatever reaches the mempool every 20 ms until dropped (a chain that runs by itself,
/// for clients that only talk to the node).
pub struct Committer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Committer {
    pub fn start(b: Arc<MemBackend>) -> Committer {
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                commit_executed(&b);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Committer {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
