//! The members' clients of a simulated world: what they submit, what an acknowledgement
//! obliges the chain to, and what must be refused.
//!
//! - Honest clients: PRODUCER-FZ commissions items (EPCIS ObjectEvent ADD under its GS1 prefix),
//!   CARRIER-COSCO issues bills of lading; each uses its next nonce after its last
//!   acknowledgement and must end committed and accepted.
//! - Governance: CUSTOMS-CN proposes adding BANK-NL's key to the validator set, PORT-CNFOC and
//!   CARRIER-COSCO approve, each once the step before is committed.
//! - Adversarial members: a bad signature, a transaction signed with another org's key, one for
//!   another chain — each must be refused at submission; and BANK-CN (a validator org) issuing a
//!   bill of lading (signed correctly, so admitted) — it must commit as rejected, and its replays
//!   must not be taken again.
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap, HashSet};
use tradechain_ledger::certificate::ValidatorInfo;
use tradechain_ledger::payload::{Action, EventType, GovAction, GovernanceOp, Payload, WaybillOp};
use tradechain_ledger::state::{StateView, get_typed, keys};
use tradechain_ledger::testkit::{event, oid, secret, waybill_issue};
use tradechain_ledger::tx::{TX_VERSION, Transaction};
use tradechain_ledger::{Block, Genesis, Hash, SignedTransaction};

use crate::host_world::world::{JOINER, VALIDATORS};

/// What a submitted transaction is expected to come to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Acknowledged, then committed and accepted.
    Accepted,
    /// Acknowledged, then committed and rejected by the validators.
    Rejected,
    /// Refused at submission: acknowledging it is a violation.
    Refused,
}

#[derive(Default)]
pub struct Workload {
    pub submitted: u64,
    pub refused: u64,
    /// Submissions still to come (planned Submit events).
    planned: usize,
    /// Acknowledged transactions, in order, with what they are.
    acked: Vec<(Hash, &'static str)>,
    expect: HashMap<Hash, Expect>,
    /// Each honest client's next nonce (after its last acknowledgement).
    next_nonce: BTreeMap<&'static str, u64>,
    /// The adversary's acknowledged, not yet committed transaction (one at a time).
    adversary_pending: Option<Hash>,
    /// Governance: how many steps were acknowledged, and the id of the last.
    gov_acked: usize,
    gov_last: Option<Hash>,
    committed: HashSet<Hash>,
    counter: u64,
    /// Acknowledged by a dishonest node, not yet seen committed, with when (virtual ms).
    pub unconfirmed: Vec<(SignedTransaction, u64)>,
    /// The adversary's transactions, to replay once committed (rejected, their nonce stays free).
    pub adversary_txs: Vec<SignedTransaction>,
}

const GOV_STEPS: [&str; 3] = ["CUSTOMS-CN", "PORT-CNFOC", "CARRIER-COSCO"];

impl Workload {
    /// When each submission happens (virtual ms): spread over the run until after heal.
    pub fn plan(&mut self, rng: &mut ChaCha8Rng, heal_at: u64) -> Vec<u64> {
        let n = rng.random_range(10..30);
        self.planned = n;
        let mut at: Vec<u64> = (0..n).map(|_| rng.random_range(0..heal_at + 1_500)).collect();
        at.sort_unstable();
        at
    }

    pub fn acknowledged(&self) -> &[(Hash, &'static str)] {
        &self.acked
    }

    pub fn expected(&self, id: &Hash) -> Option<Expect> {
        self.expect.get(id).copied()
    }

    /// Every planned submission was made and governance is through (or cannot be any more).
    pub fn finished(&self) -> bool {
        self.planned == 0 && !self.governance_due()
    }

    pub fn governance_due(&self) -> bool {
        self.gov_acked < GOV_STEPS.len()
    }

    /// Stop watching what has committed.
    pub fn forget_committed(&mut self) {
        let committed = &self.committed;
        self.unconfirmed.retain(|(t, _)| !committed.contains(&t.id()));
    }

    /// The adversary's transactions that are committed (as rejected): what it replays.
    pub fn replayable(&self) -> Vec<SignedTransaction> {
        self.adversary_txs
            .iter()
            .filter(|t| self.committed.contains(&t.id()))
            .cloned()
            .collect()
    }

    pub fn is_committed(&self, id: &Hash) -> bool {
        self.committed.contains(id)
    }

    pub fn on_commit(&mut self, block: &Block) {
        for t in &block.txs {
            let id = t.id();
            if self.adversary_pending == Some(id) {
                self.adversary_pending = None;
            }
            self.committed.insert(id);
        }
    }

    fn sign(&self, genesis: &Genesis, sender: &str, nonce: u64, now_ms: i64, payload: Payload) -> SignedTransaction {
        Transaction {
            version: TX_VERSION,
            chain_id: genesis.chain_id.clone(),
            sender: oid(sender),
            key_id: 1,
            nonce,
            time_ms: now_ms,
            payload,
        }
        .sign(&secret(sender))
    }

    fn honest_nonce(&mut self, org: &'static str) -> u64 {
        *self.next_nonce.entry(org).or_insert(1)
    }

    /// The next transaction to submit (`governance` events only submit governance steps).
    pub fn next(
        &mut self,
        rng: &mut ChaCha8Rng,
        genesis: &Genesis,
        state: &dyn StateView,
        now_ms: i64,
        governance: bool,
    ) -> Option<(SignedTransaction, &'static str, Expect)> {
        if governance {
            return self.governance_step(genesis, now_ms);
        }
        self.planned = self.planned.saturating_sub(1);
        self.counter += 1;
        let c = self.counter;
        match rng.random_range(0..10) {
            0..=4 => {
                let org = "PRODUCER-FZ";
                let epc = format!("urn:epc:id:sgtin:6901234.012345.S{c}");
                let mut e = event(EventType::ObjectEvent, Some(Action::Add), &[&epc], now_ms - 1);
                e.biz_step = Some("urn:epcglobal:cbv:bizstep:commissioning".into());
                e.unlocode = Some("CNFOC".into());
                let nonce = self.honest_nonce(org);
                Some((
                    self.sign(genesis, org, nonce, now_ms, Payload::Provenance(e)),
                    org,
                    Expect::Accepted,
                ))
            }
            5..=6 => {
                let org = "CARRIER-COSCO";
                let op = WaybillOp::Issue(waybill_issue(&format!("SIMBL{c}"), "PRODUCER-FZ", &[]));
                let nonce = self.honest_nonce(org);
                Some((
                    self.sign(genesis, org, nonce, now_ms, Payload::Waybill(op)),
                    org,
                    Expect::Accepted,
                ))
            }
            7 => {
                // A bank issues a bill of lading: well signed, so admitted, and rejected in the block.
                if self.adversary_pending.is_some() {
                    return None;
                }
                let org = "BANK-CN";
                let nonce = get_typed::<u64>(state, &keys::nonce(&oid(org))).unwrap_or(0) + 1;
                let op = WaybillOp::Issue(waybill_issue(&format!("FAKEBL{c}"), "BANK-CN", &[]));
                Some((
                    self.sign(genesis, org, nonce, now_ms, Payload::Waybill(op)),
                    "adversary-bank-issues-bl",
                    Expect::Rejected,
                ))
            }
            k => {
                let org = "PRODUCER-FZ";
                let nonce = self.honest_nonce(org);
                let epc = format!("urn:epc:id:sgtin:6901234.012345.X{c}");
                let e = event(EventType::ObjectEvent, Some(Action::Add), &[&epc], now_ms - 1);
                let mut tx = self.sign(genesis, org, nonce, now_ms, Payload::Provenance(e));
                let what = match (k, rng.random_range(0..3)) {
                    (_, 0) => {
                        tx.signature.0[5] ^= 0x20;
                        "adversary-bad-signature"
                    }
                    (_, 1) => {
                        tx.signature = secret("BANK-CN").sign(&tx.sign_bytes());
                        "adversary-forged-sender"
                    }
                    _ => {
                        let mut t = tx.tx().clone();
                        t.chain_id = "another-chain".into();
                        tx = t.sign(&secret(org));
                        "adversary-other-chain"
                    }
                };
                Some((tx, what, Expect::Refused))
            }
        }
    }

    /// The next governance step, once the one before is committed.
    fn governance_step(&mut self, genesis: &Genesis, now_ms: i64) -> Option<(SignedTransaction, &'static str, Expect)> {
        if !self.governance_due() || self.gov_last.is_some_and(|id| !self.committed.contains(&id)) {
            return None;
        }
        let org = GOV_STEPS[self.gov_acked];
        let op = if self.gov_acked == 0 {
            let mut validators: Vec<ValidatorInfo> = VALIDATORS
                .iter()
                .chain([&JOINER])
                .map(|o| ValidatorInfo {
                    org: oid(o),
                    public_key: secret(o).public(),
                    power: 1,
                })
                .collect();
            validators.sort_by(|a, b| a.org.cmp(&b.org));
            GovernanceOp::Propose {
                proposal_id: "SIM-JOIN".into(),
                change: GovAction::SetValidators { validators },
            }
        } else {
            GovernanceOp::Approve {
                proposal_id: "SIM-JOIN".into(),
            }
        };
        let nonce = self.honest_nonce(org);
        Some((
            self.sign(genesis, org, nonce, now_ms, Payload::Governance(op)),
            "governance",
            Expect::Accepted,
        ))
    }

    /// The node's answer to a submission; a violation if it acknowledged what it must refuse.
    pub fn answered(
        &mut self,
        tx: &SignedTransaction,
        what: &'static str,
        expect: Expect,
        acked: bool,
    ) -> Option<String> {
        self.submitted += 1;
        let id = tx.id();
        self.expect.insert(id, expect);
        if !acked {
            self.refused += 1;
            return None;
        }
        if expect == Expect::Refused {
            return Some(format!("acknowledged a transaction it must refuse ({what}) {id}"));
        }
        self.acked.push((id, what));
        if expect == Expect::Rejected {
            self.adversary_pending = Some(id);
            self.adversary_txs.push(tx.clone());
        } else if let Some(n) = self.next_nonce.get_mut(tx.tx().sender.as_str()) {
            *n = tx.tx().nonce + 1;
        }
        if tx.tx().payload.family() == "governance" {
            self.gov_acked += 1;
            self.gov_last = Some(id);
        }
        None
    }
}
