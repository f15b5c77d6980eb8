//! The gRPC `Backend` over the node's real parts: the RocksDB store (reads), the mempool
//! (submissions), the commit broadcast and the node's status.
//!
//! Invariant: commits are announced (`NodeState::commits`) only after `Store::commit_block`
//! returned, so a height a subscriber hears of is fully readable here.
use crate::grpc::backend::{
    BResult, Backend, BackendError, DocQuery, Durable, Head, MempoolStatus, NodeInfo, NodeRole, PeerInfo, ProofParts,
    SubmitError, SyncInfo, doc_matches,
};
use crate::mempool::MempoolError;
use crate::node_state::NodeState;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use tradechain_ledger::block::{Block, BlockHeader, TxOutcome};
use tradechain_ledger::merkle::InclusionProof;
use tradechain_ledger::records::{ItemEventRef, TxLocation};
use tradechain_ledger::state::Ns;
use tradechain_ledger::{CommitCertificate, Genesis, Hash, SignedTransaction};

pub struct StoreBackend {
    pub shared: Arc<NodeState>,
    /// Headers and certificates of certified blocks, with their encodings, for proofs. Bounded by
    /// `PROOF_CACHE_BLOCKS` (cleared when full). Sound because both are immutable once a block
    /// is committed with its certificate; a block without a stored certificate is not cached.
    proof_cache: Mutex<HashMap<u64, Arc<ProofParts>>>,
}

const PROOF_CACHE_BLOCKS: usize = 16_384;

impl StoreBackend {
    pub fn new(shared: Arc<NodeState>) -> StoreBackend {
        StoreBackend {
            shared,
            proof_cache: Mutex::new(HashMap::new()),
        }
    }
}

fn be<E: std::fmt::Display>(e: E) -> BackendError {
    BackendError(e.to_string())
}

impl Backend for StoreBackend {
    fn genesis(&self) -> &Genesis {
        &self.shared.genesis
    }
    fn head(&self) -> BResult<Option<Head>> {
        let h = self.shared.store.head().map_err(be)?;
        Ok((h.height > 0).then_some(Head {
            height: h.height,
            block_hash: h.block_hash,
            state_hash: h.state_hash,
        }))
    }
    fn block(&self, height: u64) -> BResult<Option<Block>> {
        self.shared.store.block(height).map_err(be)
    }
    fn header(&self, height: u64) -> BResult<Option<BlockHeader>> {
        self.shared.store.header(height).map_err(be)
    }
    fn certificate(&self, height: u64) -> BResult<Option<CommitCertificate>> {
        self.shared.store.certificate(height).map_err(be)
    }
    fn proof_parts(&self, height: u64) -> BResult<Option<Arc<ProofParts>>> {
        if let Some(p) = self.proof_cache.lock().ok().and_then(|c| c.get(&height).cloned()) {
            return Ok(Some(p));
        }
        let Some(parts) = ProofParts::read(self, height)?.map(Arc::new) else {
            return Ok(None);
        };
        if parts.certified()
            && let Ok(mut c) = self.proof_cache.lock()
        {
            if c.len() >= PROOF_CACHE_BLOCKS {
                c.clear();
            }
            c.insert(height, parts.clone());
        }
        Ok(Some(parts))
    }
    fn height_of(&self, block_hash: &Hash) -> BResult<Option<u64>> {
        self.shared.store.height_of(block_hash).map_err(be)
    }
    fn outcomes(&self, height: u64) -> BResult<Option<Vec<TxOutcome>>> {
        let head = self.shared.store.head().map_err(be)?.height;
        if height == 0 || height > head {
            return Ok(None);
        }
        self.shared.store.outcomes(height).map(Some).map_err(be)
    }
    fn tx_location(&self, tx_id: &Hash) -> BResult<Option<TxLocation>> {
        self.shared.store.tx_location(tx_id).map_err(be)
    }
    fn inclusion_proof(&self, loc: TxLocation) -> BResult<Option<InclusionProof>> {
        self.shared.store.inclusion_proof(loc.height, loc.index).map_err(be)
    }
    fn outcome_proof(&self, loc: TxLocation) -> BResult<Option<InclusionProof>> {
        self.shared.store.outcome_proof(loc.height, loc.index).map_err(be)
    }
    fn tx(&self, loc: TxLocation) -> BResult<Option<SignedTransaction>> {
        self.shared.store.tx_at(loc.height, loc.index).map_err(be)
    }
    fn item_events(&self, goods_key: &str, from_seq: u64, limit: usize) -> BResult<Vec<ItemEventRef>> {
        self.shared.store.item_events(goods_key, from_seq, limit).map_err(be)
    }
    fn state_get(&self, key: &[u8]) -> BResult<Option<Vec<u8>>> {
        self.shared.store.state_get(key).map_err(be)
    }
    fn prove_state_at(&self, key: &[u8], height: u64) -> BResult<Option<tradechain_ledger::state_tree::ProvenState>> {
        self.shared.store.prove_state_at(key, height).map_err(be)
    }
    fn document_history(&self, state_key: &[u8]) -> BResult<Vec<Vec<u8>>> {
        Ok(self
            .shared
            .store
            .document_history(state_key)
            .map_err(be)?
            .into_iter()
            .filter_map(|(_, v)| v)
            .collect())
    }
    fn documents(&self, query: &DocQuery) -> BResult<Vec<Vec<u8>>> {
        // A scan of the document namespaces: fine for the demo's scale; an index per party is
        // the next step for large ledgers.
        let gk = |id: &str| tradechain_ledger::gs1::goods_key(id).ok();
        let mut out = Vec::new();
        for ns in [Ns::Waybill, Ns::Certificate, Ns::Settlement] {
            for (k, v) in self.shared.store.scan(ns, &[ns as u8], usize::MAX).map_err(be)? {
                if doc_matches(&k, &v, query, &gk) {
                    out.push(k);
                }
            }
        }
        Ok(out)
    }
    fn submit(&self, tx: SignedTransaction) -> Result<Hash, SubmitError> {
        let id = tx.id();
        if let Ok(Some(_)) = self.shared.store.tx_location(&id) {
            return Ok(id);
        }
        submit_result(self.shared.submit(tx))
    }
    fn durable(&self) -> Durable {
        let synced = self.shared.durable();
        Box::pin(async move { synced.await.map_err(|e| SubmitError::Unavailable(e.to_string())) })
    }
    fn pending_next_nonce(&self, org: &tradechain_ledger::OrgId, committed_next: u64) -> u64 {
        self.shared
            .mempool
            .lock()
            .map(|m| m.pending_next_nonce(org, committed_next))
            .unwrap_or(committed_next)
    }
    fn mempool_status(&self, tx_id: &Hash) -> Option<MempoolStatus> {
        self.shared.is_pending(tx_id).then_some(MempoolStatus::Pending)
    }
    fn subscribe_commits(&self) -> broadcast::Receiver<u64> {
        self.shared.commits.subscribe()
    }
    fn node_info(&self) -> NodeInfo {
        let status = self.shared.status.read().map(|s| s.clone()).unwrap_or_default();
        NodeInfo {
            role: match self.shared.role {
                crate::config::NodeRole::Validator => NodeRole::Validator,
                crate::config::NodeRole::Observer => NodeRole::Observer,
            },
            peers: status
                .peers
                .iter()
                .map(|p| PeerInfo {
                    peer_id: p.clone(),
                    org: None,
                    address: String::new(),
                })
                .collect(),
            sync: SyncInfo {
                syncing: status.syncing,
                target_height: status.sync_target,
            },
            mempool_size: self.shared.mempool.lock().map(|m| m.len() as u64).unwrap_or(0),
            equivocation_evidence: status.equivocation_evidence,
            stage_cpu_us: self
                .shared
                .metrics
                .stage_cpu
                .snapshot()
                .into_iter()
                .map(|(s, ns)| (s.name(), ns / 1_000))
                .collect(),
            process_cpu_us: crate::cpu::process_cpu_ns() / 1_000,
        }
    }
}

/// What a mempool's answer means to the submitting client (a duplicate is not a refusal: the
/// transaction is pending; nor is a resubmission of a committed one: submitting is idempotent,
/// and `WaitForCommit` answers where it is).
fn submit_result(r: Result<Hash, MempoolError>) -> Result<Hash, SubmitError> {
    Err(match r {
        Ok(id) | Err(MempoolError::Duplicate(id) | MempoolError::AlreadyCommitted { id, .. }) => return Ok(id),
        // Both clear as blocks commit: retryable, never a rejection (a client that dropped a
        // nonce-gap refusal would leave a hole no later nonce of its can pass).
        Err(e @ (MempoolError::Full { .. } | MempoolError::NonceGap { .. } | MempoolError::SenderQuota { .. })) => {
            SubmitError::Busy(e.to_string())
        }
        Err(e @ (MempoolError::WrongChain { .. } | MempoolError::TooLarge { .. })) => {
            SubmitError::Invalid(e.to_string())
        }
        Err(e @ MempoolError::BadSignature { .. }) => SubmitError::BadSignature(e.to_string()),
        Err(MempoolError::Unavailable(why)) => SubmitError::Unavailable(why),
        Err(e @ MempoolError::UnknownSender(_)) => SubmitError::Rejected {
            rule: "membership.unknown_sender".into(),
            reason: e.to_string(),
        },
        Err(e @ MempoolError::UnknownKey { .. }) => SubmitError::Rejected {
            rule: "membership.unknown_key".into(),
            reason: e.to_string(),
        },
        Err(e @ MempoolError::StaleNonce { .. }) => SubmitError::Rejected {
            rule: "membership.nonce".into(),
            reason: e.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tradechain_ledger::OrgId;

    #[test]
    fn a_full_pool_or_sender_queue_is_busy_and_a_used_nonce_is_a_rejection() {
        let org = OrgId::new("PRODUCER-FZ").unwrap();
        let gap = submit_result(Err(MempoolError::NonceGap {
            org: org.clone(),
            got: 10_005,
            next: 3,
        }));
        assert!(
            matches!(&gap, Err(SubmitError::Busy(why)) if why.contains("10005") && why.contains("retry")),
            "{gap:?}"
        );
        let full = submit_result(Err(MempoolError::Full { count: 9, bytes: 99 }));
        assert!(
            matches!(&full, Err(SubmitError::Busy(why)) if why.contains("full")),
            "{full:?}"
        );
        // The one signature check of a submission is the mempool's: it surfaces as the
        // signature's own error (the gRPC status names `signed_tx.signature`).
        let bad = submit_result(Err(MempoolError::BadSignature {
            org: org.clone(),
            key_id: 1,
        }));
        assert!(
            matches!(&bad, Err(SubmitError::BadSignature(why)) if why.contains("does not verify")),
            "{bad:?}"
        );
        let stale = submit_result(Err(MempoolError::StaleNonce { org, got: 1, next: 3 }));
        assert!(matches!(&stale, Err(SubmitError::Rejected { rule, .. }) if rule == "membership.nonce"));
        let id = Hash([7; 32]);
        assert_eq!(
            submit_result(Err(MempoolError::Duplicate(id))),
            Ok(id),
            "a duplicate is pending"
        );
    }
}
