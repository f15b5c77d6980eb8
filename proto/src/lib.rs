//! tradechain's gRPC API, package `tradechain.v1`: prost messages and tonic clients/servers
//! generated at build time from `proto/tradechain/v1/*.proto` (see build.rs), plus the encoded
//! FileDescriptorSet that the node serves through gRPC server reflection.
//!
//! Invariant: the descriptor set and the generated code come from the same protox compilation,
//! so what reflection advertises is exactly what the server implements.

/// Generated messages and services of package `tradechain.v1`.
pub mod v1 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("tradechain.v1");
}

/// Encoded `google.protobuf.FileDescriptorSet` of every tradechain.v1 file (with imports).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/tradechain_descriptor.bin"));

/// Fully qualified names of the services, e.g. for health reporting.
pub const SERVICE_NAMES: &[&str] = &[
    "tradechain.v1.TransactionService",
    "tradechain.v1.ProvenanceService",
    "tradechain.v1.DocumentService",
    "tradechain.v1.ChainService",
    "tradechain.v1.NodeService",
    "tradechain.v1.EpcisService",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use prost::Message;

    #[test]
    fn descriptor_set_names_every_service() {
        let text = String::from_utf8_lossy(FILE_DESCRIPTOR_SET);
        for s in SERVICE_NAMES {
            let short = s.rsplit('.').next().unwrap();
            assert!(text.contains(short), "{short} missing from the descriptor set");
        }
    }

    #[test]
    fn messages_round_trip() {
        let m = v1::SubmitRequest {
            signed_tx: vec![1, 2, 3],
        };
        let b = m.encode_to_vec();
        assert_eq!(v1::SubmitRequest::decode(b.as_slice()).unwrap(), m);
    }
}
