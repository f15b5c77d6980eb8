//! Deterministic execution of transactions and blocks: the envelope checks every transaction
//! passes (membership, key, nonce, time skew, size limits, signature) and the routing of its
//! payload to the family validator (`crate::validate`), the chaincode-like seam.
//!
//! Invariants:
//! - Pure: the result depends only on (genesis, state view, height, block time, transactions).
//!   No clock, randomness, I/O or floats.
//! - A rejected transaction changes nothing (not even its sender's nonce); an accepted one
//!   advances the sender's nonce by exactly one.
//! - A transaction whose signature does not verify makes the whole block invalid (it never
//!   reaches a block built by an honest proposer).
//! - Containment: a panic inside one transaction's checks (a bug a crafted input reaches) does
//!   not halt the chain. That transaction is rejected with rule `internal.fault` — the same
//!   verdict on every node, since the same code panics on the same input — its writes are
//!   discarded, the fault is logged and counted (`internal_faults`), and the block goes on.
//!   Consensus must never depend on a node crashing: a crash loop of every proposer on one
//!   gossiped transaction is how one member stopped the whole network before.
use crate::block::TxOutcome;
use crate::crypto::PublicKey;
use crate::genesis::Genesis;
use crate::hash::Hash;
use crate::identity::Org;
use crate::records::TxLocation;
use crate::state::{Overlay, StateView, WriteSet, Writes, get_typed, keys};
use crate::tx::{SignedTransaction, TX_VERSION, Transaction};

/// The rule id of a transaction whose checks panicked (see the module doc: containment).
pub const INTERNAL_FAULT: &str = "internal.fault";

static INTERNAL_FAULTS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many transactions this process rejected as `internal.fault` (a metric; never consensus).
pub fn internal_faults() -> u64 {
    INTERNAL_FAULTS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Run one transaction's checks, turning a panic into an `internal.fault` rejection.
fn contained<F>(stx: &SignedTransaction, f: F) -> Result<Result<WriteSet, Rejection>, BlockError>
where
    F: FnOnce() -> Result<Result<WriteSet, Rejection>, BlockError>,
{
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            INTERNAL_FAULTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(tx = %stx.id(), panic = %what, "transaction checks panicked: rejected as internal.fault");
            Ok(Err(Rejection::new(
                INTERNAL_FAULT,
                "the node's checks failed on this transaction (a bug, reported); it is rejected on every node",
            )))
        }
    }
}

/// Why a transaction was rejected: a stable rule id and a human reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub rule: String,
    pub reason: String,
}

impl Rejection {
    pub fn new(rule: &str, reason: impl Into<String>) -> Rejection {
        Rejection {
            rule: rule.to_string(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.rule, self.reason)
    }
}

/// Everything a validator may know about the transaction it judges.
pub struct TxContext<'a> {
    pub genesis: &'a Genesis,
    pub height: u64,
    /// Block time: the only "now" inside validation.
    pub block_time_ms: i64,
    pub at: TxLocation,
    pub tx_id: Hash,
    pub tx: &'a Transaction,
    pub sender: &'a Org,
}

/// The chaincode-like seam: one validator per document family.
pub trait Validator: Send + Sync {
    /// The family this validator owns (`Payload::family`).
    fn family(&self) -> &'static str;
    /// Judge the transaction against state; return the writes to apply if it is accepted.
    fn validate(&self, ctx: &TxContext<'_>, view: &dyn StateView) -> Result<Writes, Rejection>;
}

/// Routes each payload to its family's validator.
pub struct Registry {
    validators: Vec<Box<dyn Validator>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            validators: crate::validate::all(),
        }
    }
}

impl Registry {
    /// A registry with exactly these validators (tests, tools; nodes use `Registry::default()`).
    pub fn new(validators: Vec<Box<dyn Validator>>) -> Registry {
        Registry { validators }
    }
    pub fn route(&self, family: &str) -> Option<&dyn Validator> {
        self.validators
            .iter()
            .find(|v| v.family() == family)
            .map(|v| v.as_ref())
    }
}

/// The membership/key/nonce/skew/limits checks shared by every family; returns the sender's
/// org and signing key.
pub fn check_envelope(
    genesis: &Genesis,
    view: &dyn StateView,
    block_time_ms: i64,
    stx: &SignedTransaction,
) -> Result<(Org, PublicKey), Rejection> {
    let tx = stx.tx();
    if tx.version != TX_VERSION {
        return Err(Rejection::new(
            "envelope.version",
            format!(
                "transaction version {} is not supported (expected {TX_VERSION})",
                tx.version
            ),
        ));
    }
    if tx.chain_id != genesis.chain_id {
        return Err(Rejection::new(
            "envelope.chain_id",
            format!(
                "transaction is for chain {:?}, this is {:?}",
                tx.chain_id, genesis.chain_id
            ),
        ));
    }
    let size = crate::codec::encode(stx).len() as u64;
    if size > genesis.limits.max_tx_bytes {
        return Err(Rejection::new(
            "limits.tx_size",
            format!(
                "transaction is {size} bytes, above the limit of {}",
                genesis.limits.max_tx_bytes
            ),
        ));
    }
    let org: Org = get_typed(view, &keys::org(&tx.sender)).ok_or_else(|| {
        Rejection::new(
            "membership.unknown_sender",
            format!("org {} is not a current member", tx.sender),
        )
    })?;
    let key = *org.key(tx.key_id).ok_or_else(|| {
        Rejection::new(
            "membership.unknown_key",
            format!("org {} has no current key {}", tx.sender, tx.key_id),
        )
    })?;
    let expected = next_nonce(view, &org);
    if tx.nonce != expected {
        return Err(Rejection::new(
            "membership.nonce",
            format!("nonce {} from {}: expected {expected}", tx.nonce, tx.sender),
        ));
    }
    let skew = tx.time_ms.abs_diff(block_time_ms);
    if skew > genesis.limits.max_time_skew_ms {
        return Err(Rejection::new(
            "envelope.time_skew",
            format!(
                "claimed time is {skew} ms from block time; at most {} ms allowed",
                genesis.limits.max_time_skew_ms
            ),
        ));
    }
    Ok((org, key))
}

/// The nonce the sender's next transaction must carry (the first is 1).
pub fn next_nonce(view: &dyn StateView, org: &Org) -> u64 {
    get_typed::<u64>(view, &keys::nonce(&org.id)).unwrap_or(0) + 1
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlockError {
    #[error("transaction {index} ({tx_id}) has a bad signature")]
    BadSignature { index: usize, tx_id: Hash },
    #[error("transaction {index} ({tx_id}) appears twice in the block")]
    DuplicateTx { index: usize, tx_id: Hash },
}

/// The result of executing a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockExecution {
    pub outcomes: Vec<TxOutcome>,
    pub writes: WriteSet,
}

/// Execute one transaction: envelope checks, signature, family validator, nonce bump.
#[allow(clippy::too_many_arguments)]
pub fn execute_tx(
    registry: &Registry,
    genesis: &Genesis,
    view: &dyn StateView,
    height: u64,
    block_time_ms: i64,
    index: u32,
    stx: &SignedTransaction,
    signature_checked: bool,
) -> Result<Result<WriteSet, Rejection>, BlockError> {
    let tx_id = stx.id();
    let (org, key) = match check_envelope(genesis, view, block_time_ms, stx) {
        Ok(v) => v,
        Err(r) => {
            // The signature still must verify against *some* member key for the tx to be in a
            // block at all; an unknown sender's tx cannot be authenticated, so it is recorded
            // as rejected only if its signature is checked elsewhere (mempool). Here we keep
            // the verdict: rejected.
            return Ok(Err(r));
        }
    };
    if !signature_checked && stx.verify_signature(&key).is_err() {
        return Err(BlockError::BadSignature {
            index: index as usize,
            tx_id,
        });
    }
    let ctx = TxContext {
        genesis,
        height,
        block_time_ms,
        at: TxLocation { height, index },
        tx_id,
        tx: stx.tx(),
        sender: &org,
    };
    let Some(validator) = registry.route(stx.tx().payload.family()) else {
        return Ok(Err(Rejection::new(
            "envelope.family",
            format!("no validator for {}", stx.tx().payload.family()),
        )));
    };
    match validator.validate(&ctx, view) {
        Ok(mut w) => {
            w.put(keys::nonce(&org.id), &stx.tx().nonce);
            Ok(Ok(w.0))
        }
        Err(r) => Ok(Err(r)),
    }
}

/// A host's knowledge that a signed transaction's signature already verified against a key
/// (the node's mempool verified it on entry). Must only answer true for the exact bytes —
/// transaction *and* signature — that were verified against exactly that key.
pub type Preverified<'a> = &'a dyn Fn(&SignedTransaction, &crate::crypto::PublicKey) -> bool;

/// One transaction's signature, checked against its sender's key in some state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigCheck {
    /// Verified (or vouched for by `Preverified`) against this key.
    Verified(PublicKey),
    /// The sender and key are known; the signature does not verify.
    Bad,
    /// Unknown sender or key id (the envelope check rejects these with its own rule).
    UnknownKey,
}

/// Look up each transaction's signing key in `view` and verify the signatures in one ed25519
/// batch, skipping those `preverified` vouches for; single checks only to name the bad ones when
/// the batch fails. Used by block execution and by the node's mempool admission.
pub fn check_signatures(view: &dyn StateView, txs: &[SignedTransaction], preverified: Preverified) -> Vec<SigCheck> {
    let mut out = Vec::with_capacity(txs.len());
    let (mut msgs, mut sigs, mut pks, mut idx) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, t) in txs.iter().enumerate() {
        let key = get_typed::<Org>(view, &keys::org(&t.tx().sender)).and_then(|o| o.key(t.tx().key_id).copied());
        match key {
            None => out.push(SigCheck::UnknownKey),
            Some(k) => {
                out.push(SigCheck::Verified(k));
                if !preverified(t, &k) {
                    msgs.push(t.sign_bytes());
                    sigs.push(t.signature);
                    pks.push(k);
                    idx.push(i);
                }
            }
        }
    }
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    if crate::crypto::verify_batch(&refs, &sigs, &pks).is_err() {
        for j in 0..idx.len() {
            if pks[j].verify(refs[j], &sigs[j]).is_err() {
                out[idx[j]] = SigCheck::Bad;
            }
        }
    }
    out
}

/// Execute a block's transactions in order over `base`. Signatures are batch-verified against
/// the keys in force at the start of the block, then re-checked singly for any transaction
/// whose key changed within the block.
pub fn execute_block(
    registry: &Registry,
    genesis: &Genesis,
    base: &dyn StateView,
    height: u64,
    block_time_ms: i64,
    txs: &[SignedTransaction],
) -> Result<BlockExecution, BlockError> {
    execute_block_preverified(registry, genesis, base, height, block_time_ms, txs, &|_, _| false)
}

/// `execute_block`, trusting `preverified` for signatures the host already checked. The verdicts
/// and writes are the same as `execute_block`'s (a signature's validity does not depend on who
/// checked it); only the work differs.
pub fn execute_block_preverified(
    registry: &Registry,
    genesis: &Genesis,
    base: &dyn StateView,
    height: u64,
    block_time_ms: i64,
    txs: &[SignedTransaction],
    preverified: Preverified,
) -> Result<BlockExecution, BlockError> {
    let mut seen = std::collections::BTreeSet::new();
    for (index, t) in txs.iter().enumerate() {
        let tx_id = t.id();
        if !seen.insert(tx_id) {
            return Err(BlockError::DuplicateTx { index, tx_id });
        }
    }
    let checks = check_signatures(base, txs, preverified);
    if let Some(index) = checks.iter().position(|c| *c == SigCheck::Bad) {
        return Err(BlockError::BadSignature {
            index,
            tx_id: txs[index].id(),
        });
    }
    let mut overlay = Overlay::new(base);
    let mut outcomes = Vec::with_capacity(txs.len());
    for (i, stx) in txs.iter().enumerate() {
        // Keys may rotate inside the block: re-verify singly when the key differs from the base.
        let base_key =
            get_typed::<Org>(base, &keys::org(&stx.tx().sender)).and_then(|o| o.key(stx.tx().key_id).copied());
        let now_key =
            get_typed::<Org>(&overlay, &keys::org(&stx.tx().sender)).and_then(|o| o.key(stx.tx().key_id).copied());
        let checked = base_key.is_some() && base_key == now_key;
        let verdict = contained(stx, || {
            execute_tx(
                registry,
                genesis,
                &overlay,
                height,
                block_time_ms,
                i as u32,
                stx,
                checked,
            )
        })?;
        match verdict {
            Ok(ws) => {
                overlay.apply(ws);
                outcomes.push(TxOutcome::Accepted);
            }
            Err(r) => outcomes.push(TxOutcome::Rejected {
                rule: r.rule,
                reason: r.reason,
            }),
        }
    }
    // End of block: promote a scheduled validator set (see `validate::end_block_writes`).
    let end = crate::validate::end_block_writes(&overlay, height);
    overlay.apply(end);
    Ok(BlockExecution {
        outcomes,
        writes: overlay.writes,
    })
}

/// The state genesis establishes: orgs and the validator set.
pub fn genesis_writes(genesis: &Genesis) -> Result<WriteSet, String> {
    let mut w = Writes::default();
    for o in &genesis.orgs {
        w.put(keys::org(&o.id), o);
        for k in o.registered_keys() {
            w.put(keys::key_owner(&k), &o.id);
        }
    }
    for a in &genesis.gs1_prefixes {
        crate::validate::prefix::register(&mut w, &a.prefix, &a.org);
    }
    w.put(keys::validators(), &genesis.validator_set()?);
    Ok(w.0)
}
