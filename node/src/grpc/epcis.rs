//! EpcisService: EPCIS 2.0 JSON-LD documents in (as signed provenance transactions) and out (an
//! item's public provenance as an `EPCISDocument`).
//!
//! Invariants:
//! - One mapping: documents are read and written only by `tradechain_ledger::epcis`, the same
//!   code the CLI runs to build the transaction it signs; the node rebuilds that transaction
//!   byte for byte (`epcis::document_transaction`) and never signs anything itself.
//! - SubmitEpcis captures a document as one transaction (`epcis::document_transaction`): the
//!   validators record all its events or none. It checks everything it can before admitting: the
//!   document maps, it fits the chain's size limits, the org and key are current, the signature
//!   verifies. Then the transaction is admitted as `Submit` does, and acknowledged once durable.
//! - ExportEpcis is public: every event passes `epcis::export::public_view`, the same withholding
//!   as GetProvenance (no business transactions, parties, customs details or free-form extension
//!   members). Transactions that are not provenance events (none are indexed under an item) and
//!   rejected transactions are never exported.
use tonic::{Request, Response, Status};
use tradechain_ledger::codec::decode;
use tradechain_ledger::crypto::Signature;
use tradechain_ledger::epcis::{self, ExportOptions, export::public_view};
use tradechain_ledger::identity::{Org, OrgId};
use tradechain_ledger::state::keys;
use tradechain_ledger::tx::SignedTransaction;
use tradechain_proto::v1::{self, epcis_service_server::EpcisService};

use super::ApiState;
use super::backend::SubmitError;
use super::provenance::parse_page_token;
use super::status::{internal, invalid, not_found, rejected, submit_error, unavailable_syncing};
use crate::clock::now_ms;
use crate::epcis_rest::filter::{EventFilter, IdMatch};
use tradechain_ledger::epcis::export::biz_step_term;

#[derive(Clone)]
pub struct EpcisApi(pub ApiState);

/// The request's criteria as the shared EPCIS filter (`epcis_rest::filter`, the REST binding's
/// matching): inclusive time window, bizStep in any CBV spelling, location = read point or
/// business location, the same identifier in any spelling.
fn export_filter(b: &dyn super::Backend, r: &v1::ExportEpcisRequest) -> EventFilter {
    let gk = |s: &str| b.goods_key(s).ok();
    EventFilter {
        event_time_ge: r.from_time_ms,
        event_time_le: r.to_time_ms,
        biz_steps: (!r.biz_step.is_empty()).then(|| vec![biz_step_term(&r.biz_step).to_string()]),
        any_location: (!r.location.is_empty()).then(|| vec![IdMatch::new(&r.location, &gk)]),
        ..EventFilter::default()
    }
}

#[tonic::async_trait]
impl EpcisService for EpcisApi {
    async fn submit_epcis(
        &self,
        req: Request<v1::SubmitEpcisRequest>,
    ) -> Result<Response<v1::SubmitEpcisReply>, Status> {
        let r = req.get_ref();
        let b = &self.0.backend;
        let genesis = b.genesis();
        let events = epcis::import_document(&r.document).map_err(|e| invalid("document", e))?;
        if events.is_empty() {
            return Err(invalid("document", "holds no events"));
        }
        epcis::check_limits(&events, &genesis.limits).map_err(|e| invalid("document", e))?;
        let sender = OrgId::new(&r.org).map_err(|e| invalid("org", e))?;
        let info = b.node_info();
        if info.sync.syncing {
            let h = b.head().map_err(internal)?.map(|h| h.height).unwrap_or(0);
            return Err(unavailable_syncing(h, info.sync.target_height));
        }
        let org: Org = b
            .state_get(&keys::org(&sender))
            .map_err(internal)?
            .and_then(|v| decode(&v).ok())
            .ok_or_else(|| {
                rejected(
                    "membership.unknown_sender",
                    &format!("org {sender} is not a current member"),
                )
            })?;
        if org.key(r.key_id).is_none() {
            return Err(rejected(
                "membership.unknown_key",
                &format!("org {sender} has no current key {}", r.key_id),
            ));
        }
        let seed: [u8; 32] = r.disclosure_seed.as_slice().try_into().map_err(|_| {
            invalid(
                "disclosure_seed",
                format!("is {} bytes, not 32", r.disclosure_seed.len()),
            )
        })?;
        let signature: [u8; 64] = r.signature.as_slice().try_into().map_err(|_| {
            invalid(
                "signature",
                format!("is {} bytes, not a 64-byte ed25519 signature", r.signature.len()),
            )
        })?;
        let tx = epcis::document_transaction(&events, &genesis.chain_id, &sender, r.key_id, r.nonce, r.time_ms);
        let stx = SignedTransaction::new(tx, tradechain_ledger::hash::Hash(seed), Signature(signature));
        // The signature is verified once, by the admission (`Backend::submit`), as for `Submit`.
        let id = b.submit(stx).map_err(|e| match e {
            SubmitError::BadSignature(_) => invalid(
                "signature",
                format!(
                    "does not verify for {sender} key {} over the document's transaction ({} events, nonce {})",
                    r.key_id,
                    events.len(),
                    r.nonce
                ),
            ),
            e => submit_error(e),
        })?;
        // Acknowledged only once it is durable.
        b.durable().await.map_err(submit_error)?;
        Ok(Response::new(v1::SubmitEpcisReply { tx_id: id.to_hex() }))
    }

    async fn export_epcis(
        &self,
        req: Request<v1::ExportEpcisRequest>,
    ) -> Result<Response<v1::ExportEpcisReply>, Status> {
        let r = req.get_ref();
        let b = self.0.backend.as_ref();
        if r.identifier.is_empty() || r.identifier.len() > 512 {
            return Err(invalid("identifier", "must be 1-512 characters"));
        }
        let goods_key = b.goods_key(&r.identifier).map_err(|e| invalid("identifier", e))?;
        let limits = &self.0.limits;
        let page = match r.page_size {
            0 => limits.default_page_size,
            n => (n as usize).min(limits.max_page_size),
        }
        .max(1);
        let mut seq = parse_page_token(&r.page_token)?;
        let filter = export_filter(b, r);
        let gk = |s: &str| b.goods_key(s).ok();
        if b.item_events(&goods_key, 0, 1).map_err(internal)?.is_empty() {
            return Err(not_found(format!("no events are recorded for goods item {goods_key}")));
        }
        let mut events = Vec::new();
        let mut next = String::new();
        // Scan the item's chain in pages until `page` events match or the chain ends.
        'scan: loop {
            let refs = b.item_events(&goods_key, seq, page).map_err(internal)?;
            if refs.is_empty() {
                break;
            }
            for er in &refs {
                seq = er.seq.saturating_add(1);
                let Some(stx) = b.tx(er.at).map_err(internal)? else {
                    return Err(Status::internal(format!(
                        "item event {} of {goods_key} names a missing transaction",
                        er.seq
                    )));
                };
                if let Some(ev) = stx.tx().payload.events().get(er.event as usize)
                    && filter.matches(ev, 0, &gk)
                {
                    events.push(public_view(ev));
                    if events.len() == page {
                        if !b.item_events(&goods_key, seq, 1).map_err(internal)?.is_empty() {
                            next = format!("s{seq}");
                        }
                        break 'scan;
                    }
                }
            }
        }
        let opts = ExportOptions {
            creation_date_ms: r.creation_date_ms.unwrap_or_else(now_ms),
        };
        let document = epcis::export_document(&events, &opts)
            .map_err(|e| Status::internal(format!("a recorded event does not export: {e}")))?;
        Ok(Response::new(v1::ExportEpcisReply {
            document,
            goods_key,
            event_count: u32::try_from(events.len()).unwrap_or(u32::MAX),
            next_page_token: next,
        }))
    }
}
