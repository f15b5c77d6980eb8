//! `tradechain-node`: networking, mempool, block execution, sync and the gRPC server.
pub mod grpc;
