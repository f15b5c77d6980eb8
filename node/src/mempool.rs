//! The mempool: transactions waiting for a block.
//!
//! Invariants:
//! - Bounded: at most `max_txs` transactions and `max_bytes` encoded bytes. When full, `insert`
//!   refuses with `MempoolError::Full` ("busy, retry") — never a silent drop.
//! - De-duplicated by transaction id; a transaction already committed is refused.
//! - Only transactions whose signature verifies against the sender's current key enter
//!   (so a block built from the mempool never carries a bad signature).
//! - Per sender, transactions are kept in nonce order; `select` hands out, per sender, only a
//!   gap-free run starting at the sender's next nonce, so a proposer's block never skips a nonce.
//! - No one sender holds the pool: per sender at most `max_nonce_gap` transactions and
//!   `max_sender_bytes` bytes (beyond either, the same retryable "busy" refusal as a full pool).
//! - A nonce hole never stalls a sender for longer than `stall_hold_ms`: a sender whose queue
//!   cannot be selected (its next nonce is missing) for that long has its queue expired
//!   (`expire_stalled`), so what it holds goes back to the pool; its client resubmits
//!   (`WaitForCommit` reports the transactions unknown). Time comes in from the host
//!   (`set_now`): the mempool reads no clock.
//! - Pending transactions live in memory; the ones this node acknowledged are also in its
//!   submission journal (`node::submit_journal`), from which a restarted node re-admits them.
//!   `journaled` marks an entry the journal holds, so a duplicate submission of a transaction
//!   that arrived by gossip is journaled once before it is acknowledged.
use std::collections::{BTreeMap, HashMap};
use tradechain_ledger::codec;
use tradechain_ledger::execute::{SigCheck, next_nonce};
use tradechain_ledger::state::{StateView, get_typed, keys};
use tradechain_ledger::{Hash, Org, OrgId, PublicKey, SignedTransaction};

#[derive(Clone, Debug)]
pub struct MempoolLimits {
    pub max_txs: usize,
    pub max_bytes: usize,
    /// How far ahead of the sender's next nonce a transaction may be queued.
    pub max_nonce_gap: u64,
    /// Encoded bytes one sender may hold in the pool.
    pub max_sender_bytes: usize,
    /// How long a sender's queue may wait behind a missing nonce before it is expired.
    pub stall_hold_ms: i64,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        MempoolLimits {
            max_txs: 50_000,
            max_bytes: 256 * 1024 * 1024,
            max_nonce_gap: 10_000,
            max_sender_bytes: 32 * 1024 * 1024,
            stall_hold_ms: 30_000,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MempoolError {
    #[error("mempool is full ({count} transactions, {bytes} bytes): busy, retry later")]
    Full { count: usize, bytes: usize },
    #[error("transaction {0} is already pending")]
    Duplicate(Hash),
    /// Committed before (accepted or rejected): including it again would stall every proposal
    /// that carries it, since validators refuse a block repeating a committed transaction.
    #[error("transaction {id} is already committed at height {height}")]
    AlreadyCommitted { id: Hash, height: u64 },
    #[error("transaction is for chain {got:?}, this node serves {expected:?}")]
    WrongChain { expected: String, got: String },
    #[error("sender {0} is not a member")]
    UnknownSender(OrgId),
    #[error("sender {org} has no key {key_id}")]
    UnknownKey { org: OrgId, key_id: u32 },
    #[error("signature does not verify against {org}'s key {key_id}")]
    BadSignature { org: OrgId, key_id: u32 },
    #[error("nonce {got} is stale: {org}'s next nonce is {next}")]
    StaleNonce { org: OrgId, got: u64, next: u64 },
    #[error(
        "nonce {got} is too far ahead of {org}'s next committed nonce {next}: its queue is full, busy, retry later"
    )]
    NonceGap { org: OrgId, got: u64, next: u64 },
    #[error("transaction is {size} bytes, above the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("{org} holds {bytes} bytes of pending transactions, its share is {limit}: busy, retry later")]
    SenderQuota { org: OrgId, bytes: usize, limit: usize },
    /// The node cannot keep what it would acknowledge (its submission journal failed).
    #[error("{0}")]
    Unavailable(String),
}

struct Entry {
    tx: SignedTransaction,
    size: usize,
    /// The key the signature verified against on entry.
    key: PublicKey,
    /// In this node's submission journal.
    journaled: bool,
    /// When it was admitted (host time, as of the last `set_now`).
    since_ms: i64,
}

pub struct Mempool {
    chain_id: String,
    limits: MempoolLimits,
    max_tx_bytes: usize,
    by_id: HashMap<Hash, (OrgId, u64)>,
    by_sender: BTreeMap<OrgId, BTreeMap<u64, Entry>>,
    sender_bytes: HashMap<OrgId, usize>,
    /// Senders seen blocked behind a missing nonce, since when (host time).
    blocked_since: HashMap<OrgId, i64>,
    bytes: usize,
    now_ms: i64,
}

impl Mempool {
    pub fn new(chain_id: &str, max_tx_bytes: usize, limits: MempoolLimits) -> Mempool {
        Mempool {
            chain_id: chain_id.to_string(),
            limits,
            max_tx_bytes,
            by_id: HashMap::new(),
            by_sender: BTreeMap::new(),
            sender_bytes: HashMap::new(),
            blocked_since: HashMap::new(),
            bytes: 0,
            now_ms: 0,
        }
    }

    /// The host's current time (the mempool reads no clock itself).
    pub fn set_now(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
    }

    /// Expire the queues of senders stalled behind a missing nonce for longer than
    /// `stall_hold_ms`; returns how many transactions were dropped.
    pub fn expire_stalled(&mut self, state: &dyn StateView) -> usize {
        let hold = self.limits.stall_hold_ms;
        let now = self.now_ms;
        let mut stalled = Vec::new();
        let mut still_blocked = HashMap::new();
        for (sender, queue) in &self.by_sender {
            let next = match get_typed::<Org>(state, &keys::org(sender)) {
                Some(o) => next_nonce(state, &o),
                None => u64::MAX,
            };
            if queue.keys().next().is_none_or(|first| *first == next) {
                continue;
            }
            let since = self.blocked_since.get(sender).copied().unwrap_or(now);
            if now.saturating_sub(since) > hold {
                stalled.extend(queue.values().map(|e| e.tx.id()));
            } else {
                still_blocked.insert(sender.clone(), since);
            }
        }
        self.blocked_since = still_blocked;
        for id in &stalled {
            self.remove(id);
        }
        stalled.len()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
    pub fn bytes(&self) -> usize {
        self.bytes
    }
    pub fn contains(&self, id: &Hash) -> bool {
        self.by_id.contains_key(id)
    }

    /// Whether exactly these bytes (transaction — same id, i.e. same hash — and signature)
    /// verified against `key` on entry,
    /// so block execution need not verify them again.
    pub fn verified(&self, stx: &SignedTransaction, key: &PublicKey) -> bool {
        let Some((sender, nonce)) = self.by_id.get(&stx.id()) else {
            return false;
        };
        self.by_sender
            .get(sender)
            .and_then(|q| q.get(nonce))
            .is_some_and(|e| e.key == *key && e.tx.signature == stx.signature)
    }

    /// The nonce after `org`'s gap-free run of pending transactions starting at `committed_next`
    /// (`committed_next` itself when nothing is pending).
    pub fn pending_next_nonce(&self, org: &OrgId, committed_next: u64) -> u64 {
        let Some(queue) = self.by_sender.get(org) else {
            return committed_next;
        };
        committed_next + gap_free_run(queue, committed_next).count() as u64
    }

    /// Cheap checks that need no signature verification; returns the tx's encoded size.
    fn precheck(&self, tx: &SignedTransaction, state: &dyn StateView) -> Result<(usize, Org), MempoolError> {
        if tx.tx().chain_id != self.chain_id {
            return Err(MempoolError::WrongChain {
                expected: self.chain_id.clone(),
                got: tx.tx().chain_id.clone(),
            });
        }
        let size = codec::encode(tx).len();
        if size > self.max_tx_bytes {
            return Err(MempoolError::TooLarge {
                size,
                limit: self.max_tx_bytes,
            });
        }
        let id = tx.id();
        if self.by_id.contains_key(&id) {
            return Err(MempoolError::Duplicate(id));
        }
        let sender = &tx.tx().sender;
        let org: Org =
            get_typed(state, &keys::org(sender)).ok_or_else(|| MempoolError::UnknownSender(sender.clone()))?;
        if org.key(tx.tx().key_id).is_none() {
            return Err(MempoolError::UnknownKey {
                org: sender.clone(),
                key_id: tx.tx().key_id,
            });
        }
        let next = next_nonce(state, &org);
        if tx.tx().nonce < next {
            return Err(MempoolError::StaleNonce {
                org: sender.clone(),
                got: tx.tx().nonce,
                next,
            });
        }
        if tx.tx().nonce - next > self.limits.max_nonce_gap {
            return Err(MempoolError::NonceGap {
                org: sender.clone(),
                got: tx.tx().nonce,
                next,
            });
        }
        let held = self.sender_bytes.get(sender).copied().unwrap_or(0);
        if held + size > self.limits.max_sender_bytes {
            return Err(MempoolError::SenderQuota {
                org: sender.clone(),
                bytes: held,
                limit: self.limits.max_sender_bytes,
            });
        }
        if self.by_id.len() >= self.limits.max_txs || self.bytes + size > self.limits.max_bytes {
            return Err(MempoolError::Full {
                count: self.by_id.len(),
                bytes: self.bytes,
            });
        }
        Ok((size, org))
    }

    /// Admit one transaction (signature verified singly).
    pub fn insert(&mut self, tx: SignedTransaction, state: &dyn StateView) -> Result<Hash, MempoolError> {
        let (size, org) = self.precheck(&tx, state)?;
        let key_id = tx.tx().key_id;
        let pk = org.key(key_id).ok_or_else(|| MempoolError::UnknownKey {
            org: org.id.clone(),
            key_id,
        })?;
        tx.verify_signature(pk).map_err(|_| MempoolError::BadSignature {
            org: org.id.clone(),
            key_id,
        })?;
        let pk = *pk;
        Ok(self.admit(tx, size, pk))
    }

    /// Admit a transaction whose signature the caller verified against `key` **outside** the
    /// mempool lock (with `tradechain_ledger::execute::check_signatures`). The key must still be the sender's key in
    /// `state` (it may have rotated since), or the transaction is refused as unverified.
    pub fn insert_verified(
        &mut self,
        tx: SignedTransaction,
        state: &dyn StateView,
        key: &PublicKey,
    ) -> Result<Hash, MempoolError> {
        let (size, org) = self.precheck(&tx, state)?;
        if org.key(tx.tx().key_id) != Some(key) {
            return Err(MempoolError::BadSignature {
                org: org.id.clone(),
                key_id: tx.tx().key_id,
            });
        }
        Ok(self.admit(tx, size, *key))
    }

    /// Admit transactions whose signatures were checked **outside** the mempool lock
    /// (`check_signatures`, one ed25519 batch); results in input order. A signature the check
    /// found bad is refused without verifying it again under the lock (after the same prechecks
    /// `insert` makes, so the refusal names the first problem); one whose key was unknown goes
    /// through `insert`, which names why it is refused.
    pub fn admit_checked(
        &mut self,
        txs: Vec<SignedTransaction>,
        checks: Vec<SigCheck>,
        state: &dyn StateView,
    ) -> Vec<Result<Hash, MempoolError>> {
        debug_assert_eq!(txs.len(), checks.len());
        txs.into_iter()
            .zip(checks)
            .map(|(tx, check)| match check {
                SigCheck::Verified(k) => self.insert_verified(tx, state, &k),
                SigCheck::Bad => self.precheck(&tx, state).and_then(|_| {
                    Err(MempoolError::BadSignature {
                        org: tx.tx().sender.clone(),
                        key_id: tx.tx().key_id,
                    })
                }),
                SigCheck::UnknownKey => self.insert(tx, state),
            })
            .collect()
    }

    fn admit(&mut self, tx: SignedTransaction, size: usize, key: PublicKey) -> Hash {
        let id = tx.id();
        let sender = tx.tx().sender.clone();
        let nonce = tx.tx().nonce;
        let queue = self.by_sender.entry(sender.clone()).or_default();
        let entry = Entry {
            tx,
            size,
            key,
            journaled: false,
            since_ms: self.now_ms,
        };
        let held = self.sender_bytes.entry(sender.clone()).or_default();
        if let Some(old) = queue.insert(nonce, entry) {
            // Same sender and nonce, different content: the newer replaces the older.
            self.bytes -= old.size;
            *held -= old.size;
            self.by_id.remove(&old.tx.id());
        }
        self.bytes += size;
        *held += size;
        self.by_id.insert(id, (sender, nonce));
        debug_assert_eq!(
            self.by_id.len(),
            self.by_sender.values().map(|q| q.len()).sum::<usize>()
        );
        id
    }

    /// Transactions for the next block: per sender, the gap-free run from its next nonce,
    /// senders interleaved round-robin, up to the limits.
    pub fn select(&self, max_txs: usize, max_bytes: usize, state: &dyn StateView) -> Vec<SignedTransaction> {
        self.select_where(max_txs, max_bytes, state, |_| true)
    }

    /// Like `select`, but only transactions admitted at least `age_ms` ago (each run cut at its
    /// first younger one): what has waited long enough that peers may have missed its gossip.
    pub fn select_older(&self, age_ms: i64, max_txs: usize, state: &dyn StateView) -> Vec<SignedTransaction> {
        let before = self.now_ms.saturating_sub(age_ms);
        self.select_where(max_txs, usize::MAX, state, |e| e.since_ms <= before)
    }

    fn select_where(
        &self,
        max_txs: usize,
        max_bytes: usize,
        state: &dyn StateView,
        keep: impl Fn(&Entry) -> bool,
    ) -> Vec<SignedTransaction> {
        let mut runs: Vec<Vec<&Entry>> = Vec::new();
        for (sender, queue) in &self.by_sender {
            let Some(org) = get_typed::<Org>(state, &keys::org(sender)) else {
                continue;
            };
            let first = next_nonce(state, &org);
            let run: Vec<&Entry> = gap_free_run(queue, first).take_while(|e| keep(e)).collect();
            if !run.is_empty() {
                runs.push(run);
            }
        }
        let mut out = Vec::new();
        let mut bytes = 0usize;
        let mut depth = 0;
        loop {
            let mut any = false;
            for run in &runs {
                if let Some(e) = run.get(depth) {
                    any = true;
                    if out.len() >= max_txs || bytes + e.size > max_bytes {
                        return out;
                    }
                    bytes += e.size;
                    out.push(e.tx.clone());
                }
            }
            if !any {
                return out;
            }
            depth += 1;
        }
    }

    /// After a commit: drop committed transactions and any whose nonce is now stale.
    pub fn evict_committed(&mut self, committed: &[SignedTransaction], state: &dyn StateView) {
        for tx in committed {
            self.remove(&tx.id());
        }
        let senders: Vec<OrgId> = self.by_sender.keys().cloned().collect();
        for sender in senders {
            let next = get_typed::<Org>(state, &keys::org(&sender)).map(|o| next_nonce(state, &o));
            let stale: Vec<Hash> = match (next, self.by_sender.get(&sender)) {
                (Some(next), Some(q)) => q.range(..next).map(|(_, e)| e.tx.id()).collect(),
                (None, Some(q)) => q.values().map(|e| e.tx.id()).collect(),
                _ => Vec::new(),
            };
            for id in stale {
                self.remove(&id);
            }
        }
    }

    /// Mark a pending transaction as held by the submission journal; true when it was not yet
    /// (the caller journals it then), false when it was or is not pending.
    pub fn mark_journaled(&mut self, id: &Hash) -> bool {
        let Some((sender, nonce)) = self.by_id.get(id) else {
            return false;
        };
        match self.by_sender.get_mut(sender).and_then(|q| q.get_mut(nonce)) {
            Some(e) if !e.journaled => {
                e.journaled = true;
                true
            }
            _ => false,
        }
    }

    /// Every pending transaction, per sender in nonce order; all are marked journaled (the
    /// caller writes them into a compacted journal).
    pub fn snapshot_for_journal(&mut self) -> Vec<SignedTransaction> {
        let mut out = Vec::with_capacity(self.by_id.len());
        for q in self.by_sender.values_mut() {
            for e in q.values_mut() {
                e.journaled = true;
                out.push(e.tx.clone());
            }
        }
        out
    }

    pub fn remove(&mut self, id: &Hash) -> bool {
        let Some((sender, nonce)) = self.by_id.remove(id) else {
            return false;
        };
        if let Some(q) = self.by_sender.get_mut(&sender) {
            if let Some(e) = q.remove(&nonce) {
                self.bytes -= e.size;
                if let Some(held) = self.sender_bytes.get_mut(&sender) {
                    *held -= e.size;
                }
            }
            if q.is_empty() {
                self.by_sender.remove(&sender);
                self.sender_bytes.remove(&sender);
            }
        }
        true
    }
}

/// A sender's queued entries with consecutive nonces from `first` (stops at the first gap).
fn gap_free_run(queue: &BTreeMap<u64, Entry>, first: u64) -> impl Iterator<Item = &Entry> {
    queue
        .range(first..)
        .zip(first..)
        .take_while(|((n, _), want)| **n == *want)
        .map(|((_, e), _)| e)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tradechain_ledger::Payload;
    use tradechain_ledger::execute::check_signatures;
    use tradechain_ledger::payload::{Action, EventType};
    use tradechain_ledger::testkit::{Chain, event, observe, oid, secret};
    use tradechain_ledger::tx::{TX_VERSION, Transaction};

    fn commission(c: &Chain, nonce: u64, serial: u32) -> SignedTransaction {
        let epc = format!("urn:epc:id:sgtin:6901234.012345.S{serial}");
        let mut e = event(EventType::ObjectEvent, Some(Action::Add), &[&epc], c.time_ms);
        e.biz_step = Some("urn:epcglobal:cbv:bizstep:commissioning".into());
        e.disposition = Some("urn:epcglobal:cbv:disp:active".into());
        e.read_point = Some("urn:epc:id:sgln:6901234.00001.0".into());
        c.sign("PRODUCER-FZ", nonce, Payload::Provenance(e))
    }

    fn pool(limits: MempoolLimits) -> Mempool {
        Mempool::new(tradechain_ledger::testkit::CHAIN_ID, 64 * 1024, limits)
    }

    #[test]
    fn one_sender_cannot_hold_the_pool_by_bytes() {
        let c = Chain::demo();
        let one = commission(&c, 1, 1);
        let size = codec::encode(&one).len();
        let mut m = pool(MempoolLimits {
            max_sender_bytes: size * 3,
            ..MempoolLimits::default()
        });
        for n in 1..=3 {
            m.insert(commission(&c, n, n as u32), &c.state).unwrap();
        }
        let refused = m.insert(commission(&c, 4, 4), &c.state).unwrap_err();
        assert!(matches!(refused, MempoolError::SenderQuota { .. }), "{refused:?}");
        assert!(refused.to_string().contains("retry"), "retryable: {refused}");
        // Another sender still gets in.
        let mut e = observe(&["urn:epc:id:sgtin:6901234.012345.S1"], c.time_ms, "arriving", "CNFOC");
        e.read_point = None;
        let other = c.sign("PORT-CNFOC", 1, Payload::Provenance(e));
        m.insert(other, &c.state).unwrap();
        // Committing frees the sender's share.
        m.remove(&commission(&c, 1, 1).id());
        m.insert(commission(&c, 4, 4), &c.state).unwrap();
    }

    #[test]
    fn only_transactions_pending_long_enough_are_offered_again_in_nonce_order() {
        let c = Chain::demo();
        let mut m = pool(MempoolLimits::default());
        m.set_now(1_000);
        m.insert(commission(&c, 1, 1), &c.state).unwrap();
        m.insert(commission(&c, 2, 2), &c.state).unwrap();
        m.set_now(5_000);
        m.insert(commission(&c, 3, 3), &c.state).unwrap();
        m.set_now(6_000);
        // 1 and 2 are 5 s old, 3 only 1 s: the run stops before it.
        let old: Vec<u64> = m
            .select_older(5_000, 100, &c.state)
            .iter()
            .map(|t| t.tx().nonce)
            .collect();
        assert_eq!(old, vec![1, 2]);
        assert!(m.select_older(5_001, 100, &c.state).is_empty());
        m.set_now(10_000);
        assert_eq!(m.select_older(5_000, 100, &c.state).len(), 3);
        // A young transaction ahead in the run hides the older ones behind it (gap-free runs).
        let mut m = pool(MempoolLimits::default());
        m.set_now(9_000);
        m.insert(commission(&c, 1, 1), &c.state).unwrap();
        m.set_now(1_000);
        m.insert(commission(&c, 2, 2), &c.state).unwrap();
        m.set_now(9_500);
        assert!(m.select_older(5_000, 100, &c.state).is_empty());
    }

    #[test]
    fn a_nonce_hole_stalls_its_sender_at_most_the_hold_time() {
        let c = Chain::demo();
        let mut m = pool(MempoolLimits {
            stall_hold_ms: 30_000,
            ..MempoolLimits::default()
        });
        // Nonce 1 never arrives: 2..=5 cannot be selected.
        for n in 2..=5 {
            m.insert(commission(&c, n, n as u32), &c.state).unwrap();
        }
        // A flowing sender is never expired.
        let mut e = observe(&["urn:epc:id:sgtin:6901234.012345.S9"], c.time_ms, "arriving", "CNFOC");
        e.read_point = None;
        m.insert(c.sign("PORT-CNFOC", 1, Payload::Provenance(e)), &c.state)
            .unwrap();
        m.set_now(1_000);
        assert_eq!(m.expire_stalled(&c.state), 0, "first seen blocked: the clock starts");
        m.set_now(31_000);
        assert_eq!(m.expire_stalled(&c.state), 0, "exactly the hold: kept");
        m.set_now(31_001);
        assert_eq!(
            m.expire_stalled(&c.state),
            4,
            "past the hold: the stalled queue is expired"
        );
        assert_eq!(m.len(), 1);
        assert!(
            m.select(100, usize::MAX, &c.state)
                .iter()
                .all(|t| t.tx().sender == oid("PORT-CNFOC"))
        );
        // The hole filled in time: nothing expires.
        let mut m = pool(MempoolLimits::default());
        m.insert(commission(&c, 2, 2), &c.state).unwrap();
        m.set_now(0);
        m.expire_stalled(&c.state);
        m.insert(commission(&c, 1, 1), &c.state).unwrap();
        m.set_now(60_000);
        assert_eq!(m.expire_stalled(&c.state), 0);
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn admits_in_nonce_order_and_selects_gap_free_runs() {
        let c = Chain::demo();
        let mut m = pool(MempoolLimits::default());
        for n in [1, 2, 4] {
            m.insert(commission(&c, n, n as u32), &c.state).unwrap();
        }
        assert_eq!(m.len(), 3);
        let picked: Vec<u64> = m
            .select(100, usize::MAX, &c.state)
            .iter()
            .map(|t| t.tx().nonce)
            .collect();
        assert_eq!(picked, vec![1, 2], "nonce 4 waits for 3");
        assert_eq!(m.pending_next_nonce(&oid("PRODUCER-FZ"), 1), 3);
        assert_eq!(m.pending_next_nonce(&oid("CUSTOMS-CN"), 7), 7);
        m.insert(commission(&c, 3, 3), &c.state).unwrap();
        assert_eq!(m.select(100, usize::MAX, &c.state).len(), 4);
        assert_eq!(m.select(2, usize::MAX, &c.state).len(), 2, "count limit");
    }

    #[test]
    fn refuses_duplicates_bad_signatures_stale_and_far_nonces() {
        let c = Chain::demo();
        let mut m = pool(MempoolLimits {
            max_nonce_gap: 5,
            ..MempoolLimits::default()
        });
        let t = commission(&c, 1, 1);
        m.insert(t.clone(), &c.state).unwrap();
        assert!(matches!(m.insert(t, &c.state), Err(MempoolError::Duplicate(_))));
        assert!(matches!(
            m.insert(commission(&c, 0, 9), &c.state),
            Err(MempoolError::StaleNonce { next: 1, .. })
        ));
        assert!(matches!(
            m.insert(commission(&c, 7, 9), &c.state),
            Err(MempoolError::NonceGap { .. })
        ));
        // Signed by the wrong key.
        let mut forged = commission(&c, 2, 2);
        forged = forged.tx().clone().sign(&secret("CUSTOMS-CN"));
        assert!(matches!(
            m.insert(forged, &c.state),
            Err(MempoolError::BadSignature { .. })
        ));
        let stranger = Transaction {
            version: TX_VERSION,
            chain_id: c.genesis.chain_id.clone(),
            sender: oid("NOBODY-XX"),
            key_id: 1,
            nonce: 1,
            time_ms: 0,
            payload: Payload::Provenance(observe(&["urn:epc:id:sgtin:6901234.012345.S1"], 0, "shipping", "CNFOC")),
        }
        .sign(&secret("NOBODY-XX"));
        assert!(matches!(
            m.insert(stranger, &c.state),
            Err(MempoolError::UnknownSender(_))
        ));
        let wrong_chain = Transaction {
            chain_id: "other-chain".into(),
            ..commission(&c, 2, 2).tx().clone()
        }
        .sign(&secret("PRODUCER-FZ"));
        assert!(matches!(
            m.insert(wrong_chain, &c.state),
            Err(MempoolError::WrongChain { .. })
        ));
        assert_eq!(m.len(), 1, "only the first transaction was admitted");
    }

    #[test]
    fn full_pool_says_busy_and_batch_names_bad_signatures() {
        let c = Chain::demo();
        let mut m = pool(MempoolLimits {
            max_txs: 3,
            ..MempoolLimits::default()
        });
        let mut batch: Vec<SignedTransaction> = (1..=4).map(|n| commission(&c, n, n as u32)).collect();
        batch[1] = batch[1].tx().clone().sign(&secret("CUSTOMS-CN"));
        let checks = check_signatures(&c.state, &batch, &|_, _| false);
        let r = m.admit_checked(batch, checks, &c.state);
        assert!(r[0].is_ok());
        assert!(matches!(r[1], Err(MempoolError::BadSignature { .. })));
        assert!(r[2].is_ok() && r[3].is_ok());
        assert!(matches!(
            m.insert(commission(&c, 5, 5), &c.state),
            Err(MempoolError::Full { count: 3, .. })
        ));
        assert_eq!(m.len(), 3);
        let bytes = m.bytes();
        assert!(bytes > 0);
        assert!(m.remove(r[0].as_ref().unwrap()));
        assert!(m.bytes() < bytes);
    }

    #[test]
    fn vouches_only_for_the_exact_bytes_it_verified() {
        let c = Chain::demo();
        let mut m = pool(MempoolLimits::default());
        let t = commission(&c, 1, 1);
        m.insert(t.clone(), &c.state).unwrap();
        let pk = secret("PRODUCER-FZ").public();
        assert!(m.verified(&t, &pk));
        assert!(!m.verified(&t, &secret("CUSTOMS-CN").public()), "another key");
        let mut other_sig = t.clone();
        other_sig.signature = t.tx().clone().sign(&secret("CUSTOMS-CN")).signature;
        assert!(!m.verified(&other_sig, &pk), "same tx id, another signature");
        assert!(!m.verified(&commission(&c, 2, 2), &pk), "not in the pool");
    }

    #[test]
    fn verification_outside_the_lock_then_admission() {
        let c = Chain::demo();
        let mut m = pool(MempoolLimits::default());
        let good = commission(&c, 1, 1);
        let forged = commission(&c, 2, 2).tx().clone().sign(&secret("CUSTOMS-CN"));
        let checks = check_signatures(&c.state, &[good.clone(), forged.clone()], &|_, _| false);
        let pk = secret("PRODUCER-FZ").public();
        assert_eq!(checks, vec![SigCheck::Verified(pk), SigCheck::Bad]);
        m.insert_verified(good.clone(), &c.state, &pk).unwrap();
        assert!(m.verified(&good, &pk));
        // A key that is not (or no longer) the sender's is refused.
        let other = commission(&c, 3, 3);
        assert!(matches!(
            m.insert_verified(other, &c.state, &secret("CUSTOMS-CN").public()),
            Err(MempoolError::BadSignature { .. })
        ));
    }

    #[test]
    fn commit_evicts_included_and_stale() {
        let mut c = Chain::demo();
        let mut m = pool(MempoolLimits::default());
        let txs: Vec<SignedTransaction> = (1..=3).map(|n| commission(&c, n, n as u32)).collect();
        for t in &txs {
            m.insert(t.clone(), &c.state).unwrap();
        }
        // Another node's block carried nonces 1 and 2 (a different tx with nonce 2).
        let other2 = commission(&c, 2, 99);
        c.execute(&[txs[0].clone(), other2.clone()]).unwrap();
        m.evict_committed(&[txs[0].clone(), other2], &c.state);
        assert_eq!(m.len(), 1, "the included and the now-stale nonce-2 transaction left");
        assert!(m.contains(&txs[2].id()));
        assert_eq!(m.select(10, usize::MAX, &c.state).len(), 1);
    }
}
