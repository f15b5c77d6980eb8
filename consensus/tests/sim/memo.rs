//! Memoised signature checks for one simulated world.
//!
//! Every node of a world verifies the same gossiped votes and proposals (and duplicates of
//! them); ed25519 verification was ~80 % of the simulator's time. `MemoCheck` answers each
//! distinct (key, message, signature) once with `Ed25519Check` and remembers the answer, so the
//! engines — and the checker's certificate checks — see exactly what plain ed25519 says, for a
//! fraction of the work. Bad signatures are checked (and refused) like good ones.
//!
//! Invariant: `MemoCheck::verify(k, m, s) == Ed25519Check.verify(k, m, s)` for every input (a
//! key is the SHA-256 of all three, so distinct inputs do not share an answer).
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use tradechain_consensus::{Ed25519Check, SignatureCheck};
use tradechain_ledger::{PublicKey, Signature};

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
