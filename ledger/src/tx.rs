//! Signed transaction envelopes.
//!
//! Invariants:
//! - A transaction is committed to by its body digest
//!   `H("tradechain/tx-body", borsh(TxHeader) ‖ payload digest)`. For a provenance event the
//!   payload digest is `H("tradechain/payload/provenance", event_fields::digest(event, seed))`,
//!   the event's salted per-field commitment, so a public answer can open some fields and
//!   withhold others and still be checked against what was signed; for every other payload it is
//!   `H("tradechain/payload", borsh(payload) ‖ seed)`.
//! - The signature covers `"tradechain/tx/v2\0" ‖ body digest`; the id is
//!   `H("tradechain/tx-id", body digest)`; the block's Merkle leaf is over
//!   `body digest ‖ signature` (`leaf_bytes`). The body digest binds every stored byte but the
//!   signature (the seed through the salts), so no byte of a stored transaction can change
//!   without changing its id and breaking its signature.
//! - The transaction names its chain id, so no signature replays across networks; nonces are per
//!   sender and strictly increasing (enforced by the validators).
//! - The disclosure seed is the signer's secret: `disclosure_seed` derives it from the signing key
//!   and the transaction (no randomness, so signing stays deterministic), and it is never shown
//!   to the public (only per-field salts derived from it are).
use crate::crypto::{CryptoError, PublicKey, SecretKey, Signature};
use crate::hash::Hash;
use crate::identity::OrgId;
use crate::payload::Payload;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

pub const TX_VERSION: u16 = 1;
const SIGN_DOMAIN: &[u8] = b"tradechain/tx/v2\0";

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Transaction {
    pub version: u16,
    pub chain_id: String,
    pub sender: OrgId,
    pub key_id: u32,
    pub nonce: u64,
    /// The sender's claimed time, Unix milliseconds; must lie within the skew of block time.
    pub time_ms: i64,
    pub payload: Payload,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct SignedTransaction {
    pub tx: Transaction,
    /// The signer's secret from which a provenance event's field salts derive (see the module
    /// doc); never shown to the public.
    pub disclosure_seed: Hash,
    pub signature: Signature,
}

/// Everything of a transaction but its payload: what a public answer shows of the envelope.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct TxHeader {
    pub version: u16,
    pub chain_id: String,
    pub sender: OrgId,
    pub key_id: u32,
    pub nonce: u64,
    pub time_ms: i64,
}

/// The body digest from the header and the payload digest (one formula for the signer, the
/// validators and a verifier holding only an opening).
pub fn body_digest(header: &TxHeader, payload_digest: &Hash) -> Hash {
    Hash::tagged_parts(
        "tradechain/tx-body",
        &[&crate::codec::encode(header), &payload_digest.0],
    )
}

/// The payload digest of a provenance event from its field commitment.
pub fn provenance_payload_digest(event_fields_digest: &Hash) -> Hash {
    Hash::tagged("tradechain/payload/provenance", &event_fields_digest.0)
}

/// The transaction id of a body digest.
pub fn id_of(body: &Hash) -> Hash {
    Hash::tagged("tradechain/tx-id", &body.0)
}

/// The bytes the signature covers.
pub fn sign_bytes_of(body: &Hash) -> Vec<u8> {
    let mut out = SIGN_DOMAIN.to_vec();
    out.extend_from_slice(&body.0);
    out
}

/// The bytes of the block's Merkle leaf.
pub fn leaf_bytes_of(body: &Hash, signature: &Signature) -> Vec<u8> {
    let mut out = Vec::with_capacity(96);
    out.extend_from_slice(&body.0);
    out.extend_from_slice(&signature.0);
    out
}

/// The signer's disclosure seed for `tx`: secret (it needs the signing key) and deterministic.
pub fn disclosure_seed(key: &SecretKey, tx: &Transaction) -> Hash {
    Hash::tagged_parts("tradechain/disclosure-seed", &[&key.seed(), &crate::codec::encode(tx)])
}

impl Transaction {
    pub fn header(&self) -> TxHeader {
        TxHeader {
            version: self.version,
            chain_id: self.chain_id.clone(),
            sender: self.sender.clone(),
            key_id: self.key_id,
            nonce: self.nonce,
            time_ms: self.time_ms,
        }
    }

    /// The body digest under `seed` (see the module doc).
    pub fn body_digest(&self, seed: &Hash) -> Hash {
        let payload = match &self.payload {
            Payload::Provenance(e) => provenance_payload_digest(&crate::event_fields::digest(e, seed)),
            p => Hash::tagged_parts("tradechain/payload", &[&crate::codec::encode(p), &seed.0]),
        };
        body_digest(&self.header(), &payload)
    }

    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let disclosure_seed = disclosure_seed(key, &self);
        let signature = key.sign(&sign_bytes_of(&self.body_digest(&disclosure_seed)));
        SignedTransaction {
            tx: self,
            disclosure_seed,
            signature,
        }
    }
}

impl SignedTransaction {
    pub fn body_digest(&self) -> Hash {
        self.tx.body_digest(&self.disclosure_seed)
    }
    pub fn id(&self) -> Hash {
        id_of(&self.body_digest())
    }
    /// The bytes the signature covers.
    pub fn sign_bytes(&self) -> Vec<u8> {
        sign_bytes_of(&self.body_digest())
    }
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), CryptoError> {
        key.verify(&self.sign_bytes(), &self.signature)
    }
    /// Leaf of the block's transaction Merkle tree: the body digest and the signature.
    pub fn leaf_bytes(&self) -> Vec<u8> {
        leaf_bytes_of(&self.body_digest(), &self.signature)
    }
    /// The public opening of a provenance event (None for other payloads).
    pub fn public_opening(&self) -> Option<crate::event_fields::EventOpening> {
        match &self.tx.payload {
            Payload::Provenance(e) => Some(crate::event_fields::EventOpening::public(e, &self.disclosure_seed)),
            _ => None,
        }
    }
}
