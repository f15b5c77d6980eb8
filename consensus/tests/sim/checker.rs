//! The independent checker: safety properties re-derived from what nodes *emitted*, using only
//! ledger primitives (`CommitCertificate::verify`, `Block::hash`) and the simulator's own
//! validity rule — never the engine's predicates.
//!
//! Invariants checked after every step: agreement, validity, certificates verify, heights only
//! grow by one per node, and no honest key signs two different votes (or proposals) for one
//! (height, round, kind).
use std::collections::BTreeMap;
use tradechain_consensus::ConsensusMsg;
use tradechain_consensus::double_sign::DoubleSignWatch;
use tradechain_ledger::{Block, CommitCertificate, Hash, PublicKey, ValidatorSet};

#[derive(Default)]
pub struct Checker {
    /// Agreed block hash per height (first honest commit wins; later ones must match).
    pub committed: BTreeMap<u64, Hash>,
    /// Last committed height per honest node.
    pub last_height: BTreeMap<usize, u64>,
    /// What each honest key signed (`consensus::double_sign`).
    own: DoubleSignWatch,
    /// `CommitCertificate::verify`'s answer per distinct (height, block hash, certificate bytes).
    cert_verdicts: BTreeMap<(u64, Hash, Vec<u8>), Result<(), String>>,
    pub violations: Vec<String>,
}

/// The simulator's block validity rule (what the sim host answers to `ValidateBlock`).
pub fn sim_block_valid(chain_id: &str, block: &Block, height: u64, prev: &Hash) -> bool {
    block.header.version == 1
        && block.header.chain_id == chain_id
        && block.header.height == height
        && &block.header.prev_hash == prev
        && block.txs.is_empty()
}

impl Checker {
    /// An honest node emitted a message: its own signatures never conflict.
    pub fn on_honest_broadcast(&mut self, node: usize, key: &PublicKey, msg: &ConsensusMsg) {
        if let Some(what) = self.own.observe(key, msg) {
            self.violations.push(format!("honest node {node} {what}"));
        }
    }

    /// An honest node committed (by consensus or by verified sync).
    pub fn on_commit(
        &mut self,
        node: usize,
        chain_id: &str,
        block: &Block,
        cert: &CommitCertificate,
        vset: &ValidatorSet,
    ) {
        let h = block.header.height;
        let hash = block.hash();
        // Every node commits the same certificate (or one of a few): check each distinct one once.
        let cert_id = (h, hash, tradechain_ledger::codec::encode(cert));
        let verdict = match self.cert_verdicts.get(&cert_id) {
            Some(v) => v.clone(),
            None => {
                let v = cert.verify(chain_id, h, &hash, vset).map_err(|e| e.to_string());
                self.cert_verdicts.insert(cert_id, v.clone());
                v
            }
        };
        if let Err(e) = verdict {
            self.violations
                .push(format!("node {node}: certificate for h={h} does not verify: {e}"));
        }
        let prev = if h == 1 {
            Some(genesis_prev())
        } else {
            self.committed.get(&(h - 1)).copied()
        };
        match prev {
            Some(p) if sim_block_valid(chain_id, block, h, &p) => {}
            _ => self
                .violations
                .push(format!("node {node}: committed an invalid block at h={h}")),
        }
        match self.committed.get(&h) {
            Some(other) if *other != hash => self.violations.push(format!(
                "AGREEMENT: node {node} committed {hash:?} at h={h}, others {other:?}"
            )),
            Some(_) => {}
            None => {
                self.committed.insert(h, hash);
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

pub fn genesis_prev() -> Hash {
    Hash::tagged("sim/genesis", b"")
}
