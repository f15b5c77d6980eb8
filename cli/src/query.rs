//! `tradechain query`: status, provenance (with offline proof check and QR), transactions, blocks.
use crate::client::{self, status_err};
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::Subcommand;
use std::path::PathBuf;
use tradechain_proto::v1;

#[derive(Subcommand, Debug)]
pub enum QueryCmd {
    /// Chain id, height, head hash, role, peers.
    Status,
    /// A goods item's journey: a GS1 Digital Link, an EPC URN, or GTIN and serial.
    #[command(
        after_help = "Examples:\n  tradechain query provenance https://id.gs1.org/01/06901234123456/21/SN0101001\n  \
        tradechain query provenance urn:epc:id:sgtin:6901234.012345.SN0101001 --verify testnet/.data/genesis.json\n  \
        tradechain query provenance 06901234123456 SN0101001 --qr"
    )]
    Provenance {
        id: String,
        serial: Option<String>,
        /// Verify every event's proofs offline against this genesis file's validator set.
        #[arg(long)]
        verify: Option<PathBuf>,
        /// Print the item's GS1 Digital Link as a QR code in the terminal.
        #[arg(long)]
        qr: bool,
        /// Write the item's GS1 Digital Link as a QR code PNG (for printing a label).
        #[arg(long, value_name = "FILE")]
        qr_png: Option<PathBuf>,
        /// Resolver the QR code's link points at: a node's HTTP port (e.g. http://192.168.1.20:8105)
        /// serves the page that checks its own proofs.
        #[arg(long, value_name = "URL", default_value = "https://id.gs1.org", value_parser = resolver_url)]
        resolver: String,
        /// Save the answer with its proofs, for `tradechain verify-proof FILE`.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
        /// Pin this genesis file's hash in the QR code's link (`?tc_genesis=…`): the page then
        /// verifies against it, not against the answering node's copy.
        #[arg(long, value_name = "GENESIS")]
        pin_genesis: Option<PathBuf>,
    },
    /// A block: header and each transaction's verdict (accepted, or the rule that rejected it).
    /// Members only (blocks carry commercial documents); public readers use `header`.
    Block {
        height: u64,
        #[arg(long, env = "TRADECHAIN_ORG")]
        org: String,
    },
    /// A bill of lading (members only; signed with --key as --org).
    #[command(
        after_help = "Examples:\n  tradechain query waybill CARRIER-COSCO COSU-EX-0001 --org BANK-NL --key keys/bank-nl.key\n  \
        tradechain query waybill CARRIER-COSCO HHL71800000 --org BANK-NL --key keys/bank-nl.key --format dcsa"
    )]
    Waybill {
        carrier: String,
        reference: String,
        #[arg(long, env = "TRADECHAIN_ORG")]
        org: String,
        /// `dcsa`: the DCSA eBL 3.0 shape (transport document with the ledger's status, and the
        /// endorsement chains), printed as JSON.
        #[arg(long, value_enum, default_value_t = WaybillView::Tradechain)]
        format: WaybillView,
    },
    /// A certificate of origin (members only).
    Certificate {
        issuer: String,
        number: String,
        #[arg(long, env = "TRADECHAIN_ORG")]
        org: String,
    },
    /// A payment settlement (members only: the two banks and regulators).
    Settlement {
        settlement_id: String,
        #[arg(long, env = "TRADECHAIN_ORG")]
        org: String,
    },
    /// A transaction's state (pending, committed, rejected with rule id).
    Tx { tx_id: String },
    /// A block header with its hash and certificate status.
    Header { height: u64 },
    /// A goods item's public provenance as an EPCIS 2.0 JSON-LD document (commercial fields withheld).
    #[command(
        after_help = "Examples:\n  tradechain query epcis urn:epc:id:sgtin:6901234.012345.SN0101001 > item.jsonld\n  \
        tradechain query epcis https://id.gs1.org/01/06901234123456/21/SN0101001 --biz-step shipping"
    )]
    Epcis {
        /// GS1 Digital Link, EPC URN or goods key.
        id: String,
        /// Only events at or after this RFC 3339 time.
        #[arg(long)]
        from: Option<String>,
        /// Only events at or before this RFC 3339 time.
        #[arg(long)]
        to: Option<String>,
        /// Only events with this bizStep (short name or CBV URI).
        #[arg(long)]
        biz_step: Option<String>,
        /// Only events whose readPoint or bizLocation is this location.
        #[arg(long)]
        location: Option<String>,
    },
}

pub async fn run(cmd: QueryCmd, endpoint: &str, key: Option<&std::path::Path>, out: &Output) -> CliResult {
    use crate::documents::{self, Member};
    let ch = client::connect(endpoint).await?;
    match cmd {
        QueryCmd::Block { height, org } => documents::block(ch, height, &Member { org: &org, key }, out).await,
        QueryCmd::Epcis {
            id,
            from,
            to,
            biz_step,
            location,
        } => {
            let f = crate::epcis_cmd::ExportFilter {
                from,
                to,
                biz_step,
                location,
            };
            crate::epcis_cmd::export(ch, id, f, out).await
        }
        QueryCmd::Waybill {
            carrier,
            reference,
            org,
            format,
        } => {
            let dcsa = format == WaybillView::Dcsa;
            documents::waybill(ch, carrier, reference, dcsa, &Member { org: &org, key }, out).await
        }
        QueryCmd::Certificate { issuer, number, org } => {
            documents::certificate(ch, issuer, number, &Member { org: &org, key }, out).await
        }
        QueryCmd::Settlement { settlement_id, org } => {
            documents::settlement(ch, settlement_id, &Member { org: &org, key }, out).await
        }
        QueryCmd::Status => {
            let s = v1::node_service_client::NodeServiceClient::new(ch)
                .get_status(v1::GetStatusRequest {})
                .await
                .map_err(|s| status_err("status", s))?
                .into_inner();
            let v = serde_json::json!({
                "chain_id": s.chain_id, "height": s.height, "head_hash": s.head_hash, "state_hash": s.state_hash,
                "role": s.role, "peers": s.peers.len(), "validators": s.validators.len(),
                "syncing": s.sync.map(|x| x.syncing).unwrap_or(false), "mempool_size": s.mempool_size, "equivocation_evidence": s.equivocation_evidence, "version": s.version,
            });
            out.print(&v, |v| {
                format!(
                    "chain {} height {} head {} role {} peers {} mempool {}",
                    v["chain_id"].as_str().unwrap_or(""),
                    v["height"],
                    v["head_hash"].as_str().unwrap_or(""),
                    v["role"].as_str().unwrap_or(""),
                    v["peers"],
                    v["mempool_size"]
                )
            });
            Ok(())
        }
        QueryCmd::Tx { tx_id } => {
            let st = v1::transaction_service_client::TransactionServiceClient::new(ch)
                .get_transaction(v1::GetTransactionRequest {
                    tx_id: tx_id.clone(),
                    include_tx: false,
                })
                .await
                .map_err(|s| status_err("transaction", s))?
                .into_inner();
            let r = st.rejection.clone().unwrap_or_default();
            let v = serde_json::json!({
                "tx_id": st.tx_id, "state": format!("{:?}", st.state()),
                "height": st.location.map(|l| l.height), "index": st.location.map(|l| l.index),
                "rule": r.rule, "reason": r.reason,
            });
            out.print(&v, |v| v.to_string());
            Ok(())
        }
        QueryCmd::Header { height } => {
            let h = v1::chain_service_client::ChainServiceClient::new(ch)
                .get_header(v1::BlockRequest {
                    at: Some(v1::block_request::At::Height(height)),
                })
                .await
                .map_err(|s| status_err("header", s))?
                .into_inner();
            let hd = h.header.unwrap_or_default();
            let v = serde_json::json!({ "height": hd.height, "hash": hd.block_hash, "prev_hash": hd.prev_hash,
                "tx_count": hd.tx_count, "time_ms": hd.time_ms, "state_hash": hd.state_hash });
            out.print(&v, |v| v.to_string());
            Ok(())
        }
        QueryCmd::Provenance {
            id,
            serial,
            verify,
            qr,
            qr_png,
            resolver,
            save,
            pin_genesis,
        } => {
            let opts = ProvenanceOpts {
                verify,
                qr,
                qr_png,
                resolver,
                save,
                pin_genesis,
            };
            provenance(ch, id, serial, opts, out).await
        }
    }
}

/// `--resolver`: an http(s) base URL (checked before anything is asked of the node).
fn resolver_url(s: &str) -> Result<String, String> {
    if s.starts_with("https://") || s.starts_with("http://") {
        Ok(s.to_string())
    } else {
        Err(format!("{s:?} must be an http(s) URL, e.g. http://192.168.1.20:8105"))
    }
}

pub struct ProvenanceOpts {
    pub verify: Option<PathBuf>,
    pub qr: bool,
    pub qr_png: Option<PathBuf>,
    /// Base URL of the QR code's Digital Link.
    pub resolver: String,
    pub save: Option<PathBuf>,
    /// Genesis file whose hash the QR code's link pins (`?tc_genesis=`).
    pub pin_genesis: Option<PathBuf>,
}

async fn provenance(
    ch: tonic::transport::Channel,
    id: String,
    serial: Option<String>,
    opts: ProvenanceOpts,
    out: &Output,
) -> CliResult {
    let verify = opts.verify.clone();
    use v1::get_provenance_request::Id;
    let which = match serial {
        Some(serial) => Id::GtinSerial(v1::GtinSerial {
            gtin: id.clone(),
            serial,
        }),
        None if id.starts_with("http://") || id.starts_with("https://") => Id::DigitalLink(id.clone()),
        None if id.starts_with("urn:epc:") => Id::EpcUrn(id.clone()),
        None => Id::GoodsKey(id.clone()),
    };
    let mut client = v1::provenance_service_client::ProvenanceServiceClient::new(ch);
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let r = client
            .get_provenance(v1::GetProvenanceRequest {
                id: Some(which.clone()),
                page_size: 500,
                page_token: token.clone(),
                omit_proofs: verify.is_none() && opts.save.is_none(),
            })
            .await
            .map_err(|s| status_err("provenance", s))?
            .into_inner();
        token = r.next_page_token.clone();
        pages.push(r);
        if token.is_empty() {
            break;
        }
    }
    if let Some(path) = &opts.save {
        save_pages(path, &pages)?;
    }
    let verified = match &verify {
        Some(g) => {
            // The item asked about, normalised here: never the key the reply names.
            let asked = match &which {
                Id::GtinSerial(g) => format!("01/{:0>14}/21/{}", g.gtin.trim(), g.serial.trim()),
                Id::DigitalLink(s) | Id::EpcUrn(s) | Id::GoodsKey(s) => s.clone(),
            };
            let asked = tradechain_ledger::gs1::goods_key(&asked)
                .map_err(|e| CliError::usage(format!("{id}: not a goods identifier: {}", e.0)))?;
            Some(verify_pages(g, &asked, &pages)?)
        }
        None => None,
    };
    show(&pages, verified, out)?;
    let Some(first) = pages.first() else {
        return Err(CliError::failure("empty reply"));
    };
    if opts.qr_png.is_none() && !opts.qr {
        return Ok(());
    }
    let mut link = tradechain_ledger::gs1::digital_link(&first.goods_key, &opts.resolver);
    if let Some(g) = &opts.pin_genesis {
        let g = crate::genesis::load(g).map_err(|e| CliError::usage(format!("--pin-genesis: {e}")))?;
        link.push_str(&format!("?tc_genesis={}", g.hash().to_hex()));
    }
    let code = qrcode::QrCode::new(link.as_bytes()).map_err(|e| CliError::failure(format!("qr: {e}")))?;
    if let Some(path) = &opts.qr_png {
        std::fs::write(path, crate::qr_png::encode(&code, 8))
            .map_err(|e| CliError::failure(format!("{}: {e}", path.display())))?;
        out.note(&format!("wrote {} ({link})", path.display()));
    }
    if opts.qr {
        let img = code
            .render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build();
        println!("{img}");
    }
    Ok(())
}

/// Save provenance pages (length-delimited protobuf `ProvenanceReply`s) for `verify-proof`.
fn save_pages(path: &std::path::Path, pages: &[v1::ProvenanceReply]) -> CliResult {
    use prost::Message;
    let mut buf = Vec::new();
    for p in pages {
        p.encode_length_delimited(&mut buf)
            .map_err(|e| CliError::failure(format!("encode: {e}")))?;
    }
    std::fs::write(path, buf).map_err(|e| CliError::failure(format!("{}: {e}", path.display())))
}

/// `tradechain verify-proof FILE --genesis G`: check a saved provenance answer offline.
pub fn verify_proof_file(file: &std::path::Path, genesis: &std::path::Path, out: &Output) -> CliResult {
    use prost::Message;
    let bytes = std::fs::read(file).map_err(|e| CliError::usage(format!("{}: {e}", file.display())))?;
    let mut rest = bytes.as_slice();
    let mut pages = Vec::new();
    while !rest.is_empty() {
        let p = v1::ProvenanceReply::decode_length_delimited(&mut rest).map_err(|e| {
            CliError::usage(format!(
                "{}: not a saved provenance answer (query provenance --save): {e}",
                file.display()
            ))
        })?;
        pages.push(p);
    }
    if pages.is_empty() {
        return Err(CliError::usage(format!("{}: empty file", file.display())));
    }
    // A saved answer is checked for the item it names: the head and event proofs bind it.
    let asked = pages.first().map(|p| p.goods_key.clone()).unwrap_or_default();
    let n = verify_pages(genesis, &asked, &pages)?;
    show(&pages, Some(n), out)
}

/// Verify every page's proofs (and the containers') against the genesis validator set, and that
/// the answer is complete as of its proven head (`proof::verify_answer`).
fn verify_pages(
    genesis: &std::path::Path,
    asked: &str,
    pages: &[v1::ProvenanceReply],
) -> CliResult<tradechain_node::grpc::proof::Verified> {
    let Some(first) = pages.first() else {
        return Err(CliError::failure("empty reply"));
    };
    let g = crate::genesis::load(genesis)?;
    let set = g.validator_set().map_err(CliError::usage)?;
    if g.chain_id != first.chain_id {
        return Err(CliError::failure(format!(
            "the reply is for chain {}, the genesis file for {}",
            first.chain_id, g.chain_id
        )));
    }
    tradechain_node::grpc::proof::verify_answer(&g.chain_id, &set, asked, pages)
        .map_err(|e| CliError::failure(format!("proof verification FAILED: {e}")))
}

/// Print an item's journey: its own events merged with its containers'.
fn show(
    pages: &[v1::ProvenanceReply],
    verified: Option<tradechain_node::grpc::proof::Verified>,
    out: &Output,
) -> CliResult {
    use tradechain_node::grpc::journey::{fmt_time, journey, what};
    let Some(j) = journey(pages) else {
        return Err(CliError::failure("empty reply"));
    };
    let first = j.item;
    let link = tradechain_ledger::gs1::digital_link(&first.goods_key, "https://id.gs1.org");
    out.print(&j.to_json("https://id.gs1.org", verified.as_ref()), |_| {
        let mut s = format!("goods {}  ({})\n", first.goods_key, link);
        if let Some(c) = &first.certificate_of_origin {
            s.push_str(&format!(
                "certificate of origin: {:?} {} {} (origin {})\n",
                c.state(),
                c.issuer,
                c.number,
                c.origin_country
            ));
        }
        if let Some((c, on)) = j.customs {
            let on = if on.is_empty() {
                String::new()
            } else {
                format!(" (recorded on {on})")
            };
            s.push_str(&format!("customs: {:?}{on}\n", c.state()));
        }
        if let Some((r, _)) = j.route {
            s.push_str(&format!(
                "route: {} {} → {} by {} ({}, {})\n",
                r.mode, r.port_of_loading, r.port_of_discharge, r.carrier, r.vehicle, r.reference
            ));
        }
        for (i, c) in first.containers.iter().enumerate() {
            s.push_str(&format!("{}packed in: {}\n", "  ".repeat(i), c.goods_key));
        }
        s.push_str(&format!("{} events:\n", j.events.len()));
        for (on, e) in &j.events {
            let on = if on.is_empty() {
                String::new()
            } else {
                format!("  on {on}")
            };
            s.push_str(&format!(
                "  {}  {:<22} {:<6} {} ({})  block {}{on}\n",
                fmt_time(e.event_time_ms),
                format!("{} {}", e.event_type.trim_end_matches("Event"), what(e)),
                e.unlocode,
                e.org,
                e.roles.join(","),
                e.location.map(|l| l.height).unwrap_or(0)
            ));
        }
        if let Some(v) = &verified {
            s.push_str(&format!(
                "verified: all {} events' proofs check against the genesis validator set; complete as of block {}, {}\n",
                v.events,
                v.complete_at.0,
                fmt_time(v.complete_at.1)
            ));
            if let Some(c) = &v.contained_beyond {
                s.push_str(&format!(
                    "note: the answer shows {} container levels; the last one is itself in {c} (proven), whose events are not in this answer: query it\n",
                    tradechain_node::grpc::provenance::MAX_CONTAINER_DEPTH
                ));
            }
        }
        s
    });
    Ok(())
}

/// How `query waybill` shows a bill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WaybillView {
    Tradechain,
    Dcsa,
}
