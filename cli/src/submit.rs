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
    tradechain submit epcis events.jsonld --org PRODUCER-FZ --key keys/producer-fz.key --wait\n  \
    tradechain submit waybill dcsa-td.json --org CARRIER-COSCO --key keys/carrier-cosco.key --holder PRODUCER-FZ --wait\n  \
    tradechain submit waybill surrender-request.json --org BANK-NL --key keys/bank-nl.key --carrier CARRIER-COSCO\n\
    A waybill file in DCSA eBL 3.0 shape (a TransportDocument, its notification, a PINT envelope or a\n\
    surrender request) is recognised by its members, or forced with --format dcsa (README, \"DCSA eBL 3.0\")."
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
    /// Shape of a waybill file: tradechain's own op, DCSA eBL 3.0, or recognised by its members.
    #[arg(long, value_enum, default_value_t = WaybillFormat::Auto)]
    pub format: WaybillFormat,
    /// DCSA: the org the bill is issued to (first holder); default: the org named by
    /// documentParties.issueTo, else by the shipper (identifyingCodes ZZZ/tradechain).
    #[arg(long)]
    pub holder: Option<String>,
    /// DCSA surrender request: the carrier that issued the bill.
    #[arg(long)]
    pub carrier: Option<String>,
    /// DCSA PINT envelope: import its transport document even if its transfer chain does not
    /// check (checksums and hash links; signatures are never checked here).
    #[arg(long)]
    pub unchecked_transfer_chain: bool,
    /// Print the payload that would be signed (JSON) and stop: no key, no node.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WaybillFormat {
    Auto,
    Tradechain,
    Dcsa,
}

fn org_arg(flag: &str, v: &str) -> CliResult<OrgId> {
    OrgId::new(v).map_err(|e| CliError::usage(format!("{flag}: {e}")))
}

/// A waybill file: tradechain's own op, or a DCSA eBL 3.0 document mapped by `ledger::dcsa`.
fn parse_waybill(args: &SubmitArgs, out: &Output) -> CliResult<Payload> {
    use tradechain_ledger::dcsa::{self, Document, ImportOptions, import};
    let path = &args.file;
    let text = std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    let dcsa_shape = match args.format {
        WaybillFormat::Dcsa => true,
        WaybillFormat::Tradechain => false,
        WaybillFormat::Auto => dcsa::json::parse(&text).is_ok_and(|j| import::looks_like_dcsa(&j)),
    };
    if !dcsa_shape {
        return parse(Family::Waybill, path);
    }
    let err = |e: dcsa::DcsaError| CliError::usage(format!("{}: DCSA eBL 3.0: {e}", path.display()));
    match import::read_document(&text).map_err(err)? {
        Document::Surrender(req) => {
            let carrier = args.carrier.as_deref().ok_or_else(|| {
                CliError::usage(format!(
                    "{}: a DCSA surrender request does not name the carrier; give --carrier",
                    path.display()
                ))
            })?;
            Ok(Payload::Waybill(req.op(org_arg("--carrier", carrier)?)))
        }
        Document::Transport { td, path: at, wrapper } => {
            if let import::Wrapper::Pint(envelope) = &wrapper {
                match dcsa::pint::check_envelope(envelope) {
                    Ok(entries) => out.note(&format!(
                        "PINT transfer chain checked: {} entries (checksums and hash links; signatures not verified)",
                        entries.len()
                    )),
                    Err(e) if args.unchecked_transfer_chain => {
                        out.note(&format!("PINT transfer chain does not check ({e}); importing anyway"))
                    }
                    Err(e) => {
                        return Err(CliError::usage(format!(
                            "{}: PINT envelope: {e} (--unchecked-transfer-chain imports the transport document anyway)",
                            path.display()
                        )));
                    }
                }
            }
            let opts = ImportOptions {
                holder: args.holder.as_deref().map(|h| org_arg("--holder", h)).transpose()?,
            };
            let imported = import::import_transport_document(&td, &at, &opts).map_err(err)?;
            if let Some(issuer) = &imported.issuing_org
                && issuer.as_str() != args.org
            {
                return Err(CliError::usage(format!(
                    "{}: DCSA eBL 3.0: field \"documentParties.issuingParty\": names org {issuer}, but the bill is issued (signed) by --org {}",
                    path.display(),
                    args.org
                )));
            }
            Ok(Payload::Waybill(tradechain_ledger::payload::WaybillOp::Issue(
                imported.issue,
            )))
        }
    }
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
    let payload = match args.family {
        Family::Waybill => parse_waybill(&args, out)?,
        f => parse(f, &args.file)?,
    };
    if args.dry_run {
        let v = serde_json::to_value(&payload).map_err(|e| CliError::failure(e.to_string()))?;
        out.print(&v, |v| serde_json::to_string_pretty(v).unwrap_or_default());
        return Ok(());
    }
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
    let st = client::wait(&ch, &tx, args.timeout_ms).await?;
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
