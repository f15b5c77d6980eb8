//! Test-only deterministic simulation of the production host (`node::host`): `world` (nodes,
//! network, clock, faults, clients), `mem_store` (in-memory store and faulty WAL behind the
//! host's ports), `workload` (members' submissions, honest and adversarial) and `checker`
//! (independent safety properties).
pub mod checker;
pub mod mem_store;
pub mod workload;
pub mod world;
