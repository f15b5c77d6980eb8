//! `tradechain keys`: generate, show and export ed25519 keys (org signing keys and node keys).
//! Secret key files are written 0600 and their contents are never printed unless asked.
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::Subcommand;
use std::path::PathBuf;
use tradechain_ledger::SecretKey;

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Generate a new key file (mode 0600). Prints the public key (and libp2p PeerId for node keys).
    #[command(after_help = "Example:\n  tradechain keys generate --out keys/customs-cn.key")]
    Generate {
        #[arg(long)]
        out: PathBuf,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Show a key file's public key (and, with --secret, the secret seed).
    Show {
        file: PathBuf,
        #[arg(long)]
        secret: bool,
    },
    /// Print only the public key in hex (for genesis files).
    ExportPublic { file: PathBuf },
    /// Sign an HTTP request as an org with --key (the EPCIS REST capture endpoints): prints the
    /// four x-tc-* headers as curl arguments (-H name:value …), or as JSON with --output json.
    #[command(
        name = "sign-http",
        after_help = "Example:\n  curl -X POST http://127.0.0.1:8105/capture -H 'Content-Type: application/ld+json' \\\n    \
        $(tradechain keys sign-http POST /capture --body doc.jsonld --org PRODUCER-FZ --key producer-fz.key \\\n    \
        --genesis genesis.json) --data-binary @doc.jsonld"
    )]
    SignHttp {
        /// The HTTP method (POST, GET, DELETE).
        method: String,
        /// The path with its query exactly as it will be sent, e.g. /capture or /capture/cap-1-1.
        path: String,
        /// The request body, byte for byte as it will be sent (none: an empty body).
        #[arg(long)]
        body: Option<PathBuf>,
        /// The org that signs.
        #[arg(long)]
        org: String,
        /// The id of --key among the org's keys (genesis gives an org's first key id 0).
        #[arg(long, default_value_t = 0)]
        key_id: u32,
        /// The chain id (or --genesis to read it from the genesis file).
        #[arg(long, conflicts_with = "genesis", required_unless_present = "genesis")]
        chain_id: Option<String>,
        #[arg(long)]
        genesis: Option<PathBuf>,
    },
}

pub fn run(cmd: KeysCmd, key: Option<&std::path::Path>, out: &Output) -> CliResult {
    match cmd {
        KeysCmd::SignHttp {
            method,
            path,
            body,
            org,
            key_id,
            chain_id,
            genesis,
        } => {
            let key = crate::client::read_key(key)?;
            let org = tradechain_ledger::OrgId::new(&org).map_err(|e| CliError::usage(format!("--org: {e}")))?;
            let chain_id = match (chain_id, genesis) {
                (Some(c), _) => c,
                (None, Some(g)) => crate::genesis::load(&g)?.chain_id,
                (None, None) => return Err(CliError::usage("--chain-id or --genesis is required")),
            };
            let body = match body {
                Some(p) => std::fs::read(&p).map_err(|e| CliError::usage(format!("--body {}: {e}", p.display())))?,
                None => Vec::new(),
            };
            let headers = tradechain_node::epcis_rest::auth::sign_headers(
                &chain_id,
                &method.to_ascii_uppercase(),
                &path,
                &body,
                &org,
                key_id,
                &key,
                tradechain_node::clock::now_ms(),
            );
            let v: serde_json::Map<String, serde_json::Value> = headers
                .iter()
                .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
                .collect();
            out.print(&serde_json::Value::Object(v), |_| {
                headers
                    .iter()
                    .map(|(k, v)| format!("-H {k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            Ok(())
        }
        KeysCmd::Generate { out: path, force } => {
            if path.exists() && !force {
                return Err(CliError::usage(format!(
                    "{} exists; pass --force to overwrite",
                    path.display()
                )));
            }
            let key = SecretKey::generate().map_err(|e| CliError::failure(e.to_string()))?;
            key.write_file(&path).map_err(|e| CliError::failure(e.to_string()))?;
            print_public(&key, &path, false, out)
        }
        KeysCmd::Show { file, secret } => {
            let key = SecretKey::read_file(&file).map_err(|e| CliError::usage(e.to_string()))?;
            print_public(&key, &file, secret, out)
        }
        KeysCmd::ExportPublic { file } => {
            let key = SecretKey::read_file(&file).map_err(|e| CliError::usage(e.to_string()))?;
            println!("{}", key.public().to_hex());
            Ok(())
        }
    }
}

fn print_public(key: &SecretKey, path: &std::path::Path, secret: bool, out: &Output) -> CliResult {
    let peer = tradechain_node::peer_id_string(&key.public().0).unwrap_or_default();
    let mut v = serde_json::json!({
        "file": path.display().to_string(),
        "public_key": key.public().to_hex(),
        "peer_id": peer,
    });
    if secret {
        v["secret_seed"] = serde_json::Value::String(hex::encode(key.seed()));
    }
    out.print(&v, |v| {
        let mut s = format!(
            "file:       {}\npublic key: {}\npeer id:    {}",
            v["file"].as_str().unwrap_or(""),
            v["public_key"].as_str().unwrap_or(""),
            v["peer_id"].as_str().unwrap_or("")
        );
        if let Some(sec) = v.get("secret_seed").and_then(|s| s.as_str()) {
            s.push_str(&format!("\nsecret:     {sec}"));
        }
        s
    });
    Ok(())
}
