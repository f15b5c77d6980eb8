//! The testnet's demo trade data: a sea shipment Fuzhou (CNFOC) → Rotterdam (NLRTM) of serialised
//! smartphones (3C electronics, high-risk) and a China–Europe rail shipment Xi'an (CNXAN) →
//! Duisburg (DEDUI) of food lots, with bills of lading endorsed and surrendered, certificates of
//! origin, customs declarations, an inspection, a hold and a release, port gate-in/gate-out
//! events and settlements. `ORGS` is the one table of the demo orgs (ids, names, roles, credit
//! tiers, validators): the testnet and the test fixtures (`testkit`, and the node's gRPC test trade
//! through it) use it, never a copy.
//!
//! The data is a list of phases: every transaction in a phase is independent of the others in
//! it (different goods or documents), and each phase depends only on earlier phases, so a loader
//! submits a phase at once and waits for its commits before the next.
//!
//! Invariants: deterministic for a given `start_ms` (no randomness); event times increase by
//! phase, so each item's events are in time order; every transaction passes the validators on a
//! chain whose genesis has the orgs in `ORGS` (checked by a test that plays it through
//! `execute_block`).
use crate::identity::{CreditTier, OrgId, Role};
use crate::payload::build::{event, oid, party};
use crate::payload::*;

/// A demo org: one row of `ORGS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoOrg {
    pub id: &'static str,
    pub name: &'static str,
    pub country: &'static str,
    pub role: Role,
    pub tier: CreditTier,
    /// Runs a validator (power 1) in the testnet and in the test genesis.
    pub validator: bool,
}

const fn org(
    id: &'static str,
    name: &'static str,
    country: &'static str,
    role: Role,
    tier: CreditTier,
    validator: bool,
) -> DemoOrg {
    DemoOrg {
        id,
        name,
        country,
        role,
        tier,
        validator,
    }
}

/// The demo orgs: the one table of them. The testnet's genesis (`testnet/up`, through
/// `tradechain demo orgs`), the demo loader's key files and the test genesis
/// (`testkit::demo_genesis`, so also the node's gRPC test trade `grpc::scenario`) are all built
/// from it. The four validators are China's customs, a port operator, a carrier and a bank; every
/// other org is a non-validating member. The electronics producer is a general-tier trader, so
/// its high-risk phones are inspected before release; the food producer is AEO-general, so its
/// lots (food is high-risk: `HighRiskCategory::defaults`) are released on declaration. The
/// importer (a trader, role producer) and the EU regulator (reads everything) take no part in the
/// demo data; the test trade uses them.
pub const ORGS: &[DemoOrg] = &[
    org(
        "CUSTOMS-CN",
        "China Customs, Fuzhou",
        "CN",
        Role::Customs,
        CreditTier::AeoAdvanced,
        true,
    ),
    org(
        "PORT-CNFOC",
        "Fuzhou Port Group",
        "CN",
        Role::Port,
        CreditTier::AeoGeneral,
        true,
    ),
    org(
        "CARRIER-COSCO",
        "COSCO Shipping Lines",
        "CN",
        Role::Carrier,
        CreditTier::AeoAdvanced,
        true,
    ),
    org(
        "BANK-CN",
        "Bank of Fuzhou, trade finance",
        "CN",
        Role::Bank,
        CreditTier::AeoGeneral,
        true,
    ),
    org(
        "CUSTOMS-NL",
        "Douane Rotterdam",
        "NL",
        Role::Customs,
        CreditTier::AeoAdvanced,
        false,
    ),
    org(
        "BANK-NL",
        "Rotterdam Trade Bank",
        "NL",
        Role::Bank,
        CreditTier::AeoGeneral,
        false,
    ),
    org(
        "PRODUCER-FZ",
        "Fuzhou Electronics Co.",
        "CN",
        Role::Producer,
        CreditTier::General,
        false,
    ),
    org(
        "CHAMBER-CN",
        "CCPIT Fujian",
        "CN",
        Role::Chamber,
        CreditTier::AeoGeneral,
        false,
    ),
    org(
        "PORT-NLRTM",
        "Port of Rotterdam Authority",
        "NL",
        Role::Port,
        CreditTier::AeoGeneral,
        false,
    ),
    org(
        "CARRIER-RAIL",
        "China Railway Container Transport",
        "CN",
        Role::Carrier,
        CreditTier::AeoGeneral,
        false,
    ),
    org(
        "PRODUCER-XA",
        "Xi'an Food Products Co.",
        "CN",
        Role::Producer,
        CreditTier::AeoGeneral,
        false,
    ),
    org(
        "CUSTOMS-DE",
        "Hauptzollamt Duisburg",
        "DE",
        Role::Customs,
        CreditTier::AeoAdvanced,
        false,
    ),
    org(
        "IMPORTER-NL",
        "Van Dijk Import B.V.",
        "NL",
        Role::Producer,
        CreditTier::General,
        false,
    ),
    org(
        "REGULATOR-EU",
        "European Commission, DG TAXUD",
        "BE",
        Role::Regulator,
        CreditTier::General,
        false,
    ),
];

/// 2026-01-01T00:00:00Z: the test chain's genesis time and the issue date of `waybill_issue`.
pub const GENESIS_TIME_MS: i64 = 1_767_225_600_000;

/// The GS1 Company Prefixes the demo's producers own (registered in the testnet's genesis by
/// `testnet/up`, which must list the same): every identifier in the demo is under one of them.
pub const PREFIXES: &[(&str, &str)] = &[("6901234", "PRODUCER-FZ"), ("6907777", "PRODUCER-XA")];

/// `PREFIXES` as genesis entries.
pub fn prefix_assignments() -> Vec<crate::genesis::PrefixAssignment> {
    PREFIXES
        .iter()
        .map(|(prefix, org)| crate::genesis::PrefixAssignment {
            prefix: prefix.to_string(),
            org: oid(org),
        })
        .collect()
}

pub const PALLETS: usize = 2;
pub const CASES_PER_PALLET: usize = 6;
pub const PHONES_PER_CASE: usize = 10;
pub const LOTS: usize = 8;
pub const SEA_BL: &str = "COSU-2026-004711";
pub const RAIL_BL: &str = "CRCT-2026-XA-0815";
pub const SEA_CO: &str = "CCPIT-FJ-2026-00031";
pub const RAIL_CO: &str = "CCPIT-SN-2026-00107";
/// BANK-NL's financing of the sea shipment, against the sea BL it holds.
pub const SEA_SETTLEMENT: &str = "STL-2026-SEA-4711";
/// BANK-NL's financing of the rail shipment, against the exporter's invoice.
pub const RAIL_SETTLEMENT: &str = "STL-2026-RAIL-0107";

/// One transaction to send: the org that signs it and the payload.
pub type DemoTx = (OrgId, Payload);

pub fn phone(pallet: usize, case: usize, n: usize) -> String {
    format!(
        "urn:epc:id:sgtin:6901234.012345.SN{:02}{:02}{:03}",
        pallet + 1,
        case + 1,
        n + 1
    )
}
pub fn case(pallet: usize, case: usize) -> String {
    format!("urn:epc:id:sscc:6901234.1{:04}{:05}", pallet + 1, case + 1)
}
pub fn pallet(pallet: usize) -> String {
    format!("urn:epc:id:sscc:6901234.20000{:05}", pallet + 1)
}
pub fn lot(n: usize) -> String {
    format!("urn:epc:class:lgtin:6907777.054321.LOT2026-{:02}", n + 1)
}
/// The item a consumer scans in the demo (a smartphone, as a GS1 Digital Link).
pub fn sample_item() -> String {
    "https://id.gs1.org/01/06901234123456/21/SN0101001".to_string()
}

fn ev(kind: EventType, action: Action, time_ms: i64, step: &str, unlocode: &str) -> ProvenanceEvent {
    let mut e = event(kind, Some(action), &[], time_ms);
    e.event_time_zone_offset_min = if unlocode.starts_with("CN") { 480 } else { 60 };
    e.biz_step = (!step.is_empty()).then(|| format!("https://ref.gs1.org/cbv/BizStep-{step}"));
    e.unlocode = Some(unlocode.into());
    e
}

fn observe(ids: &[String], time_ms: i64, step: &str, unlocode: &str) -> Payload {
    let mut e = ev(EventType::ObjectEvent, Action::Observe, time_ms, step, unlocode);
    e.epc_list = ids.to_vec();
    Payload::Provenance(e)
}

fn customs(ids: &[String], time_ms: i64, unlocode: &str, step: CustomsStep) -> Payload {
    let mut e = ev(EventType::ObjectEvent, Action::Observe, time_ms, "", unlocode);
    e.epc_list = ids.to_vec();
    e.customs = Some(step);
    Payload::Provenance(e)
}

fn declared(id: &str, declarant: &str, hs: &str, carrier: &str, bl: &str) -> CustomsStep {
    CustomsStep::Declared {
        declaration_id: id.into(),
        declarant: oid(declarant),
        hs_code: hs.into(),
        preferential_certificate: None,
        waybill: Some(WaybillRef {
            carrier: oid(carrier),
            reference: bl.into(),
        }),
    }
}

#[allow(clippy::too_many_arguments)] // one call per transport document; a struct would only rename the fields
fn waybill(
    reference: &str,
    mode: TransportMode,
    kind: WaybillKind,
    holder: &str,
    route: [&str; 4],
    vehicle: &str,
    goods: GoodsLine,
    issue_ms: i64,
) -> Payload {
    let (shipper, consignee) = match mode {
        TransportMode::Rail => (
            party("Xi'an Food Products Co.", Some("PRODUCER-XA"), "CN"),
            party("Rhein Feinkost GmbH", None, "DE"),
        ),
        _ => (
            party("Fuzhou Electronics Co.", Some("PRODUCER-FZ"), "CN"),
            party("Rotterdam Importer B.V.", None, "NL"),
        ),
    };
    Payload::Waybill(WaybillOp::Issue(WaybillIssue {
        reference: reference.into(),
        mode,
        kind,
        shipper,
        consignee: (kind != WaybillKind::ToOrder).then_some(consignee),
        notify_party: None,
        holder: oid(holder),
        place_of_receipt: route[0].into(),
        port_of_loading: route[1].into(),
        port_of_discharge: route[2].into(),
        place_of_delivery: route[3].into(),
        vehicle: vehicle.into(),
        voyage: "2026-W47".into(),
        goods: vec![goods],
        issue_date_ms: issue_ms,
        sub_reference: 0,
        dcsa: None,
    }))
}

fn certificate(
    number: &str,
    hs: &str,
    what: &str,
    producer: (&str, &str),
    dest: &str,
    qty: u64,
    ids: Vec<String>,
) -> Payload {
    Payload::Certificate(CertificateOp::Issue(CertificateIssue {
        number: number.into(),
        exporter: party(producer.1, Some(producer.0), "CN"),
        producer: party(producer.1, Some(producer.0), "CN"),
        consignee: party("Importer", None, dest),
        origin_country: "CN".into(),
        destination_country: dest.into(),
        hs_code: hs.into(),
        origin_criterion: "WO".into(),
        quantity: Quantity {
            value: qty,
            scale: 0,
            uom: "H87".into(),
        },
        invoice_reference: format!("INV-{number}"),
        goods_description: what.into(),
        goods_ids: ids,
        preferential: false,
    }))
}

/// The demo's phases. `start_ms` is the first event's time; later events are 1 minute apart by
/// phase, so the whole scenario spans well under the allowed clock skew when `start_ms` is
/// about an hour before now.
pub fn phases(start_ms: i64) -> Vec<Vec<DemoTx>> {
    let t = |phase: i64| start_ms + phase * 60_000;
    let mut ph: Vec<Vec<DemoTx>> = Vec::new();
    let fz = || oid("PRODUCER-FZ");
    let xa = || oid("PRODUCER-XA");
    let all_phones: Vec<String> = (0..PALLETS)
        .flat_map(|p| (0..CASES_PER_PALLET).flat_map(move |c| (0..PHONES_PER_CASE).map(move |n| phone(p, c, n))))
        .collect();
    let cases: Vec<String> = (0..PALLETS)
        .flat_map(|p| (0..CASES_PER_PALLET).map(move |c| case(p, c)))
        .collect();
    let pallets: Vec<String> = (0..PALLETS).map(pallet).collect();
    let lots: Vec<String> = (0..LOTS).map(lot).collect();

    // 0: serialisation line commissions every phone (one event per unit) and the logistic units;
    //    the food producer commissions its lots (class level, with quantities).
    let mut p0 = Vec::new();
    for (i, id) in all_phones.iter().enumerate() {
        let mut e = ev(
            EventType::ObjectEvent,
            Action::Add,
            t(0) + i as i64,
            "commissioning",
            "CNFOC",
        );
        e.epc_list = vec![id.clone()];
        e.disposition = Some("https://ref.gs1.org/cbv/Disp-active".into());
        e.read_point = Some("urn:epc:id:sgln:6901234.00001.0".into());
        e.event_id = Some(format!("demo:commission:{id}"));
        p0.push((fz(), Payload::Provenance(e)));
    }
    let mut units = ev(EventType::ObjectEvent, Action::Add, t(0), "commissioning", "CNFOC");
    units.epc_list = cases.iter().chain(&pallets).cloned().collect();
    p0.push((fz(), Payload::Provenance(units)));
    for (i, l) in lots.iter().enumerate() {
        let mut e = ev(
            EventType::ObjectEvent,
            Action::Add,
            t(0) + i as i64,
            "commissioning",
            "CNXAN",
        );
        e.quantity_list = vec![QuantityElement {
            epc_class: l.clone(),
            quantity: Some("1200".into()),
            uom: Some("KGM".into()),
        }];
        e.extensions.insert(
            "ilmd".into(),
            format!(
                r#"{{"cbvmda:bestBeforeDate":"2027-05-3{}","cbvmda:countryOfOrigin":"CN"}}"#,
                i % 2
            ),
        );
        p0.push((xa(), Payload::Provenance(e)));
    }
    ph.push(p0);

    // 1: pack phones into cases — the packing line sends one EPCIS document per pallet's worth
    //    of cases, captured all or nothing (`Payload::ProvenanceDocument`); quality checks on
    //    the food lots (with sensor data).
    let mut p1 = Vec::new();
    for p in 0..PALLETS {
        let packing: Vec<ProvenanceEvent> = (0..CASES_PER_PALLET)
            .map(|c| {
                let mut e = ev(EventType::AggregationEvent, Action::Add, t(1), "packing", "CNFOC");
                e.parent_id = Some(case(p, c));
                e.child_epcs = (0..PHONES_PER_CASE).map(|n| phone(p, c, n)).collect();
                e
            })
            .collect();
        p1.push((fz(), Payload::ProvenanceDocument(packing)));
    }
    for (i, l) in lots.iter().enumerate() {
        let mut e = ev(EventType::ObjectEvent, Action::Observe, t(1), "inspecting", "CNXAN");
        e.quantity_list = vec![QuantityElement {
            epc_class: l.clone(),
            quantity: None,
            uom: None,
        }];
        e.extensions.insert(
            "sensorElementList".into(),
            format!(
                r#"[{{"sensorReport":[{{"type":"gs1:Temperature","value":{}.{},"uom":"CEL"}}]}}]"#,
                3 + i % 3,
                i % 10
            ),
        );
        p1.push((xa(), Payload::Provenance(e)));
    }
    ph.push(p1);

    // 2: cases onto pallets; certificates of origin; both transport documents issued.
    let mut p2 = Vec::new();
    for p in 0..PALLETS {
        let mut e = ev(EventType::AggregationEvent, Action::Add, t(2), "packing", "CNFOC");
        e.parent_id = Some(pallet(p));
        e.child_epcs = (0..CASES_PER_PALLET).map(|c| case(p, c)).collect();
        p2.push((fz(), Payload::Provenance(e)));
    }
    let sea_ids: Vec<String> = pallets.iter().chain(&cases).chain(&all_phones).cloned().collect();
    p2.push((
        oid("CHAMBER-CN"),
        certificate(
            SEA_CO,
            "851713",
            "Smartphones",
            ("PRODUCER-FZ", "Fuzhou Electronics Co."),
            "NL",
            all_phones.len() as u64,
            sea_ids,
        ),
    ));
    p2.push((
        oid("CHAMBER-CN"),
        certificate(
            RAIL_CO,
            "190531",
            "Sweet biscuits",
            ("PRODUCER-XA", "Xi'an Food Products Co."),
            "DE",
            LOTS as u64,
            lots.clone(),
        ),
    ));
    let phones_line = GoodsLine {
        description: "Smartphones, 5G".into(),
        hs_code: "851713".into(),
        package_count: PALLETS as u32,
        package_code: "PX".into(),
        gross_weight_grams: 2 * 310_000,
        goods_ids: pallets.clone(),
    };
    p2.push((
        oid("CARRIER-COSCO"),
        waybill(
            SEA_BL,
            TransportMode::Sea,
            WaybillKind::ToOrder,
            "PRODUCER-FZ",
            ["CNFOC", "CNFOC", "NLRTM", "NLRTM"],
            "COSCO SHIPPING ARIES",
            phones_line,
            t(2),
        ),
    ));
    let food_line = GoodsLine {
        description: "Sweet biscuits".into(),
        hs_code: "190531".into(),
        package_count: LOTS as u32,
        package_code: "PX".into(),
        gross_weight_grams: LOTS as u64 * 1_200_000,
        goods_ids: lots.clone(),
    };
    p2.push((
        oid("CARRIER-RAIL"),
        waybill(
            RAIL_BL,
            TransportMode::Rail,
            WaybillKind::Straight,
            "PRODUCER-XA",
            ["CNXAN", "CNXAN", "DEDUI", "DEDUI"],
            "X8024",
            food_line,
            t(2),
        ),
    ));
    ph.push(p2);

    // 3: gate-in at the port; export declarations (sea and rail); the BL is endorsed to the bank.
    // Gate-in and the sea declarations touch the same pallets, so they are separate phases: a
    // block orders transactions by sender, not by event time.
    let mut p3 = Vec::new();
    let mut p3b = Vec::new();
    for p in &pallets {
        p3.push((
            oid("PORT-CNFOC"),
            observe(std::slice::from_ref(p), t(3), "arriving", "CNFOC"),
        ));
        p3b.push((
            oid("CUSTOMS-CN"),
            customs(
                std::slice::from_ref(p),
                t(3) + 1000,
                "CNFOC",
                declared(
                    &format!("EXP-CNFOC-{p}"),
                    "PRODUCER-FZ",
                    "851713",
                    "CARRIER-COSCO",
                    SEA_BL,
                ),
            ),
        ));
    }
    for l in &lots {
        p3.push((
            oid("CUSTOMS-CN"),
            customs(
                std::slice::from_ref(l),
                t(3),
                "CNXAN",
                declared(
                    &format!("EXP-CNXAN-{l}"),
                    "PRODUCER-XA",
                    "190531",
                    "CARRIER-RAIL",
                    RAIL_BL,
                ),
            ),
        ));
    }
    p3.push((fz(), transfer(SEA_BL, "BANK-CN")));
    ph.push(p3);
    ph.push(p3b);

    // 4: inspection of the pallets (high-risk goods of a general-tier declarant are inspected
    //    before release); export release of the food lots; BL endorsed on.
    let mut p4 = vec![(
        oid("CUSTOMS-CN"),
        customs(
            &pallets,
            t(4),
            "CNFOC",
            CustomsStep::Inspected {
                outcome: InspectionOutcome::Passed,
                remarks: "X-ray and seal check, count matches".into(),
            },
        ),
    )];
    for l in &lots {
        p4.push((
            oid("CUSTOMS-CN"),
            customs(std::slice::from_ref(l), t(4), "CNXAN", CustomsStep::Released),
        ));
    }
    p4.push((oid("BANK-CN"), transfer(SEA_BL, "BANK-NL")));
    ph.push(p4);

    // 5: release of the inspected pallets; rail departs; BANK-NL, now holder of the sea BL,
    //    finances the shipment against it (only the bill's current holder may).
    let mut p5 = vec![
        (
            oid("CUSTOMS-CN"),
            customs(&pallets, t(5), "CNFOC", CustomsStep::Released),
        ),
        (
            oid("BANK-NL"),
            instruct(
                SEA_SETTLEMENT,
                SettlementRef::Waybill {
                    carrier: oid("CARRIER-COSCO"),
                    reference: SEA_BL.into(),
                },
                3_840_000_000,
                "Rotterdam Importer B.V.",
                "Fuzhou Electronics Co.",
            ),
        ),
    ];
    for l in &lots {
        p5.push((
            oid("CARRIER-RAIL"),
            observe(std::slice::from_ref(l), t(5), "departing", "CNXAN"),
        ));
    }
    ph.push(p5);

    // 6: loading at Fuzhou; the train crosses at Małaszewicze; the sea financing is confirmed.
    let mut p6: Vec<DemoTx> = pallets
        .iter()
        .map(|p| {
            (
                oid("PORT-CNFOC"),
                observe(std::slice::from_ref(p), t(6), "loading", "CNFOC"),
            )
        })
        .collect();
    p6.push((oid("BANK-CN"), confirm(SEA_SETTLEMENT)));
    for l in &lots {
        p6.push((
            oid("CARRIER-RAIL"),
            observe(std::slice::from_ref(l), t(6), "transporting", "PLMAL"),
        ));
    }
    ph.push(p6);

    // 7: discharge at Rotterdam; the train arrives in Duisburg.
    let mut p7: Vec<DemoTx> = pallets
        .iter()
        .map(|p| {
            (
                oid("PORT-NLRTM"),
                observe(std::slice::from_ref(p), t(7), "unloading", "NLRTM"),
            )
        })
        .collect();
    for l in &lots {
        p7.push((
            oid("CARRIER-RAIL"),
            observe(std::slice::from_ref(l), t(7), "arriving", "DEDUI"),
        ));
    }
    ph.push(p7);

    // 8: import declarations (the carrier, an AEO, declares the phones at Rotterdam).
    let mut p8: Vec<DemoTx> = pallets
        .iter()
        .map(|p| {
            (
                oid("CUSTOMS-NL"),
                customs(
                    std::slice::from_ref(p),
                    t(8),
                    "NLRTM",
                    declared(
                        &format!("IMP-NLRTM-{p}"),
                        "CARRIER-COSCO",
                        "85171300",
                        "CARRIER-COSCO",
                        SEA_BL,
                    ),
                ),
            )
        })
        .collect();
    for l in &lots {
        p8.push((
            oid("CUSTOMS-DE"),
            customs(
                std::slice::from_ref(l),
                t(8),
                "DEDUI",
                declared(
                    &format!("IMP-DEDUI-{l}"),
                    "PRODUCER-XA",
                    "19053100",
                    "CARRIER-RAIL",
                    RAIL_BL,
                ),
            ),
        ));
    }
    ph.push(p8);

    // 9: Dutch customs holds the second pallet for a documentary check; releases the first;
    //    German customs releases the food lots.
    let mut p9 = vec![
        (
            oid("CUSTOMS-NL"),
            customs(&pallets[..1], t(9), "NLRTM", CustomsStep::Released),
        ),
        (
            oid("CUSTOMS-NL"),
            customs(
                &pallets[1..2],
                t(9),
                "NLRTM",
                CustomsStep::Held {
                    reason: "documentary check: CE marking".into(),
                },
            ),
        ),
    ];
    for l in &lots {
        p9.push((
            oid("CUSTOMS-DE"),
            customs(std::slice::from_ref(l), t(9), "DEDUI", CustomsStep::Released),
        ));
    }
    ph.push(p9);

    // 10: inspection of the held pallet; gate-out of the first; the food is delivered.
    let mut p10 = vec![
        (
            oid("CUSTOMS-NL"),
            customs(
                &pallets[1..2],
                t(10),
                "NLRTM",
                CustomsStep::Inspected {
                    outcome: InspectionOutcome::PassedWithRemarks,
                    remarks: "CE declaration supplied".into(),
                },
            ),
        ),
        (oid("PORT-NLRTM"), observe(&pallets[..1], t(10), "departing", "NLRTM")),
    ];
    for l in &lots {
        p10.push((
            oid("CARRIER-RAIL"),
            observe(std::slice::from_ref(l), t(10), "receiving", "DEDUI"),
        ));
    }
    ph.push(p10);

    // 11: release of the held pallet; rail settlement against the invoice.
    ph.push(vec![
        (
            oid("CUSTOMS-NL"),
            customs(&pallets[1..2], t(11), "NLRTM", CustomsStep::Released),
        ),
        (
            oid("BANK-NL"),
            instruct(
                RAIL_SETTLEMENT,
                SettlementRef::Invoice {
                    number: format!("INV-{RAIL_CO}"),
                },
                456_000_000,
                "Rhein Feinkost GmbH",
                "Xi'an Food Products Co.",
            ),
        ),
    ]);
    // 12: gate-out of the second pallet; rail payment confirmed.
    ph.push(vec![
        (oid("PORT-NLRTM"), observe(&pallets[1..2], t(12), "departing", "NLRTM")),
        (oid("BANK-CN"), confirm(RAIL_SETTLEMENT)),
    ]);
    // 13: delivery to the importer.
    ph.push(
        pallets
            .iter()
            .map(|p| {
                (
                    oid("CARRIER-COSCO"),
                    observe(std::slice::from_ref(p), t(13), "receiving", "NLRTM"),
                )
            })
            .collect(),
    );
    // 14: the bank surrenders the BL for delivery; 15: the carrier accomplishes it; 16: the
    //     importer has paid, so BANK-NL records both financings repaid (the documents are free).
    ph.push(vec![(
        oid("BANK-NL"),
        Payload::Waybill(WaybillOp::Surrender {
            carrier: oid("CARRIER-COSCO"),
            reference: SEA_BL.into(),
            purpose: SurrenderPurpose::Delivery,
        }),
    )]);
    ph.push(vec![(
        oid("CARRIER-COSCO"),
        Payload::Waybill(WaybillOp::Accomplish {
            carrier: oid("CARRIER-COSCO"),
            reference: SEA_BL.into(),
        }),
    )]);
    ph.push(vec![
        (oid("BANK-NL"), repay(SEA_SETTLEMENT)),
        (oid("BANK-NL"), repay(RAIL_SETTLEMENT)),
    ]);
    ph
}

fn confirm(id: &str) -> Payload {
    Payload::Settlement(SettlementOp::Confirm {
        payer_bank: oid("BANK-NL"),
        settlement_id: id.into(),
    })
}

fn repay(id: &str) -> Payload {
    Payload::Settlement(SettlementOp::Repay {
        payer_bank: oid("BANK-NL"),
        settlement_id: id.into(),
    })
}

fn transfer(bl: &str, to: &str) -> Payload {
    Payload::Waybill(WaybillOp::Transfer {
        carrier: oid("CARRIER-COSCO"),
        reference: bl.into(),
        new_holder: oid(to),
    })
}

fn instruct(id: &str, reference: SettlementRef, amount_minor: u64, payer: &str, payee: &str) -> Payload {
    Payload::Settlement(SettlementOp::Instruct(SettlementInstruct {
        settlement_id: id.into(),
        payer_bank: oid("BANK-NL"),
        payee_bank: oid("BANK-CN"),
        amount_minor,
        currency: "EUR".into(),
        reference,
        payer_party: payer.into(),
        payee_party: payee.into(),
    }))
}

/// A to-order sea bill Fuzhou → Rotterdam for one pallet of smartphones (HS 851713), held by
/// `holder`, notify party BANK-NL (the benchmarks' and the tests' stock bill).
pub fn waybill_issue(reference: &str, holder: &str, goods_ids: &[&str]) -> WaybillIssue {
    WaybillIssue {
        reference: reference.to_string(),
        mode: TransportMode::Sea,
        kind: WaybillKind::ToOrder,
        shipper: party("Fuzhou Electronics Co.", Some("PRODUCER-FZ"), "CN"),
        consignee: None,
        notify_party: Some(party("Rotterdam Trade Bank", Some("BANK-NL"), "NL")),
        holder: oid(holder),
        place_of_receipt: "CNFOC".into(),
        port_of_loading: "CNFOC".into(),
        port_of_discharge: "NLRTM".into(),
        place_of_delivery: "NLRTM".into(),
        vehicle: "COSCO SHIPPING ARIES".into(),
        voyage: "031W".into(),
        goods: vec![GoodsLine {
            description: "Smartphones".into(),
            hs_code: "851713".into(),
            package_count: 1,
            package_code: "PX".into(),
            gross_weight_grams: 480_000,
            goods_ids: goods_ids.iter().map(|s| s.to_string()).collect(),
        }],
        issue_date_ms: GENESIS_TIME_MS,
        sub_reference: 0,
        dcsa: None,
    }
}
