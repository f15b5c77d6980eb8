//! EpcisService against a real tonic server on 127.0.0.1: SubmitEpcis (client-side mapping and
//! signing of the document's one transaction with the ledger's code; bad documents, seeds and wrong signatures refused
//! before anything is admitted) and ExportEpcis (round trip of the public fields, private fields
//! absent, filters, errors).
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod grpc_common;

use grpc_common::start;
use tonic::Code;
use tonic::transport::Channel;
use tradechain_ledger::epcis::{self, export::public_view, import_document};
use tradechain_ledger::gs1::goods_key;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::payload::ProvenanceEvent;
use tradechain_node::grpc::Backend;
use tradechain_node::grpc::scenario::{CHAIN_ID, Scenario, key_of, org};
use tradechain_proto::v1::{self, epcis_service_client::EpcisServiceClient, transaction_status::State};

fn testdata(name: &str) -> String {
    let p = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("../../shared/testdata/epcis")
    .join(name);
    std::fs::read_to_string(p).unwrap()
}

fn client(ch: &Channel) -> EpcisServiceClient<Channel> {
    EpcisServiceClient::new(ch.clone())
}

/// What the CLI does: map with the ledger's code, build the document's transaction, sign it.
fn signed_request(document: &str, who: &str, signer: &str, nonce: u64, time_ms: i64) -> v1::SubmitEpcisRequest {
    let events = import_document(document).unwrap();
    let signed = epcis::document_transaction(&events, CHAIN_ID, &org(who), 1, nonce, time_ms).sign(&key_of(signer));
    v1::SubmitEpcisRequest {
        document: document.to_string(),
        org: who.to_string(),
        key_id: 1,
        nonce,
        time_ms,
        signature: signed.signature.0.to_vec(),
        disclosure_seed: signed.disclosure_seed().0.to_vec(),
    }
}

async fn next_nonce(ch: &Channel, who: &str) -> u64 {
    let a = v1::node_service_client::NodeServiceClient::new(ch.clone())
        .get_account(v1::GetAccountRequest { org: who.into() })
        .await
        .unwrap()
        .into_inner();
    a.pending_next_nonce.max(a.next_nonce)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_epcis_admits_the_document_as_one_signed_transaction() {
    let env = start(Scenario::trade()).await;
    let doc = testdata("Example_9.6.1-ObjectEvent.jsonld");
    let nonce = next_nonce(&env.channel, "PRODUCER-FZ").await;
    let req = signed_request(&doc, "PRODUCER-FZ", "PRODUCER-FZ", nonce, env.scenario.now());

    // Wrong signer: refused, nothing admitted.
    let mut forged = req.clone();
    forged.signature = signed_request(&doc, "PRODUCER-FZ", "IMPORTER-NL", nonce, env.scenario.now()).signature;
    let e = client(&env.channel).submit_epcis(forged).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("signature: does not verify"), "{}", e.message());
    // The disclosure seed: 32 bytes, and the signature covers the commitment made with it, so
    // another seed (a node or relay swapping the salts) breaks the signature.
    let mut malformed = req.clone();
    malformed.disclosure_seed.truncate(31);
    let e = client(&env.channel).submit_epcis(malformed).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message().starts_with("disclosure_seed: is 31 bytes"),
        "{}",
        e.message()
    );
    let mut reseeded = req.clone();
    reseeded.disclosure_seed[0] ^= 1;
    let e = client(&env.channel).submit_epcis(reseeded).await.unwrap_err();
    assert!(e.message().starts_with("signature: does not verify"), "{}", e.message());
    // A signature over another document (the same events in another order) is refused.
    let events = import_document(&doc).unwrap();
    let reversed: Vec<ProvenanceEvent> = events.iter().rev().cloned().collect();
    let mut swapped = req.clone();
    swapped.signature =
        epcis::document_transaction(&reversed, CHAIN_ID, &org("PRODUCER-FZ"), 1, nonce, env.scenario.now())
            .sign(&key_of("PRODUCER-FZ"))
            .signature
            .0
            .to_vec();
    let e = client(&env.channel).submit_epcis(swapped).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let mut short = req.clone();
    short.signature.pop();
    let e = client(&env.channel).submit_epcis(short).await.unwrap_err();
    assert!(e.message().starts_with("signature: is 63 bytes"), "{}", e.message());
    assert!(
        env.scenario.backend.mempool().is_empty(),
        "nothing admitted by refused requests"
    );

    // A broken document: INVALID_ARGUMENT naming the event index and the field.
    let broken = doc.replacen("2005-04-04T20:33:31.116-06:00", "2005-04-04 20:33", 1);
    let mut bad = req.clone();
    bad.document = broken;
    let e = client(&env.channel).submit_epcis(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(
        e.message()
            .starts_with(r#"document: event 1: field "eventTime": "2005-04-04 20:33" is not an RFC 3339 time"#),
        "{}",
        e.message()
    );

    // The good request: one transaction carrying both events, its id as the client computes it.
    let expected = epcis::document_transaction(&events, CHAIN_ID, &org("PRODUCER-FZ"), 1, nonce, env.scenario.now())
        .sign(&key_of("PRODUCER-FZ"))
        .id()
        .to_hex();
    let reply = client(&env.channel)
        .submit_epcis(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.tx_id, expected);
    let pending: Vec<u64> = env.scenario.backend.mempool().iter().map(|t| t.tx().nonce).collect();
    assert_eq!(pending, vec![nonce], "one transaction, one nonce");
    env.scenario.backend.commit_executed(env.scenario.now() + 5000).unwrap();
    let st = env
        .tx()
        .get_transaction(v1::GetTransactionRequest {
            tx_id: reply.tx_id.clone(),
            include_tx: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.state, State::Committed as i32, "{st:?}");
    let id = Hash::from_hex(&reply.tx_id).unwrap();
    let loc = env.scenario.backend.tx_location(&id).unwrap().unwrap();
    let stx = env.scenario.backend.tx(loc).unwrap().unwrap();
    assert_eq!(stx.tx().payload.events(), events.as_slice());
    // Each event is indexed as (transaction, its position in the document).
    let item = goods_key(events[0].epc_list[0].as_str()).unwrap();
    let refs = env.scenario.backend.item_events(&item, 0, 10).unwrap();
    let ours: Vec<u32> = refs.iter().filter(|r| r.tx_id == id).map(|r| r.event).collect();
    assert!(!ours.is_empty(), "the document's events are on the item's timeline");

    // A consumer's proof of an item both events name: each entry opens its own event of the
    // document, and a node that shows one event's disclosure for the other is caught.
    let both = goods_key("urn:epc:id:sgtin:0614141.107346.2018").unwrap();
    let refs = env.scenario.backend.item_events(&both, 0, 10).unwrap();
    let positions: Vec<u32> = refs.iter().filter(|r| r.tx_id == id).map(|r| r.event).collect();
    assert_eq!(positions, vec![0, 1]);
    let set = tradechain_node::grpc::scenario::genesis().validator_set().unwrap();
    let r = v1::provenance_service_client::ProvenanceServiceClient::new(env.channel.clone())
        .get_provenance(v1::GetProvenanceRequest {
            id: Some(v1::get_provenance_request::Id::GoodsKey(both.clone())),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let verified =
        tradechain_node::grpc::proof::verify_answer(CHAIN_ID, &set, &both, std::slice::from_ref(&r)).unwrap();
    assert_eq!(verified.events, r.timeline.len());
    let doc_entries: Vec<usize> = (0..r.timeline.len())
        .filter(|&i| r.timeline[i].tx_id == reply.tx_id)
        .collect();
    assert_eq!(doc_entries.len(), 2);
    let shown: Vec<&str> = doc_entries.iter().map(|&i| r.timeline[i].biz_step.as_str()).collect();
    assert_eq!(shown, ["shipping", "receiving"]);
    let mut swapped = r.clone();
    let (a, b) = (doc_entries[0], doc_entries[1]);
    let da = swapped.timeline[a].proof.as_ref().unwrap().disclosure_borsh.clone();
    let db = swapped.timeline[b].proof.as_ref().unwrap().disclosure_borsh.clone();
    swapped.timeline[a].proof.as_mut().unwrap().disclosure_borsh = db;
    swapped.timeline[b].proof.as_mut().unwrap().disclosure_borsh = da;
    let e = tradechain_node::grpc::proof::verify_answer(CHAIN_ID, &set, &both, &[swapped]).unwrap_err();
    assert!(
        e.contains("opens event 1 of the transaction, the entry is event 0"),
        "{e}"
    );

    // Unknown org: the membership rule.
    let stranger = signed_request(&doc, "NOBODY-XX", "NOBODY-XX", 1, env.scenario.now());
    let e = client(&env.channel).submit_epcis(stranger).await.unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition);
    assert!(e.message().contains("membership.unknown_sender"), "{}", e.message());
}

/// Record a document's events in the scenario's chain (indexed under each goods key).
/// Record a document's events in the scenario's chain, through the validators: an event that
/// declares itself erroneous (an EPCIS error declaration repeats the event it corrects) is
/// preceded by that original event, as it would have been recorded. Returns what was recorded.
fn record(s: &mut Scenario, doc: &str) -> Vec<ProvenanceEvent> {
    let mut recorded = Vec::new();
    for ev in import_document(doc).unwrap() {
        if ev.error_declaration.is_some() {
            let original = ProvenanceEvent {
                error_declaration: None,
                ..ev.clone()
            };
            s.provenance("PRODUCER-FZ", original.clone());
            s.commit();
            recorded.push(original);
        }
        s.provenance("PRODUCER-FZ", ev.clone());
        recorded.push(ev);
    }
    s.commit();
    recorded
}

fn export_req(id: &str) -> v1::ExportEpcisRequest {
    v1::ExportEpcisRequest {
        identifier: id.into(),
        creation_date_ms: Some(1_767_225_600_000),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_epcis_round_trips_the_public_view() {
    let mut s = Scenario::trade();
    let all = record(&mut s, &testdata("object_event_all_possible_fields.jsonld"));
    let two = record(&mut s, &testdata("Example_9.6.1-ObjectEvent.jsonld"));
    let env = start(s).await;

    // object_event_all_possible_fields: every private member withheld, the rest round-trips.
    let r = client(&env.channel)
        .export_epcis(export_req("urn:epc:id:sgtin:0614141.107346.2018"))
        .await
        .unwrap()
        .into_inner();
    let got = import_document(&r.document).unwrap();
    // The item is in both documents: its events, oldest recorded first.
    let want: Vec<ProvenanceEvent> = all.iter().chain(&two).map(public_view).collect();
    assert_eq!(got, want);
    assert_eq!(r.event_count as usize, want.len());
    assert_eq!(r.goods_key, goods_key("urn:epc:id:sgtin:0614141.107346.2018").unwrap());
    assert!(r.next_page_token.is_empty());
    for private in [
        "bizTransactionList",
        "sourceList",
        "destinationList",
        "possessing_party",
        "urn:epc:id:gdti:0614141.00001.1618034",
        "ilmd",
        "example:myField",
        "vendorExtension",
    ] {
        assert!(!r.document.contains(private), "{private} leaked:\n{}", r.document);
    }
    // No namespaced extension member at event level (inside sensorElementList they are data).
    let parsed = tradechain_ledger::epcis::json::parse(&r.document).unwrap();
    let Some(tradechain_ledger::epcis::json::Json::Array(list)) =
        parsed.get("epcisBody").and_then(|b| b.get("eventList")).cloned()
    else {
        panic!("no eventList")
    };
    for e in &list {
        if let tradechain_ledger::epcis::json::Json::Object(m) = e {
            assert!(m.iter().all(|(k, _)| !k.contains(':')), "{m:?}");
        }
    }
    for public in [
        "sensorElementList",
        "certificationInfo",
        "persistentDisposition",
        "errorDeclaration",
    ] {
        assert!(r.document.contains(public), "{public} missing");
    }
    assert!(
        r.document
            .contains("https://ref.gs1.org/standards/epcis/epcis-context.jsonld")
    );
    assert!(r.document.contains("\"creationDate\": \"2026-01-01T00:00:00.000Z\""));

    // The same item by Digital Link.
    let dl = client(&env.channel)
        .export_epcis(export_req("https://id.gs1.org/01/10614141073464/21/2018"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(dl.document, r.document);

    // Filters: bizStep (either spelling), time window, location; paging.
    let mut f = export_req("urn:epc:id:sgtin:0614141.107346.2018");
    f.biz_step = "urn:epcglobal:cbv:bizstep:receiving".into();
    let got = import_document(
        &client(&env.channel)
            .export_epcis(f)
            .await
            .unwrap()
            .into_inner()
            .document,
    )
    .unwrap();
    // The first document's event and the original it corrects, then the second's receiving.
    assert_eq!(got, all.iter().chain([&two[1]]).map(public_view).collect::<Vec<_>>());
    let mut f = export_req("urn:epc:id:sgtin:0614141.107346.2018");
    f.from_time_ms = Some(two[0].event_time_ms);
    f.to_time_ms = Some(two[0].event_time_ms);
    let got = import_document(
        &client(&env.channel)
            .export_epcis(f)
            .await
            .unwrap()
            .into_inner()
            .document,
    )
    .unwrap();
    assert_eq!(got, vec![public_view(&two[0])]);
    let mut f = export_req("urn:epc:id:sgtin:0614141.107346.2018");
    // bizLocation urn:epc:id:sgln:0012345.11111.0, asked for by its Digital Link.
    f.location = format!(
        "https://id.gs1.org/{}",
        goods_key("urn:epc:id:sgln:0012345.11111.0").unwrap()
    );
    let got = import_document(
        &client(&env.channel)
            .export_epcis(f)
            .await
            .unwrap()
            .into_inner()
            .document,
    )
    .unwrap();
    // The first document's event and the original it corrects, then the second's receiving.
    assert_eq!(got, all.iter().chain([&two[1]]).map(public_view).collect::<Vec<_>>());
    let mut f = export_req("urn:epc:id:sgtin:0614141.107346.2018");
    f.page_size = 3;
    let p1 = client(&env.channel).export_epcis(f.clone()).await.unwrap().into_inner();
    assert_eq!((p1.event_count, p1.next_page_token.is_empty()), (3, false));
    f.page_token = p1.next_page_token;
    let p2 = client(&env.channel).export_epcis(f).await.unwrap().into_inner();
    assert_eq!((p2.event_count, p2.next_page_token.as_str()), (1, ""));
    assert_eq!(import_document(&p2.document).unwrap(), vec![public_view(&two[1])]);

    // Errors.
    let e = client(&env.channel)
        .export_epcis(export_req("urn:epc:id:sgtin:0614141.107346.9999"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = client(&env.channel).export_epcis(export_req("")).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("identifier:"), "{}", e.message());
    let mut f = export_req("urn:epc:id:sgtin:0614141.107346.2018");
    f.page_token = "x".into();
    let e = client(&env.channel).export_epcis(f).await.unwrap_err();
    assert!(e.message().starts_with("page_token:"), "{}", e.message());
}
