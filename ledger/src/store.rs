//! RocksDB store (in progress).
