//! Provenance: EPCIS 2.0 events and the customs steps, and the per-item event index.
//!
//! Invariants enforced:
//! - Every goods identifier (epcList, parentID, childEPCs, input/output lists, quantity classes)
//!   is a GS1 key (`crate::gs1`), with check digits; non-GS1 instance ids are rejected
//!   (`gs1.invalid_key`) so every indexed item has one canonical key. `readPoint`/`bizLocation`
//!   are checked only when they are EPC URNs (other URIs are kept as given). `unlocode` must be a
//!   UN/LOCODE.
//! - Event time is not after block time + skew. Per item, events are ordered by record position
//!   (block, index: the item's event chain), and eventTime is kept as captured: it may be earlier
//!   than the item's previous event (late capture from an offline device is normal; EPCIS
//!   separates eventTime from recordTime), and the item's `last_event_time_ms` is the latest
//!   eventTime seen. Nothing follows destruction, decommissioning or consumption by a
//!   transformation; nothing but customs steps while customs holds it.
//! - Commissioning = ObjectEvent ADD (twice with bizStep commissioning is refused); aggregation
//!   children must be commissioned before being packed; a transformation needs inputs and outputs
//!   and consumes its inputs.
//! - Customs steps only by customs, always located (`unlocode`) in the acting authority's country
//!   (see *Customs jurisdiction* below): declared (no open declaration) → inspected / held →
//!   released; released needs no failed inspection; a preferential claim needs a valid certificate;
//!   loading/departing/shipping/receiving a declared but unreleased item is refused. High-risk HS
//!   codes (genesis) additionally need, on release, commissioning, a valid certificate of origin
//!   and — below AEO-general — an inspection.
//! - Ownership and custody (`validate::prefix`, `validate::custody`): identifiers under a
//!   registered GS1 Company Prefix are created only by its owner or delegates; only an item's
//!   owner or effective holder ends, packs, unpacks, consumes or ships it; shipping to a named
//!   member and that member's receiving move custody; classes and lots never end.
//! - An EPCIS document (`Payload::ProvenanceDocument`) is all or nothing: its events are judged
//!   in document order, each against the state the earlier ones leave, and one refusal refuses
//!   the transaction (`provenance.document.empty` for a document without events).
//! - An event naming no goods (a sensor reading at a read point or business location) is
//!   recorded when it names a `readPoint` or `bizLocation`; it joins no item's timeline and is
//!   found by place (the EPCIS query). Neither goods nor place, or a customs step without goods,
//!   is `provenance.empty`.
//! - Index: each touched goods key gets `ItemEventRef` at `keys::item_event(key, seq)` chained by
//!   `records::item_event_hash` (which names the event's index in its transaction); an EPCIS
//!   eventID gets an `EventIdRecord`. An error declaration
//!   (same eventID + `errorDeclaration`) marks the original corrected — nothing is deleted — and is
//!   appended to the chains of the original's items; items the original ended (destroyed,
//!   decommissioned, consumed by a transformation: it is their last event) are re-opened, so the
//!   corrective event can record what really happened.
//!
//! # Customs jurisdiction
//!
//! Members include the customs authorities of rival countries, so a customs step is an act of one
//! authority on its own territory, never on another's:
//! - Every customs step is located: it carries a UN/LOCODE, and the LOCODE's country (its first two
//!   letters) is the acting customs org's `country`. A step without a UN/LOCODE is refused. A
//!   read point is not resolved to a country instead: a GLN's company prefix tells which GS1
//!   office licensed it, not where the location is, so it cannot place a step in a territory.
//! - A declaration records, in the item record, the authority that made it (`declared_by`) and its
//!   country (`declared_country`). Until the goods are released and declared again (e.g. export
//!   in CN, then import in NL), only customs of that country inspect, hold or release them.
//! - A hold records the authority that placed it (`held_by`). Only that authority releases the
//!   goods or places a new hold on them; another authority (even of the same country) may inspect
//!   held goods but never lifts or takes over the hold. Release clears `held_by`.
//!
//! | rule id | who may | what is refused |
//! |---|---|---|
//! | `membership.role` | customs only record customs steps | a customs step sent by a non-customs org |
//! | `provenance.customs.unlocode_missing` | customs, naming the UN/LOCODE of the step | any customs step without `unlocode` |
//! | `provenance.customs.jurisdiction` | customs of the LOCODE's country | a step at a UN/LOCODE of another country than the acting customs org's |
//! | `provenance.customs.already_declared` | any customs in its own territory, on goods without an open declaration | declaring goods already declared or held |
//! | `provenance.customs.not_declared` | customs, on goods with an open declaration | inspecting, holding or releasing undeclared or released goods |
//! | `provenance.customs.foreign_declaration` | customs of the declaration's country (`declared_country`) | inspecting, holding or releasing goods declared to another country's customs |
//! | `provenance.customs.foreign_hold` | the authority that placed the hold (`held_by`) | releasing, or holding again, goods held by another customs authority |
//! | `provenance.customs.inspection_failed` | the declaration's customs, after a non-failed inspection | releasing goods whose last inspection failed |
//! | `provenance.customs.held` | customs steps only while held | any non-customs event on held goods |
//! | `provenance.customs.not_released` | ports/carriers after release | loading/departing/shipping/receiving/accepting declared, unreleased goods |
use super::certificate::certificate_valid;
use super::{custody, prefix};
use super::{gs1_key, hs_code, limits, org, reject, require_role, unlocode};
use crate::execute::{Rejection, TxContext, Validator};
use crate::gs1::is_instance_key;
use crate::identity::{CreditTier, Role};
use crate::payload::{Action, CustomsStep, EventType, InspectionOutcome, Payload, ProvenanceEvent, QuantityElement};
use crate::records::{CustomsStatus, EventIdRecord, ItemEventRef, ItemRecord, WaybillRecord, item_event_hash};
use crate::state::{Overlay, StateView, Writes, get_typed, keys};
use std::collections::{BTreeMap, BTreeSet};

pub struct ProvenanceValidator;

/// The short name of a CBV value: `urn:epcglobal:cbv:bizstep:loading`, `https://ref.gs1.org/cbv/BizStep-loading`
/// and `loading` all give `loading`.
pub fn cbv_short(v: &str) -> &str {
    let tail = v.rsplit([':', '/']).next().unwrap_or(v);
    tail.strip_prefix("BizStep-")
        .or_else(|| tail.strip_prefix("Disp-"))
        .unwrap_or(tail)
}

fn keys_of(field: &str, ids: &[String]) -> Result<Vec<String>, Rejection> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| gs1_key(&format!("{field}[{i}]"), id))
        .collect()
}

fn class_keys(field: &str, q: &[QuantityElement]) -> Result<Vec<String>, Rejection> {
    q.iter()
        .enumerate()
        .map(|(i, e)| gs1_key(&format!("{field}[{i}].epcClass"), &e.epc_class))
        .collect()
}

fn status_name(s: CustomsStatus) -> &'static str {
    match s {
        CustomsStatus::None => "not declared",
        CustomsStatus::Declared => "declared",
        CustomsStatus::Held => "held",
        CustomsStatus::Released => "released",
    }
}

impl Validator for ProvenanceValidator {
    fn family(&self) -> &'static str {
        "provenance"
    }

    fn validate(&self, ctx: &TxContext<'_>, view: &dyn StateView) -> Result<Writes, Rejection> {
        limits(ctx)?;
        require_role(
            ctx.sender,
            &[Role::Producer, Role::Port, Role::Carrier, Role::Customs],
            "record provenance events",
        )?;
        match &ctx.tx.payload {
            Payload::Provenance(ev) => event(ctx, view, ev, 0),
            Payload::ProvenanceDocument(events) => document(ctx, view, events),
            _ => reject("envelope.family", "not a provenance payload"),
        }
    }
}

/// An EPCIS document, all or nothing: event `i` is judged against the state events `0..i` leave,
/// and the first refusal refuses the whole transaction (its rule id, the event's index in the
/// message), so no part of a document is ever recorded.
fn document(ctx: &TxContext<'_>, view: &dyn StateView, events: &[ProvenanceEvent]) -> Result<Writes, Rejection> {
    if events.is_empty() {
        return reject("provenance.document.empty", "the EPCIS document has no events");
    }
    let mut state = Overlay::new(view);
    for (i, ev) in (0u32..).zip(events) {
        let w = event(ctx, &state, ev, i).map_err(|r| Rejection {
            reason: format!("event {i} of the document: {}", r.reason),
            rule: r.rule,
        })?;
        state.apply(w.0);
    }
    Ok(Writes(state.writes))
}

/// One event, event `index` of its transaction (`Payload::events`).
fn event(ctx: &TxContext<'_>, view: &dyn StateView, ev: &ProvenanceEvent, index: u32) -> Result<Writes, Rejection> {
    if ev.customs.is_some() {
        require_role(ctx.sender, &[Role::Customs], "record customs steps")?;
    }
    let max = ctx.genesis.limits.max_list_len as usize;
    if ev.extensions.len() > max {
        return reject(
            "limits.list_len",
            format!(
                "payload.op.extensions has {} entries, above the limit of {max}",
                ev.extensions.len()
            ),
        );
    }
    if ev.error_declaration.is_some() {
        return error_declaration(ctx, view, ev, index);
    }
    let epcs = keys_of("epcList", &ev.epc_list)?;
    let parent = match &ev.parent_id {
        Some(p) => Some(gs1_key("parentID", p)?),
        None => None,
    };
    let children = keys_of("childEPCs", &ev.child_epcs)?;
    let mut inputs = keys_of("inputEPCList", &ev.input_epc_list)?;
    inputs.extend(class_keys("inputQuantityList", &ev.input_quantity_list)?);
    let mut outputs = keys_of("outputEPCList", &ev.output_epc_list)?;
    outputs.extend(class_keys("outputQuantityList", &ev.output_quantity_list)?);
    let quantities = class_keys("quantityList", &ev.quantity_list)?;
    let child_classes = class_keys("childQuantityList", &ev.child_quantity_list)?;
    for (f, v) in [("readPoint", &ev.read_point), ("bizLocation", &ev.biz_location)] {
        if let Some(id) = v.as_deref().filter(|id| id.starts_with("urn:epc:")) {
            gs1_key(f, id)?;
        }
    }
    if let Some(u) = &ev.unlocode {
        unlocode("unlocode", u)?;
    }
    let latest = ctx
        .block_time_ms
        .saturating_add(i64::try_from(ctx.genesis.limits.max_time_skew_ms).unwrap_or(i64::MAX));
    if ev.event_time_ms > latest {
        return reject(
            "provenance.time_future",
            format!(
                "eventTime {} is after block time {} plus the allowed skew",
                ev.event_time_ms, ctx.block_time_ms
            ),
        );
    }
    let touched: BTreeSet<String> = epcs
        .iter()
        .chain(parent.iter())
        .chain(&children)
        .chain(&inputs)
        .chain(&outputs)
        .chain(&quantities)
        .chain(&child_classes)
        .cloned()
        .collect();
    // An event naming no goods (a sensor reading at a place) is recorded when it names where
    // it happened; it joins no item's timeline. A customs step always acts on goods.
    if touched.is_empty() && (ev.customs.is_some() || (ev.read_point.is_none() && ev.biz_location.is_none())) {
        return reject(
            "provenance.empty",
            if ev.customs.is_some() {
                "a customs step must name the goods it acts on (epcList, parentID, childEPCs, input/output and quantity lists are empty)"
            } else {
                "the event names neither goods (epcList, parentID, childEPCs, input/output and quantity lists are empty) nor a readPoint or bizLocation"
            },
        );
    }
    if let Some(id) = &ev.event_id
        && view.get(&keys::event_id(id)).is_some()
    {
        return reject(
            "provenance.event_id.duplicate",
            format!("eventID {id} is already recorded (an error declaration must carry errorDeclaration)"),
        );
    }
    let mut items: BTreeMap<String, ItemRecord> = touched
        .iter()
        .map(|k| {
            let rec = get_typed::<ItemRecord>(view, &keys::item(k)).unwrap_or_else(|| custody::new_item(view, k));
            (k.clone(), rec)
        })
        .collect();
    for (k, it) in &items {
        if it.ended {
            return reject(
                "provenance.ended",
                format!("goods {k} was destroyed, decommissioned or consumed; no event may follow"),
            );
        }
        if it.customs == CustomsStatus::Held && ev.customs.is_none() {
            return reject(
                "provenance.customs.held",
                format!("goods {k} is held by customs; nothing but a customs step may happen until it is released"),
            );
        }
    }
    let step = ev.biz_step.as_deref().map(cbv_short).unwrap_or("");
    let disposition = ev.disposition.as_deref().map(cbv_short).unwrap_or("");
    let me = &ctx.sender.id;
    let ending = ev.action == Some(Action::Delete)
        || matches!(step, "decommissioning" | "destroying")
        || disposition == "destroyed";
    let transfer = (step == "shipping")
        .then(|| custody::requested_transfer(view, me, &ev.destination_list))
        .flatten();
    // Who may create and who controls: checked on the records as they are before this event.
    custody_checks(
        view,
        &items,
        ev,
        me,
        CustodyScope {
            epcs: &epcs,
            quantities: &quantities,
            parent: parent.as_ref(),
            children: &children,
            inputs: &inputs,
            outputs: &outputs,
            ending,
            shipping: transfer.is_some(),
        },
    )?;
    match ev.event_type {
        EventType::ObjectEvent => {
            let targets: Vec<&String> = epcs.iter().chain(&quantities).collect();
            for k in &targets {
                let Some(it) = items.get_mut(*k) else { continue };
                // Only instances are held, handed on and ended (`validate::custody`).
                let instance = is_instance_key(k);
                if matches!(step, "loading" | "departing" | "shipping" | "receiving" | "accepting")
                    && it.customs == CustomsStatus::Declared
                {
                    return reject(
                        "provenance.customs.not_released",
                        format!(
                            "goods {k} is declared to customs but not released; bizStep {step} must wait for release"
                        ),
                    );
                }
                if ev.action == Some(Action::Add) {
                    if it.commissioned && step == "commissioning" {
                        return reject(
                            "provenance.commission.duplicate",
                            format!("goods {k} is already commissioned"),
                        );
                    }
                    if !it.commissioned && (it.event_count == 0 || it.possessor.is_none()) && instance {
                        custody::commission(it, me);
                    }
                    it.commissioned = true;
                }
                if instance {
                    if ending {
                        it.ended = true;
                    }
                    if let Some(t) = &transfer {
                        it.transfer = Some(t.clone());
                    } else if matches!(step, "receiving" | "accepting") {
                        custody::receive(it, me);
                    }
                }
            }
        }
        EventType::AggregationEvent => {
            let Some(p) = parent.clone() else {
                return reject("provenance.aggregation.parent", "an AggregationEvent needs a parentID");
            };
            match ev.action {
                Some(Action::Add) => {
                    if let Some(pi) = items.get_mut(&p)
                        && pi.event_count == 0
                        && !pi.commissioned
                        && is_instance_key(&p)
                    {
                        custody::commission(pi, me);
                    }
                    for c in children.iter().chain(&child_classes) {
                        let commissioned = items.get(c).is_some_and(|i| i.commissioned);
                        if !commissioned && children.contains(c) {
                            return reject(
                                "provenance.aggregation.child_not_commissioned",
                                format!("child {c} has not been commissioned; it cannot be packed into {p}"),
                            );
                        }
                        if let Some(ci) = items.get_mut(c) {
                            ci.parent = Some(p.clone());
                        }
                        if let Some(pi) = items.get_mut(&p) {
                            pi.children.insert(c.clone());
                        }
                    }
                }
                Some(Action::Delete) => {
                    // Unpacked goods are held by whoever held the container.
                    let holder = custody::effective_possessor(view, &items, &p);
                    for c in children.iter().chain(&child_classes) {
                        if let Some(ci) = items.get_mut(c) {
                            if ci.parent.as_ref() == Some(&p) && holder.is_some() && is_instance_key(c) {
                                ci.possessor = holder.clone();
                            }
                            ci.parent = None;
                        }
                        if let Some(pi) = items.get_mut(&p) {
                            pi.children.remove(c);
                        }
                    }
                }
                _ => {}
            }
        }
        EventType::TransformationEvent => {
            if inputs.is_empty() || outputs.is_empty() {
                return reject(
                    "provenance.transformation.io",
                    format!(
                        "a TransformationEvent needs inputs and outputs (got {} inputs, {} outputs)",
                        inputs.len(),
                        outputs.len()
                    ),
                );
            }
            let ins: BTreeSet<String> = inputs.iter().cloned().collect();
            for k in &inputs {
                if let Some(i) = items.get_mut(k)
                    && is_instance_key(k)
                {
                    i.ended = true;
                }
            }
            for k in &outputs {
                if let Some(o) = items.get_mut(k) {
                    if is_instance_key(k) && o.event_count == 0 {
                        custody::commission(o, me);
                    }
                    o.ended = false;
                    o.commissioned = true;
                    o.inputs.extend(ins.iter().filter(|i| *i != k).cloned());
                }
            }
        }
        EventType::TransactionEvent | EventType::AssociationEvent => {}
    }
    if let Some(c) = &ev.customs {
        customs(ctx, view, ev, c, &mut items)?;
    }
    let mut w = Writes::default();
    for (k, mut it) in items {
        append_event(&mut w, ctx, index, &k, &mut it, ev.event_time_ms);
        it.last_event_time_ms = it.last_event_time_ms.max(ev.event_time_ms);
        it.write(&mut w);
    }
    if let Some(id) = &ev.event_id {
        w.put(
            keys::event_id(id),
            &EventIdRecord {
                tx_id: ctx.tx_id,
                at: ctx.at,
                event: index,
                goods_keys: touched.into_iter().collect(),
                corrected_by: None,
                recorder: ctx.sender.id.clone(),
            },
        );
    }
    Ok(w)
}

/// The goods an event names, by role, and what it does to them.
struct CustodyScope<'a> {
    epcs: &'a [String],
    quantities: &'a [String],
    parent: Option<&'a String>,
    children: &'a [String],
    inputs: &'a [String],
    outputs: &'a [String],
    ending: bool,
    shipping: bool,
}

/// Prefix ownership of what the event creates, and control of what it changes
/// (`validate::prefix`, `validate::custody`), against the records as they are before it.
fn custody_checks(
    view: &dyn StateView,
    items: &BTreeMap<String, ItemRecord>,
    ev: &ProvenanceEvent,
    me: &crate::identity::OrgId,
    s: CustodyScope<'_>,
) -> Result<(), Rejection> {
    let is_new = |k: &str| items.get(k).is_none_or(|i| i.event_count == 0 && !i.commissioned);
    let control = |k: &str, what: &str| custody::require_control(view, items, k, me, what);
    match ev.event_type {
        EventType::ObjectEvent => {
            if ev.action == Some(Action::Add) {
                for k in s.epcs.iter().filter(|k| items.get(*k).is_none_or(|i| !i.commissioned)) {
                    prefix::may_create(view, "epcList", k, me)?;
                }
                for k in s.quantities {
                    prefix::may_create(view, "quantityList", k, me)?;
                }
            }
            if s.ending {
                for k in s.epcs {
                    control(k, "end (destroy, decommission or delete)")?;
                }
            }
            if s.shipping {
                for k in s.epcs {
                    control(k, "ship to another party")?;
                }
            }
        }
        EventType::AggregationEvent if matches!(ev.action, Some(Action::Add) | Some(Action::Delete)) => {
            if let Some(p) = s.parent {
                if is_new(p) {
                    prefix::may_create(view, "parentID", p, me)?;
                } else {
                    control(p, "pack or unpack")?;
                }
            }
            for c in s.children {
                control(c, "pack or unpack")?;
            }
        }
        EventType::TransformationEvent => {
            for k in s.inputs {
                control(k, "consume")?;
            }
            for k in s.outputs {
                if is_instance_key(k) && !is_new(k) {
                    control(k, "name as a transformation output")?;
                } else {
                    prefix::may_create(view, "outputEPCList", k, me)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn append_event(w: &mut Writes, ctx: &TxContext<'_>, event: u32, key: &str, it: &mut ItemRecord, time_ms: i64) {
    let seq = it.event_count;
    let hash = item_event_hash(&it.last_event_hash, &ctx.tx_id, event, key);
    w.put(
        keys::item_event(key, seq),
        &ItemEventRef {
            seq,
            tx_id: ctx.tx_id,
            at: ctx.at,
            event,
            event_time_ms: time_ms,
            prev_event_hash: it.last_event_hash,
            event_hash: hash,
        },
    );
    it.event_count = seq.saturating_add(1);
    it.last_event_hash = hash;
}

fn error_declaration(
    ctx: &TxContext<'_>,
    view: &dyn StateView,
    ev: &ProvenanceEvent,
    index: u32,
) -> Result<Writes, Rejection> {
    let Some(id) = &ev.event_id else {
        return reject(
            "provenance.error.unknown_event",
            "an error declaration must carry the eventID of the event it declares erroneous",
        );
    };
    let Some(mut rec) = get_typed::<EventIdRecord>(view, &keys::event_id(id)) else {
        return reject(
            "provenance.error.unknown_event",
            format!("eventID {id} is not recorded on the ledger"),
        );
    };
    if rec.recorder != ctx.sender.id {
        return reject(
            "provenance.error.not_recorder",
            format!(
                "eventID {id} was recorded by {}; only the org that recorded an event may declare it erroneous",
                rec.recorder
            ),
        );
    }
    if let Some(by) = rec.corrected_by {
        return reject(
            "provenance.error.already_corrected",
            format!("eventID {id} was already declared erroneous by transaction {by}"),
        );
    }
    let time = ev
        .error_declaration
        .as_ref()
        .map(|d| d.declaration_time_ms)
        .unwrap_or(ev.event_time_ms);
    let mut w = Writes::default();
    for k in &rec.goods_keys {
        let mut it = get_typed::<ItemRecord>(view, &keys::item(k)).unwrap_or_else(|| ItemRecord::new(k));
        // Nothing but an error declaration follows an ending event, so an ended item whose last
        // event is the declared one was ended by it: the correction re-opens it (its corrective
        // event may then use it again). What the declaration's own copy claims is not trusted.
        if it.ended
            && let Some(last) = it.event_count.checked_sub(1)
            && get_typed::<ItemEventRef>(view, &keys::item_event(k, last)).is_some_and(|e| e.tx_id == rec.tx_id)
        {
            it.ended = false;
        }
        append_event(&mut w, ctx, index, k, &mut it, time);
        it.write(&mut w);
    }
    rec.corrected_by = Some(ctx.tx_id);
    w.put(keys::event_id(id), &rec);
    Ok(w)
}

fn customs(
    ctx: &TxContext<'_>,
    view: &dyn StateView,
    ev: &ProvenanceEvent,
    step: &CustomsStep,
    items: &mut BTreeMap<String, ItemRecord>,
) -> Result<(), Rejection> {
    let me = ctx.sender;
    let Some(u) = &ev.unlocode else {
        return reject(
            "provenance.customs.unlocode_missing",
            format!(
                "unlocode is missing: a customs step must carry the UN/LOCODE of the customs office (customs {}, country {})",
                me.id, me.country
            ),
        );
    };
    if u.get(..2) != Some(me.country.as_str()) {
        return reject(
            "provenance.customs.jurisdiction",
            format!("customs {} (country {}) has no jurisdiction at {u}", me.id, me.country),
        );
    }
    let what = match step {
        CustomsStep::Declared { .. } => "declare",
        CustomsStep::Inspected { .. } => "inspect",
        CustomsStep::Held { .. } => "hold",
        CustomsStep::Released => "release",
    };
    // An open declaration, made in this customs authority's country.
    let require_open = |k: &str, it: &ItemRecord| -> Result<(), Rejection> {
        if matches!(it.customs, CustomsStatus::None | CustomsStatus::Released) {
            return reject(
                "provenance.customs.not_declared",
                format!(
                    "goods {k} has no open customs declaration ({}); declare it first",
                    status_name(it.customs)
                ),
            );
        }
        if let Some(c) = &it.declared_country
            && *c != me.country
        {
            return reject(
                "provenance.customs.foreign_declaration",
                format!(
                    "goods {k} is declared to customs of {c} (by {}); customs {} (country {}) may not {what} it",
                    it.declared_by.as_ref().map(|d| d.as_str()).unwrap_or("?"),
                    me.id,
                    me.country
                ),
            );
        }
        Ok(())
    };
    // A hold is lifted (or replaced) only by the authority that placed it.
    let require_own_hold = |k: &str, it: &ItemRecord| -> Result<(), Rejection> {
        if it.customs == CustomsStatus::Held
            && let Some(h) = &it.held_by
            && *h != me.id
        {
            return reject(
                "provenance.customs.foreign_hold",
                format!(
                    "goods {k} is held by customs {h}; customs {} may not {what} it (only the holding authority releases its hold)",
                    me.id
                ),
            );
        }
        Ok(())
    };
    match step {
        CustomsStep::Declared {
            declarant,
            hs_code: hs,
            preferential_certificate,
            waybill,
            ..
        } => {
            hs_code("customs.hs_code", hs)?;
            if org(view, declarant).is_none() {
                return reject(
                    "provenance.customs.declarant_unknown",
                    format!("declarant {declarant} is not a current member"),
                );
            }
            if let Some(c) = preferential_certificate
                && let Err(why) = certificate_valid(view, c)
            {
                return reject(
                    "provenance.customs.preferential_certificate",
                    format!("preferential origin claimed but {why}"),
                );
            }
            if let Some(wb) = waybill
                && get_typed::<WaybillRecord>(view, &keys::waybill(&wb.carrier, &wb.reference)).is_none()
            {
                return reject(
                    "provenance.customs.waybill_unknown",
                    format!("no BL {} issued by carrier {}", wb.reference, wb.carrier),
                );
            }
            for (k, it) in items.iter_mut() {
                if matches!(it.customs, CustomsStatus::Declared | CustomsStatus::Held) {
                    return reject(
                        "provenance.customs.already_declared",
                        format!(
                            "goods {k} already has an open customs declaration ({})",
                            status_name(it.customs)
                        ),
                    );
                }
                it.customs = CustomsStatus::Declared;
                it.declarant = Some(declarant.clone());
                it.declared_by = Some(me.id.clone());
                it.declared_country = Some(me.country.clone());
                it.held_by = None;
                it.hs_code = Some(hs.clone());
                it.inspected = None;
                if preferential_certificate.is_some() {
                    it.certificate = preferential_certificate.clone();
                }
                if waybill.is_some() {
                    it.waybill = waybill.clone();
                }
            }
        }
        CustomsStep::Inspected { outcome, .. } => {
            for (k, it) in items.iter_mut() {
                require_open(k, it)?;
                it.inspected = Some(*outcome);
            }
        }
        CustomsStep::Held { .. } => {
            for (k, it) in items.iter_mut() {
                require_open(k, it)?;
                require_own_hold(k, it)?;
                it.customs = CustomsStatus::Held;
                it.held_by = Some(me.id.clone());
            }
        }
        CustomsStep::Released => {
            let snapshot = items.clone();
            for (k, it) in items.iter_mut() {
                require_open(k, it)?;
                require_own_hold(k, it)?;
                if it.inspected == Some(InspectionOutcome::Failed) {
                    return reject(
                        "provenance.customs.inspection_failed",
                        format!("goods {k} failed inspection and cannot be released"),
                    );
                }
                high_risk(ctx, view, k, it, &snapshot)?;
                it.customs = CustomsStatus::Released;
                it.held_by = None;
            }
        }
    }
    Ok(())
}

/// Release conditions for goods whose declared HS code is in a high-risk category.
fn high_risk(
    ctx: &TxContext<'_>,
    view: &dyn StateView,
    k: &str,
    it: &ItemRecord,
    snapshot: &BTreeMap<String, ItemRecord>,
) -> Result<(), Rejection> {
    let Some(hs) = &it.hs_code else { return Ok(()) };
    let Some(cat) = ctx.genesis.high_risk_category(hs) else {
        return Ok(());
    };
    let item = |c: &String| {
        snapshot
            .get(c)
            .cloned()
            .or_else(|| get_typed::<ItemRecord>(view, &keys::item(c)))
    };
    let kids: Vec<ItemRecord> = it.children.iter().filter_map(item).collect();
    let commissioned = it.commissioned
        || (!it.children.is_empty() && kids.len() == it.children.len() && kids.iter().all(|c| c.commissioned));
    if !commissioned {
        return reject(
            "provenance.high_risk.not_commissioned",
            format!("goods {k} (HS {hs}, high-risk: {cat}) has no production/commissioning event on the ledger"),
        );
    }
    let has_cert = std::iter::once(it)
        .chain(kids.iter())
        .filter_map(|i| i.certificate.as_ref())
        .any(|c| certificate_valid(view, c).is_ok());
    if !has_cert {
        return reject(
            "provenance.high_risk.no_certificate",
            format!("goods {k} (HS {hs}, high-risk: {cat}) has no valid certificate of origin on the ledger"),
        );
    }
    let tier = it
        .declarant
        .as_ref()
        .and_then(|d| org(view, d))
        .map(|o| o.credit_tier)
        .unwrap_or(CreditTier::Dishonest);
    if tier < CreditTier::AeoGeneral && it.inspected.is_none() {
        return reject(
            "provenance.high_risk.no_inspection",
            format!(
                "goods {k} (HS {hs}, high-risk: {cat}) needs an inspection before release: declarant {} is below AEO-general ({tier:?})",
                it.declarant.as_ref().map(|d| d.as_str()).unwrap_or("?")
            ),
        );
    }
    Ok(())
}
