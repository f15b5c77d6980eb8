//! GS1 key parsing against every identifier in the public EPCIS test data
//! (/work/shared/testdata/epcis): all EPC URNs and GS1 Digital Links parse with correct check
//! digits, the two spellings of one item meet, and other URIs are refused with a clear error.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::collections::BTreeSet;
use tradechain_ledger::gs1::{check_digit, digital_link, goods_key, is_valid_gtin};

const DIR: &str = "/work/shared/testdata/epcis";

/// Every JSON string value in the test data files.
fn strings() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(dir) = std::fs::read_dir(DIR) else { return out };
    for e in dir {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "jsonld") {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            collect(&v, &mut out);
        }
    }
    out
}
fn collect(v: &serde_json::Value, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::String(s) => {
            out.insert(s.clone());
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| collect(x, out)),
        _ => {}
    }
}

#[test]
fn every_gs1_identifier_in_testdata_parses() {
    let all = strings();
    if all.is_empty() {
        eprintln!("no test data at {DIR}; skipping");
        return;
    }
    let gs1: Vec<&String> = all
        .iter()
        .filter(|s| {
            s.starts_with("urn:epc:id:")
                || s.starts_with("urn:epc:class:")
                || s.starts_with("urn:epc:idpat:")
                || s.starts_with("https://id.gs1.org/")
        })
        .collect();
    assert!(gs1.len() > 50, "found only {} GS1 identifiers", gs1.len());
    for id in &gs1 {
        let k = goods_key(id).unwrap_or_else(|e| panic!("{id}: {e}"));
        // Canonical keys are fixed points and round-trip through a Digital Link.
        assert_eq!(goods_key(&k).unwrap(), k, "{id}");
        assert_eq!(goods_key(&digital_link(&k, "https://id.gs1.org")).unwrap(), k);
    }
    // Both spellings of one lot in the data meet.
    assert_eq!(
        goods_key("urn:epc:class:lgtin:4012345.012345.998877").unwrap(),
        goods_key("https://id.gs1.org/01/04012345123456/10/998877").unwrap()
    );
    assert_eq!(
        goods_key("https://example.com/253/4012345000054987").unwrap(),
        "253/4012345000054987"
    );
    assert_eq!(
        goods_key("https://id.gs1.org/8004/4000001111").unwrap(),
        "8004/4000001111"
    );
    assert_eq!(goods_key("urn:epc:id:giai:4000001.111").unwrap(), "8004/4000001111");
    assert_eq!(
        goods_key("urn:epc:id:pgln:4012345.00225").unwrap(),
        goods_key("urn:epc:id:sgln:4012345.00225.0")
            .unwrap()
            .replacen("414", "417", 1)
    );
    assert_eq!(
        goods_key("urn:epc:id:gsrn:0614141.0000010253").unwrap().len(),
        "8018/".len() + 18
    );
}

#[test]
fn other_uris_in_testdata_are_refused_clearly() {
    for id in [
        "urn:uuid:374d95fc-9457-4a51-bd6a-0bba133845a8",
        "urn:epcglobal:cbv:bt:0614141073467:1152",
        "http://transaction.acme.com/po/12345678",
        "https://id.example.org/document1",
        "https://www.ncbi.nlm.nih.gov/taxonomy/1126011",
        "urn:epc:id:usdod:2S194.12345",
    ] {
        let e = goods_key(id).unwrap_err();
        assert!(e.0.contains(id), "error for {id} does not name it: {e}");
    }
}

#[test]
fn check_digit_examples() {
    assert_eq!(check_digit("0950600013435"), Some(2));
    assert_eq!(check_digit("0401234512345"), Some(6));
    assert_eq!(check_digit("10614141234567890"), Some(8));
    assert_eq!(check_digit("12x"), None);
    assert!(is_valid_gtin("4012345123456") && !is_valid_gtin("4012345123457"));
    assert!(!is_valid_gtin("123"));
}
