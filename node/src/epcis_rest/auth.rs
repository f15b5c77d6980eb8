//! Org-signed HTTP requests for the capture endpoints and webhook subscriptions: the idea of
//! `grpc::auth` (an org signs each request with one of its keys; the node checks it against
//! committed state), carried in HTTP headers and bound to the HTTP request.
//!
//! Headers: `x-tc-org` (org id), `x-tc-key-id` (the org's key id), `x-tc-time-ms` (Unix ms),
//! `x-tc-signature` (hex of the ed25519 signature). Signed bytes:
//! `"tradechain/http-auth/v1" 0x00 chain_id 0x00 METHOD 0x00 path-and-query 0x00 time_ms 0x00
//! SHA-256(body)` — the chain, the method, the exact path with its query and the body are all
//! bound, so a signature cannot be replayed on another chain, endpoint or document, and the
//! domain differs from gRPC's, so it cannot be replayed across protocols either.
//!
//! Invariants:
//! - The checks are `grpc::auth::verify_proof`'s: the org is a current member, the key one of
//!   its current keys (a removed org or a rotated key stops authenticating at once), ZIP-215
//!   verification, the time within the configured skew of the node's clock.
//! - A signed `POST` is accepted once: its signature is remembered for twice the skew window
//!   (`ReplayGuard`, bounded to `REPLAY_CAPACITY` entries; when full, new requests are refused
//!   as busy rather than the oldest forgotten early), so a captured request replayed inside the
//!   window is refused.
//! - Failures are 401 naming the header; a valid signature of another org than the one the
//!   endpoint admits (capture: the org the node captures for; webhooks: the subscription's
//!   owner) is 403. Nothing is parsed or submitted before authentication passes.
use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use tradechain_ledger::crypto::SecretKey;
use tradechain_ledger::identity::OrgId;

use crate::grpc::auth::{self as grpc_auth, Caller, KEY_ID, ORG, Proof, SIGNATURE, TIME_MS};
use crate::grpc::backend::Backend;

const DOMAIN: &[u8] = b"tradechain/http-auth/v1";
/// Signatures a node remembers against replay at most.
pub const REPLAY_CAPACITY: usize = 4096;

/// The bytes an org signs for one HTTP request.
pub fn sign_bytes(chain_id: &str, method: &str, path_and_query: &str, time_ms: i64, body: &[u8]) -> Vec<u8> {
    let digest: [u8; 32] = Sha256::digest(body).into();
    let mut out = Vec::with_capacity(DOMAIN.len() + chain_id.len() + path_and_query.len() + 64);
    for part in [
        DOMAIN,
        chain_id.as_bytes(),
        method.as_bytes(),
        path_and_query.as_bytes(),
        time_ms.to_string().as_bytes(),
    ] {
        out.extend_from_slice(part);
        out.push(0);
    }
    out.extend_from_slice(&digest);
    out
}

/// Client side: the four headers that sign a request (name, value).
#[allow(clippy::too_many_arguments)]
pub fn sign_headers(
    chain_id: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    org: &OrgId,
    key_id: u32,
    key: &SecretKey,
    time_ms: i64,
) -> Vec<(&'static str, String)> {
    let sig = key.sign(&sign_bytes(chain_id, method, path_and_query, time_ms, body));
    vec![
        (ORG, org.as_str().to_string()),
        (KEY_ID, key_id.to_string()),
        (TIME_MS, time_ms.to_string()),
        (SIGNATURE, hex::encode(sig.0)),
    ]
}

/// Why a request is not authenticated (401) or not allowed (403).
#[derive(Debug, PartialEq, Eq)]
pub enum AuthError {
    Unauthenticated(String),
    Forbidden(String),
    Busy(String),
    Internal(String),
}

/// Remembered signatures of accepted `POST`s, with their signed times.
#[derive(Default)]
pub struct ReplayGuard {
    seen: Mutex<HashMap<[u8; 64], i64>>,
}

impl ReplayGuard {
    /// Record `sig` (signed at `time_ms`); refuse one seen before. Entries older than
    /// `keep_ms` before `now_ms` are dropped first.
    fn admit(&self, sig: [u8; 64], time_ms: i64, now_ms: i64, keep_ms: u64) -> Result<(), AuthError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let horizon = now_ms.saturating_sub(i64::try_from(keep_ms).unwrap_or(i64::MAX));
        seen.retain(|_, t| *t >= horizon);
        if seen.contains_key(&sig) {
            return Err(AuthError::Unauthenticated(format!(
                "{SIGNATURE}: this signed request was already accepted (a replay); sign each request anew"
            )));
        }
        if seen.len() >= REPLAY_CAPACITY {
            return Err(AuthError::Busy(format!(
                "more than {REPLAY_CAPACITY} signed requests within the replay window; retry shortly"
            )));
        }
        seen.insert(sig, time_ms);
        Ok(())
    }
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Result<&'a str, AuthError> {
    h.get(name)
        .ok_or_else(|| {
            AuthError::Unauthenticated(format!(
                "missing {name} header: this request must be signed by a member org (headers {ORG}, {KEY_ID}, {TIME_MS}, {SIGNATURE})"
            ))
        })?
        .to_str()
        .map_err(|_| AuthError::Unauthenticated(format!("{name}: not ASCII")))
}

/// Authenticate a request as an org's, and require that org to be `allowed` (any current member
/// when `None`). `replay` is given for requests that act (POST, DELETE); reads may be repeated.
#[allow(clippy::too_many_arguments)]
pub fn authenticate(
    backend: &dyn Backend,
    headers: &HeaderMap,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    allowed: Option<&OrgId>,
    now_ms: i64,
    skew_ms: u64,
    replay: Option<&ReplayGuard>,
) -> Result<Caller, AuthError> {
    let proof = Proof {
        org: header(headers, ORG)?,
        key_id: header(headers, KEY_ID)?,
        time_ms: header(headers, TIME_MS)?,
        signature: header(headers, SIGNATURE)?,
    };
    let chain_id = backend.genesis().chain_id.clone();
    let signed = |t: i64| sign_bytes(&chain_id, method, path_and_query, t, body);
    let (caller, sig) = grpc_auth::verify_proof(backend, &proof, &signed, now_ms, skew_ms).map_err(|e| {
        if e.internal {
            AuthError::Internal(e.message)
        } else {
            AuthError::Unauthenticated(format!("{}: {}", e.field, e.message))
        }
    })?;
    if let Some(allowed) = allowed
        && caller.id() != allowed
    {
        return Err(AuthError::Forbidden(format!(
            "{} is authenticated, but this node captures EPCIS events for {allowed} only",
            caller.id()
        )));
    }
    if let Some(guard) = replay {
        let t: i64 = proof.time_ms.parse().unwrap_or_default();
        guard.admit(sig, t, now_ms, skew_ms.saturating_mul(2))?;
    }
    Ok(caller)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_replay_is_refused_and_the_guard_is_bounded() {
        let g = ReplayGuard::default();
        g.admit([1; 64], 1_000, 1_000, 60_000).unwrap();
        assert!(matches!(
            g.admit([1; 64], 1_000, 2_000, 60_000),
            Err(AuthError::Unauthenticated(_))
        ));
        // Old entries are dropped once out of the window.
        g.admit([1; 64], 100_000, 100_000, 60_000).unwrap();
        for i in 0..REPLAY_CAPACITY - 1 {
            let mut s = [0u8; 64];
            s[..8].copy_from_slice(&(i as u64).to_le_bytes());
            s[63] = 9;
            g.admit(s, 100_000, 100_000, 60_000).unwrap();
        }
        assert!(matches!(
            g.admit([2; 64], 100_000, 100_000, 60_000),
            Err(AuthError::Busy(_))
        ));
    }

    #[test]
    fn the_signed_bytes_bind_method_path_and_body() {
        let a = sign_bytes("c", "POST", "/capture", 5, b"{}");
        assert_ne!(a, sign_bytes("c", "GET", "/capture", 5, b"{}"));
        assert_ne!(a, sign_bytes("c", "POST", "/capture?x", 5, b"{}"));
        assert_ne!(a, sign_bytes("c", "POST", "/capture", 5, b"{ }"));
        assert_ne!(a, sign_bytes("d", "POST", "/capture", 5, b"{}"));
        assert!(a.starts_with(DOMAIN));
    }
}
