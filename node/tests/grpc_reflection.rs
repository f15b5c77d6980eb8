//! Server reflection (v1, and v1alpha for older clients) lists every service and serves their descriptors, so grpcurl needs no
//! .proto files; the standard health service reports each tradechain service as SERVING.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod grpc_common;

use grpc_common::start;
use prost::Message;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};
use tradechain_node::grpc::scenario::Scenario;
use tradechain_proto::SERVICE_NAMES;

async fn reflect(env: &grpc_common::Env, req: MessageRequest) -> MessageResponse {
    let mut c = ServerReflectionClient::new(env.channel.clone());
    let mut s = c
        .server_reflection_info(tokio_stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(req),
        }]))
        .await
        .unwrap()
        .into_inner();
    s.message().await.unwrap().unwrap().message_response.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_and_describes_every_service() {
    let env = start(Scenario::trade()).await;
    let MessageResponse::ListServicesResponse(list) = reflect(&env, MessageRequest::ListServices(String::new())).await
    else {
        panic!("expected a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in SERVICE_NAMES {
        assert!(names.iter().any(|n| n == s), "{s} not listed in {names:?}");
    }
    assert!(names.iter().any(|n| n == "grpc.reflection.v1.ServerReflection"));
    assert!(names.iter().any(|n| n == "grpc.health.v1.Health"));

    let MessageResponse::FileDescriptorResponse(files) = reflect(
        &env,
        MessageRequest::FileContainingSymbol("tradechain.v1.ProvenanceService".into()),
    )
    .await
    else {
        panic!("expected descriptors")
    };
    let decoded: Vec<prost_types_like::FileDescriptorProto> = files
        .file_descriptor_proto
        .iter()
        .map(|b| prost_types_like::FileDescriptorProto::decode(b.as_slice()).unwrap())
        .collect();
    let provenance = decoded
        .iter()
        .find(|f| f.name == "tradechain/v1/provenance.proto")
        .expect("provenance.proto served");
    assert_eq!(provenance.package, "tradechain.v1");
    assert!(provenance.service.iter().any(|s| s.name == "ProvenanceService"));
}

/// The older v1alpha protocol (what grpcio-reflection and other clients still ask) lists the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_v1alpha_lists_every_service() {
    use tonic_reflection::pb::v1alpha::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let env = start(Scenario::trade()).await;
    let mut c = ServerReflectionClient::new(env.channel.clone());
    let mut s = c
        .server_reflection_info(tokio_stream::iter(vec![ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = s.message().await.unwrap().unwrap().message_response else {
        panic!("expected a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for s in SERVICE_NAMES {
        assert!(names.iter().any(|n| n == s), "{s} not listed in {names:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_serving() {
    let env = start(Scenario::trade()).await;
    let mut h = HealthClient::new(env.channel.clone());
    for s in SERVICE_NAMES {
        let r = h
            .check(HealthCheckRequest { service: s.to_string() })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status, ServingStatus::Serving as i32, "{s}");
    }
    let e = h
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound);
}

/// The two fields of `google.protobuf.FileDescriptorProto` (and `ServiceDescriptorProto`) this
/// test reads, decoded with prost (unknown fields are skipped), so no extra dependency is needed.
mod prost_types_like {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct FileDescriptorProto {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub package: String,
        #[prost(message, repeated, tag = "6")]
        pub service: Vec<ServiceDescriptorProto>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ServiceDescriptorProto {
        #[prost(string, tag = "1")]
        pub name: String,
    }
}
