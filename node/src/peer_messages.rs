//! Messages between nodes other than consensus votes/proposals: transaction gossip and block
//! sync. Borsh-encoded; every decode is bounded by the configured message size and rejects
//! trailing bytes, so garbage from a peer is an error, never a panic.
use borsh::{BorshDeserialize, BorshSerialize};
use tradechain_ledger::codec::{DecodeError, decode_with_limit};
use tradechain_ledger::{Block, CommitCertificate, SignedTransaction};

/// Most blocks one sync response carries.
pub const MAX_SYNC_BLOCKS: u32 = 64;

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum TxGossip {
    Batch(Vec<SignedTransaction>),
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SyncRequest {
    /// Blocks from `from` on, at most `max`.
    Blocks { from: u64, max: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum SyncResponse {
    Blocks {
        head: u64,
        blocks: Vec<(Block, CommitCertificate)>,
    },
}

pub fn decode<T: BorshDeserialize>(bytes: &[u8], limit: usize) -> Result<T, DecodeError> {
    decode_with_limit(bytes, limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = decode::<TxGossip>(&bytes, 1 << 20);
            let _ = decode::<SyncRequest>(&bytes, 1 << 20);
            let _ = decode::<SyncResponse>(&bytes, 1 << 20);
        }
    }

    #[test]
    fn oversized_and_trailing_are_rejected() {
        let req = tradechain_ledger::codec::encode(&SyncRequest::Blocks { from: 1, max: 4 });
        assert!(matches!(
            decode::<SyncRequest>(&req, 3),
            Err(DecodeError::TooLarge { .. })
        ));
        let mut long = req.clone();
        long.push(0);
        assert!(matches!(
            decode::<SyncRequest>(&long, 1024),
            Err(DecodeError::TrailingBytes(1))
        ));
        assert_eq!(
            decode::<SyncRequest>(&req, 1024),
            Ok(SyncRequest::Blocks { from: 1, max: 4 })
        );
    }
}
