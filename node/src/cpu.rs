//! Where a node's CPU goes: thread CPU time spent per stage of a transaction's path, and the
//! process's total, so a load report can say how many µs of CPU each transaction costs each
//! replica, and in which stage (issue 21).
//!
//! What it owns: the `Stage` list, the per-stage nanosecond counters (`StageCpu`, lock-free), and
//! the two clock readings (`thread_cpu_ns`, `process_cpu_ns`) — CPU clocks of this thread and this
//! process, used only for these figures, never in validation or execution.
//!
//! Invariants:
//! - A stage's figure is the CPU of the thread that did the work, read before and after it with no
//!   `await` between, so it counts no other task's work.
//! - Top-level stages do not nest (`Stage::TOP` are disjoint): their sum is at most the process's
//!   CPU; the rest (`other` in a report) is libp2p, tonic, RocksDB's background threads, queries
//!   and the journal's fsyncs. `Build`, `Check` and `Commit` run inside `Host`, `StateTree` inside
//!   `Build` and `Check`.
//! - The counters only grow (wrapping after 584 years of CPU).
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

/// A stage of a transaction's path through a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// gRPC `Submit`: decode, signature check, mempool admission, journal append.
    Submit,
    /// Transaction gossip from peers: decode, batch signature check, admission.
    GossipIn,
    /// Consensus gossip: decode and signature check of votes and proposals.
    ConsensusIn,
    /// Everything the sans-IO host does (engine, building, checking, commit, gossip out).
    Host,
    /// Building a proposal: selection, execution, the state tree (inside `Host`).
    Build,
    /// Re-executing a proposal or a synced block (inside `Host`).
    Check,
    /// The state tree's update (`jmt`), inside `Build` and `Check`.
    StateTree,
    /// Writing a committed block to the store (inside `Host`).
    Commit,
    /// Reading and encoding blocks for a peer's sync request.
    SyncServe,
    /// Decoding a peer's sync answer and verifying its signatures (`host::sync_vouches`).
    SyncIn,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Stage::Submit,
        Stage::GossipIn,
        Stage::ConsensusIn,
        Stage::Host,
        Stage::Build,
        Stage::Check,
        Stage::StateTree,
        Stage::Commit,
        Stage::SyncServe,
        Stage::SyncIn,
    ];
    /// The stages that do not overlap one another.
    pub const TOP: [Stage; 6] = [
        Stage::Submit,
        Stage::GossipIn,
        Stage::ConsensusIn,
        Stage::Host,
        Stage::SyncServe,
        Stage::SyncIn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Submit => "submit",
            Stage::GossipIn => "gossip_in",
            Stage::ConsensusIn => "consensus_in",
            Stage::Host => "host",
            Stage::Build => "build",
            Stage::Check => "check",
            Stage::StateTree => "state_tree",
            Stage::Commit => "commit",
            Stage::SyncServe => "sync_serve",
            Stage::SyncIn => "sync_in",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

fn ns(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// CPU time this thread has used (`CLOCK_THREAD_CPUTIME_ID`; 0 if the clock cannot be read).
pub fn thread_cpu_ns() -> u64 {
    cpu_time::ThreadTime::try_now().map_or(0, |t| ns(t.as_duration()))
}

/// CPU time this process has used, all threads (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn process_cpu_ns() -> u64 {
    cpu_time::ProcessTime::try_now().map_or(0, |t| ns(t.as_duration()))
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, prometheus_client::encoding::EncodeLabelSet)]
pub struct StageLabel {
    pub stage: &'static str,
}

thread_local! {
    static STATE_TREE_NS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Run the state tree's update and keep its CPU for `take_state_tree_ns` on this thread (the
/// store's port does the update inside the host's build and check, which then collect it).
pub fn count_state_tree<R>(f: impl FnOnce() -> R) -> R {
    let start = thread_cpu_ns();
    let r = f();
    let spent = thread_cpu_ns().saturating_sub(start);
    STATE_TREE_NS.with(|c| c.set(c.get().saturating_add(spent)));
    r
}

/// The state-tree CPU counted on this thread since the last call.
pub fn take_state_tree_ns() -> u64 {
    STATE_TREE_NS.with(|c| c.replace(0))
}

/// Nanoseconds of CPU per stage since the node started: the counters of a Prometheus family
/// (`tradechain_stage_cpu_nanoseconds_total{stage=…}`), held here so that counting is one atomic
/// add, without the family's lookup.
#[derive(Clone, Debug)]
pub struct StageCpu {
    ns: Vec<Counter>,
}

impl Default for StageCpu {
    fn default() -> Self {
        StageCpu::new(&Family::default())
    }
}

impl StageCpu {
    pub fn new(family: &Family<StageLabel, Counter>) -> StageCpu {
        let ns = Stage::ALL
            .iter()
            .map(|s| family.get_or_create(&StageLabel { stage: s.name() }).clone())
            .collect();
        StageCpu { ns }
    }

    pub fn add(&self, stage: Stage, ns: u64) {
        if let Some(c) = self.ns.get(stage.index()) {
            c.inc_by(ns);
        }
    }

    pub fn get(&self, stage: Stage) -> u64 {
        self.ns.get(stage.index()).map_or(0, |c| c.get())
    }

    /// Run `f` on this thread and count its CPU time to `stage`.
    pub fn time<R>(&self, stage: Stage, f: impl FnOnce() -> R) -> R {
        let start = thread_cpu_ns();
        let r = f();
        self.add(stage, thread_cpu_ns().saturating_sub(start));
        r
    }

    /// Every stage's figure, in `Stage::ALL` order.
    pub fn snapshot(&self) -> Vec<(Stage, u64)> {
        Stage::ALL.iter().map(|s| (*s, self.get(*s))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_work_of_this_thread_to_its_stage_only() {
        let cpu = StageCpu::default();
        let spin = || {
            let mut x = 0u64;
            for i in 0..3_000_000u64 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
            }
            x
        };
        cpu.time(Stage::Build, spin);
        assert!(cpu.get(Stage::Build) > 0, "a busy loop used no CPU");
        for s in Stage::ALL.into_iter().filter(|s| *s != Stage::Build) {
            assert_eq!(cpu.get(s), 0, "{s:?} counted another stage's work");
        }
        assert!(process_cpu_ns() >= cpu.get(Stage::Build));
        let names: std::collections::BTreeSet<_> = Stage::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Stage::ALL.len(), "stage names are unique");
        assert!(Stage::ALL.iter().enumerate().all(|(i, s)| s.index() == i));
    }
}
