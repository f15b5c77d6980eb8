//! NodeService: what this node is and where it stands (public, no authentication).
use tonic::{Request, Response, Status};
use tradechain_ledger::certificate::ValidatorSet;
use tradechain_ledger::state::keys;
use tradechain_proto::v1::{self, node_service_server::NodeService};

use super::status::internal;
use super::{ApiState, read_record, views};

#[derive(Clone)]
pub struct NodeApi(pub ApiState);

#[tonic::async_trait]
impl NodeService for NodeApi {
    async fn get_status(&self, _req: Request<v1::GetStatusRequest>) -> Result<Response<v1::NodeStatus>, Status> {
        let b = self.0.backend.as_ref();
        let head = b.head().map_err(internal)?;
        let set: Option<ValidatorSet> = read_record(b, &keys::validators())?;
        let set = match set {
            Some(s) => s,
            None => b.genesis().validator_set().map_err(Status::internal)?,
        };
        let info = b.node_info();
        Ok(Response::new(v1::NodeStatus {
            chain_id: b.genesis().chain_id.clone(),
            genesis_hash: b.genesis_hash().to_hex(),
            height: head.map(|h| h.height).unwrap_or(0),
            head_hash: head.map(|h| h.block_hash.to_hex()).unwrap_or_default(),
            state_hash: head.map(|h| h.state_hash.to_hex()).unwrap_or_default(),
            role: info.role.as_str().to_string(),
            validators: views::validators(&set),
            peers: info
                .peers
                .iter()
                .map(|p| v1::PeerView {
                    peer_id: p.peer_id.clone(),
                    org: p.org.as_ref().map(|o| o.to_string()).unwrap_or_default(),
                    address: p.address.clone(),
                })
                .collect(),
            sync: Some(v1::SyncState {
                syncing: info.sync.syncing,
                target_height: info.sync.target_height,
            }),
            version: env!("CARGO_PKG_VERSION").to_string(),
            mempool_size: info.mempool_size,
            equivocation_evidence: info.equivocation_evidence,
            stage_cpu: info
                .stage_cpu_us
                .iter()
                .map(|(stage, cpu_us)| v1::StageCpu {
                    stage: stage.to_string(),
                    cpu_us: *cpu_us,
                })
                .collect(),
            process_cpu_us: info.process_cpu_us,
        }))
    }

    async fn get_account(&self, req: Request<v1::GetAccountRequest>) -> Result<Response<v1::AccountReply>, Status> {
        let b = self.0.backend.as_ref();
        let id = tradechain_ledger::OrgId::new(&req.get_ref().org)
            .map_err(|e| Status::invalid_argument(format!("org: {e}")))?;
        let org: Option<tradechain_ledger::Org> = read_record(b, &keys::org(&id))?;
        let org = org.ok_or_else(|| Status::not_found(format!("org: {id} is not a current member")))?;
        let nonce: Option<u64> = read_record(b, &keys::nonce(&id))?;
        let next_nonce = nonce.unwrap_or(0) + 1;
        Ok(Response::new(v1::AccountReply {
            org: org.id.to_string(),
            name: org.name.clone(),
            country: org.country.clone(),
            roles: org.roles.iter().map(|r| r.as_str().to_string()).collect(),
            credit_tier: format!("{:?}", org.credit_tier),
            next_nonce,
            key_ids: org.keys.iter().map(|k| k.key_id).collect(),
            pending_next_nonce: b.pending_next_nonce(&id, next_nonce),
        }))
    }
}
