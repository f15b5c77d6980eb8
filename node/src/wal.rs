//! The consensus write-ahead log: an append-only file of the engine's `WalEntry`s for the
//! current height, each written and fsynced before the outputs that follow it are acted on.
//!
//! Format: repeated `[len: u32 LE][crc: u32 LE (CRC-32C of body)][body: borsh]`. A torn last
//! record (crash mid-write) is detected by length or checksum and dropped on read; every whole
//! record before it is kept. Invariant: `replay` returns exactly the entries whose `append`
//! returned Ok, in order (a crash can only lose an entry whose append had not returned).
//! Damage anywhere but the last record cannot come from a crash: `replay` refuses it
//! (`InvalidData`) rather than silently forgetting later votes, and the node refuses to start
//! as a validator on it (`runtime`, overridable only by `discard_unreadable_wal`).
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub struct Wal {
    path: PathBuf,
    file: File,
}

/// CRC-32C (Castagnoli), bitwise; WAL records are small.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

impl Wal {
    pub fn open(path: &Path) -> std::io::Result<Wal> {
        let file = OpenOptions::new().create(true).append(true).read(true).open(path)?;
        Ok(Wal {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Append one record and fsync.
    pub fn append(&mut self, body: &[u8]) -> std::io::Result<()> {
        let mut rec = Vec::with_capacity(body.len() + 8);
        rec.extend_from_slice(&(body.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32c(body).to_le_bytes());
        rec.extend_from_slice(body);
        self.file.write_all(&rec)?;
        self.file.sync_data()
    }

    /// All whole records, in order; a torn tail is dropped (and cut off the file).
    pub fn replay(&self) -> std::io::Result<Vec<Vec<u8>>> {
        let mut data = Vec::new();
        File::open(&self.path)?.read_to_end(&mut data)?;
        let mut out = Vec::new();
        let mut rest = data.as_slice();
        while rest.len() >= 8 {
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
            if rest.len() < 8 + len {
                break;
            }
            let body = &rest[8..8 + len];
            if crc32c(body) != crc {
                if rest.len() > 8 + len {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "record {} (byte {}) fails its checksum and more records follow: corrupt, not torn",
                            out.len(),
                            data.len() - rest.len()
                        ),
                    ));
                }
                break;
            }
            out.push(body.to_vec());
            rest = &rest[8 + len..];
        }
        // Cut a torn tail off, so the next append follows the last whole record: left in place,
        // it would sit between whole records and read as corruption after the next crash.
        if !rest.is_empty() {
            let whole = (data.len() - rest.len()) as u64;
            self.file.set_len(whole)?;
            self.file.sync_all()?;
        }
        Ok(out)
    }

    /// Start afresh (after a height is committed).
    pub fn truncate(&mut self) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn torn_tail_is_dropped_and_whole_records_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal");
        let mut w = Wal::open(&p).unwrap();
        w.append(b"one").unwrap();
        w.append(b"two").unwrap();
        drop(w);
        // Simulate a crash mid-append: a header promising more bytes than were written.
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&[50, 0, 0, 0, 1, 2, 3, 4, 9]).unwrap();
        let w = Wal::open(&p).unwrap();
        assert_eq!(w.replay().unwrap(), vec![b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn appends_after_a_torn_tail_survive_the_next_restart() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal");
        let mut w = Wal::open(&p).unwrap();
        w.append(b"one").unwrap();
        drop(w);
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(&[50, 0, 0, 0, 1, 2, 3, 4, 9]).unwrap();
        // Restart: replay, then the engine goes on signing at this height.
        let mut w = Wal::open(&p).unwrap();
        assert_eq!(w.replay().unwrap(), vec![b"one".to_vec()]);
        w.append(b"two").unwrap();
        drop(w);
        // Second restart: the torn bytes are gone, not mistaken for damage between records.
        let w = Wal::open(&p).unwrap();
        assert_eq!(w.replay().unwrap(), vec![b"one".to_vec(), b"two".to_vec()]);
    }

    #[test]
    fn corrupted_record_stops_replay() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal");
        let mut w = Wal::open(&p).unwrap();
        w.append(b"alpha").unwrap();
        w.append(b"beta").unwrap();
        drop(w);
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&p, bytes).unwrap();
        let mut w = Wal::open(&p).unwrap();
        assert_eq!(w.replay().unwrap(), vec![b"alpha".to_vec()]);
        w.truncate().unwrap();
        assert!(w.replay().unwrap().is_empty());
    }

    #[test]
    fn damage_before_the_last_record_is_refused_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("wal");
        let mut w = Wal::open(&p).unwrap();
        w.append(b"prevote").unwrap();
        w.append(b"precommit").unwrap();
        w.append(b"proposal").unwrap();
        drop(w);
        let mut bytes = std::fs::read(&p).unwrap();
        // Flip a byte inside the second record's body.
        bytes[8 + 7 + 8 + 2] ^= 0x40;
        std::fs::write(&p, bytes).unwrap();
        let w = Wal::open(&p).unwrap();
        let e = w.replay().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("record 1"), "{e}");
    }

    #[test]
    fn crc32c_known_vector() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }
}
