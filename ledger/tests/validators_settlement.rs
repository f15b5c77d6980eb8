//! Rule tables for the settlement validator (after the shipment's BL is accomplished).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tradechain_ledger::payload::*;
use tradechain_ledger::testkit::*;

fn ins(id: &str, payer: &str, payee: &str, amount: u64, currency: &str, reference: SettlementRef) -> Payload {
    Payload::Settlement(SettlementOp::Instruct(SettlementInstruct {
        settlement_id: id.into(),
        payer_bank: oid(payer),
        payee_bank: oid(payee),
        amount_minor: amount,
        currency: currency.into(),
        reference,
        payer_party: "importer".into(),
        payee_party: "exporter".into(),
    }))
}
fn bl() -> SettlementRef {
    SettlementRef::Waybill {
        carrier: oid("CARRIER-COSCO"),
        reference: BL_REF.into(),
    }
}
fn pay(id: &str, amount: u64) -> Payload {
    ins(id, "BANK-NL", "BANK-CN", amount, "EUR", bl())
}
fn confirm(id: &str) -> Payload {
    Payload::Settlement(SettlementOp::Confirm {
        settlement_id: id.into(),
    })
}
fn ready() -> Chain {
    after_steps(4)
}

#[test]
fn membership_role_settlement() {
    ready().accept("BANK-NL", pay("S1", 100));
    ready().reject_with(
        "CARRIER-COSCO",
        pay("S1", 100),
        "membership.role",
        "org CARRIER-COSCO (roles: carrier) may not settle payments: role bank required",
    );
}

#[test]
fn settlement_not_payer() {
    ready().reject_with(
        "BANK-CN",
        pay("S1", 100),
        "settlement.not_payer",
        "org BANK-CN is not the payer bank BANK-NL of settlement S1",
    );
}

#[test]
fn settlement_not_bank() {
    ready().reject_with(
        "BANK-NL",
        ins("S1", "BANK-NL", "PRODUCER-FZ", 100, "EUR", bl()),
        "settlement.not_bank",
        "payee_bank PRODUCER-FZ is not a bank",
    );
    ready().reject_with(
        "BANK-NL",
        ins("S1", "BANK-NL", "BANK-XX", 100, "EUR", bl()),
        "settlement.not_bank",
        "payee_bank BANK-XX is not a current member",
    );
    ready().accept("BANK-NL", ins("S1", "BANK-NL", "BANK-CN", 100, "EUR", bl()));
}

#[test]
fn settlement_amount() {
    ready().reject_with(
        "BANK-NL",
        pay("S1", 0),
        "settlement.amount",
        "amount_minor must be greater than 0",
    );
    ready().accept("BANK-NL", pay("S1", 1));
}

#[test]
fn settlement_currency() {
    ready().reject_with(
        "BANK-NL",
        ins("S1", "BANK-NL", "BANK-CN", 100, "RMB", bl()),
        "settlement.currency",
        "currency \"RMB\" is not an ISO 4217 code",
    );
    ready().accept("BANK-NL", ins("S1", "BANK-NL", "BANK-CN", 100, "CNY", bl()));
}

#[test]
fn settlement_reference_unknown() {
    let unknown = SettlementRef::Waybill {
        carrier: oid("CARRIER-COSCO"),
        reference: "COSU-0000".into(),
    };
    ready().reject_with(
        "BANK-NL",
        ins("S1", "BANK-NL", "BANK-CN", 100, "EUR", unknown),
        "settlement.reference_unknown",
        "no BL COSU-0000 issued by carrier CARRIER-COSCO",
    );
    let inv = |n: &str| SettlementRef::Invoice { number: n.into() };
    ready().reject_with(
        "BANK-NL",
        ins("S1", "BANK-NL", "BANK-CN", 100, "EUR", inv("")),
        "settlement.reference_unknown",
        "invoice number is empty",
    );
    ready().accept(
        "BANK-NL",
        ins("S1", "BANK-NL", "BANK-CN", 100, "EUR", inv("INV-FZ-2026-0042")),
    );
}

#[test]
fn settlement_waybill_void() {
    let mut c = ready();
    c.accept(
        "CARRIER-COSCO",
        Payload::Waybill(WaybillOp::Void {
            carrier: oid("CARRIER-COSCO"),
            reference: BL_REF.into(),
            reason: "cancelled".into(),
        }),
    );
    c.reject_with(
        "BANK-NL",
        pay("S1", 100),
        "settlement.waybill_void",
        "BL COSU-2026-000123 of CARRIER-COSCO is VOID and cannot be settled",
    );
}

#[test]
fn settlement_duplicate_id() {
    let mut c = ready();
    c.accept("BANK-NL", pay("S1", 100));
    c.reject_with(
        "BANK-NL",
        pay("S1", 200),
        "settlement.duplicate_id",
        "settlement S1 already exists",
    );
}

#[test]
fn settlement_double_financing() {
    let mut c = ready();
    c.accept("BANK-NL", pay("S1", 100));
    // Another amount against the same bill is a separate instalment.
    c.accept("BANK-NL", pay("S2", 200));
    c.reject_with(
        "BANK-NL",
        pay("S3", 100),
        "settlement.double_financing",
        "100 EUR against this reference is already settled by settlement S1",
    );
}

#[test]
fn settlement_not_found() {
    ready().reject_with("BANK-CN", confirm("S9"), "settlement.not_found", "no settlement S9");
}

#[test]
fn settlement_not_payee() {
    let mut c = ready();
    c.accept("BANK-NL", pay("S1", 100));
    c.reject_with(
        "BANK-NL",
        confirm("S1"),
        "settlement.not_payee",
        "org BANK-NL is not the payee bank BANK-CN of settlement S1",
    );
    c.accept("BANK-CN", confirm("S1"));
}

#[test]
fn settlement_already_confirmed() {
    let mut c = ready();
    c.accept("BANK-NL", pay("S1", 100));
    c.accept("BANK-CN", confirm("S1"));
    c.reject_with(
        "BANK-CN",
        confirm("S1"),
        "settlement.already_confirmed",
        "settlement S1 is already confirmed",
    );
}
