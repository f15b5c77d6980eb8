//! The one ed25519 verification rule of the ledger: ZIP-215, for transactions, votes and commit
//! certificates, single and batch alike.
//!
//! Why: dalek's `verify_strict` (single) and its cofactorless `verify_batch` disagree on
//! signatures with small-order components, so a member could craft a transaction that one
//! validator's mempool admits (batch) and another's block check refuses (single) — different
//! verdicts on one block, or a syncing node that refuses a certified block forever. ZIP-215
//! (Zcash, adopted by Penumbra's `ed25519-consensus`) fixes one rule under which batch and single
//! verification accept exactly the same set:
//! - `A` (key) and `R` may be any encoding that decompresses, canonical or not (no "strictness"
//!   to disagree about);
//! - `s` must be canonical (`s < ℓ`), else reject;
//! - `k = SHA-512(R_bytes ‖ A_bytes ‖ M) mod ℓ` over the bytes *as given*;
//! - accept iff `[8]([s]B − R − [k]A)` is the identity (the cofactored equation).
//!
//! The batch check is the same equation with coefficients `z_i`:
//! `[8]([−Σ z_i s_i]B + Σ [z_i]R_i + Σ [z_i k_i]A_i) = 0`. The `z_i` are 128-bit values derived
//! from a SHA-512 transcript of every (A, R, s, k) in the batch — deterministic (no randomness
//! in validation) and unpredictable to whoever crafts a signature, since each choice of a
//! signature changes every coefficient.
//!
//! Invariant (tested against `ed25519-consensus` as an independent oracle, and with the ZIP-215
//! small-order vectors): for any inputs, `verify_batch` is `Ok` iff every `verify` is `Ok`
//! (up to the 2^-128 chance of a false batch accept, never a false reject).
use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use sha2::{Digest, Sha512};

/// Why a signature does not verify under the rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// The key's 32 bytes are not the y-coordinate of a curve point.
    KeyNotAPoint,
    /// `R` is not a point, `s` is not canonical, or the equation does not hold.
    Invalid,
    /// Batch inputs of different lengths.
    Shape,
}

fn split(sig: &[u8; 64]) -> ([u8; 32], [u8; 32]) {
    let mut r = [0u8; 32];
    let mut s = [0u8; 32];
    for (i, b) in sig.iter().enumerate() {
        if i < 32 {
            r[i] = *b;
        } else {
            s[i - 32] = *b;
        }
    }
    (r, s)
}

fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let mut h = Sha512::new();
    h.update(r);
    h.update(a);
    h.update(msg);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&h.finalize());
    Scalar::from_bytes_mod_order_wide(&wide)
}

fn point(bytes: &[u8; 32]) -> Option<EdwardsPoint> {
    CompressedEdwardsY(*bytes).decompress()
}

fn scalar(bytes: [u8; 32]) -> Option<Scalar> {
    Option::from(Scalar::from_canonical_bytes(bytes))
}

/// Verify one signature under ZIP-215.
pub fn verify(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> Result<(), RuleError> {
    let a = point(key).ok_or(RuleError::KeyNotAPoint)?;
    let (r_bytes, s_bytes) = split(sig);
    let r = point(&r_bytes).ok_or(RuleError::Invalid)?;
    let s = scalar(s_bytes).ok_or(RuleError::Invalid)?;
    let k = challenge(&r_bytes, key, msg);
    // [s]B − [k]A − R
    let check = EdwardsPoint::vartime_double_scalar_mul_basepoint(&k, &(-a), &s) - r;
    if check.mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(RuleError::Invalid)
    }
}

/// Verify many (message, signature, key) triples at once under ZIP-215: `Ok` iff each would pass
/// `verify` (see the module invariant). Coefficients are shared per distinct key, so a block
/// from few senders costs about one point decompression and one scalar per signature.
pub fn verify_batch(msgs: &[&[u8]], sigs: &[[u8; 64]], keys: &[[u8; 32]]) -> Result<(), RuleError> {
    if msgs.len() != sigs.len() || sigs.len() != keys.len() {
        return Err(RuleError::Shape);
    }
    if msgs.is_empty() {
        return Ok(());
    }
    // Parse everything and bind it into one transcript.
    let mut transcript = Sha512::new();
    transcript.update(b"tradechain/zip215-batch/v1");
    transcript.update((msgs.len() as u64).to_le_bytes());
    let mut parsed = Vec::with_capacity(msgs.len());
    for ((msg, sig), key) in msgs.iter().zip(sigs).zip(keys) {
        let (r_bytes, s_bytes) = split(sig);
        let r = point(&r_bytes).ok_or(RuleError::Invalid)?;
        let s = scalar(s_bytes).ok_or(RuleError::Invalid)?;
        let k = challenge(&r_bytes, key, msg);
        transcript.update(key);
        transcript.update(r_bytes);
        transcript.update(s_bytes);
        transcript.update(k.as_bytes());
        parsed.push((key, r, s, k));
    }
    let seed = transcript.finalize();

    let mut key_index: std::collections::HashMap<[u8; 32], usize> = std::collections::HashMap::new();
    let mut a_points: Vec<EdwardsPoint> = Vec::new();
    let mut a_coeffs: Vec<Scalar> = Vec::new();
    let mut r_points: Vec<EdwardsPoint> = Vec::with_capacity(parsed.len());
    let mut r_coeffs: Vec<Scalar> = Vec::with_capacity(parsed.len());
    let mut b_coeff = Scalar::ZERO;
    for (i, (key, r, s, k)) in parsed.into_iter().enumerate() {
        let mut zh = Sha512::new();
        zh.update(seed);
        zh.update((i as u64).to_le_bytes());
        let mut z_bytes = [0u8; 32];
        for (dst, src) in z_bytes.iter_mut().zip(zh.finalize().iter().take(16)) {
            *dst = *src;
        }
        // A 128-bit value is always below ℓ: canonical.
        let z = Scalar::from_bytes_mod_order(z_bytes);
        b_coeff -= z * s;
        r_points.push(r);
        r_coeffs.push(z);
        let slot = match key_index.get(key) {
            Some(&j) => j,
            None => {
                let a = point(key).ok_or(RuleError::KeyNotAPoint)?;
                a_points.push(a);
                a_coeffs.push(Scalar::ZERO);
                key_index.insert(*key, a_points.len() - 1);
                a_points.len() - 1
            }
        };
        if let Some(c) = a_coeffs.get_mut(slot) {
            *c += z * k;
        }
    }
    let check = EdwardsPoint::vartime_multiscalar_mul(
        std::iter::once(&b_coeff).chain(a_coeffs.iter()).chain(r_coeffs.iter()),
        std::iter::once(&ED25519_BASEPOINT_POINT)
            .chain(a_points.iter())
            .chain(r_points.iter()),
    );
    if check.mul_by_cofactor().is_identity() {
        Ok(())
    } else {
        Err(RuleError::Invalid)
    }
}

/// A key that must never be registered: not a point, of small order (anyone can forge
/// ZIP-215 signatures for it), or not canonically encoded (two byte strings for one key would
/// let one key pass a "distinct keys" check twice).
pub fn is_weak_key(key: &[u8; 32]) -> bool {
    match point(key) {
        None => true,
        Some(a) => a.is_small_order() || a.compress().to_bytes() != *key,
    }
}
