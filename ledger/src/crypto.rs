//! ed25519 keys and signatures (ed25519-dalek), and the key files operators keep on disk.
//!
//! Invariants:
//! - Every signature in the ledger is over `Hash::tagged(domain, chain_id || bytes)`-style
//!   canonical bytes built by the caller; this module never decides *what* is signed.
//! - One verification rule, ZIP-215 (`crate::signature_rule`), for single and batch checks of
//!   transactions, votes and certificates: a batch passes iff every signature in it passes alone.
//! - Keys registered in genesis or by governance are never weak (`PublicKey::is_weak`: small order,
//!   not a point, or a non-canonical encoding).
//! - Secret keys are read only from files whose mode is 0600 (checked on Unix).
use borsh::{BorshDeserialize, BorshSerialize};
use ed25519_dalek::Signer;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::path::Path;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
pub struct PublicKey(pub [u8; 32]);

#[derive(Clone, Copy, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Signature(pub [u8; 64]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("public key is not a valid ed25519 point")]
    BadPublicKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
}

impl PublicKey {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(s: &str) -> Result<PublicKey, String> {
        let b = hex::decode(s.trim()).map_err(|e| format!("not hex: {e}"))?;
        let a: [u8; 32] = b
            .try_into()
            .map_err(|b: Vec<u8>| format!("expected 32 bytes, got {}", b.len()))?;
        Ok(PublicKey(a))
    }
    /// Small-order, not a point, or non-canonically encoded: refused wherever a key is registered.
    pub fn is_weak(&self) -> bool {
        crate::signature_rule::is_weak_key(&self.0)
    }
    /// Single verification under the ledger's one rule (ZIP-215).
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> Result<(), CryptoError> {
        crate::signature_rule::verify(&self.0, msg, &sig.0).map_err(|e| match e {
            crate::signature_rule::RuleError::KeyNotAPoint => CryptoError::BadPublicKey,
            _ => CryptoError::BadSignature,
        })
    }
}

/// Verify many (message, signature, key) triples at once under the same rule as
/// `PublicKey::verify`: `Ok` iff each passes alone. On failure it names nothing (the caller
/// re-checks singly to find the culprit).
pub fn verify_batch(msgs: &[&[u8]], sigs: &[Signature], keys: &[PublicKey]) -> Result<(), CryptoError> {
    let sigs: Vec<[u8; 64]> = sigs.iter().map(|s| s.0).collect();
    let keys: Vec<[u8; 32]> = keys.iter().map(|k| k.0).collect();
    crate::signature_rule::verify_batch(msgs, &sigs, &keys).map_err(|_| CryptoError::BadSignature)
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}
impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", &self.to_hex()[..12])
    }
}
impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", &hex::encode(&self.0[..8]))
    }
}
impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}
impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        PublicKey::from_hex(&<String as Deserialize>::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}
impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}
impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let b = hex::decode(<String as Deserialize>::deserialize(d)?).map_err(serde::de::Error::custom)?;
        let a: [u8; 64] = b
            .try_into()
            .map_err(|b: Vec<u8>| serde::de::Error::custom(format!("signature: expected 64 bytes, got {}", b.len())))?;
        Ok(Signature(a))
    }
}

/// A secret ed25519 key. Not `Debug`/`Serialize`: it is never printed by accident.
#[derive(Clone)]
pub struct SecretKey(ed25519_dalek::SigningKey);

impl SecretKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Result<SecretKey, CryptoError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| CryptoError::KeyFile {
            path: "<os rng>".into(),
            reason: e.to_string(),
        })?;
        Ok(SecretKey::from_seed(seed))
    }
    /// Deterministic key from a 32-byte seed (tests, simulations, the demo testnet).
    pub fn from_seed(seed: [u8; 32]) -> SecretKey {
        SecretKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }
    /// Deterministic key derived from a label (tests and simulations only).
    pub fn from_label(label: &str) -> SecretKey {
        SecretKey::from_seed(crate::hash::Hash::tagged("tradechain/test-key", label.as_bytes()).0)
    }
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg).to_bytes())
    }
    pub fn seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Key file format: one line of 64 hex characters (the seed). Written with mode 0600.
    pub fn write_file(&self, path: &Path) -> Result<(), CryptoError> {
        let err = |reason: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent).map_err(|e| err(e.to_string()))?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        use std::io::Write;
        let mut f = opts.open(path).map_err(|e| err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| err(e.to_string()))?;
        }
        writeln!(f, "{}", hex::encode(self.seed())).map_err(|e| err(e.to_string()))
    }

    /// Read a key file, refusing one that others can read.
    pub fn read_file(path: &Path) -> Result<SecretKey, CryptoError> {
        let err = |reason: String| CryptoError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(err(format!(
                    "mode is {mode:o}; a secret key file must be 0600 (run: chmod 600 {})",
                    path.display()
                )));
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let bytes = hex::decode(text.trim()).map_err(|e| err(format!("not a hex key: {e}")))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| err(format!("expected 32 bytes of key, found {}", b.len())))?;
        Ok(SecretKey::from_seed(seed))
    }
}
