//! The engine's one way to check a signature: a `SignatureCheck` the host may replace.
//!
//! Owns: the `SignatureCheck` trait and its default, `Ed25519Check` (the ledger's ZIP-215 rule over the
//! exact bytes, `ledger::PublicKey::verify`).
//!
//! Invariant: any implementation answers exactly what `Ed25519Check` answers for the same
//! (key, message, signature) — it may only remember answers (a host or the simulator memoises
//! the checks many nodes repeat on the same gossiped vote), never change them. The answer is a
//! pure function of its arguments, so the engine stays deterministic.
use tradechain_ledger::{PublicKey, Signature};

/// Checks one signature by `key` over `msg`.
pub trait SignatureCheck: Send + Sync {
    fn verify(&self, key: &PublicKey, msg: &[u8], sig: &Signature) -> bool;
}

/// The ledger's ed25519 rule (ZIP-215), no memory.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ed25519Check;

impl SignatureCheck for Ed25519Check {
    fn verify(&self, key: &PublicKey, msg: &[u8], sig: &Signature) -> bool {
        key.verify(msg, sig).is_ok()
    }
}
