//! Compiles `proto/tradechain/v1/*.proto` with protox (pure Rust, no protoc), writes the encoded
//! FileDescriptorSet to `$OUT_DIR/tradechain_descriptor.bin` (served by gRPC reflection) and
//! generates prost messages and tonic clients/servers from that descriptor set.
use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "proto/tradechain/v1/common.proto",
    "proto/tradechain/v1/transaction.proto",
    "proto/tradechain/v1/provenance.proto",
    "proto/tradechain/v1/document.proto",
    "proto/tradechain/v1/chain.proto",
    "proto/tradechain/v1/node.proto",
    "proto/tradechain/v1/epcis.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("tradechain_descriptor.bin");

    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(PROTOS)?;
    std::fs::write(&descriptor_path, compiler.encode_file_descriptor_set())?;

    tonic_prost_build::configure()
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .build_client(true)
        .build_server(true)
        .compile_protos(PROTOS, &["proto"])?;
    Ok(())
}
