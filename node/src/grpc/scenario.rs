//! A prepared trade on a `MemBackend`, for tests and benches: a tea shipment from Fuzhou to
//! Rotterdam with a certificate of origin, an eBL endorsed to the importer, a bank settlement and
//! the item's EPCIS events through customs — enough to exercise every RPC and every filter.
//!
//! The scenario writes the records a node's validators would write (it does not run them), with
//! real transaction signatures and real commit certificates, so proofs verify offline.
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::certificate::ValidatorInfo;
use tradechain_ledger::codec::encode;
use tradechain_ledger::crypto::SecretKey;
use tradechain_ledger::genesis::Genesis;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::identity::{CreditTier, Org, OrgId, OrgKey, Role};
use tradechain_ledger::payload::*;
use tradechain_ledger::records::*;
use tradechain_ledger::state::{WriteSet, keys};
use tradechain_ledger::tx::{SignedTransaction, TX_VERSION, Transaction};

use super::mem::MemBackend;

pub const CHAIN_ID: &str = "tradechain-test";
/// The main item: GTIN 09506000134352, serial abc.
pub const ITEM: &str = "01/09506000134352/21/abc";
pub const ITEM_LINK: &str = "https://id.gs1.org/01/9506000134352/21/abc?linkType=all";
pub const ITEM_URN: &str = "urn:epc:id:sgtin:9506000.013435.abc";
pub const PALLET: &str = "00/395060001000000013";
pub const PALLET_URN: &str = "urn:epc:id:sscc:9506000.3100000001";
pub const WAYBILL_REF: &str = "MAEU123456789";
pub const CERT_NO: &str = "CO-CN-2024-0001";
pub const SETTLEMENT_ID: &str = "SET-2024-0001";
/// Private values that must never reach a consumer.
pub const CONSIGNEE_NAME: &str = "Acme Importer BV";
pub const CONSIGNEE_ADDRESS: &str = "Keizersgracht 1, Amsterdam";
pub const SHIPPER_NAME: &str = "Fuzhou Tea Export Co";
pub const AMOUNT_MINOR: u64 = 1_250_000;
pub const INVOICE: &str = "INV-778899";
pub const PO: &str = "urn:epcglobal:cbv:bt:9506000000002:PO-4711";

pub const ORGS: &[(&str, Role, &str, bool)] = &[
    ("PRODUCER-CN", Role::Producer, "CN", false),
    ("CHAMBER-CN", Role::Chamber, "CN", false),
    ("CUSTOMS-CN", Role::Customs, "CN", true),
    ("MAERSK", Role::Carrier, "DK", true),
    ("PORT-NLRTM", Role::Port, "NL", true),
    ("BANK-CN", Role::Bank, "CN", false),
    ("BANK-NL", Role::Bank, "NL", false),
    ("IMPORTER-NL", Role::Producer, "NL", false),
    ("REGULATOR-EU", Role::Regulator, "BE", true),
];

pub fn org(s: &str) -> OrgId {
    OrgId::new(s).unwrap_or_else(|e| unreachable!("fixed org id {s}: {e}"))
}

/// The org's (only) signing key, key id 1.
pub fn key_of(org: &str) -> SecretKey {
    SecretKey::from_label(org)
}

pub fn genesis() -> Genesis {
    let orgs: Vec<Org> = ORGS
        .iter()
        .map(|(id, role, country, _)| Org {
            id: org(id),
            name: format!("{id} Ltd"),
            country: country.to_string(),
            roles: vec![*role],
            keys: vec![OrgKey {
                key_id: 1,
                public_key: key_of(id).public(),
            }],
            node_keys: Vec::new(),
            credit_tier: CreditTier::General,
        })
        .collect();
    let validators = ORGS
        .iter()
        .filter(|o| o.3)
        .map(|(id, ..)| ValidatorInfo {
            org: org(id),
            public_key: key_of(id).public(),
            power: 10,
        })
        .collect();
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: 1_700_000_000_000,
        orgs,
        validators,
        consensus: Default::default(),
        limits: Default::default(),
        governance_quorum: (2, 3),
        high_risk: Vec::new(),
        gs1_prefixes: Vec::new(),
    }
}

fn party(name: &str, org_id: Option<&str>, country: &str, address: &str) -> Party {
    Party {
        address: address.into(),
        ..tradechain_ledger::testkit::party(name, org_id, country)
    }
}

fn event(kind: EventType, time_ms: i64) -> ProvenanceEvent {
    tradechain_ledger::testkit::event(kind, None, &[], time_ms)
}

/// One transaction of a block being built: the tx, and its verdict.
struct Pending {
    tx: SignedTransaction,
    outcome: TxOutcome,
}

pub struct Scenario {
    pub backend: Arc<MemBackend>,
    nonces: BTreeMap<String, u64>,
    items: BTreeMap<String, ItemRecord>,
    time_ms: i64,
    block: Vec<Pending>,
    writes: WriteSet,
}

impl Scenario {
    /// An empty chain (height 0) over `genesis()`, with the test identifier aliases registered.
    pub fn empty() -> Scenario {
        let validator_keys = ORGS.iter().filter(|o| o.3).map(|o| key_of(o.0)).take(3).collect();
        let backend = match MemBackend::new(genesis(), validator_keys) {
            Ok(b) => Arc::new(b),
            Err(e) => unreachable!("the fixed genesis is valid: {e}"),
        };
        backend.add_alias(ITEM_URN, ITEM);
        backend.add_alias(PALLET_URN, PALLET);
        Scenario {
            backend,
            nonces: BTreeMap::new(),
            items: BTreeMap::new(),
            time_ms: 1_700_000_100_000,
            block: Vec::new(),
            writes: WriteSet::new(),
        }
    }

    pub fn now(&self) -> i64 {
        self.time_ms
    }

    /// Sign a transaction from `sender` with its next nonce.
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

    fn at(&self) -> TxLocation {
        TxLocation {
            height: self.backend.height() + 1,
            index: self.block.len() as u32,
        }
    }

    fn put<T: borsh::BorshSerialize>(&mut self, key: Vec<u8>, v: &T) {
        self.writes.insert(key, Some(encode(v)));
    }

    /// Add an accepted transaction to the block being built; `apply` writes its records.
    fn accept(&mut self, sender: &str, payload: Payload, apply: impl FnOnce(&mut Scenario, TxLocation, Hash)) -> Hash {
        let tx = self.sign(sender, payload);
        let (at, id) = (self.at(), tx.id());
        apply(self, at, id);
        self.writes
            .insert(keys::nonce(&tx.tx.sender), Some(encode(&tx.tx.nonce)));
        self.block.push(Pending {
            tx,
            outcome: TxOutcome::Accepted,
        });
        id
    }

    /// Add a transaction the validators rejected (its nonce is not consumed).
    pub fn reject(&mut self, sender: &str, payload: Payload, rule: &str, reason: &str) -> Hash {
        let tx = self.sign(sender, payload);
        if let Some(n) = self.nonces.get_mut(sender) {
            *n -= 1;
        }
        let id = tx.id();
        self.block.push(Pending {
            tx,
            outcome: TxOutcome::Rejected {
                rule: rule.into(),
                reason: reason.into(),
            },
        });
        id
    }

    /// Commit the block being built.
    pub fn commit(&mut self) -> Hash {
        let (txs, outcomes): (Vec<_>, Vec<_>) = std::mem::take(&mut self.block)
            .into_iter()
            .map(|p| (p.tx, p.outcome))
            .unzip();
        let writes = std::mem::take(&mut self.writes);
        self.time_ms += 1000;
        match self.backend.commit_block(txs, outcomes, writes, self.time_ms) {
            Ok(h) => h,
            Err(e) => unreachable!("scenario blocks are well-formed: {e}"),
        }
    }

    /// Write a waybill record and its public head (`WaybillRecord::write`).
    fn put_waybill(&mut self, rec: &WaybillRecord) {
        let mut w = tradechain_ledger::state::Writes::default();
        rec.write(&mut w);
        self.writes.extend(w.0);
    }

    /// `carrier` issues `doc` (held by `doc.holder`) in the block being built.
    pub fn issue_waybill(&mut self, carrier: &str, doc: WaybillIssue) -> Hash {
        self.accept(carrier, Payload::Waybill(WaybillOp::Issue(doc.clone())), |s, at, _| {
            s.put_waybill(&WaybillRecord {
                issuer: org(carrier),
                holder: doc.holder.clone(),
                document: doc,
                status: WaybillStatus::Issued,
                endorsements: Vec::new(),
                version: 1,
                issued_at: at,
                updated_at: at,
            });
        })
    }

    /// Append an event to an item's chain (and write the item record).
    fn item_event(&mut self, key: &str, tx_id: Hash, at: TxLocation, time_ms: i64, f: impl FnOnce(&mut ItemRecord)) {
        let mut item = self.items.get(key).cloned().unwrap_or_else(|| ItemRecord::new(key));
        let prev = item.last_event_hash;
        let ev = ItemEventRef {
            seq: item.event_count,
            tx_id,
            at,
            event: 0,
            event_time_ms: time_ms,
            prev_event_hash: prev,
            event_hash: item_event_hash(&prev, &tx_id, 0, key),
        };
        item.event_count += 1;
        item.last_event_hash = ev.event_hash;
        item.last_event_time_ms = time_ms;
        f(&mut item);
        self.put(keys::item_event(key, ev.seq), &ev);
        let mut w = tradechain_ledger::state::Writes::default();
        item.write(&mut w);
        self.writes.extend(w.0);
        self.items.insert(key.to_string(), item);
    }

    /// A provenance event by `sender` touching `goods` (canonical keys), with item updates.
    pub fn provenance(
        &mut self,
        sender: &str,
        ev: ProvenanceEvent,
        goods: &[&str],
        f: impl Fn(&str, &mut ItemRecord),
    ) -> Hash {
        let time = ev.event_time_ms;
        let goods: Vec<String> = goods.iter().map(|s| s.to_string()).collect();
        self.accept(sender, Payload::Provenance(ev), |s, at, id| {
            for g in &goods {
                s.item_event(g, id, at, time, |r| f(g, r));
            }
        })
    }

    /// An OBSERVE event of `key` at a UN/LOCODE (used to grow histories).
    pub fn observe(&mut self, sender: &str, key: &str, unlocode: &str) -> Hash {
        let mut ev = event(EventType::ObjectEvent, self.time_ms);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![format!("https://id.gs1.org/{key}")];
        ev.biz_step = Some("urn:epcglobal:cbv:bizstep:inspecting".into());
        ev.unlocode = Some(unlocode.into());
        self.provenance(sender, ev, &[key], |_, _| {})
    }

    /// The full trade story (5 blocks).
    pub fn trade() -> Scenario {
        let mut s = Scenario::empty();
        let t0 = s.time_ms;

        // Block 1: certificate of origin; the item is commissioned.
        let cert = CertificateIssue {
            number: CERT_NO.into(),
            exporter: party(SHIPPER_NAME, Some("PRODUCER-CN"), "CN", "1 Wuyi Road, Fuzhou"),
            producer: party(SHIPPER_NAME, Some("PRODUCER-CN"), "CN", "1 Wuyi Road, Fuzhou"),
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
        s.accept(
            "CHAMBER-CN",
            Payload::Certificate(CertificateOp::Issue(cert.clone())),
            |s, at, _| {
                let rec = CertificateRecord {
                    issuer: org("CHAMBER-CN"),
                    document: cert,
                    revoked: None,
                    version: 1,
                    issued_at: at,
                    updated_at: at,
                };
                let mut w = tradechain_ledger::state::Writes::default();
                rec.write(&mut w);
                s.writes.extend(w.0);
            },
        );
        let mut ev = event(EventType::ObjectEvent, t0);
        ev.action = Some(Action::Add);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.biz_step = Some("urn:epcglobal:cbv:bizstep:commissioning".into());
        ev.disposition = Some("urn:epcglobal:cbv:disp:active".into());
        ev.read_point = Some("urn:epc:id:sgln:9506000.00001.0".into());
        ev.unlocode = Some("CNFOC".into());
        ev.event_id = Some("ni:///sha-256;commission-abc".into());
        s.provenance("PRODUCER-CN", ev, &[ITEM], |_, r| {
            r.commissioned = true;
            r.hs_code = Some("090210".into());
        });
        s.commit();

        // Block 2: packed onto a pallet (with a purchase order: commercial, redacted), and a
        // rejected endorsement attempt by a non-holder.
        let mut ev = event(EventType::AggregationEvent, t0 + 3_600_000);
        ev.action = Some(Action::Add);
        ev.parent_id = Some(PALLET_URN.into());
        ev.child_epcs = vec![ITEM_URN.into()];
        ev.biz_step = Some("urn:epcglobal:cbv:bizstep:packing".into());
        ev.biz_transaction_list = vec![TypedRef {
            kind: Some("urn:epcglobal:cbv:btt:po".into()),
            id: PO.into(),
        }];
        s.provenance("PRODUCER-CN", ev, &[ITEM, PALLET], |g, r| {
            if g == ITEM {
                r.parent = Some(PALLET.into());
            } else {
                r.children = BTreeSet::from([ITEM.to_string()]);
            }
        });
        s.reject(
            "IMPORTER-NL",
            Payload::Waybill(WaybillOp::Transfer {
                carrier: org("MAERSK"),
                reference: WAYBILL_REF.into(),
                new_holder: org("IMPORTER-NL"),
            }),
            "waybill.unknown",
            "no waybill MAERSK/MAEU123456789",
        );
        s.commit();

        // Block 3: the eBL is issued to the shipper; the banks instruct a settlement.
        let wb = WaybillIssue {
            reference: WAYBILL_REF.into(),
            mode: TransportMode::Sea,
            kind: WaybillKind::ToOrder,
            shipper: party(SHIPPER_NAME, Some("PRODUCER-CN"), "CN", "1 Wuyi Road, Fuzhou"),
            consignee: Some(party(CONSIGNEE_NAME, Some("IMPORTER-NL"), "NL", CONSIGNEE_ADDRESS)),
            notify_party: None,
            holder: org("PRODUCER-CN"),
            place_of_receipt: "CNFOC".into(),
            port_of_loading: "CNFOC".into(),
            port_of_discharge: "NLRTM".into(),
            place_of_delivery: "NLAMS".into(),
            vehicle: "MAERSK EINDHOVEN".into(),
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
        s.issue_waybill("MAERSK", wb);
        let instr = SettlementInstruct {
            settlement_id: SETTLEMENT_ID.into(),
            payer_bank: org("BANK-NL"),
            payee_bank: org("BANK-CN"),
            amount_minor: AMOUNT_MINOR,
            currency: "EUR".into(),
            reference: SettlementRef::Waybill {
                carrier: org("MAERSK"),
                reference: WAYBILL_REF.into(),
            },
            payer_party: CONSIGNEE_NAME.into(),
            payee_party: SHIPPER_NAME.into(),
        };
        s.accept(
            "BANK-NL",
            Payload::Settlement(SettlementOp::Instruct(instr.clone())),
            |s, at, _| {
                let rec = SettlementRecord {
                    instruction: instr,
                    status: SettlementStatus::Instructed,
                    version: 1,
                    instructed_at: at,
                    updated_at: at,
                };
                s.put(keys::settlement(&org("BANK-NL"), SETTLEMENT_ID), &rec);
                s.put(
                    keys::settlement_guard(&tradechain_ledger::validate::settlement::document_key(
                        &rec.instruction.reference,
                    )),
                    &SettlementKey {
                        payer_bank: org("BANK-NL"),
                        settlement_id: SETTLEMENT_ID.into(),
                    },
                );
            },
        );
        s.commit();

        // Block 4: customs declaration (commercial: redacted), and the eBL endorsed to the importer.
        let mut ev = event(EventType::ObjectEvent, t0 + 10_800_000);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.unlocode = Some("CNFOC".into());
        ev.customs = Some(CustomsStep::Declared {
            declaration_id: "DECL-2024-77".into(),
            declarant: org("PRODUCER-CN"),
            hs_code: "090210".into(),
            preferential_certificate: Some(CertificateRef {
                issuer: org("CHAMBER-CN"),
                number: CERT_NO.into(),
            }),
            waybill: Some(WaybillRef {
                carrier: org("MAERSK"),
                reference: WAYBILL_REF.into(),
            }),
        });
        s.provenance("CUSTOMS-CN", ev, &[ITEM], |_, r| {
            r.customs = CustomsStatus::Declared;
            r.declarant = Some(org("PRODUCER-CN"));
            r.certificate = Some(CertificateRef {
                issuer: org("CHAMBER-CN"),
                number: CERT_NO.into(),
            });
            r.waybill = Some(WaybillRef {
                carrier: org("MAERSK"),
                reference: WAYBILL_REF.into(),
            });
        });
        s.accept(
            "PRODUCER-CN",
            Payload::Waybill(WaybillOp::Transfer {
                carrier: org("MAERSK"),
                reference: WAYBILL_REF.into(),
                new_holder: org("IMPORTER-NL"),
            }),
            |s, at, _| {
                let key = keys::waybill(&org("MAERSK"), WAYBILL_REF);
                let mut rec: WaybillRecord = match s.backend.state_value(&key) {
                    Some(r) => r,
                    None => unreachable!("issued in block 3"),
                };
                rec.holder = org("IMPORTER-NL");
                rec.endorsements.push(Endorsement {
                    from: org("PRODUCER-CN"),
                    to: org("IMPORTER-NL"),
                    at,
                });
                rec.version += 1;
                rec.updated_at = at;
                s.put_waybill(&rec);
            },
        );
        s.commit();

        // Block 5: inspected and released; loaded at the port; settlement confirmed.
        let mut ev = event(EventType::ObjectEvent, t0 + 14_400_000);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.customs = Some(CustomsStep::Inspected {
            outcome: InspectionOutcome::Passed,
            remarks: "sample tested".into(),
        });
        s.provenance("CUSTOMS-CN", ev, &[ITEM], |_, r| {
            r.inspected = Some(InspectionOutcome::Passed)
        });
        let mut ev = event(EventType::ObjectEvent, t0 + 15_000_000);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.customs = Some(CustomsStep::Released);
        s.provenance("CUSTOMS-CN", ev, &[ITEM], |_, r| r.customs = CustomsStatus::Released);
        let mut ev = event(EventType::ObjectEvent, t0 + 18_000_000);
        ev.action = Some(Action::Observe);
        ev.epc_list = vec![ITEM_LINK.into()];
        ev.biz_step = Some("urn:epcglobal:cbv:bizstep:shipping".into());
        ev.unlocode = Some("CNFOC".into());
        ev.read_point = Some("urn:epc:id:sgln:9506000.00099.0".into());
        s.provenance("MAERSK", ev, &[ITEM], |_, _| {});
        s.accept(
            "BANK-CN",
            Payload::Settlement(SettlementOp::Confirm {
                payer_bank: org("BANK-NL"),
                settlement_id: SETTLEMENT_ID.into(),
            }),
            |s, at, _| {
                let key = keys::settlement(&org("BANK-NL"), SETTLEMENT_ID);
                let mut rec: SettlementRecord = match s.backend.state_value(&key) {
                    Some(r) => r,
                    None => unreachable!("instructed in block 3"),
                };
                rec.status = SettlementStatus::Confirmed;
                rec.version += 1;
                rec.updated_at = at;
                s.put(key, &rec);
            },
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
