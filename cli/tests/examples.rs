#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The README's example documents (`examples/*.json`) are exactly what the ledger's types
//! serialise to, and each parses as its family's payload through `tradechain submit`'s parser.
//! Regenerate after a payload change with `UPDATE_EXAMPLES=1 cargo test --release --workspace --test examples`.
use std::path::PathBuf;
use tradechain_ledger::payload::*;
use tradechain_ledger::testkit::{certificate_issue, event, oid, waybill_issue};

/// 2026-11-20T00:00Z: fixed, so the files never change and always lie in a testnet's past.
const T: i64 = 1_795_132_800_000;
const PHONES: [&str; 2] = [
    "urn:epc:id:sgtin:6901234.012345.EX0001",
    "urn:epc:id:sgtin:6901234.012345.EX0002",
];

fn documents() -> Vec<(&'static str, serde_json::Value)> {
    let mut commission = event(EventType::ObjectEvent, Some(Action::Add), &PHONES, T);
    commission.biz_step = Some("urn:epcglobal:cbv:bizstep:commissioning".into());
    commission.disposition = Some("urn:epcglobal:cbv:disp:active".into());
    commission.read_point = Some("urn:epc:id:sgln:6901234.00001.0".into());
    commission.unlocode = Some("CNFOC".into());
    let mut co = certificate_issue("CCPIT-FJ-EX-0001", &PHONES);
    co.quantity.value = 2;
    let mut bl = waybill_issue("COSU-EX-0001", "PRODUCER-FZ", &PHONES);
    bl.issue_date_ms = T;
    bl.goods[0].package_count = 2;
    let endorse = WaybillOp::Transfer {
        carrier: oid("CARRIER-COSCO"),
        reference: "COSU-EX-0001".into(),
        new_holder: oid("BANK-NL"),
    };
    let pay = SettlementOp::Instruct(SettlementInstruct {
        settlement_id: "PAY-EX-0001".into(),
        payer_bank: oid("BANK-NL"),
        payee_bank: oid("BANK-CN"),
        amount_minor: 1_250_000,
        currency: "EUR".into(),
        reference: SettlementRef::Waybill {
            carrier: oid("CARRIER-COSCO"),
            reference: "COSU-EX-0001".into(),
        },
        payer_party: "Rotterdam Importer B.V.".into(),
        payee_party: "Fuzhou Electronics Co.".into(),
    });
    vec![
        ("commission.json", j(&commission)),
        ("certificate.json", j(&CertificateOp::Issue(co))),
        ("waybill.json", j(&WaybillOp::Issue(bl))),
        ("endorse.json", j(&endorse)),
        ("settlement.json", j(&pay)),
    ]
}

fn j<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap()
}

fn dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("../examples")
}

#[test]
fn example_documents_are_current() {
    for (name, v) in documents() {
        let path = dir().join(name);
        let text = serde_json::to_string_pretty(&v).unwrap() + "\n";
        if std::env::var_os("UPDATE_EXAMPLES").is_some() {
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            on_disk, text,
            "{name} is stale: UPDATE_EXAMPLES=1 cargo test --release --workspace --test examples"
        );
    }
}
