//! `tradechain query block|waybill|certificate|settlement`: a block with its transactions'
//! verdicts, and the document reads — all member-only, signed with the org's key
//! (`node::grpc::auth`: the node checks the signature against the org's key in committed state).
use crate::client::{self, status_err};
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use std::path::Path;
use tonic::transport::Channel;
use tradechain_ledger::OrgId;
use tradechain_node::clock::now_ms;
use tradechain_proto::v1;

/// Who signs a member read.
pub struct Member<'a> {
    pub org: &'a str,
    pub key: Option<&'a Path>,
}

/// A request signed for `method` (full gRPC path) as `member`.
pub(crate) async fn signed<M: prost::Message>(
    ch: &Channel,
    member: &Member<'_>,
    method: &str,
    msg: M,
) -> CliResult<tonic::Request<M>> {
    let org = OrgId::new(member.org).map_err(|e| CliError::usage(format!("--org: {e}")))?;
    let key = client::read_key(member.key)?;
    let chain_id = client::chain_id(ch).await?;
    let mut req = tonic::Request::new(msg);
    tradechain_node::grpc::auth::sign_request(&mut req, &chain_id, method, &org, 0, &key, now_ms())
        .map_err(CliError::failure)?;
    Ok(req)
}

fn loc(l: Option<v1::TxLocation>) -> serde_json::Value {
    l.map(|l| serde_json::json!({ "height": l.height, "index": l.index }))
        .unwrap_or(serde_json::Value::Null)
}

fn record(json: &str) -> serde_json::Value {
    serde_json::from_str(json).unwrap_or(serde_json::Value::Null)
}

pub async fn block(ch: Channel, height: u64, m: &Member<'_>, out: &Output) -> CliResult {
    let msg = v1::BlockRequest {
        at: Some(v1::block_request::At::Height(height)),
    };
    let req = signed(&ch, m, "/tradechain.v1.ChainService/GetBlock", msg).await?;
    let b = v1::chain_service_client::ChainServiceClient::new(ch)
        .get_block(req)
        .await
        .map_err(|s| status_err("block", s))?
        .into_inner();
    let h = b.header.unwrap_or_default();
    // Who certified it: the precommit signers (checked by `verify-proof`/`verify`, shown here).
    let signers: Vec<String> =
        tradechain_ledger::codec::decode::<tradechain_ledger::CommitCertificate>(&b.commit_certificate_borsh)
            .map(|c| c.signatures.iter().map(|s| s.validator.to_hex()).collect())
            .unwrap_or_default();
    let v = serde_json::json!({
        "height": h.height, "hash": h.block_hash, "prev_hash": h.prev_hash, "time_ms": h.time_ms,
        "proposer": h.proposer, "state_hash": h.state_hash, "tx_root": h.tx_root, "certified": !b.commit_certificate_borsh.is_empty(),
        "signers": signers,
        "transactions": b.outcomes.iter().map(|o| {
            let r = o.rejection.clone().unwrap_or_default();
            serde_json::json!({ "index": o.index, "tx_id": o.tx_id, "accepted": o.accepted, "rule": r.rule, "reason": r.reason })
        }).collect::<Vec<_>>(),
    });
    out.print(&v, |_| {
        let mut s = format!(
            "block {} {}\n  prev {}\n  proposer {}  state {}\n  {} transactions:\n",
            h.height,
            h.block_hash,
            h.prev_hash,
            h.proposer,
            h.state_hash,
            b.outcomes.len()
        );
        for o in &b.outcomes {
            let verdict = match &o.rejection {
                Some(r) if !o.accepted => format!("rejected {}: {}", r.rule, r.reason),
                _ => "accepted".to_string(),
            };
            s.push_str(&format!("  {:>4}  {}  {verdict}\n", o.index, o.tx_id));
        }
        s
    });
    Ok(())
}

pub async fn waybill(
    ch: Channel,
    carrier: String,
    reference: String,
    dcsa: bool,
    m: &Member<'_>,
    out: &Output,
) -> CliResult {
    let msg = v1::GetWaybillRequest {
        id: Some(v1::WaybillId { carrier, reference }),
    };
    let req = signed(&ch, m, "/tradechain.v1.DocumentService/GetWaybill", msg).await?;
    let w = v1::document_service_client::DocumentServiceClient::new(ch)
        .get_waybill(req)
        .await
        .map_err(|s| status_err("waybill", s))?
        .into_inner();
    if dcsa {
        // Rendered by the node with `ledger::dcsa::dcsa_view`; printed as JSON in either output mode.
        let doc = tradechain_ledger::dcsa::json::parse(&w.dcsa_json)
            .map_err(|e| CliError::failure(format!("the node's DCSA view is not JSON: {e}")))?;
        println!("{}", doc.pretty());
        return Ok(());
    }
    let id = w.id.clone().unwrap_or_default();
    let v = serde_json::json!({
        "carrier": id.carrier, "reference": id.reference, "status": w.status, "holder": w.holder,
        "kind": w.kind, "mode": w.mode, "port_of_loading": w.port_of_loading, "port_of_discharge": w.port_of_discharge,
        "version": w.version, "issued_at": loc(w.issued_at), "updated_at": loc(w.updated_at),
        "endorsements": w.endorsements.iter().map(|e| serde_json::json!({ "from": e.from, "to": e.to, "at": loc(e.at) })).collect::<Vec<_>>(),
        "record": record(&w.record_json),
    });
    out.print(&v, |_| {
        let mut s = format!(
            "waybill {} {} ({} {}, {} → {}): {} — holder {}, version {}\n",
            id.carrier,
            id.reference,
            w.mode,
            w.kind,
            w.port_of_loading,
            w.port_of_discharge,
            w.status,
            w.holder,
            w.version
        );
        for e in &w.endorsements {
            s.push_str(&format!(
                "  endorsed {} → {} at block {}\n",
                e.from,
                e.to,
                e.at.map(|l| l.height).unwrap_or(0)
            ));
        }
        s
    });
    Ok(())
}

pub async fn certificate(ch: Channel, issuer: String, number: String, m: &Member<'_>, out: &Output) -> CliResult {
    let msg = v1::GetCertificateRequest {
        id: Some(v1::CertificateId { issuer, number }),
    };
    let req = signed(&ch, m, "/tradechain.v1.DocumentService/GetCertificate", msg).await?;
    let c = v1::document_service_client::DocumentServiceClient::new(ch)
        .get_certificate(req)
        .await
        .map_err(|s| status_err("certificate", s))?
        .into_inner();
    let id = c.id.clone().unwrap_or_default();
    let v = serde_json::json!({
        "issuer": id.issuer, "number": id.number, "revoked": c.revoked, "revocation_reason": c.revocation_reason,
        "origin_country": c.origin_country, "destination_country": c.destination_country, "hs_code": c.hs_code,
        "version": c.version, "issued_at": loc(c.issued_at), "updated_at": loc(c.updated_at), "record": record(&c.record_json),
    });
    out.print(&v, |_| {
        let state = if c.revoked {
            format!("REVOKED ({})", c.revocation_reason)
        } else {
            "valid".to_string()
        };
        format!(
            "certificate of origin {} {}: {state} — origin {}, destination {}, HS {}, version {}",
            id.issuer, id.number, c.origin_country, c.destination_country, c.hs_code, c.version
        )
    });
    Ok(())
}

pub async fn settlement(ch: Channel, settlement_id: String, m: &Member<'_>, out: &Output) -> CliResult {
    let msg = v1::GetSettlementRequest { settlement_id };
    let req = signed(&ch, m, "/tradechain.v1.DocumentService/GetSettlement", msg).await?;
    let s = v1::document_service_client::DocumentServiceClient::new(ch)
        .get_settlement(req)
        .await
        .map_err(|s| status_err("settlement", s))?
        .into_inner();
    let v = serde_json::json!({
        "settlement_id": s.settlement_id, "status": s.status, "payer_bank": s.payer_bank, "payee_bank": s.payee_bank,
        "amount_minor": s.amount_minor, "currency": s.currency, "version": s.version,
        "instructed_at": loc(s.instructed_at), "updated_at": loc(s.updated_at), "record": record(&s.record_json),
    });
    out.print(&v, |_| {
        format!(
            "settlement {}: {} — {} {} (minor units) from {} to {}, version {}",
            s.settlement_id, s.status, s.amount_minor, s.currency, s.payer_bank, s.payee_bank, s.version
        )
    });
    Ok(())
}
