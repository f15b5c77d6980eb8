//! A member sends any payload it likes. Property: every payload of every family — the demo
//! shipment's documents with any field replaced by arbitrary Unicode (multi-byte characters at
//! every position), empty or maximal strings, boundary integers, emptied or grown lists —
//! executes without a panic, without an `internal.fault`, and with the same verdict and writes
//! in two independent executions. And containment: a rule that does panic rejects only its
//! transaction, with `internal.fault`, on every node alike.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use proptest::prelude::*;
use serde_json::Value;
use tradechain_ledger::block::TxOutcome;
use tradechain_ledger::execute::{INTERNAL_FAULT, Registry, Rejection, TxContext, Validator, internal_faults};
use tradechain_ledger::payload::Payload;
use tradechain_ledger::state::{StateView, Writes};
use tradechain_ledger::testkit::{self, Chain};

static EXECUTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Paths to every leaf (and every array) of a JSON value.
fn leaves(v: &Value, path: &mut Vec<PathPart>, out: &mut Vec<Vec<PathPart>>) {
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                path.push(PathPart::Key(k.clone()));
                leaves(c, path, out);
                path.pop();
            }
        }
        Value::Array(a) => {
            out.push(path.clone());
            for (i, c) in a.iter().enumerate() {
                path.push(PathPart::Index(i));
                leaves(c, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

#[derive(Clone, Debug)]
enum PathPart {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[PathPart]) -> Option<&'a mut Value> {
    let mut cur = v;
    for p in path {
        cur = match p {
            PathPart::Key(k) => cur.get_mut(k.as_str())?,
            PathPart::Index(i) => cur.get_mut(*i)?,
        };
    }
    Some(cur)
}

/// What a cheating member puts in a field.
#[derive(Clone, Debug)]
enum Mutation {
    Text(String),
    /// The original string with `ch` inserted at char position `pos` (mod length + 1).
    Insert(usize, char),
    /// The original string truncated to its first `n` chars.
    Truncate(usize),
    Repeat(char, usize),
    Int(i128),
    Bool,
    Null,
    EmptyList,
    /// Duplicate the list's first element `n` times.
    GrowList(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let boundary = prop_oneof![
        Just(0i128),
        Just(1),
        Just(-1),
        Just(i64::MIN as i128),
        Just(i64::MAX as i128),
        Just(u32::MAX as i128),
        Just(u64::MAX as i128),
        Just(1i128 << 53),
        any::<i64>().prop_map(|v| v as i128),
    ];
    let multibyte = prop_oneof![
        Just('é'),
        Just('€'),
        Just('𝄞'),
        Just('\u{0}'),
        Just('\u{10FFFF}'),
        any::<char>()
    ];
    prop_oneof![
        any::<String>().prop_map(Mutation::Text),
        (any::<usize>(), multibyte.clone()).prop_map(|(p, c)| Mutation::Insert(p, c)),
        (0usize..8).prop_map(Mutation::Truncate),
        (
            multibyte,
            prop_oneof![Just(0usize), Just(1), Just(256), Just(1025), Just(70_000)]
        )
            .prop_map(|(c, n)| Mutation::Repeat(c, n)),
        boundary.prop_map(Mutation::Int),
        Just(Mutation::Bool),
        Just(Mutation::Null),
        Just(Mutation::EmptyList),
        prop_oneof![Just(2usize), Just(65), Just(300)].prop_map(Mutation::GrowList),
    ]
}

/// Apply `m` in the leaf's own type where it has one (a string stays a string, a number a
/// number), so most mutated payloads still decode and reach the validators.
fn apply(v: &mut Value, m: &Mutation) {
    let boundary = |seed: usize| -> Value {
        let picks: [i128; 7] = [
            0,
            -1,
            1,
            i64::MAX as i128,
            i64::MIN as i128,
            u64::MAX as i128,
            u32::MAX as i128,
        ];
        serde_json::from_str(&picks[seed % picks.len()].to_string()).unwrap_or(Value::Null)
    };
    match (&mut *v, m) {
        (Value::String(s), Mutation::Text(t)) => *s = t.clone(),
        (Value::String(s), Mutation::Insert(pos, ch)) => {
            let chars: Vec<char> = s.chars().collect();
            let p = pos % (chars.len() + 1);
            let mut t: String = chars.iter().take(p).collect();
            t.push(*ch);
            t.extend(chars.iter().skip(p));
            *s = t;
        }
        (Value::String(s), Mutation::Truncate(n)) => *s = s.chars().take(*n).collect(),
        (Value::String(s), Mutation::Repeat(c, n)) => *s = std::iter::repeat_n(*c, *n).collect(),
        (Value::String(s), Mutation::Int(i)) => *s = i.to_string(),
        (Value::String(s), _) => s.push('\u{0301}'),
        (Value::Number(_), Mutation::Int(i)) => *v = serde_json::from_str(&i.to_string()).unwrap_or(Value::Null),
        (Value::Number(_), Mutation::Text(t)) => *v = boundary(t.len()),
        (Value::Number(_), Mutation::Insert(p, _)) => *v = boundary(*p),
        (Value::Number(_), _) => *v = boundary(3),
        (Value::Bool(b), _) => *b = !*b,
        (Value::Array(a), Mutation::EmptyList) => a.clear(),
        (Value::Array(a), Mutation::GrowList(n)) => {
            if let Some(first) = a.first().cloned() {
                a.extend(std::iter::repeat_n(first, *n));
            }
        }
        (Value::Array(a), Mutation::Text(t)) => a.push(Value::String(t.clone())),
        (Value::Array(a), _) => {
            if let Some(first) = a.first_mut() {
                apply(first, m);
            }
        }
        (Value::Null, Mutation::Text(t)) => *v = Value::String(t.clone()),
        (Value::Null, Mutation::Repeat(c, n)) => *v = Value::String(std::iter::repeat_n(*c, *n).collect()),
        (Value::Null, Mutation::Insert(_, c)) => *v = Value::String(format!("CN{c}12")),
        (Value::Null, Mutation::Int(i)) => *v = serde_json::from_str(&i.to_string()).unwrap_or(Value::Null),
        (_, Mutation::Null) => *v = Value::Null,
        _ => {}
    }
}

/// Execute `txs` on top of the shipment's first `step` blocks; outcomes and writes.
fn run(step: usize, sender: &str, payload: &Payload) -> (Vec<TxOutcome>, Vec<u8>) {
    let mut chain = testkit::after_steps(step);
    let tx = chain.tx(sender, payload.clone());
    let (outcomes, writes) = chain
        .execute(&[tx])
        .expect("a member-signed transaction never invalidates a block");
    (outcomes, borsh::to_vec(&writes).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_payload_of_any_family_is_judged_the_same_twice_without_panic(
        step in 0usize..64,
        other_sender in any::<bool>(),
        picks in proptest::collection::vec((any::<usize>(), mutation()), 1..4),
    ) {
        let steps = testkit::shipment();
        let step = step % steps.len();
        let s = &steps[step];
        let mut v = serde_json::to_value(&s.payload).unwrap();
        for (pick, m) in &picks {
            let mut paths = Vec::new();
            leaves(&v, &mut Vec::new(), &mut paths);
            if paths.is_empty() { break; }
            let path = paths[pick % paths.len()].clone();
            if let Some(slot) = at(&mut v, &path) {
                apply(slot, m);
            }
        }
        // Field types a member cannot express in the wire format do not decode: nothing to run.
        let Ok(payload) = serde_json::from_value::<Payload>(v) else { return Ok(()); };
        EXECUTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let sender = if other_sender { "CARRIER-COSCO" } else { s.sender };
        let a = run(step, sender, &payload);
        let b = run(step, sender, &payload);
        prop_assert_eq!(&a, &b, "two executions disagree");
        if std::env::var("ADVERSARIAL_STATS").is_ok() {
            // How many cases reached the validators, and their verdicts (to check coverage).
            eprintln!("executed {} {:?}", EXECUTED.load(std::sync::atomic::Ordering::Relaxed), a.0);
        }
        prop_assert_eq!(a.0.len(), 1);
        if let TxOutcome::Rejected { rule, reason } = &a.0[0] {
            prop_assert_ne!(rule.as_str(), INTERNAL_FAULT, "a rule panicked: {}", reason);
            prop_assert!(!rule.is_empty() && rule.contains('.'), "rule id {rule:?} is not a rule id");
        }
    }
}

/// A provenance rule with a bug that panics on one input.
struct PanickingProvenance;

impl Validator for PanickingProvenance {
    fn family(&self) -> &'static str {
        "provenance"
    }
    fn validate(&self, _ctx: &TxContext<'_>, _view: &dyn StateView) -> Result<Writes, Rejection> {
        let empty: &str = "";
        // A slice inside nothing: the class of bug that crashed every proposer.
        let _ = &empty[..2];
        Ok(Writes::default())
    }
}

fn registry_with_panicking_provenance() -> Registry {
    let mut validators: Vec<Box<dyn Validator>> = tradechain_ledger::validate::all()
        .into_iter()
        .filter(|v| v.family() != "provenance")
        .collect();
    validators.push(Box::new(PanickingProvenance));
    Registry::new(validators)
}

#[test]
fn a_panicking_rule_rejects_only_its_transaction_with_internal_fault_everywhere() {
    let steps = testkit::shipment();
    // The shipment opens with provenance events; find a non-provenance step to run beside it.
    let prov = steps
        .iter()
        .position(|s| matches!(s.payload, Payload::Provenance(_)))
        .unwrap();
    let mut verdicts = Vec::new();
    for _node in 0..2 {
        let mut chain = Chain::demo();
        chain.registry = registry_with_panicking_provenance();
        let before = internal_faults();
        let bad = chain.tx(steps[prov].sender, steps[prov].payload.clone());
        // Another org's transaction in the same block is judged by its own rules.
        let other = steps
            .iter()
            .find(|s| !matches!(s.payload, Payload::Provenance(_)))
            .unwrap();
        let good = chain.tx(other.sender, other.payload.clone());
        let (outcomes, writes) = chain.execute(&[bad.clone(), good]).expect("the block stays valid");
        assert!(internal_faults() > before, "the fault is counted");
        match &outcomes[0] {
            TxOutcome::Rejected { rule, .. } => assert_eq!(rule, INTERNAL_FAULT),
            o => panic!("expected internal.fault, got {o:?}"),
        }
        assert!(
            !matches!(&outcomes[1], TxOutcome::Rejected { rule, .. } if rule == INTERNAL_FAULT),
            "only the faulting transaction is touched"
        );
        // The faulting transaction changed nothing, not even its sender's nonce; the chain goes on.
        assert_eq!(chain.next_nonce(steps[prov].sender), bad.tx().nonce);
        let again = chain.tx(steps[prov].sender, steps[prov].payload.clone());
        let (o2, _) = chain.execute(&[again]).expect("next block");
        verdicts.push((outcomes, borsh::to_vec(&writes).unwrap(), o2));
    }
    assert_eq!(verdicts[0], verdicts[1], "two nodes reach the same verdict");
}

/// The transaction that stopped the testnet (issue 16): a UN/LOCODE of five bytes whose second
/// character is two bytes. Before the fix every proposer panicked on it; now it is a rejection.
#[test]
fn the_multibyte_unlocode_that_stopped_the_chain_is_a_rejection() {
    let steps = testkit::shipment();
    let s = steps
        .iter()
        .find(|s| matches!(&s.payload, Payload::Provenance(e) if e.unlocode.is_some()))
        .unwrap();
    let Payload::Provenance(mut e) = s.payload.clone() else {
        unreachable!()
    };
    for bad in ["Cé12", "éCN1", "CNF€", "𝄞N", "C\u{0}FOC"] {
        e.unlocode = Some(bad.into());
        let mut chain = testkit::after_steps(steps.iter().position(|x| std::ptr::eq(x, s)).unwrap());
        let t = chain.tx(s.sender, Payload::Provenance(e.clone()));
        let (outcomes, _) = chain.execute(&[t]).unwrap();
        match &outcomes[0] {
            TxOutcome::Rejected { rule, .. } => assert_ne!(rule, INTERNAL_FAULT, "{bad:?}"),
            o => panic!("{bad:?} accepted: {o:?}"),
        }
    }
}
