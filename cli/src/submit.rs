//! `tradechain submit`: sign a JSON document with the org key and send it over gRPC.
use crate::client;
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};
use tradechain_ledger::{OrgId, Payload};
use tradechain_proto::v1::transaction_status::State;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Family {
    Waybill,
    Certificate,
    Event,
    Settlement,
    Governance,
    /// An EPCIS 2.0 JSON-LD document: one provenance transaction per event.
    Epcis,
}

#[derive(Args, Debug)]
#[command(
    after_help = "Examples (JSON shapes in the README, section \"Using tradechain\"):\n  \
    tradechain submit waybill bl.json --org CARRIER-COSCO --key keys/carrier-cosco.key --wait\n  \
    tradechain submit event commission.json --org PRODUCER-FZ --key keys/producer-fz.key --wait\n  \
    tradechain submit epcis events.jsonld --org PRODUCER-FZ --key keys/producer-fz.key --wait"
)]
pub struct SubmitArgs {
    pub family: Family,
    pub file: PathBuf,
    /// The sending org (must own --key).
    #[arg(long, env = "TRADECHAIN_ORG")]
    pub org: String,
    #[arg(long, default_value_t = 0)]
    pub key_id: u32,
    /// Wait until committed and print the height, or the rule that rejected it.
    #[arg(long)]
    pub wait: bool,
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
}

/// Parse a family's JSON document, naming the field and line on error.
pub fn parse(family: Family, path: &Path) -> CliResult<Payload> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    let err = |e: serde_json::Error| CliError::usage(format!("{}: {e}", path.display()));
    Ok(match family {
        Family::Waybill => Payload::Waybill(serde_json::from_str(&text).map_err(err)?),
        Family::Certificate => Payload::Certificate(serde_json::from_str(&text).map_err(err)?),
        Family::Event => Payload::Provenance(serde_json::from_str(&text).map_err(err)?),
        Family::Settlement => Payload::Settlement(serde_json::from_str(&text).map_err(err)?),
        Family::Governance => Payload::Governance(serde_json::from_str(&text).map_err(err)?),
        Family::Epcis => {
            return Err(CliError::usage(format!(
                "{}: an EPCIS document holds several events (submitted by `submit epcis`)",
                path.display()
            )));
        }
    })
}

pub async fn run(args: SubmitArgs, endpoint: &str, key: Option<&Path>, out: &Output) -> CliResult {
    if let Family::Epcis = args.family {
        return crate::epcis_cmd::submit(&args, endpoint, key, out).await;
    }
    let payload = parse(args.family, &args.file)?;
    let org = OrgId::new(&args.org).map_err(|e| CliError::usage(format!("--org: {e}")))?;
    let key = client::read_key(key)?;
    let ch = client::connect(endpoint).await?;
    let chain_id = client::chain_id(&ch).await?;
    let nonce = client::next_nonce(&ch, &org).await?;
    let tx = client::sign(&chain_id, &org, args.key_id, nonce, payload, &key);
    let tx_id = client::submit(&ch, &tx).await?;
    if !args.wait {
        out.print(&serde_json::json!({ "tx_id": tx_id, "state": "pending" }), |_| {
            format!("submitted {tx_id}")
        });
        return Ok(());
    }
    let st = client::wait(&ch, &tx_id, args.timeout_ms).await?;
    let height = st.location.map(|l| l.height).unwrap_or(0);
    match st.state() {
        State::Committed => {
            out.print(
                &serde_json::json!({ "tx_id": tx_id, "state": "committed", "height": height }),
                |_| format!("committed {tx_id} at height {height}"),
            );
            Ok(())
        }
        State::Rejected => {
            let r = st.rejection.unwrap_or_default();
            out.print(
                &serde_json::json!({ "tx_id": tx_id, "state": "rejected", "rule": r.rule, "reason": r.reason }),
                |_| format!("rejected {tx_id}"),
            );
            Err(CliError::rejected(format!("{}: {}", r.rule, r.reason)))
        }
        _ => Err(CliError::unavailable(format!(
            "{tx_id} is still pending after {} ms",
            args.timeout_ms
        ))),
    }
}
