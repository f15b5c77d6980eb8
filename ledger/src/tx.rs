//! Signed transaction envelopes.
//!
//! Invariants:
//! - A transaction is committed to by its body digest
//!   `H("tradechain/tx-body", borsh(TxHeader) ‖ payload digest)`. For a provenance event the
//!   payload digest is `H("tradechain/payload/provenance", event_fields::digest(event, seed))`,
//!   the event's salted per-field commitment, so a public answer can open some fields and
//!   withhold others and still be checked against what was signed; for every other payload it is
//!   `H("tradechain/payload", borsh(payload) ‖ seed)`. An EPCIS document (`ProvenanceDocument`)
//!   commits to its events' field digests in order,
//!   `H("tradechain/payload/provenance-document", borsh(Vec<digest_i>))`, event `i` salted under
//!   its own seed `document_event_seed(seed, i)`: one event can be disclosed with the others'
//!   digests only (`event_fields::EventDisclosure`), which show nothing but their number.
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
    /// Private: the body digest is memoised, so every change goes through `tx_mut`, which drops
    /// the memo.
    tx: Transaction,
    /// The signer's secret from which a provenance event's field salts derive (see the module
    /// doc); never shown to the public. Private for the same reason as `tx`.
    disclosure_seed: Hash,
    pub signature: Signature,
    /// The body digest, memoised (never encoded).
    #[borsh(skip)]
    #[serde(skip)]
    body_cache: BodyCache,
}

/// A memoised body digest. A provenance event's digest costs ~35 short hashes, and the id, the
/// signed bytes and the block leaf all need it several times per node; the cache computes it
/// once per decoded transaction. It cannot go stale: the two fields it depends on are private
/// and the only ways to change them (`tx_mut`, `disclosure_seed_mut`) empty it. Not part of
/// equality or the encoding.
#[derive(Clone, Default)]
struct BodyCache(std::sync::OnceLock<Hash>);

impl PartialEq for BodyCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for BodyCache {}
impl std::fmt::Debug for BodyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("_")
    }
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

/// The payload digest of an EPCIS document from its events' field commitments, in order.
pub fn document_payload_digest(event_digests: &[Hash]) -> Hash {
    Hash::tagged(
        "tradechain/payload/provenance-document",
        &crate::codec::encode(&event_digests.to_vec()),
    )
}

/// The disclosure seed of event `i` of a document transaction, from the transaction's seed.
pub fn document_event_seed(seed: &Hash, i: u32) -> Hash {
    Hash::tagged_parts("tradechain/document-event-seed", &[&seed.0, &i.to_le_bytes()])
}

/// The field digests of a document's events under the transaction's seed (event `i` under
/// `document_event_seed(seed, i)`).
pub fn document_event_digests(events: &[crate::payload::ProvenanceEvent], seed: &Hash) -> Vec<Hash> {
    (0u32..)
        .zip(events)
        .map(|(i, e)| crate::event_fields::digest(e, &document_event_seed(seed, i)))
        .collect()
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
            Payload::ProvenanceDocument(es) => document_payload_digest(&document_event_digests(es, seed)),
            p => Hash::tagged_parts("tradechain/payload", &[&crate::codec::encode(p), &seed.0]),
        };
        body_digest(&self.header(), &payload)
    }

    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let disclosure_seed = disclosure_seed(key, &self);
        let body = self.body_digest(&disclosure_seed);
        let signature = key.sign(&sign_bytes_of(&body));
        let signed = SignedTransaction::new(self, disclosure_seed, signature);
        let _ = signed.body_cache.0.set(body);
        signed
    }
}

impl SignedTransaction {
    pub fn new(tx: Transaction, disclosure_seed: Hash, signature: Signature) -> SignedTransaction {
        SignedTransaction {
            tx,
            disclosure_seed,
            signature,
            body_cache: BodyCache::default(),
        }
    }
    /// The signed transaction.
    pub fn tx(&self) -> &Transaction {
        &self.tx
    }
    /// The signer's disclosure seed (see the module doc; never shown to the public).
    pub fn disclosure_seed(&self) -> &Hash {
        &self.disclosure_seed
    }
    /// The transaction, to change (tests forge this way): the memoised digest is dropped, so
    /// the next `body_digest` is the changed transaction's.
    pub fn tx_mut(&mut self) -> &mut Transaction {
        self.body_cache = BodyCache::default();
        &mut self.tx
    }
    /// The disclosure seed, to change; drops the memoised digest like `tx_mut`.
    pub fn disclosure_seed_mut(&mut self) -> &mut Hash {
        self.body_cache = BodyCache::default();
        &mut self.disclosure_seed
    }
    /// The body digest (memoised; see `BodyCache`).
    pub fn body_digest(&self) -> Hash {
        // No re-check here, not even a debug one: the shipped profile runs debug assertions, and
        // recomputing would cost what the memo saves. Staleness is excluded by construction.
        *self
            .body_cache
            .0
            .get_or_init(|| self.tx.body_digest(&self.disclosure_seed))
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
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::payload::{EventType, ProvenanceEvent};

    fn signed() -> SignedTransaction {
        let mut e = ProvenanceEvent::new(EventType::ObjectEvent);
        e.epc_list = vec!["urn:epc:id:sgtin:6901234.012345.1".into()];
        Transaction {
            version: TX_VERSION,
            chain_id: "c".into(),
            sender: OrgId::new("PRODUCER-FZ").unwrap(),
            key_id: 1,
            nonce: 1,
            time_ms: 5,
            payload: Payload::Provenance(e),
        }
        .sign(&SecretKey::from_label("p"))
    }

    #[test]
    fn a_transaction_changed_after_its_digest_was_taken_gets_a_fresh_one() {
        let key = SecretKey::from_label("p").public();
        let t = signed();
        let id = t.id();
        assert!(t.verify_signature(&key).is_ok());
        let mut forged = t.clone();
        forged.tx_mut().nonce = 2;
        assert_ne!(forged.id(), id);
        assert!(forged.verify_signature(&key).is_err());
        // A member's crafted bytes (the signed body changed, the signature kept) arrive with no
        // memo: the digest is the bytes' own, and the signature fails.
        let crafted: SignedTransaction = crate::codec::decode(&crate::codec::encode(&forged)).unwrap();
        assert_eq!(crafted.id(), forged.id());
        assert!(crafted.verify_signature(&key).is_err());
        let mut reseeded = t.clone();
        reseeded.disclosure_seed_mut().0[0] ^= 1;
        assert_ne!(reseeded.id(), id);
        assert!(reseeded.verify_signature(&key).is_err());
        // Decoding gives an empty cache and the same digest.
        let back: SignedTransaction = crate::codec::decode(&crate::codec::encode(&t)).unwrap();
        assert_eq!(back.id(), id);
        assert_eq!(back, t);
    }

    #[test]
    fn the_memoised_digest_is_the_computed_one() {
        let t = signed();
        let direct = t.tx.body_digest(&t.disclosure_seed);
        assert_eq!(t.body_digest(), direct);
        assert_eq!(t.body_digest(), direct, "second call, from the cache");
        assert_eq!(t.id(), id_of(&direct));
    }
}
