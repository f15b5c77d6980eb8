//! The submission journal: transactions this node acknowledged, on disk, so an acknowledgement
//! survives the node's crash ("acknowledged means kept").
//!
//! Decision: a node acknowledges a submission (gRPC `Submit` returns, `SubmitEpcis` answers)
//! only once the transaction is in this journal **and the journal is fsynced** — durable on the
//! node that took it, not "held by a quorum of peers". Peers get it by gossip as before; a node
//! that restarts re-admits its journal and offers it to its peers again; a node that never comes
//! back loses nothing its client cannot recover, because the client holds the signed bytes and
//! resubmits what `WaitForCommit` / `GetTransaction` report unknown (the CLI and `bench load` do).
//!
//! Format: a sequence of records `len: u32 LE ‖ SHA-256(body) ‖ body`, body = the borsh of a
//! `SignedTransaction`. Reading stops at the first record that is short, longer than
//! `MAX_RECORD_BYTES` or fails its hash (a torn write from a crash, or damage); the file is cut
//! there, so later appends never follow garbage. What a cut record held was never acknowledged
//! (an acknowledgement waits for the fsync that covers its record).
//!
//! Group commit: `append` queues a record and returns its sequence number at once (it runs under
//! the mempool lock); one writer thread writes whatever is queued and fsyncs once for all of it;
//! `wait_durable(seq)` resolves when a sync covered `seq`. A write or sync error fails the journal
//! for good: every waiting and later acknowledgement is refused (UNAVAILABLE), never faked.
//!
//! Invariants:
//! - An acknowledged record is on disk before the acknowledgement leaves (`wait_durable`).
//! - Records are written in `append` order, and a compaction (`compact`) is applied in the same
//!   order: every record queued before it is covered by its snapshot, every record after it lands
//!   in the new file. The caller takes the snapshot and queues it under the same lock its appends
//!   hold (the mempool lock), so nothing admitted is ever dropped by a compaction.
//! - Bounded (`bound`, the one rule): a compaction rewrites the file from the live pending set
//!   once it exceeds `COMPACT_MIN_BYTES` and twice the live bytes; the node applies it after
//!   every append and every commit, so the file stays within max(`COMPACT_MIN_BYTES`, 2 × the pending bytes) plus
//!   what is queued — a member replacing its pending transactions over and over while the chain
//!   stalls does not grow it without bound.
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use tokio::sync::watch;
use tradechain_ledger::{SignedTransaction, codec};

/// No record is longer (a transaction is far smaller: the genesis' `max_tx_bytes`).
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;
/// Below this size the journal is never compacted.
pub const COMPACT_MIN_BYTES: u64 = 64 * 1024 * 1024;
const HEADER: usize = 4 + 32;

/// How far the journal is synced, or why it failed.
#[derive(Clone, Debug, Default)]
struct Synced {
    seq: u64,
    failed: Option<String>,
}

enum Cmd {
    Append(Vec<u8>),
    /// Replace the file by these transactions' records (framed by the writer thread, not under
    /// the caller's lock).
    Compact(Vec<SignedTransaction>),
}

#[derive(Default)]
struct Queue {
    cmds: VecDeque<Cmd>,
    /// The sequence number of the last queued append.
    last_seq: u64,
    /// The file's size once everything queued is written (what the bound looks at: the writer
    /// may lag far behind a burst of appends).
    bytes: u64,
    closed: bool,
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Condvar,
    synced: watch::Sender<Synced>,
}

pub struct SubmitJournal {
    inner: Arc<Inner>,
    writer: Option<std::thread::JoinHandle<()>>,
}

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("submission journal {path}: {err}")]
    Io { path: PathBuf, err: std::io::Error },
    #[error("submission journal failed, this node cannot acknowledge submissions: {0}")]
    Failed(String),
}

fn frame(body: &[u8], out: &mut Vec<u8>) {
    // Bodies are transactions, far below u32::MAX; `append` refuses anything larger than
    // MAX_RECORD_BYTES before framing.
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(body));
    out.extend_from_slice(body);
}

/// The records of a journal's bytes, and the length of the prefix they span (what follows is
/// a torn or damaged tail).
fn parse(bytes: &[u8]) -> (Vec<SignedTransaction>, usize) {
    let mut out = Vec::new();
    let mut at = 0usize;
    while let Some(head) = bytes.get(at..at + HEADER) {
        let (len, hash) = head.split_at(4);
        let mut len4 = [0u8; 4];
        len4.copy_from_slice(len);
        let len = u32::from_le_bytes(len4) as usize;
        if len > MAX_RECORD_BYTES {
            break;
        }
        let Some(body) = bytes.get(at + HEADER..at + HEADER + len) else {
            break;
        };
        if Sha256::digest(body).as_slice() != hash {
            break;
        }
        match codec::decode::<SignedTransaction>(body) {
            Ok(tx) => out.push(tx),
            // A record whose hash holds but does not decode was written by other code: stop
            // here as for damage rather than guess.
            Err(_) => break,
        }
        at += HEADER + len;
    }
    (out, at)
}

impl SubmitJournal {
    /// Open (or create) the journal at `path`; returns it with the transactions it holds, in the
    /// order they were appended. A torn or damaged tail is cut off.
    pub fn open(path: &Path) -> Result<(SubmitJournal, Vec<SignedTransaction>), JournalError> {
        let io = |err| JournalError::Io {
            path: path.to_path_buf(),
            err,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let (txs, good) = parse(&bytes);
        if good < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                cut = bytes.len() - good,
                "submission journal: cutting a torn or damaged tail (never acknowledged)"
            );
            file.set_len(good as u64).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let (synced, _) = watch::channel(Synced::default());
        let inner = Arc::new(Inner {
            queue: Mutex::new(Queue {
                bytes: good as u64,
                ..Queue::default()
            }),
            wake: Condvar::new(),
            synced,
        });
        let (w_inner, w_path) = (inner.clone(), path.to_path_buf());
        let writer = std::thread::Builder::new()
            .name("submit-journal".into())
            .spawn(move || write_loop(&w_inner, &w_path, file))
            .map_err(io)?;
        Ok((
            SubmitJournal {
                inner,
                writer: Some(writer),
            },
            txs,
        ))
    }

    /// Queue a transaction's encoding (`codec::encode`, made by the caller outside its lock);
    /// returns the sequence number `wait_durable` waits for.
    pub fn append(&self, body: &[u8]) -> Result<u64, JournalError> {
        if body.len() > MAX_RECORD_BYTES {
            return Err(JournalError::Failed(format!(
                "a {} B transaction exceeds the record limit",
                body.len()
            )));
        }
        if let Some(why) = self.inner.synced.borrow().failed.clone() {
            return Err(JournalError::Failed(why));
        }
        let mut rec = Vec::with_capacity(HEADER + body.len());
        frame(body, &mut rec);
        let mut q = self
            .inner
            .queue
            .lock()
            .map_err(|_| JournalError::Failed("queue lock poisoned".into()))?;
        q.last_seq += 1;
        q.bytes += rec.len() as u64;
        q.cmds.push_back(Cmd::Append(rec));
        let seq = q.last_seq;
        drop(q);
        self.inner.wake.notify_one();
        Ok(seq)
    }

    /// The sequence number of the last queued append (0: none yet).
    pub fn last_seq(&self) -> u64 {
        self.inner.queue.lock().map(|q| q.last_seq).unwrap_or(u64::MAX)
    }

    /// Replace the journal's content by `live` (the pending set), after every record queued so far.
    pub fn compact(&self, live: Vec<SignedTransaction>) {
        let bytes = live
            .iter()
            .map(|t| (HEADER + borsh::object_length(t).unwrap_or(0)) as u64)
            .sum();
        if let Ok(mut q) = self.inner.queue.lock() {
            q.bytes = bytes;
            q.cmds.push_back(Cmd::Compact(live));
        }
        self.inner.wake.notify_one();
    }

    /// The file's size once everything queued is written.
    pub fn file_bytes(&self) -> u64 {
        self.inner.queue.lock().map(|q| q.bytes).unwrap_or(0)
    }

    /// The bound: compact from `snapshot()` (the pending set, `live_bytes` of it) once the file
    /// exceeds `COMPACT_MIN_BYTES` and twice the live bytes. Called under the lock the appends
    /// hold, after every append and every commit; returns whether it compacted.
    pub fn bound(&self, live_bytes: usize, snapshot: impl FnOnce() -> Vec<SignedTransaction>) -> bool {
        let f = self.file_bytes();
        let over = f > COMPACT_MIN_BYTES && f > 2 * live_bytes as u64;
        if over {
            self.compact(snapshot());
        }
        over
    }

    /// Resolves once a sync covered `seq`, or fails when the journal has failed.
    pub fn wait_durable(&self, seq: u64) -> impl std::future::Future<Output = Result<(), JournalError>> + use<> {
        let mut rx = self.inner.synced.subscribe();
        async move {
            let s = rx
                .wait_for(|s| s.seq >= seq || s.failed.is_some())
                .await
                .map_err(|_| JournalError::Failed("the journal writer stopped".into()))?
                .clone();
            match s.failed {
                Some(why) if s.seq < seq => Err(JournalError::Failed(why)),
                _ => Ok(()),
            }
        }
    }
}

impl Drop for SubmitJournal {
    fn drop(&mut self) {
        if let Ok(mut q) = self.inner.queue.lock() {
            q.closed = true;
        }
        self.inner.wake.notify_one();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

fn write_loop(inner: &Inner, path: &Path, mut file: File) {
    loop {
        let (cmds, seq, closed) = {
            let Ok(mut q) = inner.queue.lock() else { return };
            while q.cmds.is_empty() && !q.closed {
                q = match inner.wake.wait(q) {
                    Ok(q) => q,
                    Err(_) => return,
                };
            }
            (std::mem::take(&mut q.cmds), q.last_seq, q.closed)
        };
        if !cmds.is_empty() {
            match apply(&mut file, path, cmds) {
                Ok(()) => {
                    inner.synced.send_modify(|s| s.seq = seq);
                }
                Err(e) => {
                    tracing::error!(path = %path.display(), "submission journal failed: {e}");
                    inner.synced.send_modify(|s| s.failed = Some(e.to_string()));
                    return;
                }
            }
        }
        if closed {
            return;
        }
    }
}

/// Write the commands in order and sync once.
fn apply(file: &mut File, path: &Path, cmds: VecDeque<Cmd>) -> std::io::Result<()> {
    for cmd in cmds {
        match cmd {
            Cmd::Append(rec) => {
                file.write_all(&rec)?;
            }
            Cmd::Compact(live) => {
                let mut buf = Vec::new();
                for tx in &live {
                    frame(&codec::encode(tx), &mut buf);
                }
                let tmp = path.with_extension("compacting");
                let mut f = File::create(&tmp)?;
                f.write_all(&buf)?;
                f.sync_all()?;
                drop(f);
                std::fs::rename(&tmp, path)?;
                if let Some(dir) = path.parent() {
                    File::open(dir)?.sync_all()?;
                }
                *file = OpenOptions::new().read(true).append(true).open(path)?;
            }
        }
    }
    file.sync_data()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tradechain_ledger::payload::{Action, EventType};
    use tradechain_ledger::testkit::{Chain, event};
    use tradechain_ledger::{Hash, Payload};

    fn txs(n: u64) -> Vec<SignedTransaction> {
        let c = Chain::demo();
        (1..=n)
            .map(|i| {
                let epc = format!("urn:epc:id:sgtin:6901234.012345.J{i}");
                let mut e = event(EventType::ObjectEvent, Some(Action::Add), &[&epc], 1_000);
                e.biz_step = Some("commissioning".into());
                c.sign("PRODUCER-FZ", i, Payload::Provenance(e))
            })
            .collect()
    }

    fn ids(v: &[SignedTransaction]) -> Vec<Hash> {
        v.iter().map(|t| t.id()).collect()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn what_was_acknowledged_is_read_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("submissions.journal");
        let all = txs(20);
        {
            let (j, old) = SubmitJournal::open(&path).unwrap();
            assert!(old.is_empty());
            let mut last = 0;
            for t in &all {
                last = j.append(&codec::encode(t)).unwrap();
            }
            assert_eq!(last, all.len() as u64);
            block_on(j.wait_durable(last)).unwrap();
            // No clean shutdown matters: the data is synced before the wait resolves.
            std::mem::forget(j);
        }
        let (_j, back) = SubmitJournal::open(&path).unwrap();
        assert_eq!(ids(&back), ids(&all));
    }

    #[test]
    fn a_torn_or_damaged_tail_is_cut_and_appends_continue_after_the_good_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let all = txs(5);
        {
            let (j, _) = SubmitJournal::open(&path).unwrap();
            for t in &all {
                j.append(&codec::encode(t)).unwrap();
            }
        }
        let full = std::fs::read(&path).unwrap();
        let one = HEADER + codec::encode(&all[0]).len();
        // Torn in the middle of the third record.
        for cut in [full.len() - 1, one * 2 + 3, one * 2 + HEADER + 1] {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (j, back) = SubmitJournal::open(&path).unwrap();
            let expect = if cut == full.len() - 1 { 4 } else { 2 };
            assert_eq!(back.len(), expect, "cut at {cut}");
            assert_eq!(std::fs::metadata(&path).unwrap().len() as usize % one, 0);
            drop(j);
        }
        // A flipped body byte in record 2 (hash fails), and an absurd length in record 2.
        let mut flip = full.clone();
        flip[one + HEADER + 7] ^= 1;
        let mut huge = full.clone();
        huge[one..one + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        for bad in [flip, huge] {
            std::fs::write(&path, &bad).unwrap();
            let (j, back) = SubmitJournal::open(&path).unwrap();
            assert_eq!(ids(&back), ids(&all[..1]));
            let s = j.append(&codec::encode(&all[4])).unwrap();
            block_on(j.wait_durable(s)).unwrap();
            drop(j);
            let (_j, back) = SubmitJournal::open(&path).unwrap();
            assert_eq!(ids(&back), vec![all[0].id(), all[4].id()]);
        }
    }

    #[test]
    fn a_compaction_keeps_the_snapshot_and_every_later_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let all = txs(10);
        let (j, _) = SubmitJournal::open(&path).unwrap();
        for t in &all[..6] {
            j.append(&codec::encode(t)).unwrap();
        }
        // Live: 4 and 5 (the rest committed); then more arrive.
        j.compact(all[4..6].to_vec());
        let mut last = 0;
        for t in &all[6..] {
            last = j.append(&codec::encode(t)).unwrap();
        }
        block_on(j.wait_durable(last)).unwrap();
        drop(j);
        let (_j, back) = SubmitJournal::open(&path).unwrap();
        assert_eq!(ids(&back), ids(&all[4..]));
        assert!(!path.with_extension("compacting").exists());
    }

    /// A member that replaces its few pending transactions over and over (while the chain does
    /// not commit) makes the node append without end: the bound keeps the file near
    /// `COMPACT_MIN_BYTES` instead of growing with every replacement.
    #[test]
    fn replacements_without_commits_do_not_grow_the_file_without_bound() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let live = txs(5);
        let bodies: Vec<Vec<u8>> = live.iter().map(codec::encode).collect();
        let live_bytes: usize = bodies.iter().map(Vec::len).sum();
        let (j, _) = SubmitJournal::open(&path).unwrap();
        let (mut written, mut last, mut compactions) = (0u64, 0, 0);
        while written < 3 * COMPACT_MIN_BYTES {
            for b in &bodies {
                last = j.append(b).unwrap();
                written += (HEADER + b.len()) as u64;
                compactions += usize::from(j.bound(live_bytes, || live.clone()));
            }
        }
        block_on(j.wait_durable(last)).unwrap();
        drop(j);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(compactions >= 2, "{compactions}");
        assert!(
            size < COMPACT_MIN_BYTES + COMPACT_MIN_BYTES / 4,
            "{size} B after {written} B appended"
        );
        // What it holds is still every live transaction.
        let (_j, back) = SubmitJournal::open(&path).unwrap();
        for t in &live {
            assert!(back.iter().any(|b| b.id() == t.id()));
        }
    }

    #[test]
    fn a_failed_journal_refuses_acknowledgements() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let all = txs(2);
        let (j, _) = SubmitJournal::open(&path).unwrap();
        // The directory disappears: the compaction's write fails, and the journal with it.
        std::fs::remove_dir_all(dir.path()).unwrap();
        j.compact(Vec::new());
        let waited = match j.append(&codec::encode(&all[0])) {
            Ok(seq) => block_on(j.wait_durable(seq)),
            Err(e) => Err(e),
        };
        assert!(matches!(waited, Err(JournalError::Failed(_))), "{waited:?}");
        assert!(matches!(
            j.append(&codec::encode(&all[1])),
            Err(JournalError::Failed(_))
        ));
    }
}
