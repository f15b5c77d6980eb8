//! `MemBackend`: an in-memory `Backend` for tests (feature `testkit`). `commit_executed` runs
//! the mempool through the ledger's real validators (`execute::execute_block`) and stores the
//! block with its outcomes and write sets; `commit_block` stores a block executed elsewhere. It
//! signs commit certificates with the validator keys it holds (see `scenario` for a prepared
//! chain).
//!
//! Invariants: heights are contiguous from 1; a height is broadcast only after the block, its
//! certificate, outcomes, tx locations, state and document history are all in place (one write
//! lock covers them); every `Some` write to a document key appends a history version.
use std::collections::BTreeMap;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use tokio::sync::broadcast;
use tradechain_ledger::block::{Block, BlockHeader, TxOutcome};
use tradechain_ledger::block_check::{Parent, Seal, assemble};
use tradechain_ledger::certificate::{CommitCertificate, CommitSig, VoteKind, vote_sign_bytes};
use tradechain_ledger::codec::decode;
use tradechain_ledger::crypto::SecretKey;
use tradechain_ledger::execute::{Rejection, genesis_writes, next_nonce};
use tradechain_ledger::genesis::Genesis;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::identity::Org;
use tradechain_ledger::records::{ItemEventRef, TxLocation};
use tradechain_ledger::state::{MemState, Ns, StateView, WriteSet, get_typed, keys, split_key};
use tradechain_ledger::state_tree::{self, MemTree};
use tradechain_ledger::tx::SignedTransaction;

use super::backend::{
    BResult, Backend, BackendError, DocQuery, Head, MempoolStatus, NodeInfo, NodeRole, SubmitError, SyncInfo,
};

struct Stored {
    block: Block,
    cert: CommitCertificate,
    outcomes: Vec<TxOutcome>,
}

struct Chain {
    blocks: Vec<Stored>,
    by_hash: BTreeMap<Hash, u64>,
    tx_loc: BTreeMap<Hash, TxLocation>,
    state: MemState,
    tree: MemTree,
    state_hash: Hash,
    history: BTreeMap<Vec<u8>, Vec<Vec<u8>>>,
    mempool: Vec<SignedTransaction>,
    refused: BTreeMap<Hash, Rejection>,
    mempool_capacity: usize,
    node: NodeInfo,
    aliases: BTreeMap<String, String>,
}

pub struct MemBackend {
    genesis: Genesis,
    validator_keys: Vec<SecretKey>,
    chain: RwLock<Chain>,
    commits: broadcast::Sender<u64>,
}

/// A canonical goods key as the test backend understands it, without the ledger's GS1 parser:
/// `01/{gtin14}/21/{serial}`-style paths, and Digital Link URIs reduced to their path.
fn simple_goods_key(id: &str) -> Option<String> {
    let path = if let Some(rest) = id.strip_prefix("https://").or_else(|| id.strip_prefix("http://")) {
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        let (_, path) = rest.split_once('/')?;
        let start = ["01/", "00/", "414/", "8003/"].iter().find_map(|p| {
            path.find(p)
                .filter(|&i| i == 0 || path.as_bytes().get(i - 1) == Some(&b'/'))
        })?;
        &path[start..]
    } else {
        id
    };
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["01", gtin, rest @ ..]
            if gtin.bytes().all(|b| b.is_ascii_digit()) && matches!(gtin.len(), 8 | 12 | 13 | 14) =>
        {
            let mut k = format!("01/{gtin:0>14}");
            match rest {
                [] => {}
                [ai @ ("21" | "10"), v] if !v.is_empty() => k.push_str(&format!("/{ai}/{v}")),
                _ => return None,
            }
            Some(k)
        }
        ["00", sscc] if sscc.len() == 18 && sscc.bytes().all(|b| b.is_ascii_digit()) => Some(format!("00/{sscc}")),
        _ => None,
    }
}

impl MemBackend {
    /// A backend at height 0 over `genesis`; `validator_keys` sign commit certificates.
    pub fn new(genesis: Genesis, validator_keys: Vec<SecretKey>) -> Result<MemBackend, String> {
        let mut state = MemState::default();
        let ws = genesis_writes(&genesis)?;
        state.apply(&ws);
        let mut tree = MemTree::default();
        let state_hash = tree.advance(0, &ws).map_err(|e| e.to_string())?.root;
        let (commits, _) = broadcast::channel(1024);
        Ok(MemBackend {
            genesis,
            validator_keys,
            commits,
            chain: RwLock::new(Chain {
                blocks: Vec::new(),
                by_hash: BTreeMap::new(),
                tx_loc: BTreeMap::new(),
                state,
                tree,
                state_hash,
                history: BTreeMap::new(),
                mempool: Vec::new(),
                refused: BTreeMap::new(),
                mempool_capacity: 10_000,
                node: NodeInfo {
                    role: NodeRole::Validator,
                    peers: Vec::new(),
                    sync: SyncInfo::default(),
                    mempool_size: 0,
                    equivocation_evidence: 0,
                    stage_cpu_us: Vec::new(),
                    process_cpu_us: 0,
                },
                aliases: BTreeMap::new(),
            }),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Chain> {
        self.chain.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> RwLockWriteGuard<'_, Chain> {
        self.chain.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Map an identifier (e.g. an EPC URN) to a goods key (the ledger's GS1 parser stands in for this in a node).
    pub fn add_alias(&self, id: &str, goods_key: &str) {
        self.write().aliases.insert(id.to_string(), goods_key.to_string());
    }
    pub fn set_node_info(&self, role: NodeRole, peers: Vec<super::backend::PeerInfo>, sync: SyncInfo) {
        let mut c = self.write();
        c.node.role = role;
        c.node.peers = peers;
        c.node.sync = sync;
    }
    pub fn set_mempool_capacity(&self, n: usize) {
        self.write().mempool_capacity = n;
    }
    /// Record a mempool refusal (as a node's admission checks would).
    pub fn refuse(&self, id: Hash, r: Rejection) {
        self.write().refused.insert(id, r);
    }
    pub fn mempool(&self) -> Vec<SignedTransaction> {
        self.read().mempool.clone()
    }
    pub fn height(&self) -> u64 {
        self.read().blocks.len() as u64
    }
    pub fn state_value<T: borsh::BorshDeserialize>(&self, key: &[u8]) -> Option<T> {
        get_typed(&self.read().state, key)
    }

    /// Append a block: `txs` with their `outcomes`, and the block's `writes`. Signs the commit
    /// certificate with the validator keys, applies the writes, then broadcasts the height.
    pub fn commit_block(
        &self,
        txs: Vec<SignedTransaction>,
        outcomes: Vec<TxOutcome>,
        writes: WriteSet,
        time_ms: i64,
    ) -> Result<Hash, String> {
        if txs.len() != outcomes.len() {
            return Err(format!("{} transactions but {} outcomes", txs.len(), outcomes.len()));
        }
        let set = self.genesis.validator_set()?;
        let (height, hash) = {
            let mut c = self.write();
            let height = c.blocks.len() as u64 + 1;
            let prev_hash = c
                .blocks
                .last()
                .map(|s| s.block.hash())
                .unwrap_or_else(|| self.genesis.hash());
            let state_hash = c.tree.advance(height, &writes).map_err(|e| e.to_string())?.root;
            let parent = Parent {
                height: height - 1,
                block_hash: prev_hash,
                time_ms: c.blocks.last().map_or(i64::MIN, |s| s.block.header.time_ms),
            };
            let seal = Seal {
                time_ms,
                proposer: set.validators[(height as usize) % set.len()].public_key,
                validators_hash: set.hash(),
                state_hash,
            };
            let block = assemble(&self.genesis.chain_id, &parent, seal, &outcomes, txs);
            let hash = block.hash();
            let msg = vote_sign_bytes(&self.genesis.chain_id, VoteKind::Precommit, height, 0, Some(hash));
            let cert = CommitCertificate {
                height,
                round: 0,
                block_hash: hash,
                signatures: self
                    .validator_keys
                    .iter()
                    .map(|k| CommitSig {
                        validator: k.public(),
                        signature: k.sign(&msg),
                    })
                    .collect(),
            };
            for (i, t) in block.txs.iter().enumerate() {
                let id = t.id();
                c.tx_loc.insert(
                    id,
                    TxLocation {
                        height,
                        index: i as u32,
                    },
                );
                c.mempool.retain(|m| m.id() != id);
            }
            for (k, v) in &writes {
                let is_doc = matches!(split_key(k), Some((ns, parts)) if ns.is_document()
                    && !(ns == Ns::Settlement && parts.first() != Some(&&b"id"[..])));
                if let (true, Some(v)) = (is_doc, v) {
                    c.history.entry(k.clone()).or_default().push(v.clone());
                }
            }
            c.state.apply(&writes);
            c.state_hash = state_hash;
            c.by_hash.insert(hash, height);
            c.blocks.push(Stored { block, cert, outcomes });
            (height, hash)
        };
        let _ = self.commits.send(height);
        Ok(hash)
    }

    /// Commit everything in the mempool as the validators would: executed by the ledger's real
    /// validators at the next height and `time_ms` (verdicts and writes).
    pub fn commit_executed(&self, time_ms: i64) -> Result<Hash, String> {
        let txs = std::mem::take(&mut self.write().mempool);
        let ex = {
            let c = self.read();
            let height = c.blocks.len() as u64 + 1;
            tradechain_ledger::execute::execute_block(
                &tradechain_ledger::execute::Registry::default(),
                &self.genesis,
                &c.state,
                height,
                time_ms,
                &txs,
            )
            .map_err(|e| e.to_string())?
        };
        self.commit_block(txs, ex.outcomes, ex.writes, time_ms)
    }

    fn goods_key_in(&self, c: &Chain, id: &str) -> Result<String, String> {
        if let Ok(k) = tradechain_ledger::gs1::goods_key(id) {
            return Ok(k);
        }
        if let Some(k) = c.aliases.get(id) {
            return Ok(k.clone());
        }
        simple_goods_key(id).ok_or_else(|| format!("{id:?} is not a GS1 identifier this node understands"))
    }
}

impl Backend for MemBackend {
    fn genesis(&self) -> &Genesis {
        &self.genesis
    }
    fn head(&self) -> BResult<Option<Head>> {
        let c = self.read();
        Ok(c.blocks.last().map(|s| Head {
            height: s.block.header.height,
            block_hash: s.block.hash(),
            state_hash: s.block.header.state_hash,
        }))
    }
    fn block(&self, height: u64) -> BResult<Option<Block>> {
        let c = self.read();
        Ok(height
            .checked_sub(1)
            .and_then(|i| c.blocks.get(i as usize))
            .map(|s| s.block.clone()))
    }
    fn header(&self, height: u64) -> BResult<Option<BlockHeader>> {
        let c = self.read();
        Ok(height
            .checked_sub(1)
            .and_then(|i| c.blocks.get(i as usize))
            .map(|s| s.block.header.clone()))
    }
    fn certificate(&self, height: u64) -> BResult<Option<CommitCertificate>> {
        let c = self.read();
        Ok(height
            .checked_sub(1)
            .and_then(|i| c.blocks.get(i as usize))
            .map(|s| s.cert.clone()))
    }
    fn height_of(&self, block_hash: &Hash) -> BResult<Option<u64>> {
        Ok(self.read().by_hash.get(block_hash).copied())
    }
    fn outcomes(&self, height: u64) -> BResult<Option<Vec<TxOutcome>>> {
        let c = self.read();
        Ok(height
            .checked_sub(1)
            .and_then(|i| c.blocks.get(i as usize))
            .map(|s| s.outcomes.clone()))
    }
    fn tx_location(&self, tx_id: &Hash) -> BResult<Option<TxLocation>> {
        Ok(self.read().tx_loc.get(tx_id).copied())
    }
    fn tx(&self, loc: TxLocation) -> BResult<Option<SignedTransaction>> {
        let c = self.read();
        Ok(loc
            .height
            .checked_sub(1)
            .and_then(|i| c.blocks.get(i as usize))
            .and_then(|s| s.block.txs.get(loc.index as usize).cloned()))
    }
    fn item_events(&self, goods_key: &str, from_seq: u64, limit: usize) -> BResult<Vec<ItemEventRef>> {
        let c = self.read();
        let mut out = Vec::new();
        let mut seq = from_seq;
        while out.len() < limit {
            match c.state.get(&keys::item_event(goods_key, seq)) {
                Some(v) => out.push(decode(&v).map_err(|e| BackendError(format!("item event: {e}")))?),
                None => break,
            }
            seq += 1;
        }
        Ok(out)
    }
    fn state_get(&self, key: &[u8]) -> BResult<Option<Vec<u8>>> {
        Ok(self.read().state.get(key))
    }
    fn prove_state_at(&self, key: &[u8], height: u64) -> BResult<Option<state_tree::ProvenState>> {
        let c = self.read();
        state_tree::prove_value(&c.tree, height, key, c.state.get(key)).map_err(|e| BackendError(e.to_string()))
    }
    fn document_history(&self, state_key: &[u8]) -> BResult<Vec<Vec<u8>>> {
        Ok(self.read().history.get(state_key).cloned().unwrap_or_default())
    }
    fn documents(&self, query: &DocQuery) -> BResult<Vec<Vec<u8>>> {
        let c = self.read();
        Ok(c.state
            .0
            .iter()
            .filter(|(k, v)| super::backend::doc_matches(k, v, query, &|id| self.goods_key_in(&c, id).ok()))
            .map(|(k, _)| k.clone())
            .collect())
    }
    fn goods_key(&self, id: &str) -> Result<String, String> {
        self.goods_key_in(&self.read(), id)
    }
    fn submit(&self, tx: SignedTransaction) -> Result<Hash, SubmitError> {
        let id = tx.id();
        let mut c = self.write();
        if c.tx_loc.contains_key(&id) || c.mempool.iter().any(|m| m.id() == id) {
            return Ok(id);
        }
        if let Some(r) = c.refused.get(&id) {
            return Err(SubmitError::Rejected {
                rule: r.rule.clone(),
                reason: r.reason.clone(),
            });
        }
        // Admission as the node's mempool does it: a current member, its key, the signature once.
        let Some(org) = get_typed::<Org>(&c.state, &keys::org(&tx.tx().sender)) else {
            return Err(SubmitError::Rejected {
                rule: "membership.unknown_sender".into(),
                reason: format!("org {} is not a current member", tx.tx().sender),
            });
        };
        let Some(key) = org.key(tx.tx().key_id) else {
            return Err(SubmitError::Rejected {
                rule: "membership.unknown_key".into(),
                reason: format!("org {} has no current key {}", tx.tx().sender, tx.tx().key_id),
            });
        };
        if tx.verify_signature(key).is_err() {
            return Err(SubmitError::BadSignature(format!(
                "signature does not verify against {}'s key {}",
                tx.tx().sender,
                tx.tx().key_id
            )));
        }
        {
            let expected = next_nonce(&c.state, &org);
            if tx.tx().nonce < expected {
                let r = Rejection::new(
                    "membership.nonce",
                    format!(
                        "nonce {} from {}: expected at least {expected}",
                        tx.tx().nonce,
                        tx.tx().sender
                    ),
                );
                c.refused.insert(id, r.clone());
                return Err(SubmitError::Rejected {
                    rule: r.rule,
                    reason: r.reason,
                });
            }
        }
        if c.mempool.len() >= c.mempool_capacity {
            return Err(SubmitError::Busy("mempool is full; retry later".into()));
        }
        c.mempool.push(tx);
        Ok(id)
    }
    fn mempool_status(&self, tx_id: &Hash) -> Option<MempoolStatus> {
        let c = self.read();
        if c.mempool.iter().any(|m| &m.id() == tx_id) {
            return Some(MempoolStatus::Pending);
        }
        c.refused.get(tx_id).cloned().map(MempoolStatus::Rejected)
    }
    fn subscribe_commits(&self) -> broadcast::Receiver<u64> {
        self.commits.subscribe()
    }
    fn node_info(&self) -> NodeInfo {
        let c = self.read();
        let mut n = c.node.clone();
        n.mempool_size = c.mempool.len() as u64;
        n
    }
}
