//! The gRPC `Backend` over the node's real parts: the RocksDB store (reads), the mempool
//! (submissions), the commit broadcast and the node's status.
//!
//! Invariant: commits are announced (`Shared::commits`) only after `Store::commit_block`
//! returned, so a height a subscriber hears of is fully readable here.
use crate::grpc::backend::{
    BResult, Backend, BackendError, DocQuery, Head, MempoolStatus, NodeInfo, NodeRole, PeerInfo, SubmitError, SyncInfo,
    doc_matches,
};
use crate::mempool::MempoolError;
use crate::runtime::Shared;
use std::sync::Arc;
use tokio::sync::broadcast;
use tradechain_ledger::block::{Block, BlockHeader, TxOutcome};
use tradechain_ledger::merkle::InclusionProof;
use tradechain_ledger::records::{ItemEventRef, TxLocation};
use tradechain_ledger::state::Ns;
use tradechain_ledger::{CommitCertificate, Genesis, Hash, SignedTransaction};

pub struct StoreBackend {
    pub shared: Arc<Shared>,
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
    fn tx(&self, loc: TxLocation) -> BResult<Option<SignedTransaction>> {
        self.shared.store.tx_at(loc.height, loc.index).map_err(be)
    }
    fn item_events(&self, goods_key: &str, from_seq: u64, limit: usize) -> BResult<Vec<ItemEventRef>> {
        self.shared.store.item_events(goods_key, from_seq, limit).map_err(be)
    }
    fn state_get(&self, key: &[u8]) -> BResult<Option<Vec<u8>>> {
        self.shared.store.state_get(key).map_err(be)
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
        match self.shared.submit(tx) {
            Ok(id) | Err(MempoolError::Duplicate(id)) => Ok(id),
            Err(MempoolError::Full { .. }) => Err(SubmitError::Busy),
            Err(
                e @ (MempoolError::WrongChain { .. }
                | MempoolError::TooLarge { .. }
                | MempoolError::BadSignature { .. }),
            ) => Err(SubmitError::Invalid(e.to_string())),
            Err(e @ MempoolError::UnknownSender(_)) => Err(SubmitError::Rejected {
                rule: "membership.unknown_sender".into(),
                reason: e.to_string(),
            }),
            Err(e @ MempoolError::UnknownKey { .. }) => Err(SubmitError::Rejected {
                rule: "membership.unknown_key".into(),
                reason: e.to_string(),
            }),
            Err(e @ (MempoolError::StaleNonce { .. } | MempoolError::NonceGap { .. })) => Err(SubmitError::Rejected {
                rule: "membership.nonce".into(),
                reason: e.to_string(),
            }),
        }
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
        }
    }
}
