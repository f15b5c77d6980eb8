//! `tradechain demo`: `load` submits the demo trade data (`ledger::demo`) phase by phase, signed
//! with the testnet orgs' key files, waiting for each phase's commits; `orgs` prints the demo
//! org table (`ledger::demo::ORGS`) that `testnet/up` builds the testnet's genesis from.
use crate::client;
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::Subcommand;
use std::collections::BTreeMap;
use std::path::PathBuf;
use tradechain_ledger::{OrgId, SecretKey, demo};
use tradechain_node::clock::now_ms;
use tradechain_proto::v1::transaction_status::State;

#[derive(Subcommand, Debug)]
pub enum DemoCmd {
    /// Load the demo scenario into a running network.
    Load {
        /// Directory holding `<org id in lower case>.key` for each demo org.
        #[arg(long)]
        keys_dir: PathBuf,
        /// Write a JSON summary (counts, sample item) here.
        #[arg(long)]
        summary: Option<PathBuf>,
    },
    /// Print the demo orgs, one per line: id|name|country|role|tier|v (v: runs a validator).
    Orgs,
}

/// A serde name (`Role`, `CreditTier` as genesis files and `--role`/`--tier` spell them).
fn serde_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// `demo orgs`: the table as `testnet/up` reads it.
fn print_orgs() -> CliResult {
    for o in demo::ORGS {
        let v = if o.validator { "v" } else { "" };
        println!(
            "{}|{}|{}|{}|{}|{v}",
            o.id,
            o.name,
            o.country,
            serde_name(&o.role),
            serde_name(&o.tier)
        );
    }
    Ok(())
}

pub async fn run(cmd: DemoCmd, endpoint: &str, out: &Output) -> CliResult {
    let (keys_dir, summary) = match cmd {
        DemoCmd::Load { keys_dir, summary } => (keys_dir, summary),
        DemoCmd::Orgs => return print_orgs(),
    };
    let ch = client::connect(endpoint).await?;
    let chain_id = client::chain_id(&ch).await?;
    let mut keys: BTreeMap<OrgId, SecretKey> = BTreeMap::new();
    let mut nonces: BTreeMap<OrgId, u64> = BTreeMap::new();
    for o in demo::ORGS {
        let org = OrgId::new(o.id).map_err(CliError::failure)?;
        let path = keys_dir.join(format!("{}.key", o.id.to_lowercase()));
        let k = SecretKey::read_file(&path).map_err(|e| CliError::usage(format!("--keys-dir: {e}")))?;
        nonces.insert(org.clone(), client::next_nonce(&ch, &org).await?);
        keys.insert(org, k);
    }
    let phases = demo::phases(now_ms() - 30 * 60_000);
    let n_phases = phases.len();
    let (mut accepted, mut rejected) = (0usize, Vec::new());
    let total: usize = phases.iter().map(|p| p.len()).sum();
    for (i, phase) in phases.into_iter().enumerate() {
        let mut ids = Vec::with_capacity(phase.len());
        for (org, payload) in phase {
            let (Some(key), Some(nonce)) = (keys.get(&org), nonces.get_mut(&org)) else {
                return Err(CliError::failure(format!("no key for {org}")));
            };
            let tx = client::sign(&chain_id, &org, 0, *nonce, payload, key);
            *nonce += 1;
            ids.push((submit_retrying(&ch, &tx).await?, tx));
        }
        for (id, tx) in &ids {
            let st = client::wait(&ch, tx, 60_000).await?;
            match st.state() {
                State::Committed => accepted += 1,
                State::Rejected => {
                    let r = st.rejection.unwrap_or_default();
                    rejected.push(format!("{id}: {}: {}", r.rule, r.reason));
                }
                _ => return Err(CliError::unavailable(format!("{id} not committed within 60 s"))),
            }
        }
        out.note(&format!(
            "demo: phase {}/{}: {accepted}/{total} transactions committed",
            i + 1,
            n_phases
        ));
    }
    let v = serde_json::json!({
        "transactions": total, "accepted": accepted, "rejected": rejected,
        "sample_item": demo::sample_item(),
        "sample_epc": demo::phone(0, 0, 0),
        "sea_bl": demo::SEA_BL, "rail_bl": demo::RAIL_BL,
    });
    if let Some(p) = summary {
        std::fs::write(&p, serde_json::to_string_pretty(&v).unwrap_or_default())
            .map_err(|e| CliError::failure(format!("{}: {e}", p.display())))?;
    }
    out.print(&v, |_| {
        format!(
            "demo loaded: {accepted} of {total} transactions accepted, {} rejected",
            rejected.len()
        )
    });
    if rejected.is_empty() {
        Ok(())
    } else {
        Err(CliError::rejected(rejected.join("\n")))
    }
}

/// Submit, retrying while the mempool says busy.
async fn submit_retrying(
    ch: &tonic::transport::Channel,
    tx: &tradechain_ledger::SignedTransaction,
) -> CliResult<String> {
    let mut tries = 0;
    loop {
        match client::submit(ch, tx).await {
            Err(e) if e.code == crate::exit::UNAVAILABLE && tries < 50 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            r => return r,
        }
    }
}
