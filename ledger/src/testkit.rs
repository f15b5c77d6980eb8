//! Test support, compiled only with the `testkit` feature (tests and benches enable it through
//! their dev-dependencies; a shipped build never has it): the demo genesis over `demo::ORGS` with
//! keys derived from public labels, an in-memory chain that executes blocks through
//! `execute::execute_block`, document builders for rule tables, and the demo shipment Fuzhou
//! (CNFOC) → Rotterdam (NLRTM) as a list of steps.
//!
//! Never use these keys outside tests: they derive from public labels
//! (`SecretKey::from_label(org id)`), so anyone can sign as these orgs.
//!
//! Invariants: everything here is deterministic (fixed times, labels and ids), so two runs of the
//! same steps give the same state hash.
pub mod fuzz;
use crate::block::TxOutcome;
use crate::certificate::ValidatorInfo;
use crate::crypto::SecretKey;
use crate::execute::{BlockError, Registry, execute_block, genesis_writes};
use crate::genesis::{ConsensusParams, Genesis, HighRiskCategory, Limits};
use crate::hash::Hash;
use crate::identity::{Org, OrgKey};
use crate::payload::*;
use crate::state::{MemState, WriteSet, get_typed, keys};
use crate::state_tree::MemTree;
use crate::tx::{SignedTransaction, TX_VERSION, Transaction};

pub use crate::demo::{DemoOrg, GENESIS_TIME_MS, ORGS, waybill_issue};
pub use crate::payload::build::{event, observe, oid, party};

pub const CHAIN_ID: &str = "tradechain-demo";
/// Block time step of `Chain`.
pub const BLOCK_STEP_MS: i64 = 1_000;

/// The org's deterministic demo key (key id 1).
pub fn secret(org: &str) -> SecretKey {
    SecretKey::from_label(org)
}

/// The demo genesis: the orgs of `demo::ORGS` (key id 1 from their labels) and its validators
/// (power 1 each), quorum 2/3, default limits and consensus parameters, the high-risk categories
/// (`HighRiskCategory::defaults`, as `tradechain genesis init` writes them) and the demo's GS1
/// prefixes; chain `CHAIN_ID` from `GENESIS_TIME_MS`. The one test genesis: a fixture that needs
/// another chain id or time overrides those fields of this one (`Genesis { chain_id, ..demo_genesis() }`).
pub fn demo_genesis() -> Genesis {
    let orgs: Vec<Org> = ORGS
        .iter()
        .map(|o| Org {
            id: oid(o.id),
            name: o.name.to_string(),
            country: o.country.to_string(),
            roles: vec![o.role],
            keys: vec![OrgKey {
                key_id: 1,
                public_key: secret(o.id).public(),
            }],
            node_keys: Vec::new(),
            credit_tier: o.tier,
        })
        .collect();
    Genesis {
        chain_id: CHAIN_ID.to_string(),
        genesis_time_ms: GENESIS_TIME_MS,
        orgs,
        validators: ORGS
            .iter()
            .filter(|o| o.validator)
            .map(|o| ValidatorInfo {
                org: oid(o.id),
                public_key: secret(o.id).public(),
                power: 1,
            })
            .collect(),
        consensus: ConsensusParams::default(),
        limits: Limits::default(),
        governance_quorum: (2, 3),
        high_risk: HighRiskCategory::defaults(),
        gs1_prefixes: crate::demo::prefix_assignments(),
    }
}

/// The demo validators' consensus signing keys (`secret` of each org of `demo::ORGS` marked
/// `validator`), in the order of `demo_genesis().validators`.
pub fn validator_secrets() -> Vec<SecretKey> {
    ORGS.iter().filter(|o| o.validator).map(|o| secret(o.id)).collect()
}

/// An in-memory chain: genesis state plus blocks executed one after another.
pub struct Chain {
    pub genesis: Genesis,
    pub registry: Registry,
    pub state: MemState,
    /// Height of the last executed block (0 = genesis).
    pub height: u64,
    /// Time of the last block.
    pub time_ms: i64,
    /// The state tree (`state_tree`) over the genesis writes, then each block's writes.
    pub tree: MemTree,
    /// The state tree's root after the last block: what its header's `state_hash` says.
    pub state_hash: Hash,
}

impl Chain {
    pub fn new(genesis: Genesis) -> Chain {
        let ws = genesis_writes(&genesis).unwrap_or_default();
        let mut state = MemState::default();
        state.apply(&ws);
        let mut tree = MemTree::default();
        let state_hash = match tree.advance(0, &ws) {
            Ok(u) => u.root,
            Err(e) => panic!("the in-memory state tree failed: {e}"),
        };
        Chain {
            time_ms: genesis.genesis_time_ms,
            genesis,
            registry: Registry::default(),
            state,
            height: 0,
            tree,
            state_hash,
        }
    }

    pub fn demo() -> Chain {
        Chain::new(demo_genesis())
    }

    /// The nonce `sender`'s next transaction must carry, from committed state.
    pub fn next_nonce(&self, sender: &str) -> u64 {
        get_typed::<u64>(&self.state, &keys::nonce(&oid(sender))).unwrap_or(0) + 1
    }

    /// Sign `payload` as `sender` (key id 1) with an explicit nonce, timed at the next block.
    pub fn sign(&self, sender: &str, nonce: u64, payload: Payload) -> SignedTransaction {
        Transaction {
            version: TX_VERSION,
            chain_id: self.genesis.chain_id.clone(),
            sender: oid(sender),
            key_id: 1,
            nonce,
            time_ms: self.time_ms + BLOCK_STEP_MS,
            payload,
        }
        .sign(&secret(sender))
    }

    /// Sign with the sender's next nonce from committed state.
    pub fn tx(&self, sender: &str, payload: Payload) -> SignedTransaction {
        self.sign(sender, self.next_nonce(sender), payload)
    }

    /// Execute the next block (height + 1, time + `BLOCK_STEP_MS`) and commit its writes.
    pub fn execute(&mut self, txs: &[SignedTransaction]) -> Result<(Vec<TxOutcome>, WriteSet), BlockError> {
        let height = self.height + 1;
        let time = self.time_ms + BLOCK_STEP_MS;
        let ex = execute_block(&self.registry, &self.genesis, &self.state, height, time, txs)?;
        self.state.apply(&ex.writes);
        self.state_hash = match self.tree.advance(height, &ex.writes) {
            Ok(u) => u.root,
            Err(e) => panic!("the in-memory state tree failed: {e}"),
        };
        self.height = height;
        self.time_ms = time;
        Ok((ex.outcomes, ex.writes))
    }

    /// Submit one transaction as a block of its own; returns its outcome.
    pub fn submit(&mut self, sender: &str, payload: Payload) -> TxOutcome {
        let t = self.tx(sender, payload);
        match self.execute(&[t]) {
            Ok((mut o, _)) => o.pop().unwrap_or(TxOutcome::Accepted),
            Err(e) => TxOutcome::Rejected {
                rule: "block".into(),
                reason: e.to_string(),
            },
        }
    }
}

// ---- document builders -------------------------------------------------------------------

/// A non-preferential certificate of origin CN → NL for smartphones.
pub fn certificate_issue(number: &str, goods_ids: &[&str]) -> CertificateIssue {
    CertificateIssue {
        number: number.to_string(),
        exporter: party("Fuzhou Electronics Co.", Some("PRODUCER-FZ"), "CN"),
        producer: party("Fuzhou Electronics Co.", Some("PRODUCER-FZ"), "CN"),
        consignee: party("Rotterdam Importer B.V.", None, "NL"),
        origin_country: "CN".into(),
        destination_country: "NL".into(),
        hs_code: "851713".into(),
        origin_criterion: "WO".into(),
        quantity: Quantity {
            value: 3,
            scale: 0,
            uom: "H87".into(),
        },
        invoice_reference: "INV-FZ-2026-0042".into(),
        goods_description: "Smartphones".into(),
        goods_ids: goods_ids.iter().map(|s| s.to_string()).collect(),
        preferential: false,
    }
}

/// A customs step on `epcs` at a UN/LOCODE.
pub fn customs(epcs: &[&str], time_ms: i64, unlocode: &str, step: CustomsStep) -> ProvenanceEvent {
    let mut e = event(EventType::ObjectEvent, Some(Action::Observe), epcs, time_ms);
    e.unlocode = Some(unlocode.to_string());
    e.customs = Some(step);
    e
}

pub fn declared(declarant: &str, hs: &str, waybill: Option<(&str, &str)>) -> CustomsStep {
    CustomsStep::Declared {
        declaration_id: format!("DECL-{declarant}-{hs}"),
        declarant: oid(declarant),
        hs_code: hs.to_string(),
        preferential_certificate: None,
        waybill: waybill.map(|(c, r)| WaybillRef {
            carrier: oid(c),
            reference: r.to_string(),
        }),
    }
}

// ---- the demo shipment ------------------------------------------------------------------

/// Three smartphones (EPC URNs), the same first phone as a Digital Link, and their pallet.
pub const PHONES: [&str; 3] = [
    "urn:epc:id:sgtin:6901234.012345.1001",
    "urn:epc:id:sgtin:6901234.012345.1002",
    "urn:epc:id:sgtin:6901234.012345.1003",
];
pub const PHONE1_DL: &str = "https://id.gs1.org/01/06901234123456/21/1001";
pub const PALLET: &str = "urn:epc:id:sscc:6901234.0000000001";
pub const BL_REF: &str = "COSU-2026-000123";
pub const CO_NUMBER: &str = "CCPIT-FZ-2026-0001";
pub const SETTLEMENT_ID: &str = "STL-2026-0001";
pub const SETTLEMENT_AMOUNT_MINOR: u64 = 125_000_000;

/// One step of the demo shipment: who sends what.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: &'static str,
    pub sender: &'static str,
    pub payload: Payload,
}

/// The whole shipment, in order: commissioned in Fuzhou, packed, CO issued, BL issued and
/// endorsed twice, declared, inspected and released at CNFOC, loaded, discharged at NLRTM,
/// declared and released there, delivered, payment instructed by BANK-NL against the BL it holds
/// (a bank finances only a bill it holds) and confirmed by BANK-CN, BL surrendered and
/// accomplished. Step `i` is meant to run in block `i + 1` of a `Chain::demo()`.
pub fn shipment() -> Vec<Step> {
    let t = |i: i64| GENESIS_TIME_MS + i * BLOCK_STEP_MS + 500;
    let bl = |op| Payload::Waybill(op);
    let prov = Payload::Provenance;
    let mut commission = event(EventType::ObjectEvent, Some(Action::Add), &PHONES, t(0));
    commission.biz_step = Some("urn:epcglobal:cbv:bizstep:commissioning".into());
    commission.disposition = Some("urn:epcglobal:cbv:disp:active".into());
    commission.read_point = Some("urn:epc:id:sgln:6901234.00001.0".into());
    commission.unlocode = Some("CNFOC".into());
    commission.event_id = Some("ni:///sha-256;demo-commission-1?ver=CBV2.0".into());
    let mut pack = event(EventType::AggregationEvent, Some(Action::Add), &[], t(1));
    pack.parent_id = Some(PALLET.into());
    pack.child_epcs = vec![PHONE1_DL.into(), PHONES[1].into(), PHONES[2].into()];
    pack.biz_step = Some("packing".into());
    pack.unlocode = Some("CNFOC".into());
    let mut deliver = observe(&[PALLET], t(13), "receiving", "NLRTM");
    deliver.disposition = Some("in_possession".into());
    let step = |name, sender, payload| Step { name, sender, payload };
    vec![
        step("commission", "PRODUCER-FZ", prov(commission)),
        step("pack", "PRODUCER-FZ", prov(pack)),
        step(
            "issue_certificate",
            "CHAMBER-CN",
            Payload::Certificate(CertificateOp::Issue(certificate_issue(
                CO_NUMBER,
                &[PALLET, PHONES[0], PHONES[1], PHONES[2]],
            ))),
        ),
        step(
            "issue_bl",
            "CARRIER-COSCO",
            bl(WaybillOp::Issue(waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]))),
        ),
        step(
            "endorse_to_bank_cn",
            "PRODUCER-FZ",
            bl(WaybillOp::Transfer {
                carrier: oid("CARRIER-COSCO"),
                reference: BL_REF.into(),
                new_holder: oid("BANK-CN"),
            }),
        ),
        step(
            "endorse_to_bank_nl",
            "BANK-CN",
            bl(WaybillOp::Transfer {
                carrier: oid("CARRIER-COSCO"),
                reference: BL_REF.into(),
                new_holder: oid("BANK-NL"),
            }),
        ),
        step(
            "declare_cnfoc",
            "CUSTOMS-CN",
            prov(customs(
                &[PALLET],
                t(6),
                "CNFOC",
                declared("PRODUCER-FZ", "851713", Some(("CARRIER-COSCO", BL_REF))),
            )),
        ),
        step(
            "inspect_cnfoc",
            "CUSTOMS-CN",
            prov(customs(
                &[PALLET],
                t(7),
                "CNFOC",
                CustomsStep::Inspected {
                    outcome: InspectionOutcome::Passed,
                    remarks: "seal and count checked".into(),
                },
            )),
        ),
        step(
            "release_cnfoc",
            "CUSTOMS-CN",
            prov(customs(&[PALLET], t(8), "CNFOC", CustomsStep::Released)),
        ),
        step(
            "load_cnfoc",
            "PORT-CNFOC",
            prov(observe(&[PALLET], t(9), "loading", "CNFOC")),
        ),
        step(
            "discharge_nlrtm",
            "CARRIER-COSCO",
            prov(observe(&[PALLET], t(10), "unloading", "NLRTM")),
        ),
        step(
            "declare_nlrtm",
            "CUSTOMS-NL",
            prov(customs(
                &[PALLET],
                t(11),
                "NLRTM",
                declared("CARRIER-COSCO", "85171300", Some(("CARRIER-COSCO", BL_REF))),
            )),
        ),
        step(
            "release_nlrtm",
            "CUSTOMS-NL",
            prov(customs(&[PALLET], t(12), "NLRTM", CustomsStep::Released)),
        ),
        step("deliver", "CARRIER-COSCO", prov(deliver)),
        step(
            "instruct_payment",
            "BANK-NL",
            Payload::Settlement(SettlementOp::Instruct(SettlementInstruct {
                settlement_id: SETTLEMENT_ID.into(),
                payer_bank: oid("BANK-NL"),
                payee_bank: oid("BANK-CN"),
                amount_minor: SETTLEMENT_AMOUNT_MINOR,
                currency: "EUR".into(),
                reference: SettlementRef::Waybill {
                    carrier: oid("CARRIER-COSCO"),
                    reference: BL_REF.into(),
                },
                payer_party: "Rotterdam Importer B.V.".into(),
                payee_party: "Fuzhou Electronics Co.".into(),
            })),
        ),
        step(
            "confirm_payment",
            "BANK-CN",
            Payload::Settlement(SettlementOp::Confirm {
                payer_bank: oid("BANK-NL"),
                settlement_id: SETTLEMENT_ID.into(),
            }),
        ),
        step(
            "surrender_bl",
            "BANK-NL",
            bl(WaybillOp::Surrender {
                carrier: oid("CARRIER-COSCO"),
                reference: BL_REF.into(),
                purpose: SurrenderPurpose::Delivery,
            }),
        ),
        step(
            "accomplish_bl",
            "CARRIER-COSCO",
            bl(WaybillOp::Accomplish {
                carrier: oid("CARRIER-COSCO"),
                reference: BL_REF.into(),
            }),
        ),
    ]
}

// ---- assertions for rule tables -----------------------------------------------------------

impl Chain {
    /// Submit as a one-transaction block; panic with the rule and reason unless accepted.
    pub fn accept(&mut self, sender: &str, payload: Payload) {
        if let TxOutcome::Rejected { rule, reason } = self.submit(sender, payload) {
            panic!("expected {sender}'s transaction to be accepted, got {rule}: {reason}");
        }
    }

    /// Accept every step in order (setup for a rule table).
    pub fn play(&mut self, steps: &[Step]) {
        for s in steps {
            self.accept(s.sender, s.payload.clone());
        }
    }

    /// Submit as a one-transaction block; panic unless rejected; check the rejection left the
    /// state untouched (apart from end-of-block promotions) and return `(rule, reason)`.
    pub fn reject(&mut self, sender: &str, payload: Payload) -> (String, String) {
        // Only the end-of-block changes (a due validator set) may happen in the block.
        let mut before = self.state.clone();
        before.apply(&crate::validate::end_block_writes(&self.state, self.height + 1));
        match self.submit(sender, payload) {
            TxOutcome::Accepted => panic!("expected {sender}'s transaction to be rejected, it was accepted"),
            TxOutcome::Rejected { rule, reason } => {
                assert_eq!(self.state, before, "a rejected transaction changed state ({rule})");
                (rule, reason)
            }
        }
    }

    /// Assert a rejection under `rule` with exactly `reason`.
    pub fn reject_with(&mut self, sender: &str, payload: Payload, rule: &str, reason: &str) {
        let (r, why) = self.reject(sender, payload);
        assert_eq!((r.as_str(), why.as_str()), (rule, reason));
    }
}

/// The demo chain after the first `n` shipment steps.
pub fn after_steps(n: usize) -> Chain {
    let mut c = Chain::demo();
    c.play(&shipment()[..n]);
    c
}
