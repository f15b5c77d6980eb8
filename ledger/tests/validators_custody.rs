//! Rule tables for who owns an identifier and who controls goods (`validate::prefix`,
//! `validate::custody`): each rule with the honest act it allows and the cheat it refuses.
//! The demo genesis registers GS1 Company Prefix 6901234 to PRODUCER-FZ; CARRIER-COSCO and
//! PORT-CNFOC play the rivals (both may record provenance events).
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tradechain_ledger::payload::*;
use tradechain_ledger::records::ItemRecord;
use tradechain_ledger::state::{get_typed, keys};
use tradechain_ledger::testkit::*;

const PHONE: &str = "urn:epc:id:sgtin:6901234.012345.7001";
const PHONE2: &str = "urn:epc:id:sgtin:6901234.012345.7002";
const CASE: &str = "urn:epc:id:sscc:6901234.0000000077";
/// A prefix no member registered (GS1's example company 0614141).
const OPEN_ITEM: &str = "urn:epc:id:sgtin:0614141.812345.6789";

fn t(i: i64) -> i64 {
    GENESIS_TIME_MS + i
}

fn prov(e: ProvenanceEvent) -> Payload {
    Payload::Provenance(e)
}

fn commission(ids: &[&str], time: i64) -> Payload {
    let mut e = event(EventType::ObjectEvent, Some(Action::Add), ids, time);
    e.biz_step = Some("commissioning".into());
    prov(e)
}

fn destroy(ids: &[&str], time: i64) -> Payload {
    let mut e = event(EventType::ObjectEvent, Some(Action::Delete), ids, time);
    e.biz_step = Some("destroying".into());
    prov(e)
}

fn pack(parent: &str, children: &[&str], action: Action, time: i64) -> Payload {
    let mut e = event(EventType::AggregationEvent, Some(action), &[], time);
    e.parent_id = Some(parent.into());
    e.child_epcs = children.iter().map(|c| c.to_string()).collect();
    prov(e)
}

fn ship(ids: &[&str], to: &[(&str, &str)], time: i64) -> Payload {
    let mut e = event(EventType::ObjectEvent, Some(Action::Observe), ids, time);
    e.biz_step = Some("urn:epcglobal:cbv:bizstep:shipping".into());
    e.destination_list = to
        .iter()
        .map(|(kind, id)| TypedRef {
            kind: Some(kind.to_string()),
            id: id.to_string(),
        })
        .collect();
    prov(e)
}

fn receive(ids: &[&str], time: i64) -> Payload {
    let mut e = event(EventType::ObjectEvent, Some(Action::Observe), ids, time);
    e.biz_step = Some("https://ref.gs1.org/cbv/BizStep-receiving".into());
    prov(e)
}

/// The item record of an identifier in any spelling.
fn item(c: &Chain, id: &str) -> ItemRecord {
    let key = tradechain_ledger::gs1::goods_key(id).unwrap();
    get_typed(&c.state, &keys::item(&key)).unwrap()
}

fn rule(c: &mut Chain, sender: &str, p: Payload) -> String {
    c.reject(sender, p).0
}

fn gov(op: GovernanceOp) -> Payload {
    Payload::Governance(op)
}

fn assign(id: &str, prefix: &str, org: &str) -> Payload {
    gov(GovernanceOp::Propose {
        proposal_id: id.into(),
        change: GovAction::AssignPrefix {
            prefix: prefix.into(),
            org: oid(org),
        },
    })
}

fn approve(id: &str) -> Payload {
    gov(GovernanceOp::Approve { proposal_id: id.into() })
}

fn delegate(prefix: &str, to: &str, grant: bool) -> Payload {
    gov(GovernanceOp::DelegatePrefix {
        prefix: prefix.into(),
        delegate: oid(to),
        grant,
    })
}

#[test]
fn only_the_prefix_owner_or_its_delegate_commissions_under_it() {
    let mut c = Chain::demo();
    // A rival cannot mint the brand's serials, nor a quantity of its product class.
    let (r, why) = c.reject("CARRIER-COSCO", commission(&[PHONE], t(0)));
    assert_eq!(r, "gs1.prefix_not_owner");
    assert!(
        why.contains("6901234") && why.contains("PRODUCER-FZ") && why.contains("CARRIER-COSCO"),
        "{why}"
    );
    let mut lot = event(EventType::ObjectEvent, Some(Action::Add), &[], t(0));
    lot.quantity_list = vec![QuantityElement {
        epc_class: "urn:epc:class:lgtin:6901234.012345.L1".into(),
        quantity: Some("10".into()),
        uom: None,
    }];
    assert_eq!(rule(&mut c, "CARRIER-COSCO", prov(lot.clone())), "gs1.prefix_not_owner");
    // ... nor a logistic unit under it by packing, nor a transformation output under it.
    c.accept("CARRIER-COSCO", commission(&[OPEN_ITEM], t(1)));
    assert_eq!(
        rule(&mut c, "CARRIER-COSCO", pack(CASE, &[OPEN_ITEM], Action::Add, t(2))),
        "gs1.prefix_not_owner"
    );
    let mut tf = event(EventType::TransformationEvent, None, &[], t(2));
    tf.input_epc_list = vec![OPEN_ITEM.into()];
    tf.output_epc_list = vec![PHONE.into()];
    assert_eq!(rule(&mut c, "CARRIER-COSCO", prov(tf)), "gs1.prefix_not_owner");
    // The owner does; a delegate does once granted, and not after the grant is revoked.
    c.accept("PRODUCER-FZ", commission(&[PHONE], t(3)));
    c.accept("PRODUCER-FZ", prov(lot.clone()));
    assert_eq!(
        rule(&mut c, "CARRIER-COSCO", delegate("6901234", "CARRIER-COSCO", true)),
        "governance.prefix.not_owner"
    );
    c.accept("PRODUCER-FZ", delegate("6901234", "PORT-CNFOC", true));
    c.accept("PORT-CNFOC", commission(&[PHONE2], t(4)));
    let it = item(&c, PHONE2);
    assert_eq!(
        (it.owner.unwrap().as_str(), it.possessor.unwrap().as_str()),
        ("PRODUCER-FZ", "PORT-CNFOC"),
        "a contract packer holds what it commissions; the brand owns it"
    );
    c.accept("PRODUCER-FZ", delegate("6901234", "PORT-CNFOC", false));
    assert_eq!(
        rule(
            &mut c,
            "PORT-CNFOC",
            commission(&["urn:epc:id:sgtin:6901234.012345.7003"], t(5))
        ),
        "gs1.prefix_not_owner"
    );
    // Identifiers under a prefix nobody registered stay open to the first commissioner.
    assert_eq!(item(&c, OPEN_ITEM).owner.unwrap().as_str(), "CARRIER-COSCO");
}

#[test]
fn prefixes_are_assigned_by_quorum_and_never_nest() {
    let mut c = Chain::demo();
    // Three of the four validator orgs assign 6905555 to PORT-CNFOC.
    c.accept("CUSTOMS-CN", assign("G1", "6905555", "PORT-CNFOC"));
    c.accept("CARRIER-COSCO", approve("G1"));
    // PORT-CNFOC approves as a validator org; now 3 of 4.
    c.accept("PORT-CNFOC", approve("G1"));
    c.accept("PORT-CNFOC", commission(&["urn:epc:id:sgtin:6905555.012345.1"], t(1)));
    assert_eq!(
        rule(
            &mut c,
            "PRODUCER-FZ",
            commission(&["urn:epc:id:sgtin:6905555.012345.2"], t(2))
        ),
        "gs1.prefix_not_owner"
    );
    // Nesting either way, and malformed prefixes, are refused at proposal.
    assert_eq!(
        rule(&mut c, "CUSTOMS-CN", assign("G2", "69012345", "PORT-CNFOC")),
        "governance.prefix.overlap"
    );
    assert_eq!(
        rule(&mut c, "CUSTOMS-CN", assign("G3", "690123", "PORT-CNFOC")),
        "governance.prefix.overlap"
    );
    assert_eq!(
        rule(&mut c, "CUSTOMS-CN", assign("G4", "690", "PORT-CNFOC")),
        "governance.prefix.invalid"
    );
    assert_eq!(
        rule(&mut c, "CUSTOMS-CN", assign("G5", "69x1234", "PORT-CNFOC")),
        "governance.prefix.invalid"
    );
    assert_eq!(
        rule(&mut c, "CUSTOMS-CN", assign("G6", "4012345", "NOBODY-XX")),
        "governance.prefix.invalid"
    );
    // Delegation: only under a registered prefix, only to another current member.
    assert_eq!(
        rule(&mut c, "PRODUCER-FZ", delegate("1234567", "PORT-CNFOC", true)),
        "governance.prefix.unknown"
    );
    assert_eq!(
        rule(&mut c, "PRODUCER-FZ", delegate("6901234", "NOBODY-XX", true)),
        "governance.prefix.delegates"
    );
    assert_eq!(
        rule(&mut c, "PRODUCER-FZ", delegate("6901234", "PRODUCER-FZ", true)),
        "governance.prefix.delegates"
    );
}

#[test]
fn a_rival_cannot_end_pack_consume_or_ship_another_orgs_goods() {
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", commission(&[PHONE, PHONE2, CASE], t(0)));
    let (r, why) = c.reject("CARRIER-COSCO", destroy(&[PHONE], t(1)));
    assert_eq!(r, "provenance.custody.not_controller");
    assert!(
        why.contains("owned by PRODUCER-FZ") && why.contains("CARRIER-COSCO"),
        "{why}"
    );
    assert_eq!(
        rule(&mut c, "CARRIER-COSCO", pack(CASE, &[PHONE], Action::Add, t(1))),
        "provenance.custody.not_controller"
    );
    // Packing a rival's item into one's own container is refused as well.
    c.accept("CARRIER-COSCO", commission(&[OPEN_ITEM], t(1)));
    assert_eq!(
        rule(&mut c, "PRODUCER-FZ", pack(CASE, &[OPEN_ITEM], Action::Add, t(2))),
        "provenance.custody.not_controller"
    );
    let mut consume = event(EventType::TransformationEvent, None, &[], t(2));
    consume.input_epc_list = vec![PHONE.into()];
    consume.output_epc_list = vec!["urn:epc:id:sgtin:0614141.812345.1".into()];
    assert_eq!(
        rule(&mut c, "CARRIER-COSCO", prov(consume)),
        "provenance.custody.not_controller"
    );
    assert_eq!(
        rule(
            &mut c,
            "CARRIER-COSCO",
            ship(&[PHONE], &[("possessing_party", "CARRIER-COSCO")], t(2))
        ),
        "provenance.custody.not_controller"
    );
    // Naming another's item a transformation output (taking it over) is refused; a destroyed
    // one stays ended whoever asks.
    let mut take = event(EventType::TransformationEvent, None, &[], t(3));
    take.input_epc_list = vec![OPEN_ITEM.into()];
    take.output_epc_list = vec![PHONE.into()];
    assert_eq!(
        rule(&mut c, "CARRIER-COSCO", prov(take)),
        "provenance.custody.not_controller"
    );
    c.accept("PRODUCER-FZ", destroy(&[PHONE2], t(3)));
    let mut reopen = event(EventType::TransformationEvent, None, &[], t(4));
    reopen.input_epc_list = vec![OPEN_ITEM.into()];
    reopen.output_epc_list = vec![PHONE2.into()];
    assert_eq!(rule(&mut c, "CARRIER-COSCO", prov(reopen)), "provenance.ended");
    // Observations stay open to every role that records provenance.
    c.accept("CARRIER-COSCO", prov(observe(&[PHONE], t(5), "inspecting", "CNFOC")));
    // The owner packs and ends its own goods.
    c.accept("PRODUCER-FZ", pack(CASE, &[PHONE], Action::Add, t(6)));
    assert!(!item(&c, PHONE).ended);
}

#[test]
fn destroying_some_of_a_class_does_not_freeze_the_brands_class() {
    let mut c = Chain::demo();
    let class = "https://id.gs1.org/01/06901234123456";
    let mut add = event(EventType::ObjectEvent, Some(Action::Add), &[], t(0));
    add.quantity_list = vec![QuantityElement {
        epc_class: class.into(),
        quantity: Some("100".into()),
        uom: None,
    }];
    c.accept("PRODUCER-FZ", prov(add.clone()));
    let mut gone = event(EventType::ObjectEvent, Some(Action::Delete), &[], t(1));
    gone.quantity_list = add.quantity_list.clone();
    gone.biz_step = Some("destroying".into());
    c.accept("CARRIER-COSCO", prov(gone));
    assert!(!item(&c, "01/06901234123456").ended, "a class never ends");
    add.event_time_ms = t(2);
    c.accept("PRODUCER-FZ", prov(add));
}

#[test]
fn custody_moves_by_shipping_and_the_named_partys_receiving_and_packed_goods_follow() {
    let mut c = Chain::demo();
    c.accept("PRODUCER-FZ", commission(&[PHONE, CASE], t(0)));
    c.accept("PRODUCER-FZ", pack(CASE, &[PHONE], Action::Add, t(1)));
    // The brand ships the case to the carrier, naming it (by org id) as possessing party.
    c.accept(
        "PRODUCER-FZ",
        ship(
            &[CASE],
            &[("urn:epcglobal:cbv:sdt:possessing_party", "CARRIER-COSCO")],
            t(2),
        ),
    );
    assert_eq!(
        item(&c, CASE).possessor.unwrap().as_str(),
        "PRODUCER-FZ",
        "until received"
    );
    // Someone else's receiving changes nothing; the carrier's completes the transfer.
    c.accept("PORT-CNFOC", receive(&[CASE], t(3)));
    assert_eq!(item(&c, CASE).possessor.unwrap().as_str(), "PRODUCER-FZ");
    c.accept("CARRIER-COSCO", receive(&[CASE], t(4)));
    let case = item(&c, CASE);
    assert_eq!(case.possessor.unwrap().as_str(), "CARRIER-COSCO");
    assert_eq!(case.owner.unwrap().as_str(), "PRODUCER-FZ");
    assert!(case.transfer.is_none());
    // The phone packed in it travels with it: the carrier may unpack it and then holds it.
    assert_eq!(
        rule(&mut c, "PORT-CNFOC", pack(CASE, &[PHONE], Action::Delete, t(5))),
        "provenance.custody.not_controller"
    );
    c.accept("CARRIER-COSCO", pack(CASE, &[PHONE], Action::Delete, t(5)));
    let phone = item(&c, PHONE);
    assert_eq!(phone.possessor.unwrap().as_str(), "CARRIER-COSCO");
    assert_eq!(phone.owner.unwrap().as_str(), "PRODUCER-FZ", "ownership did not move");
    // Ownership moves when named as owning party (a PGLN under the receiver's prefix works too).
    c.accept("CUSTOMS-CN", assign("G1", "6909999", "BANK-NL"));
    c.accept("CARRIER-COSCO", approve("G1"));
    c.accept("PORT-CNFOC", approve("G1"));
    c.accept(
        "PRODUCER-FZ",
        ship(
            &[PHONE],
            &[
                (
                    "https://ref.gs1.org/cbv/SDT-owning_party",
                    "urn:epc:id:pgln:6909999.00001",
                ),
                ("possessing_party", "urn:epc:id:pgln:0614141.00001"),
            ],
            t(6),
        ),
    );
    let pending = item(&c, PHONE).transfer.unwrap();
    assert_eq!(pending.owner.unwrap().as_str(), "BANK-NL");
    assert!(pending.possessor.is_none(), "a party outside the network takes nothing");
}

#[test]
fn genesis_refuses_malformed_nested_or_ownerless_prefixes() {
    use tradechain_ledger::genesis::PrefixAssignment;
    let mut g = demo_genesis();
    let a = |p: &str, o: &str| PrefixAssignment {
        prefix: p.into(),
        org: oid(o),
    };
    g.gs1_prefixes = vec![
        a("6901234", "PRODUCER-FZ"),
        a("69012345", "BANK-NL"),
        a("12", "BANK-NL"),
        a("4012345", "NOBODY-XX"),
    ];
    let problems = g.validate().join("\n");
    assert!(
        problems.contains("gs1_prefixes[1].prefix: 69012345 overlaps"),
        "{problems}"
    );
    assert!(
        problems.contains("gs1_prefixes[2].prefix: \"12\" must be 4-12 digits"),
        "{problems}"
    );
    assert!(
        problems.contains("gs1_prefixes[3].org: NOBODY-XX is not an org"),
        "{problems}"
    );
    g.gs1_prefixes.truncate(1);
    assert!(g.validate().is_empty());
}
