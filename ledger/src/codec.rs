//! Canonical encoding: every byte that is signed, hashed or stored is borsh.
//!
//! Invariants:
//! - `encode(decode(b)) == b` for every `b` that decodes (borsh is canonical: one value, one encoding;
//!   `BTreeMap`s are sorted, no floats are used anywhere in the ledger).
//! - Decoding rejects trailing bytes and inputs longer than the caller's limit, so a peer or client
//!   cannot make a node allocate beyond what it configured.
use borsh::{BorshDeserialize, BorshSerialize};

/// Default upper bound on one decoded object (a block), in bytes.
pub const DEFAULT_MAX_DECODE: usize = 64 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("input is {len} bytes, above the limit of {limit}")]
    TooLarge { len: usize, limit: usize },
    #[error("malformed encoding: {0}")]
    Malformed(String),
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
}

/// Canonical bytes of a value.
pub fn encode<T: BorshSerialize + ?Sized>(value: &T) -> Vec<u8> {
    // Writing into a Vec cannot fail; borsh only errors on I/O.
    let mut out = Vec::new();
    if let Err(e) = value.serialize(&mut out) {
        unreachable!("borsh into Vec failed: {e}");
    }
    out
}

/// Decode exactly one value from `bytes`, rejecting trailing bytes and inputs above `limit`.
pub fn decode_with_limit<T: BorshDeserialize>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    if bytes.len() > limit {
        return Err(DecodeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    let mut rest = bytes;
    let value = T::deserialize(&mut rest).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

/// Decode with the default limit.
pub fn decode<T: BorshDeserialize>(bytes: &[u8]) -> Result<T, DecodeError> {
    decode_with_limit(bytes, DEFAULT_MAX_DECODE)
}
