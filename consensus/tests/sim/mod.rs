//! Test-only deterministic simulator: `world` (network, clock, faults, hosts) and `checker`
//! (independent safety and liveness properties).
pub mod checker;
pub mod world;
