//! `tradechain genesis`: build and check a genesis file (orgs, roles, keys, validators,
//! high-risk HS lists, limits). `validate` lists every problem, not just the first.
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::Subcommand;
use std::path::{Path, PathBuf};
use tradechain_ledger::genesis::HighRiskCategory;
use tradechain_ledger::identity::OrgKey;
use tradechain_ledger::{CreditTier, Genesis, Org, OrgId, PublicKey, Role, SecretKey, ValidatorInfo};

#[derive(Subcommand, Debug)]
pub enum GenesisCmd {
    /// Create a new genesis file with default parameters and the reform papers' high-risk HS lists.
    #[command(after_help = "Example:\n  tradechain genesis init --chain-id tradechain-demo --out genesis.json")]
    Init {
        #[arg(long)]
        chain_id: String,
        #[arg(long)]
        out: PathBuf,
        /// Genesis time, Unix milliseconds (default: now).
        #[arg(long)]
        time_ms: Option<i64>,
        #[arg(long)]
        force: bool,
    },
    /// Add an organisation with its roles and keys.
    #[command(
        after_help = "Example:\n  tradechain genesis add-org --file genesis.json --id CUSTOMS-CN --name 'China Customs (Fuzhou)' \\\n    --country CN --role customs --key-file keys/customs-cn.key --node-key-file keys/customs-cn.node"
    )]
    AddOrg {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        country: String,
        /// customs, port, carrier, bank, producer, chamber, regulator (repeat for several).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The org's signing key: a key file (its public part is used) …
        #[arg(long, conflicts_with = "public_key")]
        key_file: Option<PathBuf>,
        /// … or the public key in hex.
        #[arg(long)]
        public_key: Option<String>,
        /// Node identity key files whose peers the network admits (repeatable).
        #[arg(long = "node-key-file")]
        node_key_files: Vec<PathBuf>,
        /// Node identity public keys in hex (repeatable).
        #[arg(long = "node-key")]
        node_keys: Vec<String>,
        /// dishonest, general, aeo_general, aeo_advanced
        #[arg(long, default_value = "general")]
        tier: String,
        /// A GS1 Company Prefix (4-12 digits) the org owns: only it (or its delegates) create
        /// identifiers under it (repeatable).
        #[arg(long = "gs1-prefix")]
        gs1_prefixes: Vec<String>,
    },
    /// Make an org's key a validator.
    AddValidator {
        #[arg(long)]
        file: PathBuf,
        #[arg(long)]
        org: String,
        /// The validator's consensus public key (default: the org's key 0).
        #[arg(long)]
        public_key: Option<String>,
        #[arg(long, default_value_t = 1)]
        power: u64,
    },
    /// Print the genesis file and its hash.
    Show { file: PathBuf },
    /// Check a genesis file and explain every problem found.
    Validate { file: PathBuf },
}

pub fn load(path: &Path) -> CliResult<Genesis> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
    Genesis::from_json(&text).map_err(|e| CliError::usage(format!("{}: {e}", path.display())))
}

fn save(path: &Path, g: &Genesis) -> CliResult {
    std::fs::write(path, g.to_json() + "\n").map_err(|e| CliError::failure(format!("{}: {e}", path.display())))
}

fn parse_role(s: &str) -> CliResult<Role> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).map_err(|_| {
        CliError::usage(format!(
            "--role: {s:?} is not one of customs, port, carrier, bank, producer, chamber, regulator"
        ))
    })
}

fn parse_pk(flag: &str, s: &str) -> CliResult<PublicKey> {
    PublicKey::from_hex(s).map_err(|e| CliError::usage(format!("{flag}: {e}")))
}

fn pk_from_file(flag: &str, p: &Path) -> CliResult<PublicKey> {
    SecretKey::read_file(p)
        .map(|k| k.public())
        .map_err(|e| CliError::usage(format!("{flag}: {e}")))
}

pub fn run(cmd: GenesisCmd, out: &Output) -> CliResult {
    match cmd {
        GenesisCmd::Init {
            chain_id,
            out: path,
            time_ms,
            force,
        } => {
            if path.exists() && !force {
                return Err(CliError::usage(format!(
                    "{} exists; pass --force to overwrite",
                    path.display()
                )));
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            let g = Genesis {
                chain_id,
                genesis_time_ms: time_ms.unwrap_or(now),
                orgs: Vec::new(),
                validators: Vec::new(),
                consensus: Default::default(),
                limits: Default::default(),
                governance_quorum: (2, 3),
                high_risk: HighRiskCategory::defaults(),
                gs1_prefixes: Vec::new(),
            };
            save(&path, &g)?;
            out.note(&format!("wrote {} (add orgs and validators next)", path.display()));
            Ok(())
        }
        GenesisCmd::AddOrg {
            file,
            id,
            name,
            country,
            roles,
            key_file,
            public_key,
            node_key_files,
            node_keys,
            tier,
            gs1_prefixes,
        } => {
            let mut g = load(&file)?;
            let id = OrgId::new(&id).map_err(|e| CliError::usage(format!("--id: {e}")))?;
            if g.org(&id).is_some() {
                return Err(CliError::usage(format!(
                    "--id: org {id} is already in {}",
                    file.display()
                )));
            }
            if !tradechain_ledger::codes::is_country(&country) {
                return Err(CliError::usage(format!(
                    "--country: {country:?} is not an ISO 3166-1 alpha-2 code"
                )));
            }
            let roles = roles.iter().map(|r| parse_role(r)).collect::<CliResult<Vec<_>>>()?;
            let pk = match (key_file, public_key) {
                (Some(f), _) => pk_from_file("--key-file", &f)?,
                (None, Some(h)) => parse_pk("--public-key", &h)?,
                (None, None) => return Err(CliError::usage("--key-file or --public-key is required")),
            };
            let mut nks = Vec::new();
            for f in &node_key_files {
                nks.push(pk_from_file("--node-key-file", f)?);
            }
            for h in &node_keys {
                nks.push(parse_pk("--node-key", h)?);
            }
            let credit_tier: CreditTier =
                serde_json::from_value(serde_json::Value::String(tier.clone())).map_err(|_| {
                    CliError::usage(format!(
                        "--tier: {tier:?} is not one of dishonest, general, aeo_general, aeo_advanced"
                    ))
                })?;
            g.orgs.push(Org {
                id: id.clone(),
                name,
                country,
                roles,
                keys: vec![OrgKey {
                    key_id: 0,
                    public_key: pk,
                }],
                node_keys: nks,
                credit_tier,
            });
            for prefix in gs1_prefixes {
                if !tradechain_ledger::gs1::is_company_prefix(&prefix) {
                    return Err(CliError::usage(format!(
                        "--gs1-prefix: {prefix:?} must be 4-12 digits (a GS1 Company Prefix)"
                    )));
                }
                if let Some(other) = g
                    .gs1_prefixes
                    .iter()
                    .find(|a| a.prefix.starts_with(&prefix) || prefix.starts_with(&a.prefix))
                {
                    return Err(CliError::usage(format!(
                        "--gs1-prefix: {prefix} overlaps {} (registered to {})",
                        other.prefix, other.org
                    )));
                }
                g.gs1_prefixes.push(tradechain_ledger::genesis::PrefixAssignment {
                    prefix,
                    org: id.clone(),
                });
            }
            save(&file, &g)
        }
        GenesisCmd::AddValidator {
            file,
            org,
            public_key,
            power,
        } => {
            let mut g = load(&file)?;
            let id = OrgId::new(&org).map_err(|e| CliError::usage(format!("--org: {e}")))?;
            let o = g
                .org(&id)
                .ok_or_else(|| CliError::usage(format!("--org: {id} is not in {}", file.display())))?;
            let pk = match public_key {
                Some(h) => parse_pk("--public-key", &h)?,
                None => o
                    .keys
                    .first()
                    .map(|k| k.public_key)
                    .ok_or_else(|| CliError::usage(format!("--org: {id} has no key")))?,
            };
            if g.validators.iter().any(|v| v.public_key == pk) {
                return Err(CliError::usage(format!("--public-key: {pk} is already a validator")));
            }
            g.validators.push(ValidatorInfo {
                org: id,
                public_key: pk,
                power,
            });
            save(&file, &g)
        }
        GenesisCmd::Show { file } => {
            let g = load(&file)?;
            let v = serde_json::json!({ "hash": g.hash().to_hex(), "genesis": g });
            out.print(&v, |_| format!("{}\nhash: {}", g.to_json(), g.hash()));
            Ok(())
        }
        GenesisCmd::Validate { file } => {
            let g = load(&file)?;
            let problems = g.validate();
            let v =
                serde_json::json!({ "valid": problems.is_empty(), "problems": problems, "hash": g.hash().to_hex() });
            out.print(&v, |_| {
                if problems.is_empty() {
                    format!("{} is valid (hash {})", file.display(), g.hash())
                } else {
                    let mut s = format!("{} has {} problem(s):", file.display(), problems.len());
                    for p in &problems {
                        s.push_str(&format!("\n  - {p}"));
                    }
                    s
                }
            });
            if problems.is_empty() {
                Ok(())
            } else {
                Err(CliError::usage(format!(
                    "{} problem(s) in {}",
                    problems.len(),
                    file.display()
                )))
            }
        }
    }
}
