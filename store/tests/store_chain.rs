//! The store's API on a small chain (five blocks: settlements that write to every state
//! namespace, a rejected transaction, a validator-set change, a document deletion, an empty
//! block), its refusals of blocks that do not extend the head, and `verify` finding a tampered
//! byte (in a value and in a key) in every column family, naming the block.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use std::path::Path;
use store_support::*;
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::block_check::BlockCheckError;
use tradechain_ledger::certificate::CertError;
use tradechain_ledger::execute::BlockExecution;
use tradechain_ledger::records::TxLocation;
use tradechain_ledger::state::{Ns, StateView, keys};
use tradechain_ledger::{Block, CommitCertificate, Hash, codec};
use tradechain_store::layout::*;
use tradechain_store::verify::{VerifyError, verify_store_with};
use tradechain_store::{Head, Store, StoreError};

struct Chain {
    blocks: Vec<Block>,
}

fn commit(
    store: &Store,
    nonces: &mut Nonces,
    f: impl FnOnce(&mut Nonces, u64) -> Vec<tradechain_ledger::SignedTransaction>,
) -> Block {
    let head = store.head().unwrap();
    let txs = f(nonces, head.height + 1);
    let (block, cert, exec) = build_block(&registry(), &genesis(), store, &head, txs);
    store.commit_block(&block, &cert, &exec).unwrap();
    block
}

/// Heights: 1 three instructions + one rejected tx; 2 validator set → 4 validators, s4;
/// 3 confirm s2 (deletes VAL-B's waybill s2), s5 by BANK-X; 4 s6 by VAL-C; 5 empty.
fn build_chain(dir: &Path) -> Chain {
    let store = Store::open(dir).unwrap();
    store.init_genesis(&genesis()).unwrap();
    let mut n = Nonces::default();
    let mut blocks = Vec::new();
    blocks.push(commit(&store, &mut n, |n, h| {
        vec![
            n.tx("VAL-A", h, instruct("s1")),
            n.tx("VAL-B", h, instruct("s2")),
            n.tx("BANK-X", h, instruct("s3")),
            sign("VAL-C", 99, h, instruct("bad")),
        ]
    }));
    blocks.push(commit(&store, &mut n, |n, h| {
        vec![
            n.tx("VAL-A", h, set_validators(&["VAL-A", "VAL-B", "VAL-C", "BANK-X"])),
            n.tx("VAL-C", h, instruct("s4")),
        ]
    }));
    blocks.push(commit(&store, &mut n, |n, h| {
        vec![n.tx("VAL-B", h, confirm("s2")), n.tx("BANK-X", h, instruct("s5"))]
    }));
    blocks.push(commit(&store, &mut n, |n, h| vec![n.tx("VAL-C", h, instruct("s6"))]));
    blocks.push(commit(&store, &mut n, |_, _| Vec::new()));
    Chain { blocks }
}

fn verify(dir: &Path) -> Result<tradechain_store::verify::VerifyReport, VerifyError> {
    verify_store_with(dir, &registry(), &mut |_, _| {})
}

#[test]
fn genesis_is_idempotent_and_refuses_another() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert!(matches!(store.head(), Err(StoreError::NoGenesis)));
    let g = genesis();
    store.init_genesis(&g).unwrap();
    store.init_genesis(&g).unwrap();
    let head = store.head().unwrap();
    assert_eq!(head.height, 0);
    assert_eq!(head.block_hash, g.hash());
    let gw = tradechain_ledger::execute::genesis_writes(&g).unwrap();
    let mut tree = tradechain_ledger::state_tree::MemTree::default();
    let genesis_tree = tradechain_ledger::state_tree::update(&tree, 0, &gw).unwrap();
    tree.apply(&genesis_tree);
    assert_eq!(head.state_hash, genesis_tree.root);
    assert_eq!(store.state_root(0).unwrap(), genesis_tree.root);
    let mut other = g.clone();
    other.chain_id = "another".into();
    match store.init_genesis(&other) {
        Err(StoreError::GenesisMismatch { stored, given }) => {
            assert_eq!(stored, g.hash());
            assert_eq!(given, other.hash());
        }
        r => panic!("expected a genesis mismatch, got {r:?}"),
    }
    assert_eq!(store.genesis().unwrap(), g);
    assert_eq!(store.validator_set_at(1).unwrap(), g.validator_set().unwrap());
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.head().unwrap(), head);
    drop(store);

    // A store an older build wrote (no layout record: layout 1, one tree version per height)
    // or another layout is refused at open, read-write and read-only, naming both layouts.
    for record in [None, Some(1u32), Some(LAYOUT_VERSION + 1)] {
        {
            let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), dir.path(), Store::column_families()).unwrap();
            let chain = db.cf_handle(CF_CHAIN).unwrap();
            match record {
                None => db.delete_cf(chain, KEY_LAYOUT).unwrap(),
                Some(v) => db.put_cf(chain, KEY_LAYOUT, v.to_be_bytes()).unwrap(),
            }
        }
        let found = record.unwrap_or(1);
        for opened in [Store::open(dir.path()), Store::open_read_only(dir.path())] {
            match opened {
                Err(e @ StoreError::Layout { .. }) => {
                    assert!(
                        matches!(e, StoreError::Layout { found: f, expected: LAYOUT_VERSION } if f == found),
                        "{e}"
                    );
                    assert!(e.to_string().contains("empty data directory"), "{e}");
                }
                r => panic!("a layout-{found} store opened: {:?}", r.map(|_| ())),
            }
        }
    }
}

#[test]
fn commit_refuses_blocks_that_do_not_extend_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = genesis();
    store.init_genesis(&g).unwrap();
    let head = store.head().unwrap();
    let txs = vec![sign("VAL-A", 1, 1, instruct("s1"))];
    let (block, cert, exec) = build_block(&registry(), &g, &store, &head, txs);

    let recert = |b: &Block| certify(&g, &g.validator_set().unwrap(), b);
    let rehash = |mut b: Block| {
        b.header.tx_root = b.compute_tx_root();
        b
    };
    let try_commit = |b: &Block, c: &CommitCertificate, e: &BlockExecution| store.commit_block(b, c, e);

    let mut b = block.clone();
    b.header.height = 2;
    assert!(matches!(
        try_commit(&b, &recert(&b), &exec),
        Err(StoreError::Block(BlockCheckError::WrongHeight { expected: 1, got: 2 }))
    ));
    let mut b = block.clone();
    b.header.prev_hash = Hash([7; 32]);
    assert!(matches!(
        try_commit(&b, &recert(&b), &exec),
        Err(StoreError::Block(BlockCheckError::WrongPrevHash { height: 1, .. }))
    ));
    let mut b = block.clone();
    b.header.chain_id = "x".into();
    assert!(matches!(
        try_commit(&b, &recert(&b), &exec),
        Err(StoreError::Block(BlockCheckError::WrongChainId { .. }))
    ));
    let mut b = block.clone();
    b.header.time_ms = GENESIS_TIME;
    assert!(matches!(
        try_commit(&b, &recert(&b), &exec),
        Err(StoreError::Block(BlockCheckError::TimeNotIncreasing { .. }))
    ));
    let mut b = block.clone();
    b.txs.push(sign("VAL-B", 1, 1, instruct("s2")));
    let b = rehash(b);
    assert!(matches!(
        try_commit(&b, &recert(&b), &exec),
        Err(StoreError::Block(BlockCheckError::TxCountMismatch { .. }))
    ));
    let mut b = block.clone();
    b.header.tx_root = Hash([1; 32]);
    assert!(matches!(
        try_commit(&b, &recert(&b), &exec),
        Err(StoreError::Block(BlockCheckError::WrongTxRoot { .. }))
    ));
    let mut e = exec.clone();
    e.outcomes[0] = TxOutcome::Rejected {
        rule: "r".into(),
        reason: "x".into(),
    };
    assert!(matches!(
        try_commit(&block, &cert, &e),
        Err(StoreError::WrongResultsHash { .. })
    ));
    let mut e = exec.clone();
    e.writes.insert(keys::item("extra"), Some(vec![1]));
    assert!(matches!(
        try_commit(&block, &cert, &e),
        Err(StoreError::WrongStateHash { .. })
    ));
    let mut b = block.clone();
    b.header.validators_hash = Hash([2; 32]);
    assert!(matches!(
        try_commit(&b, &recert(&b), &exec),
        Err(StoreError::WrongValidatorsHash { .. })
    ));
    // A certificate for another block, one short of quorum, and one with a forged signature.
    let mut other = block.clone();
    other.header.time_ms += 1;
    assert!(matches!(
        try_commit(&block, &recert(&other), &exec),
        Err(StoreError::BadCertificate {
            source: CertError::WrongBlock { .. },
            ..
        })
    ));
    let mut c = cert.clone();
    c.signatures.truncate(2);
    assert!(matches!(
        try_commit(&block, &c, &exec),
        Err(StoreError::BadCertificate {
            source: CertError::NoQuorum { .. },
            ..
        })
    ));
    let mut c = cert.clone();
    c.signatures[1].signature.0[5] ^= 1;
    assert!(matches!(
        try_commit(&block, &c, &exec),
        Err(StoreError::BadCertificate {
            source: CertError::BadSignature(_),
            ..
        })
    ));
    // Nothing was written by the refused attempts; the genuine block then commits.
    assert_eq!(store.head().unwrap(), head);
    assert!(store.header(1).unwrap().is_none());
    store.commit_block(&block, &cert, &exec).unwrap();
    assert_eq!(store.head().unwrap().height, 1);
    assert!(matches!(
        store.commit_block(&block, &cert, &exec),
        Err(StoreError::Block(BlockCheckError::WrongHeight { expected: 2, got: 1 }))
    ));
}

#[test]
fn reads_return_what_was_committed() {
    let dir = tempfile::tempdir().unwrap();
    let chain = build_chain(dir.path());
    let store = Store::open(dir.path()).unwrap();
    let head = store.head().unwrap();
    assert_eq!(head.height, 5);
    assert_eq!(head.block_hash, chain.blocks[4].hash());
    assert_eq!(head.state_hash, chain.blocks[4].header.state_hash);
    for b in &chain.blocks {
        let h = b.header.height;
        assert_eq!(store.block(h).unwrap().as_ref(), Some(b));
        assert_eq!(store.header(h).unwrap().as_ref(), Some(&b.header));
        assert_eq!(store.height_of(&b.hash()).unwrap(), Some(h));
        let cert = store.certificate(h).unwrap().unwrap();
        assert_eq!(cert.block_hash, b.hash());
        let outcomes = store.outcomes(h).unwrap();
        assert_eq!(outcomes.len(), b.txs.len());
        for (i, t) in b.txs.iter().enumerate() {
            let loc = TxLocation {
                height: h,
                index: i as u32,
            };
            assert_eq!(store.tx_location(&t.id()).unwrap(), Some(loc));
            let (stx, l, o) = store.transaction(&t.id()).unwrap().unwrap();
            assert_eq!((&stx, l, &o), (t, loc, &outcomes[i]));
            let proof = store.inclusion_proof(h, i as u32).unwrap().unwrap();
            assert!(proof.verify(&t.leaf_bytes(), &b.header.tx_root));
            // The stored outcome tree proves this transaction's verdict, and no other.
            let out = store.outcome_proof(h, i as u32).unwrap().unwrap();
            let leaf = tradechain_ledger::block::outcome_leaf(i as u32, &outcomes[i]);
            assert!(out.verify_hash(&leaf, &b.header.results_hash));
            assert_eq!(Some(out), tradechain_ledger::block::outcome_proof(&outcomes, i));
            let flipped = match &outcomes[i] {
                tradechain_ledger::TxOutcome::Accepted => tradechain_ledger::TxOutcome::Rejected {
                    rule: "x".into(),
                    reason: "y".into(),
                },
                _ => tradechain_ledger::TxOutcome::Accepted,
            };
            let proof = store.outcome_proof(h, i as u32).unwrap().unwrap();
            assert!(!proof.verify_hash(
                &tradechain_ledger::block::outcome_leaf(i as u32, &flipped),
                &b.header.results_hash
            ));
        }
        assert!(store.inclusion_proof(h, b.txs.len() as u32).unwrap().is_none());
        assert!(store.outcome_proof(h, b.txs.len() as u32).unwrap().is_none());
    }
    assert!(store.block(6).unwrap().is_none());
    assert!(store.outcomes(6).unwrap().is_empty());
    assert!(store.transaction(&Hash([9; 32])).unwrap().is_none());
    // Block 1: three accepted, the bad nonce rejected.
    let o1 = store.outcomes(1).unwrap();
    assert_eq!(o1[..3], [TxOutcome::Accepted, TxOutcome::Accepted, TxOutcome::Accepted]);
    assert!(matches!(&o1[3], TxOutcome::Rejected { rule, .. } if rule == "membership.nonce"));

    // One item, six events, a hash chain in order.
    let events = store.item_events(&goods_of("ITEM1"), 0, 100).unwrap();
    assert_eq!(events.len(), 6);
    let mut prev = Hash::ZERO;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64);
        assert_eq!(e.prev_event_hash, prev);
        prev = e.event_hash;
    }
    assert_eq!(events[3].at, TxLocation { height: 2, index: 1 });
    let tail = store.item_events(&goods_of("ITEM1"), 4, 1).unwrap();
    assert_eq!(tail, events[4..5]);
    assert!(store.item_events(&goods_of("ITEM1"), 6, 10).unwrap().is_empty());
    assert!(store.item_events(&goods_of("ITEM"), 0, 10).unwrap().is_empty());

    // Document history: VAL-B's waybill s2 was written at 1 and deleted at 3.
    let wb = keys::waybill(&org_id("VAL-B"), "s2");
    let hist = store.document_history(&wb).unwrap();
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[0].0, 1);
    assert!(hist[0].1.is_some());
    assert_eq!(hist[1], (3, None));
    assert!(store.get(&wb).is_none());
    let st = store
        .document_history(&keys::settlement(&org_id("VAL-A"), "s2"))
        .unwrap();
    assert_eq!(st.iter().map(|(h, _)| *h).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(
        st[1].1.as_deref(),
        store.get(&keys::settlement(&org_id("VAL-A"), "s2")).as_deref()
    );

    // Scans by namespace and key prefix.
    assert_eq!(store.scan(Ns::Settlement, &[], 100).unwrap().len(), 6);
    assert_eq!(store.scan(Ns::Settlement, &[], 4).unwrap().len(), 4);
    assert_eq!(store.scan(Ns::Org, &[], 100).unwrap().len(), 4);
    let val_c = keys::waybill(&org_id("VAL-C"), "");
    let prefix = &val_c[..val_c.len() - 2];
    let got = store.scan(Ns::Waybill, prefix, 100).unwrap();
    assert_eq!(got.len(), 2, "VAL-C issued s4 and s6");
    assert!(got.iter().all(|(k, _)| k.starts_with(prefix)));
    assert!(matches!(
        store.scan(Ns::Org, &[Ns::Item as u8], 10),
        Err(StoreError::BadPrefix { .. })
    ));

    // Validator sets: genesis's certifies 1 and 2; the set written at 2 certifies 3 onwards.
    let g = genesis().validator_set().unwrap();
    assert_eq!(store.validator_set_at(1).unwrap(), g);
    assert_eq!(store.validator_set_at(2).unwrap(), g);
    assert_eq!(store.validator_set_at(3).unwrap().len(), 4);
    assert_eq!(store.validator_set_at(99).unwrap().len(), 4);
    assert_eq!(
        chain.blocks[2].header.validators_hash,
        store.validator_set_at(3).unwrap().hash()
    );

    drop(store);
    let report = verify(dir.path()).unwrap();
    assert_eq!(report.blocks, 5);
    assert_eq!(report.transactions, 9);
    assert_eq!(report.accepted, 8);
    assert_eq!(report.head.height, 5);
}

#[test]
fn verify_progress_counts_every_block() {
    let dir = tempfile::tempdir().unwrap();
    build_chain(dir.path());
    let mut seen = Vec::new();
    verify_store_with(dir.path(), &registry(), &mut |h, of| seen.push((h, of))).unwrap();
    assert_eq!(seen, (1..=5).map(|h| (h, 5)).collect::<Vec<_>>());
}

/// Which entry of each column family to tamper with, and the block verify must name.
fn targets(chain: &Chain, dir: &Path) -> Vec<(&'static str, Vec<u8>, u64)> {
    let b3 = &chain.blocks[2];
    let org = |o: &str| org_id(o);
    // A state-tree node made by block 3 (its key starts with the version, u64 little-endian).
    let node3 = {
        let store = Store::open_read_only(dir).unwrap();
        store
            .iter_cf(CF_JMT_NODES)
            .unwrap()
            .map(|r| r.unwrap().0)
            .find(|k| k.starts_with(&3u64.to_le_bytes()))
            .expect("block 3 made state-tree nodes")
    };
    vec![
        (CF_JMT_NODES, node3, 3),
        (CF_HEADERS, height_key(3).to_vec(), 3),
        (CF_BLOCKS, tx_key(3, 0).to_vec(), 3),
        (CF_TX_MERKLE, height_key(3).to_vec(), 3),
        (CF_OUTCOME_MERKLE, height_key(3).to_vec(), 3),
        (CF_CERTIFICATES, height_key(3).to_vec(), 3),
        (CF_OUTCOMES, height_key(3).to_vec(), 3),
        (CF_BLOCK_HASHES, b3.hash().0.to_vec(), 3),
        (CF_TX_LOCATIONS, b3.txs[1].id().0.to_vec(), 3),
        (
            CF_DOC_HISTORY,
            doc_history_key(&keys::settlement(&org_id("VAL-A"), "s5"), 3),
            3,
        ),
        (CF_VALIDATOR_SETS, height_key(2).to_vec(), 2),
        (CF_CHAIN, KEY_HEAD.to_vec(), 5),
        (Ns::Org.cf_name(), keys::org(&org("VAL-A")), 0),
        (Ns::Nonce.cf_name(), keys::nonce(&org("BANK-X")), 3),
        (Ns::Waybill.cf_name(), keys::waybill(&org("VAL-C"), "s6"), 4),
        (Ns::Certificate.cf_name(), keys::certificate(&org("BANK-X"), "s5"), 3),
        (Ns::Item.cf_name(), keys::item(&goods_of("ITEM1")), 4),
        (Ns::ItemEvent.cf_name(), keys::item_event(&goods_of("ITEM1"), 3), 2),
        (Ns::Settlement.cf_name(), keys::settlement(&org_id("VAL-A"), "s1"), 1),
        (Ns::Meta.cf_name(), keys::validators(), 2),
        (Ns::EventId.cf_name(), keys::event_id("s6"), 4),
    ]
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

/// Open the raw RocksDB (not through `Store`) and change one entry.
fn tamper(dir: &Path, cf: &str, key: &[u8], flip_key: bool) {
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(false);
    let db = rocksdb::DB::open_cf(&opts, dir, Store::column_families()).unwrap();
    let h = db.cf_handle(cf).unwrap();
    let mut value = db
        .get_cf(h, key)
        .unwrap()
        .unwrap_or_else(|| panic!("{cf}: no entry {}", hex::encode(key)));
    if flip_key {
        let mut k = key.to_vec();
        *k.last_mut().unwrap() ^= 0x80;
        db.delete_cf(h, key).unwrap();
        db.put_cf(h, k, value).unwrap();
    } else {
        *value.last_mut().unwrap() ^= 0x01;
        db.put_cf(h, key, value).unwrap();
    }
    db.flush_cf(h).unwrap();
}

#[test]
fn verify_names_the_block_of_a_tampered_byte_in_every_column_family() {
    let base = tempfile::tempdir().unwrap();
    let clean = base.path().join("clean");
    let chain = build_chain(&clean);
    verify(&clean).unwrap();
    let targets = targets(&chain, &clean);
    // Every column family is covered.
    let mut covered: Vec<&str> = targets.iter().map(|t| t.0).collect();
    covered.sort();
    let mut all = Store::column_families();
    all.sort();
    assert_eq!(covered, all);

    for (i, (cf, key, height)) in targets.iter().enumerate() {
        for flip_key in [false, true] {
            let dir = base.path().join(format!("t{i}-{flip_key}"));
            copy_dir(&clean, &dir);
            tamper(&dir, cf, key, flip_key);
            // A missing head record cannot name a block; it is reported against genesis.
            let want = if *cf == CF_CHAIN && flip_key { 0 } else { *height };
            match verify(&dir) {
                Ok(_) => panic!("{cf} (key flipped: {flip_key}): tampering not found"),
                Err(e) => assert_eq!(e.height, want, "{cf} (key flipped: {flip_key}): {e}"),
            }
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

#[test]
fn verify_finds_a_block_whose_writes_were_not_what_execution_gives() {
    // A block committed with a hand-made execution (an extra write) passes the store's own
    // checks (the header commits to it) but not re-execution.
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        let g = genesis();
        store.init_genesis(&g).unwrap();
        let head = store.head().unwrap();
        let (block, cert, exec) = build_block(
            &registry(),
            &g,
            &store,
            &head,
            vec![sign("VAL-A", 1, 1, instruct("s1"))],
        );
        store.commit_block(&block, &cert, &exec).unwrap();
        let head = store.head().unwrap();
        let (mut block, _, mut exec) = build_block(
            &registry(),
            &g,
            &store,
            &head,
            vec![sign("VAL-A", 2, 2, instruct("s2"))],
        );
        exec.writes.insert(keys::item("forged"), Some(codec::encode(&1u8)));
        block.header.state_hash = store.state_update(2, &exec.writes).unwrap().root;
        let cert = certify(&g, &g.validator_set().unwrap(), &block);
        store.commit_block(&block, &cert, &exec).unwrap();
        let _: Head = store.head().unwrap();
    }
    let e = verify(dir.path()).unwrap_err();
    assert_eq!(e.height, 2, "{e}");
    assert!(e.what.contains("state_hash"), "{e}");
}

/// A dishonest proposer's block that honest validators refuse (`node::blocks::check_block`) is
/// refused by the store too, through the same check: a header version it does not know, more
/// bytes than `max_block_bytes`, and a transaction committed before included again — which would
/// otherwise overwrite where and how that transaction was committed.
#[test]
fn the_store_refuses_what_a_dishonest_proposer_slips_in() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = genesis();
    store.init_genesis(&g).unwrap();
    let head = store.head().unwrap();
    let tx = sign("VAL-A", 1, 1, instruct("s1"));
    let (block, cert, exec) = build_block(&registry(), &g, &store, &head, vec![tx.clone()]);

    let mut b = block.clone();
    b.header.version = 2;
    let c = certify(&g, &g.validator_set().unwrap(), &b);
    assert!(matches!(
        store.commit_block(&b, &c, &exec),
        Err(StoreError::Block(BlockCheckError::Version { got: 2, .. }))
    ));
    let parent = tradechain_ledger::block_check::Parent {
        height: 0,
        block_hash: head.block_hash,
        time_ms: GENESIS_TIME,
    };
    let mut small = g.clone();
    small.consensus.max_block_bytes = tradechain_ledger::block_check::encoded_len(&block) - 1;
    assert!(matches!(
        tradechain_ledger::block_check::check_links(&small, &parent, &block),
        Err(BlockCheckError::TooLarge { .. })
    ));

    store.commit_block(&block, &cert, &exec).unwrap();
    let head = store.head().unwrap();
    // Block 2 carries the committed transaction again (it re-executes as a nonce rejection).
    let (again, cert2, exec2) = build_block(&registry(), &g, &store, &head, vec![tx.clone()]);
    assert!(matches!(
        store.commit_block(&again, &cert2, &exec2),
        Err(StoreError::TxAlreadyCommitted {
            height: 2,
            index: 0,
            at: 1,
            ..
        })
    ));
    assert_eq!(
        store.tx_location(&tx.id()).unwrap(),
        Some(TxLocation { height: 1, index: 0 })
    );
    assert_eq!(store.head().unwrap().height, 1, "nothing of block 2 was written");
}

#[test]
fn state_proofs_served_by_the_store_check_against_the_head_header() {
    let dir = tempfile::tempdir().unwrap();
    build_chain(dir.path());
    let store = Store::open(dir.path()).unwrap();
    let head = store.head().unwrap();
    let header = store.header(head.height).unwrap().unwrap();
    assert_eq!(store.state_root(head.height).unwrap(), header.state_hash);
    let older = store.header(head.height - 2).unwrap().unwrap();
    assert_ne!(older.state_hash, header.state_hash);
    for key in [
        keys::nonce(&org_id("BANK-X")),
        keys::validators(),
        keys::item(&goods_of("ITEM1")),
        keys::item_head("00/nothing-recorded"),
    ] {
        let p = store.prove_state_at(&key, head.height).unwrap().unwrap();
        assert_eq!(p.height, head.height);
        assert_eq!(p.value, store.state_get(&key).unwrap());
        p.proof.verify(&header.state_hash, &key, p.value.as_deref()).unwrap();
        // Not under another block's root, and not for another value.
        assert!(p.proof.verify(&older.state_hash, &key, p.value.as_deref()).is_err());
        let other = match &p.value {
            Some(_) => None,
            None => Some(&b"forged"[..]),
        };
        assert!(p.proof.verify(&header.state_hash, &key, other).is_err());
    }
}
