//! `tradechain submit epcis FILE.jsonld` and `tradechain query epcis ID`: EPCIS 2.0 JSON-LD in
//! and out over the node's EpcisService.
//!
//! Invariants: the document is mapped with `tradechain_ledger::epcis` here, before anything is
//! sent, so a bad document exits 2 naming the event index and field and nothing is submitted;
//! the transactions signed here are the ones the node rebuilds (`epcis::transactions`), nonces
//! chained from the org's pending next nonce. The export prints the node's public view.
use std::path::Path;

use tonic::transport::Channel;
use tradechain_ledger::epcis::{self, ExportOptions, time};
use tradechain_ledger::{OrgId, SignedTransaction};
use tradechain_node::clock::now_ms;
use tradechain_proto::v1::{self, epcis_service_client::EpcisServiceClient, transaction_status::State};

use crate::client::{self, status_err};
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use crate::submit::SubmitArgs;

/// Map, sign and submit every event of an EPCIS document, in order.
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
    let first_nonce = client::next_nonce(&ch, &org).await?;
    let time_ms = now_ms();
    let txs = epcis::transactions(&events, &chain_id, &org, args.key_id, first_nonce, time_ms);
    let signed: Vec<_> = txs.into_iter().map(|t| t.sign(&key)).collect();
    let signatures = signed.iter().map(|t| t.signature.0.to_vec()).collect();
    let disclosure_seeds = signed.iter().map(|t| t.disclosure_seed.0.to_vec()).collect();
    let reply = EpcisServiceClient::new(ch.clone())
        .submit_epcis(v1::SubmitEpcisRequest {
            document: text,
            org: org.to_string(),
            key_id: args.key_id,
            first_nonce,
            time_ms,
            signatures,
            disclosure_seeds,
        })
        .await
        .map_err(|s| status_err("submit epcis", s))?
        .into_inner();
    if !args.wait {
        out.print(
            &serde_json::json!({ "tx_ids": reply.tx_ids, "state": "pending" }),
            |v| {
                let ids: Vec<&str> = v["tx_ids"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                    .unwrap_or_default();
                ids.iter()
                    .enumerate()
                    .map(|(i, id)| format!("event {i}: submitted {id}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            },
        );
        return Ok(());
    }
    wait_all(&ch, &reply.tx_ids, &signed, args.timeout_ms, out).await
}

async fn wait_all(
    ch: &Channel,
    ids: &[String],
    signed: &[SignedTransaction],
    timeout_ms: u64,
    out: &Output,
) -> CliResult {
    let mut rows = Vec::with_capacity(ids.len());
    let mut failure = None;
    for (i, (id, tx)) in ids.iter().zip(signed).enumerate() {
        if tx.id().to_hex() != *id {
            return Err(CliError::failure(format!(
                "event {i}: the node answered tx id {id}, this client signed {}",
                tx.id()
            )));
        }
        let st = client::wait(ch, tx, timeout_ms).await?;
        let height = st.location.map(|l| l.height).unwrap_or(0);
        match st.state() {
            State::Committed => {
                rows.push(serde_json::json!({ "event": i, "tx_id": id, "state": "committed", "height": height }));
            }
            State::Rejected => {
                let r = st.rejection.unwrap_or_default();
                if failure.is_none() {
                    failure = Some(CliError::rejected(format!(
                        "event {i} ({id}): {}: {}",
                        r.rule, r.reason
                    )));
                }
                rows.push(serde_json::json!({ "event": i, "tx_id": id, "state": "rejected", "rule": r.rule, "reason": r.reason }));
            }
            _ => {
                return Err(CliError::unavailable(format!(
                    "event {i} ({id}) is still pending after {timeout_ms} ms"
                )));
            }
        }
    }
    out.print(&serde_json::Value::Array(rows), |v| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|r| match r["state"].as_str() {
                        Some("committed") => format!(
                            "event {}: committed {} at height {}",
                            r["event"],
                            r["tx_id"].as_str().unwrap_or(""),
                            r["height"]
                        ),
                        _ => format!(
                            "event {}: rejected {} ({}: {})",
                            r["event"],
                            r["tx_id"].as_str().unwrap_or(""),
                            r["rule"].as_str().unwrap_or(""),
                            r["reason"].as_str().unwrap_or("")
                        ),
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default()
    });
    failure.map_or(Ok(()), Err)
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
