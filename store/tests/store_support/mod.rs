//! Shared fixtures for the store tests: a genesis with four orgs (three validators), a test
//! validator registry that writes to every state namespace, and a block builder that executes,
//! hashes and certifies the next block on top of any state view.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::BTreeMap;
use tradechain_ledger::block_check::{Parent, Seal, assemble};
use tradechain_ledger::certificate::{CommitSig, VoteKind, vote_sign_bytes};
use tradechain_ledger::execute::{BlockExecution, Registry, Rejection, TxContext, Validator, execute_block};
use tradechain_ledger::genesis::Genesis;
use tradechain_ledger::identity::{CreditTier, Org, OrgId, OrgKey, Role};
use tradechain_ledger::payload::{GovAction, GovernanceOp, Payload, SettlementInstruct, SettlementOp, SettlementRef};
use tradechain_ledger::records::{ItemEventRef, ItemRecord, item_event_hash};
use tradechain_ledger::state::{StateView, Writes, get_typed, keys};
use tradechain_ledger::tx::TX_VERSION;
use tradechain_ledger::{
    Block, CommitCertificate, SecretKey, SignedTransaction, Transaction, ValidatorInfo, ValidatorSet,
};
use tradechain_store::Head;

pub const CHAIN: &str = "store-test";
pub const GENESIS_TIME: i64 = 1_700_000_000_000;
pub const ORGS: [&str; 4] = ["VAL-A", "VAL-B", "VAL-C", "BANK-X"];

pub fn key(org: &str) -> SecretKey {
    SecretKey::from_label(org)
}

pub fn org_id(org: &str) -> OrgId {
    OrgId::new(org).unwrap()
}

pub fn genesis() -> Genesis {
    let countries = ["CN", "NL", "SG", "DE"];
    let orgs = ORGS
        .iter()
        .zip(countries)
        .map(|(o, c)| Org {
            id: org_id(o),
            name: format!("{o} Ltd"),
            country: c.to_string(),
            roles: vec![Role::Bank, Role::Carrier],
            keys: vec![OrgKey {
                key_id: 0,
                public_key: key(o).public(),
            }],
            node_keys: Vec::new(),
            credit_tier: CreditTier::General,
        })
        .collect();
    let validators = ORGS[..3]
        .iter()
        .map(|o| ValidatorInfo {
            org: org_id(o),
            public_key: key(o).public(),
            power: 10,
        })
        .collect();
    Genesis {
        chain_id: CHAIN.to_string(),
        genesis_time_ms: GENESIS_TIME,
        orgs,
        validators,
        consensus: Default::default(),
        limits: Default::default(),
        governance_quorum: (2, 3),
        high_risk: Vec::new(),
        gs1_prefixes: Vec::new(),
    }
}

/// Block time of height `h`.
pub fn time_of(h: u64) -> i64 {
    GENESIS_TIME + h as i64 * 1000
}

/// The goods key of a test item (the test validator indexes an instruction under the item
/// named in its `payer_party`).
pub fn goods_of(item: &str) -> String {
    format!("01/00000000000000/21/{item}")
}

/// Test "settlement" validator: an instruction writes a record into EVERY state namespace
/// (settlement, waybill, certificate, item, item event, event id); a confirm updates the
/// settlement and deletes the waybill (a document tombstone).
struct TestSettlement;

impl Validator for TestSettlement {
    fn family(&self) -> &'static str {
        "settlement"
    }
    fn validate(&self, ctx: &TxContext<'_>, view: &dyn StateView) -> Result<Writes, Rejection> {
        let Payload::Settlement(op) = &ctx.tx.payload else {
            return Err(Rejection::new("test.family", "not a settlement"));
        };
        let mut w = Writes::default();
        match op {
            SettlementOp::Instruct(i) => {
                let id = i.settlement_id.as_str();
                if view.get(&keys::settlement(&i.payer_bank, id)).is_some() {
                    return Err(Rejection::new("test.duplicate", format!("settlement {id} exists")));
                }
                w.put(keys::settlement(&i.payer_bank, id), &(id.to_string(), ctx.height, 0u8));
                w.put(keys::waybill(&ctx.sender.id, id), &(id.to_string(), ctx.height));
                w.put(keys::certificate(&ctx.sender.id, id), &(id.to_string(), ctx.height));
                let goods = goods_of(&i.payer_party);
                let mut item: ItemRecord =
                    get_typed(view, &keys::item(&goods)).unwrap_or_else(|| ItemRecord::new(&goods));
                let event_hash = item_event_hash(&item.last_event_hash, &ctx.tx_id, 0, &goods);
                w.put(
                    keys::item_event(&goods, item.event_count),
                    &ItemEventRef {
                        seq: item.event_count,
                        tx_id: ctx.tx_id,
                        at: ctx.at,
                        event: 0,
                        event_time_ms: ctx.tx.time_ms,
                        prev_event_hash: item.last_event_hash,
                        event_hash,
                    },
                );
                item.event_count += 1;
                item.last_event_hash = event_hash;
                w.put(keys::item(&goods), &item);
                w.put(keys::event_id(id), &ctx.tx_id);
            }
            SettlementOp::Confirm {
                payer_bank,
                settlement_id,
            } => {
                let id = settlement_id.as_str();
                if view.get(&keys::settlement(payer_bank, id)).is_none() {
                    return Err(Rejection::new("test.unknown", format!("no settlement {id}")));
                }
                w.put(keys::settlement(payer_bank, id), &(id.to_string(), ctx.height, 1u8));
                w.delete(keys::waybill(&ctx.sender.id, id));
            }
            _ => return Err(Rejection::new("test.unsupported", "only instruct and confirm")),
        }
        Ok(w)
    }
}

/// Test "governance" validator: `Propose { SetValidators }` replaces the set at once.
struct TestGovernance;

impl Validator for TestGovernance {
    fn family(&self) -> &'static str {
        "governance"
    }
    fn validate(&self, ctx: &TxContext<'_>, _view: &dyn StateView) -> Result<Writes, Rejection> {
        let Payload::Governance(GovernanceOp::Propose {
            change: GovAction::SetValidators { validators },
            ..
        }) = &ctx.tx.payload
        else {
            return Err(Rejection::new("test.gov", "only SetValidators"));
        };
        let set = ValidatorSet::new(validators.clone()).map_err(|e| Rejection::new("test.gov", e))?;
        let mut w = Writes::default();
        w.put(keys::validators(), &set);
        Ok(w)
    }
}

pub fn registry() -> Registry {
    Registry::new(vec![Box::new(TestSettlement), Box::new(TestGovernance)])
}

pub fn instruct(id: &str) -> Payload {
    instruct_for(id, "ITEM1")
}

/// An instruction recorded as an event of goods item `item`.
pub fn instruct_for(id: &str, item: &str) -> Payload {
    Payload::Settlement(SettlementOp::Instruct(SettlementInstruct {
        settlement_id: id.to_string(),
        payer_bank: org_id("VAL-A"),
        payee_bank: org_id("BANK-X"),
        amount_minor: 125_000,
        currency: "EUR".to_string(),
        reference: SettlementRef::Invoice {
            number: format!("INV-{id}"),
        },
        payer_party: item.to_string(),
        payee_party: "Payee Ltd".to_string(),
    }))
}

pub fn confirm(id: &str) -> Payload {
    Payload::Settlement(SettlementOp::Confirm {
        payer_bank: org_id("VAL-A"),
        settlement_id: id.to_string(),
    })
}

pub fn set_validators(orgs: &[&str]) -> Payload {
    Payload::Governance(GovernanceOp::Propose {
        proposal_id: "P1".to_string(),
        change: GovAction::SetValidators {
            validators: orgs
                .iter()
                .map(|o| ValidatorInfo {
                    org: org_id(o),
                    public_key: key(o).public(),
                    power: 10,
                })
                .collect(),
        },
    })
}

pub fn sign(org: &str, nonce: u64, height: u64, payload: Payload) -> SignedTransaction {
    Transaction {
        version: TX_VERSION,
        chain_id: CHAIN.to_string(),
        sender: org_id(org),
        key_id: 0,
        nonce,
        time_ms: time_of(height),
        payload,
    }
    .sign(&key(org))
}

/// Tracks the next nonce per org while building transactions.
#[derive(Default)]
pub struct Nonces(BTreeMap<String, u64>);

impl Nonces {
    /// Next nonces as found in committed state.
    pub fn from_view(view: &dyn StateView) -> Nonces {
        let mut n = Nonces::default();
        for o in ORGS {
            let last: u64 = get_typed(view, &keys::nonce(&org_id(o))).unwrap_or(0);
            n.0.insert(o.to_string(), last);
        }
        n
    }
    pub fn tx(&mut self, org: &str, height: u64, payload: Payload) -> SignedTransaction {
        let n = self.0.entry(org.to_string()).or_insert(0);
        *n += 1;
        sign(org, *n, height, payload)
    }
}

/// Execute `txs` on `view` (the committed state after `head`) and build the certified block.
pub fn build_block(
    registry: &Registry,
    genesis: &Genesis,
    view: &tradechain_store::Store,
    head: &Head,
    txs: Vec<SignedTransaction>,
) -> (Block, CommitCertificate, BlockExecution) {
    let height = head.height + 1;
    let exec = execute_block(registry, genesis, view, height, time_of(height), &txs).unwrap();
    let set: ValidatorSet = get_typed(view, &keys::validators()).unwrap();
    let seal = Seal {
        time_ms: time_of(height),
        proposer: set.validators[0].public_key,
        validators_hash: set.hash(),
        state_hash: view.state_update(height, &exec.writes).unwrap().root,
    };
    let block = assemble(&genesis.chain_id, &parent_of(head), seal, &exec.outcomes, txs);
    let cert = certify(genesis, &set, &block);
    (block, cert, exec)
}

/// The parent `head` stands for (its time is not kept in `Head`: fixtures time block h at
/// `time_of(h)`).
pub fn parent_of(head: &Head) -> Parent {
    Parent {
        height: head.height,
        block_hash: head.block_hash,
        time_ms: time_of(head.height),
    }
}

/// Every validator of `set` precommits the block (all test validators' keys come from labels).
pub fn certify(genesis: &Genesis, set: &ValidatorSet, block: &Block) -> CommitCertificate {
    let hash = block.hash();
    let msg = vote_sign_bytes(
        &genesis.chain_id,
        VoteKind::Precommit,
        block.header.height,
        0,
        Some(hash),
    );
    CommitCertificate {
        height: block.header.height,
        round: 0,
        block_hash: hash,
        signatures: set
            .validators
            .iter()
            .map(|v| CommitSig {
                validator: v.public_key,
                signature: key(v.org.as_str()).sign(&msg),
            })
            .collect(),
    }
}
