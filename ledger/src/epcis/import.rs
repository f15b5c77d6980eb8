//! EPCIS 2.0 JSON-LD document → `ProvenanceEvent`s.
//!
//! Owns: reading an `EPCISDocument` (`epcisBody.eventList`) or an `EPCISQueryDocument`
//! (`epcisBody.queryResults.resultsBody.eventList`) and mapping each event member to its typed
//! field or, verbatim, to `extensions` (see the module contract in `epcis`).
//!
//! Invariants:
//! - All-or-nothing: one bad event refuses the whole document, with the event's index and the
//!   member path at fault (`event 3: field "eventTime": …`).
//! - Identifiers (EPCs, classes, parentID, locations, business transactions, parties) are kept
//!   exactly as given — GS1 Digital Link or EPC URN — and only normalised by `crate::gs1` when
//!   the ledger indexes them; the validators, not the import, decide whether a key is acceptable.
//! - Required: `type` (one of the five event types), `eventTime`, `eventTimeZoneOffset`, and
//!   `action` for every type but TransformationEvent (which has none). A member that is neither
//!   an EPCIS 2.0 event member nor namespaced (`prefix:name`, or a JSON-LD `@` keyword) is refused
//!   as unknown rather than kept: it is most likely a misspelling.
//! - Quantities must be JSON numbers; their text is kept as written.
use std::collections::BTreeSet;

use super::json::{self, Json};
use super::{
    EXT_BIZ_LOCATION, EXT_CONTEXT, EXT_CUSTOMS, EXT_ERROR_DECLARATION, EXT_READ_POINT, EXT_UNLOCODE, EpcisError,
    TRADECHAIN_NS, VERBATIM, time,
};
use crate::payload::{Action, CustomsStep, ErrorDeclaration, EventType, ProvenanceEvent, QuantityElement, TypedRef};

/// Parse a whole document into its events, in document order.
pub fn import_document(text: &str) -> Result<Vec<ProvenanceEvent>, EpcisError> {
    let doc = json::parse(text)?;
    let Json::Object(_) = &doc else {
        return Err(EpcisError::document(
            "$",
            format!("is {}, not a JSON object", doc.kind()),
        ));
    };
    let kind = match doc.get("type") {
        Some(Json::String(s)) if s == "EPCISDocument" || s == "EPCISQueryDocument" => s.as_str(),
        Some(other) => {
            return Err(EpcisError::document(
                "type",
                format!(
                    "must be \"EPCISDocument\" or \"EPCISQueryDocument\", got {}",
                    other.canonical()
                ),
            ));
        }
        None => return Err(EpcisError::document("type", "missing")),
    };
    if let Some(v) = doc.get("schemaVersion") {
        match v.as_str() {
            Some(s) if s == "2.0" || s.starts_with("2.0.") => {}
            _ => {
                return Err(EpcisError::document(
                    "schemaVersion",
                    format!("must be \"2.0\", got {}", v.canonical()),
                ));
            }
        }
    }
    let bindings = context_bindings(doc.get("@context")).map_err(|reason| EpcisError::document("@context", reason))?;
    let body = match doc.get("epcisBody") {
        Some(b @ Json::Object(_)) => b,
        Some(b) => {
            return Err(EpcisError::document(
                "epcisBody",
                format!("is {}, not an object", b.kind()),
            ));
        }
        None => return Err(EpcisError::document("epcisBody", "missing")),
    };
    let (path, list) = if kind == "EPCISQueryDocument" {
        let list = body
            .get("queryResults")
            .and_then(|q| q.get("resultsBody"))
            .and_then(|r| r.get("eventList"));
        ("epcisBody.queryResults.resultsBody.eventList", list)
    } else {
        ("epcisBody.eventList", body.get("eventList"))
    };
    let events = match list {
        Some(Json::Array(a)) => a,
        Some(other) => return Err(EpcisError::document(path, format!("is {}, not an array", other.kind()))),
        None => return Err(EpcisError::document(path, "missing")),
    };
    events
        .iter()
        .enumerate()
        .map(|(i, e)| import_event(i, e, &bindings))
        .collect()
}

/// The term definitions of a document's `@context` (its object entries; remote context URLs
/// such as the EPCIS one are left out). A later definition of a term replaces an earlier one.
fn context_bindings(ctx: Option<&Json>) -> Result<Vec<(String, Json)>, String> {
    let mut out: Vec<(String, Json)> = Vec::new();
    let mut add = |m: &[(String, Json)]| {
        for (k, v) in m {
            out.retain(|(x, _)| x != k);
            out.push((k.clone(), v.clone()));
        }
    };
    match ctx {
        None | Some(Json::String(_)) => {}
        Some(Json::Object(m)) => add(m),
        Some(Json::Array(a)) => {
            for (i, x) in a.iter().enumerate() {
                match x {
                    Json::String(_) => {}
                    Json::Object(m) => add(m),
                    other => return Err(format!("entry {i} is {}, not a context URL or object", other.kind())),
                }
            }
        }
        Some(other) => return Err(format!("is {}, not a context URL, object or array", other.kind())),
    }
    Ok(out)
}

/// Full names and prefixes (`ext1` of `ext1:x`) of every member name anywhere in `v` (an
/// event's own `@context` member excluded): the terms whose definitions the event needs.
pub(crate) fn used_terms(v: &Json, out: &mut BTreeSet<String>) {
    match v {
        Json::Array(a) => a.iter().for_each(|x| used_terms(x, out)),
        Json::Object(m) => {
            for (k, x) in m {
                if k == EXT_CONTEXT {
                    continue;
                }
                if let Some((p, _)) = k.split_once(':') {
                    out.insert(p.to_string());
                }
                out.insert(k.clone());
                used_terms(x, out);
            }
        }
        _ => {}
    }
}

struct Ctx {
    index: usize,
}

impl Ctx {
    fn err(&self, field: impl Into<String>, reason: impl Into<String>) -> EpcisError {
        EpcisError::event(self.index, field, reason)
    }

    fn string(&self, field: &str, v: &Json) -> Result<String, EpcisError> {
        match v {
            Json::String(s) if s.is_empty() => Err(self.err(field, "is empty")),
            Json::String(s) => Ok(s.clone()),
            other => Err(self.err(field, format!("is {}, not a string", other.kind()))),
        }
    }

    fn strings(&self, field: &str, v: &Json) -> Result<Vec<String>, EpcisError> {
        let Json::Array(a) = v else {
            return Err(self.err(field, format!("is {}, not an array", v.kind())));
        };
        a.iter()
            .enumerate()
            .map(|(i, x)| self.string(&format!("{field}[{i}]"), x))
            .collect()
    }

    fn quantities(&self, field: &str, v: &Json) -> Result<Vec<QuantityElement>, EpcisError> {
        let Json::Array(a) = v else {
            return Err(self.err(field, format!("is {}, not an array", v.kind())));
        };
        let mut out = Vec::with_capacity(a.len());
        for (i, q) in a.iter().enumerate() {
            let path = format!("{field}[{i}]");
            let Json::Object(m) = q else {
                return Err(self.err(path, format!("is {}, not a quantity element object", q.kind())));
            };
            let mut e = QuantityElement {
                epc_class: String::new(),
                quantity: None,
                uom: None,
            };
            for (k, x) in m {
                match k.as_str() {
                    "epcClass" => e.epc_class = self.string(&format!("{path}.epcClass"), x)?,
                    "quantity" => match x {
                        Json::Number(n) => e.quantity = Some(n.clone()),
                        other => {
                            return Err(
                                self.err(format!("{path}.quantity"), format!("is {}, not a number", other.kind()))
                            );
                        }
                    },
                    "uom" => e.uom = Some(self.string(&format!("{path}.uom"), x)?),
                    other => {
                        return Err(self.err(
                            format!("{path}.{other}"),
                            "a quantity element has only epcClass, quantity and uom",
                        ));
                    }
                }
            }
            if e.epc_class.is_empty() {
                return Err(self.err(format!("{path}.epcClass"), "missing"));
            }
            out.push(e);
        }
        Ok(out)
    }

    /// `bizTransactionList` / `sourceList` / `destinationList`: `{type?, <id_member>}` items.
    fn typed_refs(&self, field: &str, id_member: &str, v: &Json) -> Result<Vec<TypedRef>, EpcisError> {
        let Json::Array(a) = v else {
            return Err(self.err(field, format!("is {}, not an array", v.kind())));
        };
        let mut out = Vec::with_capacity(a.len());
        for (i, item) in a.iter().enumerate() {
            let path = format!("{field}[{i}]");
            let Json::Object(m) = item else {
                return Err(self.err(path, format!("is {}, not an object", item.kind())));
            };
            let mut kind = None;
            let mut id = None;
            for (k, x) in m {
                if k == "type" {
                    kind = Some(self.string(&format!("{path}.type"), x)?);
                } else if k == id_member {
                    id = Some(self.string(&format!("{path}.{k}"), x)?);
                } else {
                    return Err(self.err(format!("{path}.{k}"), format!("an entry has only type and {id_member}")));
                }
            }
            let Some(id) = id else {
                return Err(self.err(format!("{path}.{id_member}"), "missing"));
            };
            out.push(TypedRef { kind, id });
        }
        Ok(out)
    }

    fn time(&self, field: &str, v: &Json) -> Result<i64, EpcisError> {
        let s = self.string(field, v)?;
        time::parse_ms(&s).map_err(|why| self.err(field, why))
    }

    /// `readPoint` / `bizLocation`: `id`, and the other members for `extensions`.
    fn location(&self, field: &str, v: &Json) -> Result<(String, Option<Json>), EpcisError> {
        let Json::Object(m) = v else {
            return Err(self.err(field, format!("is {}, not an object with an id", v.kind())));
        };
        let mut id = None;
        let mut rest = Vec::new();
        for (k, x) in m {
            if k == "id" {
                id = Some(self.string(&format!("{field}.id"), x)?);
            } else {
                rest.push((k.clone(), x.clone()));
            }
        }
        let id = id.ok_or_else(|| self.err(format!("{field}.id"), "missing"))?;
        Ok((id, (!rest.is_empty()).then_some(Json::Object(rest))))
    }

    fn error_declaration(&self, v: &Json) -> Result<(ErrorDeclaration, Option<Json>), EpcisError> {
        let field = "errorDeclaration";
        let Json::Object(m) = v else {
            return Err(self.err(field, format!("is {}, not an object", v.kind())));
        };
        let mut time = None;
        let mut d = ErrorDeclaration {
            declaration_time_ms: 0,
            reason: None,
            corrective_event_ids: Vec::new(),
        };
        let mut rest = Vec::new();
        for (k, x) in m {
            match k.as_str() {
                "declarationTime" => time = Some(self.time("errorDeclaration.declarationTime", x)?),
                "reason" => d.reason = Some(self.string("errorDeclaration.reason", x)?),
                "correctiveEventIDs" => {
                    d.corrective_event_ids = self.strings("errorDeclaration.correctiveEventIDs", x)?
                }
                _ => rest.push((k.clone(), x.clone())),
            }
        }
        d.declaration_time_ms = time.ok_or_else(|| self.err("errorDeclaration.declarationTime", "missing"))?;
        Ok((d, (!rest.is_empty()).then_some(Json::Object(rest))))
    }
}

fn event_type(s: &str) -> Option<EventType> {
    Some(match s {
        "ObjectEvent" => EventType::ObjectEvent,
        "AggregationEvent" => EventType::AggregationEvent,
        "TransformationEvent" => EventType::TransformationEvent,
        "TransactionEvent" => EventType::TransactionEvent,
        "AssociationEvent" => EventType::AssociationEvent,
        _ => return None,
    })
}

/// Map event `index` of a document whose `@context` defines `bindings`.
pub fn import_event(index: usize, v: &Json, bindings: &[(String, Json)]) -> Result<ProvenanceEvent, EpcisError> {
    let c = Ctx { index };
    let Json::Object(members) = v else {
        return Err(c.err("$", format!("is {}, not an event object", v.kind())));
    };
    let mut ev = ProvenanceEvent::new(EventType::ObjectEvent);
    let (mut kind, mut when, mut offset) = (None, None, None);
    let mut own_context: Vec<(String, Json)> = Vec::new();
    for (k, x) in members {
        let k = k.as_str();
        match k {
            "type" => {
                let s = c.string(k, x)?;
                kind = Some(event_type(&s).ok_or_else(|| {
                    c.err(
                        k,
                        format!(
                            "{s:?} is not an EPCIS 2.0 event type (ObjectEvent, AggregationEvent, TransformationEvent, TransactionEvent, AssociationEvent)"
                        ),
                    )
                })?);
            }
            "eventID" => ev.event_id = Some(c.string(k, x)?),
            "eventTime" => when = Some(c.time(k, x)?),
            "eventTimeZoneOffset" => {
                let s = c.string(k, x)?;
                offset = Some(time::parse_offset(&s).map_err(|why| c.err(k, why))?);
            }
            "action" => {
                ev.action = Some(match c.string(k, x)?.as_str() {
                    "ADD" => Action::Add,
                    "OBSERVE" => Action::Observe,
                    "DELETE" => Action::Delete,
                    other => return Err(c.err(k, format!("{other:?} is not ADD, OBSERVE or DELETE"))),
                });
            }
            "epcList" => ev.epc_list = c.strings(k, x)?,
            "quantityList" => ev.quantity_list = c.quantities(k, x)?,
            "parentID" => ev.parent_id = Some(c.string(k, x)?),
            "childEPCs" => ev.child_epcs = c.strings(k, x)?,
            "childQuantityList" => ev.child_quantity_list = c.quantities(k, x)?,
            "inputEPCList" => ev.input_epc_list = c.strings(k, x)?,
            "inputQuantityList" => ev.input_quantity_list = c.quantities(k, x)?,
            "outputEPCList" => ev.output_epc_list = c.strings(k, x)?,
            "outputQuantityList" => ev.output_quantity_list = c.quantities(k, x)?,
            "transformationID" => ev.transformation_id = Some(c.string(k, x)?),
            "bizStep" => ev.biz_step = Some(c.string(k, x)?),
            "disposition" => ev.disposition = Some(c.string(k, x)?),
            "readPoint" | "bizLocation" => {
                let (id, rest) = c.location(k, x)?;
                if k == "readPoint" {
                    ev.read_point = Some(id);
                } else {
                    ev.biz_location = Some(id);
                }
                if let Some(rest) = rest {
                    let key = if k == "readPoint" {
                        EXT_READ_POINT
                    } else {
                        EXT_BIZ_LOCATION
                    };
                    ev.extensions.insert(key.to_string(), rest.canonical());
                }
            }
            "bizTransactionList" => ev.biz_transaction_list = c.typed_refs(k, "bizTransaction", x)?,
            "sourceList" => ev.source_list = c.typed_refs(k, "source", x)?,
            "destinationList" => ev.destination_list = c.typed_refs(k, "destination", x)?,
            "errorDeclaration" => {
                let (d, rest) = c.error_declaration(x)?;
                ev.error_declaration = Some(d);
                if let Some(rest) = rest {
                    ev.extensions
                        .insert(EXT_ERROR_DECLARATION.to_string(), rest.canonical());
                }
            }
            "recordTime" => {
                c.time(k, x)?;
                ev.extensions.insert(k.to_string(), x.canonical());
            }
            "ilmd" | "persistentDisposition" if !matches!(x, Json::Object(_)) => {
                return Err(c.err(k, format!("is {}, not an object", x.kind())));
            }
            "sensorElementList" if !matches!(x, Json::Array(_)) => {
                return Err(c.err(k, format!("is {}, not an array", x.kind())));
            }
            _ if VERBATIM.contains(&k) => {
                ev.extensions.insert(k.to_string(), x.canonical());
            }
            EXT_CONTEXT => match x {
                Json::Object(m) => own_context = m.clone(),
                other => {
                    return Err(c.err(
                        k,
                        format!(
                            "is {}; an event's own @context must be an object of term definitions",
                            other.kind()
                        ),
                    ));
                }
            },
            EXT_UNLOCODE => ev.unlocode = Some(c.string(k, x)?),
            EXT_CUSTOMS => {
                let step: CustomsStep =
                    serde_json::from_str(&x.canonical()).map_err(|e| c.err(k, format!("not a customs step: {e}")))?;
                ev.customs = Some(step);
            }
            _ if k.contains(':') || k.starts_with('@') => {
                ev.extensions.insert(k.to_string(), x.canonical());
            }
            _ => {
                return Err(c.err(
                    k,
                    "is not an EPCIS 2.0 event member; an extension member needs a namespace prefix (e.g. example:myField)",
                ));
            }
        }
    }
    ev.event_type = kind.ok_or_else(|| c.err("type", "missing"))?;
    ev.event_time_ms = when.ok_or_else(|| c.err("eventTime", "missing"))?;
    ev.event_time_zone_offset_min = offset.ok_or_else(|| c.err("eventTimeZoneOffset", "missing"))?;
    match (ev.event_type, ev.action) {
        (EventType::TransformationEvent, Some(_)) => {
            return Err(c.err("action", "a TransformationEvent has no action"));
        }
        (EventType::TransformationEvent, None) | (_, Some(_)) => {}
        (t, None) => return Err(c.err("action", format!("missing (required for {t:?})"))),
    }
    // Term definitions the event relies on: the document's, overridden by the event's own.
    let mut used = BTreeSet::new();
    used_terms(v, &mut used);
    let mut defs: Vec<(String, Json)> = bindings
        .iter()
        .filter(|(k, _)| !own_context.iter().any(|(o, _)| o == k))
        .cloned()
        .collect();
    defs.extend(own_context);
    // tradechain's own namespace is implied by `tradechain:` members; an export declares it.
    defs.retain(|(k, d)| used.contains(k) && !(k == "tradechain" && d.as_str() == Some(TRADECHAIN_NS)));
    if !defs.is_empty() {
        ev.extensions
            .insert(EXT_CONTEXT.to_string(), Json::Object(defs).canonical());
    }
    Ok(ev)
}
