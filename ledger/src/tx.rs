//! Signed transaction envelopes.
//!
//! Invariants: the signature covers `"tradechain/tx/v1" || borsh(Transaction)`, and the
//! transaction names its chain id, so no signature replays across networks; the id is
//! `Hash::tagged("tradechain/tx-id", borsh(Transaction))`; nonces are per sender and strictly
//! increasing (enforced by the validators).
use crate::crypto::{CryptoError, PublicKey, SecretKey, Signature};
use crate::hash::Hash;
use crate::identity::OrgId;
use crate::payload::Payload;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

pub const TX_VERSION: u16 = 1;
const SIGN_DOMAIN: &[u8] = b"tradechain/tx/v1\0";

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
    pub signature: Signature,
}

impl Transaction {
    pub fn id(&self) -> Hash {
        Hash::tagged("tradechain/tx-id", &crate::codec::encode(self))
    }
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut out = SIGN_DOMAIN.to_vec();
        out.extend(crate::codec::encode(self));
        out
    }
    pub fn sign(self, key: &SecretKey) -> SignedTransaction {
        let signature = key.sign(&self.sign_bytes());
        SignedTransaction { tx: self, signature }
    }
}

impl SignedTransaction {
    pub fn id(&self) -> Hash {
        self.tx.id()
    }
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), CryptoError> {
        key.verify(&self.tx.sign_bytes(), &self.signature)
    }
    /// Leaf of the block's transaction Merkle tree: the whole signed envelope is committed.
    pub fn leaf_bytes(&self) -> Vec<u8> {
        crate::codec::encode(self)
    }
}
