#![allow(clippy::unwrap_used, clippy::expect_used)]
//! EPCIS 2.0 import/export over every GS1 example in `../shared/testdata/epcis/` (used as they
//! are): each imports; export → import gives identical events; and each exported event equals
//! the original member by member, after normalising only what EPCIS defines as equivalent
//! (the spelling of a time instant, and an empty list written out vs. left out). Plus broken
//! documents that must name the event index and field.
use std::path::PathBuf;

mod gs1_schema;

use tradechain_ledger::epcis::json::{self, Json};
use tradechain_ledger::epcis::{
    EpcisError, ExportOptions, export_document, export_query_document, import_document, time,
};
use tradechain_ledger::payload::{Action, EventType, ProvenanceEvent};

fn testdata_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("../../shared/testdata/epcis")
}

fn testdata() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(testdata_dir())
        .expect("../shared/testdata/epcis is readable")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonld"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn opts() -> ExportOptions {
    ExportOptions {
        creation_date_ms: 1_767_225_600_000,
    }
}

/// The event objects of a document (either kind).
fn event_objects(doc: &Json) -> Vec<Json> {
    let body = doc.get("epcisBody").unwrap();
    let list = body
        .get("eventList")
        .or_else(|| body.get("queryResults")?.get("resultsBody")?.get("eventList"))
        .unwrap();
    match list {
        Json::Array(a) => a.clone(),
        _ => panic!("eventList is not an array"),
    }
}

/// EPCIS equivalences only: a time member → its instant in ms; an empty list → absent.
fn normalise(v: &Json, key: &str) -> Option<Json> {
    match v {
        Json::String(s) if matches!(key, "eventTime" | "declarationTime") => {
            Some(Json::Number(time::parse_ms(s).unwrap().to_string()))
        }
        Json::Array(a) if a.is_empty() => None,
        Json::Object(m) => Some(Json::Object(
            m.iter()
                .filter_map(|(k, x)| normalise(x, k).map(|x| (k.clone(), x)))
                .collect(),
        )),
        other => Some(other.clone()),
    }
}

fn members(v: &Json) -> Vec<(String, Json)> {
    match normalise(v, "").unwrap().sorted() {
        Json::Object(m) => m,
        _ => panic!("an event is not an object"),
    }
}

#[test]
fn every_example_imports() {
    let files = testdata();
    assert!(files.len() >= 19, "expected the 19 GS1 examples, found {}", files.len());
    for (name, text) in &files {
        let events = import_document(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let originals = event_objects(&json::parse(text).unwrap());
        assert_eq!(events.len(), originals.len(), "{name}");
        assert!(!events.is_empty(), "{name} has no events");
    }
}

#[test]
fn export_then_import_gives_identical_events() {
    for (name, text) in testdata() {
        let events = import_document(&text).unwrap();
        let doc = export_document(&events, &opts()).unwrap_or_else(|e| panic!("{name}: export: {e}"));
        let again = import_document(&doc).unwrap_or_else(|e| panic!("{name}: re-import: {e}\n{doc}"));
        assert_eq!(again, events, "{name}: export → import changed the events");
        // Borsh survives too (what the ledger actually stores).
        for e in &events {
            let bytes = tradechain_ledger::codec::encode(e);
            assert_eq!(&tradechain_ledger::codec::decode::<ProvenanceEvent>(&bytes).unwrap(), e);
        }
    }
}

/// The query-document shape (what the REST binding answers) holds the same events and context.
#[test]
fn a_query_document_holds_the_same_events() {
    for (name, text) in testdata() {
        let events = import_document(&text).unwrap();
        let doc = export_query_document(&events, &opts(), "SimpleEventQuery").unwrap();
        assert_eq!(import_document(&doc).unwrap(), events, "{name}");
        let v = json::parse(&doc).unwrap();
        assert_eq!(v.get("type").and_then(Json::as_str), Some("EPCISQueryDocument"));
        let results = v.get("epcisBody").and_then(|b| b.get("queryResults")).unwrap();
        assert_eq!(
            results.get("queryName").and_then(Json::as_str),
            Some("SimpleEventQuery")
        );
        let plain = json::parse(&export_document(&events, &opts()).unwrap()).unwrap();
        assert_eq!(v.get("@context"), plain.get("@context"), "{name}");
    }
}

#[test]
fn exported_events_equal_the_originals_member_by_member() {
    for (name, text) in testdata() {
        let originals = event_objects(&json::parse(&text).unwrap());
        let exported_doc = export_document(&import_document(&text).unwrap(), &opts()).unwrap();
        let exported_doc = json::parse(&exported_doc).unwrap();
        let exported = event_objects(&exported_doc);
        assert_eq!(originals.len(), exported.len(), "{name}");
        for (i, (o, x)) in originals.iter().zip(&exported).enumerate() {
            let (om, xm) = (members(o), members(x));
            for (k, v) in &om {
                let got = xm.iter().find(|(n, _)| n == k).map(|(_, v)| v);
                assert_eq!(got, Some(v), "{name} event {i} member {k:?}");
            }
            for (k, _) in &xm {
                assert!(
                    om.iter().any(|(n, _)| n == k),
                    "{name} event {i}: export added member {k:?}"
                );
            }
        }
        // Every namespace prefix an exported extension member uses is declared again.
        let ctx = exported_doc.get("@context").unwrap().canonical();
        for x in &exported {
            if let Json::Object(m) = x {
                for (k, _) in m {
                    if let Some((prefix, _)) = k.split_once(':') {
                        assert!(
                            ctx.contains(&format!("\"{prefix}\":")),
                            "{name}: prefix {prefix} of {k} not declared in {ctx}"
                        );
                    }
                }
            }
        }
        assert!(ctx.contains("https://ref.gs1.org/standards/epcis/epcis-context.jsonld"));
    }
}

#[test]
fn fields_map_as_epcis_defines_them() {
    let files = testdata();
    let get = |n: &str| import_document(&files.iter().find(|(f, _)| f == n).unwrap().1).unwrap();

    // Times: eventTime + eventTimeZoneOffset; a 6-digit fraction of zeros is whole ms.
    let e = &get("Example_9.6.1-ObjectEvent.jsonld")[0];
    assert_eq!(e.event_time_ms, time::parse_ms("2005-04-04T02:33:31.116Z").unwrap());
    assert_eq!(e.event_time_zone_offset_min, -360);
    assert_eq!(e.action, Some(Action::Observe));
    assert_eq!(e.biz_transaction_list[0].kind.as_deref(), Some("po"));
    let e1 = &get("Example_9.6.1-ObjectEvent.jsonld")[1];
    assert!(e1.extensions.contains_key("example:myField"));
    assert!(e1.extensions["@context"].contains("http://ns.example.com/epcis/"));
    assert!(
        !e.extensions.contains_key("@context"),
        "event 0 uses no extension prefix"
    );

    // Digital Link and EPC URN spellings stay as given, and reach one goods key.
    let dl = &get("Example_9.6.1-ObjectEventWithDigitalLink.jsonld")[0];
    assert!(dl.epc_list[0].starts_with("https://id.gs1.org/01/"));
    assert!(e.epc_list[0].starts_with("urn:epc:id:sgtin:"));
    let k = |s: &str| tradechain_ledger::gs1::goods_key(s).unwrap();
    // (GS1's two 9.6.1 examples name different GTINs, so compare with the URN's own Digital Link.)
    assert_eq!(e.epc_list[0], "urn:epc:id:sgtin:0614141.107346.2017");
    assert_eq!(k(&e.epc_list[0]), k("https://id.gs1.org/01/10614141073464/21/2017"));
    assert_eq!(k(&dl.epc_list[0]), "01/70614141123451/21/2017");

    // Quantities keep their number text; parties map onto TypedRef.
    let q = &get("Example_9.6.2-ObjectEvent.jsonld")[0];
    assert!(q.quantity_list.iter().all(|x| x.quantity.is_some()));
    assert!(!q.source_list.is_empty() && !q.destination_list.is_empty());

    // Sensor data, certification info, ILMD, persistentDisposition kept verbatim (canonical).
    let all = &get("object_event_all_possible_fields.jsonld")[0];
    for key in [
        "sensorElementList",
        "certificationInfo",
        "ilmd",
        "persistentDisposition",
    ] {
        assert!(all.extensions.contains_key(key), "{key}");
    }
    assert!(all.extensions["sensorElementList"].contains("\"maxValue\":26.2"));
    assert!(all.extensions["sensorElementList"].contains("\"sDev\":0.1"));
    assert!(all.extensions["ilmd"].starts_with(r#"{"cbvmda:countryOfExport":"KR","#));

    // Error declarations: typed fields plus the extension member kept aside.
    let ed = get("ErrorDeclarationAndCorrectiveEvent.jsonld");
    let d = ed[0].error_declaration.as_ref().unwrap();
    assert_eq!(
        d.declaration_time_ms,
        time::parse_ms("2020-01-15T00:00:00+01:00").unwrap()
    );
    assert_eq!(d.reason.as_deref(), Some("incorrect_data"));
    assert_eq!(d.corrective_event_ids, vec![ed[1].event_id.clone().unwrap()]);
    assert_eq!(
        ed[0].extensions["errorDeclaration"],
        r#"{"example:vendorExtension":"Test1"}"#
    );
    assert_eq!(ed[0].event_type, EventType::TransformationEvent);
    assert_eq!(ed[0].action, None);

    // Query documents read the same way.
    assert_eq!(get("EPCISQueryDocument.jsonld").len(), 2);
    assert!(
        get("Example-TransactionEvents-2020_07_03y.jsonld")
            .iter()
            .all(|e| e.event_type == EventType::TransactionEvent)
    );
}

/// A valid document whose event 1 has `member` replaced by `value` (raw JSON), or removed.
fn broken(member: &str, value: Option<&str>) -> String {
    let ok = r#"{"type":"ObjectEvent","eventTime":"2020-06-07T17:10:16Z","eventTimeZoneOffset":"+02:00","action":"OBSERVE","epcList":["urn:epc:id:sgtin:0614141.107346.2017"]}"#;
    let mut second = json::parse(ok).unwrap();
    if let Json::Object(m) = &mut second {
        m.retain(|(k, _)| k != member);
        if let Some(v) = value {
            m.push((member.to_string(), json::parse(v).unwrap()));
        }
    }
    format!(
        r#"{{"@context":["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2020-06-08T00:00:00Z","epcisBody":{{"eventList":[{ok},{}]}}}}"#,
        second.canonical()
    )
}

fn event_error(doc: &str) -> (usize, String, String) {
    match import_document(doc) {
        Err(EpcisError::Event { index, field, reason }) => (index, field, reason),
        other => panic!("expected an event error, got {other:?}"),
    }
}

#[test]
fn a_broken_document_names_the_event_and_the_field() {
    assert!(import_document(&broken("", None)).is_ok());
    let cases: &[(&str, Option<&str>, &str, &str)] = &[
        (
            "eventTime",
            Some(r#""2020-06-07 17:10""#),
            "eventTime",
            "not an RFC 3339 time",
        ),
        (
            "eventTime",
            Some(r#""2020-06-07T17:10:16.0001Z""#),
            "eventTime",
            "sub-millisecond",
        ),
        ("eventTime", None, "eventTime", "missing"),
        (
            "eventTimeZoneOffset",
            Some(r#""+15:00""#),
            "eventTimeZoneOffset",
            "outside",
        ),
        ("action", Some(r#""MOVE""#), "action", "not ADD, OBSERVE or DELETE"),
        ("action", None, "action", "missing"),
        (
            "type",
            Some(r#""ShippingEvent""#),
            "type",
            "not an EPCIS 2.0 event type",
        ),
        (
            "epcList",
            Some(r#"["urn:epc:id:sgtin:0614141.107346.2017", 7]"#),
            "epcList[1]",
            "not a string",
        ),
        (
            "quantityList",
            Some(r#"[{"epcClass":"urn:epc:class:lgtin:4012345.012345.998877","quantity":"200"}]"#),
            "quantityList[0].quantity",
            "not a number",
        ),
        ("readPoint", Some(r#"{"name":"dock 4"}"#), "readPoint.id", "missing"),
        (
            "bizTransactionList",
            Some(r#"[{"type":"po","id":"urn:epc:id:gdti:0614141.00001.1618034"}]"#),
            "bizTransactionList[0].id",
            "only type and bizTransaction",
        ),
        (
            "errorDeclaration",
            Some(r#"{"declarationTime":"yesterday"}"#),
            "errorDeclaration.declarationTime",
            "not an RFC 3339 time",
        ),
        ("myField", Some(r#""x""#), "myField", "namespace prefix"),
    ];
    for (member, value, field, why) in cases {
        let (index, f, reason) = event_error(&broken(member, *value));
        assert_eq!((index, f.as_str()), (1, *field), "{member}={value:?}: {reason}");
        assert!(reason.contains(why), "{member}: {reason:?} lacks {why:?}");
    }
    let shown = import_document(&broken("eventTime", Some(r#""2020-06-07 17:10""#)))
        .unwrap_err()
        .to_string();
    assert!(
        shown.starts_with(r#"event 1: field "eventTime": "2020-06-07 17:10" is not an RFC 3339 time"#),
        "{shown}"
    );
    // Document-level faults name the member.
    for (doc, field) in [
        (r#"{"type":"EPCISDocument","epcisBody":{}}"#, "epcisBody.eventList"),
        (
            r#"{"type":"EPCISMasterDataDocument","epcisBody":{"eventList":[]}}"#,
            "type",
        ),
        (
            r#"{"type":"EPCISDocument","schemaVersion":"1.2","epcisBody":{"eventList":[]}}"#,
            "schemaVersion",
        ),
        (
            r#"{"type":"EPCISQueryDocument","epcisBody":{"eventList":[]}}"#,
            "epcisBody.queryResults.resultsBody.eventList",
        ),
    ] {
        let e = import_document(doc).unwrap_err();
        assert_eq!(e.field(), Some(field), "{e}");
        assert_eq!(e.index(), None);
    }
    assert!(matches!(import_document("{\"type\": "), Err(EpcisError::Syntax(_))));
}

// ---- error declarations on the ledger ---------------------------------------------------

use tradechain_ledger::Hash;
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::payload::Payload;
use tradechain_ledger::records::{EventIdRecord, ItemEventRef, ItemRecord};
use tradechain_ledger::state::{get_typed, keys};
use tradechain_ledger::testkit::{Chain, GENESIS_TIME_MS, event};

fn commit(c: &mut Chain, sender: &str, ev: &ProvenanceEvent) -> Hash {
    let t = c.tx(sender, Payload::Provenance(ev.clone()));
    let id = t.id();
    let (outcomes, _) = c.execute(&[t]).unwrap();
    assert_eq!(outcomes, vec![TxOutcome::Accepted], "{:?}", ev.event_id);
    id
}

fn chain_of(c: &Chain, id: &str) -> (ItemRecord, Vec<Hash>) {
    let key = tradechain_ledger::gs1::goods_key(id).unwrap();
    let it: ItemRecord = get_typed(&c.state, &keys::item(&key)).unwrap();
    let txs = (0..it.event_count)
        .map(|s| {
            get_typed::<ItemEventRef>(&c.state, &keys::item_event(&key, s))
                .unwrap()
                .tx_id
        })
        .collect();
    (it, txs)
}

#[test]
fn an_imported_error_declaration_marks_the_original_corrected_and_keeps_it() {
    let text = std::fs::read_to_string(testdata_dir().join("ErrorDeclarationAndCorrectiveEvent.jsonld")).unwrap();
    let events = import_document(&text).unwrap();
    let (declaration, corrective) = (&events[0], &events[1]);
    let original_id = declaration.event_id.clone().unwrap();
    // The file holds the declaration (a copy of the erroneous event plus errorDeclaration) and the
    // corrective event; the erroneous event itself was recorded earlier.
    let mut original = declaration.clone();
    original.error_declaration = None;
    original.extensions.remove("errorDeclaration");

    let mut c = Chain::demo();
    let input = &original.input_epc_list[0];
    let t_original = commit(&mut c, "PRODUCER-FZ", &original);
    assert!(chain_of(&c, input).0.ended, "the transformation consumed its input");

    let t_declaration = commit(&mut c, "PRODUCER-FZ", declaration);
    let rec: EventIdRecord = get_typed(&c.state, &keys::event_id(&original_id)).unwrap();
    assert_eq!(rec.tx_id, t_original, "the original stays the recorded event");
    assert_eq!(rec.corrected_by, Some(t_declaration), "and is marked corrected");
    assert!(
        !chain_of(&c, input).0.ended,
        "the correction re-opens what the erroneous event consumed"
    );

    let t_corrective = commit(&mut c, "PRODUCER-FZ", corrective);
    let rec: EventIdRecord = get_typed(&c.state, &keys::event_id(&original_id)).unwrap();
    assert_eq!((rec.tx_id, rec.corrected_by), (t_original, Some(t_declaration)));
    let corrective_rec: EventIdRecord =
        get_typed(&c.state, &keys::event_id(corrective.event_id.as_ref().unwrap())).unwrap();
    assert_eq!(
        (corrective_rec.tx_id, corrective_rec.corrected_by),
        (t_corrective, None)
    );
    // Nothing deleted: every item of the event has original → declaration → corrective.
    for id in original.input_epc_list.iter().chain(&original.output_epc_list) {
        let (it, txs) = chain_of(&c, id);
        assert_eq!(txs, vec![t_original, t_declaration, t_corrective], "{id}");
        assert_eq!(it.event_count, 3);
    }
    assert!(
        chain_of(&c, input).0.ended,
        "the corrective transformation consumed it again"
    );
}

#[test]
fn a_correction_does_not_reopen_what_a_later_event_ended() {
    let x = "urn:epc:id:sgtin:0614141.107346.2017";
    let mut c = Chain::demo();
    let mut a = event(EventType::ObjectEvent, Some(Action::Observe), &[x], GENESIS_TIME_MS);
    a.event_id = Some("urn:uuid:a".into());
    commit(&mut c, "PRODUCER-FZ", &a);
    let mut b = event(EventType::ObjectEvent, Some(Action::Delete), &[x], GENESIS_TIME_MS + 1);
    b.biz_step = Some("destroying".into());
    commit(&mut c, "PRODUCER-FZ", &b);
    let mut decl = a.clone();
    decl.error_declaration = Some(tradechain_ledger::payload::ErrorDeclaration {
        declaration_time_ms: GENESIS_TIME_MS + 2,
        reason: Some("incorrect_data".into()),
        corrective_event_ids: vec![],
    });
    commit(&mut c, "PRODUCER-FZ", &decl);
    let (it, txs) = chain_of(&c, x);
    assert!(it.ended, "destroyed by a later event, not by the corrected one");
    assert_eq!(txs.len(), 3);
}

#[test]
fn the_public_view_round_trips_and_withholds_commercial_fields() {
    use tradechain_ledger::epcis::export::public_view;
    for (name, text) in testdata() {
        let events = import_document(&text).unwrap();
        let public: Vec<ProvenanceEvent> = events.iter().map(public_view).collect();
        // Business transactions never show: a TransactionEvent names only the placeholder.
        for (e, p) in events.iter().zip(&public) {
            let shown: Vec<&str> = p.biz_transaction_list.iter().map(|t| t.id.as_str()).collect();
            let want: Vec<&str> = if e.event_type == EventType::TransactionEvent && !e.biz_transaction_list.is_empty() {
                vec![tradechain_ledger::epcis::export::WITHHELD_BIZ_TRANSACTION]
            } else {
                vec![]
            };
            assert_eq!(shown, want, "{name}");
            assert!(p.biz_transaction_list.iter().all(|t| t.kind.is_none()), "{name}");
        }
        assert!(
            public
                .iter()
                .all(|e| e.error_declaration.as_ref().is_none_or(|d| d.reason.is_none())),
            "{name}: an error declaration's reason is commercial"
        );
        let doc = export_document(&public, &opts()).unwrap();
        assert_eq!(import_document(&doc).unwrap(), public, "{name}");
        for t in events.iter().flat_map(|e| &e.biz_transaction_list) {
            assert!(
                !doc.contains(&t.id),
                "{name}: business transaction {} in the public export",
                t.id
            );
        }
        for private in ["sourceList", "destinationList", "\"ilmd\"", "example:myField"] {
            assert!(!doc.contains(private), "{name}: {private} in the public export");
        }
    }
}

#[test]
fn size_limits_are_checked_before_signing() {
    use tradechain_ledger::epcis::check_limits;
    use tradechain_ledger::genesis::Limits;
    let files = testdata();
    let get = |n: &str| import_document(&files.iter().find(|(f, _)| f == n).unwrap().1).unwrap();
    // Every GS1 example fits the default limits: a kept member (GS1's all-fields example carries a
    // 1.8 KB sensorElementList) counts toward the transaction size, not the 1 KB string limit.
    for (name, _) in &files {
        assert!(check_limits(&get(name), &Limits::default()).is_ok(), "{name}");
    }
    // A chain with a small transaction limit refuses the document before anything is signed:
    // it is one transaction, so the whole document must fit (split it).
    let tight = Limits {
        max_tx_bytes: 2048,
        ..Limits::default()
    };
    let e = check_limits(&get("object_event_all_possible_fields.jsonld"), &tight).unwrap_err();
    assert_eq!((e.index(), e.field()), (None, Some("epcisBody.eventList")), "{e}");
    assert!(e.to_string().contains("split it"), "{e}");
    assert!(check_limits(&get("Example_9.6.1-ObjectEvent.jsonld"), &tight).is_ok());
    // So must its event count (the validators' list limit on the document's events).
    let few = Limits {
        max_list_len: 1,
        ..Limits::default()
    };
    let mut one = get("Example_9.6.1-ObjectEvent.jsonld").remove(0);
    one.epc_list.truncate(1);
    assert!(check_limits(std::slice::from_ref(&one), &few).is_ok());
    let e = check_limits(&[one.clone(), one], &few).unwrap_err();
    assert_eq!((e.index(), e.field()), (None, Some("epcisBody.eventList")), "{e}");
}

#[test]
fn sensor_data_beyond_the_string_limit_commits() {
    // What check_limits lets through, the validators accept: the 1.6 KB sensor report commits.
    let files = testdata();
    let doc = &files.iter().find(|(f, _)| f == "SensorDataExample8.jsonld").unwrap().1;
    let events = import_document(doc).unwrap();
    assert!(events[0].extensions["sensorElementList"].len() > 1024);
    let mut c = Chain::demo();
    for e in &events {
        commit(&mut c, "PRODUCER-FZ", e);
    }
}

#[test]
fn exports_validate_against_gs1s_json_schema() {
    let mut docs = Vec::new();
    for (name, text) in testdata() {
        let events = import_document(&text).unwrap();
        docs.push((format!("{name} (export)"), export_document(&events, &opts()).unwrap()));
        let public: Vec<ProvenanceEvent> = events
            .iter()
            .map(tradechain_ledger::epcis::export::public_view)
            .collect();
        docs.push((
            format!("{name} (public export)"),
            export_document(&public, &opts()).unwrap(),
        ));
    }
    let (ok, report) = gs1_schema::check(&docs);
    assert!(ok, "exports the GS1 schema refuses:\n{report}");
    assert!(
        report.contains(&format!("{n} of {n} documents valid", n = docs.len())),
        "{report}"
    );

    // The check checks: an export with an action EPCIS does not define, and one without its
    // eventTime, fail. (An unknown event type passes: the schema leaves room for extensions.)
    let (name, first) = docs.first().cloned().unwrap();
    let mut wrong_action: serde_json::Value = serde_json::from_str(&first).unwrap();
    let mut no_time = wrong_action.clone();
    wrong_action["epcisBody"]["eventList"][0]["action"] = "DESTROY".into();
    no_time["epcisBody"]["eventList"][0]
        .as_object_mut()
        .unwrap()
        .remove("eventTime");
    for (what, broken) in [("action", wrong_action), ("eventTime", no_time)] {
        let (ok, report) = gs1_schema::check(&[(format!("{name} without a valid {what}"), broken.to_string())]);
        assert!(!ok, "the schema check passed a broken {what}: {report}");
    }
}
