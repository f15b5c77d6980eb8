//! `tradechain-consensus`: BFT ordering of blocks, a sans-IO Tendermint engine over Malachite's
//! pure core (`arc-malachitebft-core-consensus` =0.8.2). See `README.md` for the protocol.
//!
//! Module map:
//! - `context` Malachite's `Context` for tradechain's types (heights, keys, block hashes, votes)
//! - `wire` the borsh peer messages and WAL entries, and their conversions
//! - `double_sign` watching a key's own votes and proposals for a second, different one
//! - `signature_check` the engine's one way to check a signature (replaceable by a memo)
//! - `engine` the node-facing `Engine::handle(Input) -> Vec<Output>`
//!
//! Invariant: nothing in this crate does I/O, reads a clock, spawns or draws randomness.
pub mod context;
pub mod double_sign;
pub mod engine;
pub mod future_buffer;
pub mod signature_check;
pub mod wire;

pub use engine::{Engine, EngineConfig, Input, Output};
pub use signature_check::{Ed25519Check, MemoCheck, SignatureCheck};
pub use wire::{ConsensusMsg, SignedProposalMsg, SignedVoteMsg, Timeout, TimeoutKind, WalEntry};
