//! Rule tables for the waybill / eBL validator: one test per rule id, each with accepted and
//! rejected rows and the exact reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tradechain_ledger::payload::*;
use tradechain_ledger::testkit::*;

const C: &str = "CARRIER-COSCO";

fn issue(reference: &str, holder: &str) -> Payload {
    Payload::Waybill(WaybillOp::Issue(waybill_issue(reference, holder, &[PALLET])))
}
fn issue_doc(doc: WaybillIssue) -> Payload {
    Payload::Waybill(WaybillOp::Issue(doc))
}
fn transfer(to: &str) -> Payload {
    Payload::Waybill(WaybillOp::Transfer {
        carrier: oid(C),
        reference: BL_REF.into(),
        new_holder: oid(to),
    })
}
fn surrender(purpose: SurrenderPurpose) -> Payload {
    Payload::Waybill(WaybillOp::Surrender {
        carrier: oid(C),
        reference: BL_REF.into(),
        purpose,
    })
}
fn accomplish() -> Payload {
    Payload::Waybill(WaybillOp::Accomplish {
        carrier: oid(C),
        reference: BL_REF.into(),
    })
}
fn void() -> Payload {
    Payload::Waybill(WaybillOp::Void {
        carrier: oid(C),
        reference: BL_REF.into(),
        reason: "issued in error".into(),
    })
}
fn amend(sub: u32, holder: &str) -> Payload {
    let mut d = waybill_issue(BL_REF, holder, &[PALLET]);
    d.sub_reference = sub;
    d.voyage = "032W".into();
    Payload::Waybill(WaybillOp::Amend {
        carrier: oid(C),
        reference: BL_REF.into(),
        amended: Box::new(d),
    })
}
fn issued() -> Chain {
    let mut c = Chain::demo();
    c.accept(C, issue(BL_REF, "PRODUCER-FZ"));
    c
}

#[test]
fn membership_role_waybill_issue() {
    Chain::demo().accept(C, issue(BL_REF, "PRODUCER-FZ"));
    Chain::demo().reject_with(
        "PRODUCER-FZ",
        issue(BL_REF, "PRODUCER-FZ"),
        "membership.role",
        "org PRODUCER-FZ (roles: producer) may not issue waybills: role carrier required",
    );
}

#[test]
fn waybill_issue_duplicate() {
    let mut c = issued();
    c.accept(C, issue("COSU-2026-000124", "PRODUCER-FZ"));
    c.reject_with(
        C,
        issue(BL_REF, "BANK-CN"),
        "waybill.issue.duplicate",
        "carrier CARRIER-COSCO already issued BL COSU-2026-000123",
    );
}

#[test]
fn waybill_issue_invalid() {
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.kind = WaybillKind::SeaWaybill;
    d.consignee = Some(party("Rotterdam Importer B.V.", None, "NL"));
    Chain::demo().accept(C, issue_doc(d.clone()));
    d.consignee = None;
    Chain::demo().reject_with(
        C,
        issue_doc(d),
        "waybill.issue.invalid",
        "BL COSU-2026-000123 is a sea waybill and must name its consignee",
    );
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.goods.clear();
    Chain::demo().reject_with(
        C,
        issue_doc(d),
        "waybill.issue.invalid",
        "BL COSU-2026-000123 has no goods lines",
    );
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.sub_reference = 1;
    Chain::demo().reject_with(
        C,
        issue_doc(d),
        "waybill.issue.invalid",
        "sub_reference is 1 on BL COSU-2026-000123; an original is issued with 0 (amend re-issues)",
    );
}

#[test]
fn waybill_unknown_party() {
    Chain::demo().accept(C, issue(BL_REF, "BANK-NL"));
    Chain::demo().reject_with(
        C,
        issue(BL_REF, "NOBODY"),
        "waybill.unknown_party",
        "holder NOBODY is not a current member",
    );
    issued().reject_with(
        "PRODUCER-FZ",
        transfer("NOBODY"),
        "waybill.unknown_party",
        "new_holder NOBODY is not a current member",
    );
}

#[test]
fn codes_on_waybill() {
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.port_of_discharge = "NLRT1".into();
    Chain::demo().reject_with(
        C,
        issue_doc(d),
        "codes.unlocode",
        "port_of_discharge \"NLRT1\" is not a UN/LOCODE (country + 3 characters)",
    );
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.shipper.country = "XX".into();
    Chain::demo().reject_with(
        C,
        issue_doc(d),
        "codes.country",
        "shipper.country \"XX\" is not an ISO 3166-1 alpha-2 country code",
    );
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.goods[0].hs_code = "8517".into();
    Chain::demo().reject_with(
        C,
        issue_doc(d),
        "codes.hs_code",
        "goods[0].hs_code \"8517\" is not an HS code (6 digits, optionally 8 or 10 with a national extension)",
    );
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.goods[0].hs_code = "8517130000".into();
    Chain::demo().accept(C, issue_doc(d));
}

#[test]
fn gs1_invalid_key_on_waybill() {
    Chain::demo().accept(C, issue_doc(waybill_issue(BL_REF, "PRODUCER-FZ", &[PHONE1_DL, PALLET])));
    Chain::demo().reject_with(
        C,
        issue_doc(waybill_issue(
            BL_REF,
            "PRODUCER-FZ",
            &["https://id.gs1.org/01/06901234123457/21/1001"],
        )),
        "gs1.invalid_key",
        "goods[0].goods_ids[0]: GTIN \"06901234123457\" has a wrong check digit (expected 6)",
    );
}

#[test]
fn waybill_not_found() {
    issued().accept("PRODUCER-FZ", transfer("BANK-CN"));
    Chain::demo().reject_with(
        "PRODUCER-FZ",
        transfer("BANK-CN"),
        "waybill.not_found",
        "no BL COSU-2026-000123 issued by carrier CARRIER-COSCO",
    );
}

#[test]
fn waybill_transfer_not_holder() {
    let mut c = issued();
    c.reject_with(
        "BANK-CN",
        transfer("BANK-NL"),
        "waybill.transfer.not_holder",
        "org BANK-CN is not the current holder of BL COSU-2026-000123 (holder: PRODUCER-FZ)",
    );
    c.accept("PRODUCER-FZ", transfer("BANK-CN"));
    c.accept("BANK-CN", transfer("BANK-NL"));
    c.reject_with(
        "PRODUCER-FZ",
        transfer("BANK-CN"),
        "waybill.transfer.not_holder",
        "org PRODUCER-FZ is not the current holder of BL COSU-2026-000123 (holder: BANK-NL)",
    );
}

#[test]
fn waybill_transfer_not_negotiable() {
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.kind = WaybillKind::Straight;
    d.consignee = Some(party("Rotterdam Importer B.V.", None, "NL"));
    let mut c = Chain::demo();
    c.accept(C, issue_doc(d));
    c.reject_with(
        "PRODUCER-FZ",
        transfer("BANK-CN"),
        "waybill.transfer.not_negotiable",
        "BL COSU-2026-000123 is a straight bill and cannot be endorsed; only a to-order bill can",
    );
    issued().accept("PRODUCER-FZ", transfer("BANK-CN"));
}

#[test]
fn waybill_surrender_not_holder() {
    issued().accept("PRODUCER-FZ", surrender(SurrenderPurpose::Delivery));
    issued().reject_with(
        "BANK-NL",
        surrender(SurrenderPurpose::Delivery),
        "waybill.surrender.not_holder",
        "org BANK-NL is not the current holder of BL COSU-2026-000123 (holder: PRODUCER-FZ) and cannot surrender it",
    );
}

#[test]
fn waybill_state() {
    let mut c = issued();
    c.reject_with(
        C,
        accomplish(),
        "waybill.state",
        "BL COSU-2026-000123 is ISSUED; it can be accomplished only when SURRENDERED_FOR_DELIVERY",
    );
    c.accept("PRODUCER-FZ", surrender(SurrenderPurpose::Delivery));
    c.reject_with(
        C,
        void(),
        "waybill.state",
        "BL COSU-2026-000123 is SURRENDERED_FOR_DELIVERY; it can be voided only when ISSUED",
    );
    c.reject_with(
        C,
        amend(1, "PRODUCER-FZ"),
        "waybill.state",
        "BL COSU-2026-000123 is SURRENDERED_FOR_DELIVERY; it can be amended only when SURRENDERED_FOR_AMENDMENT",
    );
    c.accept(C, accomplish());
}

#[test]
fn waybill_not_issuer() {
    let mut c = issued();
    c.reject_with(
        "PRODUCER-FZ",
        void(),
        "waybill.not_issuer",
        "org PRODUCER-FZ is not the issuer of BL COSU-2026-000123 (issuer: CARRIER-COSCO) and cannot void it",
    );
    // The shipper hands the to-order bill back to the carrier, which may then void it.
    c.accept("PRODUCER-FZ", transfer(C));
    c.accept(C, void());
}

#[test]
fn waybill_closed() {
    let mut c = issued();
    c.accept("PRODUCER-FZ", transfer(C));
    c.accept(C, void());
    c.reject_with(
        "PRODUCER-FZ",
        transfer("BANK-CN"),
        "waybill.closed",
        "BL COSU-2026-000123 is VOID; no further action is possible",
    );
    let mut c = after_steps(18);
    c.reject_with(
        "BANK-NL",
        surrender(SurrenderPurpose::Delivery),
        "waybill.closed",
        "BL COSU-2026-000123 is ACCOMPLISHED; no further action is possible",
    );
    issued().accept("PRODUCER-FZ", transfer("BANK-CN"));
}

#[test]
fn waybill_amend_invalid() {
    let mut c = issued();
    c.accept("PRODUCER-FZ", surrender(SurrenderPurpose::Amendment));
    c.reject_with(
        C,
        amend(0, "PRODUCER-FZ"),
        "waybill.amend.invalid",
        "amended document must keep reference COSU-2026-000123 and raise sub_reference above 0 (got COSU-2026-000123 / 0)",
    );
    c.accept(C, amend(1, "PRODUCER-FZ"));
    // Re-issued: the holder has exclusive control again and can endorse.
    c.accept("PRODUCER-FZ", transfer("BANK-CN"));
    let rec: tradechain_ledger::records::WaybillRecord =
        tradechain_ledger::state::get_typed(&c.state, &tradechain_ledger::state::keys::waybill(&oid(C), BL_REF))
            .unwrap();
    assert_eq!(rec.document.sub_reference, 1);
    assert_eq!(rec.document.voyage, "032W");
    assert_eq!(rec.version, 4);
    assert_eq!(rec.holder, oid("BANK-CN"));
    // The public head (the route) follows the amendment: written with every version.
    let head: tradechain_ledger::records::WaybillHead =
        tradechain_ledger::state::get_typed(&c.state, &tradechain_ledger::state::keys::waybill_head(&oid(C), BL_REF))
            .unwrap();
    assert_eq!(head, tradechain_ledger::records::WaybillHead::of(&rec));
    assert_eq!((head.voyage.as_str(), head.status), ("032W", WaybillStatus::Issued));
}

fn holder(c: &Chain) -> tradechain_ledger::OrgId {
    let rec: tradechain_ledger::records::WaybillRecord =
        tradechain_ledger::state::get_typed(&c.state, &tradechain_ledger::state::keys::waybill(&oid(C), BL_REF))
            .unwrap();
    rec.holder
}

#[test]
fn waybill_exclusive_control() {
    // A to-order bill held by the shipper, then by a bank: the carrier neither voids nor amends it.
    let mut c = issued();
    c.reject_with(
        C,
        void(),
        "waybill.exclusive_control",
        "BL COSU-2026-000123 is a to-order bill held by PRODUCER-FZ (holder); carrier CARRIER-COSCO may not void it until it is surrendered to the carrier",
    );
    c.accept("PRODUCER-FZ", transfer("BANK-CN"));
    c.reject_with(
        C,
        void(),
        "waybill.exclusive_control",
        "BL COSU-2026-000123 is a to-order bill held by BANK-CN (holder); carrier CARRIER-COSCO may not void it until it is surrendered to the carrier",
    );
    c.reject_with(
        C,
        amend(1, C),
        "waybill.exclusive_control",
        "BL COSU-2026-000123 is a to-order bill held by BANK-CN (holder); carrier CARRIER-COSCO may not amend it until it is surrendered to the carrier",
    );
    c.reject_with(
        C,
        amend(1, "BANK-CN"),
        "waybill.exclusive_control",
        "BL COSU-2026-000123 is a to-order bill held by BANK-CN (holder); carrier CARRIER-COSCO may not amend it until it is surrendered to the carrier",
    );
    assert_eq!(holder(&c), oid("BANK-CN"));
    // Endorsed back to the carrier: it may void it.
    c.accept("BANK-CN", transfer(C));
    c.accept(C, void());
    // Surrendered for amendment by the bank: the carrier may amend (re-issuing to the bank).
    let mut c = issued();
    c.accept("PRODUCER-FZ", transfer("BANK-CN"));
    c.accept("BANK-CN", surrender(SurrenderPurpose::Amendment));
    c.accept(C, amend(1, "BANK-CN"));
    // A straight bill is no document of title: its carrier may void it while ISSUED.
    let mut d = waybill_issue(BL_REF, "PRODUCER-FZ", &[PALLET]);
    d.kind = WaybillKind::Straight;
    d.consignee = Some(party("Rotterdam Importer B.V.", None, "NL"));
    let mut c = Chain::demo();
    c.accept(C, issue_doc(d));
    c.accept(C, void());
}

#[test]
fn waybill_amend_holder() {
    let mut c = issued();
    c.accept("PRODUCER-FZ", transfer("BANK-CN"));
    c.accept("BANK-CN", surrender(SurrenderPurpose::Amendment));
    assert_eq!(holder(&c), oid(C));
    for other in ["BANK-NL", "PRODUCER-FZ", C] {
        c.reject_with(
            C,
            amend(1, other),
            "waybill.amend.holder",
            &format!(
                "amended.holder {other} is not BANK-CN, the party that surrendered BL COSU-2026-000123 for amendment; the carrier re-issues to it"
            ),
        );
    }
    c.accept(C, amend(1, "BANK-CN"));
    assert_eq!(holder(&c), oid("BANK-CN"));
    // Never endorsed: the original holder surrendered it, and gets it back.
    let mut c = issued();
    c.accept("PRODUCER-FZ", surrender(SurrenderPurpose::Amendment));
    c.reject_with(
        C,
        amend(1, "BANK-CN"),
        "waybill.amend.holder",
        "amended.holder BANK-CN is not PRODUCER-FZ, the party that surrendered BL COSU-2026-000123 for amendment; the carrier re-issues to it",
    );
    c.accept(C, amend(1, "PRODUCER-FZ"));
    // Amended twice: the re-issued holder endorses on, the endorsee surrenders and gets it back.
    c.accept("PRODUCER-FZ", transfer("BANK-NL"));
    c.accept("BANK-NL", surrender(SurrenderPurpose::Amendment));
    c.reject_with(
        C,
        amend(2, "PRODUCER-FZ"),
        "waybill.amend.holder",
        "amended.holder PRODUCER-FZ is not BANK-NL, the party that surrendered BL COSU-2026-000123 for amendment; the carrier re-issues to it",
    );
    c.accept(C, amend(2, "BANK-NL"));
    assert_eq!(holder(&c), oid("BANK-NL"));
}

/// A bill imported from a DCSA eBL 3.0 transport document (built in memory, `ledger::dcsa`):
/// it keeps the original as canonical JSON in `dcsa`.
fn dcsa_issue(extra: &str) -> WaybillIssue {
    use tradechain_ledger::dcsa::export::transport_document;
    use tradechain_ledger::dcsa::import::{ImportOptions, import_transport_document};
    use tradechain_ledger::dcsa::json::{Json, parse};
    let td = transport_document(&waybill_issue(BL_REF, "PRODUCER-FZ", &[]), "ISSUED");
    let Json::Object(mut m) = td else { unreachable!() };
    m.push(("termsAndConditions".into(), Json::String(extra.into())));
    let td = parse(&Json::Object(m).canonical()).unwrap();
    import_transport_document(
        &td,
        "",
        &ImportOptions {
            holder: Some(oid("PRODUCER-FZ")),
        },
    )
    .unwrap()
    .issue
}

#[test]
fn waybill_dcsa_invalid() {
    use tradechain_ledger::dcsa::MAX_DOCUMENT_BYTES;
    // A mapped DCSA bill is accepted and keeps its document; one far above max_string_len (the
    // kept document is bounded by MAX_DOCUMENT_BYTES instead) too; so is an amendment carrying one.
    let small = dcsa_issue("Terms.");
    let mut c = Chain::demo();
    c.accept(C, issue_doc(small.clone()));
    let rec: tradechain_ledger::records::WaybillRecord =
        tradechain_ledger::state::get_typed(&c.state, &tradechain_ledger::state::keys::waybill(&oid(C), BL_REF))
            .unwrap();
    assert_eq!(rec.document.dcsa, small.dcsa);
    let big = dcsa_issue(&"t".repeat(20_000));
    assert!(big.dcsa.as_ref().unwrap().len() > 20_000);
    Chain::demo().accept(C, issue_doc(big));
    c.accept("PRODUCER-FZ", surrender(SurrenderPurpose::Amendment));
    let mut amended = dcsa_issue("Amended terms.");
    amended.sub_reference = 1;
    c.accept(
        C,
        Payload::Waybill(WaybillOp::Amend {
            carrier: oid(C),
            reference: BL_REF.into(),
            amended: Box::new(amended),
        }),
    );

    // Above the bound (the transaction itself still fits max_tx_bytes): the importer refuses to
    // build one, so the kept text is padded by hand, still canonical.
    let mut over = dcsa_issue("");
    let base = over.dcsa.take().unwrap();
    let key = "\"termsAndConditions\":\"\"";
    assert!(base.contains(key));
    let padded = base.replacen(
        key,
        &format!(
            "\"termsAndConditions\":\"{}\"",
            "t".repeat(MAX_DOCUMENT_BYTES + 1 - base.len())
        ),
        1,
    );
    let n = padded.len();
    assert_eq!(n, MAX_DOCUMENT_BYTES + 1);
    over.dcsa = Some(padded);
    Chain::demo().reject_with(
        C,
        issue_doc(over),
        "waybill.dcsa.invalid",
        &format!("BL {BL_REF}: dcsa: the DCSA document is {n} bytes, above the limit of {MAX_DOCUMENT_BYTES}"),
    );
    // Not canonical, not JSON, not an object, another reference.
    let mut d = dcsa_issue("");
    d.dcsa = Some(d.dcsa.unwrap().replacen(',', ", ", 1));
    Chain::demo().reject_with(
        C,
        issue_doc(d),
        "waybill.dcsa.invalid",
        &format!("BL {BL_REF}: dcsa: the DCSA document is not in canonical form (members sorted, no whitespace)"),
    );
    for (kept, why) in [
        ("{", "the DCSA document is not JSON"),
        ("[1]", "the DCSA document is an array, not an object"),
        (
            "{\"transportDocumentReference\":\"OTHER-1\"}",
            "the DCSA document's transportDocumentReference \"OTHER-1\" is not the bill's reference",
        ),
        ("{}", "the DCSA document has no transportDocumentReference string"),
    ] {
        let mut d = dcsa_issue("");
        d.dcsa = Some(kept.into());
        let (rule, reason) = Chain::demo().reject(C, issue_doc(d));
        assert_eq!(rule, "waybill.dcsa.invalid");
        assert!(reason.contains(why), "{kept}: {reason}");
    }
    // The exemption is only for `dcsa`: another string of a DCSA bill is still bounded.
    let mut d = dcsa_issue("");
    d.vehicle = "v".repeat(2000);
    let (rule, _) = Chain::demo().reject(C, issue_doc(d));
    assert_eq!(rule, "limits.string_len");
}
