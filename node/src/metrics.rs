//! Prometheus metrics: height, round, commit latency, transactions committed and rejected by
//! rule, mempool size, peers, sync status, TLS connections refused, CPU per stage (`cpu`). Rendered in the text exposition format at `/metrics`.
use crate::cpu::{StageCpu, StageLabel, process_cpu_ns};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Arc;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RuleLabel {
    pub rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TlsLabel {
    /// "grpc" or "http".
    pub port: String,
    /// "handshake_failed", "handshake_timeout" or "busy" (see `tls::Refused`).
    pub reason: String,
}

#[derive(Clone)]
pub struct Metrics {
    pub height: Gauge,
    pub round: Gauge,
    pub mempool_txs: Gauge,
    pub peers: Gauge,
    pub syncing: Gauge,
    pub txs_committed: Counter,
    pub txs_rejected: Family<RuleLabel, Counter>,
    pub mempool_refused: Counter,
    /// Conflicting vote pairs on record (`node::evidence`; survives restarts).
    pub equivocation_evidence: Gauge,
    /// Seconds from a height's start to its commit.
    pub commit_latency: Histogram,
    /// TLS connections closed before serving, by port and reason (`node::tls`).
    pub tls_refused: Family<TlsLabel, Counter>,
    /// CPU per stage of a transaction's path (`node::cpu`).
    pub stage_cpu: StageCpu,
    /// This process's CPU, read when rendered.
    process_cpu: Gauge,
    registry: Arc<Registry>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("tradechain");
        let stage_cpu = Family::<StageLabel, Counter>::default();
        let m = Metrics {
            height: Gauge::default(),
            round: Gauge::default(),
            mempool_txs: Gauge::default(),
            peers: Gauge::default(),
            syncing: Gauge::default(),
            txs_committed: Counter::default(),
            txs_rejected: Family::default(),
            mempool_refused: Counter::default(),
            equivocation_evidence: Gauge::default(),
            commit_latency: Histogram::new([0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            tls_refused: Family::default(),
            stage_cpu: StageCpu::new(&stage_cpu),
            process_cpu: Gauge::default(),
            registry: Arc::new(Registry::default()),
        };
        r.register("height", "Committed height", m.height.clone());
        r.register("round", "Current consensus round", m.round.clone());
        r.register("mempool_txs", "Pending transactions", m.mempool_txs.clone());
        r.register("peers", "Connected peers", m.peers.clone());
        r.register(
            "equivocation_evidence",
            "Conflicting signed vote pairs on record (evidence.log)",
            m.equivocation_evidence.clone(),
        );
        r.register("syncing", "1 while catching up from peers", m.syncing.clone());
        r.register(
            "txs_committed",
            "Transactions committed (accepted)",
            m.txs_committed.clone(),
        );
        r.register(
            "txs_rejected",
            "Transactions committed as rejected, by rule id",
            m.txs_rejected.clone(),
        );
        r.register(
            "mempool_refused",
            "Submissions refused by the mempool",
            m.mempool_refused.clone(),
        );
        r.register(
            "tls_refused",
            "TLS connections closed before serving (failed or timed-out handshakes, too many in progress), by port and reason",
            m.tls_refused.clone(),
        );
        r.register(
            "commit_latency_seconds",
            "Height start to commit",
            m.commit_latency.clone(),
        );
        r.register(
            "stage_cpu_nanoseconds",
            "Thread CPU spent per stage of a transaction's path (node::cpu); build, check and commit are part of host, state_tree of build and check",
            stage_cpu,
        );
        r.register(
            "process_cpu_nanoseconds",
            "CPU used by this process (all threads)",
            m.process_cpu.clone(),
        );
        Metrics {
            registry: Arc::new(r),
            ..m
        }
    }

    /// One API port's TLS refusal counters.
    pub fn tls_refused(&self, port: &str) -> crate::tls::Refused {
        let c = |reason: &str| {
            self.tls_refused
                .get_or_create(&TlsLabel {
                    port: port.to_string(),
                    reason: reason.to_string(),
                })
                .clone()
        };
        crate::tls::Refused {
            failed: c("handshake_failed"),
            timed_out: c("handshake_timeout"),
            busy: c("busy"),
        }
    }

    pub fn render(&self) -> String {
        self.process_cpu.set(process_cpu_ns() as i64);
        let mut s = String::new();
        if prometheus_client::encoding::text::encode(&mut s, &self.registry).is_err() {
            s.push_str("# encoding failed\n");
        }
        s
    }
}
