//! Genesis: chain id, members, validators and parameters. Its hash is the chain's identity.
//!
//! Invariants (`Genesis::validate`, which lists every problem, not just the first):
//! org ids unique and well-formed; every org has a key; validators name member orgs and hold
//! one of their keys; the set is non-empty; timeouts and limits are positive.
use crate::certificate::{ValidatorInfo, ValidatorSet};
use crate::hash::Hash;
use crate::identity::{Org, OrgId};
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsensusParams {
    pub timeout_propose_ms: u64,
    pub timeout_prevote_ms: u64,
    pub timeout_precommit_ms: u64,
    /// Added to each timeout per round (timeouts grow per round).
    pub timeout_delta_ms: u64,
    /// Pause between a commit and the next height's proposal.
    pub block_interval_ms: u64,
    pub max_block_txs: u32,
    pub max_block_bytes: u64,
    /// A validator-set change committed at height h takes effect at h + this.
    pub validator_change_delay: u64,
}

impl Default for ConsensusParams {
    fn default() -> Self {
        ConsensusParams {
            timeout_propose_ms: 1000,
            timeout_prevote_ms: 500,
            timeout_precommit_ms: 500,
            timeout_delta_ms: 250,
            block_interval_ms: 50,
            max_block_txs: 5000,
            max_block_bytes: 8 * 1024 * 1024,
            validator_change_delay: 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub max_tx_bytes: u64,
    pub max_list_len: u32,
    pub max_string_len: u32,
    /// How far a transaction's claimed time may be from block time.
    pub max_time_skew_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tx_bytes: 64 * 1024,
            max_list_len: 1000,
            max_string_len: 1024,
            max_time_skew_ms: 10 * 60 * 1000,
        }
    }
}

/// A category of high-risk goods, as HS chapter (2 digits) or heading (4) or subheading (6) prefixes.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HighRiskCategory {
    pub name: String,
    pub hs_prefixes: Vec<String>,
}

impl HighRiskCategory {
    /// The high-risk categories the customs-reform papers name, the one list of them: what
    /// `tradechain genesis init` writes (so the testnet has it) and what the test genesis
    /// (`testkit::demo_genesis`) uses. Endangered species (live animals, ivory and horn, raw
    /// furskins, worked ivory and bone, zoological collections); food (meat, fish, dairy,
    /// vegetables, fruit, coffee and tea, cereals, their preparations, biscuits and bakery);
    /// drugs (chapter 30: pharmaceutical products); 3C electronics (computers, telephones,
    /// cameras, monitors).
    pub fn defaults() -> Vec<HighRiskCategory> {
        let c = |name: &str, p: &[&str]| HighRiskCategory {
            name: name.to_string(),
            hs_prefixes: p.iter().map(|s| s.to_string()).collect(),
        };
        vec![
            c("endangered species", &["0106", "0507", "4301", "9601", "9705"]),
            c(
                "food",
                &["02", "03", "04", "07", "08", "09", "10", "16", "19", "20", "21"],
            ),
            c("drugs", &["30"]),
            c("3C electronics", &["8471", "8517", "8525", "8528"]),
        ]
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Genesis {
    pub chain_id: String,
    pub genesis_time_ms: i64,
    pub orgs: Vec<Org>,
    pub validators: Vec<ValidatorInfo>,
    #[serde(default)]
    pub consensus: ConsensusParams,
    #[serde(default)]
    pub limits: Limits,
    /// Governance changes need approvals from at least `num/den` of the validator orgs.
    #[serde(default = "default_quorum")]
    pub governance_quorum: (u32, u32),
    #[serde(default)]
    pub high_risk: Vec<HighRiskCategory>,
    /// GS1 Company Prefixes and the member org that owns each: only it (or an org it delegates
    /// to on chain) creates identifiers under it (`validate::prefix`). More by governance.
    #[serde(default)]
    pub gs1_prefixes: Vec<PrefixAssignment>,
}

/// One GS1 Company Prefix (4-12 digits) assigned to a member org.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrefixAssignment {
    pub prefix: String,
    pub org: OrgId,
}

fn default_quorum() -> (u32, u32) {
    (2, 3)
}

impl Genesis {
    pub fn hash(&self) -> Hash {
        Hash::tagged("tradechain/genesis", &crate::codec::encode(self))
    }

    pub fn validator_set(&self) -> Result<ValidatorSet, String> {
        ValidatorSet::new(self.validators.clone())
    }

    pub fn org(&self, id: &OrgId) -> Option<&Org> {
        self.orgs.iter().find(|o| &o.id == id)
    }

    pub fn from_json(text: &str) -> Result<Genesis, String> {
        serde_json::from_str(text).map_err(|e| format!("genesis JSON: {e} (line {}, column {})", e.line(), e.column()))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Every problem found, in file order. Empty means valid.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            problems.push("chain_id: must be 1-64 characters".to_string());
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut key_owners: std::collections::BTreeMap<crate::crypto::PublicKey, &crate::identity::OrgId> =
            std::collections::BTreeMap::new();
        for (i, o) in self.orgs.iter().enumerate() {
            if let Some((k, why)) = o.key_problem() {
                problems.push(format!("orgs[{i}].keys: {k} {why}"));
            }
            for k in o.registered_keys() {
                if let Some(other) = key_owners.insert(k, &o.id)
                    && other != &o.id
                {
                    problems.push(format!("orgs[{i}].keys: {k} is already {other}'s key"));
                }
            }
            if !o.id.is_valid() {
                problems.push(format!("orgs[{i}].id: {:?} is not a valid org id", o.id.as_str()));
            }
            if !seen.insert(o.id.clone()) {
                problems.push(format!("orgs[{i}].id: {} appears twice", o.id));
            }
            if !crate::codes::is_country(&o.country) {
                problems.push(format!(
                    "orgs[{i}].country: {:?} is not an ISO 3166-1 alpha-2 code",
                    o.country
                ));
            }
            if o.roles.is_empty() {
                problems.push(format!("orgs[{i}].roles: {} has no role", o.id));
            }
            if o.keys.is_empty() {
                problems.push(format!("orgs[{i}].keys: {} has no key", o.id));
            }
            let mut ids = std::collections::BTreeSet::new();
            for k in &o.keys {
                if !ids.insert(k.key_id) {
                    problems.push(format!("orgs[{i}].keys: key_id {} appears twice", k.key_id));
                }
            }
        }
        if self.validators.is_empty() {
            problems.push("validators: at least one validator is needed".into());
        }
        for (i, v) in self.validators.iter().enumerate() {
            match self.org(&v.org) {
                None => problems.push(format!("validators[{i}].org: {} is not an org in this genesis", v.org)),
                Some(o) => {
                    if !o.keys.iter().any(|k| k.public_key == v.public_key) {
                        problems.push(format!("validators[{i}].public_key: not one of {}'s keys", v.org));
                    }
                }
            }
            if v.power == 0 {
                problems.push(format!("validators[{i}].power: must be positive"));
            }
        }
        if let Err(e) = ValidatorSet::new(self.validators.clone())
            && !self.validators.is_empty()
        {
            problems.push(format!("validators: {e}"));
        }
        let c = &self.consensus;
        for (name, v) in [
            ("consensus.timeout_propose_ms", c.timeout_propose_ms),
            ("consensus.timeout_prevote_ms", c.timeout_prevote_ms),
            ("consensus.timeout_precommit_ms", c.timeout_precommit_ms),
            ("consensus.max_block_bytes", c.max_block_bytes),
            ("limits.max_tx_bytes", self.limits.max_tx_bytes),
        ] {
            if v == 0 {
                problems.push(format!("{name}: must be positive"));
            }
        }
        if c.max_block_txs == 0 {
            problems.push("consensus.max_block_txs: must be positive".into());
        }
        let (n, d) = self.governance_quorum;
        if d == 0 || n == 0 || n > d {
            problems.push(format!("governance_quorum: {n}/{d} must be a fraction in (0, 1]"));
        }
        for (i, a) in self.gs1_prefixes.iter().enumerate() {
            if !crate::gs1::is_company_prefix(&a.prefix) {
                problems.push(format!(
                    "gs1_prefixes[{i}].prefix: {:?} must be 4-12 digits (a GS1 Company Prefix)",
                    a.prefix
                ));
            }
            if self.org(&a.org).is_none() {
                problems.push(format!(
                    "gs1_prefixes[{i}].org: {} is not an org in this genesis",
                    a.org
                ));
            }
            for (j, b) in self.gs1_prefixes.iter().enumerate().take(i) {
                if a.prefix.starts_with(&b.prefix) || b.prefix.starts_with(&a.prefix) {
                    problems.push(format!(
                        "gs1_prefixes[{i}].prefix: {} overlaps gs1_prefixes[{j}] ({}): GS1 Company Prefixes never nest",
                        a.prefix, b.prefix
                    ));
                }
            }
        }
        for (i, h) in self.high_risk.iter().enumerate() {
            for p in &h.hs_prefixes {
                if !(p.len() == 2 || p.len() == 4 || p.len() == 6) || !p.bytes().all(|b| b.is_ascii_digit()) {
                    problems.push(format!("high_risk[{i}].hs_prefixes: {p:?} must be 2, 4 or 6 digits"));
                }
            }
        }
        problems
    }

    /// Whether an HS code falls in a configured high-risk category (returns its name).
    pub fn high_risk_category(&self, hs_code: &str) -> Option<&str> {
        self.high_risk
            .iter()
            .find(|c| c.hs_prefixes.iter().any(|p| hs_code.starts_with(p.as_str())))
            .map(|c| c.name.as_str())
    }
}
