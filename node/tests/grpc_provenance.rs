//! ProvenanceService against a real tonic server: every identifier form, the public filter
//! (asserted field by field and over the raw reply bytes), pagination, and the proofs — which
//! verify offline against the genesis validator set and fail when any byte is changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod grpc_common;

use grpc_common::start;
use prost::Message;
use tonic::Code;
use tradechain_node::grpc::proof::{verify_answer, verify_entry, verify_page};
use tradechain_node::grpc::scenario::{self, CHAIN_ID, ITEM, ITEM_LINK, ITEM_URN, PALLET, Scenario};
use tradechain_proto::v1::{self, get_provenance_request::Id};

fn req(id: Id) -> v1::GetProvenanceRequest {
    v1::GetProvenanceRequest {
        id: Some(id),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_identifier_form_reaches_the_same_item() {
    let env = start(Scenario::trade()).await;
    let mut p = env.provenance();
    let mut replies = Vec::new();
    for id in [
        Id::DigitalLink(ITEM_LINK.into()),
        Id::EpcUrn(ITEM_URN.into()),
        Id::GtinSerial(v1::GtinSerial {
            gtin: "9506000134352".into(),
            serial: "abc".into(),
        }),
        Id::GoodsKey(ITEM.into()),
    ] {
        replies.push(p.get_provenance(req(id)).await.unwrap().into_inner());
    }
    assert!(replies.iter().all(|r| r == &replies[0]));
    let r = &replies[0];
    assert_eq!(r.goods_key, ITEM);
    assert_eq!(r.chain_id, CHAIN_ID);
    assert_eq!(r.genesis_hash, scenario::genesis().hash().to_hex());
    let s = r.summary.as_ref().unwrap();
    assert_eq!(s.event_count, 6);
    assert!(s.commissioned && !s.ended);
    assert_eq!(s.hs_code, "090210");
    let steps: Vec<_> = r
        .timeline
        .iter()
        .map(|e| (e.org.as_str(), e.biz_step.as_str(), e.customs_step.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("PRODUCER-FZ", "urn:epcglobal:cbv:bizstep:commissioning", ""),
            ("PRODUCER-FZ", "urn:epcglobal:cbv:bizstep:packing", ""),
            ("CUSTOMS-CN", "", "declared"),
            ("CUSTOMS-CN", "", "inspected:passed"),
            ("CUSTOMS-CN", "", "released"),
            ("CARRIER-COSCO", "urn:epcglobal:cbv:bizstep:shipping", ""),
        ]
    );
    let first = &r.timeline[0];
    assert_eq!(
        (first.event_type.as_str(), first.action.as_str()),
        ("ObjectEvent", "ADD")
    );
    assert_eq!(first.unlocode, "CNFOC");
    assert_eq!(first.event_time_zone_offset_min, 480);
    assert_eq!(first.roles, ["producer"]);
    assert_eq!(first.org_country, "CN");
    assert_eq!(r.timeline[1].event_type, "AggregationEvent");

    let coo = r.certificate_of_origin.as_ref().unwrap();
    assert_eq!(coo.state, v1::certificate_of_origin_status::State::Valid as i32);
    assert_eq!(
        (coo.issuer.as_str(), coo.number.as_str()),
        ("CHAMBER-CN", scenario::CERT_NO)
    );
    assert_eq!(
        (coo.origin_country.as_str(), coo.destination_country.as_str()),
        ("CN", "NL")
    );
    assert!(coo.preferential);
    let customs = r.customs.as_ref().unwrap();
    assert_eq!(customs.state, v1::customs_status::State::Released as i32);
    assert_eq!(customs.inspection_outcome, "passed");
    let route = r.route.as_ref().unwrap();
    assert_eq!(route.carrier, "CARRIER-COSCO");
    assert_eq!(
        (route.port_of_loading.as_str(), route.port_of_discharge.as_str()),
        ("CNFOC", "NLRTM")
    );
    assert_eq!(route.mode, "sea");
    assert_eq!(route.status, "ISSUED");
    assert_eq!(r.parent, PALLET);

    // The pallet lists the item as its child.
    let pallet = p
        .get_provenance(req(Id::GoodsKey(PALLET.into())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pallet.children, [ITEM]);
    assert_eq!(pallet.timeline.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_reply_holds_no_private_field() {
    let env = start(Scenario::trade()).await;
    let r = env
        .provenance()
        .get_provenance(req(Id::DigitalLink(ITEM_LINK.into())))
        .await
        .unwrap()
        .into_inner();

    // Field by field: the route names places and the carrier only.
    let route = r.route.clone().unwrap();
    assert_eq!(
        route,
        v1::WaybillRoute {
            carrier: "CARRIER-COSCO".into(),
            reference: scenario::WAYBILL_REF.into(),
            mode: "sea".into(),
            place_of_receipt: "CNFOC".into(),
            port_of_loading: "CNFOC".into(),
            port_of_discharge: "NLRTM".into(),
            place_of_delivery: "NLAMS".into(),
            vehicle: "COSCO SHIPPING TAURUS".into(),
            voyage: "425W".into(),
            status: "ISSUED".into(),
        }
    );
    let coo = r.certificate_of_origin.clone().unwrap();
    assert_eq!(
        coo,
        v1::CertificateOfOriginStatus {
            state: v1::certificate_of_origin_status::State::Valid as i32,
            issuer: "CHAMBER-CN".into(),
            number: scenario::CERT_NO.into(),
            origin_country: "CN".into(),
            destination_country: "NL".into(),
            origin_criterion: "WO".into(),
            preferential: true,
            revocation_reason: String::new(),
        }
    );
    // Events carrying a purchase order or a customs declaration withhold their bytes.
    let redacted: Vec<bool> = r
        .timeline
        .iter()
        .map(|e| e.proof.as_ref().unwrap().tx_redacted)
        .collect();
    assert_eq!(redacted, [false, true, true, true, false, false]);
    // Every event, redacted or not, discloses its public fields (its commercial ones as salted hashes).
    for e in &r.timeline {
        assert!(!e.proof.as_ref().unwrap().disclosure_borsh.is_empty());
    }

    // And over the whole encoded reply: no private value appears anywhere, in any field or byte.
    let bytes = r.encode_to_vec();
    let amount = scenario::AMOUNT_MINOR.to_string();
    for secret in [
        scenario::CONSIGNEE_NAME,
        scenario::CONSIGNEE_ADDRESS,
        scenario::SHIPPER_NAME,
        "1 Wuyi Road",
        scenario::INVOICE,
        scenario::PO,
        "IMPORTER-NL",
        "BANK-NL",
        "BANK-CN",
        "EUR",
        amount.as_str(),
        "DECL-2024-77",
        "sample tested",
    ] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret:?} leaked into the public reply"
        );
    }
    // The amount's little-endian encoding (as borsh would carry it) is absent too.
    let le = scenario::AMOUNT_MINOR.to_le_bytes();
    assert!(!bytes.windows(8).any(|w| w == le));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proofs_verify_offline_and_fail_on_any_changed_byte() {
    let env = start(Scenario::trade()).await;
    let set = scenario::genesis().validator_set().unwrap();
    let r = env
        .provenance()
        .get_provenance(req(Id::GoodsKey(ITEM.into())))
        .await
        .unwrap()
        .into_inner();
    verify_page(CHAIN_ID, &set, &r, None).unwrap();

    // Take the first (unredacted) entry and change each byte of each piece of material.
    let entry = r.timeline[0].clone();
    verify_entry(CHAIN_ID, &set, ITEM, &entry).unwrap();
    type Field = fn(&mut v1::EventProof) -> &mut Vec<u8>;
    let fields: [(&str, Field); 7] = [
        ("header", |p| &mut p.block_header_borsh),
        ("certificate", |p| &mut p.commit_certificate_borsh),
        ("leaf", |p| &mut p.leaf_hash),
        ("disclosure", |p| &mut p.disclosure_borsh),
        ("event_ref", |p| &mut p.event_ref_borsh),
        ("inclusion", |p| &mut p.inclusion.as_mut().unwrap().proof_borsh),
        ("outcome", |p| &mut p.outcome.as_mut().unwrap().proof_borsh),
    ];
    let mut checked = 0;
    for (name, field) in fields {
        let len = field(&mut entry.proof.clone().unwrap()).len();
        assert!(len > 0, "{name} is empty");
        for i in 0..len {
            let mut e = entry.clone();
            field(e.proof.as_mut().unwrap())[i] ^= 0x01;
            assert!(
                verify_entry(CHAIN_ID, &set, ITEM, &e).is_err(),
                "{name} byte {i} changed yet verified"
            );
            checked += 1;
        }
    }
    assert!(checked > 500);

    // A different validator set (not the genesis one) does not accept the certificates.
    let mut other = set.clone();
    other
        .validators
        .iter_mut()
        .for_each(|v| v.public_key = tradechain_ledger::SecretKey::from_label("x").public());
    assert!(verify_entry(CHAIN_ID, &other, ITEM, &entry).is_err());
    // The wrong item's key breaks the event-hash chain.
    assert!(verify_entry(CHAIN_ID, &set, PALLET, &entry).is_err());

    // Without its outcome proof an entry is not shown to be accepted.
    let mut bare = entry.clone();
    bare.proof.as_mut().unwrap().outcome = None;
    let e = verify_entry(CHAIN_ID, &set, ITEM, &bare).unwrap_err();
    assert!(e.contains("no outcome proof"), "{e}");

    // A counterfeit: the same signed event shown for another serial, its event hash recomputed
    // for that key (anyone can), is refused: the signed event does not name it.
    let fake = "01/09506000134352/21/COUNTERFEIT";
    let mut forged = entry.clone();
    let p = forged.proof.as_mut().unwrap();
    let mut er: tradechain_ledger::records::ItemEventRef =
        tradechain_ledger::codec::decode(&p.event_ref_borsh).unwrap();
    er.event_hash = tradechain_ledger::records::item_event_hash(&er.prev_event_hash, &er.tx_id, 0, fake);
    p.event_ref_borsh = tradechain_ledger::codec::encode(&er);
    p.event_hash = er.event_hash.to_hex();
    let e = verify_entry(CHAIN_ID, &set, fake, &forged).unwrap_err();
    assert!(e.contains("does not name goods"), "{e}");

    // Selective disclosure: an event with commercial fields (a purchase order) withholds them as
    // salted hashes, yet every field it shows is proven: a node that changes one is caught.
    let commercial = r
        .timeline
        .iter()
        .find(|e| e.proof.as_ref().unwrap().tx_redacted)
        .unwrap()
        .clone();
    verify_entry(CHAIN_ID, &set, ITEM, &commercial).unwrap();
    let mut shown = commercial.clone();
    shown.biz_step = "urn:epcglobal:cbv:bizstep:receiving".into();
    let e = verify_entry(CHAIN_ID, &set, ITEM, &shown).unwrap_err();
    assert!(e.contains("shows bizStep"), "{e}");
    // A node that rewrites a disclosed field's value (and so its leaf) is caught by the leaf.
    use tradechain_ledger::event_fields::{EventDisclosure, FieldOpening};
    let d: EventDisclosure =
        tradechain_ledger::codec::decode(&commercial.proof.as_ref().unwrap().disclosure_borsh).unwrap();
    let mut forged = d.clone();
    if let FieldOpening::Open { value, .. } = &mut forged.fields.units[5] {
        *value = tradechain_ledger::codec::encode(&Some("urn:epcglobal:cbv:bizstep:receiving".to_string()));
    }
    let mut altered = shown.clone();
    altered.proof.as_mut().unwrap().disclosure_borsh = tradechain_ledger::codec::encode(&forged);
    let e = verify_entry(CHAIN_ID, &set, ITEM, &altered).unwrap_err();
    assert!(e.contains("do not hash to the signed transaction's leaf"), "{e}");
    // A node that withholds a public field (the customs step, as a bare leaf) is caught too.
    let mut hidden = d.clone();
    let FieldOpening::Open { name, value, salt } = hidden.fields.units[10].clone() else {
        panic!("customsStep is opened");
    };
    hidden.fields.units[10] = FieldOpening::Withheld(tradechain_ledger::event_fields::leaf(&salt, &name, &value));
    let mut h = commercial.clone();
    h.proof.as_mut().unwrap().disclosure_borsh = tradechain_ledger::codec::encode(&hidden);
    let e = verify_entry(CHAIN_ID, &set, ITEM, &h).unwrap_err();
    assert!(e.contains("public field customsStep is withheld"), "{e}");
    // The commercial units are given only as hashes: 5 fixed ones, none opened.
    assert!(
        d.fields.units[12..17]
            .iter()
            .all(|u| matches!(u, FieldOpening::Withheld(_)))
    );

    // Leaving an event out breaks the chain.
    let mut gap = r.clone();
    gap.timeline.remove(3);
    assert!(verify_page(CHAIN_ID, &set, &gap, None).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_complete_as_of_a_proven_head_and_a_dishonest_node_is_caught() {
    let env = start(Scenario::trade()).await;
    let set = scenario::genesis().validator_set().unwrap();
    let mut p = env.provenance();
    let r = p
        .get_provenance(req(Id::GoodsKey(ITEM.into())))
        .await
        .unwrap()
        .into_inner();
    let check = |pages: &[v1::ProvenanceReply], asked: &str| verify_answer(CHAIN_ID, &set, asked, pages);
    let v = check(std::slice::from_ref(&r), ITEM).unwrap();
    assert_eq!(r.containers.first().map(|c| c.goods_key.as_str()), Some(PALLET));
    assert_eq!(
        v.events,
        r.timeline.len() + r.containers.iter().map(|c| c.timeline.len()).sum::<usize>()
    );
    let head_block: tradechain_ledger::BlockHeader =
        tradechain_ledger::codec::decode(&r.head.as_ref().unwrap().block_header_borsh).unwrap();
    assert_eq!(v.complete_at, (head_block.height, head_block.time_ms));
    assert!(head_block.height >= r.timeline.last().unwrap().location.unwrap().height);

    // Dropping the last event (summary rewritten to the event before it) fools the page check
    // (the chain is consistent) but not the head proof.
    let mut dropped = r.clone();
    let last = dropped.timeline.pop().unwrap();
    let s = dropped.summary.as_mut().unwrap();
    s.event_count -= 1;
    s.last_event_hash = last.proof.unwrap().prev_event_hash;
    verify_page(CHAIN_ID, &set, &dropped, None).unwrap();
    let e = check(std::slice::from_ref(&dropped), ITEM).unwrap_err();
    assert!(e.contains("event count") || e.contains("missing"), "{e}");
    // …and with the summary left alone, the chain does not reach the head.
    let mut dropped = r.clone();
    dropped.timeline.pop();
    assert!(check(std::slice::from_ref(&dropped), ITEM).is_err());

    // No head proof: not proven complete.
    let mut bare = r.clone();
    bare.head = None;
    let e = check(std::slice::from_ref(&bare), ITEM).unwrap_err();
    assert!(e.contains("no head proof"), "{e}");

    // State from another item: the pallet's proven head shown for the item.
    let pallet = p
        .get_provenance(req(Id::GoodsKey(PALLET.into())))
        .await
        .unwrap()
        .into_inner();
    let mut borrowed = r.clone();
    borrowed.head = pallet.head.clone();
    let e = check(std::slice::from_ref(&borrowed), ITEM).unwrap_err();
    assert!(e.contains("head proof"), "{e}");

    // The customs status shown must be the proven one.
    let mut customs = r.clone();
    customs.customs.as_mut().unwrap().state = v1::customs_status::State::Held as i32;
    let e = check(std::slice::from_ref(&customs), ITEM).unwrap_err();
    assert!(e.contains("customs status"), "{e}");

    // The certificate of origin shown must be the proven one.
    let mut coo = r.clone();
    coo.certificate_of_origin.as_mut().unwrap().origin_country = "VN".into();
    let e = check(std::slice::from_ref(&coo), ITEM).unwrap_err();
    assert!(e.contains("certificate of origin"), "{e}");
    let mut coo = r.clone();
    coo.certificate_of_origin.as_mut().unwrap().state = v1::certificate_of_origin_status::State::Valid as i32;
    coo.head.as_mut().unwrap().certificate_proof_borsh.clear();
    assert!(check(std::slice::from_ref(&coo), ITEM).is_err());

    // The route shown must be the proven one: not changed, not dropped, not shown where the proven
    // head names no waybill, and with its waybill's proof.
    let mut moved = r.clone();
    moved.route.as_mut().unwrap().port_of_discharge = "DEHAM".into();
    let e = check(std::slice::from_ref(&moved), ITEM).unwrap_err();
    assert!(
        e.contains("route port of discharge \"DEHAM\"") && e.contains("says \"NLRTM\""),
        "{e}"
    );
    let mut status = r.clone();
    status.route.as_mut().unwrap().status = "ACCOMPLISHED".into();
    let e = check(std::slice::from_ref(&status), ITEM).unwrap_err();
    assert!(e.contains("route status"), "{e}");
    let mut no_route = r.clone();
    no_route.route = None;
    let e = check(std::slice::from_ref(&no_route), ITEM).unwrap_err();
    assert!(e.contains("shows no route") && e.contains(scenario::WAYBILL_REF), "{e}");
    let mut routed = pallet.clone();
    assert!(routed.route.is_none(), "the pallet travels under no waybill of its own");
    check(std::slice::from_ref(&routed), PALLET).unwrap();
    routed.route = r.route.clone();
    let e = check(std::slice::from_ref(&routed), PALLET).unwrap_err();
    assert!(e.contains("names no waybill"), "{e}");
    let mut unproven = r.clone();
    unproven.head.as_mut().unwrap().waybill_proof_borsh.clear();
    let e = check(std::slice::from_ref(&unproven), ITEM).unwrap_err();
    assert!(e.contains("waybill proof"), "{e}");
    let mut unproven = r.clone();
    let h = unproven.head.as_mut().unwrap();
    h.waybill_head_borsh.clear();
    h.waybill_proof_borsh.clear();
    unproven.route = None;
    let e = check(std::slice::from_ref(&unproven), ITEM).unwrap_err();
    assert!(e.contains("waybill proof"), "{e}");

    // The container must be the one the proven head names, and is not left out.
    let mut swapped = r.clone();
    swapped.containers[0] = pallet.clone();
    swapped.containers[0].goods_key = ITEM.into();
    assert!(check(std::slice::from_ref(&swapped), ITEM).is_err());
    let mut swapped = r.clone();
    let mut own = r.clone();
    own.containers.clear();
    swapped.containers[0] = own;
    let e = check(std::slice::from_ref(&swapped), ITEM).unwrap_err();
    assert!(e.contains("not the one the proven head names"), "{e}");
    let mut left_out = r.clone();
    left_out.containers.clear();
    let e = check(std::slice::from_ref(&left_out), ITEM).unwrap_err();
    assert!(e.contains("leaves it out"), "{e}");

    // The answer for the item asked about: the real item's answer does not verify for a
    // counterfeit serial.
    assert!(check(std::slice::from_ref(&r), "01/09506000134352/21/COUNTERFEIT").is_err());

    // Every byte of the head proof matters.
    type Field = fn(&mut v1::HeadProof) -> &mut Vec<u8>;
    let fields: [(&str, Field); 8] = [
        ("item head", |h| &mut h.item_head_borsh),
        ("header", |h| &mut h.block_header_borsh),
        ("certificate", |h| &mut h.commit_certificate_borsh),
        ("state proof", |h| &mut h.state_proof_borsh),
        ("certificate head", |h| &mut h.certificate_head_borsh),
        ("certificate proof", |h| &mut h.certificate_proof_borsh),
        ("waybill head", |h| &mut h.waybill_head_borsh),
        ("waybill proof", |h| &mut h.waybill_proof_borsh),
    ];
    let mut flipped = 0;
    for (name, field) in fields {
        let len = field(&mut r.head.clone().unwrap()).len();
        assert!(len > 0, "{name} is empty");
        for i in 0..len {
            let mut t = r.clone();
            field(t.head.as_mut().unwrap())[i] ^= 0x01;
            assert!(
                check(std::slice::from_ref(&t), ITEM).is_err(),
                "head proof {name} byte {i} changed yet verified"
            );
            flipped += 1;
        }
    }
    assert!(flipped > 300, "{flipped}");
}

/// A route is proven for the waybill the item's head names: another waybill's route, even with
/// that waybill's own valid proof under the same root, is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_is_proven_for_the_items_own_waybill() {
    use tradechain_ledger::payload::{Action, CustomsStep, EventType, ProvenanceEvent, WaybillRef};
    use tradechain_ledger::records::{WaybillHead, WaybillRecord};
    use tradechain_ledger::state::keys;
    let other_item = "01/09506000134352/21/other";
    let other_ref = "COSU987654321";
    let mut s = Scenario::trade();
    // A second bill of CARRIER-COSCO, by rail to Duisburg, and an item declared under it.
    let first: WaybillRecord = s
        .backend
        .state_value(&keys::waybill(&scenario::org("CARRIER-COSCO"), scenario::WAYBILL_REF))
        .unwrap();
    let mut doc = first.document.clone();
    doc.reference = other_ref.into();
    doc.mode = tradechain_ledger::payload::TransportMode::Rail;
    doc.port_of_discharge = "DEDUI".into();
    doc.vehicle = "X8042".into();
    s.issue_waybill("CARRIER-COSCO", doc);
    let wref = WaybillRef {
        carrier: scenario::org("CARRIER-COSCO"),
        reference: other_ref.into(),
    };
    let mut ev = ProvenanceEvent::new(EventType::ObjectEvent);
    ev.event_time_ms = s.now() - 1000;
    ev.action = Some(Action::Observe);
    ev.unlocode = Some("CNFOC".into());
    ev.epc_list = vec![format!("https://id.gs1.org/{other_item}")];
    ev.customs = Some(CustomsStep::Declared {
        declaration_id: "DECL-2024-78".into(),
        declarant: scenario::org("PRODUCER-FZ"),
        hs_code: "090210".into(),
        preferential_certificate: None,
        waybill: Some(wref.clone()),
    });
    s.provenance("CUSTOMS-CN", ev);
    s.commit();
    // The head written beside the record is the record's.
    let rec: WaybillRecord = s.backend.state_value(&keys::waybill(&wref.carrier, other_ref)).unwrap();
    let head: WaybillHead = s
        .backend
        .state_value(&keys::waybill_head(&wref.carrier, other_ref))
        .unwrap();
    assert_eq!(head, WaybillHead::of(&rec));

    let env = start(s).await;
    let set = scenario::genesis().validator_set().unwrap();
    let check = |pages: &[v1::ProvenanceReply], asked: &str| verify_answer(CHAIN_ID, &set, asked, pages);
    let mut p = env.provenance();
    let r = p
        .get_provenance(req(Id::GoodsKey(ITEM.into())))
        .await
        .unwrap()
        .into_inner();
    let o = p
        .get_provenance(req(Id::GoodsKey(other_item.into())))
        .await
        .unwrap()
        .into_inner();
    check(std::slice::from_ref(&r), ITEM).unwrap();
    check(std::slice::from_ref(&o), other_item).unwrap();
    let (mine, theirs) = (r.route.clone().unwrap(), o.route.clone().unwrap());
    assert_eq!(
        (
            theirs.reference.as_str(),
            theirs.mode.as_str(),
            theirs.port_of_discharge.as_str()
        ),
        (other_ref, "rail", "DEDUI")
    );
    assert_ne!(mine, theirs);
    // Both heads are proven under the same block.
    assert_eq!(
        r.head.as_ref().unwrap().block_header_borsh,
        o.head.as_ref().unwrap().block_header_borsh
    );

    // The other waybill's route shown for the item.
    let mut swapped = r.clone();
    swapped.route = Some(theirs.clone());
    let e = check(std::slice::from_ref(&swapped), ITEM).unwrap_err();
    assert!(e.contains("route reference \"COSU987654321\""), "{e}");
    // …with the other waybill's head and its valid proof: not the key the item's head names.
    let oh = o.head.clone().unwrap();
    let h = swapped.head.as_mut().unwrap();
    h.waybill_head_borsh = oh.waybill_head_borsh.clone();
    h.waybill_proof_borsh = oh.waybill_proof_borsh.clone();
    let e = check(std::slice::from_ref(&swapped), ITEM).unwrap_err();
    assert!(
        e.contains(&format!("waybill proof of CARRIER-COSCO {}", scenario::WAYBILL_REF)),
        "{e}"
    );
    // …and the other item's proven head (naming that waybill) is refused as another item's.
    swapped.head = Some(oh);
    let e = check(std::slice::from_ref(&swapped), ITEM).unwrap_err();
    assert!(e.contains("head proof"), "{e}");
}

/// A five-level chain (item, pallet, four nested containers): the answer shows four container
/// levels; the verifier says which proven container lies beyond them rather than treating the
/// chain as ended, and an answer that stops earlier is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_chain_deeper_than_shown_is_named_not_hidden() {
    use tradechain_ledger::payload::{Action, EventType, ProvenanceEvent};
    let mut s = Scenario::trade();
    let levels = [
        (PALLET, scenario::PALLET_URN),
        ("00/395060001000000020", "urn:epc:id:sscc:9506000.3100000002"),
        ("00/395060001000000037", "urn:epc:id:sscc:9506000.3100000003"),
        ("00/395060001000000044", "urn:epc:id:sscc:9506000.3100000004"),
        ("00/395060001000000051", "urn:epc:id:sscc:9506000.3100000005"),
    ];
    // The containers are commissioned (packing needs commissioned children), then nested.
    let mut ev = ProvenanceEvent::new(EventType::ObjectEvent);
    ev.event_time_ms = s.now() - 1000;
    ev.action = Some(Action::Add);
    ev.epc_list = levels.iter().map(|(_, urn)| urn.to_string()).collect();
    ev.biz_step = Some("urn:epcglobal:cbv:bizstep:commissioning".into());
    s.provenance("PRODUCER-FZ", ev);
    s.commit();
    for w in levels.windows(2) {
        let ((_, child_urn), (_, parent_urn)) = (w[0], w[1]);
        let mut ev = ProvenanceEvent::new(EventType::AggregationEvent);
        ev.event_time_ms = s.now() - 1000;
        ev.action = Some(Action::Add);
        ev.parent_id = Some(parent_urn.into());
        ev.child_epcs = vec![child_urn.into()];
        ev.biz_step = Some("urn:epcglobal:cbv:bizstep:packing".into());
        s.provenance("PRODUCER-FZ", ev);
    }
    s.commit();
    let env = start(s).await;
    let set = scenario::genesis().validator_set().unwrap();
    let r = env
        .provenance()
        .get_provenance(req(Id::GoodsKey(ITEM.into())))
        .await
        .unwrap()
        .into_inner();
    let shown: Vec<&str> = r.containers.iter().map(|c| c.goods_key.as_str()).collect();
    assert_eq!(shown, levels[..4].iter().map(|l| l.0).collect::<Vec<_>>());
    let v = verify_answer(CHAIN_ID, &set, ITEM, std::slice::from_ref(&r)).unwrap();
    assert_eq!(v.contained_beyond.as_deref(), Some(levels[4].0));
    // A node that shows fewer levels is caught: the last shown head names the next one.
    let mut short = r.clone();
    short.containers.pop();
    let e = verify_answer(CHAIN_ID, &set, ITEM, &[short]).unwrap_err();
    assert!(e.contains("leaves it out"), "{e}");
    // The plain trade scenario: the pallet is in nothing, so nothing lies beyond.
    let plain = start(Scenario::trade()).await;
    let r = plain
        .provenance()
        .get_provenance(req(Id::GoodsKey(ITEM.into())))
        .await
        .unwrap()
        .into_inner();
    let v = verify_answer(CHAIN_ID, &set, ITEM, std::slice::from_ref(&r)).unwrap();
    assert_eq!(v.contained_beyond, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_histories_page_without_gaps() {
    let mut s = Scenario::trade();
    s.grow(ITEM, 23, 5);
    let env = start(s).await;
    let set = scenario::genesis().validator_set().unwrap();
    let mut p = env.provenance();
    let mut token = String::new();
    let mut seqs = Vec::new();
    let mut prev = None;
    let mut pages = 0;
    let mut all = Vec::new();
    loop {
        let r = p
            .get_provenance(v1::GetProvenanceRequest {
                id: Some(Id::GoodsKey(ITEM.into())),
                page_size: 10,
                page_token: token.clone(),
                omit_proofs: false,
            })
            .await
            .unwrap()
            .into_inner();
        prev = verify_page(CHAIN_ID, &set, &r, prev).unwrap();
        seqs.extend(r.timeline.iter().map(|e| e.seq));
        pages += 1;
        all.push(r.clone());
        if r.next_page_token.is_empty() {
            assert_eq!(prev.unwrap().to_hex(), r.summary.unwrap().last_event_hash);
            break;
        }
        token = r.next_page_token;
    }
    assert_eq!(pages, 3);
    // The whole answer is complete as of its proven head; without its last page it is not.
    verify_answer(CHAIN_ID, &set, ITEM, &all).unwrap();
    assert!(verify_answer(CHAIN_ID, &set, ITEM, &all[..2]).is_err());
    assert_eq!(seqs, (0..29).collect::<Vec<u64>>());

    // Without proofs the reply is lighter but the timeline is the same.
    let light = p
        .get_provenance(v1::GetProvenanceRequest {
            id: Some(Id::GoodsKey(ITEM.into())),
            page_size: 500,
            omit_proofs: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(light.timeline.len(), 29);
    assert!(light.timeline.iter().all(|e| e.proof.is_none()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_identifiers_name_their_field() {
    let env = start(Scenario::trade()).await;
    let mut p = env.provenance();
    let cases = [
        (v1::GetProvenanceRequest::default(), Code::InvalidArgument, "id:"),
        (
            req(Id::DigitalLink("ftp://x/01/1/21/2".into())),
            Code::InvalidArgument,
            "digital_link:",
        ),
        (
            req(Id::DigitalLink("https://id.gs1.org/nothing".into())),
            Code::InvalidArgument,
            "digital_link:",
        ),
        (
            req(Id::EpcUrn("urn:isbn:123".into())),
            Code::InvalidArgument,
            "epc_urn:",
        ),
        (
            req(Id::GtinSerial(v1::GtinSerial {
                gtin: "12345".into(),
                serial: "a".into(),
            })),
            Code::InvalidArgument,
            "gtin_serial.gtin:",
        ),
        (
            req(Id::GtinSerial(v1::GtinSerial {
                gtin: "09506000134352".into(),
                serial: "".into(),
            })),
            Code::InvalidArgument,
            "gtin_serial.serial:",
        ),
        (
            v1::GetProvenanceRequest {
                id: Some(Id::GoodsKey(ITEM.into())),
                page_token: "junk".into(),
                ..Default::default()
            },
            Code::InvalidArgument,
            "page_token:",
        ),
        (
            req(Id::GoodsKey("01/09506000134352/21/unknown".into())),
            Code::NotFound,
            "",
        ),
    ];
    for (r, code, prefix) in cases {
        let e = p.get_provenance(r.clone()).await.unwrap_err();
        assert_eq!(e.code(), code, "{r:?}: {}", e.message());
        assert!(e.message().starts_with(prefix), "{r:?}: {}", e.message());
    }
}
