//! Rule tables for the provenance validator (EPCIS events, customs steps, high-risk goods) and
//! the per-item event index it maintains.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tradechain_ledger::gs1::goods_key;
use tradechain_ledger::payload::*;
use tradechain_ledger::records::{CustomsStatus, EventIdRecord, ItemEventRef, ItemRecord, item_event_hash};
use tradechain_ledger::state::{get_typed, keys};
use tradechain_ledger::testkit::*;

const T: i64 = GENESIS_TIME_MS;

fn k(id: &str) -> String {
    goods_key(id).unwrap()
}
fn p(e: ProvenanceEvent) -> Payload {
    Payload::Provenance(e)
}
fn commission(ids: &[&str], t: i64) -> Payload {
    let mut e = event(EventType::ObjectEvent, Some(Action::Add), ids, t);
    e.biz_step = Some("commissioning".into());
    p(e)
}
fn item(c: &Chain, id: &str) -> ItemRecord {
    get_typed(&c.state, &keys::item(&k(id))).unwrap()
}
fn step(ids: &[&str], t: i64, unlocode: &str, s: CustomsStep) -> Payload {
    p(customs(ids, t, unlocode, s))
}
fn decl(declarant: &str, hs: &str) -> CustomsStep {
    declared(declarant, hs, None)
}
fn inspected(outcome: InspectionOutcome) -> CustomsStep {
    CustomsStep::Inspected {
        outcome,
        remarks: String::new(),
    }
}

#[test]
fn index_chains_events_per_item() {
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", commission(&[PHONES[0]], T));
    c.accept("PORT-CNFOC", p(observe(&[PHONE1_DL], T + 10, "inspecting", "CNFOC")));
    let it = item(&c, PHONES[0]);
    assert_eq!(it.event_count, 2);
    assert!(it.commissioned);
    let e0: ItemEventRef = get_typed(&c.state, &keys::item_event(&it.goods_key, 0)).unwrap();
    let e1: ItemEventRef = get_typed(&c.state, &keys::item_event(&it.goods_key, 1)).unwrap();
    assert_eq!(
        e0.event_hash,
        item_event_hash(&tradechain_ledger::Hash::ZERO, &e0.tx_id, 0, &it.goods_key)
    );
    assert_eq!(e1.prev_event_hash, e0.event_hash);
    assert_eq!(
        e1.event_hash,
        item_event_hash(&e0.event_hash, &e1.tx_id, 0, &it.goods_key)
    );
    assert_eq!(it.last_event_hash, e1.event_hash);
    assert_eq!((e0.at.height, e1.at.height, e1.event_time_ms), (1, 2, T + 10));
}

#[test]
fn membership_role_provenance() {
    Chain::demo().accept("PRODUCER-FZ", commission(&[PHONES[0]], T));
    Chain::demo().reject_with(
        "BANK-CN",
        commission(&[PHONES[0]], T),
        "membership.role",
        "org BANK-CN (roles: bank) may not record provenance events: role producer or port or carrier or customs required",
    );
    let mut c = Chain::demo();
    c.reject_with(
        "PORT-CNFOC",
        step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "851713")),
        "membership.role",
        "org PORT-CNFOC (roles: port) may not record customs steps: role customs required",
    );
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "851713")));
}

#[test]
fn gs1_invalid_key_on_events() {
    Chain::demo().reject_with(
        "PRODUCER-FZ",
        commission(
            &[
                "urn:epc:id:sgtin:6901234.012345.1001",
                "https://id.gs1.org/00/069012340000000012",
            ],
            T,
        ),
        "gs1.invalid_key",
        "epcList[1]: SSCC \"069012340000000012\" has a wrong check digit (expected 6)",
    );
    let mut e = event(EventType::ObjectEvent, Some(Action::Observe), &[PALLET], T);
    e.read_point = Some("urn:epc:id:sgln:6901234.00001".into());
    Chain::demo().reject_with(
        "PORT-CNFOC",
        p(e.clone()),
        "gs1.invalid_key",
        "readPoint: \"urn:epc:id:sgln:6901234.00001\": expected 3 dot-separated parts, found 2",
    );
    e.read_point = Some("https://example.org/locations/berth-7".into());
    Chain::demo().accept("PORT-CNFOC", p(e));
}

#[test]
fn codes_unlocode_on_events() {
    Chain::demo().reject_with(
        "PORT-CNFOC",
        p(observe(&[PALLET], T, "loading", "CNFO")),
        "codes.unlocode",
        "unlocode \"CNFO\" is not a UN/LOCODE (country + 3 characters)",
    );
    Chain::demo().accept("PORT-CNFOC", p(observe(&[PALLET], T, "loading", "CNFOC")));
}

#[test]
fn provenance_empty() {
    Chain::demo().reject_with(
        "PRODUCER-FZ",
        commission(&[], T),
        "provenance.empty",
        "the event names neither goods (epcList, parentID, childEPCs, input/output and quantity lists are empty) nor a readPoint or bizLocation",
    );
    // A customs step always acts on goods, even at a place.
    let mut at_berth = customs(&[], T, "CNFOC", decl("PRODUCER-FZ", "851713"));
    at_berth.read_point = Some("urn:epc:id:sgln:6901234.00001.0".into());
    Chain::demo().reject_with(
        "CUSTOMS-CN",
        p(at_berth),
        "provenance.empty",
        "a customs step must name the goods it acts on (epcList, parentID, childEPCs, input/output and quantity lists are empty)",
    );
    let mut e = event(EventType::ObjectEvent, Some(Action::Observe), &[], T);
    e.quantity_list = vec![QuantityElement {
        epc_class: "urn:epc:class:lgtin:4012345.012345.998877".into(),
        quantity: Some("200".into()),
        uom: Some("KGM".into()),
    }];
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", p(e));
    assert_eq!(
        item(&c, "https://id.gs1.org/01/04012345123456/10/998877").event_count,
        1
    );
}

#[test]
fn provenance_event_id_duplicate() {
    let mut e = event(EventType::ObjectEvent, Some(Action::Add), &[PHONES[0]], T);
    e.event_id = Some("urn:uuid:e1".into());
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", p(e.clone()));
    let rec: EventIdRecord = get_typed(&c.state, &keys::event_id("urn:uuid:e1")).unwrap();
    assert_eq!(rec.goods_keys, vec![k(PHONES[0])]);
    e.epc_list = vec![PHONES[1].into()];
    c.reject_with(
        "PRODUCER-FZ",
        p(e),
        "provenance.event_id.duplicate",
        "eventID urn:uuid:e1 is already recorded (an error declaration must carry errorDeclaration)",
    );
}

#[test]
fn provenance_time_future() {
    // Block 1 is at T + 1000; the default skew is 10 minutes.
    Chain::demo().accept("PRODUCER-FZ", commission(&[PHONES[0]], T + 1000 + 600_000));
    Chain::demo().reject_with(
        "PRODUCER-FZ",
        commission(&[PHONES[0]], T + 1000 + 600_001),
        "provenance.time_future",
        &format!(
            "eventTime {} is after block time {} plus the allowed skew",
            T + 601_001,
            T + 1000
        ),
    );
}

/// Late capture (an offline reader syncing later): an event whose eventTime is before the item's
/// last event is recorded, after it in the item's chain (record order), with its eventTime kept;
/// the item's latest event time stays the latest.
#[test]
fn late_capture_is_recorded_in_record_order() {
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", commission(&[PHONES[0]], T + 500));
    c.accept("PORT-CNFOC", p(observe(&[PHONES[0]], T + 500, "inspecting", "CNFOC")));
    c.accept("PORT-CNFOC", p(observe(&[PHONES[0]], T + 100, "inspecting", "CNFOC")));
    let key = k(PHONES[0]);
    let rec: ItemRecord = get_typed(&c.state, &keys::item(&key)).unwrap();
    assert_eq!(rec.event_count, 3);
    assert_eq!(rec.last_event_time_ms, T + 500);
    let last: ItemEventRef = get_typed(&c.state, &keys::item_event(&key, 2)).unwrap();
    assert_eq!(last.event_time_ms, T + 100, "eventTime kept as captured");
}

#[test]
fn provenance_ended() {
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", commission(&[PHONES[0], PHONES[1]], T));
    let mut destroy = event(EventType::ObjectEvent, Some(Action::Observe), &[PHONES[0]], T + 1);
    destroy.biz_step = Some("https://ref.gs1.org/cbv/BizStep-destroying".into());
    c.accept("PRODUCER-FZ", p(destroy));
    c.accept(
        "PRODUCER-FZ",
        p(event(EventType::ObjectEvent, Some(Action::Delete), &[PHONES[1]], T + 2)),
    );
    for id in [PHONES[0], PHONES[1]] {
        c.reject_with(
            "PORT-CNFOC",
            p(observe(&[id], T + 3, "inspecting", "CNFOC")),
            "provenance.ended",
            &format!(
                "goods {} was destroyed, decommissioned or consumed; no event may follow",
                k(id)
            ),
        );
    }
    c.accept("PORT-CNFOC", p(observe(&[PHONES[2]], T + 3, "inspecting", "CNFOC")));
}

#[test]
fn provenance_commission_duplicate() {
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", commission(&[PHONES[0]], T));
    c.reject_with(
        "PRODUCER-FZ",
        commission(&[PHONE1_DL], T),
        "provenance.commission.duplicate",
        &format!("goods {} is already commissioned", k(PHONES[0])),
    );
}

fn pack(parent: Option<&str>, children: &[&str], t: i64) -> Payload {
    let mut e = event(EventType::AggregationEvent, Some(Action::Add), &[], t);
    e.parent_id = parent.map(str::to_string);
    e.child_epcs = children.iter().map(|s| s.to_string()).collect();
    p(e)
}

#[test]
fn provenance_aggregation_parent() {
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", commission(&[PHONES[0]], T));
    c.reject_with(
        "PRODUCER-FZ",
        pack(None, &[PHONES[0]], T),
        "provenance.aggregation.parent",
        "an AggregationEvent needs a parentID",
    );
    c.accept("PRODUCER-FZ", pack(Some(PALLET), &[PHONES[0]], T));
    assert_eq!(item(&c, PHONES[0]).parent, Some(k(PALLET)));
    assert!(item(&c, PALLET).children.contains(&k(PHONES[0])));
}

#[test]
fn provenance_aggregation_child_not_commissioned() {
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", commission(&[PHONES[0]], T));
    c.reject_with(
        "PRODUCER-FZ",
        pack(Some(PALLET), &[PHONES[0], PHONES[1]], T),
        "provenance.aggregation.child_not_commissioned",
        &format!(
            "child {} has not been commissioned; it cannot be packed into {}",
            k(PHONES[1]),
            k(PALLET)
        ),
    );
    c.accept("PRODUCER-FZ", commission(&[PHONES[1]], T));
    c.accept("PRODUCER-FZ", pack(Some(PALLET), &[PHONES[0], PHONES[1]], T));
}

#[test]
fn provenance_transformation_io() {
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", commission(&[PHONES[0], PHONES[1]], T));
    let mut e = event(EventType::TransformationEvent, None, &[], T + 1);
    e.input_epc_list = vec![PHONES[0].into(), PHONES[1].into()];
    c.reject_with(
        "PRODUCER-FZ",
        p(e.clone()),
        "provenance.transformation.io",
        "a TransformationEvent needs inputs and outputs (got 2 inputs, 0 outputs)",
    );
    let refurb = "urn:epc:id:sgtin:6901234.012345.2001";
    e.output_epc_list = vec![refurb.into()];
    c.accept("PRODUCER-FZ", p(e));
    // Inputs are consumed; the output is commissioned and remembers them.
    assert!(item(&c, PHONES[0]).ended);
    let out = item(&c, refurb);
    assert!(out.commissioned && out.inputs.contains(&k(PHONES[1])));
    c.reject_with(
        "PORT-CNFOC",
        p(observe(&[PHONES[0]], T + 2, "inspecting", "CNFOC")),
        "provenance.ended",
        &format!(
            "goods {} was destroyed, decommissioned or consumed; no event may follow",
            k(PHONES[0])
        ),
    );
}

fn error_decl(event_id: &str, ids: &[&str]) -> Payload {
    let mut e = event(EventType::ObjectEvent, Some(Action::Add), ids, T);
    e.event_id = Some(event_id.into());
    e.error_declaration = Some(ErrorDeclaration {
        declaration_time_ms: T + 50,
        reason: Some("incorrect_data".into()),
        corrective_event_ids: vec![],
    });
    p(e)
}

#[test]
fn provenance_error_unknown_event_and_already_corrected() {
    let mut c = Chain::demo();
    c.reject_with(
        "PRODUCER-FZ",
        error_decl("urn:uuid:e1", &[PHONES[0]]),
        "provenance.error.unknown_event",
        "eventID urn:uuid:e1 is not recorded on the ledger",
    );
    let mut e = event(EventType::ObjectEvent, Some(Action::Add), &[PHONES[0]], T);
    e.event_id = Some("urn:uuid:e1".into());
    c.accept("PRODUCER-FZ", p(e));
    let first_tx = get_typed::<EventIdRecord>(&c.state, &keys::event_id("urn:uuid:e1"))
        .unwrap()
        .tx_id;
    // Another org cannot declare someone else's event erroneous.
    c.reject_with(
        "PORT-CNFOC",
        error_decl("urn:uuid:e1", &[PHONES[0]]),
        "provenance.error.not_recorder",
        "eventID urn:uuid:e1 was recorded by PRODUCER-FZ; only the org that recorded an event may declare it erroneous",
    );
    c.accept("PRODUCER-FZ", error_decl("urn:uuid:e1", &[PHONES[0]]));
    // The original stays, flagged; the declaration is appended to the item's chain.
    let rec: EventIdRecord = get_typed(&c.state, &keys::event_id("urn:uuid:e1")).unwrap();
    assert_eq!(rec.tx_id, first_tx);
    let by = rec.corrected_by.unwrap();
    assert_eq!(item(&c, PHONES[0]).event_count, 2);
    c.reject_with(
        "PRODUCER-FZ",
        error_decl("urn:uuid:e1", &[PHONES[0]]),
        "provenance.error.already_corrected",
        &format!("eventID urn:uuid:e1 was already declared erroneous by transaction {by}"),
    );
}

#[test]
fn provenance_customs_not_declared() {
    let mut c = Chain::demo();
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", CustomsStep::Released),
        "provenance.customs.not_declared",
        &format!(
            "goods {} has no open customs declaration (not declared); declare it first",
            k(PALLET)
        ),
    );
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")));
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", CustomsStep::Released));
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", inspected(InspectionOutcome::Passed)),
        "provenance.customs.not_declared",
        &format!(
            "goods {} has no open customs declaration (released); declare it first",
            k(PALLET)
        ),
    );
}

#[test]
fn provenance_customs_already_declared() {
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")));
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")),
        "provenance.customs.already_declared",
        &format!("goods {} already has an open customs declaration (declared)", k(PALLET)),
    );
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", CustomsStep::Released));
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")));
}

#[test]
fn provenance_customs_held() {
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")));
    c.accept(
        "CUSTOMS-CN",
        step(
            &[PALLET],
            T,
            "CNFOC",
            CustomsStep::Held {
                reason: "documents".into(),
            },
        ),
    );
    assert_eq!(item(&c, PALLET).customs, CustomsStatus::Held);
    c.reject_with(
        "PORT-CNFOC",
        p(observe(&[PALLET], T, "loading", "CNFOC")),
        "provenance.customs.held",
        &format!(
            "goods {} is held by customs; nothing but a customs step may happen until it is released",
            k(PALLET)
        ),
    );
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", CustomsStep::Released));
    c.accept("PORT-CNFOC", p(observe(&[PALLET], T, "loading", "CNFOC")));
}

#[test]
fn provenance_customs_not_released() {
    let mut c = Chain::demo();
    c.accept("PORT-CNFOC", p(observe(&[PALLET], T, "loading", "CNFOC")));
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")));
    c.reject_with(
        "PORT-CNFOC",
        p(observe(&[PALLET], T, "urn:epcglobal:cbv:bizstep:loading", "CNFOC")),
        "provenance.customs.not_released",
        &format!(
            "goods {} is declared to customs but not released; bizStep loading must wait for release",
            k(PALLET)
        ),
    );
}

#[test]
fn provenance_customs_inspection_failed() {
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")));
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", inspected(InspectionOutcome::Failed)),
    );
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", CustomsStep::Released),
        "provenance.customs.inspection_failed",
        &format!("goods {} failed inspection and cannot be released", k(PALLET)),
    );
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", inspected(InspectionOutcome::PassedWithRemarks)),
    );
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", CustomsStep::Released));
}

#[test]
fn provenance_customs_jurisdiction() {
    Chain::demo().reject_with(
        "CUSTOMS-NL",
        step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")),
        "provenance.customs.jurisdiction",
        "customs CUSTOMS-NL (country NL) has no jurisdiction at CNFOC",
    );
    Chain::demo().accept("CUSTOMS-NL", step(&[PALLET], T, "NLRTM", decl("PRODUCER-FZ", "940360")));
}

#[test]
fn provenance_customs_declaration_fields() {
    Chain::demo().reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", decl("NOBODY", "940360")),
        "provenance.customs.declarant_unknown",
        "declarant NOBODY is not a current member",
    );
    Chain::demo().reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "94036")),
        "codes.hs_code",
        "customs.hs_code \"94036\" is not an HS code (6 digits, optionally 8 or 10 with a national extension)",
    );
    Chain::demo().reject_with(
        "CUSTOMS-CN",
        step(
            &[PALLET],
            T,
            "CNFOC",
            declared("PRODUCER-FZ", "940360", Some(("CARRIER-COSCO", BL_REF))),
        ),
        "provenance.customs.waybill_unknown",
        "no BL COSU-2026-000123 issued by carrier CARRIER-COSCO",
    );
    after_steps(4).accept(
        "CUSTOMS-CN",
        step(
            &[PALLET],
            T + 10_000,
            "CNFOC",
            declared("PRODUCER-FZ", "940360", Some(("CARRIER-COSCO", BL_REF))),
        ),
    );
}

#[test]
fn provenance_customs_preferential_certificate() {
    let pref = |number: &str| CustomsStep::Declared {
        declaration_id: "D1".into(),
        declarant: oid("PRODUCER-FZ"),
        hs_code: "940360".into(),
        preferential_certificate: Some(CertificateRef {
            issuer: oid("CHAMBER-CN"),
            number: number.into(),
        }),
        waybill: None,
    };
    let mut c = after_steps(3);
    c.accept("CUSTOMS-CN", step(&[PALLET], T + 10_000, "CNFOC", pref(CO_NUMBER)));
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PHONES[0]], T + 10_000, "CNFOC", pref("CCPIT-FZ-0000")),
        "provenance.customs.preferential_certificate",
        "preferential origin claimed but certificate CCPIT-FZ-0000 of CHAMBER-CN does not exist",
    );
    c.accept(
        "CHAMBER-CN",
        Payload::Certificate(CertificateOp::Revoke {
            number: CO_NUMBER.into(),
            reason: "wrong criterion".into(),
        }),
    );
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PHONES[0]], T + 10_000, "CNFOC", pref(CO_NUMBER)),
        "provenance.customs.preferential_certificate",
        "preferential origin claimed but certificate CCPIT-FZ-2026-0001 of CHAMBER-CN is revoked (wrong criterion)",
    );
}

// High-risk: HS 851713 (3C electronics). PRODUCER-FZ is tier General (below AEO-general);
// CARRIER-COSCO is AEO-advanced.

#[test]
fn provenance_high_risk_not_commissioned() {
    let mut c = Chain::demo();
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", decl("CARRIER-COSCO", "851713")),
    );
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", CustomsStep::Released),
        "provenance.high_risk.not_commissioned",
        &format!(
            "goods {} (HS 851713, high-risk: 3C electronics) has no production/commissioning event on the ledger",
            k(PALLET)
        ),
    );
    // Not high-risk: no such condition.
    let mut c = Chain::demo();
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", decl("CARRIER-COSCO", "940360")),
    );
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", CustomsStep::Released));
}

#[test]
fn provenance_high_risk_no_certificate() {
    let mut c = after_steps(2); // commissioned and packed, no certificate
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T + 10_000, "CNFOC", decl("CARRIER-COSCO", "851713")),
    );
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T + 10_000, "CNFOC", CustomsStep::Released),
        "provenance.high_risk.no_certificate",
        &format!(
            "goods {} (HS 851713, high-risk: 3C electronics) has no valid certificate of origin on the ledger",
            k(PALLET)
        ),
    );
    c.accept(
        "CHAMBER-CN",
        Payload::Certificate(CertificateOp::Issue(certificate_issue(CO_NUMBER, &[PHONES[2]]))),
    );
    // A certificate covering a packed child is enough.
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T + 10_000, "CNFOC", CustomsStep::Released),
    );
}

#[test]
fn provenance_high_risk_no_inspection() {
    let mut c = after_steps(3);
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T + 10_000, "CNFOC", decl("PRODUCER-FZ", "851713")),
    );
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T + 10_000, "CNFOC", CustomsStep::Released),
        "provenance.high_risk.no_inspection",
        &format!(
            "goods {} (HS 851713, high-risk: 3C electronics) needs an inspection before release: declarant PRODUCER-FZ is below AEO-general (General)",
            k(PALLET)
        ),
    );
    // An AEO declarant needs no inspection.
    let mut c = after_steps(3);
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T + 10_000, "CNFOC", decl("CARRIER-COSCO", "851713")),
    );
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T + 10_000, "CNFOC", CustomsStep::Released),
    );
}

#[test]
fn limits_list_len_on_extensions() {
    let mut g = demo_genesis();
    g.limits.max_list_len = 2;
    let mut e = event(EventType::ObjectEvent, Some(Action::Observe), &[PALLET], T);
    for f in ["sensorElementList", "ilmd"] {
        e.extensions.insert(f.into(), "[]".into());
    }
    Chain::new(g.clone()).accept("PORT-CNFOC", p(e.clone()));
    e.extensions.insert("certificationInfo".into(), "\"x\"".into());
    Chain::new(g).reject_with(
        "PORT-CNFOC",
        p(e),
        "limits.list_len",
        "payload.op.extensions has 3 entries, above the limit of 2",
    );
}

#[test]
fn provenance_customs_unlocode_missing() {
    let mut e = customs(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360"));
    e.unlocode = None;
    Chain::demo().reject_with(
        "CUSTOMS-CN",
        p(e.clone()),
        "provenance.customs.unlocode_missing",
        "unlocode is missing: a customs step must carry the UN/LOCODE of the customs office (customs CUSTOMS-CN, country CN)",
    );
    // Also on a release of goods declared at a located step.
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")));
    let mut r = customs(&[PALLET], T, "CNFOC", CustomsStep::Released);
    r.unlocode = None;
    c.reject_with(
        "CUSTOMS-CN",
        p(r),
        "provenance.customs.unlocode_missing",
        "unlocode is missing: a customs step must carry the UN/LOCODE of the customs office (customs CUSTOMS-CN, country CN)",
    );
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", CustomsStep::Released));
    e.unlocode = Some("CNFOC".into());
    Chain::demo().accept("CUSTOMS-CN", p(e));
}

#[test]
fn provenance_customs_foreign_declaration() {
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")));
    let it = item(&c, PALLET);
    assert_eq!(it.declared_by, Some(oid("CUSTOMS-CN")));
    assert_eq!(it.declared_country.as_deref(), Some("CN"));
    for (s, what) in [
        (inspected(InspectionOutcome::Failed), "inspect"),
        (
            CustomsStep::Held {
                reason: "retaliation".into(),
            },
            "hold",
        ),
        (CustomsStep::Released, "release"),
    ] {
        c.reject_with(
            "CUSTOMS-NL",
            step(&[PALLET], T, "NLRTM", s),
            "provenance.customs.foreign_declaration",
            &format!(
                "goods {} is declared to customs of CN (by CUSTOMS-CN); customs CUSTOMS-NL (country NL) may not {what} it",
                k(PALLET)
            ),
        );
    }
    // Export release by Chinese customs; then an import declaration in NL moves jurisdiction.
    c.accept(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", inspected(InspectionOutcome::Passed)),
    );
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", CustomsStep::Released));
    c.accept("CUSTOMS-NL", step(&[PALLET], T, "NLRTM", decl("PRODUCER-FZ", "940360")));
    assert_eq!(item(&c, PALLET).declared_country.as_deref(), Some("NL"));
    c.reject_with(
        "CUSTOMS-CN",
        step(&[PALLET], T, "CNFOC", CustomsStep::Released),
        "provenance.customs.foreign_declaration",
        &format!(
            "goods {} is declared to customs of NL (by CUSTOMS-NL); customs CUSTOMS-CN (country CN) may not release it",
            k(PALLET)
        ),
    );
    c.accept("CUSTOMS-NL", step(&[PALLET], T, "NLRTM", CustomsStep::Released));
}

/// The demo genesis plus a second Chinese customs authority (Xiamen).
fn two_cn_customs() -> Chain {
    use tradechain_ledger::identity::{CreditTier, Org, OrgKey, Role};
    let mut g = demo_genesis();
    g.orgs.push(Org {
        id: oid("CUSTOMS-CNXMN"),
        name: "Xiamen Customs".into(),
        country: "CN".into(),
        roles: vec![Role::Customs],
        keys: vec![OrgKey {
            key_id: 1,
            public_key: secret("CUSTOMS-CNXMN").public(),
        }],
        node_keys: Vec::new(),
        credit_tier: CreditTier::AeoAdvanced,
    });
    Chain::new(g)
}

#[test]
fn provenance_customs_foreign_hold() {
    let mut c = two_cn_customs();
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", decl("PRODUCER-FZ", "940360")));
    c.accept(
        "CUSTOMS-CN",
        step(
            &[PALLET],
            T,
            "CNFOC",
            CustomsStep::Held {
                reason: "documents".into(),
            },
        ),
    );
    assert_eq!(item(&c, PALLET).held_by, Some(oid("CUSTOMS-CN")));
    c.reject_with(
        "CUSTOMS-CNXMN",
        step(&[PALLET], T, "CNXMN", CustomsStep::Released),
        "provenance.customs.foreign_hold",
        &format!(
            "goods {} is held by customs CUSTOMS-CN; customs CUSTOMS-CNXMN may not release it (only the holding authority releases its hold)",
            k(PALLET)
        ),
    );
    // Taking the hold over (to release it next) is refused too.
    c.reject_with(
        "CUSTOMS-CNXMN",
        step(
            &[PALLET],
            T,
            "CNXMN",
            CustomsStep::Held {
                reason: "take over".into(),
            },
        ),
        "provenance.customs.foreign_hold",
        &format!(
            "goods {} is held by customs CUSTOMS-CN; customs CUSTOMS-CNXMN may not hold it (only the holding authority releases its hold)",
            k(PALLET)
        ),
    );
    // Another authority of the declaration's country may still inspect held goods.
    c.accept(
        "CUSTOMS-CNXMN",
        step(&[PALLET], T, "CNXMN", inspected(InspectionOutcome::Passed)),
    );
    c.accept("CUSTOMS-CN", step(&[PALLET], T, "CNFOC", CustomsStep::Released));
    let it = item(&c, PALLET);
    assert_eq!((it.customs, it.held_by), (CustomsStatus::Released, None));
    // A declaration made by the other authority: its own hold is its own to release.
    c.accept(
        "CUSTOMS-CNXMN",
        step(&[PALLET], T, "CNXMN", decl("PRODUCER-FZ", "940360")),
    );
    c.accept(
        "CUSTOMS-CNXMN",
        step(
            &[PALLET],
            T,
            "CNXMN",
            CustomsStep::Held {
                reason: "sampling".into(),
            },
        ),
    );
    c.accept("CUSTOMS-CNXMN", step(&[PALLET], T, "CNXMN", CustomsStep::Released));
}

/// A sensor reading at a read point names no goods: recorded (found by place), on no timeline.
#[test]
fn an_event_naming_no_goods_is_recorded_at_its_place() {
    let mut e = event(EventType::ObjectEvent, Some(Action::Observe), &[], T);
    e.event_id = Some("urn:uuid:sensor-1".into());
    e.read_point = Some("urn:epc:id:sgln:6901234.00001.0".into());
    e.extensions.insert(
        "sensorElementList".into(),
        r#"[{"sensorReport":[{"type":"Temperature","value":26,"uom":"CEL"}]}]"#.into(),
    );
    let mut c = Chain::demo();
    c.accept("PORT-CNFOC", p(e.clone()));
    let rec: EventIdRecord = get_typed(&c.state, &keys::event_id("urn:uuid:sensor-1")).unwrap();
    assert!(rec.goods_keys.is_empty());
    assert_eq!((rec.at.height, rec.event), (1, 0));
    // By business location alone, too.
    let mut e = event(EventType::ObjectEvent, Some(Action::Observe), &[], T);
    e.biz_location = Some("https://id.gs1.org/414/6901234000016".into());
    c.accept("PORT-CNFOC", p(e));
}

fn doc(events: Vec<ProvenanceEvent>) -> Payload {
    Payload::ProvenanceDocument(events)
}

fn with_id(mut e: ProvenanceEvent, id: &str) -> ProvenanceEvent {
    e.event_id = Some(id.into());
    e
}

fn commission_event(ids: &[&str], t: i64) -> ProvenanceEvent {
    let Payload::Provenance(e) = commission(ids, t) else {
        unreachable!()
    };
    e
}

/// A document's events are judged in order, each seeing the earlier ones, and indexed as
/// (transaction, position): an item named twice gets two chain entries of one transaction.
#[test]
fn a_document_records_every_event_in_order() {
    let mut c = Chain::demo();
    let events = vec![
        with_id(commission_event(&[PHONES[0]], T), "urn:uuid:d0"),
        with_id(observe(&[PHONE1_DL], T + 5, "inspecting", "CNFOC"), "urn:uuid:d1"),
        with_id(commission_event(&[PHONES[1]], T + 6), "urn:uuid:d2"),
    ];
    let stx = c.tx("PRODUCER-FZ", doc(events.clone()));
    let id = stx.id();
    let (outcomes, _) = c.execute(&[stx]).unwrap();
    assert_eq!(outcomes, vec![tradechain_ledger::block::TxOutcome::Accepted]);
    let it = item(&c, PHONES[0]);
    assert_eq!(it.event_count, 2);
    let e0: ItemEventRef = get_typed(&c.state, &keys::item_event(&it.goods_key, 0)).unwrap();
    let e1: ItemEventRef = get_typed(&c.state, &keys::item_event(&it.goods_key, 1)).unwrap();
    assert_eq!((e0.tx_id, e0.event, e1.tx_id, e1.event), (id, 0, id, 1));
    assert_eq!(
        e0.event_hash,
        item_event_hash(&tradechain_ledger::Hash::ZERO, &id, 0, &it.goods_key)
    );
    assert_eq!(e1.event_hash, item_event_hash(&e0.event_hash, &id, 1, &it.goods_key));
    assert_ne!(e1.event_hash, item_event_hash(&e0.event_hash, &id, 0, &it.goods_key));
    let rec: EventIdRecord = get_typed(&c.state, &keys::event_id("urn:uuid:d2")).unwrap();
    assert_eq!((rec.tx_id, rec.event), (id, 2));
    assert_eq!(item(&c, PHONES[1]).event_count, 1);
    assert_eq!(c.next_nonce("PRODUCER-FZ"), 2, "one transaction, one nonce");
}

/// All or nothing: one refused event refuses the document, with its rule and its index, and
/// nothing of the earlier (valid) events is recorded — not even the nonce.
#[test]
fn a_document_with_one_bad_event_records_nothing() {
    let mut c = Chain::demo();
    let events = vec![
        with_id(commission_event(&[PHONES[0]], T), "urn:uuid:a0"),
        with_id(commission_event(&[PHONES[0]], T + 1), "urn:uuid:a1"),
    ];
    c.reject_with(
        "PRODUCER-FZ",
        doc(events),
        "provenance.commission.duplicate",
        &format!(
            "event 1 of the document: goods {} is already commissioned",
            k(PHONES[0])
        ),
    );
    assert!(get_typed::<ItemRecord>(&c.state, &keys::item(&k(PHONES[0]))).is_none());
    assert!(get_typed::<EventIdRecord>(&c.state, &keys::event_id("urn:uuid:a0")).is_none());
    // The same eventID twice in one document is a duplicate too.
    let twice = vec![
        with_id(commission_event(&[PHONES[0]], T), "urn:uuid:b0"),
        with_id(observe(&[PHONES[0]], T + 1, "inspecting", "CNFOC"), "urn:uuid:b0"),
    ];
    let (rule, _) = c.reject("PRODUCER-FZ", doc(twice));
    assert_eq!(rule, "provenance.event_id.duplicate");
    // A document of another member's goods is refused as a whole (prefix ownership).
    let (rule, why) = c.reject("PORT-CNFOC", doc(vec![commission_event(&[PHONES[2]], T)]));
    assert!(
        rule.starts_with("provenance.") || rule.starts_with("gs1."),
        "{rule}: {why}"
    );
    c.reject_with(
        "PRODUCER-FZ",
        doc(Vec::new()),
        "provenance.document.empty",
        "the EPCIS document has no events",
    );
    // A customs step in a producer's document: the role rule, naming the event.
    let (rule, why) = c.reject(
        "PRODUCER-FZ",
        doc(vec![
            commission_event(&[PHONES[0]], T),
            customs(&[PHONES[0]], T, "CNFOC", decl("PRODUCER-FZ", "851713")),
        ]),
    );
    assert_eq!(rule, "membership.role");
    assert!(why.starts_with("event 1 of the document: "), "{why}");
    c.accept("PRODUCER-FZ", doc(vec![commission_event(&[PHONES[0]], T)]));
}

/// A disclosure of event `i` of a document reaches the signed transaction's id and leaf, opens
/// only that event, and cannot pass off one event as another.
#[test]
fn a_document_event_is_disclosed_alone_and_bound_to_its_position() {
    use tradechain_ledger::event_fields::EventDisclosure;
    let c = Chain::demo();
    let mut e1 = observe(&[PHONE1_DL], T + 5, "inspecting", "CNFOC");
    e1.biz_transaction_list = vec![TypedRef {
        kind: Some("po".into()),
        id: "urn:epcglobal:cbv:bt:0614141000005:PO-SECRET".into(),
    }];
    let events = vec![commission_event(&[PHONES[0]], T), e1];
    let stx = c.tx("PRODUCER-FZ", doc(events));
    let leaf = tradechain_ledger::merkle::leaf_hash(&stx.leaf_bytes());
    for i in 0..2u32 {
        let d = EventDisclosure::public(&stx, i).unwrap();
        assert_eq!(d.event(), i);
        assert_eq!(d.id_and_leaf().unwrap(), (stx.id(), leaf));
    }
    assert!(EventDisclosure::public(&stx, 2).is_none());
    // Event 1's commercial field is withheld; event 0's opening says nothing of event 1.
    let d1 = EventDisclosure::public(&stx, 1).unwrap();
    assert!(!format!("{d1:?}").contains("PO-SECRET"));
    // Relabelled: event 1's opening under position 0 does not verify.
    let mut relabelled = d1.clone();
    relabelled.document.as_mut().unwrap().event = 0;
    assert!(relabelled.id_and_leaf().is_err());
    // Dropped position: event 1's opening as a single-event transaction is another transaction.
    let mut single = d1.clone();
    single.document = None;
    assert_ne!(single.id_and_leaf().unwrap().0, stx.id());
    // Another digest list (an event added or dropped) is another transaction.
    let mut grown = d1.clone();
    grown
        .document
        .as_mut()
        .unwrap()
        .event_digests
        .push(tradechain_ledger::Hash::ZERO);
    assert_ne!(grown.id_and_leaf().unwrap().0, stx.id());
    // A node cannot make a verifier hash an unbounded digest list.
    let mut huge = d1;
    huge.document.as_mut().unwrap().event_digests.resize(
        tradechain_ledger::event_fields::MAX_DOCUMENT_EVENTS + 1,
        tradechain_ledger::Hash::ZERO,
    );
    let e = huge.id_and_leaf().unwrap_err();
    assert!(e.contains("more than 65536"), "{e}");
}
