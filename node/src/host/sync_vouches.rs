//! Signatures of synced blocks, verified before the host applies them.
//!
//! A sync response is decoded off the core task (`runtime`), and there every transaction
//! signature in it is batch-verified against the key its sender has at this node's head, through
//! the ledger's one signature check (`execute::check_signatures`). The host gets the set of what
//! verified with the blocks and its block check skips exactly those, as it skips what the mempool
//! verified on entry: so a syncing node verifies the next response's signatures on another core
//! while it executes and commits this one.
//!
//! Invariants:
//! - A vouch is this node's own verification of the bytes it received, never a peer's claim:
//!   [`SyncVouches::verify`] is the only way to make a non-empty set.
//! - A vouch binds the transaction id (its body digest), the key and the signature bytes, as the
//!   mempool's `verified` does: a transaction checked at its block against another key (rotated
//!   by an earlier block of the same response), or carrying other signature bytes, is verified
//!   again by the block check.
//! - Bounded by the response it came with (at most `MAX_SYNC_BLOCKS` blocks within half a
//!   message); the host drops it when the response is applied.
use std::collections::HashSet;
use std::sync::Arc;
use tradechain_ledger::execute::{Preverified, SigCheck, check_signatures};
use tradechain_ledger::state::StateView;
use tradechain_ledger::{Block, CommitCertificate, Hash, PublicKey, SignedTransaction};

/// What verified in one sync response: (transaction id, key, signature bytes).
#[derive(Clone, Debug, Default)]
pub struct SyncVouches(Arc<HashSet<(Hash, PublicKey, [u8; 64])>>);

impl SyncVouches {
    /// Verify the transaction signatures in `blocks` above `head` against the keys in force in
    /// `view` (this node's state at `head`), one batch per block, except those `already`
    /// vouches for (the mempool verified them on entry); the set holds those that verified.
    pub fn verify(
        view: &dyn StateView,
        head: u64,
        blocks: &[(Block, CommitCertificate)],
        already: Preverified,
    ) -> SyncVouches {
        let mut set = HashSet::new();
        for (block, _) in blocks.iter().filter(|(b, _)| b.header.height > head) {
            let checks = check_signatures(view, &block.txs, already);
            debug_assert_eq!(checks.len(), block.txs.len());
            for (t, c) in block.txs.iter().zip(checks) {
                if let SigCheck::Verified(k) = c
                    && !already(t, &k)
                {
                    set.insert((t.id(), k, t.signature.0));
                }
            }
        }
        SyncVouches(Arc::new(set))
    }

    /// Whether exactly this transaction (id and signature bytes) verified against `key`.
    pub fn covers(&self, t: &SignedTransaction, key: &PublicKey) -> bool {
        !self.0.is_empty() && self.0.contains(&(t.id(), *key, t.signature.0))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tradechain_ledger::TxOutcome;
    use tradechain_ledger::block_check::{Parent, Seal, assemble};
    use tradechain_ledger::payload::Payload;
    use tradechain_ledger::payload::settlement::SettlementOp;
    use tradechain_ledger::testkit::{self, Chain};

    fn response(chain: &Chain, txs: Vec<SignedTransaction>) -> Vec<(Block, CommitCertificate)> {
        let parent = Parent {
            height: 0,
            block_hash: Hash([0; 32]),
            time_ms: chain.genesis.genesis_time_ms,
        };
        let seal = Seal {
            time_ms: chain.genesis.genesis_time_ms + 1,
            proposer: testkit::secret("CUSTOMS-CN").public(),
            validators_hash: Hash([0; 32]),
            state_hash: Hash([0; 32]),
        };
        let outcomes = vec![TxOutcome::Accepted; txs.len()];
        let block = assemble(&chain.genesis.chain_id, &parent, seal, &outcomes, txs);
        let cert = CommitCertificate {
            height: 1,
            round: 0,
            block_hash: block.hash(),
            signatures: Vec::new(),
        };
        vec![(block, cert)]
    }

    fn payload() -> Payload {
        Payload::Settlement(SettlementOp::Confirm {
            payer_bank: testkit::oid("BANK-NL"),
            settlement_id: "STL-1".into(),
        })
    }

    #[test]
    fn only_what_verifies_here_is_vouched_for() {
        let chain = Chain::demo();
        let honest = chain.tx("BANK-CN", payload());
        // A member's crafted transactions: a body changed after signing (signature kept),
        // signed with another org's key, and from an org the ledger does not know.
        let mut changed = chain.tx("BANK-NL", payload());
        changed.tx_mut().nonce += 1;
        let mut other_key = chain.tx("BANK-NL", payload());
        other_key.signature = chain.tx("BANK-CN", payload()).signature;
        let unknown = chain.sign("NOBODY-XX", 1, payload());
        let blocks = response(
            &chain,
            vec![honest.clone(), changed.clone(), other_key.clone(), unknown.clone()],
        );
        let v = SyncVouches::verify(&chain.state, 0, &blocks, &|_, _| false);
        assert_eq!(v.len(), 1, "only the honest transaction verified");
        let key = testkit::secret("BANK-CN").public();
        assert!(v.covers(&honest, &key));
        for t in [&changed, &other_key, &unknown] {
            for org in ["BANK-CN", "BANK-NL", "NOBODY-XX"] {
                assert!(!v.covers(t, &testkit::secret(org).public()), "{org}");
            }
        }
    }

    #[test]
    fn a_vouch_binds_the_key_and_the_signature_bytes() {
        let chain = Chain::demo();
        let honest = chain.tx("BANK-CN", payload());
        let v = SyncVouches::verify(&chain.state, 0, &response(&chain, vec![honest.clone()]), &|_, _| false);
        let key = testkit::secret("BANK-CN").public();
        assert!(v.covers(&honest, &key));
        // The key in force at the block differs (rotated by an earlier block): not covered.
        assert!(!v.covers(&honest, &testkit::secret("BANK-NL").public()));
        // Same id, other signature bytes: not covered.
        let mut resigned = honest.clone();
        resigned.signature.0[0] ^= 1;
        assert_eq!(resigned.id(), honest.id());
        assert!(!v.covers(&resigned, &key));
        assert!(!SyncVouches::default().covers(&honest, &key));
    }

    #[test]
    fn blocks_at_or_below_the_head_and_what_the_mempool_verified_are_not_verified_again() {
        let chain = Chain::demo();
        let (a, b) = (chain.tx("BANK-CN", payload()), chain.tx("BANK-NL", payload()));
        let blocks = response(&chain, vec![a.clone(), b.clone()]);
        assert!(SyncVouches::verify(&chain.state, 1, &blocks, &|_, _| false).is_empty());
        let a_id = a.id();
        let v = SyncVouches::verify(&chain.state, 0, &blocks, &|t, _| t.id() == a_id);
        assert_eq!(v.len(), 1);
        assert!(v.covers(&b, &testkit::secret("BANK-NL").public()));
    }
}
