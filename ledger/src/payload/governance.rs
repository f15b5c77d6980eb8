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
    /// Register a GS1 Company Prefix (4-12 digits) to a member org, or move a registered one to
    /// another (its delegations end). Prefixes never nest.
    AssignPrefix {
        prefix: String,
        org: OrgId,
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
    /// The owner of a GS1 Company Prefix lets another member create identifiers under it
    /// (`grant: true`) or stops it (`grant: false`); no quorum needed.
    DelegatePrefix {
        prefix: String,
        delegate: OrgId,
        grant: bool,
    },
}
