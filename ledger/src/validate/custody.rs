//! Custody of goods: who owns and who holds each goods instance, following its EPCIS events.
//!
//! # The model
//!
//! Members are rivals, so no member may end, repack or hand on another member's goods. EPCIS
//! has the vocabulary (CBV source/destination types `owning_party` and `possessing_party`,
//! bizSteps `shipping` and `receiving`); the ledger follows it:
//!
//! - **Instances only.** Custody applies to goods instances (`gs1::is_instance_key`: serialised
//!   items, logistic units, individual assets). A class or lot (`01/{gtin}`, `01/{gtin}/10/{lot}`)
//!   is a quantity of fungible goods: it has no single holder and is never *ended* by an event on
//!   some of it (destroying 5 kg of a lot does not destroy the lot).
//! - **Who owns, who holds.** An item first seen under a registered GS1 Company Prefix is owned
//!   and held by the prefix's owner (the brand). Commissioning an item the ledger has not seen
//!   (or that nobody holds) makes the commissioner its possessor (the brand or a delegate,
//!   `validate::prefix`), and its owner too when no brand owns it; commissioning never takes an
//!   item away from its holder. An item under an unregistered prefix that no member has commissioned has neither:
//!   it is *open* (the first commissioner takes it).
//! - **Packed goods follow their container.** While an item is aggregated into a parent, the
//!   possessor that counts (`effective_possessor`) is that of its outermost container (up to
//!   `MAX_NESTING` levels). Unpacking (AggregationEvent DELETE) gives each child that possessor.
//! - **Controller.** The owner of an item or its effective possessor *controls* it. Only a
//!   controller records the events that change custody or end an item (`require_control`):
//!   ObjectEvent DELETE, `decommissioning`, `destroying` or disposition `destroyed`; packing an
//!   item into a parent or unpacking it (child, and an existing parent); consuming it as a
//!   transformation input, or naming an existing item as an output; shipping it with a
//!   destination list that names a receiving party.
//! - **Transfer.** Shipping by a controller whose `destinationList` names a member as
//!   `possessing_party` and/or `owning_party` (a PGLN or GLN under that member's registered
//!   prefix, or the member's org id) starts a transfer; the named member's `receiving` or
//!   `accepting` completes it (possessor and/or owner change). Until then the shipper keeps
//!   custody; a later shipping replaces the pending transfer. Parties that resolve to no member
//!   (a consignee outside the network) start no transfer.
//! - **Observations stay open.** Every other event (observing, arriving, loading, inspecting,
//!   sensor readings, customs steps, a receiving nobody is waiting for) is recorded by any
//!   member whose role allows it and changes no custody.
//!
//! Invariants: every commissioned, live instance under a registered prefix has exactly one
//! effective possessor; owner and possessor change only by commissioning, by a transfer its
//! controller started and the named party completed, or by unpacking (the container's holder).
//!
//! | rule id | who may | what is refused |
//! |---|---|---|
//! | `provenance.custody.not_controller` | the item's owner or effective possessor | ending, packing, unpacking, consuming or shipping (to a named party) another org's goods |
use super::reject;
use crate::execute::Rejection;
use crate::gs1::is_instance_key;
use crate::identity::OrgId;
use crate::payload::TypedRef;
use crate::records::{ItemRecord, PendingTransfer};
use crate::state::{StateView, get_typed, keys};
use std::collections::BTreeMap;

/// Containers followed up from an item (pallet → case → unit is 2).
pub const MAX_NESTING: usize = 8;

/// An item's record as this event sees it: the event's own working copy first, then state.
fn record(view: &dyn StateView, items: &BTreeMap<String, ItemRecord>, key: &str) -> Option<ItemRecord> {
    items
        .get(key)
        .cloned()
        .or_else(|| get_typed::<ItemRecord>(view, &keys::item(key)))
}

/// The possessor that counts for `key`: its outermost container's (a packed item travels with
/// its container), else its own.
pub fn effective_possessor(view: &dyn StateView, items: &BTreeMap<String, ItemRecord>, key: &str) -> Option<OrgId> {
    possessor_of(view, items, record(view, items, key)?)
}

/// `effective_possessor` of the item whose record is `rec`.
fn possessor_of(view: &dyn StateView, items: &BTreeMap<String, ItemRecord>, mut rec: ItemRecord) -> Option<OrgId> {
    let mut possessor = rec.possessor.clone();
    for _ in 0..MAX_NESTING {
        let Some(parent) = rec.parent.clone() else { break };
        let Some(p) = record(view, items, &parent) else { break };
        if p.possessor.is_some() {
            possessor = p.possessor.clone();
        }
        rec = p;
    }
    possessor
}

/// Refuse unless `who` controls instance `key` (owner or effective possessor), or the item is
/// open (no owner, no possessor). Classes and lots are not possessed: always allowed.
pub fn require_control(
    view: &dyn StateView,
    items: &BTreeMap<String, ItemRecord>,
    key: &str,
    who: &OrgId,
    what: &str,
) -> Result<(), Rejection> {
    if !is_instance_key(key) {
        return Ok(());
    }
    let Some(rec) = record(view, items, key) else {
        return Ok(()); // no record: nobody owns or holds it
    };
    let owner = rec.owner.clone();
    let possessor = possessor_of(view, items, rec);
    if owner.is_none() && possessor.is_none() {
        return Ok(());
    }
    if owner.as_ref() == Some(who) || possessor.as_ref() == Some(who) {
        return Ok(());
    }
    let name = |o: &Option<OrgId>| o.as_ref().map(|o| o.to_string()).unwrap_or_else(|| "nobody".into());
    reject(
        "provenance.custody.not_controller",
        format!(
            "goods {key} is owned by {} and held by {}; {who} may not {what} it",
            name(&owner),
            name(&possessor)
        ),
    )
}

/// The short CBV name of a source/destination type (`owning_party` from any spelling).
fn sdt_short(kind: &str) -> &str {
    let tail = super::provenance::cbv_short(kind);
    tail.strip_prefix("SDT-").unwrap_or(tail)
}

/// The member a party reference names: a PGLN/GLN under a member's registered prefix, or a
/// member's org id. `None` for anyone else.
fn member(view: &dyn StateView, id: &str) -> Option<OrgId> {
    if let Ok(key) = crate::gs1::goods_key(id)
        && (key.starts_with("417/") || key.starts_with("414/"))
    {
        return super::prefix::lookup(view, &key)
            .map(|r| r.owner)
            .filter(|o| super::org(view, o).is_some());
    }
    OrgId::new(id).ok().filter(|o| super::org(view, o).is_some())
}

/// The transfer a shipping event's destination list asks for, if it names a member as
/// possessing or owning party.
pub fn requested_transfer(view: &dyn StateView, from: &OrgId, destinations: &[TypedRef]) -> Option<PendingTransfer> {
    let named = |role: &str| {
        destinations
            .iter()
            .filter(|d| d.kind.as_deref().map(sdt_short) == Some(role))
            .find_map(|d| member(view, &d.id))
    };
    let (possessor, owner) = (named("possessing_party"), named("owning_party"));
    (possessor.is_some() || owner.is_some()).then(|| PendingTransfer {
        from: from.clone(),
        possessor,
        owner,
    })
}

/// Complete `it`'s pending transfer if `who` is a party it names; otherwise nothing changes.
pub fn receive(it: &mut ItemRecord, who: &OrgId) {
    let Some(t) = &it.transfer else { return };
    if t.possessor.as_ref() != Some(who) && t.owner.as_ref() != Some(who) {
        return;
    }
    if let Some(p) = &t.possessor {
        it.possessor = Some(p.clone());
    }
    if let Some(o) = &t.owner {
        it.owner = Some(o.clone());
    }
    it.transfer = None;
}

/// Custody of a newly commissioned instance: `who` holds it; it owns it unless a brand does.
pub fn commission(it: &mut ItemRecord, who: &OrgId) {
    if it.owner.is_none() {
        it.owner = Some(who.clone());
    }
    it.possessor = Some(who.clone());
    it.transfer = None;
}

/// The record of an item this ledger has not seen yet: owned and held by the brand (the owner
/// of its registered prefix) when it is an instance under one, open otherwise.
pub fn new_item(view: &dyn StateView, key: &str) -> ItemRecord {
    let mut it = ItemRecord::new(key);
    if is_instance_key(key)
        && let Some(brand) = super::prefix::lookup(view, key)
    {
        it.owner = Some(brand.owner.clone());
        it.possessor = Some(brand.owner);
    }
    it
}
