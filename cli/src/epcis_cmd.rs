//! `tradechain submit epcis FILE.jsonld` and `tradechain query epcis ID`: EPCIS 2.0 JSON-LD in
//! and out over the node's EpcisService.
//!
//! Invariants: the document is mapped with `tradechain_ledger::epcis` here, before anything is
//! sent, so a bad document exits 2 naming the event index and field and nothing is submitted;
//! the document is one transaction (all its events or none), the one the node rebuilds
//! (`epcis::document_transaction`), with the org's pending next nonce. The export prints the
//! node's public view.
use std::path::Path;

use tonic::transport::Channel;
use tradechain_ledger::OrgId;
use tradechain_ledger::epcis::{self, ExportOptions, time};
use tradechain_node::clock::now_ms;
use tradechain_proto::v1::{self, epcis_service_client::EpcisServiceClient, transaction_status::State};

use crate::client::{self, status_err};
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use crate::submit::SubmitArgs;

/// Map, sign and submit an EPCIS document as one transaction (all its events or none).
pub async fn submit(args: &SubmitArgs, endpoint: &str, key: Option<&Path>, out: &Output) -> CliResult {
    let path = &args.file;
    let text = std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    let events = epcis::import_document(&text).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    if events.is_empty() {
        return Err(CliError::usage(format!(
            "{}: the document holds no events",
            path.display()
        )));
    }
    let org = OrgId::new(&args.org).map_err(|e| CliError::usage(format!("--org: {e}")))?;
    let key = client::read_key(key)?;
    let ch = client::connect(endpoint).await?;
    let chain_id = client::chain_id(&ch).await?;
    let nonce = client::next_nonce(&ch, &org).await?;
    let time_ms = now_ms();
    let signed = epcis::document_transaction(&events, &chain_id, &org, args.key_id, nonce, time_ms).sign(&key);
    let reply = EpcisServiceClient::new(ch.clone())
        .submit_epcis(v1::SubmitEpcisRequest {
            document: text,
            org: org.to_string(),
            key_id: args.key_id,
            nonce,
            time_ms,
            signature: signed.signature.0.to_vec(),
            disclosure_seed: signed.disclosure_seed().0.to_vec(),
        })
        .await
        .map_err(|s| status_err("submit epcis", s))?
        .into_inner();
    if signed.id().to_hex() != reply.tx_id {
        return Err(CliError::failure(format!(
            "the node answered tx id {}, this client signed {}",
            reply.tx_id,
            signed.id()
        )));
    }
    let n = events.len();
    if !args.wait {
        out.print(
            &serde_json::json!({ "tx_id": reply.tx_id, "events": n, "state": "pending" }),
            |v| format!("document ({n} events): submitted {}", v["tx_id"].as_str().unwrap_or("")),
        );
        return Ok(());
    }
    let st = client::wait(&ch, &signed, args.timeout_ms).await?;
    let height = st.location.map(|l| l.height).unwrap_or(0);
    match st.state() {
        State::Committed => {
            out.print(
                &serde_json::json!({ "tx_id": reply.tx_id, "events": n, "state": "committed", "height": height }),
                |v| {
                    format!(
                        "document ({n} events): committed {} at height {height}",
                        v["tx_id"].as_str().unwrap_or("")
                    )
                },
            );
            Ok(())
        }
        State::Rejected => {
            let r = st.rejection.unwrap_or_default();
            out.print(
                &serde_json::json!({ "tx_id": reply.tx_id, "events": n, "state": "rejected", "rule": r.rule, "reason": r.reason }),
                |_| format!("document ({n} events): rejected {}, nothing recorded", reply.tx_id),
            );
            Err(CliError::rejected(format!(
                "the document ({}) was refused as a whole, none of its {n} events recorded: {}: {}",
                reply.tx_id, r.rule, r.reason
            )))
        }
        _ => Err(CliError::unavailable(format!(
            "the document ({}) is still pending after {} ms",
            reply.tx_id, args.timeout_ms
        ))),
    }
}

/// Filters of `query epcis`.
pub struct ExportFilter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub biz_step: Option<String>,
    pub location: Option<String>,
}

fn time_flag(flag: &str, v: &Option<String>) -> CliResult<Option<i64>> {
    v.as_deref()
        .map(|s| time::parse_ms(s).map_err(|e| CliError::usage(format!("{flag}: {e}"))))
        .transpose()
}

/// Print an item's public provenance as one EPCIS 2.0 document (every page).
pub async fn export(ch: Channel, id: String, f: ExportFilter, out: &Output) -> CliResult {
    let mut req = v1::ExportEpcisRequest {
        identifier: id,
        from_time_ms: time_flag("--from", &f.from)?,
        to_time_ms: time_flag("--to", &f.to)?,
        biz_step: f.biz_step.unwrap_or_default(),
        location: f.location.unwrap_or_default(),
        page_size: 500,
        ..Default::default()
    };
    let mut events = Vec::new();
    loop {
        let r = EpcisServiceClient::new(ch.clone())
            .export_epcis(req.clone())
            .await
            .map_err(|s| status_err("export epcis", s))?
            .into_inner();
        events.extend(
            epcis::import_document(&r.document)
                .map_err(|e| CliError::failure(format!("the node's export does not read back: {e}")))?,
        );
        if r.next_page_token.is_empty() {
            break;
        }
        req.page_token = r.next_page_token;
    }
    let doc = epcis::export_document(
        &events,
        &ExportOptions {
            creation_date_ms: now_ms(),
        },
    )
    .map_err(|e| CliError::failure(e.to_string()))?;
    // The document is JSON already: printed as is in every output format (numbers keep their text).
    out.note(&format!("{} events", events.len()));
    println!("{doc}");
    Ok(())
}
