//! The engine's one way to check a signature: a `SignatureCheck` the host may replace.
//!
//! Owns: the `SignatureCheck` trait, its default, `Ed25519Check` (the ledger's ZIP-215 rule over
//! the exact bytes, `ledger::PublicKey::verify`), and `MemoCheck`, which remembers answers for the
//! many engines of one simulated world (both simulators share it).
//!
//! Invariant: any implementation answers exactly what `Ed25519Check` answers for the same
//! (key, message, signature) — it may only remember answers (a host or the simulator memoises
//! the checks many nodes repeat on the same gossiped vote), never change them. The answer is a
//! pure function of its arguments, so the engine stays deterministic.
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
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

/// Memoised checks for one simulated world. Every node of a world verifies the same gossiped
/// votes and proposals (and duplicates of them); `MemoCheck` answers each distinct
/// (key, message, signature) once with `Ed25519Check` and remembers the answer. Bad signatures are
/// checked (and refused) like good ones. Unbounded: one per simulated run, dropped with it.
///
/// Invariant: `MemoCheck::verify(k, m, s) == Ed25519Check.verify(k, m, s)` for every input (a
/// key is the SHA-256 of all three, so distinct inputs do not share an answer).
#[derive(Default)]
pub struct MemoCheck {
    seen: Mutex<HashMap<[u8; 32], bool>>,
}

impl SignatureCheck for MemoCheck {
    fn verify(&self, key: &PublicKey, msg: &[u8], sig: &Signature) -> bool {
        let mut h = Sha256::new();
        h.update(key.0);
        h.update(sig.0);
        h.update((msg.len() as u64).to_le_bytes());
        h.update(msg);
        let id: [u8; 32] = h.finalize().into();
        if let Some(ok) = self.seen.lock().ok().and_then(|m| m.get(&id).copied()) {
            return ok;
        }
        let ok = Ed25519Check.verify(key, msg, sig);
        if let Ok(mut m) = self.seen.lock() {
            m.insert(id, ok);
        }
        ok
    }
}
