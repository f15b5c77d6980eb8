//! Crash safety: a child process (this test binary re-invoked with `STORE_CRASH_DIR` set)
//! commits blocks of 200 transactions in a loop and is killed with SIGKILL; the reopened store
//! must hold exactly the last whole block: head consistent, all of its records and indices
//! present, nothing of the next block. Three kill/reopen rounds on the same store, then a
//! full `verify`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod store_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use store_support::*;
use tradechain_ledger::{Block, SignedTransaction};
use tradechain_store::layout::*;
use tradechain_store::{Head, Store};

const ENV: &str = "STORE_CRASH_DIR";
const TXS_PER_BLOCK: usize = 200;

/// The deterministic transactions of the block after `head` (each org sends 50 instructions,
/// each an event of the item of that block).
fn next_txs(store: &Store, head: &Head) -> Vec<SignedTransaction> {
    let h = head.height + 1;
    let mut nonces = Nonces::from_view(store);
    (0..TXS_PER_BLOCK)
        .map(|i| {
            let org = ORGS[i % ORGS.len()];
            nonces.tx(org, h, instruct_for(&format!("S-{h}-{i}"), &format!("ITEM-{h}")))
        })
        .collect()
}

fn next_block(
    store: &Store,
) -> (
    Block,
    tradechain_ledger::CommitCertificate,
    tradechain_ledger::execute::BlockExecution,
) {
    let head = store.head().unwrap();
    let txs = next_txs(store, &head);
    build_block(&registry(), &genesis(), store, &head, txs)
}

/// The child: commit blocks forever, announcing each.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(ENV) else {
        return; // only runs when re-invoked by `killed_writer_leaves_the_last_whole_block`
    };
    let store = Store::open(Path::new(&dir)).unwrap();
    store.init_genesis(&genesis()).unwrap();
    loop {
        let (block, cert, exec) = next_block(&store);
        store.commit_block(&block, &cert, &exec).unwrap();
        println!("COMMITTED {}", block.header.height);
    }
}

/// Run the child until it has committed `more` blocks beyond `from`, then SIGKILL it while it
/// is writing the next one. Returns the last height it announced.
fn run_and_kill(dir: &Path, from: u64, more: u64) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut last = from;
    for line in out.lines() {
        let line = line.unwrap();
        if let Some(h) = line.strip_prefix("COMMITTED ") {
            last = h.trim().parse().unwrap();
            if last >= from + more {
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    last
}

fn assert_whole_last_block(dir: &Path, announced: u64) -> u64 {
    let store = Store::open(dir).unwrap();
    let head = store.head().unwrap();
    // The child may have committed more blocks after the announcement we read, never fewer.
    assert!(
        head.height >= announced,
        "head {} after announcing {announced}",
        head.height
    );
    let block = store.block(head.height).unwrap().expect("head block is stored whole");
    assert_eq!(block.hash(), head.block_hash);
    assert_eq!(block.header.state_hash, head.state_hash);
    assert_eq!(block.txs.len(), TXS_PER_BLOCK);
    assert_eq!(
        store.certificate(head.height).unwrap().unwrap().block_hash,
        head.block_hash
    );
    assert_eq!(store.outcomes(head.height).unwrap().len(), TXS_PER_BLOCK);
    assert_eq!(store.height_of(&head.block_hash).unwrap(), Some(head.height));
    for (i, t) in block.txs.iter().enumerate() {
        let loc = store.tx_location(&t.id()).unwrap().unwrap();
        assert_eq!((loc.height, loc.index), (head.height, i as u32));
    }
    let events = store
        .item_events(&goods_of(&format!("ITEM-{}", head.height)), 0, 1000)
        .unwrap();
    assert_eq!(events.len(), TXS_PER_BLOCK);

    // Nothing of the next block: no header, body, certificate, outcomes, locations, events.
    let n = head.height + 1;
    assert!(store.header(n).unwrap().is_none());
    assert!(store.block_txs(n).unwrap().is_empty());
    assert!(store.certificate(n).unwrap().is_none());
    assert!(store.outcomes(n).unwrap().is_empty());
    let (next, _, _) = next_block(&store);
    assert!(store.height_of(&next.hash()).unwrap().is_none());
    for t in &next.txs {
        assert!(store.tx_location(&t.id()).unwrap().is_none());
    }
    assert!(
        store
            .item_events(&goods_of(&format!("ITEM-{n}")), 0, 10)
            .unwrap()
            .is_empty()
    );
    for cf in [CF_HEADERS, CF_CERTIFICATES, CF_OUTCOMES] {
        let last = store.iter_cf(cf).unwrap().last().unwrap().unwrap();
        assert_eq!(parse_height(&last.0), Some(head.height), "{cf}");
    }
    head.height
}

#[test]
fn killed_writer_leaves_the_last_whole_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut height = 0;
    for round in 0..3 {
        let announced = run_and_kill(dir.path(), height, 5 + round);
        height = assert_whole_last_block(dir.path(), announced);
    }
    assert!(height >= 18);
    let report = tradechain_store::verify::verify_store_with(dir.path(), &registry(), &mut |_, _| {}).unwrap();
    assert_eq!(report.head.height, height);
    assert_eq!(report.transactions, height * TXS_PER_BLOCK as u64);
}
