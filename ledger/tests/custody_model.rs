//! Model-based property test of goods ownership and custody (`validate::prefix`,
//! `validate::custody`) against cheating members.
//!
//! Random sequences of EPCIS events — commission, pack, unpack, ship (naming a possessing
//! party), receive, destroy, observe — on a brand's serialised phones and cases (GS1 Company
//! Prefix 6901234, PRODUCER-FZ's in the demo genesis) and on an item under a prefix nobody
//! registered, sent by the brand and by rivals (a port, a carrier, a customs authority), one
//! transaction per block through `execute::execute_block`. Against a model written here from
//! the rule table (not from the validator's code), after every block:
//! - an act the model forbids (creating under another's prefix; ending, packing, unpacking or
//!   shipping goods the sender neither owns nor effectively holds) was rejected;
//! - an act the model allows was not rejected by an ownership or custody rule;
//! - owner and possessor changed only by commissioning, by the named party's receiving of a
//!   transfer the controller started, or by unpacking (to the container's holder);
//! - every commissioned, live phone or case has exactly one effective possessor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::needless_range_loop)]
use proptest::prelude::*;
use tradechain_ledger::execute::execute_block;
use tradechain_ledger::gs1::goods_key;
use tradechain_ledger::payload::*;
use tradechain_ledger::records::ItemRecord;
use tradechain_ledger::state::{MemState, get_typed, keys};
use tradechain_ledger::testkit::*;
use tradechain_ledger::{OrgId, TxOutcome};

const BRAND: &str = "PRODUCER-FZ";
const ORGS: [&str; 4] = [BRAND, "PORT-CNFOC", "CARRIER-COSCO", "CUSTOMS-CN"];
/// Phones and a cross-brand item first (children), then cases (parents).
const ITEMS: [&str; 6] = [
    "urn:epc:id:sgtin:6901234.012345.M1",
    "urn:epc:id:sgtin:6901234.012345.M2",
    "urn:epc:id:sgtin:6901234.012345.M3",
    "urn:epc:id:sgtin:0614141.812345.M9",
    "urn:epc:id:sscc:6901234.0000000101",
    "urn:epc:id:sscc:6901234.0000000102",
];
const CASES: std::ops::Range<usize> = 4..6;
const CUSTODY_RULES: [&str; 2] = ["gs1.prefix_not_owner", "provenance.custody.not_controller"];

#[derive(Clone, Debug)]
enum Op {
    Commission(usize, usize),
    Pack(usize, usize, usize),
    Unpack(usize, usize, usize),
    Ship(usize, usize, usize),
    Receive(usize, usize),
    Destroy(usize, usize),
    Observe(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    let o = 0..ORGS.len();
    let i = 0..ITEMS.len();
    let case = CASES;
    let child = 0..CASES.start;
    prop_oneof![
        4 => (o.clone(), i.clone()).prop_map(|(s, i)| Op::Commission(s, i)),
        3 => (o.clone(), case.clone(), child.clone()).prop_map(|(s, p, c)| Op::Pack(s, p, c)),
        2 => (o.clone(), case, child).prop_map(|(s, p, c)| Op::Unpack(s, p, c)),
        3 => (o.clone(), i.clone(), o.clone()).prop_map(|(s, i, t)| Op::Ship(s, i, t)),
        3 => (o.clone(), i.clone()).prop_map(|(s, i)| Op::Receive(s, i)),
        1 => (o.clone(), i.clone()).prop_map(|(s, i)| Op::Destroy(s, i)),
        1 => (o, i).prop_map(|(s, i)| Op::Observe(s, i)),
    ]
}

fn key(i: usize) -> String {
    goods_key(ITEMS[i]).unwrap()
}

fn rec(s: &MemState, i: usize) -> Option<ItemRecord> {
    get_typed(s, &keys::item(&key(i)))
}

/// The model's brand of an item: PRODUCER-FZ under 6901234, nobody otherwise.
fn brand(i: usize) -> Option<&'static str> {
    ITEMS[i].contains(":6901234.").then_some(BRAND)
}

/// Owner as the model sees it: recorded, or the brand for an item never seen.
fn owner(s: &MemState, i: usize) -> Option<String> {
    match rec(s, i) {
        Some(r) => r.owner.map(|o| o.to_string()),
        None => brand(i).map(str::to_string),
    }
}

/// Effective possessor: the outermost container's recorded possessor, else the item's own
/// (the brand for an item never seen).
fn holder(s: &MemState, i: usize) -> Option<String> {
    let Some(r) = rec(s, i) else {
        return brand(i).map(str::to_string);
    };
    let mut h = r.possessor.map(|o| o.to_string());
    let mut parent = r.parent;
    while let Some(p) = parent {
        let pr: ItemRecord = get_typed(s, &keys::item(&p)).unwrap();
        if let Some(o) = &pr.possessor {
            h = Some(o.to_string());
        }
        parent = pr.parent;
    }
    h
}

fn controls(s: &MemState, i: usize, who: &str) -> bool {
    let (o, h) = (owner(s, i), holder(s, i));
    (o.is_none() && h.is_none()) || o.as_deref() == Some(who) || h.as_deref() == Some(who)
}

fn is_new(s: &MemState, i: usize) -> bool {
    rec(s, i).is_none_or(|r| r.event_count == 0 && !r.commissioned)
}

/// The payload of an op, and whether the model forbids it on ownership/custody grounds.
fn payload(s: &MemState, op: &Op, time: i64) -> (usize, Payload, bool) {
    let ev = |t, a, ids: &[&str], step: &str| {
        let mut e = event(t, a, ids, time);
        e.biz_step = (!step.is_empty()).then(|| step.to_string());
        e
    };
    match *op {
        Op::Commission(s_, i) => {
            let forbidden = rec(s, i).is_none_or(|r| !r.commissioned) && brand(i).is_some_and(|b| b != ORGS[s_]);
            let e = ev(EventType::ObjectEvent, Some(Action::Add), &[ITEMS[i]], "commissioning");
            (s_, Payload::Provenance(e), forbidden)
        }
        Op::Pack(s_, p, c) | Op::Unpack(s_, p, c) => {
            let add = matches!(op, Op::Pack(..));
            let who = ORGS[s_];
            let parent_ok = if is_new(s, p) {
                brand(p).is_none_or(|b| b == who)
            } else {
                controls(s, p, who)
            };
            let forbidden = !parent_ok || !controls(s, c, who);
            let mut e = ev(
                EventType::AggregationEvent,
                Some(if add { Action::Add } else { Action::Delete }),
                &[],
                if add { "packing" } else { "unpacking" },
            );
            e.parent_id = Some(ITEMS[p].into());
            e.child_epcs = vec![ITEMS[c].into()];
            (s_, Payload::Provenance(e), forbidden)
        }
        Op::Ship(s_, i, to) => {
            let mut e = ev(EventType::ObjectEvent, Some(Action::Observe), &[ITEMS[i]], "shipping");
            e.destination_list = vec![TypedRef {
                kind: Some("urn:epcglobal:cbv:sdt:possessing_party".into()),
                id: ORGS[to].into(),
            }];
            (s_, Payload::Provenance(e), !controls(s, i, ORGS[s_]))
        }
        Op::Receive(s_, i) => {
            let e = ev(EventType::ObjectEvent, Some(Action::Observe), &[ITEMS[i]], "receiving");
            (s_, Payload::Provenance(e), false)
        }
        Op::Destroy(s_, i) => {
            let e = ev(EventType::ObjectEvent, Some(Action::Delete), &[ITEMS[i]], "destroying");
            (s_, Payload::Provenance(e), !controls(s, i, ORGS[s_]))
        }
        Op::Observe(s_, i) => {
            let e = ev(EventType::ObjectEvent, Some(Action::Observe), &[ITEMS[i]], "inspecting");
            (s_, Payload::Provenance(e), false)
        }
    }
}

/// How each item's custody may have changed under an accepted op.
fn check_changes(before: &MemState, after: &MemState, op: &Op) -> Result<(), TestCaseError> {
    for i in 0..ITEMS.len() {
        let (b, a) = (rec(before, i), rec(after, i));
        let Some(a) = a else { continue };
        let b_owner = b
            .as_ref()
            .and_then(|r| r.owner.clone())
            .or_else(|| brand(i).map(|x| OrgId::new(x).unwrap()));
        let b_poss = b
            .as_ref()
            .and_then(|r| r.possessor.clone())
            .or_else(|| brand(i).map(|x| OrgId::new(x).unwrap()));
        let b_transfer = b.as_ref().and_then(|r| r.transfer.clone());
        let touched = match *op {
            Op::Commission(_, x) | Op::Ship(_, x, _) | Op::Receive(_, x) | Op::Destroy(_, x) | Op::Observe(_, x) => {
                x == i
            }
            Op::Pack(_, p, c) | Op::Unpack(_, p, c) => p == i || c == i,
        };
        if !touched {
            prop_assert_eq!(b.as_ref(), Some(&a), "{} changed by an event not naming it", ITEMS[i]);
            continue;
        }
        if a.possessor != b_poss {
            let ok = match *op {
                Op::Commission(s, _) => {
                    b.as_ref()
                        .is_none_or(|r| !r.commissioned && (r.event_count == 0 || r.possessor.is_none()))
                        && a.possessor.as_deref_str() == Some(ORGS[s])
                }
                Op::Receive(s, _) => b_transfer
                    .as_ref()
                    .is_some_and(|t| t.possessor.as_ref().map(|o| o.as_str()) == Some(ORGS[s])),
                Op::Unpack(_, p, _) => a.possessor.as_deref_str() == holder(before, p).as_deref(),
                _ => false,
            };
            prop_assert!(
                ok,
                "{}: possessor {:?} -> {:?} by {:?}",
                ITEMS[i],
                b_poss,
                a.possessor,
                op
            );
        }
        if a.owner != b_owner {
            let ok = match *op {
                Op::Commission(s, _) => b_owner.is_none() && a.owner.as_ref().map(|o| o.as_str()) == Some(ORGS[s]),
                _ => false,
            };
            prop_assert!(ok, "{}: owner {:?} -> {:?} by {:?}", ITEMS[i], b_owner, a.owner, op);
        }
    }
    // One effective possessor for every commissioned, live item under the registered prefix.
    for i in (0..ITEMS.len()).filter(|i| brand(*i).is_some()) {
        if let Some(r) = rec(after, i)
            && r.commissioned
            && !r.ended
        {
            prop_assert!(holder(after, i).is_some(), "{} has no possessor", ITEMS[i]);
        }
    }
    Ok(())
}

trait AsDerefStr {
    fn as_deref_str(&self) -> Option<&str>;
}
impl AsDerefStr for Option<OrgId> {
    fn as_deref_str(&self) -> Option<&str> {
        self.as_ref().map(|o| o.as_str())
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn goods_change_hands_only_as_the_rules_allow(ops in prop::collection::vec(op(), 1..40)) {
        let mut c = Chain::demo();
        for op in &ops {
            let before = c.state.clone();
            let time = c.time_ms + BLOCK_STEP_MS;
            let (s, p, forbidden) = payload(&before, op, time);
            let tx = c.sign(ORGS[s], c.next_nonce(ORGS[s]), p);
            let (h, t) = (c.height + 1, c.time_ms + BLOCK_STEP_MS);
            let ex = execute_block(&c.registry, &c.genesis, &c.state, h, t, std::slice::from_ref(&tx)).unwrap();
            c.state.apply(&ex.writes);
            c.height = h;
            c.time_ms = t;
            match &ex.outcomes[0] {
                TxOutcome::Accepted => {
                    prop_assert!(!forbidden, "{op:?} by {} was accepted; the model forbids it", ORGS[s]);
                    check_changes(&before, &c.state, op)?;
                }
                TxOutcome::Rejected { rule, reason } => {
                    if !forbidden {
                        prop_assert!(
                            !CUSTODY_RULES.contains(&rule.as_str()),
                            "{op:?} refused by {rule} ({reason}); the model allows it"
                        );
                    }
                }
            }
        }
    }
}
