//! A synthetic chain for the read-side benchmarks (`bench query`, `bench sync`): `items` goods
//! items × `events_per_item` provenance events, written into a real RocksDB store the way a node
//! writes it — each block built by the node's own `blocks::build_block` (full ledger execution:
//! envelope, signatures, provenance rules, item event chains), certified by 3 of the 4 bench
//! validators' precommit signatures, and committed with `Store::commit_block`. Proofs from this
//! store verify like any other.
//!
//! Layout of `dir`: `genesis.json`, `keys/` (org and node keys), `source/data/db` (the store),
//! `built.json` (what was built; a later run with the same sizes reuses the store as is).
//!
//! Invariants: ids are fixed (`item_epc(j)`), so a query benchmark can ask for any item
//! `0..items` and find exactly `events_per_item` events; block times lie in the past (a day
//! before the build), so a syncing node never sees a block from its future.
use crate::exit::{CliError, CliResult};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tradechain_ledger::certificate::{CommitSig, VoteKind, vote_sign_bytes};
use tradechain_ledger::execute::Registry;
use tradechain_ledger::identity::OrgKey;
use tradechain_ledger::payload::{Action, EventType};
use tradechain_ledger::{
    CommitCertificate, CreditTier, Genesis, Org, OrgId, Payload, Role, SecretKey, SignedTransaction, Transaction,
    ValidatorInfo,
};
use tradechain_node::clock::now_ms;
use tradechain_store::Store;

pub const CHAIN_ID: &str = "tradechain-bench";
const VALIDATORS: &[&str] = &["VAL-1", "VAL-2", "VAL-3", "VAL-4"];
const PRODUCER: &str = "PRODUCER-B";
const PORT: &str = "PORT-B";
const CARRIER: &str = "CARRIER-B";
/// Runs the benchmark's observer nodes (their node keys are members).
pub const OBSERVER: &str = "OBSERVER-B";
pub const NODE_KEYS: &[&str] = &["source", "fresh"];

fn failure(what: &str) -> impl Fn(String) -> CliError + '_ {
    move |e| CliError::failure(format!("bench chain: {what}: {e}"))
}

fn org_id(s: &str) -> CliResult<OrgId> {
    OrgId::new(s).map_err(CliError::failure)
}

/// The EPC of bench item `j` (GTIN 06901234123457-style sgtin URN).
pub fn item_epc(j: u64) -> String {
    format!("urn:epc:id:sgtin:6901234.012345.Q{j}")
}

pub struct Built {
    pub dir: PathBuf,
    pub items: u64,
    pub events_per_item: u64,
    pub height: u64,
    pub txs: u64,
    pub build_seconds: Option<f64>,
}

impl Built {
    pub fn genesis_path(&self) -> PathBuf {
        self.dir.join("genesis.json")
    }
    pub fn node_key(&self, name: &str) -> PathBuf {
        self.dir.join("keys").join(format!("{name}.node"))
    }
    pub fn data_dir(&self, node: &str) -> PathBuf {
        self.dir.join(node).join("data")
    }
}

fn genesis(keys: &Path, time_ms: i64) -> CliResult<Genesis> {
    let key = |name: &str| -> CliResult<SecretKey> {
        let path = keys.join(format!("{}.key", name.to_lowercase()));
        if let Ok(k) = SecretKey::read_file(&path) {
            return Ok(k);
        }
        let k = SecretKey::generate().map_err(|e| CliError::failure(e.to_string()))?;
        k.write_file(&path)
            .map_err(|e| CliError::failure(format!("{}: {e}", path.display())))?;
        Ok(k)
    };
    let mut node_keys = Vec::new();
    for n in NODE_KEYS {
        let path = keys.join(format!("{n}.node"));
        let k = match SecretKey::read_file(&path) {
            Ok(k) => k,
            Err(_) => {
                let k = SecretKey::generate().map_err(|e| CliError::failure(e.to_string()))?;
                k.write_file(&path)
                    .map_err(|e| CliError::failure(format!("{}: {e}", path.display())))?;
                k
            }
        };
        node_keys.push(k.public());
    }
    let mut orgs = Vec::new();
    let mut validators = Vec::new();
    let all: Vec<(&str, Role)> = VALIDATORS
        .iter()
        .map(|v| (*v, Role::Customs))
        .chain([
            (PRODUCER, Role::Producer),
            (PORT, Role::Port),
            (CARRIER, Role::Carrier),
            (OBSERVER, Role::Regulator),
        ])
        .collect();
    for (id, role) in all {
        let k = key(id)?;
        orgs.push(Org {
            id: org_id(id)?,
            name: format!("{id} (benchmark)"),
            country: "CN".into(),
            roles: vec![role],
            keys: vec![OrgKey {
                key_id: 0,
                public_key: k.public(),
            }],
            node_keys: if id == OBSERVER { node_keys.clone() } else { Vec::new() },
            credit_tier: CreditTier::General,
        });
        if VALIDATORS.contains(&id) {
            validators.push(ValidatorInfo {
                org: org_id(id)?,
                public_key: k.public(),
                power: 10,
            });
        }
    }
    let g = Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_ms: time_ms,
        orgs,
        validators,
        consensus: Default::default(),
        limits: Default::default(),
        governance_quorum: (2, 3),
        high_risk: Vec::new(),
        gs1_prefixes: Vec::new(),
    };
    let problems = g.validate();
    if !problems.is_empty() {
        return Err(CliError::failure(format!("bench genesis: {}", problems.join("; "))));
    }
    Ok(g)
}

/// Build (or reuse) a chain of `items × events_per_item` events in blocks of `per_block` txs.
pub fn build(
    dir: &Path,
    items: u64,
    events_per_item: u64,
    per_block: usize,
    out: &crate::output::Output,
) -> CliResult<Built> {
    let marker = dir.join("built.json");
    let want = json!({ "items": items, "events_per_item": events_per_item, "per_block": per_block });
    if let Ok(text) = std::fs::read_to_string(&marker)
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
        && v["params"] == want
        && dir.join("genesis.json").exists()
    {
        out.note(&format!("bench: reusing the chain in {}", dir.display()));
        return Ok(Built {
            dir: dir.to_path_buf(),
            items,
            events_per_item,
            height: v["height"].as_u64().unwrap_or(0),
            txs: v["txs"].as_u64().unwrap_or(0),
            build_seconds: None,
        });
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| CliError::failure(format!("{}: {e}", dir.display())))?;
    }
    let keys = dir.join("keys");
    std::fs::create_dir_all(&keys).map_err(|e| CliError::failure(format!("{}: {e}", keys.display())))?;
    let started = Instant::now();
    let total = items * events_per_item;
    let blocks = total.div_ceil(per_block.max(1) as u64);
    // Block h is at genesis + h s; the last one a day before now.
    let genesis_time = now_ms() - 86_400_000 - (blocks as i64 + 10) * 1000;
    let g = genesis(&keys, genesis_time)?;
    std::fs::write(dir.join("genesis.json"), g.to_json()).map_err(|e| CliError::failure(e.to_string()))?;
    let store =
        Store::open(&dir.join("source").join("data").join("db")).map_err(|e| failure("store")(e.to_string()))?;
    store.init_genesis(&g).map_err(|e| failure("genesis")(e.to_string()))?;
    let registry = Registry::default();
    let read_key = |id: &str| SecretKey::read_file(&keys.join(format!("{}.key", id.to_lowercase())));
    let mut vkeys = Vec::new();
    for v in VALIDATORS.iter().take(3) {
        vkeys.push(read_key(v).map_err(|e| failure("validator key")(e.to_string()))?);
    }
    let senders = [PRODUCER, PORT, CARRIER];
    let mut skeys = Vec::new();
    for s in senders {
        skeys.push((
            org_id(s)?,
            read_key(s).map_err(|e| failure("sender key")(e.to_string()))?,
        ));
    }
    let mut nonces = [1u64; 3];
    let steps = [
        "urn:epcglobal:cbv:bizstep:packing",
        "urn:epcglobal:cbv:bizstep:shipping",
        "urn:epcglobal:cbv:bizstep:loading",
        "urn:epcglobal:cbv:bizstep:departing",
        "urn:epcglobal:cbv:bizstep:arriving",
        "urn:epcglobal:cbv:bizstep:unloading",
        "urn:epcglobal:cbv:bizstep:receiving",
        "urn:epcglobal:cbv:bizstep:storing",
        "urn:epcglobal:cbv:bizstep:retail_selling",
    ];
    let mut seq = 0u64;
    let mut last_note = Instant::now();
    for h in 1..=blocks {
        let time_ms = genesis_time + h as i64 * 1000;
        // Which (sender, payload) each tx of this block is: event e of item j, in global order.
        let mut plan: Vec<(usize, Payload)> = Vec::with_capacity(per_block);
        while plan.len() < per_block && seq < total {
            let (e, j) = (seq / items, seq % items);
            let epc = item_epc(j);
            let (sender, ev) = if e == 0 {
                let mut ev = tradechain_ledger::payload::build::event(
                    EventType::ObjectEvent,
                    Some(Action::Add),
                    &[&epc],
                    time_ms - 500,
                );
                ev.biz_step = Some("urn:epcglobal:cbv:bizstep:commissioning".into());
                ev.unlocode = Some("CNFOC".into());
                (0, ev)
            } else {
                let step = steps[((e - 1) as usize) % steps.len()];
                let loc = if e % 2 == 0 { "NLRTM" } else { "CNFOC" };
                (
                    1 + (e as usize) % 2,
                    tradechain_ledger::payload::build::observe(&[&epc], time_ms - 500, step, loc),
                )
            };
            plan.push((sender, Payload::Provenance(ev)));
            seq += 1;
        }
        let mut txs: Vec<(usize, Transaction)> = Vec::with_capacity(plan.len());
        for (s, payload) in plan {
            txs.push((
                s,
                Transaction {
                    version: tradechain_ledger::tx::TX_VERSION,
                    chain_id: CHAIN_ID.into(),
                    sender: skeys[s].0.clone(),
                    key_id: 0,
                    nonce: nonces[s],
                    time_ms,
                    payload,
                },
            ));
            nonces[s] += 1;
        }
        let signed = sign_all(txs, &skeys);
        let built =
            tradechain_node::blocks::build_block(&store, &g, &registry, vkeys[0].public(), time_ms, signed, &|_, _| {
                false
            })
            .map_err(failure("build block"))?;
        if let Some(o) = built
            .checked
            .exec
            .outcomes
            .iter()
            .find(|o| matches!(o, tradechain_ledger::TxOutcome::Rejected { .. }))
        {
            return Err(CliError::failure(format!(
                "bench chain: a synthetic tx was rejected: {o:?}"
            )));
        }
        let hash = built.block.hash();
        let msg = vote_sign_bytes(CHAIN_ID, VoteKind::Precommit, h, 0, Some(hash));
        let cert = CommitCertificate {
            height: h,
            round: 0,
            block_hash: hash,
            signatures: vkeys
                .iter()
                .map(|k| CommitSig {
                    validator: k.public(),
                    signature: k.sign(&msg),
                })
                .collect(),
        };
        store
            .commit_block_with_tree(&built.block, &cert, &built.checked.exec, &built.checked.tree)
            .map_err(|e| failure("commit")(e.to_string()))?;
        if last_note.elapsed().as_secs() >= 5 {
            last_note = Instant::now();
            out.note(&format!("bench: built {h}/{blocks} blocks ({seq} events)"));
        }
    }
    store.flush().map_err(|e| failure("flush")(e.to_string()))?;
    let build_seconds = started.elapsed().as_secs_f64();
    let done = json!({ "params": want, "height": blocks, "txs": total, "build_seconds": build_seconds });
    std::fs::write(&marker, done.to_string()).map_err(|e| CliError::failure(e.to_string()))?;
    Ok(Built {
        dir: dir.to_path_buf(),
        items,
        events_per_item,
        height: blocks,
        txs: total,
        build_seconds: Some(build_seconds),
    })
}

/// Sign on every core (ed25519 signing is most of the build time).
fn sign_all(txs: Vec<(usize, Transaction)>, keys: &[(OrgId, SecretKey)]) -> Vec<SignedTransaction> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .max(1);
    let chunk = txs.len().div_ceil(threads).max(1);
    let parts: Vec<Vec<(usize, Transaction)>> = {
        let mut parts = Vec::new();
        let mut it = txs.into_iter().peekable();
        while it.peek().is_some() {
            parts.push(it.by_ref().take(chunk).collect());
        }
        parts
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|p| s.spawn(move || p.into_iter().map(|(k, tx)| tx.sign(&keys[k].1)).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}
