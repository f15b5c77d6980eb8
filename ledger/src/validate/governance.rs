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
use super::{limits, org, reject, require_role};
use crate::certificate::ValidatorSet;
use crate::execute::{Rejection, TxContext, Validator};
use crate::identity::{OrgId, OrgKey, Role};
use crate::payload::{GovAction, GovernanceOp, Payload};
use crate::records::{PendingValidators, ProposalRecord};
use crate::state::{StateView, Writes, get_typed, keys};
use std::collections::BTreeSet;

pub struct GovernanceValidator;

fn invalid<T>(reason: impl Into<String>) -> Result<T, Rejection> {
    reject("governance.change.invalid", reason)
}

fn validator_orgs(view: &dyn StateView) -> BTreeSet<OrgId> {
    get_typed::<ValidatorSet>(view, &keys::validators())
        .map(|s| s.validators.into_iter().map(|v| v.org).collect())
        .unwrap_or_default()
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
        GovAction::AddOrg { org: o } => w.put(keys::org(&o.id), o),
        GovAction::RemoveOrg { org: id } => w.delete(keys::org(id)),
        GovAction::RotateKey {
            org: id,
            key_id,
            new_key,
        } => {
            let Some(mut o) = org(view, id) else {
                return invalid(format!("org {id} is not a member"));
            };
            match o.keys.iter_mut().find(|k| k.key_id == *key_id) {
                Some(k) => k.public_key = *new_key,
                None => o.keys.push(OrgKey {
                    key_id: *key_id,
                    public_key: *new_key,
                }),
            }
            w.put(keys::org(id), &o);
        }
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
