//! Waybill / eBL lifecycle (DCSA eBL v3 states, MLETR exclusive control).
//!
//! Invariants enforced:
//! - Only carriers issue; a reference is unique per carrier; the original has sub-reference 0;
//!   places are UN/LOCODEs, party countries ISO 3166, HS codes well-formed, goods ids GS1 keys;
//!   straight bills and sea waybills name a consignee; holders are members; a kept DCSA
//!   document is bounded, canonical and names the bill's reference (`dcsa::check_kept`).
//! - ISSUED → (transfer)* → SURRENDERED_FOR_DELIVERY → ACCOMPLISHED;
//!   ISSUED → SURRENDERED_FOR_AMENDMENT → (amend: re-issued with a higher sub-reference) ISSUED;
//!   ISSUED → VOID, by the issuer only, never after a surrender (a to-order bill only while the
//!   issuer itself holds it); an amendment re-issues to the party that surrendered the bill.
//! - Exactly one holder at a time; only the holder transfers or surrenders (a surrendered bill is
//!   held by its carrier); only to-order bills are endorsable; nothing happens to a VOID or
//!   ACCOMPLISHED bill. Each change bumps `version` (the store keeps every version).
//! - Every version is written with its public head, the route (`WaybillRecord::write`: one
//!   function, so the proven route never drifts from the record).
//!
//! # Exclusive control
//!
//! A to-order bill is a document of title: whoever holds it controls the goods, and the holder is
//! usually not the carrier (the shipper, its endorsee, a financing bank). The carrier therefore
//! never acts on a negotiable bill behind its holder's back:
//! - it voids a to-order bill only while the carrier itself holds it (the holder endorsed it back
//!   to the carrier); a straight bill or sea waybill (not a document of title) it may void while
//!   ISSUED;
//! - it amends only a bill surrendered for amendment (so held by the carrier), and re-issues it to
//!   the party that surrendered it: the amended document's `holder` must be that party (the last
//!   endorsee, or the original holder when never endorsed), never a party of the carrier's choice;
//! - only the current holder endorses (transfers) or surrenders.
//!
//! | rule id | who may | what is refused |
//! |---|---|---|
//! | `waybill.transfer.not_holder` | the current holder | endorsing a bill one does not hold |
//! | `waybill.transfer.not_negotiable` | holder of a to-order bill | endorsing a straight bill or sea waybill |
//! | `waybill.surrender.not_holder` | the current holder | surrendering a bill one does not hold |
//! | `waybill.not_issuer` | the issuing carrier | voiding, amending or accomplishing another carrier's bill |
//! | `waybill.exclusive_control` | the carrier, only while it holds the to-order bill | voiding or amending a to-order bill held by a third party (bank, shipper, endorsee) |
//! | `waybill.state` | the carrier, in the right state | voiding after a surrender; amending a bill not surrendered for amendment |
//! | `waybill.amend.holder` | the carrier, re-issuing to the surrenderer | an amended document naming another holder than the party that surrendered it |
//! | `waybill.amend.invalid` | the carrier | an amendment changing the reference or not raising the sub-reference |
//! | `waybill.dcsa.invalid` | the carrier | a kept DCSA document (`WaybillIssue::dcsa`) above `dcsa::MAX_DOCUMENT_BYTES`, not canonical JSON of an object, or naming another `transportDocumentReference` |
use super::{country, gs1_key, hs_code, limits, org, reject, require_role, unlocode};
use crate::execute::{Rejection, TxContext, Validator};
use crate::identity::{OrgId, Role};
use crate::payload::{Payload, SurrenderPurpose, WaybillIssue, WaybillKind, WaybillOp, WaybillStatus};
use crate::records::{Endorsement, WaybillRecord};
use crate::state::{StateView, Writes, get_typed, keys};

pub struct WaybillValidator;

impl Validator for WaybillValidator {
    fn family(&self) -> &'static str {
        "waybill"
    }

    fn validate(&self, ctx: &TxContext<'_>, view: &dyn StateView) -> Result<Writes, Rejection> {
        limits(ctx)?;
        let Payload::Waybill(op) = &ctx.tx.payload else {
            return reject("envelope.family", "not a waybill payload");
        };
        let me = &ctx.sender.id;
        let mut w = Writes::default();
        match op {
            WaybillOp::Issue(doc) => {
                require_role(ctx.sender, &[Role::Carrier], "issue waybills")?;
                if doc.sub_reference != 0 {
                    return reject(
                        "waybill.issue.invalid",
                        format!(
                            "sub_reference is {} on BL {}; an original is issued with 0 (amend re-issues)",
                            doc.sub_reference, doc.reference
                        ),
                    );
                }
                check_document(view, doc)?;
                let key = keys::waybill(me, &doc.reference);
                if view.get(&key).is_some() {
                    return reject(
                        "waybill.issue.duplicate",
                        format!("carrier {me} already issued BL {}", doc.reference),
                    );
                }
                WaybillRecord {
                    issuer: me.clone(),
                    document: doc.clone(),
                    status: WaybillStatus::Issued,
                    holder: doc.holder.clone(),
                    endorsements: Vec::new(),
                    version: 1,
                    issued_at: ctx.at,
                    updated_at: ctx.at,
                }
                .write(&mut w);
            }
            WaybillOp::Transfer {
                carrier,
                reference,
                new_holder,
            } => {
                let mut rec = load_open(view, carrier, reference)?;
                if rec.holder != *me {
                    return reject(
                        "waybill.transfer.not_holder",
                        format!(
                            "org {me} is not the current holder of BL {reference} (holder: {})",
                            rec.holder
                        ),
                    );
                }
                require_status(&rec, WaybillStatus::Issued, "transferred")?;
                if rec.document.kind != WaybillKind::ToOrder {
                    return reject(
                        "waybill.transfer.not_negotiable",
                        format!(
                            "BL {reference} is a {} and cannot be endorsed; only a to-order bill can",
                            kind_name(rec.document.kind)
                        ),
                    );
                }
                member(view, "new_holder", new_holder)?;
                rec.endorsements.push(Endorsement {
                    from: me.clone(),
                    to: new_holder.clone(),
                    at: ctx.at,
                });
                rec.holder = new_holder.clone();
                bump(&mut w, rec, ctx);
            }
            WaybillOp::Surrender {
                carrier,
                reference,
                purpose,
            } => {
                let mut rec = load_open(view, carrier, reference)?;
                if rec.holder != *me {
                    return reject(
                        "waybill.surrender.not_holder",
                        format!(
                            "org {me} is not the current holder of BL {reference} (holder: {}) and cannot surrender it",
                            rec.holder
                        ),
                    );
                }
                require_status(&rec, WaybillStatus::Issued, "surrendered")?;
                rec.status = match purpose {
                    SurrenderPurpose::Delivery => WaybillStatus::SurrenderedForDelivery,
                    SurrenderPurpose::Amendment => WaybillStatus::SurrenderedForAmendment,
                };
                rec.holder = rec.issuer.clone();
                bump(&mut w, rec, ctx);
            }
            WaybillOp::Amend {
                carrier,
                reference,
                amended,
            } => {
                let mut rec = load_open(view, carrier, reference)?;
                require_issuer(me, &rec, reference, "amend")?;
                require_control(me, &rec, "amend")?;
                require_status(&rec, WaybillStatus::SurrenderedForAmendment, "amended")?;
                if amended.reference != *reference || amended.sub_reference <= rec.document.sub_reference {
                    return reject(
                        "waybill.amend.invalid",
                        format!(
                            "amended document must keep reference {reference} and raise sub_reference above {} (got {} / {})",
                            rec.document.sub_reference, amended.reference, amended.sub_reference
                        ),
                    );
                }
                check_document(view, amended)?;
                let surrenderer = surrendered_by(&rec);
                if amended.holder != *surrenderer {
                    return reject(
                        "waybill.amend.holder",
                        format!(
                            "amended.holder {} is not {surrenderer}, the party that surrendered BL {reference} for amendment; the carrier re-issues to it",
                            amended.holder
                        ),
                    );
                }
                rec.holder = amended.holder.clone();
                rec.document = (**amended).clone();
                rec.status = WaybillStatus::Issued;
                bump(&mut w, rec, ctx);
            }
            WaybillOp::Accomplish { carrier, reference } => {
                let mut rec = load_open(view, carrier, reference)?;
                require_issuer(me, &rec, reference, "accomplish")?;
                require_status(&rec, WaybillStatus::SurrenderedForDelivery, "accomplished")?;
                rec.status = WaybillStatus::Accomplished;
                bump(&mut w, rec, ctx);
            }
            WaybillOp::Void { carrier, reference, .. } => {
                let mut rec = load_open(view, carrier, reference)?;
                require_issuer(me, &rec, reference, "void")?;
                require_control(me, &rec, "void")?;
                require_status(&rec, WaybillStatus::Issued, "voided")?;
                rec.status = WaybillStatus::Void;
                bump(&mut w, rec, ctx);
            }
        }
        Ok(w)
    }
}

fn kind_name(k: WaybillKind) -> &'static str {
    match k {
        WaybillKind::ToOrder => "to-order bill",
        WaybillKind::Straight => "straight bill",
        WaybillKind::SeaWaybill => "sea waybill",
    }
}

pub(crate) fn status_name(s: WaybillStatus) -> &'static str {
    match s {
        WaybillStatus::Issued => "ISSUED",
        WaybillStatus::SurrenderedForDelivery => "SURRENDERED_FOR_DELIVERY",
        WaybillStatus::SurrenderedForAmendment => "SURRENDERED_FOR_AMENDMENT",
        WaybillStatus::Accomplished => "ACCOMPLISHED",
        WaybillStatus::Void => "VOID",
    }
}

fn member(view: &dyn StateView, field: &str, id: &OrgId) -> Result<(), Rejection> {
    if org(view, id).is_none() {
        return reject("waybill.unknown_party", format!("{field} {id} is not a current member"));
    }
    Ok(())
}

fn check_document(view: &dyn StateView, doc: &WaybillIssue) -> Result<(), Rejection> {
    let r = &doc.reference;
    if r.is_empty() {
        return reject("waybill.issue.invalid", "reference is empty");
    }
    if doc.goods.is_empty() {
        return reject("waybill.issue.invalid", format!("BL {r} has no goods lines"));
    }
    if doc.kind != WaybillKind::ToOrder && doc.consignee.is_none() {
        return reject(
            "waybill.issue.invalid",
            format!("BL {r} is a {} and must name its consignee", kind_name(doc.kind)),
        );
    }
    for (f, code) in [
        ("place_of_receipt", &doc.place_of_receipt),
        ("port_of_loading", &doc.port_of_loading),
        ("port_of_discharge", &doc.port_of_discharge),
        ("place_of_delivery", &doc.place_of_delivery),
    ] {
        unlocode(f, code)?;
    }
    country("shipper.country", &doc.shipper.country)?;
    if let Some(c) = &doc.consignee {
        country("consignee.country", &c.country)?;
    }
    if let Some(n) = &doc.notify_party {
        country("notify_party.country", &n.country)?;
    }
    for (i, g) in doc.goods.iter().enumerate() {
        hs_code(&format!("goods[{i}].hs_code"), &g.hs_code)?;
        for (j, id) in g.goods_ids.iter().enumerate() {
            gs1_key(&format!("goods[{i}].goods_ids[{j}]"), id)?;
        }
    }
    if let Some(kept) = &doc.dcsa
        && let Err(e) = crate::dcsa::check_kept(kept, &doc.reference)
    {
        return reject("waybill.dcsa.invalid", format!("BL {r}: dcsa: {e}"));
    }
    member(view, "holder", &doc.holder)
}

/// Load a waybill that exists and is neither void nor accomplished (its record is stored under
/// its issuer and reference, `WaybillRecord::write`).
fn load_open(view: &dyn StateView, carrier: &OrgId, reference: &str) -> Result<WaybillRecord, Rejection> {
    let Some(rec) = get_typed::<WaybillRecord>(view, &keys::waybill(carrier, reference)) else {
        return reject(
            "waybill.not_found",
            format!("no BL {reference} issued by carrier {carrier}"),
        );
    };
    if matches!(rec.status, WaybillStatus::Void | WaybillStatus::Accomplished) {
        return reject(
            "waybill.closed",
            format!(
                "BL {reference} is {}; no further action is possible",
                status_name(rec.status)
            ),
        );
    }
    Ok(rec)
}

fn require_issuer(me: &OrgId, rec: &WaybillRecord, reference: &str, what: &str) -> Result<(), Rejection> {
    if rec.issuer != *me {
        return reject(
            "waybill.not_issuer",
            format!(
                "org {me} is not the issuer of BL {reference} (issuer: {}) and cannot {what} it",
                rec.issuer
            ),
        );
    }
    Ok(())
}

/// A to-order bill that is ISSUED and held by a third party is out of the carrier's control: it
/// may not void or amend it until the holder surrenders it (or endorses it back to the carrier).
fn require_control(me: &OrgId, rec: &WaybillRecord, what: &str) -> Result<(), Rejection> {
    if rec.document.kind == WaybillKind::ToOrder && rec.status == WaybillStatus::Issued && rec.holder != *me {
        return reject(
            "waybill.exclusive_control",
            format!(
                "BL {} is a to-order bill held by {} (holder); carrier {me} may not {what} it until it is surrendered to the carrier",
                rec.document.reference, rec.holder
            ),
        );
    }
    Ok(())
}

/// The party that surrendered a bill: its holder just before the surrender. While ISSUED the
/// holder is the last endorsee, or the document's holder when the bill was never endorsed since
/// (an amendment re-issues to the surrenderer, so this stays true across amendments).
fn surrendered_by(rec: &WaybillRecord) -> &OrgId {
    rec.endorsements.last().map(|e| &e.to).unwrap_or(&rec.document.holder)
}

fn require_status(rec: &WaybillRecord, want: WaybillStatus, what: &str) -> Result<(), Rejection> {
    if rec.status != want {
        return reject(
            "waybill.state",
            format!(
                "BL {} is {}; it can be {what} only when {}",
                rec.document.reference,
                status_name(rec.status),
                status_name(want)
            ),
        );
    }
    Ok(())
}

/// A new version of a waybill: written with its public head (`WaybillRecord::write`).
fn bump(w: &mut Writes, mut rec: WaybillRecord, ctx: &TxContext<'_>) {
    rec.version = rec.version.saturating_add(1);
    rec.updated_at = ctx.at;
    rec.write(w);
}
