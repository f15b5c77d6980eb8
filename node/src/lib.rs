//! tradechain node: networking, mempool, execution, sync and the gRPC server.

pub mod network;
