//! Equivocation evidence, kept on disk: every pair of conflicting signed votes the engine caught
//! (one validator, one height, round and kind, two different values — self-proving, both
//! signatures verify) is appended to `evidence.log` in the data directory before it is reported.
//!
//! Invariants: a record is appended and fsynced (the consensus WAL's framing, `node::wal`) before
//! the count shown in metrics and `GetStatus` includes it; the count after a restart is the
//! number of pairs in the whole records on disk (a torn last record, from a crash mid-append, is
//! dropped like the WAL's). Evidence is never consensus input: a node keeps it for the
//! consortium's governance (the members decide what to do about a validator that equivocated).
use crate::wal::Wal;
use borsh::{BorshDeserialize, BorshSerialize};
use std::path::Path;
use tradechain_consensus::SignedVoteMsg;
use tradechain_ledger::codec;

/// One height's conflicting vote pairs.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EvidenceRecord {
    pub height: u64,
    pub pairs: Vec<(SignedVoteMsg, SignedVoteMsg)>,
}

pub struct EvidenceLog {
    log: Wal,
    pairs: u64,
}

impl EvidenceLog {
    /// Open (or create) the log and count the evidence it holds.
    pub fn open(path: &Path) -> std::io::Result<EvidenceLog> {
        let log = Wal::open(path)?;
        let pairs = log
            .replay()?
            .iter()
            .filter_map(|r| codec::decode::<EvidenceRecord>(r).ok())
            .map(|r| r.pairs.len() as u64)
            .sum();
        Ok(EvidenceLog { log, pairs })
    }

    /// Persist one height's evidence (fsynced), then count it.
    pub fn record(&mut self, record: &EvidenceRecord) -> std::io::Result<()> {
        self.log.append(&codec::encode(record))?;
        self.pairs += record.pairs.len() as u64;
        Ok(())
    }

    /// Conflicting vote pairs on record.
    pub fn pairs(&self) -> u64 {
        self.pairs
    }

    /// Every whole record, oldest first.
    pub fn records(&self) -> std::io::Result<Vec<EvidenceRecord>> {
        Ok(self
            .log
            .replay()?
            .iter()
            .filter_map(|r| codec::decode::<EvidenceRecord>(r).ok())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tradechain_ledger::certificate::VoteKind;
    use tradechain_ledger::{Hash, SecretKey};

    fn vote(value: u8) -> SignedVoteMsg {
        let k = SecretKey::from_label("equivocator");
        SignedVoteMsg {
            height: 9,
            round: 0,
            kind: VoteKind::Prevote,
            block_hash: Some(Hash([value; 32])),
            validator: k.public(),
            signature: k.sign(&[value]),
        }
    }

    #[test]
    fn evidence_survives_a_restart_and_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("evidence.log");
        let rec = EvidenceRecord {
            height: 9,
            pairs: vec![(vote(1), vote(2)), (vote(3), vote(4))],
        };
        {
            let mut log = EvidenceLog::open(&p).unwrap();
            assert_eq!(log.pairs(), 0);
            log.record(&rec).unwrap();
            assert_eq!(log.pairs(), 2);
        }
        let log = EvidenceLog::open(&p).unwrap();
        assert_eq!(log.pairs(), 2, "the count is restored from disk");
        assert_eq!(log.records().unwrap(), vec![rec]);
    }
}
