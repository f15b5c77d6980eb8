//! The one signature rule (ZIP-215): single and batch agree on every input, and both agree with
//! an independent implementation (`ed25519-consensus`), on the ZIP-215 small-order vectors, the
//! non-canonical encodings of "Taming the many EdDSAs", random honest signatures and mutations.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use proptest::prelude::*;
use tradechain_ledger::crypto::{self, PublicKey, SecretKey, Signature};
use tradechain_ledger::signature_rule;

/// The 19 field elements with a second, non-canonical encoding `x + p` below 2^255.
fn non_canonical_field_encodings() -> Vec<[u8; 32]> {
    let mut bytes = [0xffu8; 32];
    bytes[31] = 0x7f;
    (0..19u8)
        .map(|i| {
            bytes[0] = 237 + i;
            bytes
        })
        .collect()
}

/// Every non-canonical point encoding (y ≥ p, or x = 0 with the sign bit set).
fn non_canonical_point_encodings() -> Vec<[u8; 32]> {
    let mut out = Vec::new();
    let mut y1 = [0u8; 32];
    y1[0] = 1;
    y1[31] = 0x80;
    out.push(y1);
    let mut ym1 = [0xffu8; 32];
    ym1[0] = 236;
    out.push(ym1);
    for mut x in non_canonical_field_encodings() {
        if CompressedEdwardsY(x).decompress().is_some() {
            out.push(x);
        }
        x[31] |= 0x80;
        if CompressedEdwardsY(x).decompress().is_some() {
            out.push(x);
        }
    }
    out
}

/// ZIP-215's 196 small-order cases: every (A, R) over the 8 torsion points' canonical encodings
/// and 6 non-canonical low-order ones, with s = 0 — all valid under ZIP-215, most invalid under
/// `verify_strict`.
fn small_order_cases() -> Vec<([u8; 32], [u8; 64])> {
    let encodings: Vec<[u8; 32]> = EIGHT_TORSION
        .iter()
        .map(|p| p.compress().to_bytes())
        .chain(non_canonical_point_encodings().into_iter().take(6))
        .collect();
    assert_eq!(encodings.len(), 14);
    let mut cases = Vec::new();
    for a in &encodings {
        for r in &encodings {
            let mut sig = [0u8; 64];
            sig[..32].copy_from_slice(r);
            cases.push((*a, sig));
        }
    }
    cases
}

fn oracle(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    ed25519_consensus::VerificationKey::try_from(*key)
        .and_then(|vk| vk.verify(&ed25519_consensus::Signature::from(*sig), msg))
        .is_ok()
}

fn single(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    PublicKey(*key).verify(msg, &Signature(*sig)).is_ok()
}

fn batch_of_one(key: &[u8; 32], msg: &[u8], sig: &[u8; 64]) -> bool {
    crypto::verify_batch(&[msg], &[Signature(*sig)], &[PublicKey(*key)]).is_ok()
}

#[test]
fn zip215_small_order_vectors_are_valid_single_batch_and_oracle() {
    let cases = small_order_cases();
    assert_eq!(cases.len(), 196);
    let mut strict_rejects = 0;
    for (a, sig) in &cases {
        for msg in [&b"Zcash"[..], b"tradechain/tx/v1\0", b""] {
            assert!(oracle(a, msg, sig), "oracle refuses {}", hex::encode(sig));
            assert!(single(a, msg, sig), "single refuses {}", hex::encode(sig));
            assert!(batch_of_one(a, msg, sig), "batch refuses {}", hex::encode(sig));
        }
        if let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(a)
            && vk
                .verify_strict(b"Zcash", &ed25519_dalek::Signature::from_bytes(sig))
                .is_ok()
        {
            continue;
        }
        strict_rejects += 1;
    }
    // The old rule disagreed with batch verification on these: the reason for the change.
    assert!(strict_rejects > 150, "verify_strict rejected only {strict_rejects}");
    // And all of them in one batch, mixed with honest signatures.
    let sk = SecretKey::from_label("honest");
    let honest = sk.sign(b"m");
    let mut msgs: Vec<&[u8]> = cases.iter().map(|_| &b"Zcash"[..]).collect();
    let mut sigs: Vec<Signature> = cases.iter().map(|(_, s)| Signature(*s)).collect();
    let mut keys: Vec<PublicKey> = cases.iter().map(|(a, _)| PublicKey(*a)).collect();
    msgs.push(b"m");
    sigs.push(honest);
    keys.push(sk.public());
    assert!(crypto::verify_batch(&msgs, &sigs, &keys).is_ok());
}

#[test]
fn small_order_and_noncanonical_keys_are_weak() {
    for (a, _) in small_order_cases() {
        assert!(PublicKey(a).is_weak(), "{} not weak", hex::encode(a));
    }
    for enc in non_canonical_point_encodings() {
        assert!(PublicKey(enc).is_weak(), "{} not weak", hex::encode(enc));
    }
    // Not a point at all.
    let mut not_point = [0u8; 32];
    not_point[0] = 2;
    assert!(CompressedEdwardsY(not_point).decompress().is_none());
    assert!(PublicKey(not_point).is_weak());
    for label in ["a", "b", "customs-cn"] {
        assert!(!SecretKey::from_label(label).public().is_weak());
    }
}

#[test]
fn non_canonical_s_is_refused_by_all() {
    let sk = SecretKey::from_label("s-malleability");
    let msg = b"pay 100";
    let sig = sk.sign(msg);
    let pk = sk.public();
    assert!(single(&pk.0, msg, &sig.0));
    // s + ℓ: same point equation, non-canonical scalar.
    let mut s = [0u8; 32];
    s.copy_from_slice(&sig.0[32..]);
    // ℓ = 2^252 + 27742317777372353535851937790883648493, little-endian.
    let l_bytes: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut sum = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = s[i] as u16 + l_bytes[i] as u16 + carry;
        sum[i] = v as u8;
        carry = v >> 8;
    }
    let mut bad = sig.0;
    bad[32..].copy_from_slice(&sum);
    assert!(!oracle(&pk.0, msg, &bad));
    assert!(!single(&pk.0, msg, &bad));
    assert!(!batch_of_one(&pk.0, msg, &bad));
}

/// Sign `msg` with the key of `seed`, but with the nonce point R' = rB + T for the torsion point
/// `T = EIGHT_TORSION[t]` (k computed over R'): valid under the cofactored (ZIP-215) equation,
/// invalid under a cofactorless one when T ≠ 0 — the signatures on which the old batch and single
/// checks disagreed.
fn sign_with_torsion(seed: &[u8; 32], msg: &[u8], t: usize) -> Signature {
    use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
    use sha2::{Digest, Sha512};
    let h = Sha512::digest(seed);
    let mut a_bytes = [0u8; 32];
    a_bytes.copy_from_slice(&h[..32]);
    a_bytes[0] &= 248;
    a_bytes[31] &= 127;
    a_bytes[31] |= 64;
    let a = Scalar::from_bytes_mod_order(a_bytes);
    let public = (&a * ED25519_BASEPOINT_TABLE).compress().to_bytes();
    let mut rh = Sha512::new();
    rh.update(&h[32..]);
    rh.update(msg);
    let mut wide = [0u8; 64];
    wide.copy_from_slice(&rh.finalize());
    let r = Scalar::from_bytes_mod_order_wide(&wide);
    let big_r = (&r * ED25519_BASEPOINT_TABLE + EIGHT_TORSION[t % 8])
        .compress()
        .to_bytes();
    let mut kh = Sha512::new();
    kh.update(big_r);
    kh.update(public);
    kh.update(msg);
    wide.copy_from_slice(&kh.finalize());
    let k = Scalar::from_bytes_mod_order_wide(&wide);
    let s_scalar = r + k * a;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&big_r);
    sig[32..].copy_from_slice(s_scalar.as_bytes());
    Signature(sig)
}

#[test]
fn torsion_signatures_pass_zip215_and_fail_cofactorless() {
    let seed = [7u8; 32];
    let pk = SecretKey::from_seed(seed).public();
    let msg = b"tradechain/tx/v1\0 a transaction";
    // T = identity: an ordinary signature, equal to dalek's.
    assert_eq!(sign_with_torsion(&seed, msg, 0), SecretKey::from_seed(seed).sign(msg));
    for t in 1..8 {
        let sig = sign_with_torsion(&seed, msg, t);
        assert!(single(&pk.0, msg, &sig.0) && batch_of_one(&pk.0, msg, &sig.0) && oracle(&pk.0, msg, &sig.0));
        let vk = ed25519_dalek::VerifyingKey::from_bytes(&pk.0).unwrap();
        assert!(
            vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig.0))
                .is_err(),
            "the old single rule refused what the batch accepted"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Honest signatures pass; any single-byte change of message, signature or key gives the same
    /// answer from single, batch and the oracle.
    #[test]
    fn single_batch_and_oracle_agree_on_mutations(
        seed in any::<[u8; 32]>(),
        msg in proptest::collection::vec(any::<u8>(), 0..200),
        target in 0usize..3,
        pos in any::<usize>(),
        xor in 1u8..=255,
    ) {
        let sk = SecretKey::from_seed(seed);
        let pk = sk.public();
        let sig = sk.sign(&msg);
        prop_assert!(single(&pk.0, &msg, &sig.0));
        prop_assert!(batch_of_one(&pk.0, &msg, &sig.0));
        prop_assert!(oracle(&pk.0, &msg, &sig.0));
        let (mut k, mut m, mut s) = (pk.0, msg.clone(), sig.0);
        match target {
            0 => { let i = pos % 32; k[i] ^= xor; }
            1 => if m.is_empty() { m.push(xor) } else { let i = pos % m.len(); m[i] ^= xor; },
            _ => { let i = pos % 64; s[i] ^= xor; }
        }
        let o = oracle(&k, &m, &s);
        prop_assert_eq!(single(&k, &m, &s), o);
        prop_assert_eq!(batch_of_one(&k, &m, &s), o);
    }

    /// A batch is accepted iff every member passes alone, with a torsion component added to R
    /// or to the key of some members (the case cofactorless batching got wrong).
    #[test]
    fn batch_iff_all_single(
        seeds in proptest::collection::vec(any::<[u8; 32]>(), 1..12),
        torsion in proptest::collection::vec((0usize..8, 0usize..3), 1..12),
    ) {
        let mut msgs = Vec::new();
        let mut sigs = Vec::new();
        let mut keys = Vec::new();
        for (i, seed) in seeds.iter().enumerate() {
            let sk = SecretKey::from_seed(*seed);
            let msg = format!("tx {i}").into_bytes();
            let mut sig = sk.sign(&msg).0;
            let (t, how) = torsion.get(i).copied().unwrap_or((0, 0));
            if how == 1 {
                // R' = rB + T: valid under the cofactored equation, invalid cofactorless (T ≠ 0).
                sig = sign_with_torsion(seed, &msg, t).0;
            } else if how == 2 {
                // s + 1: invalid under every rule.
                let mut s: [u8; 32] = sig[32..].try_into().unwrap();
                let sc = Scalar::from_canonical_bytes(s).unwrap() + Scalar::ONE;
                s = sc.to_bytes();
                sig[32..].copy_from_slice(&s);
            }
            msgs.push(msg);
            sigs.push(Signature(sig));
            keys.push(sk.public());
        }
        let all_single = msgs.iter().zip(&sigs).zip(&keys).all(|((m, s), k)| k.verify(m, s).is_ok());
        let all_oracle = msgs.iter().zip(&sigs).zip(&keys).all(|((m, s), k)| oracle(&k.0, m, &s.0));
        prop_assert_eq!(all_single, all_oracle);
        let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        prop_assert_eq!(crypto::verify_batch(&refs, &sigs, &keys).is_ok(), all_single);
        prop_assert_eq!(signature_rule::verify_batch(&refs, &sigs.iter().map(|s| s.0).collect::<Vec<_>>(), &keys.iter().map(|k| k.0).collect::<Vec<_>>()).is_ok(), all_single);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// A block's verdict does not depend on which of its signatures a mempool pre-verified: any
    /// subset vouched for (each vouched signature having passed a single check, as admission
    /// does) gives the same outcomes and writes as verifying everything.
    #[test]
    fn block_verdict_is_independent_of_preverification(
        torsion in proptest::collection::vec(0usize..8, 4),
        vouch in proptest::collection::vec(any::<bool>(), 4),
        corrupt in proptest::option::of(0usize..4),
    ) {
        use tradechain_ledger::execute::{Registry, execute_block, execute_block_preverified};
        use tradechain_ledger::testkit::{self, Chain};
        let steps = testkit::shipment();
        let chain = Chain::demo();
        // Four independent transactions of the shipment's first block's sender, nonces 1..=4.
        let mut txs = Vec::new();
        for (i, t) in torsion.iter().enumerate() {
            let mut tx = chain.sign(steps[0].sender, 1 + i as u64, steps[0].payload.clone());
            tx.tx_mut().time_ms += i as i64; // distinct ids
            let resigned = tx.tx().clone().sign(&testkit::secret(steps[0].sender));
            let seed = testkit::secret(steps[0].sender).seed();
            let mut sig = sign_with_torsion(&seed, &resigned.sign_bytes(), *t);
            if corrupt == Some(i) {
                sig.0[40] ^= 1;
            }
            let mut signed = resigned;
            signed.signature = sig;
            txs.push(signed);
        }
        let registry = Registry::default();
        let height = 1;
        let time = chain.time_ms + testkit::BLOCK_STEP_MS;
        let all = execute_block(&registry, &chain.genesis, &chain.state, height, time, &txs);
        let vouched: Vec<bool> = vouch.clone();
        let pre = |t: &tradechain_ledger::SignedTransaction, k: &PublicKey| {
            txs.iter().position(|x| x.id() == t.id()).is_some_and(|i| vouched[i])
                && k.verify(&t.sign_bytes(), &t.signature).is_ok()
        };
        let some = execute_block_preverified(&registry, &chain.genesis, &chain.state, height, time, &txs, &pre);
        prop_assert_eq!(&all, &some);
        prop_assert_eq!(all.is_err(), corrupt.is_some(), "torsion-shifted R is valid; a flipped s byte is not");
    }
}
