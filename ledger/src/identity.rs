//! Organisations, their roles, keys and credit tiers: who may act on the ledger.
//!
//! Invariants: an `OrgId` is 2–32 characters of `[A-Z0-9-]`; a country is an ISO 3166-1 alpha-2
//! code from the fixed table in `codes`; an org holds at least one key while it is a member.
use crate::crypto::PublicKey;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An organisation's identifier, e.g. `CUSTOMS-CN`, `CARRIER-COSCO`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrgId(String);

impl OrgId {
    pub fn new(s: &str) -> Result<OrgId, String> {
        let ok_len = (2..=32).contains(&s.len());
        let ok_chars = s
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-');
        if ok_len && ok_chars {
            Ok(OrgId(s.to_string()))
        } else {
            Err(format!("org id {s:?} must be 2-32 characters of A-Z, 0-9 and '-'"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether this value (possibly decoded from untrusted borsh) is well-formed.
    pub fn is_valid(&self) -> bool {
        OrgId::new(&self.0).is_ok()
    }
}
impl TryFrom<String> for OrgId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        OrgId::new(&s)
    }
}
impl From<OrgId> for String {
    fn from(o: OrgId) -> String {
        o.0
    }
}
impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Customs,
    Port,
    Carrier,
    Bank,
    Producer,
    /// Chamber of commerce: issuer of certificates of origin.
    Chamber,
    /// Regulator or observer: reads everything, writes nothing but approvals.
    Regulator,
}

impl Role {
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Customs => "customs",
            Role::Port => "port",
            Role::Carrier => "carrier",
            Role::Bank => "bank",
            Role::Producer => "producer",
            Role::Chamber => "chamber",
            Role::Regulator => "regulator",
        }
    }
}

/// Customs credit rating of an enterprise (China Customs' enterprise credit management).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CreditTier {
    Dishonest,
    General,
    AeoGeneral,
    AeoAdvanced,
}

/// One signing key of an org. `key_id` is stable across rotations of other keys.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct OrgKey {
    pub key_id: u32,
    pub public_key: PublicKey,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub roles: Vec<Role>,
    pub keys: Vec<OrgKey>,
    /// libp2p node identity keys (ed25519) of the nodes this org runs; the network admits only these.
    #[serde(default)]
    pub node_keys: Vec<PublicKey>,
    #[serde(default = "default_tier")]
    pub credit_tier: CreditTier,
}

fn default_tier() -> CreditTier {
    CreditTier::General
}

impl Org {
    pub fn has_role(&self, r: Role) -> bool {
        self.roles.contains(&r)
    }
    pub fn key(&self, key_id: u32) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.key_id == key_id).map(|k| &k.public_key)
    }
    /// Every public key this org registers (signing keys, then node keys): each must be strong
    /// and belong to no other org (`state::keys::key_owner`).
    pub fn registered_keys(&self) -> Vec<PublicKey> {
        self.keys
            .iter()
            .map(|k| k.public_key)
            .chain(self.node_keys.iter().copied())
            .collect()
    }
    /// The first registered key that is weak, or appears twice within this org.
    pub fn key_problem(&self) -> Option<(PublicKey, &'static str)> {
        let mut seen = std::collections::BTreeSet::new();
        for k in self.registered_keys() {
            if k.is_weak() {
                return Some((
                    k,
                    "is a weak key (small order, not a point, or not canonically encoded)",
                ));
            }
            if !seen.insert(k) {
                return Some((k, "is registered twice"));
            }
        }
        None
    }
}
