//! `tradechain node run|init`: run a validator or observer from a TOML config.
use crate::exit::{CliError, CliResult};
use clap::Subcommand;
use std::path::PathBuf;
use tradechain_node::config::NodeConfig;

#[derive(Subcommand, Debug)]
pub enum NodeCmd {
    /// Run a node until SIGINT/SIGTERM.
    #[command(after_help = "Example:\n  tradechain node run --config testnet/.data/customs-cn/node.toml")]
    Run {
        #[arg(long)]
        config: PathBuf,
        /// Start a validator even if its consensus WAL is unreadable, discarding it (it could
        /// then double-sign at the current height: decide first).
        #[arg(long)]
        discard_unreadable_wal: bool,
    },
    /// Write a commented default config.
    Init {
        #[arg(long, default_value = "node.toml")]
        out: PathBuf,
        #[arg(long, default_value = "node-1")]
        name: String,
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cmd: NodeCmd, verbosity: i8) -> CliResult {
    match cmd {
        NodeCmd::Init { out, name, force } => {
            if out.exists() && !force {
                return Err(CliError::usage(format!(
                    "{} exists; pass --force to overwrite",
                    out.display()
                )));
            }
            std::fs::write(&out, NodeConfig::default_toml(&name))
                .map_err(|e| CliError::failure(format!("{}: {e}", out.display())))?;
            eprintln!("wrote {}", out.display());
            Ok(())
        }
        NodeCmd::Run {
            config,
            discard_unreadable_wal,
        } => {
            let mut cfg = NodeConfig::load(&config).map_err(|e| CliError::usage(e.to_string()))?;
            cfg.node.discard_unreadable_wal |= discard_unreadable_wal;
            init_tracing(&cfg.log.format, &cfg.log.level, verbosity);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::failure(format!("tokio runtime: {e}")))?;
            rt.block_on(async move {
                tradechain_node::runtime::run(cfg, shutdown_signal())
                    .await
                    .map_err(|e| CliError::failure(format!("{e:#}")))
            })
        }
    }
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
}

fn init_tracing(format: &str, level: &str, verbosity: i8) {
    let level = match verbosity {
        v if v >= 2 => "trace",
        1 => "debug",
        v if v < 0 => "warn",
        _ => level,
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},libp2p_gossipsub=error,libp2p_swarm=warn,arc_malachitebft_core_consensus=warn,arc_malachitebft_core_driver=warn"))
    });
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        b.json().try_init()
    } else {
        b.try_init()
    };
}
