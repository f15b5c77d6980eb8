//! A prepared trade on a `MemBackend`, for tests (feature `testkit`): a tea shipment from Fuzhou
//! to Rotterdam with a certificate of origin, an eBL endorsed to the importer, a bank settlement
//! and the item's EPCIS events through customs — enough to exercise every RPC and every filter.
//!
//! The chain is the ledger's one test genesis, `testkit::demo_genesis` (chain `CHAIN_ID`, from
//! `testkit::GENESIS_TIME_MS`): the orgs of the one demo table `ledger::demo::ORGS`, each signing
//! with `testkit::secret` (key id 1), its four validators (power 1; three of them sign the commit
//! certificates) and the default high-risk categories (tea, HS 0902, is food: high-risk, so the
//! general-tier shipper's item is inspected before release). The parties: PRODUCER-FZ ships,
//! CHAMBER-CN certifies the origin, CARRIER-COSCO carries (bill `WAYBILL_REF`), CUSTOMS-CN
//! declares, inspects and releases, PORT-NLRTM observes, BANK-NL finances and BANK-CN is paid,
//! IMPORTER-NL receives the bill and REGULATOR-EU reads.
//!
//! Invariants: every block is produced by the ledger's real validators (`MemBackend::submit`'s
//! admission, then `MemBackend::commit_executed`), from real signed transactions, with real
//! commit certificates, so the records are exactly what a node would store and proofs verify
//! offline. A transaction the scenario expects accepted (or rejected under a given rule) that
//! the validators judge otherwise panics at `commit`: the fixture cannot drift from the rules.
use std::collections::BTreeMap;
use std::sync::Arc;

use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::payload::*;
use tradechain_ledger::testkit;
use tradechain_ledger::tx::{SignedTransaction, TX_VERSION, Transaction};

use super::backend::Backend;
use super::mem::MemBackend;

/// The scenario's chain: the demo genesis's.
pub use tradechain_ledger::testkit::CHAIN_ID;
/// The scenario's genesis: the one test genesis.
pub use tradechain_ledger::testkit::demo_genesis as genesis;
/// An org id from a literal (`payload::build::oid`).
pub use tradechain_ledger::testkit::oid as org;
/// An org's signing key (key id 1): the testkit's derivation from the org id's label.
pub use tradechain_ledger::testkit::secret as key_of;

/// The main item: GTIN 09506000134352, serial abc.
pub const ITEM: &str = "01/09506000134352/21/abc";
pub const ITEM_LINK: &str = "https://id.gs1.org/01/9506000134352/21/abc?linkType=all";
pub const ITEM_URN: &str = "urn:epc:id:sgtin:9506000.013435.abc";
pub const PALLET: &str = "00/395060001000000013";
pub const PALLET_URN: &str = "urn:epc:id:sscc:9506000.3100000001";
/// CARRIER-COSCO's bill of lading (a COSCO reference: SCAC COSU).
pub const WAYBILL_REF: &str = "COSU123456789";
pub const CERT_NO: &str = "CO-CN-2024-0001";
pub const SETTLEMENT_ID: &str = "SET-2024-0001";
/// Private values that must never reach a consumer.
pub const CONSIGNEE_NAME: &str = "Acme Importer BV";
pub const CONSIGNEE_ADDRESS: &str = "Keizersgracht 1, Amsterdam";
pub const SHIPPER_NAME: &str = "Fuzhou Tea Export Co";
pub const AMOUNT_MINOR: u64 = 1_250_000;
pub const INVOICE: &str = "INV-778899";
pub const PO: &str = "urn:epcglobal:cbv:bt:9506000000002:PO-4711";
/// The rule that rejects block 2's transaction: IMPORTER-NL endorsing a bill not issued yet.
pub const REJECTED_RULE: &str = "waybill.not_found";

fn party(name: &str, org_id: Option<&str>, country: &str, address: &str) -> Party {
    Party {
        address: address.into(),
        ..tradechain_ledger::payload::build::party(name, org_id, country)
    }
}

fn event(kind: EventType, time_ms: i64) -> ProvenanceEvent {
    tradechain_ledger::payload::build::event(kind, None, &[], time_ms)
}

/// The verdict a transaction of the block being built must get: `None` accepted, else the rule
/// that rejects it.
type Expected = Option<String>;

pub struct Scenario {
    pub backend: Arc<MemBackend>,
    nonces: BTreeMap<String, u64>,
    time_ms: i64,
    /// The block being built: each submitted transaction's id and its expected verdict.
    block: Vec<(Hash, Expected)>,
}

impl Scenario {
    /// An empty chain (height 0) over `genesis()`, with the test identifier aliases registered.
    pub fn empty() -> Scenario {
        let validator_keys = testkit::validator_secrets().into_iter().take(3).collect();
        let backend = match MemBackend::new(genesis(), validator_keys) {
            Ok(b) => Arc::new(b),
            Err(e) => unreachable!("the fixed genesis is valid: {e}"),
        };
        backend.add_alias(ITEM_URN, ITEM);
        backend.add_alias(PALLET_URN, PALLET);
        Scenario {
            backend,
            nonces: BTreeMap::new(),
            time_ms: testkit::GENESIS_TIME_MS + 100_000,
            block: Vec::new(),
        }
    }

    pub fn now(&self) -> i64 {
        self.time_ms
    }

    /// Sign a transaction from `sender` with its next nonce (not submitted).
    pub fn sign(&mut self, sender: &str, payload: Payload) -> SignedTransaction {
        let n = self.nonces.entry(sender.to_string()).or_insert(0);
        *n += 1;
        self.time_ms += 1000;
        Transaction {
            version: TX_VERSION,
            chain_id: CHAIN_ID.into(),
            sender: org(sender),
            key_id: 1,
            nonce: *n,
            time_ms: self.time_ms,
            payload,
        }
        .sign(&key_of(sender))
    }

    /// Sign and submit to the backend's mempool (its admission checks), expecting `verdict`.
    fn submit(&mut self, sender: &str, payload: Payload, verdict: Expected) -> Hash {
        let tx = self.sign(sender, payload);
        let id = match self.backend.submit(tx) {
            Ok(id) => id,
            Err(e) => panic!("the mempool refused {sender}'s scenario transaction: {e:?}"),
        };
        self.block.push((id, verdict));
        id
    }

    /// Submit a transaction the validators must accept in the block being built.
    pub fn accept(&mut self, sender: &str, payload: Payload) -> Hash {
        self.submit(sender, payload, None)
    }

    /// Submit a transaction the validators must reject under `rule` (its nonce is not consumed).
    pub fn reject(&mut self, sender: &str, payload: Payload, rule: &str) -> Hash {
        let id = self.submit(sender, payload, Some(rule.into()));
        if let Some(n) = self.nonces.get_mut(sender) {
            *n -= 1;
        }
        id
    }

    /// Commit the block being built: the mempool executed by the ledger's validators. Panics if
    /// a verdict is not the expected one.
    pub fn commit(&mut self) -> Hash {
        self.time_ms += 1000;
        let hash = match self.backend.commit_executed(self.time_ms) {
            Ok(h) => h,
            Err(e) => panic!("the scenario block does not execute: {e}"),
        };
        let height = self.backend.height();
        let outcomes = match self.backend.outcomes(height) {
            Ok(Some(o)) => o,
            other => panic!("no outcomes at height {height}: {other:?}"),
        };
        let block = std::mem::take(&mut self.block);
        assert_eq!(
            outcomes.len(),
            block.len(),
            "block {height}: not every transaction was committed"
        );
        for ((id, want), got) in block.iter().zip(&outcomes) {
            match (got, want) {
                (TxOutcome::Accepted, None) => {}
                (TxOutcome::Rejected { rule, .. }, Some(r)) if rule == r => {}
                (got, want) => panic!("block {height}: transaction {id}: expected {want:?}, got {got:?}"),
            }
        }
        hash
    }

    /// `carrier` issues `doc` (held by `doc.holder`) in the block being built.
    pub fn issue_waybill(&mut self, carrier: &str, doc: WaybillIssue) -> Hash {
        self.accept(carrier, Payload::Waybill(WaybillOp::Issue(doc)))
    }

    /// A provenance event by `sender` in the block being built; the clock first moves up to the
    /// event's time, so the block's time covers it.
    pub fn provenance(&mut self, sender: &str, ev: ProvenanceEvent) -> Hash {
        self.time_ms = self.time_ms.max(ev.event_time_ms);
        self.accept(sender, Payload::Provenance(ev))
    }

    /// An OBSERVE event of `key` at a UN/LOCODE (used to grow histories).
    pub fn observe(&mut self, sender: &str, key: &str, unlocode: &str) -> Hash {
        let mut ev = event(EventType::ObjectEvent, self.time_ms);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![format!("https://id.gs1.org/{key}")];
        ev.biz_step = Some("urn:epcglobal:cbv:bizstep:inspecting".into());
        ev.unlocode = Some(unlocode.into());
        self.provenance(sender, ev)
    }

    /// The full trade story (5 blocks).
    pub fn trade() -> Scenario {
        let mut s = Scenario::empty();
        let t0 = s.time_ms;

        // Block 1: certificate of origin; the item is commissioned.
        let cert = CertificateIssue {
            number: CERT_NO.into(),
            exporter: party(SHIPPER_NAME, Some("PRODUCER-FZ"), "CN", "1 Wuyi Road, Fuzhou"),
            producer: party(SHIPPER_NAME, Some("PRODUCER-FZ"), "CN", "1 Wuyi Road, Fuzhou"),
            consignee: party(CONSIGNEE_NAME, Some("IMPORTER-NL"), "NL", CONSIGNEE_ADDRESS),
            origin_country: "CN".into(),
            destination_country: "NL".into(),
            hs_code: "090210".into(),
            origin_criterion: "WO".into(),
            quantity: Quantity {
                value: 1200,
                scale: 0,
                uom: "KGM".into(),
            },
            invoice_reference: INVOICE.into(),
            goods_description: "Green tea".into(),
            goods_ids: vec![ITEM_LINK.into()],
            preferential: true,
        };
        s.accept("CHAMBER-CN", Payload::Certificate(CertificateOp::Issue(cert)));
        let mut ev = event(EventType::ObjectEvent, t0);
        ev.action = Some(Action::Add);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.biz_step = Some("urn:epcglobal:cbv:bizstep:commissioning".into());
        ev.disposition = Some("urn:epcglobal:cbv:disp:active".into());
        ev.read_point = Some("urn:epc:id:sgln:9506000.00001.0".into());
        ev.unlocode = Some("CNFOC".into());
        ev.event_id = Some("ni:///sha-256;commission-abc".into());
        s.provenance("PRODUCER-FZ", ev);
        s.commit();

        // Block 2: packed onto a pallet (with a purchase order: commercial, redacted), and a
        // rejected endorsement attempt of a bill not issued yet.
        let mut ev = event(EventType::AggregationEvent, t0 + 3_600_000);
        ev.action = Some(Action::Add);
        ev.parent_id = Some(PALLET_URN.into());
        ev.child_epcs = vec![ITEM_URN.into()];
        ev.biz_step = Some("urn:epcglobal:cbv:bizstep:packing".into());
        ev.biz_transaction_list = vec![TypedRef {
            kind: Some("urn:epcglobal:cbv:btt:po".into()),
            id: PO.into(),
        }];
        s.provenance("PRODUCER-FZ", ev);
        s.reject(
            "IMPORTER-NL",
            Payload::Waybill(WaybillOp::Transfer {
                carrier: org("CARRIER-COSCO"),
                reference: WAYBILL_REF.into(),
                new_holder: org("IMPORTER-NL"),
            }),
            REJECTED_RULE,
        );
        s.commit();

        // Block 3: the eBL is issued to the shipper; BANK-NL finances the exporter's invoice
        // (a bank finances a bill only while it holds it; an invoice, any bank).
        let wb = WaybillIssue {
            reference: WAYBILL_REF.into(),
            mode: TransportMode::Sea,
            kind: WaybillKind::ToOrder,
            shipper: party(SHIPPER_NAME, Some("PRODUCER-FZ"), "CN", "1 Wuyi Road, Fuzhou"),
            consignee: Some(party(CONSIGNEE_NAME, Some("IMPORTER-NL"), "NL", CONSIGNEE_ADDRESS)),
            notify_party: None,
            holder: org("PRODUCER-FZ"),
            place_of_receipt: "CNFOC".into(),
            port_of_loading: "CNFOC".into(),
            port_of_discharge: "NLRTM".into(),
            place_of_delivery: "NLAMS".into(),
            vehicle: "COSCO SHIPPING TAURUS".into(),
            voyage: "425W".into(),
            goods: vec![GoodsLine {
                description: "Green tea".into(),
                hs_code: "090210".into(),
                package_count: 1,
                package_code: "PX".into(),
                gross_weight_grams: 1_250_000,
                goods_ids: vec![PALLET_URN.into()],
            }],
            issue_date_ms: t0 + 7_200_000,
            sub_reference: 0,
            dcsa: None,
        };
        s.issue_waybill("CARRIER-COSCO", wb);
        s.accept(
            "BANK-NL",
            Payload::Settlement(SettlementOp::Instruct(SettlementInstruct {
                settlement_id: SETTLEMENT_ID.into(),
                payer_bank: org("BANK-NL"),
                payee_bank: org("BANK-CN"),
                amount_minor: AMOUNT_MINOR,
                currency: "EUR".into(),
                reference: SettlementRef::Invoice { number: INVOICE.into() },
                payer_party: CONSIGNEE_NAME.into(),
                payee_party: SHIPPER_NAME.into(),
            })),
        );
        s.commit();

        // Block 4: customs declaration (commercial: redacted), and the eBL endorsed to the importer.
        let mut ev = event(EventType::ObjectEvent, t0 + 10_800_000);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.unlocode = Some("CNFOC".into());
        ev.customs = Some(CustomsStep::Declared {
            declaration_id: "DECL-2024-77".into(),
            declarant: org("PRODUCER-FZ"),
            hs_code: "090210".into(),
            preferential_certificate: Some(CertificateRef {
                issuer: org("CHAMBER-CN"),
                number: CERT_NO.into(),
            }),
            waybill: Some(WaybillRef {
                carrier: org("CARRIER-COSCO"),
                reference: WAYBILL_REF.into(),
            }),
        });
        s.provenance("CUSTOMS-CN", ev);
        s.accept(
            "PRODUCER-FZ",
            Payload::Waybill(WaybillOp::Transfer {
                carrier: org("CARRIER-COSCO"),
                reference: WAYBILL_REF.into(),
                new_holder: org("IMPORTER-NL"),
            }),
        );
        s.commit();

        // Block 5: inspected and released; loaded at the port; settlement confirmed (minutes
        // apart: a block's transactions are within the chain's clock skew of its time).
        let t5 = t0 + 14_400_000;
        let mut ev = event(EventType::ObjectEvent, t5);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.unlocode = Some("CNFOC".into());
        ev.customs = Some(CustomsStep::Inspected {
            outcome: InspectionOutcome::Passed,
            remarks: "sample tested".into(),
        });
        s.provenance("CUSTOMS-CN", ev);
        let mut ev = event(EventType::ObjectEvent, t5 + 120_000);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.unlocode = Some("CNFOC".into());
        ev.customs = Some(CustomsStep::Released);
        s.provenance("CUSTOMS-CN", ev);
        let mut ev = event(EventType::ObjectEvent, t5 + 240_000);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.biz_step = Some("urn:epcglobal:cbv:bizstep:shipping".into());
        ev.unlocode = Some("CNFOC".into());
        ev.read_point = Some("urn:epc:id:sgln:9506000.00099.0".into());
        s.provenance("CARRIER-COSCO", ev);
        s.accept(
            "BANK-CN",
            Payload::Settlement(SettlementOp::Confirm {
                payer_bank: org("BANK-NL"),
                settlement_id: SETTLEMENT_ID.into(),
            }),
        );
        s.commit();
        s
    }

    /// Add `n` observe events to `key`, `per_block` to a block.
    pub fn grow(&mut self, key: &str, n: usize, per_block: usize) {
        for i in 0..n {
            self.observe("PORT-NLRTM", key, "NLRTM");
            if (i + 1) % per_block.max(1) == 0 {
                self.commit();
            }
        }
        if !self.block.is_empty() {
            self.commit();
        }
    }
}
