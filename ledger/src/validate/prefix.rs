//! The GS1 Company Prefix registry: which member owns the identifiers under a prefix, and who
//! else it lets create them.
//!
//! GS1 licenses each Company Prefix (4-12 digits) to one company, and every GTIN, SSCC, GLN,
//! GRAI, GIAI… that company allocates begins with it (`gs1::company_prefix_digits`). Rival
//! members share this ledger, so a member must not be able to create identifiers under another
//! brand's prefix (counterfeit serials, a squatted SSCC) — the prefix decides who may.
//!
//! Invariants:
//! - A prefix is registered to one member org: in genesis (`Genesis::gs1_prefixes`) or by
//!   governance (`GovAction::AssignPrefix`, quorum of validator orgs), which also moves a
//!   registered prefix to another org (its delegations end).
//! - Registered prefixes never nest (GS1 allocates them so): a prefix is refused if a shorter
//!   registered one begins it, or if it begins a longer registered one (`keys::gs1_prefix_cover`
//!   marks the leading parts of every registered prefix). So at most one registered prefix
//!   matches a key, and `lookup` finds it by trying the 4-12 digit leading parts.
//! - The owner alone delegates (`GovernanceOp::DelegatePrefix`, no quorum): to at most
//!   `MAX_DELEGATES` current members.
//! - Creating an identifier under a registered prefix — commissioning (ObjectEvent ADD) of an
//!   item or of a quantity of a class, a transformation output, a new aggregation parent — needs
//!   the owner or a delegate (`may_create`). Identifiers under an unregistered prefix stay open:
//!   members also trade goods of brands that are not members; there the first commissioner
//!   becomes the item's owner (`validate::custody`).
//!
//! | rule id | who may | what is refused |
//! |---|---|---|
//! | `gs1.prefix_not_owner` | the prefix's owner and its delegates | creating an identifier under another org's registered prefix |
//! | `governance.prefix.invalid` | validator orgs by quorum | a prefix that is not 4-12 digits, or assigned to a non-member |
//! | `governance.prefix.overlap` | — | a prefix that nests with a registered one (either begins the other) |
//! | `governance.prefix.unknown` | — | delegating under a prefix nobody registered |
//! | `governance.prefix.not_owner` | the prefix's owner | delegating (or revoking) under another org's prefix |
//! | `governance.prefix.delegates` | — | a delegate that is not a member, is the owner, or is one more than `MAX_DELEGATES` |
use super::{org, reject};
use crate::execute::Rejection;
use crate::gs1::{COMPANY_PREFIX_LEN, company_prefix_digits, is_company_prefix};
use crate::identity::OrgId;
use crate::records::PrefixRecord;
use crate::state::{StateView, Writes, get_typed, keys};
use std::collections::BTreeSet;

/// Orgs one prefix owner may delegate to.
pub const MAX_DELEGATES: usize = 16;

/// The registered prefix a canonical goods key falls under, if any.
pub fn lookup(view: &dyn StateView, key: &str) -> Option<PrefixRecord> {
    let digits = company_prefix_digits(key)?;
    let longest = digits.len().min(*COMPANY_PREFIX_LEN.end());
    (*COMPANY_PREFIX_LEN.start()..=longest)
        .rev()
        .filter_map(|n| digits.get(..n))
        .find_map(|p| get_typed::<PrefixRecord>(view, &keys::gs1_prefix(p)))
}

/// Whether `who` may create identifier `key` (the owner of its registered prefix, a delegate,
/// or anyone when the prefix is not registered).
pub fn may_create(view: &dyn StateView, field: &str, key: &str, who: &OrgId) -> Result<(), Rejection> {
    match lookup(view, key) {
        Some(r) if r.owner != *who && !r.delegates.contains(who) => reject(
            "gs1.prefix_not_owner",
            format!(
                "{field} {key} is under GS1 Company Prefix {} registered to {}; {who} is neither its owner nor a delegate",
                r.prefix, r.owner
            ),
        ),
        _ => Ok(()),
    }
}

/// Check an assignment of `prefix` to `to` against the registry: the record it replaces, if
/// the prefix is registered already.
pub fn check_assign(view: &dyn StateView, prefix: &str, to: &OrgId) -> Result<Option<PrefixRecord>, Rejection> {
    if !is_company_prefix(prefix) {
        return reject(
            "governance.prefix.invalid",
            format!("prefix {prefix:?} must be 4-12 digits (a GS1 Company Prefix)"),
        );
    }
    if org(view, to).is_none() {
        return reject("governance.prefix.invalid", format!("org {to} is not a current member"));
    }
    for n in *COMPANY_PREFIX_LEN.start()..prefix.len() {
        if let Some(shorter) = prefix
            .get(..n)
            .and_then(|p| get_typed::<PrefixRecord>(view, &keys::gs1_prefix(p)))
        {
            return reject(
                "governance.prefix.overlap",
                format!(
                    "prefix {prefix} lies under {} (registered to {}); GS1 Company Prefixes never nest",
                    shorter.prefix, shorter.owner
                ),
            );
        }
    }
    if view.get(&keys::gs1_prefix_cover(prefix)).is_some() {
        return reject(
            "governance.prefix.overlap",
            format!("prefix {prefix} begins a longer registered prefix; GS1 Company Prefixes never nest"),
        );
    }
    Ok(get_typed::<PrefixRecord>(view, &keys::gs1_prefix(prefix)))
}

/// Register `prefix` to `to` (delegations end), with the cover marks of its leading parts.
/// Callers check first (`check_assign`, or `Genesis::validate`).
pub fn register(w: &mut Writes, prefix: &str, to: &OrgId) {
    for n in *COMPANY_PREFIX_LEN.start()..prefix.len() {
        if let Some(part) = prefix.get(..n) {
            w.put(keys::gs1_prefix_cover(part), &prefix.to_string());
        }
    }
    w.put(
        keys::gs1_prefix(prefix),
        &PrefixRecord {
            prefix: prefix.to_string(),
            owner: to.clone(),
            delegates: BTreeSet::new(),
        },
    );
}

/// The owner `me` grants or revokes `delegate`'s right to create identifiers under `prefix`.
pub fn delegate(
    view: &dyn StateView,
    me: &OrgId,
    prefix: &str,
    delegate: &OrgId,
    grant: bool,
) -> Result<Writes, Rejection> {
    let Some(mut rec) = get_typed::<PrefixRecord>(view, &keys::gs1_prefix(prefix)) else {
        return reject(
            "governance.prefix.unknown",
            format!("GS1 Company Prefix {prefix:?} is not registered"),
        );
    };
    if rec.owner != *me {
        return reject(
            "governance.prefix.not_owner",
            format!(
                "prefix {prefix} is registered to {}; only its owner delegates under it",
                rec.owner
            ),
        );
    }
    if grant {
        if org(view, delegate).is_none() || delegate == me {
            return reject(
                "governance.prefix.delegates",
                format!("delegate {delegate} must be a current member other than the owner"),
            );
        }
        rec.delegates.insert(delegate.clone());
        if rec.delegates.len() > MAX_DELEGATES {
            return reject(
                "governance.prefix.delegates",
                format!("prefix {prefix} already has {MAX_DELEGATES} delegates, the most allowed"),
            );
        }
    } else {
        rec.delegates.remove(delegate);
    }
    let mut w = Writes::default();
    w.put(keys::gs1_prefix(prefix), &rec);
    Ok(w)
}
