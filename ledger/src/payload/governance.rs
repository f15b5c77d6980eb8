//! Governance: membership, keys, credit tiers and the validator set.
//! Structural changes need approvals from a quorum of validator orgs (genesis parameter), collected
//! as `Approve` transactions; the change applies when the quorum is reached.
use crate::certificate::ValidatorInfo;
use crate::crypto::PublicKey;
use crate::identity::{CreditTier, Org, OrgId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GovAction {
    AddOrg {
        org: Org,
    },
    RemoveOrg {
        org: OrgId,
    },
    RotateKey {
        org: OrgId,
        key_id: u32,
        new_key: PublicKey,
    },
    SetValidators {
        validators: Vec<ValidatorInfo>,
    },
    /// Replace an org's node identity keys (the nodes the network admits for it): rotation of a
    /// compromised or retired node key. Applied, every node's allow-list follows within a block.
    SetNodeKeys {
        org: OrgId,
        node_keys: Vec<PublicKey>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum GovernanceOp {
    /// Propose a change; the proposer's approval counts.
    Propose {
        proposal_id: String,
        change: GovAction,
    },
    Approve {
        proposal_id: String,
    },
    /// Customs only, no quorum needed.
    SetCreditTier {
        org: OrgId,
        tier: CreditTier,
    },
}
