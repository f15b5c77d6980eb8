//! The testnet's demo data (`ledger::demo`) is accepted whole by the validators, phase by phase.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::demo;
use tradechain_ledger::execute::{Registry, execute_block, genesis_writes};
use tradechain_ledger::genesis::Genesis;
use tradechain_ledger::state::MemState;
use tradechain_ledger::testkit::{demo_genesis, secret};
use tradechain_ledger::tx::{TX_VERSION, Transaction};

/// The demo genesis (`demo::ORGS`, as the testnet has them: same validators, tiers and GS1
/// prefixes), an hour before `start`.
fn genesis(start: i64) -> Genesis {
    Genesis {
        chain_id: "demo-test".into(),
        genesis_time_ms: start - 3_600_000,
        ..demo_genesis()
    }
}

#[test]
fn every_demo_transaction_is_accepted_and_there_are_hundreds() {
    let start = 1_790_000_000_000;
    let g = genesis(start);
    assert!(g.validate().is_empty(), "{:?}", g.validate());
    let mut state = MemState::default();
    state.apply(&genesis_writes(&g).unwrap());
    let registry = Registry::default();
    let mut nonces = std::collections::BTreeMap::<String, u64>::new();
    let phases = demo::phases(start);
    let total: usize = phases.iter().map(|p| p.len()).sum();
    assert!(total >= 200, "only {total} demo transactions");
    for (h, phase) in phases.into_iter().enumerate() {
        let block_time = start + 20 * 60_000;
        // Order a phase as a proposer's mempool does (by sender), not as listed: a phase must
        // not depend on its own order.
        let mut phase = phase;
        phase.sort_by(|a, b| a.0.cmp(&b.0));
        let txs: Vec<_> = phase
            .into_iter()
            .map(|(org, payload)| {
                let n = nonces.entry(org.to_string()).or_insert(0);
                *n += 1;
                Transaction {
                    version: TX_VERSION,
                    chain_id: g.chain_id.clone(),
                    sender: org.clone(),
                    key_id: 1,
                    nonce: *n,
                    time_ms: block_time,
                    payload,
                }
                .sign(&secret(org.as_str()))
            })
            .collect();
        let exec = execute_block(&registry, &g, &state, h as u64 + 1, block_time, &txs).unwrap();
        for (i, o) in exec.outcomes.iter().enumerate() {
            if let TxOutcome::Rejected { rule, reason } = o {
                panic!("phase {h} tx {i} from {}: {rule}: {reason}", txs[i].tx().sender);
            }
        }
        state.apply(&exec.writes);
    }
    // The sample item a consumer scans resolves to a phone with a full history.
    let key = tradechain_ledger::gs1::goods_key(&demo::sample_item()).unwrap();
    let item: tradechain_ledger::records::ItemRecord =
        tradechain_ledger::state::get_typed(&state, &tradechain_ledger::state::keys::item(&key)).unwrap();
    assert!(
        item.commissioned && item.parent.is_some() && item.certificate.is_some(),
        "{item:?}"
    );
}

/// The one org table keeps the testnet's four validators (customs, port, carrier, bank): the orgs
/// only the test fixtures use (the importer, the regulator) are non-validating members.
#[test]
fn the_demo_table_has_the_testnets_four_validators() {
    let validators: Vec<&str> = demo::ORGS.iter().filter(|o| o.validator).map(|o| o.id).collect();
    assert_eq!(validators, ["CUSTOMS-CN", "PORT-CNFOC", "CARRIER-COSCO", "BANK-CN"]);
    let mut ids: Vec<&str> = demo::ORGS.iter().map(|o| o.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), demo::ORGS.len(), "org ids are unique");
    for o in demo::ORGS {
        assert!(tradechain_ledger::OrgId::new(o.id).is_ok(), "{}", o.id);
    }
}

/// The test genesis has the one high-risk list (`HighRiskCategory::defaults`, as `tradechain
/// genesis init` writes it): the demo's phones (3C electronics) and biscuits (food) are high-risk,
/// as on the testnet.
#[test]
fn the_demo_goods_are_high_risk_under_the_default_categories() {
    let g = demo_genesis();
    assert!(g.validate().is_empty(), "{:?}", g.validate());
    assert_eq!(g.high_risk, tradechain_ledger::genesis::HighRiskCategory::defaults());
    assert_eq!(g.high_risk_category("851713"), Some("3C electronics"));
    assert_eq!(g.high_risk_category("190531"), Some("food"));
    assert_eq!(g.high_risk_category("300490"), Some("drugs"));
    assert_eq!(g.high_risk_category("940360"), None);
}
