//! Rule tables for governance: proposals, approvals by a 2/3 quorum of validator orgs (4 in the
//! demo genesis — CUSTOMS-CN, PORT-CNFOC, CARRIER-COSCO, BANK-CN — so 3 approvals), credit tiers
//! by customs, delayed validator-set changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use tradechain_ledger::certificate::{ValidatorInfo, ValidatorSet};
use tradechain_ledger::identity::{CreditTier, Org, OrgKey, Role};
use tradechain_ledger::payload::*;
use tradechain_ledger::records::{PendingValidators, ProposalRecord};
use tradechain_ledger::state::{get_typed, keys};
use tradechain_ledger::testkit::*;

fn propose(id: &str, change: GovAction) -> Payload {
    Payload::Governance(GovernanceOp::Propose {
        proposal_id: id.into(),
        change,
    })
}
fn approve(id: &str) -> Payload {
    Payload::Governance(GovernanceOp::Approve { proposal_id: id.into() })
}
fn new_org(id: &str) -> GovAction {
    GovAction::AddOrg {
        org: Org {
            id: oid(id),
            name: "Importer".into(),
            country: "NL".into(),
            roles: vec![Role::Producer],
            keys: vec![OrgKey {
                key_id: 1,
                public_key: secret(id).public(),
            }],
            node_keys: vec![],
            credit_tier: CreditTier::General,
        },
    }
}
fn vset(orgs: &[&str]) -> GovAction {
    GovAction::SetValidators {
        validators: orgs
            .iter()
            .map(|o| ValidatorInfo {
                org: oid(o),
                public_key: secret(o).public(),
                power: 1,
            })
            .collect(),
    }
}
fn member(c: &Chain, id: &str) -> Option<Org> {
    get_typed(&c.state, &keys::org(&oid(id)))
}

#[test]
fn governance_quorum_applies_change() {
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", propose("P1", new_org("FORWARDER-NL")));
    c.accept("CARRIER-COSCO", approve("P1"));
    assert!(
        member(&c, "FORWARDER-NL").is_none(),
        "2 of 4 validator orgs is below 2/3"
    );
    c.accept("BANK-CN", approve("P1"));
    assert!(member(&c, "FORWARDER-NL").is_some(), "3 of 4 reaches 2/3");
    let p: ProposalRecord = get_typed(&c.state, &keys::proposal("P1")).unwrap();
    assert!(p.applied);
    assert_eq!(p.approvals.len(), 3);
    // The new member can transact with its key.
    c.accept(
        "FORWARDER-NL",
        Payload::Provenance(event(
            EventType::ObjectEvent,
            Some(Action::Observe),
            &[PALLET],
            GENESIS_TIME_MS,
        )),
    );
}

#[test]
fn governance_not_validator() {
    Chain::demo().accept("PORT-CNFOC", propose("P1", new_org("FORWARDER-NL")));
    Chain::demo().reject_with(
        "BANK-NL",
        propose("P1", new_org("FORWARDER-NL")),
        "governance.not_validator",
        "org BANK-NL is not a validator org; only validator orgs propose and approve governance changes",
    );
}

#[test]
fn governance_proposal_duplicate() {
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", propose("P1", new_org("FORWARDER-NL")));
    c.accept("CUSTOMS-CN", propose("P2", new_org("IMPORTER-DE")));
    c.reject_with(
        "CARRIER-COSCO",
        propose("P1", new_org("IMPORTER-BE")),
        "governance.proposal.duplicate",
        "proposal P1 already exists",
    );
}

#[test]
fn governance_proposal_unknown() {
    let mut c = Chain::demo();
    c.reject_with(
        "CARRIER-COSCO",
        approve("P1"),
        "governance.proposal.unknown",
        "no proposal P1",
    );
    c.accept("CUSTOMS-CN", propose("P1", new_org("FORWARDER-NL")));
    c.accept("CARRIER-COSCO", approve("P1"));
}

#[test]
fn governance_proposal_already_approved() {
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", propose("P1", new_org("FORWARDER-NL")));
    c.reject_with(
        "CUSTOMS-CN",
        approve("P1"),
        "governance.proposal.already_approved",
        "org CUSTOMS-CN already approved proposal P1",
    );
}

#[test]
fn governance_proposal_applied() {
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", propose("P1", new_org("FORWARDER-NL")));
    c.accept("CARRIER-COSCO", approve("P1"));
    c.accept("BANK-CN", approve("P1"));
    c.reject_with(
        "PORT-CNFOC",
        approve("P1"),
        "governance.proposal.applied",
        "proposal P1 has already been applied",
    );
}

#[test]
fn governance_change_invalid() {
    Chain::demo().reject_with(
        "CUSTOMS-CN",
        propose("P1", new_org("BANK-NL")),
        "governance.change.invalid",
        "org BANK-NL is already a member",
    );
    Chain::demo().reject_with(
        "CUSTOMS-CN",
        propose("P1", GovAction::RemoveOrg { org: oid("PORT-CNFOC") }),
        "governance.change.invalid",
        "org PORT-CNFOC is a validator; change the validator set first",
    );
    let mut bad = vset(&["CUSTOMS-CN", "CARRIER-COSCO"]);
    if let GovAction::SetValidators { validators } = &mut bad {
        validators[1].public_key = secret("someone else").public();
    }
    Chain::demo().reject_with(
        "CUSTOMS-CN",
        propose("P1", bad),
        "governance.change.invalid",
        &format!(
            "validator key {} is not one of CARRIER-COSCO's keys",
            secret("someone else").public()
        ),
    );
    Chain::demo().accept(
        "CUSTOMS-CN",
        propose("P1", GovAction::RemoveOrg { org: oid("BANK-NL") }),
    );
    // Rotating a key: after quorum the old key no longer signs.
    let mut c = Chain::demo();
    let rot = GovAction::RotateKey {
        org: oid("BANK-NL"),
        key_id: 1,
        new_key: secret("BANK-NL/2").public(),
    };
    c.accept("CUSTOMS-CN", propose("P1", rot));
    c.accept("CARRIER-COSCO", approve("P1"));
    c.accept("BANK-CN", approve("P1"));
    assert_eq!(
        member(&c, "BANK-NL").unwrap().keys[0].public_key,
        secret("BANK-NL/2").public()
    );
}

#[test]
fn governance_validators_pending_and_delay() {
    let mut c = Chain::demo();
    let three = ["CUSTOMS-CN", "CARRIER-COSCO", "BANK-CN"];
    c.accept("CUSTOMS-CN", propose("V1", vset(&three)));
    c.accept("CARRIER-COSCO", approve("V1"));
    c.accept("BANK-CN", approve("V1")); // applied at height 3 → takes effect at height 3 + 2 = 5
    assert_eq!(c.height, 3);
    let p: PendingValidators = get_typed(&c.state, &keys::pending_validators()).unwrap();
    assert_eq!(p.height, 5);
    let before: ValidatorSet = get_typed(&c.state, &keys::validators()).unwrap();
    assert_eq!(before.len(), 4);
    // A second change while one is pending is refused at the approval that would apply it.
    c.accept("CUSTOMS-CN", propose("V2", vset(&["CUSTOMS-CN", "CARRIER-COSCO"])));
    assert_eq!(c.height, 4);
    // End of block 4 promoted the set for block 5.
    let now: ValidatorSet = get_typed(&c.state, &keys::validators()).unwrap();
    assert_eq!(now.len(), 3);
    assert!(get_typed::<PendingValidators>(&c.state, &keys::pending_validators()).is_none());
    // With 3 validator orgs, quorum is 2 of 3: V2 applies in block 5 and is scheduled for 7.
    let txs = [
        c.tx("CARRIER-COSCO", approve("V2")),
        c.tx("CUSTOMS-CN", propose("V3", vset(&three))),
    ];
    let (out, _) = c.execute(&txs).unwrap();
    assert!(
        out.iter().all(|o| *o == tradechain_ledger::TxOutcome::Accepted),
        "{out:?}"
    );
    let p: PendingValidators = get_typed(&c.state, &keys::pending_validators()).unwrap();
    assert_eq!((p.height, p.set.len()), (7, 2));
    c.reject_with(
        "CARRIER-COSCO",
        approve("V3"),
        "governance.validators.pending",
        "a validator-set change is already scheduled for height 7",
    );
}

#[test]
fn end_block_writes_promotes_due_set_only() {
    use tradechain_ledger::state::{MemState, Writes};
    use tradechain_ledger::validate::end_block_writes;
    let set = ValidatorSet::new(vec![ValidatorInfo {
        org: oid("CUSTOMS-CN"),
        public_key: secret("CUSTOMS-CN").public(),
        power: 1,
    }])
    .unwrap();
    let mut w = Writes::default();
    w.put(
        keys::pending_validators(),
        &PendingValidators {
            height: 10,
            set: set.clone(),
        },
    );
    let mut s = MemState::default();
    s.apply(&w.0);
    assert!(end_block_writes(&s, 8).is_empty());
    let ws = end_block_writes(&s, 9);
    s.apply(&ws);
    assert_eq!(get_typed::<ValidatorSet>(&s, &keys::validators()), Some(set));
    assert!(get_typed::<PendingValidators>(&s, &keys::pending_validators()).is_none());
}

#[test]
fn membership_role_set_credit_tier() {
    let tier = |org: &str| {
        Payload::Governance(GovernanceOp::SetCreditTier {
            org: oid(org),
            tier: CreditTier::AeoGeneral,
        })
    };
    let mut c = Chain::demo();
    c.accept("CUSTOMS-CN", tier("PRODUCER-FZ"));
    assert_eq!(member(&c, "PRODUCER-FZ").unwrap().credit_tier, CreditTier::AeoGeneral);
    c.reject_with(
        "CHAMBER-CN",
        tier("PRODUCER-FZ"),
        "membership.role",
        "org CHAMBER-CN (roles: chamber) may not set credit tiers: role customs required",
    );
    c.reject_with(
        "CUSTOMS-NL",
        tier("NOBODY"),
        "governance.credit_tier.unknown_org",
        "org NOBODY is not a current member",
    );
}

fn add_org_with_key(id: &str, key: tradechain_ledger::PublicKey) -> GovAction {
    let GovAction::AddOrg { mut org } = new_org(id) else {
        unreachable!()
    };
    org.keys[0].public_key = key;
    GovAction::AddOrg { org }
}

#[test]
fn weak_and_duplicate_keys_are_refused_and_keys_change_hands_only_when_freed() {
    let mut c = Chain::demo();
    // The identity point (small order): anyone can forge ZIP-215 signatures for it.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let (rule, reason) = c.reject(
        "CUSTOMS-CN",
        propose(
            "W",
            add_org_with_key("FORWARDER-NL", tradechain_ledger::PublicKey(identity)),
        ),
    );
    assert_eq!(rule, "governance.key.weak", "{reason}");
    // Another member's key.
    let (rule, reason) = c.reject(
        "CUSTOMS-CN",
        propose("D", add_org_with_key("FORWARDER-NL", secret("BANK-NL").public())),
    );
    assert_eq!(rule, "governance.key.duplicate", "{reason}");
    assert!(reason.contains("BANK-NL"), "{reason}");
    // Rotating to another member's key, or to a weak one.
    let rotate = |org: &str, key| GovAction::RotateKey {
        org: oid(org),
        key_id: 1,
        new_key: key,
    };
    let (rule, _) = c.reject(
        "CUSTOMS-CN",
        propose("R1", rotate("BANK-NL", secret("PORT-CNFOC").public())),
    );
    assert_eq!(rule, "governance.key.duplicate");
    let (rule, _) = c.reject(
        "CUSTOMS-CN",
        propose("R2", rotate("BANK-NL", tradechain_ledger::PublicKey(identity))),
    );
    assert_eq!(rule, "governance.key.weak");
    // A fresh key is fine; the old one is then free for a new member.
    let fresh = secret("BANK-NL-2027").public();
    c.accept("CUSTOMS-CN", propose("R3", rotate("BANK-NL", fresh)));
    c.accept("CARRIER-COSCO", approve("R3"));
    c.accept("BANK-CN", approve("R3"));
    assert_eq!(member(&c, "BANK-NL").unwrap().keys[0].public_key, fresh);
    c.accept(
        "CUSTOMS-CN",
        propose("A", add_org_with_key("FORWARDER-NL", secret("BANK-NL").public())),
    );
}

#[test]
fn rotating_a_validators_key_rotates_its_consensus_key() {
    let mut c = Chain::demo();
    let fresh = secret("PORT-CNFOC-2027").public();
    let rotate = GovAction::RotateKey {
        org: oid("PORT-CNFOC"),
        key_id: 1,
        new_key: fresh,
    };
    c.accept("CUSTOMS-CN", propose("K", rotate));
    c.accept("CARRIER-COSCO", approve("K"));
    c.accept("BANK-CN", approve("K"));
    let pending: PendingValidators = get_typed(&c.state, &keys::pending_validators()).expect("a scheduled change");
    let port = pending
        .set
        .validators
        .iter()
        .find(|v| v.org == oid("PORT-CNFOC"))
        .unwrap();
    assert_eq!(port.public_key, fresh, "the validator set follows the org's key");
    assert!(pending.set.get(&secret("PORT-CNFOC").public()).is_none());
    // After the delay it is in force.
    for _ in 0..c.genesis.consensus.validator_change_delay + 1 {
        c.execute(&[]).unwrap();
    }
    let set: ValidatorSet = get_typed(&c.state, &keys::validators()).unwrap();
    assert!(set.get(&fresh).is_some());
}

#[test]
fn node_keys_rotate_by_governance_and_are_never_anothers() {
    let mut c = Chain::demo();
    let node = |label: &str| secret(label).public();
    let set = |org: &str, keys: Vec<tradechain_ledger::PublicKey>| GovAction::SetNodeKeys {
        org: oid(org),
        node_keys: keys,
    };
    let (rule, _) = c.reject(
        "CUSTOMS-CN",
        propose("N0", set("BANK-NL", vec![secret("PORT-CNFOC").public()])),
    );
    assert_eq!(rule, "governance.key.duplicate", "another org's key");
    let (rule, _) = c.reject(
        "CUSTOMS-CN",
        propose("N1", set("BANK-NL", vec![node("n1"), node("n1")])),
    );
    assert_eq!(rule, "governance.key.duplicate", "listed twice");
    c.accept("CUSTOMS-CN", propose("N2", set("BANK-NL", vec![node("bank-node-1")])));
    c.accept("CARRIER-COSCO", approve("N2"));
    c.accept("BANK-CN", approve("N2"));
    assert_eq!(member(&c, "BANK-NL").unwrap().node_keys, vec![node("bank-node-1")]);
    // Rotated: the old node key is free, the new one is BANK-NL's.
    let (rule, _) = c.reject(
        "CUSTOMS-CN",
        propose("N3", set("PORT-CNFOC", vec![node("bank-node-1")])),
    );
    assert_eq!(rule, "governance.key.duplicate");
    c.accept("CUSTOMS-CN", propose("N4", set("BANK-NL", vec![node("bank-node-2")])));
    c.accept("CARRIER-COSCO", approve("N4"));
    c.accept("BANK-CN", approve("N4"));
    c.accept(
        "CUSTOMS-CN",
        propose("N5", set("PORT-CNFOC", vec![node("bank-node-1")])),
    );
}
