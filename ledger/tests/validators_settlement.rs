//! Rule tables for the settlement validator: financing against the shipment's BL once BANK-NL
//! holds it (or against invoices), and the settlement lifecycle.
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
        payer_bank: oid("BANK-NL"),
        settlement_id: id.into(),
    })
}
fn repay(payer: &str, id: &str) -> Payload {
    Payload::Settlement(SettlementOp::Repay {
        payer_bank: oid(payer),
        settlement_id: id.into(),
    })
}
fn release(payer: &str, id: &str) -> Payload {
    Payload::Settlement(SettlementOp::Release {
        payer_bank: oid(payer),
        settlement_id: id.into(),
        reason: "refinanced".into(),
    })
}
fn cancel(payer: &str, id: &str) -> Payload {
    Payload::Settlement(SettlementOp::Cancel {
        payer_bank: oid(payer),
        settlement_id: id.into(),
        reason: "withdrawn".into(),
    })
}
fn inv(n: &str) -> SettlementRef {
    SettlementRef::Invoice { number: n.into() }
}
fn status(c: &Chain, payer: &str, id: &str) -> tradechain_ledger::records::SettlementStatus {
    let rec: tradechain_ledger::records::SettlementRecord =
        tradechain_ledger::state::get_typed(&c.state, &tradechain_ledger::state::keys::settlement(&oid(payer), id))
            .unwrap();
    rec.status
}
/// The shipment's BL issued to PRODUCER-FZ and endorsed via BANK-CN to BANK-NL, its holder.
fn ready() -> Chain {
    after_steps(6)
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
    // The holding bank hands the bill back to the carrier (exclusive control), which voids it.
    c.accept(
        "BANK-NL",
        Payload::Waybill(WaybillOp::Transfer {
            carrier: oid("CARRIER-COSCO"),
            reference: BL_REF.into(),
            new_holder: oid("CARRIER-COSCO"),
        }),
    );
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
        ins("S1", "BANK-NL", "BANK-CN", 200, "EUR", inv("INV-7")),
        "settlement.duplicate_id",
        "settlement S1 of payer bank BANK-NL already exists",
    );
    // Ids are scoped by the payer bank: another bank's S1 is a different settlement, and a bank
    // watching gossip cannot take (or block) BANK-NL's id.
    c.accept("BANK-CN", ins("S1", "BANK-CN", "BANK-NL", 200, "EUR", inv("INV-7")));
    assert_eq!(
        status(&c, "BANK-NL", "S1"),
        tradechain_ledger::records::SettlementStatus::Instructed
    );
}

#[test]
fn settlement_double_financing() {
    let mut c = ready();
    c.accept("BANK-NL", pay("S1", 7_770_000));
    // The same bill for another amount, another currency or as another payee: still the bill.
    c.reject_with(
        "BANK-NL",
        pay("S2", 7_769_999),
        "settlement.double_financing",
        "reference BL COSU-2026-000123 of CARRIER-COSCO already backs active financing settlement S1 of BANK-NL; it must be repaid, released or cancelled first",
    );
    let (rule, _) = c.reject("BANK-NL", ins("S3", "BANK-NL", "BANK-NL", 7_770_000, "USD", bl()));
    assert_eq!(rule, "settlement.double_financing");
    // Still blocked once confirmed; free again once repaid.
    c.accept("BANK-CN", confirm("S1"));
    let (rule, _) = c.reject("BANK-NL", pay("S4", 1));
    assert_eq!(rule, "settlement.double_financing");
    c.accept("BANK-NL", repay("BANK-NL", "S1"));
    c.accept("BANK-NL", pay("S4", 1));
}

#[test]
fn settlement_double_financing_invoice() {
    let mut c = ready();
    c.accept(
        "BANK-NL",
        ins("S1", "BANK-NL", "BANK-CN", 100, "EUR", inv("INV-FZ-2026-0042")),
    );
    // Another bank, another amount, the number spelt in other case or spacing: the same invoice.
    c.reject_with(
        "BANK-CN",
        ins("T1", "BANK-CN", "BANK-NL", 99, "CNY", inv(" inv-fz-2026-0042 ")),
        "settlement.double_financing",
        "reference invoice \" inv-fz-2026-0042 \" already backs active financing settlement S1 of BANK-NL; it must be repaid, released or cancelled first",
    );
    c.accept("BANK-NL", cancel("BANK-NL", "S1"));
    c.accept(
        "BANK-CN",
        ins("T1", "BANK-CN", "BANK-NL", 99, "CNY", inv("INV-FZ-2026-0042")),
    );
}

#[test]
fn settlement_not_entitled() {
    // BANK-CN endorsed the bill on to BANK-NL: it is no longer entitled to finance it.
    ready().reject_with(
        "BANK-CN",
        ins("S1", "BANK-CN", "BANK-NL", 100, "EUR", bl()),
        "settlement.not_entitled",
        "org BANK-CN is not the holder of BL COSU-2026-000123 of CARRIER-COSCO (holder: BANK-NL) and may not finance it",
    );
    // Named on the bill as notify party, but the shipper still holds it.
    after_steps(4).reject_with(
        "BANK-NL",
        pay("S1", 100),
        "settlement.not_entitled",
        "org BANK-NL is not the holder of BL COSU-2026-000123 of CARRIER-COSCO (holder: PRODUCER-FZ) and may not finance it",
    );
    // Surrendered for delivery: no longer a bill anyone can finance.
    let mut c = ready();
    c.accept(
        "BANK-NL",
        Payload::Waybill(WaybillOp::Surrender {
            carrier: oid("CARRIER-COSCO"),
            reference: BL_REF.into(),
            purpose: SurrenderPurpose::Delivery,
        }),
    );
    c.reject_with(
        "BANK-NL",
        pay("S1", 100),
        "settlement.not_entitled",
        "BL COSU-2026-000123 of CARRIER-COSCO is SURRENDERED_FOR_DELIVERY; only an ISSUED bill can be financed",
    );
    // The holder is entitled.
    ready().accept("BANK-NL", pay("S1", 100));
}

#[test]
fn settlement_state() {
    let mut c = ready();
    c.accept("BANK-NL", pay("S1", 100));
    c.reject_with(
        "BANK-NL",
        repay("BANK-NL", "S1"),
        "settlement.state",
        "settlement S1 of BANK-NL is INSTRUCTED; it can be repaid only when CONFIRMED",
    );
    let (rule, _) = c.reject("BANK-NL", release("BANK-NL", "S1"));
    assert_eq!(rule, "settlement.state");
    c.accept("BANK-CN", confirm("S1"));
    c.reject_with(
        "BANK-NL",
        cancel("BANK-NL", "S1"),
        "settlement.state",
        "settlement S1 of BANK-NL is CONFIRMED; it can be cancelled only when INSTRUCTED",
    );
    c.accept("BANK-NL", release("BANK-NL", "S1"));
    // Terminal: nothing more happens to it.
    let (rule, _) = c.reject("BANK-NL", repay("BANK-NL", "S1"));
    assert_eq!(rule, "settlement.state");
    let (rule, _) = c.reject("BANK-NL", release("BANK-NL", "S1"));
    assert_eq!(rule, "settlement.state");

    let mut c = ready();
    c.accept("BANK-NL", pay("S1", 100));
    c.accept("BANK-NL", cancel("BANK-NL", "S1"));
    c.reject_with(
        "BANK-CN",
        confirm("S1"),
        "settlement.state",
        "settlement S1 of BANK-NL is CANCELLED; it can be confirmed only when INSTRUCTED",
    );
    assert_eq!(
        status(&c, "BANK-NL", "S1"),
        tradechain_ledger::records::SettlementStatus::Cancelled
    );
}

#[test]
fn settlement_lifecycle_only_the_payer_bank_ends_a_financing() {
    let mut c = ready();
    c.accept("BANK-NL", pay("S1", 100));
    // The payee bank (a rival) cannot cancel it to free the bill for itself.
    c.reject_with(
        "BANK-CN",
        cancel("BANK-NL", "S1"),
        "settlement.not_payer",
        "org BANK-CN is not the payer bank BANK-NL of settlement S1",
    );
    // Naming itself as payer only reaches its own (absent) settlement S1.
    c.reject_with(
        "BANK-CN",
        cancel("BANK-CN", "S1"),
        "settlement.not_found",
        "no settlement S1 of payer bank BANK-CN",
    );
    c.accept("BANK-CN", confirm("S1"));
    for op in [repay("BANK-NL", "S1"), release("BANK-NL", "S1")] {
        let (rule, _) = c.reject("BANK-CN", op);
        assert_eq!(rule, "settlement.not_payer");
    }
    let (rule, _) = c.reject("CARRIER-COSCO", repay("BANK-NL", "S1"));
    assert_eq!(rule, "membership.role");
    c.accept("BANK-NL", repay("BANK-NL", "S1"));
    assert_eq!(
        status(&c, "BANK-NL", "S1"),
        tradechain_ledger::records::SettlementStatus::Repaid
    );
}

#[test]
fn settlement_not_found() {
    ready().reject_with(
        "BANK-CN",
        confirm("S9"),
        "settlement.not_found",
        "no settlement S9 of payer bank BANK-NL",
    );
    let mut c = ready();
    c.accept("BANK-NL", pay("S9", 100));
    c.accept("BANK-CN", confirm("S9"));
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
