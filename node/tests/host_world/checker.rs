//! The independent checker of the host simulation: properties re-derived from what nodes
//! emitted and committed, with ledger primitives only (`CommitCertificate::verify`,
//! `Block::hash`, the state tree's root) — never the host's or the engine's own predicates.
//!
//! Checked after every step: agreement (one block per height), certificates verify against the
//! validator set in force (which honest nodes agree on), the header names that set, heights grow
//! by one, equal state roots on honest nodes at each height (recomputed from each node's tree,
//! and equal to the header's), no transaction committed twice, and no honest key signs two
//! different votes or proposals for one (height, round, kind).
use std::collections::{BTreeMap, HashMap};
use tradechain_consensus::ConsensusMsg;
use tradechain_consensus::double_sign::DoubleSignWatch;
use tradechain_ledger::{Block, CommitCertificate, Genesis, Hash, PublicKey, ValidatorSet};

#[derive(Default)]
pub struct Checker {
    /// Agreed block hash per height (first honest commit wins; later ones must match).
    pub committed: BTreeMap<u64, Hash>,
    /// Agreed state root per height.
    roots: BTreeMap<u64, Hash>,
    /// Agreed validator-set hash per height.
    vsets: BTreeMap<u64, Hash>,
    /// Last committed height per honest node.
    last_height: BTreeMap<usize, u64>,
    /// Where each committed transaction is (first seen).
    txs: HashMap<Hash, u64>,
    /// What each honest key signed (`consensus::double_sign`).
    own: DoubleSignWatch,
    /// `CommitCertificate::verify`'s answer per distinct (height, block hash, set hash).
    cert_verdicts: BTreeMap<(u64, Hash, Hash), Result<(), String>>,
    pub root_checks: u64,
    pub violations: Vec<String>,
}

impl Checker {
    /// An honest node emitted a message: its own signatures never conflict.
    pub fn on_honest_broadcast(&mut self, node: usize, key: &PublicKey, msg: &ConsensusMsg) {
        if let Some(what) = self.own.observe(key, msg) {
            self.violations.push(format!("honest node {node} {what}"));
        }
    }

    /// An honest node's store holds `block` at its height, with the validator set it says is in
    /// force there and the state root recomputed from its tree.
    pub fn on_commit(
        &mut self,
        node: usize,
        genesis: &Genesis,
        block: &Block,
        cert: &CommitCertificate,
        vset: Option<&ValidatorSet>,
        root: Hash,
    ) {
        let h = block.header.height;
        let hash = block.hash();
        let Some(vset) = vset else {
            self.violations.push(format!("node {node}: no validator set for h={h}"));
            return;
        };
        let set_hash = vset.hash();
        agree(
            &mut self.vsets,
            &mut self.violations,
            h,
            set_hash,
            node,
            "validator set",
        );
        if block.header.validators_hash != set_hash {
            self.violations
                .push(format!("node {node}: block {h} names a validator set not in force"));
        }
        let verdict = self
            .cert_verdicts
            .entry((h, hash, set_hash))
            .or_insert_with(|| {
                cert.verify(&genesis.chain_id, h, &hash, vset)
                    .map_err(|e| e.to_string())
            })
            .clone();
        if let Err(e) = verdict {
            self.violations
                .push(format!("node {node}: certificate for h={h} does not verify: {e}"));
        }
        if h > 1 {
            match self.committed.get(&(h - 1)) {
                Some(p) if *p == block.header.prev_hash => {}
                _ => self
                    .violations
                    .push(format!("node {node}: block {h} does not extend block {}", h - 1)),
            }
        }
        agree(
            &mut self.committed,
            &mut self.violations,
            h,
            hash,
            node,
            "AGREEMENT: block",
        );
        self.root_checks += 1;
        if root != block.header.state_hash {
            self.violations.push(format!(
                "node {node}: state root at h={h} is {root}, the header says {}",
                block.header.state_hash
            ));
        }
        agree(&mut self.roots, &mut self.violations, h, root, node, "state root");
        for t in &block.txs {
            let at = *self.txs.entry(t.id()).or_insert(h);
            if at != h {
                self.violations
                    .push(format!("transaction {} committed at {at} and again at {h}", t.id()));
            }
        }
        let last = self.last_height.get(&node).copied().unwrap_or(0);
        if h != last + 1 {
            self.violations.push(format!(
                "node {node}: committed h={h} after h={last} (heights must grow by one)"
            ));
        }
        self.last_height.insert(node, h);
    }
}

/// The first honest value for a height wins; a different one later is a violation.
fn agree(seen: &mut BTreeMap<u64, Hash>, violations: &mut Vec<String>, h: u64, v: Hash, node: usize, what: &str) {
    match seen.get(&h) {
        Some(other) if *other != v => violations.push(format!("{what} at h={h}: node {node} has {v}, others {other}")),
        Some(_) => {}
        None => {
            seen.insert(h, v);
        }
    }
}
