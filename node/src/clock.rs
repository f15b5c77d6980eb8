//! The wall clock: the one reading of "now" in Unix milliseconds, for the node and the CLI.
//!
//! Invariants: nothing the ledger executes reads it — block execution takes the block's time
//! (`ledger::execute`); it is read only at the edges: a proposer's block time and a validator's
//! future-drift check (`node::blocks`, through the host's `HostIo::now_ms`), mempool expiry, gRPC
//! authentication windows (`grpc::auth`), EPCIS defaults (`grpc::epcis`) and client-side
//! timestamps (the CLI). It never panics: a clock before 1970 reads 0, one past `i64::MAX` ms
//! reads `i64::MAX`.
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock now in Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
