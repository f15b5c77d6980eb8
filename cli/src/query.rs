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
    },
    /// A transaction's state (pending, committed, rejected with rule id).
    Tx { tx_id: String },
    /// A block header with its hash and certificate status.
    Header { height: u64 },
}

pub async fn run(cmd: QueryCmd, endpoint: &str, out: &Output) -> CliResult {
    let ch = client::connect(endpoint).await?;
    match cmd {
        QueryCmd::Status => {
            let s = v1::node_service_client::NodeServiceClient::new(ch)
                .get_status(v1::GetStatusRequest {})
                .await
                .map_err(|s| status_err("status", s))?
                .into_inner();
            let v = serde_json::json!({
                "chain_id": s.chain_id, "height": s.height, "head_hash": s.head_hash, "state_hash": s.state_hash,
                "role": s.role, "peers": s.peers.len(), "validators": s.validators.len(),
                "syncing": s.sync.map(|x| x.syncing).unwrap_or(false), "mempool_size": s.mempool_size, "version": s.version,
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
        QueryCmd::Provenance { id, serial, verify, qr } => provenance(ch, id, serial, verify, qr, out).await,
    }
}

async fn provenance(
    ch: tonic::transport::Channel,
    id: String,
    serial: Option<String>,
    verify: Option<PathBuf>,
    qr: bool,
    out: &Output,
) -> CliResult {
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
                omit_proofs: verify.is_none(),
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
    let Some(first) = pages.first().cloned() else {
        return Err(CliError::failure("empty reply"));
    };
    let mut verified = None;
    if let Some(gpath) = &verify {
        let g = crate::genesis::load(gpath)?;
        let set = g.validator_set().map_err(CliError::usage)?;
        if g.chain_id != first.chain_id {
            return Err(CliError::failure(format!(
                "the reply is for chain {}, the genesis file for {}",
                first.chain_id, g.chain_id
            )));
        }
        let mut prev = None;
        for p in &pages {
            prev = tradechain_node::grpc::proof::verify_page(&g.chain_id, &set, p, prev)
                .map_err(|e| CliError::failure(format!("proof verification FAILED: {e}")))?;
        }
        verified = Some(pages.iter().map(|p| p.timeline.len()).sum::<usize>());
    }
    let timeline: Vec<&v1::TimelineEntry> = pages.iter().flat_map(|p| &p.timeline).collect();
    let link = tradechain_ledger::gs1::digital_link(&first.goods_key, "https://id.gs1.org");
    let v = serde_json::json!({
        "goods_key": first.goods_key,
        "digital_link": link,
        "chain_id": first.chain_id,
        "customs": first.customs.as_ref().map(|c| format!("{:?}", c.state())),
        "certificate_of_origin": first.certificate_of_origin.as_ref().map(|c| serde_json::json!({
            "state": format!("{:?}", c.state()), "issuer": c.issuer, "number": c.number, "origin_country": c.origin_country })),
        "route": first.route.as_ref().map(|r| serde_json::json!({ "carrier": r.carrier, "reference": r.reference, "mode": r.mode,
            "from": r.port_of_loading, "to": r.port_of_discharge, "vehicle": r.vehicle })),
        "parent": first.parent,
        "events": timeline.iter().map(|e| serde_json::json!({
            "seq": e.seq, "time_ms": e.event_time_ms, "type": e.event_type, "biz_step": e.biz_step,
            "customs_step": e.customs_step, "where": e.unlocode, "org": e.org, "roles": e.roles, "height": e.location.map(|l| l.height),
        })).collect::<Vec<_>>(),
        "proofs_verified": verified,
    });
    out.print(&v, |_| {
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
        if let Some(c) = &first.customs {
            s.push_str(&format!("customs: {:?}\n", c.state()));
        }
        if let Some(r) = &first.route {
            s.push_str(&format!(
                "route: {} {} → {} by {} ({}, {})\n",
                r.mode, r.port_of_loading, r.port_of_discharge, r.carrier, r.vehicle, r.reference
            ));
        }
        if !first.parent.is_empty() {
            s.push_str(&format!("packed in: {}\n", first.parent));
        }
        s.push_str(&format!("{} events:\n", timeline.len()));
        for e in &timeline {
            let what = if e.customs_step.is_empty() {
                e.biz_step.rsplit(['-', ':', '/']).next().unwrap_or("").to_string()
            } else {
                format!("customs {}", e.customs_step)
            };
            s.push_str(&format!(
                "  {:>3}  {}  {:<22} {:<6} {} ({})  block {}\n",
                e.seq,
                fmt_time(e.event_time_ms),
                format!("{} {}", e.event_type.trim_end_matches("Event"), what),
                e.unlocode,
                e.org,
                e.roles.join(","),
                e.location.map(|l| l.height).unwrap_or(0)
            ));
        }
        if let Some(n) = verified {
            s.push_str(&format!(
                "verified: all {n} events' proofs check against the genesis validator set\n"
            ));
        }
        s
    });
    if qr {
        let code = qrcode::QrCode::new(link.as_bytes()).map_err(|e| CliError::failure(format!("qr: {e}")))?;
        let img = code
            .render::<qrcode::render::unicode::Dense1x2>()
            .quiet_zone(true)
            .build();
        println!("{img}");
    }
    Ok(())
}

fn fmt_time(ms: i64) -> String {
    // UTC, minute precision, without a date library: days since epoch → civil date.
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}Z", rem / 3600, rem % 3600 / 60)
}
