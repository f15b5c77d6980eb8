//! The seam between the gRPC layer and the node: every read and write the API needs, as one
//! trait the node implements over its RocksDB store, mempool and network (and `mem::MemBackend`
//! implements in memory for tests, with the `testkit` feature).
//!
//! Invariants an implementation must keep:
//! - reads see committed data only, and a height is published on `subscribe_commits` only after
//!   its block, certificate, outcomes, transaction locations and state are all readable;
//! - `head()` never goes backwards;
//! - `item_events(key, from, limit)` returns the item's chain entries with `seq >= from`, in
//!   increasing `seq`, without gaps.
use std::sync::Arc;
use tokio::sync::broadcast;
use tradechain_ledger::block::{Block, BlockHeader, TxOutcome};
use tradechain_ledger::certificate::CommitCertificate;
use tradechain_ledger::codec::decode;
use tradechain_ledger::execute::Rejection;
use tradechain_ledger::genesis::Genesis;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::identity::OrgId;
use tradechain_ledger::merkle::InclusionProof;
use tradechain_ledger::payload::SettlementRef;
use tradechain_ledger::records::{CertificateRecord, SettlementRecord, WaybillRecord};
use tradechain_ledger::records::{ItemEventRef, TxLocation};
use tradechain_ledger::state::{Ns, split_key};
use tradechain_ledger::state_tree::ProvenState;
use tradechain_ledger::tx::SignedTransaction;

/// The latest committed block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub height: u64,
    pub block_hash: Hash,
    pub state_hash: Hash,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRole {
    Validator,
    Observer,
}

impl NodeRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            NodeRole::Validator => "validator",
            NodeRole::Observer => "observer",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    pub peer_id: String,
    pub org: Option<OrgId>,
    pub address: String,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncInfo {
    pub syncing: bool,
    /// Highest height seen from peers (0 if unknown).
    pub target_height: u64,
}

/// What the node knows about itself beyond the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub role: NodeRole,
    pub peers: Vec<PeerInfo>,
    pub sync: SyncInfo,
    pub mempool_size: u64,
    pub equivocation_evidence: u64,
    /// CPU per stage since start, microseconds (`node::cpu`).
    pub stage_cpu_us: Vec<(&'static str, u64)>,
    pub process_cpu_us: u64,
}

/// A transaction the mempool holds or refused (not yet in a block).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MempoolStatus {
    Pending,
    Rejected(Rejection),
}

/// Why `submit` did not admit a transaction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// Mempool full, or the sender's queue of pending nonces is: the client should retry later
    /// (RESOURCE_EXHAUSTED). The text says which.
    #[error("{0}")]
    Busy(String),
    /// Malformed for reasons the server's own checks did not catch (INVALID_ARGUMENT).
    #[error("invalid transaction: {0}")]
    Invalid(String),
    /// The signature does not verify against the sender's key (INVALID_ARGUMENT naming
    /// `signed_tx.signature`). Checked once, by the backend's admission.
    #[error("{0}")]
    BadSignature(String),
    /// A validator rule refused it (FAILED_PRECONDITION).
    #[error("rejected by rule {rule}: {reason}")]
    Rejected { rule: String, reason: String },
    /// The node cannot accept transactions now, e.g. it is syncing (UNAVAILABLE).
    #[error("node unavailable: {0}")]
    Unavailable(String),
}

/// What `Backend::durable` returns.
pub type Durable = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), SubmitError>> + Send>>;

/// A storage failure (INTERNAL): a corrupted or unreadable store, never a missing item.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("storage: {0}")]
pub struct BackendError(pub String);

/// Selector of `Backend::documents`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocQuery {
    /// Documents naming the org (issuer, holder, endorser, party with that org, payer/payee bank).
    Party(OrgId),
    /// Waybill reference, certificate number, settlement id or invoice number.
    Reference(String),
    /// Documents covering a goods item (canonical goods key).
    Goods(String),
}

pub type BResult<T> = Result<T, BackendError>;

/// What every proof of an event in one block carries: the block's header and commit certificate,
/// decoded and in their borsh bytes. Immutable once the block is committed with its certificate.
#[derive(Clone, Debug)]
pub struct ProofParts {
    pub header: BlockHeader,
    pub header_borsh: Vec<u8>,
    /// Empty when the block has no stored certificate (never cached then).
    pub certificate_borsh: Vec<u8>,
}

impl ProofParts {
    /// Read a block's header and certificate from `b` and encode them (no caching).
    pub fn read<B: Backend + ?Sized>(b: &B, height: u64) -> BResult<Option<ProofParts>> {
        let Some(header) = b.header(height)? else {
            return Ok(None);
        };
        let certificate_borsh = b
            .certificate(height)?
            .map(|c| tradechain_ledger::codec::encode(&c))
            .unwrap_or_default();
        Ok(Some(ProofParts {
            header_borsh: tradechain_ledger::codec::encode(&header),
            header,
            certificate_borsh,
        }))
    }

    /// Whether the block's certificate is in: only then are the parts final (cacheable).
    pub fn certified(&self) -> bool {
        !self.certificate_borsh.is_empty()
    }
}

/// Everything the gRPC services read and write. Object-safe: the server holds `Arc<dyn Backend>`.
pub trait Backend: Send + Sync + 'static {
    fn genesis(&self) -> &Genesis;
    fn genesis_hash(&self) -> Hash {
        self.genesis().hash()
    }
    /// None before the first block.
    fn head(&self) -> BResult<Option<Head>>;
    fn block(&self, height: u64) -> BResult<Option<Block>>;
    fn header(&self, height: u64) -> BResult<Option<BlockHeader>> {
        Ok(self.block(height)?.map(|b| b.header))
    }
    fn certificate(&self, height: u64) -> BResult<Option<CommitCertificate>>;
    /// Header and certificate of a committed block with their encodings, for proofs. A backend
    /// may cache it across requests (`StoreBackend` does): both are immutable once certified.
    fn proof_parts(&self, height: u64) -> BResult<Option<Arc<ProofParts>>> {
        Ok(ProofParts::read(self, height)?.map(Arc::new))
    }
    fn height_of(&self, block_hash: &Hash) -> BResult<Option<u64>>;
    fn outcomes(&self, height: u64) -> BResult<Option<Vec<TxOutcome>>>;
    fn tx_location(&self, tx_id: &Hash) -> BResult<Option<TxLocation>>;
    fn tx(&self, loc: TxLocation) -> BResult<Option<SignedTransaction>> {
        Ok(self
            .block(loc.height)?
            .and_then(|b| b.txs.into_iter().nth(loc.index as usize)))
    }
    /// Inclusion proof of the transaction at `loc` in its block's `tx_root`.
    fn inclusion_proof(&self, loc: TxLocation) -> BResult<Option<InclusionProof>> {
        Ok(self
            .block(loc.height)?
            .and_then(|b| tradechain_ledger::merkle::prove(&b.leaf_hashes(), loc.index as usize)))
    }
    /// Proof that the transaction at `loc` has the outcome its leaf says, in its block's
    /// `results_hash` (`ledger::block::outcome_proof`).
    fn outcome_proof(&self, loc: TxLocation) -> BResult<Option<InclusionProof>> {
        Ok(self
            .outcomes(loc.height)?
            .and_then(|o| tradechain_ledger::block::outcome_proof(&o, loc.index as usize)))
    }
    /// The item's event chain entries with `seq >= from_seq`, at most `limit`, in order.
    fn item_events(&self, goods_key: &str, from_seq: u64, limit: usize) -> BResult<Vec<ItemEventRef>>;
    /// Committed state (keys from `tradechain_ledger::state::keys`).
    fn state_get(&self, key: &[u8]) -> BResult<Option<Vec<u8>>>;
    /// `key`'s committed value with its proof under the state root of `height`'s header, or None
    /// when the value has changed since (read again at a newer head).
    fn prove_state_at(&self, key: &[u8], height: u64) -> BResult<Option<ProvenState>>;
    /// Every version of a document (state key in a document namespace), oldest first, as the
    /// borsh record bytes of each version.
    fn document_history(&self, state_key: &[u8]) -> BResult<Vec<Vec<u8>>>;
    /// State keys of the documents matching `query`, in key order.
    fn documents(&self, query: &DocQuery) -> BResult<Vec<Vec<u8>>>;
    /// Normalise a goods identifier (Digital Link, EPC URN, canonical key) to the canonical key.
    fn goods_key(&self, id: &str) -> Result<String, String> {
        tradechain_ledger::gs1::goods_key(id).map_err(|e| e.0)
    }
    /// Admit a transaction whose encoding, chain id and signature the server has checked.
    fn submit(&self, tx: SignedTransaction) -> Result<Hash, SubmitError>;
    /// Resolves once every submission admitted before the call is durable: it survives this
    /// node's crash (the node's submission journal, fsynced). An API acknowledges a submission
    /// only after it. The default (a backend that keeps nothing on disk): at once.
    fn durable(&self) -> Durable {
        Box::pin(std::future::ready(Ok(())))
    }
    /// The nonce after `org`'s gap-free run of pending transactions from `committed_next`.
    fn pending_next_nonce(&self, _org: &tradechain_ledger::OrgId, committed_next: u64) -> u64 {
        committed_next
    }
    /// Mempool knowledge of a transaction not yet in a block.
    fn mempool_status(&self, tx_id: &Hash) -> Option<MempoolStatus>;
    /// Heights as they commit (see the invariants above). Lagging receivers re-read the store.
    fn subscribe_commits(&self) -> broadcast::Receiver<u64>;
    fn node_info(&self) -> NodeInfo;
}

/// Whether the document stored at `key` (a state key) with `value` matches `q`; `gk` normalises
/// goods identifiers. Shared by every `Backend` implementation.
pub fn doc_matches(key: &[u8], value: &[u8], q: &DocQuery, gk: &dyn Fn(&str) -> Option<String>) -> bool {
    let Some((ns, parts)) = split_key(key) else {
        return false;
    };
    match ns {
        // `head` entries are the waybills' public heads (`keys::waybill_head`), not documents.
        Ns::Waybill if parts.first() != Some(&&b"head"[..]) => {
            let Ok(r) = decode::<WaybillRecord>(value) else {
                return false;
            };
            let d = &r.document;
            match q {
                DocQuery::Party(o) => {
                    parts.first() == Some(&o.as_str().as_bytes())
                        || &r.issuer == o
                        || &r.holder == o
                        || r.endorsements.iter().any(|e| &e.from == o || &e.to == o)
                        || [Some(&d.shipper), d.consignee.as_ref(), d.notify_party.as_ref()]
                            .into_iter()
                            .flatten()
                            .any(|p| p.org.as_ref() == Some(o))
                }
                DocQuery::Reference(s) => &d.reference == s,
                DocQuery::Goods(k) => d
                    .goods
                    .iter()
                    .flat_map(|g| &g.goods_ids)
                    .any(|id| gk(id).as_ref() == Some(k)),
            }
        }
        // `goods` entries are the per-goods index of valid certificates, not documents.
        Ns::Certificate if parts.first() != Some(&&b"goods"[..]) => {
            let Ok(r) = decode::<CertificateRecord>(value) else {
                return false;
            };
            let d = &r.document;
            match q {
                DocQuery::Party(o) => {
                    &r.issuer == o
                        || [&d.exporter, &d.producer, &d.consignee]
                            .iter()
                            .any(|p| p.org.as_ref() == Some(o))
                }
                DocQuery::Reference(s) => &d.number == s || &d.invoice_reference == s,
                DocQuery::Goods(k) => d.goods_ids.iter().any(|id| gk(id).as_ref() == Some(k)),
            }
        }
        Ns::Settlement if parts.first() == Some(&&b"id"[..]) => {
            let Ok(r) = decode::<SettlementRecord>(value) else {
                return false;
            };
            let i = &r.instruction;
            match q {
                DocQuery::Party(o) => &i.payer_bank == o || &i.payee_bank == o,
                DocQuery::Reference(s) => {
                    &i.settlement_id == s
                        || match &i.reference {
                            SettlementRef::Waybill { reference, .. } => reference == s,
                            SettlementRef::Invoice { number } => number == s,
                        }
                }
                DocQuery::Goods(_) => false,
            }
        }
        _ => false,
    }
}
