//! Rule tables for the certificate-of-origin validator.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tradechain_ledger::payload::*;
use tradechain_ledger::records::{CertificateRecord, ItemRecord};
use tradechain_ledger::state::{get_typed, keys};
use tradechain_ledger::testkit::*;

fn issue(doc: CertificateIssue) -> Payload {
    Payload::Certificate(CertificateOp::Issue(doc))
}
fn co(number: &str) -> Payload {
    issue(certificate_issue(number, &[PALLET]))
}
fn revoke(number: &str) -> Payload {
    Payload::Certificate(CertificateOp::Revoke {
        number: number.into(),
        reason: "origin criterion not met".into(),
    })
}

#[test]
fn membership_role_certificate_issue() {
    Chain::demo().accept("CHAMBER-CN", co(CO_NUMBER));
    Chain::demo().accept("CUSTOMS-CN", co(CO_NUMBER));
    Chain::demo().reject_with(
        "PORT-CNFOC",
        co(CO_NUMBER),
        "membership.role",
        "org PORT-CNFOC (roles: port) may not issue certificates of origin: role chamber or customs required",
    );
}

#[test]
fn certificate_duplicate() {
    let mut c = Chain::demo();
    c.accept("CHAMBER-CN", co(CO_NUMBER));
    // Numbers are unique per issuer: another issuer may reuse it (for other goods).
    c.accept("CUSTOMS-CN", issue(certificate_issue(CO_NUMBER, &[PHONES[0]])));
    c.reject_with(
        "CHAMBER-CN",
        co(CO_NUMBER),
        "certificate.duplicate",
        "issuer CHAMBER-CN already issued certificate CCPIT-FZ-2026-0001",
    );
}

#[test]
fn certificate_origin_mismatch() {
    let mut d = certificate_issue(CO_NUMBER, &[PALLET]);
    Chain::demo().reject_with(
        "CUSTOMS-NL",
        issue(d.clone()),
        "certificate.origin_mismatch",
        "origin_country CN differs from the issuing authority CUSTOMS-NL's country NL",
    );
    d.origin_country = "NL".into();
    d.destination_country = "CN".into();
    d.exporter.country = "NL".into();
    Chain::demo().accept("CUSTOMS-NL", issue(d));
}

#[test]
fn certificate_exporter_mismatch() {
    // A CN chamber may not certify goods exported from another country, even of CN origin.
    let mut d = certificate_issue(CO_NUMBER, &[PALLET]);
    d.exporter.country = "VN".into();
    Chain::demo().reject_with(
        "CHAMBER-CN",
        issue(d.clone()),
        "certificate.exporter_mismatch",
        "exporter.country VN differs from the issuing authority CHAMBER-CN's country CN: only the exporting country's authority may certify",
    );
    d.exporter.country = "CN".into();
    Chain::demo().accept("CHAMBER-CN", issue(d));
}

#[test]
fn certificate_no_goods() {
    Chain::demo().reject_with(
        "CHAMBER-CN",
        issue(certificate_issue(CO_NUMBER, &[])),
        "certificate.no_goods",
        "certificate CCPIT-FZ-2026-0001 covers no goods: goods_ids is empty",
    );
    Chain::demo().accept("CHAMBER-CN", issue(certificate_issue(CO_NUMBER, &[PALLET])));
}

#[test]
fn certificate_goods_certified() {
    let mut c = Chain::demo();
    c.accept(
        "CHAMBER-CN",
        issue(certificate_issue(CO_NUMBER, &[PHONES[0], PHONES[1]])),
    );
    // A second certificate for goods that carry a valid one, by the same issuer or a rival, is
    // refused — also when the goods are spelt as a Digital Link.
    c.reject_with(
        "CUSTOMS-CN",
        issue(certificate_issue("CN-CUS-1", &[PHONES[2], PHONE1_DL])),
        "certificate.goods_certified",
        "goods_ids[1] https://id.gs1.org/01/06901234123456/21/1001 already carries valid certificate CCPIT-FZ-2026-0001 of CHAMBER-CN; it must be revoked first",
    );
    let (rule, _) = c.reject("CHAMBER-CN", issue(certificate_issue("CO-2", &[PHONES[1]])));
    assert_eq!(rule, "certificate.goods_certified");
    // Other goods are free.
    c.accept("CUSTOMS-CN", issue(certificate_issue("CN-CUS-1", &[PHONES[2]])));
    // A rival cannot revoke the first certificate to make room for its own…
    let (rule, _) = c.reject("CUSTOMS-CN", revoke(CO_NUMBER));
    assert_eq!(rule, "certificate.not_found");
    let (rule, _) = c.reject("CUSTOMS-CN", issue(certificate_issue("CN-CUS-2", &[PHONES[0]])));
    assert_eq!(rule, "certificate.goods_certified");
    // …once its issuer revokes it, the goods may be certified again.
    c.accept("CHAMBER-CN", revoke(CO_NUMBER));
    c.accept(
        "CUSTOMS-CN",
        issue(certificate_issue("CN-CUS-2", &[PHONES[0], PHONES[1]])),
    );
    let item: ItemRecord = get_typed(&c.state, &keys::item("01/06901234123456/21/1001")).unwrap();
    assert_eq!(item.certificate.unwrap().number, "CN-CUS-2");
}

#[test]
fn codes_on_certificate() {
    let mut d = certificate_issue(CO_NUMBER, &[PALLET]);
    d.hs_code = "85171".into();
    Chain::demo().reject_with(
        "CHAMBER-CN",
        issue(d),
        "codes.hs_code",
        "hs_code \"85171\" is not an HS code (6 digits, optionally 8 or 10 with a national extension)",
    );
    let mut d = certificate_issue(CO_NUMBER, &[PALLET]);
    d.destination_country = "EU".into();
    Chain::demo().reject_with(
        "CHAMBER-CN",
        issue(d),
        "codes.country",
        "destination_country \"EU\" is not an ISO 3166-1 alpha-2 country code",
    );
    let mut d = certificate_issue(CO_NUMBER, &["urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8"]);
    Chain::demo().reject_with(
        "CHAMBER-CN",
        issue(d.clone()),
        "gs1.invalid_key",
        "goods_ids[0]: \"urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8\" is neither a GS1 Digital Link URI nor an EPC URN (urn:epc:…)",
    );
    d.goods_ids = vec![PHONE1_DL.into(), PHONES[0].into()];
    let mut c = Chain::demo();
    c.accept("CHAMBER-CN", issue(d));
    // Both spellings reach one item, linked to the certificate.
    let item: ItemRecord = get_typed(&c.state, &keys::item("01/06901234123456/21/1001")).unwrap();
    assert_eq!(item.certificate.unwrap().number, CO_NUMBER);
    assert_eq!(item.event_count, 0);
}

#[test]
fn certificate_not_found() {
    let mut c = Chain::demo();
    c.accept("CHAMBER-CN", co(CO_NUMBER));
    c.reject_with(
        "CUSTOMS-CN",
        revoke(CO_NUMBER),
        "certificate.not_found",
        "no certificate CCPIT-FZ-2026-0001 issued by CUSTOMS-CN",
    );
    c.accept("CHAMBER-CN", revoke(CO_NUMBER));
}

#[test]
fn certificate_revoked() {
    let mut c = Chain::demo();
    c.accept("CHAMBER-CN", co(CO_NUMBER));
    c.accept("CHAMBER-CN", revoke(CO_NUMBER));
    c.reject_with(
        "CHAMBER-CN",
        revoke(CO_NUMBER),
        "certificate.revoked",
        "certificate CCPIT-FZ-2026-0001 of CHAMBER-CN is already revoked (origin criterion not met)",
    );
    // Still on the ledger, flagged.
    let rec: CertificateRecord = get_typed(&c.state, &keys::certificate(&oid("CHAMBER-CN"), CO_NUMBER)).unwrap();
    assert_eq!(rec.revoked.as_deref(), Some("origin criterion not met"));
    assert_eq!(rec.version, 2);
}
