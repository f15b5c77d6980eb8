//! ProvenanceService: a goods identifier → the item's public history with verification material.
//!
//! Assembly: identifier → canonical goods key (`Backend::goods_key`) → the item's public head
//! (`ItemHead`: count, chain head, customs, container, certificate and waybill references) with
//! its state proof at the head height → its certificate of origin's public head
//! (`CertificateHead`) and its waybill's (`WaybillHead`, the route) proven under the same root →
//! `ItemRecord` (HS code, children, inputs) → a page of the item's event chain
//! (`ItemEventRef`s, none past the proven count) → each event's transaction, block header,
//! commit certificate, Merkle inclusion proof and accepted-outcome proof.
//!
//! Public filtering (invariant): a reply never holds prices, amounts, currencies, bank details,
//! shipper/consignee/notify identities or addresses, invoice references, declarants, or the
//! bytes of any transaction carrying such fields. Only these are shown: what/when/where of each
//! event, the recording org (a member, public by design), certificate of origin status (issuer,
//! number, countries, criterion), customs status, and the route (places, carrier, vehicle,
//! voyage, status: the waybill's public head, never its parties, holder or goods lines). The
//! certificate of origin and the route a reply shows are computed from the proven heads by one
//! function each (`certificate_status`, `waybill_route`), which the verifier (`grpc::proof`)
//! uses too.
//! Every event is disclosed field by field (`ledger::event_fields`): its public fields opened
//! with their salts, every commercial field (business transactions, source/destination parties,
//! customs details, ILMD and other undeclared extension members, an error declaration's reason)
//! only as its salted hash, so what is shown is proven against the signed commitment and nothing
//! withheld can be guessed from it. `tx_redacted` marks events that carry commercial fields
//! (`ledger::event_fields::carries_commercial`, also the public rule of `disclosure`).
use std::collections::BTreeMap;
use std::sync::Arc;

use tonic::{Request, Response, Status};
use tradechain_ledger::codec::{decode, encode};
use tradechain_ledger::event_fields::{EventDisclosure, carries_commercial};
use tradechain_ledger::identity::Org;
use tradechain_ledger::payload::CustomsStep;
use tradechain_ledger::payload::{CertificateRef, WaybillRef};
use tradechain_ledger::records::{CertificateHead, CustomsStatus, ItemEventRef, ItemHead, ItemRecord, WaybillHead};
use tradechain_ledger::state::keys;
use tradechain_ledger::state_tree::ProvenState;
use tradechain_proto::v1::{self, get_provenance_request::Id, provenance_service_server::ProvenanceService};

use super::backend::{Backend, BackendError, ProofParts};
use super::status::{internal, invalid, not_found};
use super::{ApiState, views};

#[derive(Clone)]
pub struct ProvenanceApi(pub ApiState);

/// The canonical goods key a request names, or INVALID_ARGUMENT naming the field.
pub fn resolve_id(backend: &dyn Backend, id: Option<&Id>) -> Result<String, Status> {
    let (field, text) = match id {
        None => {
            return Err(invalid(
                "id",
                "one of digital_link, epc_urn, gtin_serial or goods_key is required",
            ));
        }
        Some(Id::DigitalLink(s)) => {
            if !(s.starts_with("https://") || s.starts_with("http://")) {
                return Err(invalid(
                    "digital_link",
                    format!("{s:?} is not an http(s) GS1 Digital Link URI"),
                ));
            }
            ("digital_link", s.clone())
        }
        Some(Id::EpcUrn(s)) => {
            if !s.starts_with("urn:epc:") {
                return Err(invalid("epc_urn", format!("{s:?} is not an EPC URN (urn:epc:...)")));
            }
            ("epc_urn", s.clone())
        }
        Some(Id::GtinSerial(g)) => {
            let gtin = g.gtin.trim();
            if !matches!(gtin.len(), 8 | 12 | 13 | 14) || !gtin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(
                    "gtin_serial.gtin",
                    format!("{gtin:?} must be 8, 12, 13 or 14 digits"),
                ));
            }
            let serial = g.serial.trim();
            if serial.is_empty() || serial.len() > 20 || serial.contains('/') {
                return Err(invalid(
                    "gtin_serial.serial",
                    "must be 1-20 characters without '/' (GS1 AI 21)",
                ));
            }
            ("gtin_serial", format!("01/{gtin:0>14}/21/{serial}"))
        }
        Some(Id::GoodsKey(s)) => ("goods_key", s.clone()),
    };
    if text.is_empty() || text.len() > 512 {
        return Err(invalid(field, "must be 1-512 characters"));
    }
    backend.goods_key(&text).map_err(|e| invalid(field, e))
}

/// The first sequence number of the page a `next_page_token` (`s<seq>`) names; "" is the first page.
pub(super) fn parse_page_token(t: &str) -> Result<u64, Status> {
    if t.is_empty() {
        return Ok(0);
    }
    t.strip_prefix('s')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| invalid("page_token", "not a token from a previous reply"))
}

/// Per-request map of block headers and certificates (a page often hits one block; the backend
/// may also cache them across requests, `Backend::proof_parts`). Transactions and inclusion
/// proofs are read one by one: a provenance page never decodes or re-hashes a whole block (the
/// store keeps each block's Merkle tree).
#[derive(Default)]
struct BlockCache {
    blocks: BTreeMap<u64, Arc<ProofParts>>,
}

impl BlockCache {
    fn get(&mut self, b: &dyn Backend, height: u64) -> Result<Arc<ProofParts>, Status> {
        match self.blocks.entry(height) {
            std::collections::btree_map::Entry::Occupied(e) => Ok(e.get().clone()),
            std::collections::btree_map::Entry::Vacant(e) => {
                let parts = b
                    .proof_parts(height)
                    .map_err(internal)?
                    .ok_or_else(|| Status::internal(format!("block {height} named by an item event is missing")))?;
                Ok(e.insert(parts).clone())
            }
        }
    }
}

fn org_of(b: &dyn Backend, id: &tradechain_ledger::identity::OrgId) -> Result<Option<Org>, Status> {
    let from_state: Option<Org> = b
        .state_get(&keys::org(id))
        .map_err(internal)?
        .and_then(|v| decode(&v).ok());
    Ok(from_state.or_else(|| b.genesis().org(id).cloned()))
}

fn entry(
    b: &dyn Backend,
    cache: &mut BlockCache,
    goods_key: &str,
    ev: &ItemEventRef,
    with_proofs: bool,
) -> Result<v1::TimelineEntry, Status> {
    let parts = cache.get(b, ev.at.height)?;
    let stx = &b
        .tx(ev.at)
        .map_err(internal)?
        .ok_or_else(|| Status::internal(format!("item event {} of {goods_key} points past its block", ev.seq)))?;
    let mut e = v1::TimelineEntry {
        seq: ev.seq,
        tx_id: ev.tx_id.to_hex(),
        location: Some(views::location(ev.at)),
        event_time_ms: ev.event_time_ms,
        block_time_ms: parts.header.time_ms,
        org: stx.tx().sender.to_string(),
        accepted: true,
        ..Default::default()
    };
    let mut redact = true;
    if let Some(p) = stx.tx().payload.events().get(ev.event as usize) {
        redact = carries_commercial(p);
        e.event_type = views::enum_name(&p.event_type);
        e.action = p.action.as_ref().map(views::enum_name).unwrap_or_default();
        e.biz_step = p.biz_step.clone().unwrap_or_default();
        e.disposition = p.disposition.clone().unwrap_or_default();
        e.event_id = p.event_id.clone().unwrap_or_default();
        e.event_time_zone_offset_min = i32::from(p.event_time_zone_offset_min);
        e.read_point = p.read_point.clone().unwrap_or_default();
        e.biz_location = p.biz_location.clone().unwrap_or_default();
        e.unlocode = p.unlocode.clone().unwrap_or_default();
        e.customs_step = p.customs.as_ref().map(CustomsStep::public_name).unwrap_or_default();
        e.error_declaration = p.error_declaration.is_some();
    }
    let sender = stx.tx().sender.clone();
    if with_proofs {
        let leaf = tradechain_ledger::merkle::leaf_hash(&stx.leaf_bytes());
        let inclusion = b
            .inclusion_proof(ev.at)
            .map_err(internal)?
            .map(|p| views::inclusion(&p));
        e.proof = Some(v1::EventProof {
            block_header_borsh: parts.header_borsh.clone(),
            commit_certificate_borsh: parts.certificate_borsh.clone(),
            inclusion,
            leaf_hash: leaf.0.to_vec(),
            disclosure_borsh: EventDisclosure::public(stx, ev.event)
                .map(|d| encode(&d))
                .unwrap_or_default(),
            tx_redacted: redact,
            event_ref_borsh: encode(ev),
            prev_event_hash: ev.prev_event_hash.to_hex(),
            event_hash: ev.event_hash.to_hex(),
            outcome: b.outcome_proof(ev.at).map_err(internal)?.map(|p| views::inclusion(&p)),
        });
    }
    if let Some(org) = org_of(b, &sender)? {
        e.org_name = org.name;
        e.org_country = org.country;
        e.roles = org.roles.iter().map(|r| r.as_str().to_string()).collect();
    }
    Ok(e)
}

/// The certificate of origin as a reply shows it: from the goods' certificate reference and the
/// certificate's public head (None: referenced but not on the ledger). The verifier computes the
/// same from the proven head and requires the reply to say exactly this.
pub fn certificate_status(
    cref: Option<&CertificateRef>,
    head: Option<&CertificateHead>,
) -> v1::CertificateOfOriginStatus {
    use v1::certificate_of_origin_status::State;
    let Some(r) = cref else {
        return v1::CertificateOfOriginStatus {
            state: State::None as i32,
            ..Default::default()
        };
    };
    let mut s = v1::CertificateOfOriginStatus {
        state: State::Unknown as i32,
        issuer: r.issuer.to_string(),
        number: r.number.clone(),
        ..Default::default()
    };
    if let Some(c) = head {
        s.state = (if c.revoked.is_some() {
            State::Revoked
        } else {
            State::Valid
        }) as i32;
        s.revocation_reason = c.revoked.clone().unwrap_or_default();
        s.origin_country = c.origin_country.clone();
        s.destination_country = c.destination_country.clone();
        s.origin_criterion = c.origin_criterion.clone();
        s.preferential = c.preferential;
    }
    s
}

pub fn customs_status(item: &ItemHead) -> v1::CustomsStatus {
    use v1::customs_status::State;
    let state = match item.customs {
        CustomsStatus::None => State::None,
        CustomsStatus::Declared => State::Declared,
        CustomsStatus::Held => State::Held,
        CustomsStatus::Released => State::Released,
    };
    v1::CustomsStatus {
        state: state as i32,
        inspection_outcome: item.inspected.as_ref().map(views::enum_name).unwrap_or_default(),
    }
}

/// The route as a reply shows it: from the goods' waybill reference and the waybill's public
/// head (None: referenced but not on the ledger, so only carrier and reference). No reference, no
/// route. The verifier computes the same from the proven heads and requires the reply to say
/// exactly this.
pub fn waybill_route(wref: Option<&WaybillRef>, head: Option<&WaybillHead>) -> Option<v1::WaybillRoute> {
    let r = wref?;
    let mut route = v1::WaybillRoute {
        carrier: r.carrier.to_string(),
        reference: r.reference.clone(),
        ..Default::default()
    };
    if let Some(h) = head {
        route.mode = views::enum_name(&h.mode);
        route.place_of_receipt = h.place_of_receipt.clone();
        route.port_of_loading = h.port_of_loading.clone();
        route.port_of_discharge = h.port_of_discharge.clone();
        route.place_of_delivery = h.place_of_delivery.clone();
        route.vehicle = h.vehicle.clone();
        route.voyage = h.voyage.clone();
        route.status = views::enum_name(&h.status);
    }
    Some(route)
}

/// How many levels of containers (item → pallet → container → …) a reply follows.
pub const MAX_CONTAINER_DEPTH: usize = 4;

/// Build one page of an item's provenance and, on the first page, its containers' first pages.
pub fn assemble_with_containers(
    b: &dyn Backend,
    goods_key: &str,
    from_seq: u64,
    page_size: usize,
    with_proofs: bool,
) -> Result<v1::ProvenanceReply, Status> {
    let mut reply = assemble(b, goods_key, from_seq, page_size, with_proofs)?;
    if from_seq == 0 {
        let mut seen = vec![goods_key.to_string()];
        let mut parent = reply.parent.clone();
        while !parent.is_empty() && reply.containers.len() < MAX_CONTAINER_DEPTH && !seen.contains(&parent) {
            let c = match assemble(b, &parent, 0, page_size, with_proofs) {
                Ok(c) => c,
                // A parent named by an aggregation but with no events of its own: nothing to add.
                Err(s) if s.code() == tonic::Code::NotFound => break,
                Err(s) => return Err(s),
            };
            seen.push(parent);
            parent = c.parent.clone();
            reply.containers.push(c);
        }
    }
    Ok(reply)
}

/// How often the head proof is read again when a commit lands between reading the head height
/// and the state values it proves.
const HEAD_PROOF_ATTEMPTS: usize = 4;

/// An item's public head and the public heads of the certificate of origin and the waybill it
/// names, as of one height; with the proof of them when read by `head_proof`.
struct Heads {
    item: ItemHead,
    certificate: Option<CertificateHead>,
    waybill: Option<WaybillHead>,
    proof: Option<v1::HeadProof>,
}

/// The item's public head at the head height, proven under that block's state root, with its
/// certificate of origin's and its waybill's public heads proven under the same root.
fn head_proof(b: &dyn Backend, goods_key: &str) -> Result<Heads, Status> {
    let bad = |what: &str, e: String| internal(BackendError(format!("{what}: {e}")));
    for _ in 0..HEAD_PROOF_ATTEMPTS {
        let height = b.head().map_err(internal)?.map_or(0, |h| h.height);
        // None: a commit after `height` changed the value. Read again at the new head.
        let Some(proven) = b
            .prove_state_at(&keys::item_head(goods_key), height)
            .map_err(internal)?
        else {
            continue;
        };
        let bytes = proven
            .value
            .ok_or_else(|| not_found(format!("no events are recorded for goods item {goods_key}")))?;
        let head: ItemHead = decode(&bytes).map_err(|e| bad("item head", e.to_string()))?;
        // The certificate's and the waybill's public heads at the same height.
        let certificate = match &head.certificate {
            None => None,
            Some(c) => match b
                .prove_state_at(&keys::certificate_head(&c.issuer, &c.number), height)
                .map_err(internal)?
            {
                None => continue,
                Some(p) => Some(p),
            },
        };
        let waybill = match &head.waybill {
            None => None,
            Some(w) => match b
                .prove_state_at(&keys::waybill_head(&w.carrier, &w.reference), height)
                .map_err(internal)?
            {
                None => continue,
                Some(p) => Some(p),
            },
        };
        let value = |p: &Option<ProvenState>| p.as_ref().and_then(|p| p.value.clone());
        let cert_head: Option<CertificateHead> = match value(&certificate) {
            None => None,
            Some(v) => Some(decode(&v).map_err(|e| bad("certificate head", e.to_string()))?),
        };
        let waybill_head: Option<WaybillHead> = match value(&waybill) {
            None => None,
            Some(v) => Some(decode(&v).map_err(|e| bad("waybill head", e.to_string()))?),
        };
        let parts = b
            .proof_parts(proven.height)
            .map_err(internal)?
            .ok_or_else(|| bad("proof", format!("block {height} is missing")))?;
        let proof_of = |p: &Option<ProvenState>| p.as_ref().map(|p| encode(&p.proof)).unwrap_or_default();
        let proof = v1::HeadProof {
            item_head_borsh: bytes,
            block_header_borsh: parts.header_borsh.clone(),
            commit_certificate_borsh: parts.certificate_borsh.clone(),
            state_proof_borsh: encode(&proven.proof),
            certificate_head_borsh: value(&certificate).unwrap_or_default(),
            certificate_proof_borsh: proof_of(&certificate),
            waybill_head_borsh: value(&waybill).unwrap_or_default(),
            waybill_proof_borsh: proof_of(&waybill),
        };
        return Ok(Heads {
            item: head,
            certificate: cert_head,
            waybill: waybill_head,
            proof: Some(proof),
        });
    }
    Err(bad("head proof", "the state kept changing while it was read".into()))
}

/// The heads as the node's state has them now, unproven (a reply without proofs).
fn current_heads(b: &dyn Backend, item: &ItemRecord) -> Result<Heads, Status> {
    let head = ItemHead::of(item);
    let read = |key: Vec<u8>| -> Result<Option<Vec<u8>>, Status> { b.state_get(&key).map_err(internal) };
    let certificate = match &head.certificate {
        None => None,
        Some(r) => read(keys::certificate_head(&r.issuer, &r.number))?.and_then(|v| decode(&v).ok()),
    };
    let waybill = match &head.waybill {
        None => None,
        Some(r) => read(keys::waybill_head(&r.carrier, &r.reference))?.and_then(|v| decode(&v).ok()),
    };
    Ok(Heads {
        item: head,
        certificate,
        waybill,
        proof: None,
    })
}

/// Build one page of an item's provenance (the whole reply but for pagination of the timeline).
/// With proofs, the page is cut at the proven head's event count (events committed after the
/// proof's height wait for the next request), and the summary, customs status and container
/// shown are the proven head's, the certificate of origin and route those of the certificate's
/// and waybill's heads proven with it.
pub fn assemble(
    b: &dyn Backend,
    goods_key: &str,
    from_seq: u64,
    page_size: usize,
    with_proofs: bool,
) -> Result<v1::ProvenanceReply, Status> {
    let proven = if with_proofs {
        Some(head_proof(b, goods_key)?)
    } else {
        None
    };
    let item: ItemRecord = b
        .state_get(&keys::item(goods_key))
        .map_err(internal)?
        .and_then(|v| decode(&v).ok())
        .ok_or_else(|| not_found(format!("no events are recorded for goods item {goods_key}")))?;
    let Heads {
        item: head,
        certificate,
        waybill,
        proof,
    } = match proven {
        Some(h) => h,
        None => current_heads(b, &item)?,
    };
    let mut events = b.item_events(goods_key, from_seq, page_size + 1).map_err(internal)?;
    events.retain(|e| e.seq < head.event_count);
    let more = events.len() > page_size;
    events.truncate(page_size);
    let mut cache = BlockCache::default();
    let mut timeline = Vec::with_capacity(events.len());
    for ev in &events {
        timeline.push(entry(b, &mut cache, goods_key, ev, with_proofs)?);
    }
    let next_page_token = match (more, events.last()) {
        (true, Some(last)) => format!("s{}", last.seq + 1),
        _ => String::new(),
    };
    Ok(v1::ProvenanceReply {
        goods_key: goods_key.to_string(),
        chain_id: b.genesis().chain_id.clone(),
        genesis_hash: b.genesis_hash().to_hex(),
        summary: Some(v1::ItemSummary {
            event_count: head.event_count,
            last_event_hash: head.last_event_hash.to_hex(),
            last_event_time_ms: head.last_event_time_ms,
            commissioned: head.commissioned,
            ended: head.ended,
            hs_code: item.hs_code.clone().unwrap_or_default(),
        }),
        certificate_of_origin: Some(certificate_status(head.certificate.as_ref(), certificate.as_ref())),
        customs: Some(customs_status(&head)),
        route: waybill_route(head.waybill.as_ref(), waybill.as_ref()),
        parent: head.parent.clone().unwrap_or_default(),
        children: item.children.iter().cloned().collect(),
        inputs: item.inputs.iter().cloned().collect(),
        timeline,
        next_page_token,
        containers: Vec::new(),
        head: proof,
    })
}

#[tonic::async_trait]
impl ProvenanceService for ProvenanceApi {
    async fn get_provenance(
        &self,
        req: Request<v1::GetProvenanceRequest>,
    ) -> Result<Response<v1::ProvenanceReply>, Status> {
        let r = req.get_ref();
        let b = self.0.backend.as_ref();
        let key = resolve_id(b, r.id.as_ref())?;
        let from = parse_page_token(&r.page_token)?;
        let limits = &self.0.limits;
        let page = match r.page_size {
            0 => limits.default_page_size,
            n => (n as usize).min(limits.max_page_size),
        };
        Ok(Response::new(assemble_with_containers(
            b,
            &key,
            from,
            page,
            !r.omit_proofs,
        )?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tradechain_ledger::payload::{ErrorDeclaration, EventType, ProvenanceEvent, TypedRef};

    #[test]
    fn commercial_fields_make_an_event_withheld() {
        let public = ProvenanceEvent::new(EventType::ObjectEvent);
        assert!(!carries_commercial(&public));
        let mut ilmd = public.clone();
        ilmd.extensions.insert("ilmd".into(), "{}".into());
        let mut party = public.clone();
        party.destination_list.push(TypedRef {
            kind: Some("owning_party".into()),
            id: "BANK-NL".into(),
        });
        let mut reason = public.clone();
        reason.error_declaration = Some(ErrorDeclaration {
            declaration_time_ms: 0,
            reason: Some("price error".into()),
            corrective_event_ids: Vec::new(),
        });
        let mut no_reason = reason.clone();
        no_reason.error_declaration.as_mut().unwrap().reason = None;
        assert!(carries_commercial(&ilmd) && carries_commercial(&party) && carries_commercial(&reason));
        assert!(!carries_commercial(&no_reason));
        let mut sensor = public.clone();
        sensor.extensions.insert("sensorElementList".into(), "[]".into());
        assert!(!carries_commercial(&sensor), "declared public, as in the EPCIS export");
    }
}
