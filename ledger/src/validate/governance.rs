//! Governance: proposals and approvals by validator orgs, credit tiers by customs.
//!
//! Invariants enforced:
//! - Only orgs in the current validator set propose and approve; the proposer's approval counts;
//!   each org approves a proposal once. Approvals are collected as `Approve` transactions (one
//!   per org, each signed by that org's key).
//! - A change applies in the transaction whose approval reaches `genesis.governance_quorum`
//!   (num/den) of the distinct validator orgs: `approvals * den >= num * orgs`. It is re-checked
//!   against the state at that moment; a proposal applies at most once.
//! - Changes are well-formed: AddOrg a new, valid org with keys; RemoveOrg an existing org that
//!   is not a validator; RotateKey of a member to a key it does not hold yet; SetValidators a valid
//!   set of members' keys. A validator-set change is scheduled in `keys::pending_validators()` for
//!   height + `consensus.validator_change_delay` (one pending change at a time) and promoted by
//!   `validate::end_block_writes`.
//! - SetCreditTier: customs only, no quorum, on a current member.
//! - RotateKey of a validator's consensus key schedules the same rotation in the validator set
//!   (`rotate_validator_key`), so the set never names a key its org no longer holds.
//! - SetNodeKeys replaces an org's node identity keys (node-key rotation); the p2p allow-list of
//!   every node follows the committed change (`node::runtime`).
//! - GS1 Company Prefixes: `AssignPrefix` (quorum) registers or moves a prefix, never nesting
//!   with another; `DelegatePrefix` (the prefix's owner, no quorum) grants or revokes another
//!   member's right to create identifiers under it. Rules in `validate::prefix`.
//! - Keys: every key an org registers (AddOrg, RotateKey, SetNodeKeys) is strong (`PublicKey::is_weak`,
//!   rule `governance.key.weak`) and belongs to no other org (`keys::key_owner` index, rule
//!   `governance.key.duplicate`); genesis checks the same (`Genesis::validate`).
use super::{limits, org, reject, require_role};
use crate::certificate::ValidatorSet;
use crate::execute::{Rejection, TxContext, Validator};
use crate::identity::{OrgId, OrgKey, Role};
use crate::payload::{GovAction, GovernanceOp, Payload};
use crate::records::{PendingValidators, ProposalRecord};
use crate::state::{StateView, Writes, get_typed, keys};
use std::collections::BTreeSet;

pub struct GovernanceValidator;

/// Node identity keys one org may register.
pub const MAX_NODE_KEYS: usize = 16;

fn invalid<T>(reason: impl Into<String>) -> Result<T, Rejection> {
    reject("governance.change.invalid", reason)
}

fn validator_orgs(view: &dyn StateView) -> BTreeSet<OrgId> {
    get_typed::<ValidatorSet>(view, &keys::validators())
        .map(|s| s.validators.into_iter().map(|v| v.org).collect())
        .unwrap_or_default()
}

/// A rotated key that is also the org's consensus key is rotated in the validator set too: the
/// set that will be in force next (the pending one, or the current one) gets the new key,
/// scheduled like any validator-set change (`validator_change_delay` blocks on, or with the
/// change already pending). The operator restarts the validator with the new key by then.
fn rotate_validator_key(
    ctx: &TxContext<'_>,
    view: &dyn StateView,
    org_id: &OrgId,
    old: &crate::crypto::PublicKey,
    new: &crate::crypto::PublicKey,
    w: &mut Writes,
) -> Result<(), Rejection> {
    let pending = get_typed::<PendingValidators>(view, &keys::pending_validators());
    let (base, height) = match pending {
        Some(p) => (p.set, p.height),
        None => match get_typed::<ValidatorSet>(view, &keys::validators()) {
            Some(set) => (
                set,
                ctx.height.saturating_add(ctx.genesis.consensus.validator_change_delay),
            ),
            None => return Ok(()),
        },
    };
    if !base.validators.iter().any(|v| v.org == *org_id && v.public_key == *old) {
        return Ok(());
    }
    let rotated = base
        .validators
        .into_iter()
        .map(|mut v| {
            if v.org == *org_id && v.public_key == *old {
                v.public_key = *new;
            }
            v
        })
        .collect();
    let set = ValidatorSet::new(rotated).or_else(invalid)?;
    w.put(keys::pending_validators(), &PendingValidators { height, set });
    Ok(())
}

/// A key is registered to at most one org, once (rule `governance.key.duplicate`).
fn key_unowned(view: &dyn StateView, k: &crate::crypto::PublicKey) -> Result<(), Rejection> {
    match get_typed::<OrgId>(view, &keys::key_owner(k)) {
        Some(owner) => reject(
            "governance.key.duplicate",
            format!("key {k} is already registered to {owner}"),
        ),
        None => Ok(()),
    }
}

/// Check a change against the current state.
fn check_change(view: &dyn StateView, change: &GovAction) -> Result<(), Rejection> {
    match change {
        GovAction::AddOrg { org: o } => {
            if !o.id.is_valid() {
                return invalid(format!(
                    "org id {:?} must be 2-32 characters of A-Z, 0-9 and '-'",
                    o.id.as_str()
                ));
            }
            if org(view, &o.id).is_some() {
                return invalid(format!("org {} is already a member", o.id));
            }
            if !crate::codes::is_country(&o.country) {
                return invalid(format!(
                    "org {} country {:?} is not ISO 3166-1 alpha-2",
                    o.id, o.country
                ));
            }
            if o.roles.is_empty() || o.keys.is_empty() {
                return invalid(format!("org {} needs at least one role and one key", o.id));
            }
            let ids: BTreeSet<u32> = o.keys.iter().map(|k| k.key_id).collect();
            if ids.len() != o.keys.len() {
                return invalid(format!("org {} has a key_id twice", o.id));
            }
            if let Some((k, why)) = o.key_problem() {
                return reject("governance.key.weak", format!("org {}: key {k} {why}", o.id));
            }
            for k in o.registered_keys() {
                key_unowned(view, &k)?;
            }
        }
        GovAction::RemoveOrg { org: id } => {
            if org(view, id).is_none() {
                return invalid(format!("org {id} is not a member"));
            }
            let pending = get_typed::<PendingValidators>(view, &keys::pending_validators());
            if validator_orgs(view).contains(id)
                || pending.is_some_and(|p| p.set.validators.iter().any(|v| v.org == *id))
            {
                return invalid(format!("org {id} is a validator; change the validator set first"));
            }
        }
        GovAction::RotateKey { org: id, new_key, .. } => {
            let Some(o) = org(view, id) else {
                return invalid(format!("org {id} is not a member"));
            };
            if o.keys.iter().any(|k| k.public_key == *new_key) {
                return invalid(format!("org {id} already holds key {new_key}"));
            }
            if new_key.is_weak() {
                return reject(
                    "governance.key.weak",
                    format!("key {new_key} is weak (small order, not a point, or not canonically encoded)"),
                );
            }
            key_unowned(view, new_key)?;
        }
        GovAction::SetNodeKeys { org: id, node_keys } => {
            let Some(o) = org(view, id) else {
                return invalid(format!("org {id} is not a member"));
            };
            if node_keys.len() > MAX_NODE_KEYS {
                return invalid(format!("at most {MAX_NODE_KEYS} node keys per org"));
            }
            let mut seen = BTreeSet::new();
            for k in node_keys {
                if k.is_weak() {
                    return reject(
                        "governance.key.weak",
                        format!("node key {k} is weak (small order, not a point, or not canonically encoded)"),
                    );
                }
                if !seen.insert(*k) {
                    return reject("governance.key.duplicate", format!("node key {k} is listed twice"));
                }
                // The org's own current keys may stay; anyone else's may not be taken.
                if !o.registered_keys().contains(k) {
                    key_unowned(view, k)?;
                }
            }
        }
        GovAction::AssignPrefix { prefix, org: to } => {
            super::prefix::check_assign(view, prefix, to)?;
        }
        GovAction::SetValidators { validators } => {
            if let Err(e) = ValidatorSet::new(validators.clone()) {
                return invalid(format!("validator set: {e}"));
            }
            for v in validators {
                match org(view, &v.org) {
                    None => return invalid(format!("validator org {} is not a member", v.org)),
                    Some(o) if !o.keys.iter().any(|k| k.public_key == v.public_key) => {
                        return invalid(format!("validator key {} is not one of {}'s keys", v.public_key, v.org));
                    }
                    Some(_) => {}
                }
            }
        }
    }
    Ok(())
}

fn apply(ctx: &TxContext<'_>, view: &dyn StateView, change: &GovAction, w: &mut Writes) -> Result<(), Rejection> {
    check_change(view, change)?;
    match change {
        GovAction::AddOrg { org: o } => {
            w.put(keys::org(&o.id), o);
            for k in o.registered_keys() {
                w.put(keys::key_owner(&k), &o.id);
            }
        }
        GovAction::RemoveOrg { org: id } => {
            if let Some(o) = org(view, id) {
                for k in o.registered_keys() {
                    w.delete(keys::key_owner(&k));
                }
            }
            w.delete(keys::org(id));
        }
        GovAction::RotateKey {
            org: id,
            key_id,
            new_key,
        } => {
            let Some(mut o) = org(view, id) else {
                return invalid(format!("org {id} is not a member"));
            };
            w.put(keys::key_owner(new_key), id);
            match o.keys.iter_mut().find(|k| k.key_id == *key_id) {
                Some(k) => {
                    w.delete(keys::key_owner(&k.public_key));
                    rotate_validator_key(ctx, view, id, &k.public_key, new_key, w)?;
                    k.public_key = *new_key;
                }
                None => o.keys.push(OrgKey {
                    key_id: *key_id,
                    public_key: *new_key,
                }),
            }
            w.put(keys::org(id), &o);
        }
        GovAction::SetNodeKeys { org: id, node_keys } => {
            let Some(mut o) = org(view, id) else {
                return invalid(format!("org {id} is not a member"));
            };
            for k in &o.node_keys {
                if !o.keys.iter().any(|s| s.public_key == *k) {
                    w.delete(keys::key_owner(k));
                }
            }
            for k in node_keys {
                w.put(keys::key_owner(k), id);
            }
            o.node_keys = node_keys.clone();
            w.put(keys::org(id), &o);
        }
        GovAction::AssignPrefix { prefix, org: to } => super::prefix::register(w, prefix, to),
        GovAction::SetValidators { validators } => {
            if let Some(p) = get_typed::<PendingValidators>(view, &keys::pending_validators()) {
                return reject(
                    "governance.validators.pending",
                    format!("a validator-set change is already scheduled for height {}", p.height),
                );
            }
            let set = ValidatorSet::new(validators.clone()).or_else(invalid)?;
            let height = ctx.height.saturating_add(ctx.genesis.consensus.validator_change_delay);
            w.put(keys::pending_validators(), &PendingValidators { height, set });
        }
    }
    Ok(())
}

impl Validator for GovernanceValidator {
    fn family(&self) -> &'static str {
        "governance"
    }

    fn validate(&self, ctx: &TxContext<'_>, view: &dyn StateView) -> Result<Writes, Rejection> {
        limits(ctx)?;
        let Payload::Governance(op) = &ctx.tx.payload else {
            return reject("envelope.family", "not a governance payload");
        };
        let me = &ctx.sender.id;
        let mut w = Writes::default();
        let (key, mut rec) = match op {
            GovernanceOp::SetCreditTier { org: id, tier } => {
                require_role(ctx.sender, &[Role::Customs], "set credit tiers")?;
                let Some(mut o) = org(view, id) else {
                    return reject(
                        "governance.credit_tier.unknown_org",
                        format!("org {id} is not a current member"),
                    );
                };
                o.credit_tier = *tier;
                w.put(keys::org(id), &o);
                return Ok(w);
            }
            GovernanceOp::DelegatePrefix {
                prefix,
                delegate,
                grant,
            } => return super::prefix::delegate(view, me, prefix, delegate, *grant),
            GovernanceOp::Propose { proposal_id, change } => {
                require_validator(view, me)?;
                let key = keys::proposal(proposal_id);
                if view.get(&key).is_some() {
                    return reject(
                        "governance.proposal.duplicate",
                        format!("proposal {proposal_id} already exists"),
                    );
                }
                check_change(view, change)?;
                let rec = ProposalRecord {
                    id: proposal_id.clone(),
                    change: change.clone(),
                    proposer: me.clone(),
                    approvals: BTreeSet::from([me.clone()]),
                    applied: false,
                };
                (key, rec)
            }
            GovernanceOp::Approve { proposal_id } => {
                require_validator(view, me)?;
                let key = keys::proposal(proposal_id);
                let Some(mut rec) = get_typed::<ProposalRecord>(view, &key) else {
                    return reject("governance.proposal.unknown", format!("no proposal {proposal_id}"));
                };
                if rec.applied {
                    return reject(
                        "governance.proposal.applied",
                        format!("proposal {proposal_id} has already been applied"),
                    );
                }
                if !rec.approvals.insert(me.clone()) {
                    return reject(
                        "governance.proposal.already_approved",
                        format!("org {me} already approved proposal {proposal_id}"),
                    );
                }
                (key, rec)
            }
        };
        let orgs = validator_orgs(view);
        let approvals = rec.approvals.iter().filter(|o| orgs.contains(*o)).count() as u64;
        let (num, den) = ctx.genesis.governance_quorum;
        if approvals * u64::from(den) >= u64::from(num) * orgs.len() as u64 {
            apply(ctx, view, &rec.change, &mut w)?;
            rec.applied = true;
        }
        w.put(key, &rec);
        Ok(w)
    }
}

fn require_validator(view: &dyn StateView, me: &OrgId) -> Result<(), Rejection> {
    if !validator_orgs(view).contains(me) {
        return reject(
            "governance.not_validator",
            format!("org {me} is not a validator org; only validator orgs propose and approve governance changes"),
        );
    }
    Ok(())
}
