//! Rule tables for the envelope checks every transaction passes (`execute::check_envelope`) and
//! the payload limits every family applies first (`validate::limits`).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tradechain_ledger::payload::*;
use tradechain_ledger::testkit::*;
use tradechain_ledger::tx::{TX_VERSION, Transaction};
use tradechain_ledger::{SignedTransaction, TxOutcome};

fn bl() -> Payload {
    Payload::Waybill(WaybillOp::Issue(waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET])))
}
fn raw(c: &Chain, sender: &str, nonce: u64, time_ms: i64, payload: Payload) -> Transaction {
    Transaction {
        version: TX_VERSION,
        chain_id: c.genesis.chain_id.clone(),
        sender: oid(sender),
        key_id: 1,
        nonce,
        time_ms,
        payload,
    }
}
fn run(c: &mut Chain, t: SignedTransaction) -> TxOutcome {
    let before = c.state.clone();
    let (mut out, _) = c.execute(&[t]).unwrap();
    let o = out.pop().unwrap();
    if o != TxOutcome::Accepted {
        assert_eq!(c.state, before, "rejected transaction changed state");
    }
    o
}
fn rejected(rule: &str, reason: &str) -> TxOutcome {
    TxOutcome::Rejected {
        rule: rule.into(),
        reason: reason.into(),
    }
}

#[test]
fn envelope_version_and_chain_id() {
    let mut c = Chain::demo();
    let mut t = raw(&c, "CARRIER-COSCO", 1, c.time_ms + 1000, bl());
    t.version = 9;
    assert_eq!(
        run(&mut c, t.sign(&secret("CARRIER-COSCO"))),
        rejected(
            "envelope.version",
            "transaction version 9 is not supported (expected 1)"
        )
    );
    let mut t = raw(&c, "CARRIER-COSCO", 1, c.time_ms + 1000, bl());
    t.chain_id = "other".into();
    assert_eq!(
        run(&mut c, t.sign(&secret("CARRIER-COSCO"))),
        rejected(
            "envelope.chain_id",
            "transaction is for chain \"other\", this is \"tradechain-demo\""
        )
    );
    let t = raw(&c, "CARRIER-COSCO", 1, c.time_ms + 1000, bl());
    assert_eq!(run(&mut c, t.sign(&secret("CARRIER-COSCO"))), TxOutcome::Accepted);
}

#[test]
fn membership_unknown_sender_key_nonce() {
    let mut c = Chain::demo();
    let t = raw(&c, "NOBODY", 1, c.time_ms + 1000, bl());
    assert_eq!(
        run(&mut c, t.sign(&secret("NOBODY"))),
        rejected("membership.unknown_sender", "org NOBODY is not a current member")
    );
    let mut t = raw(&c, "CARRIER-COSCO", 1, c.time_ms + 1000, bl());
    t.key_id = 7;
    assert_eq!(
        run(&mut c, t.sign(&secret("CARRIER-COSCO"))),
        rejected("membership.unknown_key", "org CARRIER-COSCO has no current key 7")
    );
    let t = raw(&c, "CARRIER-COSCO", 2, c.time_ms + 1000, bl());
    assert_eq!(
        run(&mut c, t.sign(&secret("CARRIER-COSCO"))),
        rejected("membership.nonce", "nonce 2 from CARRIER-COSCO: expected 1")
    );
    let t = raw(&c, "CARRIER-COSCO", 1, c.time_ms + 1000, bl());
    assert_eq!(run(&mut c, t.sign(&secret("CARRIER-COSCO"))), TxOutcome::Accepted);
    assert_eq!(c.next_nonce("CARRIER-COSCO"), 2);
}

#[test]
fn envelope_time_skew() {
    let mut c = Chain::demo();
    let block_time = c.time_ms + 1000;
    let t = raw(&c, "CARRIER-COSCO", 1, block_time - 600_001, bl());
    assert_eq!(
        run(&mut c, t.sign(&secret("CARRIER-COSCO"))),
        rejected(
            "envelope.time_skew",
            "claimed time is 600001 ms from block time; at most 600000 ms allowed"
        )
    );
    let block_time = c.time_ms + 1000;
    let t = raw(&c, "CARRIER-COSCO", 1, block_time + 600_000, bl());
    assert_eq!(run(&mut c, t.sign(&secret("CARRIER-COSCO"))), TxOutcome::Accepted);
}

#[test]
fn limits_tx_size() {
    let mut c = Chain::demo();
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.goods[0].description = "x".repeat(70_000);
    let t = c.tx("CARRIER-COSCO", Payload::Waybill(WaybillOp::Issue(d)));
    let size = tradechain_ledger::codec::encode(&t).len();
    assert_eq!(
        run(&mut c, t),
        rejected(
            "limits.tx_size",
            &format!("transaction is {size} bytes, above the limit of 65536")
        )
    );
}

#[test]
fn limits_string_len() {
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.goods[0].description = "x".repeat(1025);
    Chain::demo().reject_with(
        "CARRIER-COSCO",
        Payload::Waybill(WaybillOp::Issue(d.clone())),
        "limits.string_len",
        "payload.op.goods[0].description is 1025 bytes, above the limit of 1024",
    );
    d.goods[0].description = "x".repeat(1024);
    Chain::demo().accept("CARRIER-COSCO", Payload::Waybill(WaybillOp::Issue(d)));
}

#[test]
fn limits_list_len() {
    let mut g = demo_genesis();
    g.limits.max_list_len = 3;
    let ids = [PALLET, PHONES[0], PHONES[1], PHONES[2]];
    Chain::new(g.clone()).reject_with(
        "CARRIER-COSCO",
        Payload::Waybill(WaybillOp::Issue(waybill_issue(BL_REF, "PRODUCER-FZ", &ids))),
        "limits.list_len",
        "payload.op.goods[0].goods_ids has 4 entries, above the limit of 3",
    );
    Chain::new(g).accept(
        "CARRIER-COSCO",
        Payload::Waybill(WaybillOp::Issue(waybill_issue(BL_REF, "PRODUCER-FZ", &ids[..3]))),
    );
}

#[test]
fn every_rule_id_has_a_test() {
    // Each rule id listed by the validators appears in some test file's assertions.
    let dir = format!(
        "{}/tests",
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into())
    );
    let mut text = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") && p.file_name().unwrap() != "validators_envelope.rs" {
            text.push_str(&std::fs::read_to_string(p).unwrap());
        }
    }
    text.push_str(
        include_str!("validators_envelope.rs")
            .split("fn every_rule_id_has_a_test")
            .next()
            .unwrap(),
    );
    let missing: Vec<&&str> = tradechain_ledger::validate::RULES
        .iter()
        .filter(|r| !text.contains(&format!("\"{r}\"")))
        .collect();
    assert!(missing.is_empty(), "rule ids without a test: {missing:?}");
}
