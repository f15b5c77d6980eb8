//! Shared set-up of the gRPC tests: a server on 127.0.0.1 (ephemeral port) over the scenario's
//! in-memory backend, tonic clients, and member request signing.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]
use std::sync::Arc;

use tonic::Request;
use tonic::transport::Channel;
use tradechain_node::clock::now_ms;
use tradechain_node::grpc::scenario::{CHAIN_ID, Scenario, key_of, org};
use tradechain_node::grpc::{Backend, RunningServer, ServerLimits, auth, spawn_local};
use tradechain_proto::v1::{
    chain_service_client::ChainServiceClient, document_service_client::DocumentServiceClient,
    node_service_client::NodeServiceClient, provenance_service_client::ProvenanceServiceClient,
    transaction_service_client::TransactionServiceClient,
};

pub struct Env {
    pub scenario: Scenario,
    pub server: RunningServer,
    pub channel: Channel,
}

pub async fn start(scenario: Scenario) -> Env {
    start_with(scenario, ServerLimits::default()).await
}

pub async fn start_with(scenario: Scenario, limits: ServerLimits) -> Env {
    let backend: Arc<dyn Backend> = scenario.backend.clone();
    let server = spawn_local(backend, limits).await.unwrap();
    let channel = Channel::from_shared(server.url()).unwrap().connect().await.unwrap();
    Env {
        scenario,
        server,
        channel,
    }
}

impl Env {
    pub fn tx(&self) -> TransactionServiceClient<Channel> {
        TransactionServiceClient::new(self.channel.clone())
    }
    pub fn provenance(&self) -> ProvenanceServiceClient<Channel> {
        ProvenanceServiceClient::new(self.channel.clone())
    }
    pub fn docs(&self) -> DocumentServiceClient<Channel> {
        DocumentServiceClient::new(self.channel.clone())
    }
    pub fn chain(&self) -> ChainServiceClient<Channel> {
        ChainServiceClient::new(self.channel.clone())
    }
    pub fn node(&self) -> NodeServiceClient<Channel> {
        NodeServiceClient::new(self.channel.clone())
    }
}

/// A request signed by `who` (key id 1) for `method` (e.g. "DocumentService/GetWaybill").
pub fn signed<M: prost::Message>(msg: M, who: &str, method: &str) -> Request<M> {
    signed_at(msg, who, method, now_ms())
}

pub fn signed_at<M: prost::Message>(msg: M, who: &str, method: &str, time_ms: i64) -> Request<M> {
    let mut r = Request::new(msg);
    auth::sign_request(
        &mut r,
        CHAIN_ID,
        &format!("/tradechain.v1.{method}"),
        &org(who),
        1,
        &key_of(who),
        time_ms,
    )
    .unwrap();
    r
}
