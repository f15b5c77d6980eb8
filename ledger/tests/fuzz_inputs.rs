//! Fuzz targets for every ledger decoder and text importer, on the stable toolchain: a seeded
//! mutation fuzzer (bit flips, byte insertions and deletions, splices, multi-byte characters,
//! boundary integers) over a corpus of valid inputs — the demo shipment's transactions, a block,
//! a certificate, every stored record, the GS1 EPCIS examples in `../shared/testdata/epcis/`,
//! genesis JSON and GS1 identifiers. Every input must come back as a value or an error, never a
//! panic. CI runs a bounded number of iterations per target; `FUZZ_ITERS=1000000` runs longer,
//! `FUZZ_SEED=n` replays another sequence. A failure prints the seed, target and iteration.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::path::PathBuf;
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::codec::{self, encode};
use tradechain_ledger::records::*;
use tradechain_ledger::testkit::fuzz::fuzz;
use tradechain_ledger::testkit::{self, Chain};
use tradechain_ledger::{
    Block, BlockHeader, CommitCertificate, Genesis, Payload, SignedTransaction, Transaction, epcis, gs1,
};

fn shipment_txs() -> (Vec<SignedTransaction>, Chain) {
    let mut chain = Chain::demo();
    let mut txs = Vec::new();
    for s in testkit::shipment() {
        let t = chain.tx(s.sender, s.payload.clone());
        txs.push(t.clone());
        let _ = chain.execute(&[t]);
    }
    (txs, chain)
}

fn decode_all(bytes: &[u8]) {
    let _ = codec::decode::<SignedTransaction>(bytes);
    let _ = codec::decode::<Transaction>(bytes);
    let _ = codec::decode::<Payload>(bytes);
    let _ = codec::decode::<Block>(bytes);
    let _ = codec::decode::<BlockHeader>(bytes);
    let _ = codec::decode::<CommitCertificate>(bytes);
    let _ = codec::decode::<Vec<TxOutcome>>(bytes);
    let _ = codec::decode::<TxLocation>(bytes);
    let _ = codec::decode::<WaybillRecord>(bytes);
    let _ = codec::decode::<CertificateRecord>(bytes);
    let _ = codec::decode::<ItemRecord>(bytes);
    let _ = codec::decode::<ItemEventRef>(bytes);
    let _ = codec::decode::<SettlementRecord>(bytes);
    let _ = codec::decode::<ProposalRecord>(bytes);
    let _ = codec::decode::<PendingValidators>(bytes);
    let _ = codec::decode::<EventIdRecord>(bytes);
    let _ = codec::decode::<tradechain_ledger::identity::Org>(bytes);
    let _ = codec::decode::<tradechain_ledger::ValidatorSet>(bytes);
    let _ = tradechain_ledger::state::split_key(bytes);
    // Whatever decodes must re-encode to the same bytes (canonical form).
    if let Ok(t) = codec::decode::<SignedTransaction>(bytes) {
        assert_eq!(encode(&t), bytes, "SignedTransaction decoded from non-canonical bytes");
        let _ = t.id();
    }
    if let Ok(b) = codec::decode::<Block>(bytes) {
        assert_eq!(encode(&b), bytes, "Block decoded from non-canonical bytes");
        let _ = (b.hash(), b.compute_tx_root());
    }
}

#[test]
fn fuzz_borsh_decoders() {
    let (txs, chain) = shipment_txs();
    let mut corpus: Vec<Vec<u8>> = txs.iter().map(encode).collect();
    corpus.extend(txs.iter().map(|t| encode(&t.tx().payload)));
    let block = Block {
        header: BlockHeader {
            version: 1,
            chain_id: chain.genesis.chain_id.clone(),
            height: 1,
            prev_hash: tradechain_ledger::Hash::ZERO,
            tx_root: tradechain_ledger::Hash::ZERO,
            tx_count: 2,
            results_hash: tradechain_ledger::Hash::ZERO,
            time_ms: 1,
            proposer: testkit::secret("CUSTOMS-CN").public(),
            validators_hash: tradechain_ledger::Hash::ZERO,
            state_hash: tradechain_ledger::Hash::ZERO,
        },
        txs: txs.iter().take(2).cloned().collect(),
    };
    corpus.push(encode(&block));
    corpus.push(encode(&block.header));
    corpus.push(encode(&vec![
        TxOutcome::Accepted,
        TxOutcome::Rejected {
            rule: "a.b".into(),
            reason: "é".into(),
        },
    ]));
    // Every stored record the shipment wrote.
    for v in chain.state.0.values() {
        corpus.push(v.clone());
    }
    fuzz("borsh", corpus, decode_all);
}

fn testdata() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into()))
        .join("../../shared/testdata/epcis")
}

#[test]
fn fuzz_epcis_json_import() {
    let mut corpus: Vec<Vec<u8>> = Vec::new();
    if let Ok(dir) = std::fs::read_dir(testdata()) {
        for e in dir.flatten() {
            if e.path().extension().is_some_and(|x| x == "jsonld") {
                corpus.push(std::fs::read(e.path()).unwrap());
            }
        }
    }
    // Deep JSON: nesting far past any sane document.
    corpus.push(format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes());
    corpus.push(
        format!(
            "{{\"epcisBody\":{{\"eventList\":[{}]}}}}",
            "{\"a\":".repeat(5_000) + "1" + &"}".repeat(5_000)
        )
        .into_bytes(),
    );
    assert!(
        corpus.len() > 10,
        "the GS1 examples are missing from {}",
        testdata().display()
    );
    fuzz("epcis", corpus, |bytes| {
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Ok(events) = epcis::import_document(text)
        {
            let _ = epcis::check_limits(&events, &tradechain_ledger::genesis::Limits::default());
        }
    });
}

#[test]
fn fuzz_genesis_json() {
    let g: Genesis = testkit::demo_genesis();
    fuzz("genesis", vec![g.to_json().into_bytes()], |bytes| {
        if let Ok(text) = std::str::from_utf8(bytes)
            && let Ok(g) = Genesis::from_json(text)
        {
            let _ = g.validate();
            let _ = g.validator_set();
            let _ = g.hash();
        }
    });
}

#[test]
fn fuzz_gs1_identifiers() {
    let corpus: Vec<Vec<u8>> = [
        "https://id.gs1.org/01/06901234123456/21/SN0101001",
        "https://example.com/01/09506000134352/10/LOT1?x=1",
        "urn:epc:id:sgtin:6901234.012345.SN0101001",
        "urn:epc:id:sscc:6901234.0000000001",
        "urn:epc:idpat:sgtin:6901234.012345.*",
        "urn:epc:class:lgtin:4012345.012345.998877",
        "urn:epc:id:sgln:6901234.00001.0",
        "urn:epc:id:pgln:6901234.00001",
        "urn:epc:id:grai:4012345.55555.1234",
        "urn:epc:id:giai:4012345.ABC",
        "urn:epc:id:gsrn:4012345.0123456789",
        "urn:epc:id:gdti:4012345.55555.1234",
        "00/169012340000000017",
        "414/6901234000017/254/A",
        "CNFOC",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    fuzz("gs1", corpus, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        let _ = gs1::goods_key(&text);
        let _ = tradechain_ledger::codes::is_unlocode(&text);
        let _ = tradechain_ledger::codes::is_hs_code(&text);
    });
}

#[test]
fn key_parts_of_any_length_never_truncate_or_collide() {
    use tradechain_ledger::state::{Ns, key, split_key};
    let short = vec![b'a'; 10];
    let edge = vec![b'a'; 65_534];
    let long1 = vec![b'a'; 65_535];
    let long2 = vec![b'a'; 65_535 + 10];
    let keys: Vec<Vec<u8>> = [&short, &edge, &long1, &long2]
        .iter()
        .map(|p| key(Ns::Item, &[p, b"x"]))
        .collect();
    for (i, a) in keys.iter().enumerate() {
        for b in keys.iter().skip(i + 1) {
            assert_ne!(a, b);
        }
        let (ns, parts) = split_key(a).expect("splits");
        assert_eq!(ns, Ns::Item);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[1], b"x");
    }
    assert_eq!(split_key(&keys[1]).unwrap().1[0].len(), 65_534);
    assert_eq!(split_key(&keys[2]).unwrap().1[0].len(), 32, "a long part is its hash");
}
