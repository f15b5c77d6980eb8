//! Offline verification of the material a provenance reply carries (client side: a consumer app
//! or the CLI runs this without trusting the node that answered).
//!
//! Checks per event: the header names the chain and the given validator set; the commit certificate finalises the header (height and hash) under the
//! given validator set; the inclusion proof links the leaf hash to the header's `tx_root`; the
//! outcome proof links `outcome_leaf(index, Accepted)` to the header's `results_hash` (the
//! transaction was accepted, not merely included); the event's disclosure
//! (`ledger::event_fields::EventDisclosure`: header, public fields opened with their salts,
//! commercial fields as salted hashes, signature) recomputes the leaf and the tx id, so every
//! opened field is the signed one; every public field must be opened, the signed event must name
//! the item (bound: any of its goods identifiers normalises to the queried goods key), and every
//! field the entry shows — time and zone, org, type, eventID, action, bizStep, disposition,
//! readPoint, bizLocation, UN/LOCODE, customs step, error declaration — must be the opened one.
//! The event reference's hash is `H(prev_event_hash || tx_id || event || goods_key)` and it
//! matches the entry shown (tx id, seq, event time); of a document transaction, the disclosure
//! opens the event the reference names (`event`), under the document's digest list. Across a timeline: entries
//! follow one another (`prev_event_hash` of each is the previous `event_hash`, starting from the
//! zero hash at seq 0), and the last entry of the last page is the item's `last_event_hash`.
//!
//! Complete as of a height (`verify_head`, `verify_answer`): the reply's head proof shows the
//! item's public head (`ItemHead`) under a certified block's state root, for the state key of
//! the goods key the verifier asked about (never one the reply names). The answer's events must
//! then be exactly the head's `event_count`, chaining to its `last_event_hash`, and the summary,
//! customs status and container the reply shows must be the head's; the certificate of origin
//! the one whose public head (`CertificateHead`) is proven under the same root, and the route
//! exactly the one the waybill's public head (`WaybillHead`) proven under that root says
//! (`provenance::certificate_status`, `provenance::waybill_route`: the server's own functions);
//! each container given must be the one the proven head names, and complete the same way. A node
//! that drops, reorders or invents an event, answers with another item's state, or shows another
//! certificate or route than the ledger's (or drops one), fails here.
use tradechain_ledger::block::{BlockHeader, TxOutcome, outcome_leaf};
use tradechain_ledger::certificate::{CommitCertificate, ValidatorSet};
use tradechain_ledger::codec::decode;
use tradechain_ledger::event_fields::EventDisclosure;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::merkle::InclusionProof;
use tradechain_ledger::records::{CertificateHead, ItemEventRef, ItemHead, WaybillHead, item_event_hash};
use tradechain_ledger::state::keys;
use tradechain_ledger::state_tree::StateProof;
use tradechain_proto::v1;

use super::views;

/// Check a block header and its commit certificate against the chain and validator set.
fn certified_header(
    chain_id: &str,
    validators: &ValidatorSet,
    header_borsh: &[u8],
    certificate_borsh: &[u8],
) -> Result<BlockHeader, String> {
    let header: BlockHeader = decode(header_borsh).map_err(|e| format!("block header: {e}"))?;
    if header.chain_id != chain_id {
        return Err(format!(
            "header is for chain {:?}, expected {chain_id:?}",
            header.chain_id
        ));
    }
    if header.validators_hash != validators.hash() {
        return Err("header is certified by another validator set".into());
    }
    let cert: CommitCertificate = decode(certificate_borsh).map_err(|e| format!("commit certificate: {e}"))?;
    cert.verify(chain_id, header.height, &header.hash(), validators)
        .map_err(|e| format!("commit certificate: {e}"))?;
    Ok(header)
}

/// What a head proof proves: the item's public head, its certificate of origin's and its
/// waybill's public heads (when the item names them), and the certified block they are proven at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvenHead {
    pub head: ItemHead,
    pub certificate: Option<CertificateHead>,
    pub waybill: Option<WaybillHead>,
    pub header: BlockHeader,
}

/// Verify a head proof for `goods_key`: the item's public head under the state root of a
/// certified block, and the public heads of the certificate of origin and the waybill it names
/// under the same root.
pub fn verify_head(
    chain_id: &str,
    validators: &ValidatorSet,
    goods_key: &str,
    p: &v1::HeadProof,
) -> Result<ProvenHead, String> {
    let header = certified_header(chain_id, validators, &p.block_header_borsh, &p.commit_certificate_borsh)
        .map_err(|e| format!("head proof: {e}"))?;
    let head: ItemHead = proven_state(
        &header,
        &keys::item_head(goods_key),
        &p.item_head_borsh,
        &p.state_proof_borsh,
        &format!("head proof of {goods_key}"),
    )?;
    if head.goods_key != goods_key {
        return Err(format!(
            "head proof: the head is of {}, not {goods_key}",
            head.goods_key
        ));
    }
    let certificate = match &head.certificate {
        None => None,
        Some(c) => {
            let ch: CertificateHead = proven_state(
                &header,
                &keys::certificate_head(&c.issuer, &c.number),
                &p.certificate_head_borsh,
                &p.certificate_proof_borsh,
                &format!("certificate proof of {} {}", c.issuer, c.number),
            )?;
            if ch.issuer != c.issuer || ch.number != c.number {
                return Err(format!(
                    "certificate proof: the head is of {} {}, not {} {}",
                    ch.issuer, ch.number, c.issuer, c.number
                ));
            }
            Some(ch)
        }
    };
    let waybill = match &head.waybill {
        None => None,
        Some(w) => {
            let wh: WaybillHead = proven_state(
                &header,
                &keys::waybill_head(&w.carrier, &w.reference),
                &p.waybill_head_borsh,
                &p.waybill_proof_borsh,
                &format!("waybill proof of {} {}", w.carrier, w.reference),
            )?;
            if wh.carrier != w.carrier || wh.reference != w.reference {
                return Err(format!(
                    "waybill proof: the head is of {} {}, not {} {}",
                    wh.carrier, wh.reference, w.carrier, w.reference
                ));
            }
            Some(wh)
        }
    };
    Ok(ProvenHead {
        head,
        certificate,
        waybill,
        header,
    })
}

/// A state value proven under a certified header's state root: `proof_borsh` (a `StateProof`)
/// shows `key` holding `value_borsh`, which decodes to `T`.
fn proven_state<T: borsh::BorshDeserialize>(
    header: &BlockHeader,
    key: &[u8],
    value_borsh: &[u8],
    proof_borsh: &[u8],
    what: &str,
) -> Result<T, String> {
    let proof: StateProof = decode(proof_borsh).map_err(|e| format!("{what}: {e}"))?;
    proof
        .verify(&header.state_hash, key, Some(value_borsh))
        .map_err(|e| format!("{what} at block {}: {e}", header.height))?;
    decode(value_borsh).map_err(|e| format!("{what}: {e}"))
}

/// The summary, customs status, container, certificate of origin and route a reply shows must
/// be its proven heads'.
fn shows_head(reply: &v1::ProvenanceReply, proven: &ProvenHead) -> Result<(), String> {
    let head = &proven.head;
    let cert = super::provenance::certificate_status(head.certificate.as_ref(), proven.certificate.as_ref());
    if reply.certificate_of_origin.as_ref() != Some(&cert) {
        return Err(format!(
            "{}: the reply shows another certificate of origin than the proven one ({} {})",
            reply.goods_key, cert.issuer, cert.number
        ));
    }
    let route = super::provenance::waybill_route(head.waybill.as_ref(), proven.waybill.as_ref());
    if reply.route != route {
        let g = &reply.goods_key;
        return Err(match (&reply.route, &route) {
            (None, Some(w)) => format!(
                "{g}: the reply shows no route but the proven head names waybill {} {} (route {} → {})",
                w.carrier, w.reference, w.port_of_loading, w.port_of_discharge
            ),
            (Some(r), None) => format!(
                "{g}: the reply shows route {} {} but the proven head names no waybill",
                r.carrier, r.reference
            ),
            (Some(r), Some(w)) => {
                let fields = [
                    ("carrier", &r.carrier, &w.carrier),
                    ("reference", &r.reference, &w.reference),
                    ("mode", &r.mode, &w.mode),
                    ("place of receipt", &r.place_of_receipt, &w.place_of_receipt),
                    ("port of loading", &r.port_of_loading, &w.port_of_loading),
                    ("port of discharge", &r.port_of_discharge, &w.port_of_discharge),
                    ("place of delivery", &r.place_of_delivery, &w.place_of_delivery),
                    ("vehicle", &r.vehicle, &w.vehicle),
                    ("voyage", &r.voyage, &w.voyage),
                    ("status", &r.status, &w.status),
                ];
                let (what, shown, want) =
                    fields
                        .into_iter()
                        .find(|(_, a, b)| a != b)
                        .unwrap_or(("", &r.reference, &w.reference));
                format!(
                    "{g}: the reply shows route {what} {shown:?} but the proven waybill {} {} says {want:?}",
                    w.carrier, w.reference
                )
            }
            (None, None) => format!("{g}: the reply's route differs from the proven one"),
        });
    }
    let s = reply.summary.clone().unwrap_or_default();
    let c = reply.customs.clone().unwrap_or_default();
    let want = super::provenance::customs_status(head);
    let shown = [
        ("event count", s.event_count.to_string(), head.event_count.to_string()),
        ("last event hash", s.last_event_hash, head.last_event_hash.to_hex()),
        ("ended", s.ended.to_string(), head.ended.to_string()),
        (
            "commissioned",
            s.commissioned.to_string(),
            head.commissioned.to_string(),
        ),
        ("customs status", c.state.to_string(), want.state.to_string()),
        ("inspection outcome", c.inspection_outcome, want.inspection_outcome),
        (
            "container",
            reply.parent.clone(),
            head.parent.clone().unwrap_or_default(),
        ),
    ];
    for (what, shown, proven) in shown {
        if shown != proven {
            return Err(format!(
                "{}: the reply shows {what} {shown:?} but the proven head says {proven:?}",
                reply.goods_key
            ));
        }
    }
    Ok(())
}

/// Verify all pages of one item's answer, and complete: the proven head of the last page counts
/// exactly the events the pages hold, ending at its chain head. Returns the number of events,
/// the head and the block it is proven at.
fn verify_item(
    chain_id: &str,
    validators: &ValidatorSet,
    goods_key: &str,
    pages: &[&v1::ProvenanceReply],
) -> Result<(usize, ProvenHead), String> {
    let mut prev = None;
    let mut count = 0usize;
    for p in pages {
        if p.goods_key != goods_key {
            return Err(format!("a page answers for {}, not {goods_key}", p.goods_key));
        }
        prev = verify_page(chain_id, validators, p, prev)?;
        count += p.timeline.len();
    }
    let last = pages.last().ok_or("no pages")?;
    if !last.next_page_token.is_empty() {
        return Err(format!("{goods_key}: the answer stops before its last page"));
    }
    let proof = last.head.as_ref().ok_or(format!(
        "{goods_key}: no head proof, so the answer is not proven complete"
    ))?;
    let proven = verify_head(chain_id, validators, goods_key, proof)?;
    shows_head(last, &proven)?;
    let head = &proven.head;
    if count as u64 != head.event_count || prev.unwrap_or(Hash::ZERO) != head.last_event_hash {
        return Err(format!(
            "{goods_key}: the answer holds {count} events but the item has {} as of block {} (an event is missing or added)",
            head.event_count, proven.header.height
        ));
    }
    Ok((count, proven))
}

/// What a verified answer proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Events checked, the item's and its containers'.
    pub events: usize,
    /// The item's timeline is complete as of this block (height, time).
    pub complete_at: (u64, i64),
    /// The container the last shown container's proven head names, when the answer stops at
    /// `MAX_CONTAINER_DEPTH` levels (its events are not part of this answer: query it).
    pub contained_beyond: Option<String>,
}

/// Verify a whole answer: every page of the item (as `query provenance` fetches them) and the
/// containers on its first page, each complete as of its proven head, each container the one the
/// previous proven head names. `goods_key` is the item the verifier asked about.
pub fn verify_answer(
    chain_id: &str,
    validators: &ValidatorSet,
    goods_key: &str,
    pages: &[v1::ProvenanceReply],
) -> Result<Verified, String> {
    let first = pages.first().ok_or("empty answer")?;
    let refs: Vec<&v1::ProvenanceReply> = pages.iter().collect();
    let (mut events, proven) = verify_item(chain_id, validators, goods_key, &refs)?;
    let mut parent = proven.head.parent.clone();
    for c in &first.containers {
        if parent.as_deref() != Some(c.goods_key.as_str()) {
            return Err(format!(
                "container {} is not the one the proven head names ({})",
                c.goods_key,
                parent.as_deref().unwrap_or("none")
            ));
        }
        let (n, h) = verify_item(chain_id, validators, &c.goods_key, &[c]).map_err(|e| format!("container {e}"))?;
        events += n;
        parent = h.head.parent;
    }
    if let Some(p) = &parent
        && first.containers.len() < super::provenance::MAX_CONTAINER_DEPTH
    {
        return Err(format!(
            "the proven head names container {p} but the answer leaves it out"
        ));
    }
    Ok(Verified {
        events,
        complete_at: (proven.header.height, proven.header.time_ms),
        contained_beyond: parent,
    })
}

/// Verify one timeline entry's proof. Returns the verified event reference.
pub fn verify_entry(
    chain_id: &str,
    validators: &ValidatorSet,
    goods_key: &str,
    entry: &v1::TimelineEntry,
) -> Result<ItemEventRef, String> {
    let p = entry.proof.as_ref().ok_or("entry has no proof")?;
    let header = certified_header(chain_id, validators, &p.block_header_borsh, &p.commit_certificate_borsh)?;
    let inc = p.inclusion.as_ref().ok_or("no inclusion proof")?;
    let proof: InclusionProof = decode(&inc.proof_borsh).map_err(|e| format!("inclusion proof: {e}"))?;
    let leaf: [u8; 32] = p
        .leaf_hash
        .as_slice()
        .try_into()
        .map_err(|_| "leaf hash must be 32 bytes".to_string())?;
    let leaf = Hash(leaf);
    if !proof.verify_hash(&leaf, &header.tx_root) {
        return Err("inclusion proof does not reach the header's tx_root".into());
    }
    let ev: ItemEventRef = decode(&p.event_ref_borsh).map_err(|e| format!("event reference: {e}"))?;
    if ev.at.height != header.height || u64::from(ev.at.index) != proof.index {
        return Err("event reference location differs from the proven leaf".into());
    }
    // Accepted, not a rejected transaction that merely sits in the block.
    let out = p
        .outcome
        .as_ref()
        .ok_or(format!("entry seq {} has no outcome proof", ev.seq))?;
    let out: InclusionProof = decode(&out.proof_borsh).map_err(|e| format!("outcome proof: {e}"))?;
    if out.index != proof.index
        || !out.verify_hash(&outcome_leaf(ev.at.index, &TxOutcome::Accepted), &header.results_hash)
    {
        return Err(format!(
            "entry seq {}: the transaction is not proven accepted (its outcome does not reach block {}'s results hash)",
            ev.seq, header.height
        ));
    }
    if ev.tx_id.to_hex() != entry.tx_id || ev.seq != entry.seq || ev.event_time_ms != entry.event_time_ms {
        return Err("event reference differs from the entry's tx id, seq or time".into());
    }
    // Disclosed field by field: the opening recomputes the transaction id and the proven leaf,
    // so every public field it opens is the one the sender signed.
    if p.disclosure_borsh.is_empty() {
        return Err(format!("entry seq {}: no disclosure of the signed event", ev.seq));
    }
    let d: EventDisclosure =
        decode(&p.disclosure_borsh).map_err(|e| format!("entry seq {}: disclosure: {e}", ev.seq))?;
    let (id, disclosed_leaf) = d
        .id_and_leaf()
        .map_err(|e| format!("entry seq {}: disclosure: {e}", ev.seq))?;
    if disclosed_leaf != leaf {
        return Err(format!(
            "entry seq {}: the disclosed fields do not hash to the signed transaction's leaf (a field was altered)",
            ev.seq
        ));
    }
    if id != ev.tx_id {
        return Err(format!(
            "entry seq {}: the disclosed transaction's id differs from the event's tx id",
            ev.seq
        ));
    }
    // Of a document transaction, the event the index entry names (the index hashes it).
    if d.event() != ev.event {
        return Err(format!(
            "entry seq {}: the disclosure opens event {} of the transaction, the entry is event {}",
            ev.seq,
            d.event(),
            ev.event
        ));
    }
    if d.header.chain_id != chain_id {
        return Err(format!(
            "entry seq {}: the transaction is signed for chain {:?}",
            ev.seq, d.header.chain_id
        ));
    }
    let pe = d
        .fields
        .public_fields()
        .map_err(|e| format!("entry seq {}: {e}", ev.seq))?;
    // Bound to the item: the signed event names it (in any identifier spelling) in a role that
    // puts it on its timeline.
    if !pe
        .goods
        .touched_ids()
        .iter()
        .filter_map(|id| tradechain_ledger::gs1::goods_key(id).ok())
        .any(|k| k == goods_key)
    {
        return Err(format!(
            "entry seq {}: the signed event does not name goods {goods_key}",
            ev.seq
        ));
    }
    // What the entry shows must be what was signed. The ledger indexes an error declaration at
    // its declarationTime (`validate::provenance`), so that is the time its entry shows.
    let signed_time = pe
        .error_declaration
        .as_ref()
        .map_or(pe.event_time_ms, |(declared_ms, _)| *declared_ms);
    let shown = [
        ("eventTime", signed_time.to_string(), entry.event_time_ms.to_string()),
        (
            "eventTimeZoneOffset",
            pe.event_time_zone_offset_min.to_string(),
            entry.event_time_zone_offset_min.to_string(),
        ),
        ("recording org", d.header.sender.to_string(), entry.org.clone()),
        ("type", views::enum_name(&pe.event_type), entry.event_type.clone()),
        (
            "eventID",
            pe.event_id.clone().unwrap_or_default(),
            entry.event_id.clone(),
        ),
        (
            "action",
            pe.action.as_ref().map(views::enum_name).unwrap_or_default(),
            entry.action.clone(),
        ),
        (
            "bizStep",
            pe.biz_step.clone().unwrap_or_default(),
            entry.biz_step.clone(),
        ),
        (
            "disposition",
            pe.disposition.clone().unwrap_or_default(),
            entry.disposition.clone(),
        ),
        (
            "readPoint",
            pe.read_point.clone().unwrap_or_default(),
            entry.read_point.clone(),
        ),
        (
            "bizLocation",
            pe.biz_location.clone().unwrap_or_default(),
            entry.biz_location.clone(),
        ),
        (
            "unlocode",
            pe.unlocode.clone().unwrap_or_default(),
            entry.unlocode.clone(),
        ),
        (
            "customs step",
            pe.customs_step.clone().unwrap_or_default(),
            entry.customs_step.clone(),
        ),
        (
            "error declaration",
            pe.error_declaration.is_some().to_string(),
            entry.error_declaration.to_string(),
        ),
    ];
    for (field, signed, entry_value) in shown {
        if signed != entry_value {
            return Err(format!(
                "entry seq {} shows {field} {entry_value:?} but the signed event says {signed:?}",
                ev.seq
            ));
        }
    }
    if item_event_hash(&ev.prev_event_hash, &ev.tx_id, ev.event, goods_key) != ev.event_hash {
        return Err(format!("event hash of seq {} does not match its inputs", ev.seq));
    }
    if ev.prev_event_hash.to_hex() != p.prev_event_hash || ev.event_hash.to_hex() != p.event_hash {
        return Err("hex event hashes differ from the encoded event reference".into());
    }
    Ok(ev)
}

/// Verify every entry of a page and that they chain. `prev` is the `event_hash` of the entry
/// before this page (None on the first page, which must start at seq 0 from the zero hash).
/// Returns the last entry's event hash.
pub fn verify_page(
    chain_id: &str,
    validators: &ValidatorSet,
    reply: &v1::ProvenanceReply,
    prev: Option<Hash>,
) -> Result<Option<Hash>, String> {
    let mut last = prev;
    for e in &reply.timeline {
        let ev = verify_entry(chain_id, validators, &reply.goods_key, e)?;
        let expected_prev = last.unwrap_or(Hash::ZERO);
        if last.is_none() && ev.seq != 0 {
            return Err(format!("first entry has seq {}, expected 0", ev.seq));
        }
        if ev.prev_event_hash != expected_prev {
            return Err(format!("entry seq {} does not follow the previous entry", ev.seq));
        }
        last = Some(ev.event_hash);
    }
    if reply.next_page_token.is_empty() {
        let head = reply.summary.as_ref().map(|s| s.last_event_hash.as_str()).unwrap_or("");
        if let Some(l) = last
            && l.to_hex() != head
        {
            return Err("the chain does not end at the item's last event hash".into());
        }
    }
    Ok(last)
}
