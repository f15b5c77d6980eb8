//! Payload builders: the few constructors that fill a document's required fields and leave the
//! rest at their defaults, shared by the demo data set (`demo`), the CLI's benchmarks and the
//! test fixtures (`testkit`), so there is one way to spell a bare event or a party.
//!
//! Invariants: pure and deterministic (no clock, no randomness); `oid` is for id literals in
//! code only — it panics on a malformed literal, so never pass it input.
use crate::identity::OrgId;
use crate::payload::{Action, EventType, Party, ProvenanceEvent};

/// An `OrgId` from a literal written in code (panics on a malformed literal: never for input).
pub fn oid(s: &str) -> OrgId {
    match OrgId::new(s) {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    }
}

/// A party by name, optional member org and country (no address).
pub fn party(name: &str, org: Option<&str>, country: &str) -> Party {
    Party {
        name: name.to_string(),
        org: org.map(oid),
        country: country.to_string(),
        address: String::new(),
    }
}

/// An EPCIS event with only the given fields set (time zone +08:00).
pub fn event(event_type: EventType, action: Option<Action>, epcs: &[&str], time_ms: i64) -> ProvenanceEvent {
    ProvenanceEvent {
        event_time_ms: time_ms,
        event_time_zone_offset_min: 480,
        action,
        epc_list: epcs.iter().map(|s| s.to_string()).collect(),
        ..ProvenanceEvent::new(event_type)
    }
}

/// An ObjectEvent OBSERVE at a UN/LOCODE with a bizStep.
pub fn observe(epcs: &[&str], time_ms: i64, biz_step: &str, unlocode: &str) -> ProvenanceEvent {
    let mut e = event(EventType::ObjectEvent, Some(Action::Observe), epcs, time_ms);
    e.biz_step = Some(biz_step.to_string());
    e.unlocode = Some(unlocode.to_string());
    e
}
