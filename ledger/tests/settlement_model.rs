//! Model-based property test of the settlement and certificate rules against cheating members.
//!
//! Random sequences of settlement operations (instruct, confirm, repay, release, cancel), bill of
//! lading endorsements and certificate operations (issue, revoke) are sent by several orgs —
//! honest ones and cheats: other banks, non-holders, non-payees, non-issuers, authorities of the
//! wrong country — in blocks executed through `execute::execute_block`. After every block:
//! - at most one active financing per document (bill of lading, or invoice number compared
//!   without case and whitespace), and each document's guard names exactly its active financing;
//! - every settlement changed in the block changed only through accepted operations of the orgs a
//!   rule allows (payer instructs, repays, releases, cancels; payee confirms), along the lifecycle,
//!   and every accepted financing of a bill was instructed by the bill's holder at that moment;
//! - every certificate changed in the block was issued by its own sender or revoked by its
//!   issuer (and a revocation changes only the flag); at most one valid certificate per goods;
//!   every issuer is a chamber or customs of the certificate's origin and exporting country.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use proptest::prelude::*;
use std::collections::BTreeMap;
use tradechain_ledger::execute::execute_block;
use tradechain_ledger::identity::{CreditTier, Org, OrgKey, Role};
use tradechain_ledger::payload::*;
use tradechain_ledger::records::{CertificateRecord, SettlementRecord, SettlementStatus, WaybillRecord};
use tradechain_ledger::state::{MemState, Ns, get_typed, keys, split_key};
use tradechain_ledger::testkit::*;
use tradechain_ledger::{SignedTransaction, TxOutcome};

/// Senders: three rival banks first, then non-banks (a carrier, a producer, two chambers of two
/// countries, a customs authority).
const ORGS: [&str; 8] = [
    "BANK-NL",
    "BANK-CN",
    "BANK-DE",
    "CARRIER-COSCO",
    "PRODUCER-FZ",
    "CHAMBER-CN",
    "CUSTOMS-CN",
    "CHAMBER-NL",
];
const CARRIER: &str = "CARRIER-COSCO";
/// Bills of lading and their first holders.
const BLS: [(&str, &str); 3] = [("BL-A", "BANK-NL"), ("BL-B", "BANK-CN"), ("BL-C", "PRODUCER-FZ")];
/// Invoice numbers; the first two are one invoice spelt two ways.
const INVOICES: [&str; 3] = ["INV-1", " inv-1", "INV-2"];
const IDS: [&str; 3] = ["S1", "S2", "S3"];
const NUMBERS: [&str; 3] = ["CO-1", "CO-2", "CO-3"];
/// Goods ids; the last is the first spelt as a Digital Link.
const GOODS: [&str; 5] = [PHONES[0], PHONES[1], PHONES[2], PALLET, PHONE1_DL];

#[derive(Clone, Debug)]
enum Op {
    Instruct {
        sender: usize,
        payer: usize,
        payee: usize,
        id: usize,
        doc: usize,
        amount: u64,
        usd: bool,
    },
    Confirm {
        sender: usize,
        payer: usize,
        id: usize,
    },
    /// 0 repay, 1 release, 2 cancel.
    End {
        kind: u8,
        sender: usize,
        payer: usize,
        id: usize,
    },
    Endorse {
        sender: usize,
        bl: usize,
        to: usize,
    },
    Issue {
        sender: usize,
        number: usize,
        goods: u8,
        origin_nl: bool,
        exporter_nl: bool,
    },
    Revoke {
        sender: usize,
        number: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let o = 0..ORGS.len();
    let bank = 0usize..3;
    prop_oneof![
        4 => (o.clone(), prop_oneof![3 => bank.clone(), 1 => o.clone()], o.clone(), 0..IDS.len(), 0..BLS.len() + INVOICES.len(), 1u64..4, any::<bool>())
            .prop_map(|(sender, payer, payee, id, doc, amount, usd)| {
                // Mostly honest about the payer (itself), sometimes claiming another.
                let payer = if payer % 2 == 0 && sender < 3 { sender } else { payer };
                Op::Instruct { sender, payer, payee, id, doc, amount, usd }
            }),
        3 => (o.clone(), bank.clone(), 0..IDS.len()).prop_map(|(sender, payer, id)| Op::Confirm { sender, payer, id }),
        3 => (0u8..3, o.clone(), bank.clone(), 0..IDS.len())
            .prop_map(|(kind, sender, payer, id)| Op::End { kind, sender, payer, id }),
        2 => (o.clone(), 0..BLS.len(), o.clone()).prop_map(|(sender, bl, to)| Op::Endorse { sender, bl, to }),
        3 => (o.clone(), 0..NUMBERS.len(), 0u8..32, (0u8..5).prop_map(|x| x == 0), (0u8..5).prop_map(|x| x == 0))
            .prop_map(|(sender, number, goods, origin_nl, exporter_nl)| Op::Issue { sender, number, goods, origin_nl, exporter_nl }),
        2 => (o, 0..NUMBERS.len()).prop_map(|(sender, number)| Op::Revoke { sender, number }),
    ]
}

fn doc_ref(doc: usize) -> SettlementRef {
    match BLS.get(doc) {
        Some((reference, _)) => SettlementRef::Waybill {
            carrier: oid(CARRIER),
            reference: reference.to_string(),
        },
        None => SettlementRef::Invoice {
            number: INVOICES[doc - BLS.len()].to_string(),
        },
    }
}

/// The test's own notion of "the same document".
fn same_doc(r: &SettlementRef) -> String {
    match r {
        SettlementRef::Waybill { carrier, reference } => format!("BL {carrier}/{reference}"),
        SettlementRef::Invoice { number } => format!(
            "INV {}",
            number
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>()
                .to_uppercase()
        ),
    }
}

fn to_tx(op: &Op) -> (&'static str, Payload) {
    let s = |op: SettlementOp| Payload::Settlement(op);
    match *op {
        Op::Instruct {
            sender,
            payer,
            payee,
            id,
            doc,
            amount,
            usd,
        } => (
            ORGS[sender],
            s(SettlementOp::Instruct(SettlementInstruct {
                settlement_id: IDS[id].into(),
                payer_bank: oid(ORGS[payer]),
                payee_bank: oid(ORGS[payee]),
                amount_minor: amount,
                currency: if usd { "USD" } else { "EUR" }.into(),
                reference: doc_ref(doc),
                payer_party: "importer".into(),
                payee_party: "exporter".into(),
            })),
        ),
        Op::Confirm { sender, payer, id } => (
            ORGS[sender],
            s(SettlementOp::Confirm {
                payer_bank: oid(ORGS[payer]),
                settlement_id: IDS[id].into(),
            }),
        ),
        Op::End {
            kind,
            sender,
            payer,
            id,
        } => {
            let (payer_bank, settlement_id) = (oid(ORGS[payer]), IDS[id].to_string());
            let reason = "model".to_string();
            let op = match kind {
                0 => SettlementOp::Repay {
                    payer_bank,
                    settlement_id,
                },
                1 => SettlementOp::Release {
                    payer_bank,
                    settlement_id,
                    reason,
                },
                _ => SettlementOp::Cancel {
                    payer_bank,
                    settlement_id,
                    reason,
                },
            };
            (ORGS[sender], s(op))
        }
        Op::Endorse { sender, bl, to } => (
            ORGS[sender],
            Payload::Waybill(WaybillOp::Transfer {
                carrier: oid(CARRIER),
                reference: BLS[bl].0.into(),
                new_holder: oid(ORGS[to]),
            }),
        ),
        Op::Issue {
            sender,
            number,
            goods,
            origin_nl,
            exporter_nl,
        } => {
            let ids: Vec<&str> = GOODS
                .iter()
                .enumerate()
                .filter(|(i, _)| goods & (1 << i) != 0)
                .map(|(_, g)| *g)
                .collect();
            let mut d = certificate_issue(NUMBERS[number], &ids);
            if origin_nl {
                d.origin_country = "NL".into();
            }
            if exporter_nl {
                d.exporter.country = "NL".into();
            }
            (ORGS[sender], Payload::Certificate(CertificateOp::Issue(d)))
        }
        Op::Revoke { sender, number } => (
            ORGS[sender],
            Payload::Certificate(CertificateOp::Revoke {
                number: NUMBERS[number].into(),
                reason: "model".into(),
            }),
        ),
    }
}

fn genesis() -> tradechain_ledger::Genesis {
    let mut g = demo_genesis();
    for (id, country, role) in [("BANK-DE", "DE", Role::Bank), ("CHAMBER-NL", "NL", Role::Chamber)] {
        g.orgs.push(Org {
            id: oid(id),
            name: id.into(),
            country: country.into(),
            roles: vec![role],
            keys: vec![OrgKey {
                key_id: 1,
                public_key: secret(id).public(),
            }],
            node_keys: Vec::new(),
            credit_tier: CreditTier::General,
        });
    }
    g
}

/// Execute one block through `execute_block` and commit it to the chain.
fn run_block(c: &mut Chain, block: &[(&'static str, Payload)]) -> (Vec<SignedTransaction>, Vec<TxOutcome>) {
    let mut next: BTreeMap<&str, u64> = BTreeMap::new();
    let txs: Vec<SignedTransaction> = block
        .iter()
        .map(|(sender, payload)| {
            let n = next.entry(*sender).or_insert_with(|| c.next_nonce(sender));
            let t = c.sign(sender, *n, payload.clone());
            *n += 1;
            t
        })
        .collect();
    let (h, t) = (c.height + 1, c.time_ms + BLOCK_STEP_MS);
    let ex = execute_block(&c.registry, &c.genesis, &c.state, h, t, &txs).unwrap();
    c.state.apply(&ex.writes);
    c.height = h;
    c.time_ms = t;
    (txs, ex.outcomes)
}

/// Documents of a namespace: (key parts as strings, value), skipping index/guard entries.
fn docs<T: borsh::BorshDeserialize>(s: &MemState, ns: Ns, first: Option<&[u8]>) -> BTreeMap<Vec<String>, T> {
    let mut out = BTreeMap::new();
    for (k, v) in &s.0 {
        let Some((kns, parts)) = split_key(k) else { continue };
        if kns != ns {
            continue;
        }
        match first {
            Some(f) if parts.first() != Some(&f) => continue,
            // Per-goods index entries and public heads are not the documents themselves.
            None if parts.first() == Some(&&b"goods"[..]) || parts.first() == Some(&&b"head"[..]) => continue,
            _ => {}
        }
        let parts = parts.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect();
        out.insert(parts, tradechain_ledger::codec::decode(v).unwrap());
    }
    out
}

fn settlements(s: &MemState) -> BTreeMap<(String, String), SettlementRecord> {
    docs::<SettlementRecord>(s, Ns::Settlement, Some(b"id"))
        .into_iter()
        .map(|(p, r)| ((p[1].clone(), p[2].clone()), r))
        .collect()
}

fn certificates(s: &MemState) -> BTreeMap<(String, String), CertificateRecord> {
    docs::<CertificateRecord>(s, Ns::Certificate, None)
        .into_iter()
        .map(|(p, r)| ((p[0].clone(), p[1].clone()), r))
        .collect()
}

fn check_block(
    before: &MemState,
    c: &Chain,
    txs: &[SignedTransaction],
    outcomes: &[TxOutcome],
) -> Result<(), TestCaseError> {
    let after = &c.state;
    let accepted: Vec<&SignedTransaction> = txs
        .iter()
        .zip(outcomes)
        .filter(|(_, o)| **o == TxOutcome::Accepted)
        .map(|(t, _)| t)
        .collect();

    // --- settlements: replay the accepted operations on a model of each settlement and of the
    // bills' holders, allowing only what the rules allow.
    let (s0, s1) = (settlements(before), settlements(after));
    let mut model: BTreeMap<(String, String), (SettlementStatus, String)> = s0
        .iter()
        .map(|(k, r)| (k.clone(), (r.status, r.instruction.payee_bank.to_string())))
        .collect();
    let mut holders: BTreeMap<String, String> = BLS
        .iter()
        .map(|(r, _)| {
            let w: WaybillRecord = get_typed(before, &keys::waybill(&oid(CARRIER), r)).unwrap();
            (r.to_string(), w.holder.to_string())
        })
        .collect();
    for t in &accepted {
        let me = t.tx().sender.to_string();
        match &t.tx().payload {
            Payload::Waybill(WaybillOp::Transfer {
                reference, new_holder, ..
            }) => {
                prop_assert_eq!(holders.get(reference), Some(&me), "endorsed by a non-holder");
                holders.insert(reference.clone(), new_holder.to_string());
            }
            Payload::Settlement(op) => {
                let (payer, id, want, next) = match op {
                    SettlementOp::Instruct(i) => {
                        prop_assert_eq!(i.payer_bank.as_str(), me.as_str(), "instructed for another bank");
                        if let SettlementRef::Waybill { reference, .. } = &i.reference {
                            prop_assert_eq!(holders.get(reference), Some(&me), "financed a bill it does not hold");
                        }
                        let k = (me.clone(), i.settlement_id.clone());
                        prop_assert!(
                            !model.contains_key(&k),
                            "instructed over an existing settlement {:?}",
                            k
                        );
                        model.insert(k, (SettlementStatus::Instructed, i.payee_bank.to_string()));
                        continue;
                    }
                    SettlementOp::Confirm {
                        payer_bank,
                        settlement_id,
                    } => (
                        payer_bank,
                        settlement_id,
                        SettlementStatus::Instructed,
                        SettlementStatus::Confirmed,
                    ),
                    SettlementOp::Repay {
                        payer_bank,
                        settlement_id,
                    } => (
                        payer_bank,
                        settlement_id,
                        SettlementStatus::Confirmed,
                        SettlementStatus::Repaid,
                    ),
                    SettlementOp::Release {
                        payer_bank,
                        settlement_id,
                        ..
                    } => (
                        payer_bank,
                        settlement_id,
                        SettlementStatus::Confirmed,
                        SettlementStatus::Released,
                    ),
                    SettlementOp::Cancel {
                        payer_bank,
                        settlement_id,
                        ..
                    } => (
                        payer_bank,
                        settlement_id,
                        SettlementStatus::Instructed,
                        SettlementStatus::Cancelled,
                    ),
                };
                let k = (payer.to_string(), id.clone());
                let Some((status, payee)) = model.get(&k).cloned() else {
                    return Err(TestCaseError::fail(format!("{me} changed an absent settlement {k:?}")));
                };
                let allowed = if next == SettlementStatus::Confirmed {
                    &payee
                } else {
                    &k.0
                };
                prop_assert_eq!(&me, allowed, "{:?} of {:?} by the wrong org", next, k);
                prop_assert_eq!(status, want, "{:?} of {:?} from the wrong state", next, k);
                model.insert(k, (next, payee));
            }
            _ => {}
        }
    }
    prop_assert_eq!(
        s1.len(),
        model.len(),
        "settlements appeared or vanished outside the rules"
    );
    for (k, r) in &s1 {
        let m = model.get(k);
        prop_assert_eq!(
            m.map(|m| m.0),
            Some(r.status),
            "settlement {:?} in an unexplained state",
            k
        );
        prop_assert_eq!(r.instruction.payer_bank.as_str(), k.0.as_str());
        if let Some(old) = s0.get(k) {
            prop_assert_eq!(&old.instruction, &r.instruction, "instruction of {:?} rewritten", k);
        }
    }
    // At most one active financing per document, and its guard names it.
    let mut active: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (k, r) in &s1 {
        if r.status.is_active() {
            active
                .entry(same_doc(&r.instruction.reference))
                .or_default()
                .push(k.clone());
        }
    }
    for (doc, ks) in &active {
        prop_assert_eq!(
            ks.len(),
            1,
            "document {} backs several active financings: {:?}",
            doc,
            ks
        );
    }
    let guards = docs::<tradechain_ledger::records::SettlementKey>(after, Ns::Settlement, Some(b"ref"));
    prop_assert_eq!(guards.len(), active.len(), "guards {:?} vs active {:?}", guards, active);
    for g in guards.values() {
        let r = s1.get(&(g.payer_bank.to_string(), g.settlement_id.clone()));
        prop_assert!(
            r.is_some_and(|r| r.status.is_active()),
            "guard {:?} names no active financing",
            g
        );
    }

    // --- certificates.
    let (c0, c1) = (certificates(before), certificates(after));
    for k in c0.keys() {
        prop_assert!(c1.contains_key(k), "certificate {:?} deleted", k);
    }
    let did = |issuer: &str, f: &dyn Fn(&CertificateOp) -> bool| {
        accepted
            .iter()
            .any(|t| t.tx().sender.as_str() == issuer && matches!(&t.tx().payload, Payload::Certificate(op) if f(op)))
    };
    for (k, r) in &c1 {
        let (issuer, number) = (k.0.as_str(), k.1.as_str());
        match c0.get(k) {
            None => {
                prop_assert!(
                    did(
                        issuer,
                        &|op| matches!(op, CertificateOp::Issue(d) if d.number == number)
                    ),
                    "certificate {:?} appeared without its issuer issuing it",
                    k
                );
            }
            Some(old) if old != r => {
                prop_assert!(
                    did(
                        issuer,
                        &|op| matches!(op, CertificateOp::Revoke { number: n, .. } if n == number)
                    ),
                    "certificate {:?} changed without its issuer revoking it",
                    k
                );
                prop_assert!(old.revoked.is_none() && r.revoked.is_some());
                prop_assert_eq!(&old.document, &r.document);
            }
            Some(_) => {}
        }
        let org: Org = get_typed(after, &keys::org(&r.issuer)).unwrap();
        prop_assert!(org.has_role(Role::Chamber) || org.has_role(Role::Customs));
        prop_assert_eq!(&org.country, &r.document.origin_country);
        prop_assert_eq!(&org.country, &r.document.exporter.country);
    }
    let mut valid_per_goods: BTreeMap<String, Vec<&(String, String)>> = BTreeMap::new();
    for (k, r) in &c1 {
        if r.revoked.is_none() {
            let mut goods: Vec<String> = r
                .document
                .goods_ids
                .iter()
                .map(|g| tradechain_ledger::gs1::goods_key(g).unwrap())
                .collect();
            goods.sort();
            goods.dedup();
            for g in goods {
                valid_per_goods.entry(g).or_default().push(k);
            }
        }
    }
    for (g, ks) in &valid_per_goods {
        prop_assert_eq!(ks.len(), 1, "goods {} carry several valid certificates: {:?}", g, ks);
    }
    Ok(())
}

fn setup() -> Chain {
    let mut c = Chain::new(genesis());
    let block: Vec<_> = BLS
        .iter()
        .map(|(r, holder)| {
            (
                CARRIER,
                Payload::Waybill(WaybillOp::Issue(waybill_issue(r, holder, &[]))),
            )
        })
        .collect();
    let (_, out) = run_block(&mut c, &block);
    assert!(out.iter().all(|o| *o == TxOutcome::Accepted), "{out:?}");
    c
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn settlement_and_certificate_rules_hold_against_cheating_members(
        ops in prop::collection::vec(op(), 1..60),
        batch in 1usize..5,
    ) {
        let mut c = setup();
        for chunk in ops.chunks(batch) {
            let block: Vec<_> = chunk.iter().map(to_tx).collect();
            let before = c.state.clone();
            let (txs, outcomes) = run_block(&mut c, &block);
            check_block(&before, &c, &txs, &outcomes)?;
        }
    }
}

/// The same checks on a fixed honest-then-cheating script, so each path is known to be taken.
#[test]
fn scripted_sequence_exercises_every_path() {
    let mut c = setup();
    let ins = |sender, doc, id, amount| Op::Instruct {
        sender,
        payer: sender,
        payee: 1,
        id,
        doc,
        amount,
        usd: false,
    };
    let script: Vec<Vec<Op>> = vec![
        // BANK-NL finances BL-A; BANK-DE (no holder) and BANK-NL again (another amount) try too.
        vec![ins(0, 0, 0, 7_770_000), ins(2, 0, 0, 1), ins(0, 0, 1, 7_769_999)],
        // BANK-CN confirms; BANK-NL endorses BL-A to BANK-DE, which then tries to finance it.
        vec![
            Op::Confirm {
                sender: 1,
                payer: 0,
                id: 0,
            },
            Op::Endorse {
                sender: 0,
                bl: 0,
                to: 2,
            },
        ],
        vec![ins(2, 0, 0, 5)],
        // The payee bank tries to release it; the payer repays; now the holder may finance.
        vec![Op::End {
            kind: 1,
            sender: 1,
            payer: 0,
            id: 0,
        }],
        vec![Op::End {
            kind: 0,
            sender: 0,
            payer: 0,
            id: 0,
        }],
        vec![ins(2, 0, 0, 5)],
        // One invoice spelt two ways; cancel, then finance again.
        vec![ins(0, 3, 1, 10), ins(1, 4, 0, 10)],
        vec![
            Op::End {
                kind: 2,
                sender: 0,
                payer: 0,
                id: 1,
            },
            ins(1, 4, 0, 10),
        ],
        // Certificates: CHAMBER-CN certifies; CUSTOMS-CN tries the same goods and to revoke it;
        // CHAMBER-NL certifies CN goods; CHAMBER-CN revokes; CUSTOMS-CN certifies.
        vec![Op::Issue {
            sender: 5,
            number: 0,
            goods: 0b0011,
            origin_nl: false,
            exporter_nl: false,
        }],
        vec![
            Op::Issue {
                sender: 6,
                number: 1,
                goods: 0b10000,
                origin_nl: false,
                exporter_nl: false,
            },
            Op::Issue {
                sender: 7,
                number: 2,
                goods: 0b0100,
                origin_nl: false,
                exporter_nl: false,
            },
        ],
        // (A rejected transaction does not use its nonce: one tx per sender and block here.)
        vec![Op::Revoke { sender: 6, number: 0 }],
        vec![Op::Revoke { sender: 5, number: 0 }],
        vec![Op::Issue {
            sender: 6,
            number: 1,
            goods: 0b10000,
            origin_nl: false,
            exporter_nl: false,
        }],
    ];
    let mut rules = Vec::new();
    for block in &script {
        let before = c.state.clone();
        let payloads: Vec<_> = block.iter().map(to_tx).collect();
        let (txs, outcomes) = run_block(&mut c, &payloads);
        check_block(&before, &c, &txs, &outcomes).unwrap();
        for o in outcomes {
            rules.push(match o {
                TxOutcome::Accepted => "accepted".to_string(),
                TxOutcome::Rejected { rule, .. } => rule,
            });
        }
    }
    assert_eq!(
        rules,
        [
            "accepted",
            "settlement.not_entitled",
            "settlement.double_financing",
            "accepted",
            "accepted",
            "settlement.double_financing",
            "settlement.not_payer",
            "accepted",
            "accepted",
            "accepted",
            "settlement.double_financing",
            "accepted",
            "accepted",
            "accepted",
            "certificate.goods_certified",
            "certificate.origin_mismatch",
            "certificate.not_found",
            "accepted",
            "accepted",
        ]
    );
}
