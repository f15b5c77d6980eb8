//! `tradechain-node`: turns the pure parts (ledger, consensus) into a running validator or
//! observer. `host` is the sans-IO state machine that decides (engine driving, block building and
//! checking, commit, sync, the consensus WAL, the mempool interplay) over ports; `runtime` wires it
//! to the real parts — libp2p networking, tokio timers, the mempool and submission journal
//! (`node_state`),
//! the store (`tradechain-store`, RocksDB), metrics, and the gRPC and HTTP servers (the Digital
//! Link resolver and the EPCIS 2.0 REST binding, `epcis_rest`; TLS on both, `tls`); `clock` is the one wall-clock
//! reading (node and CLI).
pub mod api;
pub mod blocks;
pub mod clock;
pub mod config;
pub mod cpu;
pub mod epcis_rest;
pub mod evidence;
pub mod grpc;
pub mod host;
pub mod mempool;
pub mod metrics;
pub mod network;
pub mod node_state;
pub mod peer_messages;
pub mod resolver;
pub mod runtime;
pub mod store_backend;
pub mod submit_journal;
pub mod tls;
pub mod wal;

/// The libp2p PeerId (base58) of a node key.
pub fn peer_id_string(node_key: &[u8; 32]) -> Option<String> {
    network::peer_id_from_node_key(node_key).ok().map(|p| p.to_string())
}
