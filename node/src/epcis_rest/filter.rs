//! Which provenance events an EPCIS query selects: `EventFilter`, the one matching of events
//! against query criteria, used by the REST binding's queries (built from the standard query
//! parameters by `EventFilter::from_params`) and by gRPC `ExportEpcis` (`grpc::epcis`).
//!
//! Owns: the parameter names the binding understands, their parsing (each error names the
//! parameter), and the semantics of a match:
//! - criteria combine with AND; the values of one pipe-delimited parameter with OR;
//! - identifiers (EPCs, classes, parent, read points, business locations) match when spelled
//!   the same, when both are GS1 keys of the same thing (an EPC URN and its Digital Link), or —
//!   for `urn:epc:idpat:` patterns — field by field with `*` for any value, against EPC URNs;
//! - CBV values (bizStep, disposition) match in any standard spelling (`shipping`,
//!   `urn:epcglobal:cbv:bizstep:shipping`, `https://ref.gs1.org/cbv/BizStep-shipping`); custom
//!   values (URIs, CURIEs) only as written;
//! - `recordTime` is the committing block's time (the ledger's record of the event).
//!
//! Invariants: the filter reads only an event's public fields (those `export::public_view`
//! keeps). Parameters over withheld (commercial) fields — business transactions, sources,
//! destinations, ILMD, extension fields, an error declaration's reason — are refused, because
//! matching on them would reveal them. Everything parsed is bounded (`MAX_VALUES` per parameter,
//! `MAX_VALUE_BYTES` per value).
use tradechain_ledger::epcis::export::{biz_step_term, disposition_term, event_type_name};
use tradechain_ledger::epcis::json::{self, Json};
use tradechain_ledger::epcis::time;
use tradechain_ledger::payload::{Action, ProvenanceEvent, QuantityElement};

/// Values one pipe-delimited parameter may carry.
pub const MAX_VALUES: usize = 64;
/// Bytes of one value.
pub const MAX_VALUE_BYTES: usize = 2048;

/// A normalised goods identifier of the caller (`Backend::goods_key`).
pub type KeyFn<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A parameter the caller got wrong: its name and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError {
    pub parameter: String,
    pub detail: String,
    /// A standard parameter this node does not evaluate (vs. malformed or unknown).
    pub unsupported: bool,
}

impl ParamError {
    pub fn new(parameter: &str, detail: impl Into<String>) -> ParamError {
        ParamError {
            parameter: parameter.to_string(),
            detail: detail.into(),
            unsupported: false,
        }
    }
    fn unsupported(parameter: &str, detail: impl Into<String>) -> ParamError {
        ParamError {
            unsupported: true,
            ..ParamError::new(parameter, detail)
        }
    }
}

/// One identifier criterion: its text, its GS1 key (when it is one) and, for an EPC pattern,
/// its scheme and fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMatch {
    pub text: String,
    key: Option<String>,
    pattern: Option<(String, Vec<String>)>,
}

impl IdMatch {
    pub fn new(text: &str, gk: KeyFn<'_>) -> IdMatch {
        let pattern = text.strip_prefix("urn:epc:idpat:").and_then(|rest| {
            let (scheme, fields) = rest.split_once(':')?;
            Some((scheme.to_string(), fields.split('.').map(str::to_string).collect()))
        });
        IdMatch {
            text: text.to_string(),
            key: if pattern.is_some() { None } else { gk(text) },
            pattern,
        }
    }

    /// The identifier's GS1 key (None for a pattern or a non-GS1 URI).
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn is_pattern(&self) -> bool {
        self.pattern.is_some()
    }

    pub fn matches(&self, value: &str, gk: KeyFn<'_>) -> bool {
        if value == self.text {
            return true;
        }
        if let Some((scheme, fields)) = &self.pattern {
            let Some(rest) = value
                .strip_prefix("urn:epc:id:")
                .and_then(|r| r.strip_prefix(scheme.as_str()))
                .and_then(|r| r.strip_prefix(':'))
            else {
                return false;
            };
            let got: Vec<&str> = rest.split('.').collect();
            return got.len() == fields.len() && fields.iter().zip(&got).all(|(f, g)| f == "*" || f == g);
        }
        self.key.is_some() && gk(value).as_deref() == self.key.as_deref()
    }

    fn any(list: &[IdMatch], values: &[&str], gk: KeyFn<'_>) -> bool {
        list.iter().any(|m| values.iter().any(|v| m.matches(v, gk)))
    }
}

// Standard CBV values compare as their bare terms, the export's own spelling:
// `ledger::epcis::export::{biz_step_term, disposition_term, event_type_name}`.

pub const EVENT_TYPES: [&str; 5] = [
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
];

/// Criteria on events; `None`/empty means "any".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub event_types: Option<Vec<String>>,
    pub event_time_ge: Option<i64>,
    pub event_time_lt: Option<i64>,
    /// Inclusive upper bound (gRPC `to_time_ms`).
    pub event_time_le: Option<i64>,
    pub record_time_ge: Option<i64>,
    pub record_time_lt: Option<i64>,
    pub actions: Option<Vec<Action>>,
    /// Normalised with `biz_step_term`.
    pub biz_steps: Option<Vec<String>>,
    /// Normalised with `disposition_term`.
    pub dispositions: Option<Vec<String>>,
    pub persistent_set: Option<Vec<String>>,
    pub persistent_unset: Option<Vec<String>>,
    pub read_points: Option<Vec<IdMatch>>,
    pub biz_locations: Option<Vec<IdMatch>>,
    /// The read point or the business location (gRPC `location`).
    pub any_location: Option<Vec<IdMatch>>,
    pub transformation_ids: Option<Vec<String>>,
    pub epc: Option<Vec<IdMatch>>,
    pub parent_id: Option<Vec<IdMatch>>,
    pub input_epc: Option<Vec<IdMatch>>,
    pub output_epc: Option<Vec<IdMatch>>,
    pub any_epc: Option<Vec<IdMatch>>,
    pub epc_class: Option<Vec<IdMatch>>,
    pub input_epc_class: Option<Vec<IdMatch>>,
    pub output_epc_class: Option<Vec<IdMatch>>,
    pub any_epc_class: Option<Vec<IdMatch>>,
    pub event_ids: Option<Vec<String>>,
    pub error_declaration_exists: bool,
    pub error_declaration_time_ge: Option<i64>,
    pub error_declaration_time_lt: Option<i64>,
    pub corrective_event_ids: Option<Vec<String>>,
}

fn classes(l: &[QuantityElement]) -> impl Iterator<Item = &str> {
    l.iter().map(|q| q.epc_class.as_str())
}

fn strs(l: &[String]) -> impl Iterator<Item = &str> {
    l.iter().map(String::as_str)
}

/// `persistentDisposition.set` or `.unset` of an event (kept verbatim in `extensions`).
fn persistent(ev: &ProvenanceEvent, member: &str) -> Vec<String> {
    let Some(Ok(Json::Object(m))) = ev.extensions.get("persistentDisposition").map(|t| json::parse(t)) else {
        return Vec::new();
    };
    match m.iter().find(|(k, _)| k == member) {
        Some((_, Json::Array(a))) => a
            .iter()
            .filter_map(Json::as_str)
            .map(|v| disposition_term(v).to_string())
            .collect(),
        _ => Vec::new(),
    }
}

impl EventFilter {
    /// Whether `ev`, committed in a block of time `record_time_ms`, meets every criterion.
    pub fn matches(&self, ev: &ProvenanceEvent, record_time_ms: i64, gk: KeyFn<'_>) -> bool {
        fn one_of<T: PartialEq>(want: &Option<Vec<T>>, got: Option<&T>) -> bool {
            match want {
                None => true,
                Some(w) => got.is_some_and(|g| w.contains(g)),
            }
        }
        fn ids(want: &Option<Vec<IdMatch>>, values: &[&str], gk: KeyFn<'_>) -> bool {
            want.as_ref().is_none_or(|w| IdMatch::any(w, values, gk))
        }
        let t = ev.event_time_ms;
        if self.event_time_ge.is_some_and(|x| t < x)
            || self.event_time_lt.is_some_and(|x| t >= x)
            || self.event_time_le.is_some_and(|x| t > x)
            || self.record_time_ge.is_some_and(|x| record_time_ms < x)
            || self.record_time_lt.is_some_and(|x| record_time_ms >= x)
        {
            return false;
        }
        if !one_of(&self.event_types, Some(&event_type_name(ev.event_type).to_string()))
            || !one_of(&self.actions, ev.action.as_ref())
            || !one_of(
                &self.biz_steps,
                ev.biz_step.as_deref().map(|b| biz_step_term(b).to_string()).as_ref(),
            )
            || !one_of(
                &self.dispositions,
                ev.disposition
                    .as_deref()
                    .map(|d| disposition_term(d).to_string())
                    .as_ref(),
            )
            || !one_of(&self.transformation_ids, ev.transformation_id.as_ref())
            || !one_of(&self.event_ids, ev.event_id.as_ref())
        {
            return false;
        }
        for (want, member) in [(&self.persistent_set, "set"), (&self.persistent_unset, "unset")] {
            if let Some(w) = want
                && !persistent(ev, member).iter().any(|v| w.contains(v))
            {
                return false;
            }
        }
        let rp: Vec<&str> = ev.read_point.as_deref().into_iter().collect();
        let bl: Vec<&str> = ev.biz_location.as_deref().into_iter().collect();
        let both: Vec<&str> = rp.iter().chain(&bl).copied().collect();
        if !ids(&self.read_points, &rp, gk) || !ids(&self.biz_locations, &bl, gk) || !ids(&self.any_location, &both, gk)
        {
            return false;
        }
        let parent: Vec<&str> = ev.parent_id.as_deref().into_iter().collect();
        let epcs: Vec<&str> = strs(&ev.epc_list).chain(strs(&ev.child_epcs)).collect();
        let inputs: Vec<&str> = strs(&ev.input_epc_list).collect();
        let outputs: Vec<&str> = strs(&ev.output_epc_list).collect();
        let any: Vec<&str> = epcs
            .iter()
            .chain(&parent)
            .chain(&inputs)
            .chain(&outputs)
            .copied()
            .collect();
        if !ids(&self.epc, &epcs, gk)
            || !ids(&self.parent_id, &parent, gk)
            || !ids(&self.input_epc, &inputs, gk)
            || !ids(&self.output_epc, &outputs, gk)
            || !ids(&self.any_epc, &any, gk)
        {
            return false;
        }
        let qc: Vec<&str> = classes(&ev.quantity_list)
            .chain(classes(&ev.child_quantity_list))
            .collect();
        let ic: Vec<&str> = classes(&ev.input_quantity_list).collect();
        let oc: Vec<&str> = classes(&ev.output_quantity_list).collect();
        let ac: Vec<&str> = qc.iter().chain(&ic).chain(&oc).copied().collect();
        if !ids(&self.epc_class, &qc, gk)
            || !ids(&self.input_epc_class, &ic, gk)
            || !ids(&self.output_epc_class, &oc, gk)
            || !ids(&self.any_epc_class, &ac, gk)
        {
            return false;
        }
        let decl = ev.error_declaration.as_ref();
        if (self.error_declaration_exists
            || self.error_declaration_time_ge.is_some()
            || self.error_declaration_time_lt.is_some()
            || self.corrective_event_ids.is_some())
            && decl.is_none()
        {
            return false;
        }
        if let Some(d) = decl {
            if self
                .error_declaration_time_ge
                .is_some_and(|x| d.declaration_time_ms < x)
                || self
                    .error_declaration_time_lt
                    .is_some_and(|x| d.declaration_time_ms >= x)
            {
                return false;
            }
            if let Some(w) = &self.corrective_event_ids
                && !d.corrective_event_ids.iter().any(|c| w.contains(c))
            {
                return false;
            }
        }
        true
    }

    /// The one GS1 key every matching event must touch, when a single-valued EPC or class
    /// criterion names one (not a pattern): a query can then read that item's event index
    /// instead of the chain (the index holds every event naming the key in any role).
    pub fn index_key(&self) -> Option<String> {
        [
            &self.epc,
            &self.parent_id,
            &self.input_epc,
            &self.output_epc,
            &self.any_epc,
            &self.epc_class,
            &self.input_epc_class,
            &self.output_epc_class,
            &self.any_epc_class,
        ]
        .into_iter()
        .flatten()
        .find_map(|l| match l.as_slice() {
            [one] if !one.is_pattern() => one.key().map(str::to_string),
            _ => None,
        })
    }

    /// Parse the standard query parameters (everything but the paging ones, which the caller
    /// takes out first). Each parameter at most once; every error names it.
    pub fn from_params(params: &[(String, String)], gk: KeyFn<'_>) -> Result<EventFilter, ParamError> {
        let mut f = EventFilter::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in params {
            if seen.contains(&name.as_str()) {
                return Err(ParamError::new(name, "is given more than once"));
            }
            seen.push(name);
            f.set(name, value, gk)?;
        }
        Ok(f)
    }

    fn set(&mut self, name: &str, value: &str, gk: KeyFn<'_>) -> Result<(), ParamError> {
        let list = || split(name, value);
        let ids = || -> Result<Option<Vec<IdMatch>>, ParamError> {
            Ok(Some(list()?.into_iter().map(|v| IdMatch::new(&v, gk)).collect()))
        };
        let time = || parse_time(name, value).map(Some);
        match name {
            "eventType" => {
                let v = list()?;
                if let Some(bad) = v
                    .iter()
                    .find(|t| !EVENT_TYPES.contains(&t.as_str()) && !t.contains(':'))
                {
                    return Err(ParamError::new(
                        name,
                        format!(
                            "{bad:?} is not an event type (one of {}, or an extension type's URI)",
                            EVENT_TYPES.join(", ")
                        ),
                    ));
                }
                self.event_types = Some(v);
            }
            "GE_eventTime" => self.event_time_ge = time()?,
            "LT_eventTime" => self.event_time_lt = time()?,
            "GE_recordTime" => self.record_time_ge = time()?,
            "LT_recordTime" => self.record_time_lt = time()?,
            "EQ_action" => {
                let mut a = Vec::new();
                for v in list()? {
                    a.push(match v.as_str() {
                        "ADD" => Action::Add,
                        "OBSERVE" => Action::Observe,
                        "DELETE" => Action::Delete,
                        _ => return Err(ParamError::new(name, format!("{v:?} is not ADD, OBSERVE or DELETE"))),
                    });
                }
                self.actions = Some(a);
            }
            "EQ_bizStep" => self.biz_steps = Some(list()?.iter().map(|v| biz_step_term(v).to_string()).collect()),
            "EQ_disposition" => {
                self.dispositions = Some(list()?.iter().map(|v| disposition_term(v).to_string()).collect())
            }
            "EQ_persistentDisposition_set" => {
                self.persistent_set = Some(list()?.iter().map(|v| disposition_term(v).to_string()).collect())
            }
            "EQ_persistentDisposition_unset" => {
                self.persistent_unset = Some(list()?.iter().map(|v| disposition_term(v).to_string()).collect())
            }
            "EQ_readPoint" => self.read_points = ids()?,
            "EQ_bizLocation" => self.biz_locations = ids()?,
            "EQ_transformationID" => self.transformation_ids = Some(list()?),
            "MATCH_epc" => self.epc = ids()?,
            "MATCH_parentID" => self.parent_id = ids()?,
            "MATCH_inputEPC" => self.input_epc = ids()?,
            "MATCH_outputEPC" => self.output_epc = ids()?,
            "MATCH_anyEPC" => self.any_epc = ids()?,
            "MATCH_epcClass" => self.epc_class = ids()?,
            "MATCH_inputEPCClass" => self.input_epc_class = ids()?,
            "MATCH_outputEPCClass" => self.output_epc_class = ids()?,
            "MATCH_anyEPCClass" => self.any_epc_class = ids()?,
            "EQ_eventID" => self.event_ids = Some(list()?),
            "EXISTS_errorDeclaration" => {
                self.error_declaration_exists = match value {
                    "true" | "" => true,
                    "false" => false,
                    _ => return Err(ParamError::new(name, format!("{value:?} is not true or false"))),
                }
            }
            "GE_errorDeclarationTime" => self.error_declaration_time_ge = time()?,
            "LT_errorDeclarationTime" => self.error_declaration_time_lt = time()?,
            "EQ_correctiveEventID" => self.corrective_event_ids = Some(list()?),
            "orderBy" => {
                if value != "recordTime" {
                    return Err(ParamError::unsupported(
                        name,
                        "results come in record order (recordTime ascending) only: orderBy=recordTime with orderDirection=ASC",
                    ));
                }
            }
            "orderDirection" => {
                if value != "ASC" {
                    return Err(ParamError::unsupported(
                        name,
                        "results come in record order (recordTime ascending) only: orderDirection=ASC",
                    ));
                }
            }
            _ => return Err(unknown_or_unsupported(name)),
        }
        Ok(())
    }
}

/// Why a parameter this filter does not take is refused.
fn unknown_or_unsupported(name: &str) -> ParamError {
    const WITHHELD: &[&str] = &[
        "EQ_bizTransaction_",
        "EQ_source_",
        "EQ_destination_",
        "EQ_errorReason",
        "EQ_INNER_ILMD_",
        "EQ_ILMD_",
        "EXISTS_ILMD_",
        "GT_ILMD_",
        "GE_ILMD_",
        "LT_ILMD_",
        "LE_ILMD_",
    ];
    const NOT_EVALUATED: &[(&str, &str)] = &[
        (
            "WD_readPoint",
            "needs location master data (hierarchies), which this ledger does not keep",
        ),
        (
            "WD_bizLocation",
            "needs location master data (hierarchies), which this ledger does not keep",
        ),
        ("EQ_quantity", "quantity comparisons are not evaluated"),
        ("GT_quantity", "quantity comparisons are not evaluated"),
        ("GE_quantity", "quantity comparisons are not evaluated"),
        ("LT_quantity", "quantity comparisons are not evaluated"),
        ("LE_quantity", "quantity comparisons are not evaluated"),
        ("eventCountLimit", "results are paged (perPage, nextPageToken) instead"),
        ("maxEventCount", "results are paged (perPage, nextPageToken) instead"),
        ("GE_startTime", "sensor data is not queried"),
        ("LT_startTime", "sensor data is not queried"),
        ("GE_endTime", "sensor data is not queried"),
        ("LT_endTime", "sensor data is not queried"),
        ("EQ_type", "sensor data is not queried"),
        ("EQ_deviceID", "sensor data is not queried"),
        ("EQ_dataProcessingMethod", "sensor data is not queried"),
        ("EQ_microorganism", "sensor data is not queried"),
        ("EQ_chemicalSubstance", "sensor data is not queried"),
        ("EQ_bizRules", "sensor data is not queried"),
        ("EQ_stringValue", "sensor data is not queried"),
        ("EQ_hexBinaryValue", "sensor data is not queried"),
        ("EQ_uriValue", "sensor data is not queried"),
        ("EQ_booleanValue", "sensor data is not queried"),
    ];
    if WITHHELD.iter().any(|p| name.starts_with(p)) {
        return ParamError::unsupported(
            name,
            "filters on commercial fields (business transactions, parties, ILMD, an error declaration's reason) are refused: \
             the public view withholds those fields, and a filter on them would reveal them",
        );
    }
    if let Some((_, why)) = NOT_EVALUATED.iter().find(|(n, _)| *n == name) {
        return ParamError::unsupported(name, format!("is not supported by this node: {why}"));
    }
    for prefix in [
        "EQ_", "GT_", "GE_", "LT_", "LE_", "EXISTS_", "HASATTR_", "EQATTR_", "MATCH_", "WD_",
    ] {
        if name.starts_with(prefix) {
            return ParamError::unsupported(
                name,
                "is not supported by this node (extension and sensor fields are not queried; extension members are \
                 withheld from the public view)",
            );
        }
    }
    ParamError::new(name, "is not a query parameter of this endpoint")
}

/// A pipe-delimited list (bounded, no empty entries).
fn split(name: &str, value: &str) -> Result<Vec<String>, ParamError> {
    if value.is_empty() {
        return Err(ParamError::new(name, "is empty"));
    }
    let v: Vec<String> = value.split('|').map(str::to_string).collect();
    if v.len() > MAX_VALUES {
        return Err(ParamError::new(
            name,
            format!("has {} values, above the limit of {MAX_VALUES}", v.len()),
        ));
    }
    for x in &v {
        if x.is_empty() {
            return Err(ParamError::new(name, "has an empty value between '|'"));
        }
        if x.len() > MAX_VALUE_BYTES {
            return Err(ParamError::new(
                name,
                format!("has a value of {} bytes, above the limit of {MAX_VALUE_BYTES}", x.len()),
            ));
        }
    }
    Ok(v)
}

/// An RFC 3339 time. A '+' of the offset that arrived unencoded in a query string reads as a
/// space; it is taken back as '+'.
fn parse_time(name: &str, value: &str) -> Result<i64, ParamError> {
    let fixed;
    let v = if value.len() > 19 && value.get(19..).is_some_and(|t| t.contains(' ')) {
        fixed = value.replace(' ', "+");
        fixed.as_str()
    } else {
        value
    };
    time::parse_ms(v).map_err(|e| ParamError::new(name, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tradechain_ledger::payload::ErrorDeclaration;

    fn gk(s: &str) -> Option<String> {
        tradechain_ledger::gs1::goods_key(s).ok()
    }

    fn params(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    fn ev() -> ProvenanceEvent {
        let mut e = ProvenanceEvent::new(tradechain_ledger::payload::EventType::ObjectEvent);
        e.event_time_ms = 1_000;
        e.action = Some(Action::Observe);
        e.biz_step = Some("urn:epcglobal:cbv:bizstep:shipping".into());
        e.disposition = Some("in_transit".into());
        e.epc_list = vec!["urn:epc:id:sgtin:0614141.107346.2017".into()];
        e.read_point = Some("urn:epc:id:sgln:0614141.07346.1234".into());
        e.extensions.insert(
            "persistentDisposition".into(),
            r#"{"set":["completeness_verified"],"unset":["completeness_inferred"]}"#.into(),
        );
        e
    }

    #[test]
    fn each_criterion_matches_and_refuses() {
        let e = ev();
        let m = |p: &[(&str, &str)]| {
            EventFilter::from_params(&params(p), &gk)
                .unwrap()
                .matches(&e, 5_000, &gk)
        };
        assert!(m(&[]));
        assert!(m(&[("eventType", "AggregationEvent|ObjectEvent")]));
        assert!(!m(&[("eventType", "AggregationEvent")]));
        assert!(m(&[("EQ_bizStep", "shipping")]));
        assert!(m(&[("EQ_bizStep", "https://ref.gs1.org/cbv/BizStep-shipping")]));
        assert!(
            !m(&[("EQ_bizStep", "ex:shipping")]),
            "a custom value is not the standard one"
        );
        assert!(m(&[("EQ_disposition", "urn:epcglobal:cbv:disp:in_transit")]));
        assert!(m(&[("EQ_action", "OBSERVE")]));
        assert!(!m(&[("EQ_action", "ADD|DELETE")]));
        assert!(m(&[("GE_eventTime", "1970-01-01T00:00:01Z")]));
        assert!(!m(&[("LT_eventTime", "1970-01-01T00:00:01Z")]));
        assert!(m(&[("LT_eventTime", "1970-01-01T01:00:02 01:00")]), "'+' read as space");
        assert!(m(&[("GE_recordTime", "1970-01-01T00:00:05Z")]));
        assert!(!m(&[("LT_recordTime", "1970-01-01T00:00:05Z")]));
        // The same EPC as a Digital Link, and as a pattern.
        assert!(m(&[("MATCH_epc", "https://id.gs1.org/01/10614141073464/21/2017")]));
        assert!(m(&[("MATCH_anyEPC", "urn:epc:idpat:sgtin:0614141.107346.*")]));
        assert!(!m(&[("MATCH_epc", "urn:epc:idpat:sgtin:0614141.999999.*")]));
        assert!(!m(&[("MATCH_parentID", "urn:epc:id:sgtin:0614141.107346.2017")]));
        assert!(!m(&[("MATCH_epcClass", "urn:epc:idpat:sgtin:0614141.107346.*")]));
        assert!(m(&[("EQ_readPoint", "urn:epc:id:sgln:0614141.07346.1234")]));
        assert!(!m(&[("EQ_bizLocation", "urn:epc:id:sgln:0614141.07346.1234")]));
        assert!(m(&[("EQ_persistentDisposition_set", "completeness_verified")]));
        assert!(m(&[("EQ_persistentDisposition_unset", "completeness_inferred")]));
        assert!(!m(&[("EQ_persistentDisposition_set", "completeness_inferred")]));
        assert!(!m(&[("EXISTS_errorDeclaration", "true")]));
        assert!(m(&[("EXISTS_errorDeclaration", "false")]));
        let mut d = e.clone();
        d.error_declaration = Some(ErrorDeclaration {
            declaration_time_ms: 9_000,
            reason: Some("incorrect_data".into()),
            corrective_event_ids: vec!["urn:uuid:1".into()],
        });
        let md = |p: &[(&str, &str)]| {
            EventFilter::from_params(&params(p), &gk)
                .unwrap()
                .matches(&d, 5_000, &gk)
        };
        assert!(md(&[("EXISTS_errorDeclaration", "true")]));
        assert!(md(&[("EQ_correctiveEventID", "urn:uuid:1")]));
        assert!(!md(&[("GE_errorDeclarationTime", "1970-01-01T00:00:10Z")]));
    }

    #[test]
    fn bad_parameters_are_named() {
        let err = |p: &[(&str, &str)]| EventFilter::from_params(&params(p), &gk).unwrap_err();
        assert_eq!(err(&[("GE_eventTime", "yesterday")]).parameter, "GE_eventTime");
        assert_eq!(err(&[("EQ_action", "SHIP")]).parameter, "EQ_action");
        assert_eq!(err(&[("eventType", "ObjectEvnt")]).parameter, "eventType");
        assert_eq!(err(&[("EQ_bizStep", "a||b")]).parameter, "EQ_bizStep");
        assert_eq!(err(&[("colour", "red")]).parameter, "colour");
        assert!(!err(&[("colour", "red")]).unsupported);
        let w = err(&[("EQ_bizTransaction_po", "x")]);
        assert!(w.unsupported && w.detail.contains("commercial"), "{w:?}");
        assert!(err(&[("EQ_errorReason", "x")]).detail.contains("commercial"));
        assert!(err(&[("WD_readPoint", "x")]).unsupported);
        assert_eq!(
            err(&[("EQ_bizStep", "a"), ("EQ_bizStep", "b")]).detail,
            "is given more than once"
        );
        let many = vec!["x"; MAX_VALUES + 1].join("|");
        assert!(err(&[("EQ_eventID", many.as_str())]).detail.contains("limit"));
    }

    #[test]
    fn a_single_gs1_epc_selects_the_item_index() {
        let f =
            EventFilter::from_params(&params(&[("MATCH_epc", "urn:epc:id:sgtin:0614141.107346.2017")]), &gk).unwrap();
        assert_eq!(f.index_key(), gk("urn:epc:id:sgtin:0614141.107346.2017"));
        let f =
            EventFilter::from_params(&params(&[("MATCH_epc", "urn:epc:idpat:sgtin:0614141.107346.*")]), &gk).unwrap();
        assert_eq!(f.index_key(), None);
        let f = EventFilter::from_params(
            &params(&[(
                "MATCH_epc",
                "urn:epc:id:sgtin:0614141.107346.2017|urn:epc:id:sgtin:0614141.107346.2018",
            )]),
            &gk,
        )
        .unwrap();
        assert_eq!(f.index_key(), None);
    }
}
