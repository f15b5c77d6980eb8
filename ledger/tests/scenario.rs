//! The demo shipment Fuzhou (CNFOC) → Rotterdam (NLRTM) played through `execute::execute_block`
//! on a `MemState` built from `execute::genesis_writes`: final state and state hash; each step by
//! the wrong org or out of order rejected at exactly that step; determinism; and a property test
//! that random transaction sequences never panic and rejected ones leave state untouched.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use proptest::prelude::*;
use std::collections::BTreeMap;
use tradechain_ledger::execute::{Registry, execute_block};
use tradechain_ledger::payload::*;
use tradechain_ledger::records::*;
use tradechain_ledger::state::{MemState, get_typed, keys};
use tradechain_ledger::state_tree;
use tradechain_ledger::testkit::*;
use tradechain_ledger::{SignedTransaction, TxOutcome};

fn key(id: &str) -> String {
    tradechain_ledger::gs1::goods_key(id).unwrap()
}

#[test]
fn whole_shipment_final_state_and_hash() {
    let mut c = Chain::demo();
    let steps = shipment();
    assert_eq!(steps.len(), 18);
    let mut roots = vec![c.state_hash];
    for s in &steps {
        let t = c.tx(s.sender, s.payload.clone());
        let (out, _) = c.execute(&[t]).unwrap();
        assert_eq!(out, vec![TxOutcome::Accepted], "step {} by {}", s.name, s.sender);
        assert!(
            !roots.contains(&c.state_hash),
            "step {} left the state root as before",
            s.name
        );
        roots.push(c.state_hash);
    }
    // The root is the tree of the final state, whatever order built it: one update of every
    // key from an empty tree gives the same root.
    let all: tradechain_ledger::state::WriteSet = c.state.0.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
    let fresh = state_tree::update(&state_tree::MemTree::default(), 0, &all).unwrap();
    assert_eq!(fresh.root, c.state_hash);
    let wb: WaybillRecord = get_typed(&c.state, &keys::waybill(&oid("CARRIER-COSCO"), BL_REF)).unwrap();
    assert_eq!(wb.status, WaybillStatus::Accomplished);
    assert_eq!(
        wb.endorsements.iter().map(|e| e.to.as_str()).collect::<Vec<_>>(),
        ["BANK-CN", "BANK-NL"]
    );
    assert_eq!(wb.version, 5);
    let st: SettlementRecord = get_typed(&c.state, &keys::settlement(&oid("BANK-NL"), SETTLEMENT_ID)).unwrap();
    assert_eq!(st.status, SettlementStatus::Confirmed);
    let co: CertificateRecord = get_typed(&c.state, &keys::certificate(&oid("CHAMBER-CN"), CO_NUMBER)).unwrap();
    assert!(co.revoked.is_none());
    let pallet: ItemRecord = get_typed(&c.state, &keys::item(&key(PALLET))).unwrap();
    assert_eq!(pallet.customs, CustomsStatus::Released);
    assert_eq!(pallet.declarant, Some(oid("CARRIER-COSCO")));
    assert_eq!(pallet.hs_code.as_deref(), Some("85171300"));
    // pack, declare, inspect, release, load, discharge, declare, release, deliver
    assert_eq!(pallet.event_count, 9);
    assert_eq!(pallet.children.len(), 3);
    let phone: ItemRecord = get_typed(&c.state, &keys::item(&key(PHONE1_DL))).unwrap();
    assert!(phone.commissioned && !phone.ended);
    assert_eq!((phone.event_count, phone.parent.clone()), (2, Some(key(PALLET))));
    // Walk the pallet's chain: every link verifies.
    let mut prev = tradechain_ledger::Hash::ZERO;
    for seq in 0..pallet.event_count {
        let e: ItemEventRef = get_typed(&c.state, &keys::item_event(&key(PALLET), seq)).unwrap();
        assert_eq!(e.prev_event_hash, prev);
        assert_eq!(e.event_hash, item_event_hash(&prev, &e.tx_id, 0, &key(PALLET)));
        prev = e.event_hash;
    }
    assert_eq!(prev, pallet.last_event_hash);
    for (org, n) in [
        ("PRODUCER-FZ", 3),
        ("CUSTOMS-CN", 3),
        ("CUSTOMS-NL", 2),
        ("CARRIER-COSCO", 4),
        ("BANK-NL", 2),
    ] {
        assert_eq!(c.next_nonce(org), n + 1, "{org}");
    }
    // A second, independent run reaches the same state hash.
    let mut again = Chain::demo();
    again.play(&steps);
    assert_eq!(again.state_hash, c.state_hash);
    assert_eq!(again.state, c.state);
    println!("shipment state hash after {} blocks: {}", c.height, c.state_hash);
}

/// Who else might try each step, and the rule that stops them.
const WRONG_ORG: [(&str, &str); 18] = [
    ("BANK-CN", "membership.role"),
    ("CHAMBER-CN", "membership.role"),
    ("PORT-CNFOC", "membership.role"),
    ("PRODUCER-FZ", "membership.role"),
    ("BANK-CN", "waybill.transfer.not_holder"),
    ("PRODUCER-FZ", "waybill.transfer.not_holder"),
    ("CUSTOMS-NL", "provenance.customs.jurisdiction"),
    ("CUSTOMS-NL", "provenance.customs.jurisdiction"),
    ("PORT-CNFOC", "membership.role"),
    ("BANK-NL", "membership.role"),
    ("BANK-CN", "membership.role"),
    ("CUSTOMS-CN", "provenance.customs.jurisdiction"),
    ("CUSTOMS-CN", "provenance.customs.jurisdiction"),
    ("CHAMBER-CN", "membership.role"),
    ("BANK-CN", "settlement.not_payer"),
    ("BANK-NL", "settlement.not_payee"),
    ("PRODUCER-FZ", "waybill.surrender.not_holder"),
    ("BANK-NL", "waybill.not_issuer"),
];

#[test]
fn each_step_by_the_wrong_org_is_rejected_there() {
    let steps = shipment();
    let mut c = Chain::demo();
    for (i, s) in steps.iter().enumerate() {
        let (wrong, rule) = WRONG_ORG[i];
        assert_ne!(wrong, s.sender);
        let (got, reason) = c.reject(wrong, s.payload.clone());
        assert_eq!(got, rule, "step {i} {} by {wrong}: {reason}", s.name);
        c.accept(s.sender, s.payload.clone());
    }
}

/// Skipping step i-1 makes step i fail with this rule (None: step i does not depend on i-1).
const SKIP_PREVIOUS: [Option<&str>; 18] = [
    None,
    Some("provenance.aggregation.child_not_commissioned"),
    None,
    None,
    Some("waybill.not_found"),
    Some("waybill.transfer.not_holder"),
    None,
    Some("provenance.customs.not_declared"),
    Some("provenance.high_risk.no_inspection"),
    Some("provenance.customs.not_released"),
    None,
    None,
    Some("provenance.customs.not_declared"),
    Some("provenance.customs.not_released"),
    None,
    Some("settlement.not_found"),
    None,
    Some("waybill.state"),
];

#[test]
fn each_step_out_of_order_is_rejected_there() {
    let steps = shipment();
    for i in 1..steps.len() {
        let mut c = after_steps(i - 1);
        let s = &steps[i];
        match SKIP_PREVIOUS[i] {
            Some(rule) => {
                let (got, reason) = c.reject(s.sender, s.payload.clone());
                assert_eq!(got, rule, "step {i} {} without {}: {reason}", s.name, steps[i - 1].name);
                // Done in order, it passes.
                c.accept(steps[i - 1].sender, steps[i - 1].payload.clone());
                c.accept(s.sender, s.payload.clone());
            }
            None => c.accept(s.sender, s.payload.clone()),
        }
    }
}

/// The whole shipment as one block, with explicit nonces.
fn one_block(c: &Chain) -> Vec<SignedTransaction> {
    let mut nonces: BTreeMap<&str, u64> = BTreeMap::new();
    shipment()
        .into_iter()
        .map(|s| {
            let n = nonces.entry(s.sender).or_insert(0);
            *n += 1;
            c.sign(s.sender, *n, s.payload)
        })
        .collect()
}

#[test]
fn determinism_same_block_same_hash() {
    let a = Chain::demo();
    let b = Chain::demo();
    let txs = one_block(&a);
    let reg = Registry::default();
    let time = a.time_ms + BLOCK_STEP_MS;
    let ex1 = execute_block(&reg, &a.genesis, &a.state, 1, time, &txs).unwrap();
    let ex2 = execute_block(&reg, &a.genesis, &a.state, 1, time, &txs).unwrap();
    let ex3 = execute_block(&Registry::default(), &b.genesis, &b.state, 1, time, &txs).unwrap();
    assert!(
        ex1.outcomes.iter().all(|o| *o == TxOutcome::Accepted),
        "{:?}",
        ex1.outcomes
    );
    assert_eq!(ex1, ex2);
    assert_eq!(ex1, ex3);
    let h = |ws| state_tree::update(&a.tree, 1, ws).unwrap().root;
    assert_eq!(h(&ex1.writes), h(&ex3.writes));
    // Through the Chain (applied state) too.
    let (mut c1, mut c2) = (Chain::demo(), Chain::demo());
    c1.execute(&txs).unwrap();
    c2.execute(&txs).unwrap();
    assert_eq!(c1.state_hash, c2.state_hash);
    assert_ne!(c1.state_hash, Chain::demo().state_hash);
}

fn mutate(p: &Payload, time_shift: i64) -> Payload {
    let mut p = p.clone();
    if let Payload::Provenance(e) = &mut p {
        e.event_time_ms += time_shift;
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn random_sequences_never_panic_and_rejections_change_nothing(
        ops in prop::collection::vec((0usize..18, 0usize..=ORGS.len(), 0u64..3, -3i64..3), 1..40),
        batch in 1usize..4,
    ) {
        let steps = shipment();
        let mut c = Chain::demo();
        for chunk in ops.chunks(batch) {
            // Build a block: each tx with the sender's committed nonce + offset (offset 0 = right
            // for the first tx of a sender in the block).
            let mut per_sender: BTreeMap<&str, u64> = BTreeMap::new();
            let mut txs = Vec::new();
            for &(si, oi, off, shift) in chunk {
                let s = &steps[si];
                let sender = if oi == ORGS.len() { s.sender } else { ORGS[oi].id };
                let k = per_sender.entry(sender).or_insert(0);
                let nonce = c.next_nonce(sender) + *k + off;
                *k += 1;
                txs.push(c.sign(sender, nonce, mutate(&s.payload, shift * 1000)));
            }
            let before = c.state.clone();
            let reg = Registry::default();
            let (h, t) = (c.height + 1, c.time_ms + BLOCK_STEP_MS);
            let Ok(ex) = execute_block(&reg, &c.genesis, &c.state, h, t, &txs) else {
                // Duplicate tx ids in one block: the whole block is invalid, nothing applied.
                continue;
            };
            prop_assert_eq!(ex.outcomes.len(), txs.len());
            // Deterministic: the same block on the same state gives the same result.
            prop_assert_eq!(&execute_block(&reg, &c.genesis, &before, h, t, &txs).unwrap(), &ex);
            let (out, _) = c.execute(&txs).unwrap();
            if out.iter().all(|o| *o != TxOutcome::Accepted) {
                // Rejected transactions leave state untouched (nonces included).
                prop_assert_eq!(&c.state, &before);
            }
        }
    }
}

#[test]
fn memstate_from_genesis_writes() {
    let g = demo_genesis();
    let ws = tradechain_ledger::execute::genesis_writes(&g).unwrap();
    let mut s = MemState::default();
    s.apply(&ws);
    assert_eq!(s, Chain::demo().state);
    assert_eq!(g.validate(), Vec::<String>::new());
}
