//! DocumentService: member-only reads of waybills / eBLs, certificates of origin and settlements.
//!
//! Access (invariant, checked on every document returned, listed or whose history is read):
//! - regulator: everything;
//! - customs: waybills and certificates (declarations reference them), not settlements;
//! - a bank: settlements it is payer or payee bank of;
//! - any org: waybills it issued, carries, holds, endorsed or is a named party of; certificates
//!   it issued or is a named party of.
//!
//! A direct read of an invisible document is PERMISSION_DENIED; lists skip invisible documents.
//!
//! GetWaybill also answers in DCSA eBL 3.0 shape (`dcsa_json`), rendered by
//! `tradechain_ledger::dcsa::dcsa_view` from the waybill's versions: the same mapping the CLI and
//! the tests use. DCSA documents come in through `TransactionService.Submit`: the signed
//! `WaybillOp::Issue` carries the original document (`WaybillIssue::dcsa`), mapped client-side
//! with `tradechain_ledger::dcsa::import` (the node never signs for an org).
use tonic::{Request, Response, Status};
use tradechain_ledger::identity::{OrgId, Role};
use tradechain_ledger::records::{CertificateRecord, SettlementRecord, WaybillRecord};
use tradechain_ledger::state::{Ns, keys, split_key};
use tradechain_proto::v1::{self, document_id, document_service_server::DocumentService, list_documents_request};

use super::auth::Caller;
use super::backend::DocQuery;
use super::status::{internal, invalid, not_found};
use super::{ApiState, read_record, views};

#[derive(Clone)]
pub struct DocumentApi(pub ApiState);

const SVC: &str = "/tradechain.v1.DocumentService/";

/// A document record of any family.
pub enum Doc {
    Waybill(OrgId, WaybillRecord),
    Certificate(CertificateRecord),
    Settlement(SettlementRecord),
}

pub fn may_see(c: &Caller, d: &Doc) -> bool {
    if c.is_regulator() {
        return true;
    }
    let me = Some(c.id());
    match d {
        Doc::Waybill(carrier, r) => {
            let d = &r.document;
            c.has(Role::Customs)
                || c.id() == carrier
                || c.id() == &r.issuer
                || c.id() == &r.holder
                || r.endorsements.iter().any(|e| &e.from == c.id() || &e.to == c.id())
                || [Some(&d.shipper), d.consignee.as_ref(), d.notify_party.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|p| p.org.as_ref() == me)
        }
        Doc::Certificate(r) => {
            let d = &r.document;
            c.has(Role::Customs)
                || c.id() == &r.issuer
                || [&d.exporter, &d.producer, &d.consignee]
                    .into_iter()
                    .any(|p| p.org.as_ref() == me)
        }
        Doc::Settlement(r) => c.id() == &r.instruction.payer_bank || c.id() == &r.instruction.payee_bank,
    }
}

fn org_field(field: &str, s: &str) -> Result<OrgId, Status> {
    OrgId::new(s).map_err(|e| invalid(field, e))
}

fn text_field<'a>(field: &str, s: &'a str) -> Result<&'a str, Status> {
    if s.is_empty() || s.len() > 256 {
        return Err(invalid(field, "must be 1-256 characters"));
    }
    Ok(s)
}

/// State key of the settlement a caller names by `settlement_id`. Settlement ids are scoped by
/// the instructing (payer) bank: `PAYER-BANK/ID` names one directly; a bare id is looked up among
/// the settlements with that id the caller may see, and must name exactly one.
fn settlement_key(shared: &ApiState, caller: &Caller, sid: &str) -> Result<Vec<u8>, Status> {
    if let Some((payer, id)) = sid.split_once('/')
        && let Ok(payer) = OrgId::new(payer)
    {
        return Ok(keys::settlement(&payer, id));
    }
    let (mut found, mut hidden) = (Vec::new(), Vec::new());
    for key in shared
        .backend
        .documents(&DocQuery::Reference(sid.to_string()))
        .map_err(internal)?
    {
        if let Some(d @ Doc::Settlement(_)) = load(shared, &key)?
            && matches!(&d, Doc::Settlement(r) if r.instruction.settlement_id == sid)
        {
            if may_see(caller, &d) {
                found.push(key);
            } else {
                hidden.push(key);
            }
        }
    }
    match found.len() {
        // None visible: the direct read reports PERMISSION_DENIED or NOT_FOUND.
        0 => Ok(hidden
            .into_iter()
            .next()
            .unwrap_or_else(|| keys::settlement(caller.id(), sid))),
        1 => Ok(found.swap_remove(0)),
        _ => Err(invalid(
            "settlement_id",
            "several payer banks use this id: name it as PAYER-BANK/ID",
        )),
    }
}

/// State key of the document a `DocumentId` names.
fn doc_key(shared: &ApiState, caller: &Caller, id: Option<&v1::DocumentId>) -> Result<Vec<u8>, Status> {
    match id.and_then(|i| i.id.as_ref()) {
        Some(document_id::Id::Waybill(w)) => Ok(keys::waybill(
            &org_field("id.waybill.carrier", &w.carrier)?,
            text_field("id.waybill.reference", &w.reference)?,
        )),
        Some(document_id::Id::Certificate(c)) => Ok(keys::certificate(
            &org_field("id.certificate.issuer", &c.issuer)?,
            text_field("id.certificate.number", &c.number)?,
        )),
        Some(document_id::Id::SettlementId(s)) => settlement_key(shared, caller, text_field("id.settlement_id", s)?),
        None => Err(invalid(
            "id",
            "one of waybill, certificate or settlement_id is required",
        )),
    }
}

/// Decode the document at a state key (None when absent or not a document key).
pub(crate) fn load(shared: &ApiState, key: &[u8]) -> Result<Option<Doc>, Status> {
    let b = shared.backend.as_ref();
    let Some((ns, parts)) = split_key(key) else {
        return Ok(None);
    };
    Ok(match ns {
        Ns::Waybill => {
            let carrier = parts
                .first()
                .and_then(|p| std::str::from_utf8(p).ok())
                .and_then(|s| OrgId::new(s).ok());
            match (carrier, read_record::<WaybillRecord>(b, key)?) {
                (Some(c), Some(r)) => Some(Doc::Waybill(c, r)),
                _ => None,
            }
        }
        Ns::Certificate => read_record(b, key)?.map(Doc::Certificate),
        Ns::Settlement if parts.first() == Some(&&b"id"[..]) => read_record(b, key)?.map(Doc::Settlement),
        _ => None,
    })
}

fn decode_version(ns: Ns, bytes: &[u8]) -> Option<v1::DocumentVersion> {
    use tradechain_ledger::codec::decode;
    let (version, at, status, json) = match ns {
        Ns::Waybill => {
            let r: WaybillRecord = decode(bytes).ok()?;
            (r.version, r.updated_at, views::enum_name(&r.status), views::json(&r))
        }
        Ns::Certificate => {
            let r: CertificateRecord = decode(bytes).ok()?;
            let st = if r.revoked.is_some() { "revoked" } else { "valid" };
            (r.version, r.updated_at, st.to_string(), views::json(&r))
        }
        Ns::Settlement => {
            let r: SettlementRecord = decode(bytes).ok()?;
            (r.version, r.updated_at, views::enum_name(&r.status), views::json(&r))
        }
        _ => return None,
    };
    Some(v1::DocumentVersion {
        version,
        at: Some(views::location(at)),
        status,
        record_json: json,
    })
}

fn summary(d: &Doc) -> v1::DocumentSummary {
    let (id, kind, status, version, at) = match d {
        Doc::Waybill(carrier, r) => (
            document_id::Id::Waybill(v1::WaybillId {
                carrier: carrier.to_string(),
                reference: r.document.reference.clone(),
            }),
            "waybill",
            views::enum_name(&r.status),
            r.version,
            r.updated_at,
        ),
        Doc::Certificate(r) => (
            document_id::Id::Certificate(v1::CertificateId {
                issuer: r.issuer.to_string(),
                number: r.document.number.clone(),
            }),
            "certificate",
            if r.revoked.is_some() { "revoked" } else { "valid" }.to_string(),
            r.version,
            r.updated_at,
        ),
        Doc::Settlement(r) => (
            document_id::Id::SettlementId(r.instruction.settlement_id.clone()),
            "settlement",
            views::enum_name(&r.status),
            r.version,
            r.updated_at,
        ),
    };
    v1::DocumentSummary {
        id: Some(v1::DocumentId { id: Some(id) }),
        kind: kind.to_string(),
        status,
        version,
        updated_at: Some(views::location(at)),
    }
}

impl DocumentApi {
    /// Load a document the caller asked for by id: NOT_FOUND, PERMISSION_DENIED or the record.
    fn visible(&self, caller: &Caller, key: &[u8], what: &str) -> Result<Doc, Status> {
        let d = load(&self.0, key)?.ok_or_else(|| not_found(format!("{what} is not on the ledger")))?;
        if !may_see(caller, &d) {
            return Err(Status::permission_denied(format!(
                "{} ({}) may not read {what}",
                caller.id(),
                caller
                    .org
                    .roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )));
        }
        Ok(d)
    }
}

#[tonic::async_trait]
impl DocumentService for DocumentApi {
    async fn get_waybill(&self, req: Request<v1::GetWaybillRequest>) -> Result<Response<v1::WaybillReply>, Status> {
        let caller = self.0.auth(&req, &format!("{SVC}GetWaybill"))?;
        let id = req.get_ref().id.clone().unwrap_or_default();
        let carrier = org_field("id.carrier", &id.carrier)?;
        let reference = text_field("id.reference", &id.reference)?;
        let what = format!("waybill {carrier}/{reference}");
        let key = keys::waybill(&carrier, reference);
        let Doc::Waybill(_, r) = self.visible(&caller, &key, &what)? else {
            return Err(not_found(format!("{what} is not on the ledger")));
        };
        // The DCSA view reads every version (its endorsement chains) and each action's block time.
        let b = &self.0.backend;
        let mut versions: Vec<WaybillRecord> = b
            .document_history(&key)
            .map_err(internal)?
            .iter()
            .map(|v| {
                tradechain_ledger::codec::decode(v)
                    .map_err(|_| Status::internal("a stored waybill version does not decode"))
            })
            .collect::<Result<_, _>>()?;
        if versions.last() != Some(&r) {
            versions.push(r.clone());
        }
        let time_of = |l: tradechain_ledger::records::TxLocation| b.header(l.height).ok().flatten().map(|h| h.time_ms);
        let dcsa_json = tradechain_ledger::dcsa::dcsa_view(&versions, &time_of)
            .map(|j| j.canonical())
            .unwrap_or_default();
        Ok(Response::new(v1::WaybillReply {
            id: Some(id.clone()),
            status: views::enum_name(&r.status),
            holder: r.holder.to_string(),
            issuer: r.issuer.to_string(),
            kind: views::enum_name(&r.document.kind),
            mode: views::enum_name(&r.document.mode),
            port_of_loading: r.document.port_of_loading.clone(),
            port_of_discharge: r.document.port_of_discharge.clone(),
            endorsements: r
                .endorsements
                .iter()
                .map(|e| v1::Endorsement {
                    from: e.from.to_string(),
                    to: e.to.to_string(),
                    at: Some(views::location(e.at)),
                })
                .collect(),
            version: r.version,
            issued_at: Some(views::location(r.issued_at)),
            updated_at: Some(views::location(r.updated_at)),
            record_json: views::json(&r),
            dcsa_json,
        }))
    }

    async fn get_certificate(
        &self,
        req: Request<v1::GetCertificateRequest>,
    ) -> Result<Response<v1::CertificateReply>, Status> {
        let caller = self.0.auth(&req, &format!("{SVC}GetCertificate"))?;
        let id = req.get_ref().id.clone().unwrap_or_default();
        let issuer = org_field("id.issuer", &id.issuer)?;
        let number = text_field("id.number", &id.number)?;
        let what = format!("certificate {issuer}/{number}");
        let Doc::Certificate(r) = self.visible(&caller, &keys::certificate(&issuer, number), &what)? else {
            return Err(not_found(format!("{what} is not on the ledger")));
        };
        Ok(Response::new(v1::CertificateReply {
            id: Some(id.clone()),
            revoked: r.revoked.is_some(),
            revocation_reason: r.revoked.clone().unwrap_or_default(),
            origin_country: r.document.origin_country.clone(),
            destination_country: r.document.destination_country.clone(),
            hs_code: r.document.hs_code.clone(),
            version: r.version,
            issued_at: Some(views::location(r.issued_at)),
            updated_at: Some(views::location(r.updated_at)),
            record_json: views::json(&r),
        }))
    }

    async fn get_settlement(
        &self,
        req: Request<v1::GetSettlementRequest>,
    ) -> Result<Response<v1::SettlementReply>, Status> {
        let caller = self.0.auth(&req, &format!("{SVC}GetSettlement"))?;
        let sid = text_field("settlement_id", &req.get_ref().settlement_id)?.to_string();
        let what = format!("settlement {sid}");
        let key = settlement_key(&self.0, &caller, &sid)?;
        let Doc::Settlement(r) = self.visible(&caller, &key, &what)? else {
            return Err(not_found(format!("{what} is not on the ledger")));
        };
        let i = &r.instruction;
        Ok(Response::new(v1::SettlementReply {
            settlement_id: r.instruction.settlement_id.clone(),
            status: views::enum_name(&r.status),
            payer_bank: i.payer_bank.to_string(),
            payee_bank: i.payee_bank.to_string(),
            amount_minor: i.amount_minor,
            currency: i.currency.clone(),
            version: r.version,
            instructed_at: Some(views::location(r.instructed_at)),
            updated_at: Some(views::location(r.updated_at)),
            record_json: views::json(&r),
        }))
    }

    async fn list_documents(
        &self,
        req: Request<v1::ListDocumentsRequest>,
    ) -> Result<Response<v1::ListDocumentsReply>, Status> {
        let caller = self.0.auth(&req, &format!("{SVC}ListDocuments"))?;
        let r = req.get_ref();
        let b = self.0.backend.as_ref();
        let query = match &r.selector {
            Some(list_documents_request::Selector::Party(p)) => DocQuery::Party(org_field("party", p)?),
            Some(list_documents_request::Selector::Reference(s)) => {
                DocQuery::Reference(text_field("reference", s)?.to_string())
            }
            Some(list_documents_request::Selector::GoodsId(g)) => DocQuery::Goods(
                b.goods_key(text_field("goods_id", g)?)
                    .map_err(|e| invalid("goods_id", e))?,
            ),
            None => return Err(invalid("selector", "one of party, reference or goods_id is required")),
        };
        let skip: usize = match r.page_token.as_str() {
            "" => 0,
            t => t
                .strip_prefix('d')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| invalid("page_token", "not a token from a previous reply"))?,
        };
        let page = match r.page_size {
            0 => self.0.limits.default_page_size,
            n => (n as usize).min(self.0.limits.max_page_size),
        };
        let mut visible = Vec::new();
        for key in b.documents(&query).map_err(internal)? {
            if let Some(d) = load(&self.0, &key)?
                && may_see(&caller, &d)
            {
                visible.push(d);
            }
        }
        let documents: Vec<_> = visible.iter().skip(skip).take(page).map(summary).collect();
        let next = skip + documents.len();
        Ok(Response::new(v1::ListDocumentsReply {
            documents,
            next_page_token: if next < visible.len() {
                format!("d{next}")
            } else {
                String::new()
            },
        }))
    }

    async fn get_history(&self, req: Request<v1::GetHistoryRequest>) -> Result<Response<v1::HistoryReply>, Status> {
        let caller = self.0.auth(&req, &format!("{SVC}GetHistory"))?;
        let id = req.get_ref().id.clone();
        let key = doc_key(&self.0, &caller, id.as_ref())?;
        let Some((ns, _)) = split_key(&key) else {
            return Err(Status::internal("document key"));
        };
        self.visible(&caller, &key, "the document")?;
        let versions = self
            .0
            .backend
            .document_history(&key)
            .map_err(internal)?
            .iter()
            .map(|v| decode_version(ns, v).ok_or_else(|| Status::internal("a stored document version does not decode")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Response::new(v1::HistoryReply { id, versions }))
    }
}
