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
}

pub fn run(cmd: KeysCmd, out: &Output) -> CliResult {
    match cmd {
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
