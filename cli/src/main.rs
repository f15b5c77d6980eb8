//! `tradechain`: run a node, manage keys and genesis, submit documents, query, audit.
//!
//! Exit codes: 0 ok · 1 failure · 2 usage · 3 rejected by a validator rule · 4 unavailable.
mod bench;
mod client;
mod demo;
mod documents;
mod epcis_cmd;
mod exit;
mod genesis;
mod keys;
mod node_cmd;
mod output;
mod qr_png;
mod query;
mod submit;
mod tls_cmd;
mod verify_cmd;

use clap::{CommandFactory, Parser, Subcommand};
use exit::CliResult;
use output::{Format, Output};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "tradechain",
    version,
    about = "Permissioned blockchain node for cross-border trade traceability",
    after_help = "Exit codes: 0 ok, 1 failure, 2 usage, 3 rejected by a validator rule, 4 node unavailable.\n\
                  Start a local testnet with demo data: testnet/up"
)]
struct Cli {
    /// gRPC endpoint of a node.
    #[arg(
        long,
        global = true,
        env = "TRADECHAIN_ENDPOINT",
        default_value = "http://127.0.0.1:9101"
    )]
    endpoint: String,
    /// For an https:// endpoint: the CA certificate (PEM) the node's certificate must chain to.
    #[arg(long, global = true, env = "TRADECHAIN_TLS_CA")]
    tls_ca: Option<PathBuf>,
    /// This member system's client certificate chain (PEM), for nodes that ask for one (mTLS);
    /// with --tls-key.
    #[arg(long, global = true, env = "TRADECHAIN_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, global = true, env = "TRADECHAIN_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// The org's signing key file (for submit and member queries).
    #[arg(long, global = true, env = "TRADECHAIN_KEY")]
    key: Option<PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// More logging (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Less output.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// ed25519 keys for orgs and nodes.
    #[command(subcommand)]
    Keys(keys::KeysCmd),
    /// Build and check a genesis file.
    #[command(subcommand)]
    Genesis(genesis::GenesisCmd),
    /// Run a node or write its config.
    #[command(subcommand)]
    Node(node_cmd::NodeCmd),
    /// Sign a JSON document with the org key and submit it.
    Submit(submit::SubmitArgs),
    /// Read from a node: status, provenance, transactions, headers.
    #[command(subcommand)]
    Query(query::QueryCmd),
    /// Benchmarks: load, ramp, query, sync, scale, verify-bound (see BENCHMARKS.md).
    Bench(bench::BenchArgs),
    /// The testnet's demo trade data.
    #[command(subcommand)]
    Demo(demo::DemoCmd),
    /// Audit a node's store offline from genesis: every hash link, root, signature, certificate and index.
    #[command(after_help = "Example:\n  tradechain verify --data-dir testnet/.data/customs-cn/data")]
    Verify {
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Check a saved provenance answer (`query provenance --save FILE`) offline: every event's
    /// commit certificate, Merkle inclusion proof and event-hash chain against a genesis file.
    #[command(
        name = "verify-proof",
        after_help = "Example:\n  tradechain query provenance urn:epc:id:sgtin:6901234.012345.SN0101001 --save answer.pb\n  \
        tradechain verify-proof answer.pb --genesis testnet/.data/genesis.json"
    )]
    VerifyProof {
        file: PathBuf,
        #[arg(long)]
        genesis: PathBuf,
    },
    /// TLS certificates for nodes' API ports and member systems (a CA, then certificates it signs).
    #[command(subcommand)]
    Tls(tls_cmd::TlsCmd),
    /// Shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

fn main() {
    let cli = Cli::parse();
    let out = Output {
        format: cli.output,
        quiet: cli.quiet,
    };
    let verbosity = if cli.quiet { -1 } else { cli.verbose as i8 };
    client::set_tls(client::TlsFiles {
        ca: cli.tls_ca.clone(),
        cert: cli.tls_cert.clone(),
        key: cli.tls_key.clone(),
    });
    let res: CliResult = match cli.cmd {
        Cmd::Keys(c) => keys::run(c, cli.key.as_deref(), &out),
        Cmd::Genesis(c) => genesis::run(c, &out),
        Cmd::Node(c) => node_cmd::run(c, verbosity),
        Cmd::Submit(a) => block_on(submit::run(a, &cli.endpoint, cli.key.as_deref(), &out)),
        Cmd::Query(c) => block_on(query::run(c, &cli.endpoint, cli.key.as_deref(), &out)),
        Cmd::Demo(c) => block_on(demo::run(c, &cli.endpoint, &out)),
        Cmd::Bench(c) => block_on(bench::run(c, &cli.endpoint, &out)),
        Cmd::Tls(c) => tls_cmd::run(c, &out),
        Cmd::Verify { data_dir } => verify_cmd::run(&data_dir, &out),
        Cmd::VerifyProof { file, genesis } => query::verify_proof_file(&file, &genesis, &out),
        Cmd::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "tradechain", &mut std::io::stdout());
            Ok(())
        }
    };
    if let Err(e) = res {
        eprintln!("error: {e}");
        std::process::exit(e.code);
    }
}

fn block_on<F: std::future::Future<Output = CliResult>>(f: F) -> CliResult {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(f),
        Err(e) => Err(exit::CliError::failure(format!("tokio runtime: {e}"))),
    }
}
