//! `tradechain-ledger`: what a transaction and a block are, how they are encoded, signed and
//! hashed, what the stored records and the state tree are, and the deterministic document rules
//! every node enforces. Pure: no storage engine, networking, clocks or async; the RocksDB store
//! and the offline `verify` audit live in `tradechain-store`, so this crate and `consensus`
//! build without RocksDB.
//!
//! Module map (each opens with its own invariants):
//! - `codec` canonical borsh bytes; `hash` tagged SHA-256; `crypto` ed25519 and key files
//! - `identity`, `genesis`, `codes` membership, roles, parameters, code tables; `gs1` GS1 keys
//! - `epcis` GS1 EPCIS 2.0 JSON-LD import/export of provenance events (pure mapping)
//! - `dcsa` DCSA eBL 3.0 transport documents ↔ bills of lading, endorsement chains, PINT chain checks (pure mapping)
//! - `payload` the five document families; `tx` signed envelopes; `block` headers and outcomes
//! - `event_fields` salted per-field commitments of provenance events (selective disclosure)
//! - `merkle` RFC 6962 trees and inclusion proofs; `certificate` validator sets and commit certificates
//! - `state` key space, views, write sets, state hash; `records` stored records;
//!   `state_tree` the authenticated state (Jellyfish Merkle Tree, in memory or over any `TreeReader`)
//! - `execute` envelope checks and block execution; `validate` the family validators
//! - `block_check` the one block-against-parent check (proposer, validators, store, audit)
//! - `demo` the testnet's demo orgs (the one org table) and trade data, loaded by `tradechain demo`
//! - `testkit` (feature `testkit`, tests only) keys from labels, the demo genesis, an in-memory
//!   chain and the demo shipment; never in a shipped build
pub mod block;
pub mod block_check;
pub mod certificate;
pub mod codec;
pub mod codes;
pub mod crypto;
pub mod dcsa;
pub mod demo;
pub mod epcis;
pub mod event_fields;
pub mod execute;
pub mod genesis;
pub mod gs1;
pub mod hash;
pub mod identity;
pub mod merkle;
pub mod payload;
pub mod records;
pub mod signature_rule;
pub mod state;
pub mod state_tree;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod tx;
pub mod validate;

pub use block::{Block, BlockHeader, TxOutcome};
pub use certificate::{CommitCertificate, ValidatorInfo, ValidatorSet};
pub use crypto::{PublicKey, SecretKey, Signature};
pub use genesis::Genesis;
pub use hash::Hash;
pub use identity::{CreditTier, Org, OrgId, Role};
pub use payload::Payload;
pub use tx::{SignedTransaction, Transaction};
