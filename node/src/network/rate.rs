//! Per-peer inbound rate limiting: one integer token bucket per peer.
//!
//! Invariants: a bucket never holds more than `burst` tokens; each admitted message costs one token; tokens refill
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

/// Token buckets for all peers.
#[derive(Debug)]
pub struct RateLimiter {
    per_sec: u32,
    burst: u32,
    buckets: HashMap<PeerId, TokenBucket>,
}

impl RateLimiter {
    /// Limits every peer to `per_sec` messages per second with bursts of `burst`.
    pub fn new(per_sec: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            per_sec,
            burst,
            buckets: HashMap::new(),
        }
    }

    /// Whether one more message from `peer` is admitted now.
    pub fn admit(&mut self, peer: PeerId, now: Instant) -> bool {
        let (per_sec, burst) = (self.per_sec, self.burst);
        self.buckets
            .entry(peer)
            .or_insert_with(|| TokenBucket::new(per_sec, burst, now))
            .try_take(now)
    }

    /// Forgets a disconnected peer.
    pub fn remove(&mut self, peer: &PeerId) {
        self.buckets.remove(peer);
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
        assert!(l.admit(a, t0));
        assert!(!l.admit(a, t0));
        assert!(l.admit(b, t0));
    }
}
