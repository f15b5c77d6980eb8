//! Consensus messages for heights above the engine's current one, kept until it gets there.
//!
//! Owns: the bounded store of such messages. They cannot be verified yet (the validator set of a
//! future height may differ), so any member peer can send them: the buffer is the one place a
//! flood of unverifiable messages could grow without limit.
//!
//! Invariants (asserted in debug builds after every change):
//! - at most `MAX_MSGS` messages and `MAX_BYTES` encoded bytes are held;
//! - only heights in `(current, current + HEIGHT_WINDOW]` are held (farther ones are left to
//!   block sync);
//! - when full, the message of the farthest height goes first, so a flood of far-future
//!   messages never pushes out the next height's honest votes.
use crate::wire::ConsensusMsg;
use std::collections::BTreeMap;

/// Messages kept for future heights at most.
pub const MAX_MSGS: usize = 4096;
/// Encoded bytes kept for future heights at most (proposals carry whole blocks).
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
/// How many heights ahead a message may be buffered.
pub const HEIGHT_WINDOW: u64 = 8;

#[derive(Default)]
pub struct FutureBuffer {
    by_height: BTreeMap<u64, Vec<(usize, ConsensusMsg)>>,
    len: usize,
    bytes: usize,
}

impl FutureBuffer {
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Keep `msg` (for a height above `current`) if the bounds allow; returns whether it is kept.
    pub fn insert(&mut self, current: u64, msg: ConsensusMsg) -> bool {
        let h = msg.height();
        if h <= current || h > current.saturating_add(HEIGHT_WINDOW) {
            return false;
        }
        let size = borsh::object_length(&msg).unwrap_or(usize::MAX);
        if size > MAX_BYTES {
            return false;
        }
        while self.len >= MAX_MSGS || self.bytes + size > MAX_BYTES {
            // Evict from the farthest height, unless the newcomer is at least as far.
            let Some(mut far) = self.by_height.last_entry() else {
                break;
            };
            if *far.key() <= h {
                return false;
            }
            if let Some((s, _)) = far.get_mut().pop() {
                self.len -= 1;
                self.bytes -= s;
            }
            if far.get().is_empty() {
                far.remove();
            }
        }
        self.by_height.entry(h).or_default().push((size, msg));
        self.len += 1;
        self.bytes += size;
        self.check();
        true
    }

    /// The engine moved to `height`: hand out that height's messages (in arrival order) and
    /// forget older ones.
    pub fn take_for(&mut self, height: u64) -> Vec<ConsensusMsg> {
        let later = self.by_height.split_off(&height.saturating_add(1));
        let now_and_before = std::mem::replace(&mut self.by_height, later);
        let mut out = Vec::new();
        for (h, msgs) in now_and_before {
            for (s, m) in msgs {
                self.len -= 1;
                self.bytes -= s;
                if h == height {
                    out.push(m);
                }
            }
        }
        self.check();
        out
    }

    fn check(&self) {
        debug_assert!(self.len <= MAX_MSGS && self.bytes <= MAX_BYTES);
        debug_assert_eq!(self.len, self.by_height.values().map(|v| v.len()).sum::<usize>());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn cert(height: u64, pad: usize) -> ConsensusMsg {
        ConsensusMsg::PolkaCertificate {
            height,
            round: 0,
            block_hash: tradechain_ledger::Hash::ZERO,
            signatures: (0..pad)
                .map(|_| tradechain_ledger::certificate::CommitSig {
                    validator: tradechain_ledger::PublicKey([0; 32]),
                    signature: tradechain_ledger::Signature([0; 64]),
                })
                .collect(),
        }
    }

    #[test]
    fn a_far_future_flood_never_evicts_the_next_height() {
        let mut b = FutureBuffer::default();
        assert!(b.insert(10, cert(11, 0)));
        for _ in 0..3 * MAX_MSGS {
            b.insert(10, cert(18, 0));
        }
        assert_eq!(b.len(), MAX_MSGS);
        // Beyond the window, at or below the current height: never kept.
        assert!(!b.insert(10, cert(19, 0)));
        assert!(!b.insert(10, cert(10, 0)));
        assert!(!b.insert(10, cert(u64::MAX, 0)));
        // A nearer message pushes out a farther one.
        assert!(b.insert(10, cert(12, 0)));
        assert_eq!(b.len(), MAX_MSGS);
        assert_eq!(b.take_for(11).len(), 1);
        assert_eq!(b.take_for(12).len(), 1);
        assert_eq!(b.len(), MAX_MSGS - 2);
        assert!(b.take_for(20).is_empty() && b.is_empty() && b.bytes() == 0);
    }

    #[test]
    fn bytes_are_bounded_too() {
        let mut b = FutureBuffer::default();
        let big = cert(12, 100_000); // ~10 MB
        let size = borsh::object_length(&big).unwrap();
        assert!(size > MAX_BYTES / 8);
        let mut kept = 0;
        for _ in 0..100 {
            if b.insert(10, big.clone()) {
                kept += 1;
            }
        }
        assert!(b.bytes() <= MAX_BYTES);
        assert_eq!(kept, MAX_BYTES / size);
        // One message larger than the whole budget is refused outright.
        assert!(!b.insert(10, cert(11, MAX_BYTES / 96 + 1)));
    }
}
