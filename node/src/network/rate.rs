//! Per-peer inbound rate limiting: one integer token bucket per peer and traffic class.
//!
//! Invariants: consensus messages, transaction gossip and requests each have their own budget
//! per peer, so a transaction flood (or a sync-request flood) from a peer never uses up the
//! tokens its consensus messages need — a throttled gossip never costs a vote. A bucket never
//! holds more than `burst` tokens; each admitted message costs one token; tokens refill
//! at `per_sec` per second from the wall clock (networking only — nothing here feeds consensus). Integer
//! arithmetic in milli-tokens, no floats.

use std::{collections::HashMap, time::Instant};

use libp2p::PeerId;

const MILLI: u64 = 1000;

/// One token bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    milli_tokens: u64,
    capacity: u64,
    per_sec: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `burst` tokens refilling at `per_sec` tokens per second.
    pub fn new(per_sec: u32, burst: u32, now: Instant) -> TokenBucket {
        let capacity = u64::from(burst.max(1)).saturating_mul(MILLI);
        TokenBucket {
            milli_tokens: capacity,
            capacity,
            per_sec: u64::from(per_sec),
            last: now,
        }
    }

    /// Takes one token if available.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed_ms = u64::try_from(now.saturating_duration_since(self.last).as_millis()).unwrap_or(u64::MAX);
        // per_sec tokens per 1000 ms = per_sec milli-tokens per ms.
        let refill = elapsed_ms.saturating_mul(self.per_sec);
        if refill > 0 {
            self.milli_tokens = self.milli_tokens.saturating_add(refill).min(self.capacity);
            self.last = now;
        }
        if self.milli_tokens >= MILLI {
            self.milli_tokens -= MILLI;
            true
        } else {
            false
        }
    }
}

/// What an inbound message is, for rate budgeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    Consensus,
    Txs,
    Requests,
}

/// A budget: tokens per second and burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub per_sec: u32,
    pub burst: u32,
}

/// Token buckets for all peers, one per class.
#[derive(Debug)]
pub struct RateLimiter {
    consensus: Budget,
    txs: Budget,
    requests: Budget,
    buckets: HashMap<(PeerId, Class), TokenBucket>,
}

impl RateLimiter {
    /// Limits every peer to `per_sec` messages per second with bursts of `burst`, in each class.
    pub fn new(per_sec: u32, burst: u32) -> RateLimiter {
        let b = Budget { per_sec, burst };
        RateLimiter::with_budgets(b, b, b)
    }

    /// Separate budgets per class.
    pub fn with_budgets(consensus: Budget, txs: Budget, requests: Budget) -> RateLimiter {
        RateLimiter {
            consensus,
            txs,
            requests,
            buckets: HashMap::new(),
        }
    }

    /// Whether one more message of `class` from `peer` is admitted now.
    pub fn admit(&mut self, peer: PeerId, class: Class, now: Instant) -> bool {
        let b = match class {
            Class::Consensus => self.consensus,
            Class::Txs => self.txs,
            Class::Requests => self.requests,
        };
        self.buckets
            .entry((peer, class))
            .or_insert_with(|| TokenBucket::new(b.per_sec, b.burst, now))
            .try_take(now)
    }

    /// Forgets a disconnected peer.
    pub fn remove(&mut self, peer: &PeerId) {
        for class in [Class::Consensus, Class::Txs, Class::Requests] {
            self.buckets.remove(&(*peer, class));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_burst_then_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, 5, t0);
        for _ in 0..5 {
            assert!(b.try_take(t0));
        }
        assert!(!b.try_take(t0));
        // 100 ms at 10/s = one token.
        assert!(b.try_take(t0 + Duration::from_millis(100)));
        assert!(!b.try_take(t0 + Duration::from_millis(100)));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..5 {
            assert!(b.try_take(later));
        }
        assert!(!b.try_take(later));
    }

    #[test]
    fn limiter_is_per_peer() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(1, 1);
        let (a, b) = (PeerId::random(), PeerId::random());
        assert!(l.admit(a, Class::Txs, t0));
        assert!(!l.admit(a, Class::Txs, t0));
        assert!(l.admit(b, Class::Txs, t0));
    }

    #[test]
    fn a_transaction_flood_never_spends_the_consensus_budget() {
        let t0 = Instant::now();
        let b = |per_sec, burst| Budget { per_sec, burst };
        let mut l = RateLimiter::with_budgets(b(10, 10), b(10, 10), b(1, 2));
        let p = PeerId::random();
        let admitted_txs = (0..10_000).filter(|_| l.admit(p, Class::Txs, t0)).count();
        assert_eq!(admitted_txs, 10);
        let admitted_reqs = (0..10_000).filter(|_| l.admit(p, Class::Requests, t0)).count();
        assert_eq!(admitted_reqs, 2);
        // The same peer's votes still get their whole budget.
        assert_eq!((0..10).filter(|_| l.admit(p, Class::Consensus, t0)).count(), 10);
        l.remove(&p);
        assert!(l.admit(p, Class::Txs, t0), "a reconnected peer starts afresh");
    }
}
