//! `ProvenanceEvent`s → an EPCIS 2.0 JSON-LD `EPCISDocument`, and the public view of an event.
//!
//! Owns: rendering each typed field as its EPCIS member, putting back the members kept in
//! `extensions` (verbatim values; extra members of readPoint/bizLocation/errorDeclaration merged
//! into those objects), and the document's `@context` (the EPCIS context, tradechain's namespace
//! when an event uses it, and the events' term definitions).
//!
//! Invariants:
//! - `import_event(export_event(e)) == e` for every event `import` produced (see `epcis`).
//! - Times are rendered canonically (`time::render_ms`: UTC, milliseconds); the creation date
//!   is the caller's (no clock here).
//! - A term defined differently by two events is not merged into the document's `@context`;
//!   each such event declares it in its own `@context`.
//! - `public_view` keeps only what the node's public provenance view shows (see its doc); it
//!   never adds anything.
use super::json::{self, Json};
use super::{
    EPCIS_CONTEXT, EXT_BIZ_LOCATION, EXT_CONTEXT, EXT_CUSTOMS, EXT_CUSTOMS_STEP, EXT_ERROR_DECLARATION, EXT_READ_POINT,
    EXT_UNLOCODE, EpcisError, TRADECHAIN_NS, time,
};
use crate::payload::{Action, CustomsStep, EventType, ProvenanceEvent, QuantityElement, TypedRef};

/// How to write a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportOptions {
    /// `creationDate`, Unix ms.
    pub creation_date_ms: i64,
}

/// Extension members the public view keeps: standard EPCIS data about the goods' condition and
/// certification, which carry no parties or prices. (`@context` only defines terms.)
pub const PUBLIC_EXTENSIONS: &[&str] = &[
    "recordTime",
    "certificationInfo",
    "sensorElementList",
    "persistentDisposition",
    EXT_CONTEXT,
];

/// The business transaction a public TransactionEvent names in place of the withheld ones.
pub const WITHHELD_BIZ_TRANSACTION: &str = "urn:tradechain:withheld:bizTransaction";

/// What an event shows to the public (the same filter as the node's `GetProvenance`):
/// withheld are `bizTransactionList` (a TransactionEvent names `WITHHELD_BIZ_TRANSACTION` instead), `sourceList`, `destinationList` (business documents and
/// parties), a customs step's details (declarant, HS code, certificate, waybill, remarks, hold
/// reason — only the step's name is kept, as `tradechain:customsStep`), `ilmd`, the extra
/// members of readPoint/bizLocation/errorDeclaration and every namespaced extension member
/// (free-form, so possibly commercial), and an error declaration's reason. Kept: what, when, where,
/// why, the error declaration's time and corrective events,
/// and `PUBLIC_EXTENSIONS`.
pub fn public_view(ev: &ProvenanceEvent) -> ProvenanceEvent {
    let mut p = ev.clone();
    p.biz_transaction_list.clear();
    // EPCIS requires a TransactionEvent to name at least one business transaction (GS1's JSON
    // Schema: `bizTransactionList`, minItems 1): the public view says one exists and is withheld,
    // neither how many nor of which type.
    if p.event_type == EventType::TransactionEvent && !ev.biz_transaction_list.is_empty() {
        p.biz_transaction_list.push(TypedRef {
            kind: None,
            id: WITHHELD_BIZ_TRANSACTION.to_string(),
        });
    }
    p.source_list.clear();
    p.destination_list.clear();
    p.extensions.retain(|k, _| PUBLIC_EXTENSIONS.contains(&k.as_str()));
    // An error declaration's reason may name a commercial cause (`event_fields`: errorReason).
    if let Some(d) = p.error_declaration.as_mut() {
        d.reason = None;
    }
    if let Some(step) = p.customs.take() {
        if step == CustomsStep::Released {
            p.customs = Some(step);
        } else {
            p.extensions.insert(
                EXT_CUSTOMS_STEP.to_string(),
                Json::String(step.public_name()).canonical(),
            );
        }
    }
    // Keep only the term definitions the remaining members still use (as an import would).
    if let Some(defs) = p.extensions.get(EXT_CONTEXT).map(|t| json::parse(t))
        && let Ok((shown, _)) = export_event(0, &p)
    {
        let mut used = std::collections::BTreeSet::new();
        super::import::used_terms(&shown, &mut used);
        match defs {
            Ok(Json::Object(mut m)) => {
                m.retain(|(k, _)| used.contains(k));
                if m.is_empty() {
                    p.extensions.remove(EXT_CONTEXT);
                } else {
                    p.extensions
                        .insert(EXT_CONTEXT.to_string(), Json::Object(m).canonical());
                }
            }
            _ => {
                p.extensions.remove(EXT_CONTEXT);
            }
        }
    }
    p
}

fn s(v: &str) -> Json {
    Json::String(v.to_string())
}

fn strings(v: &[String]) -> Json {
    Json::Array(v.iter().map(|x| s(x)).collect())
}

fn quantities(v: &[QuantityElement]) -> Json {
    Json::Array(
        v.iter()
            .map(|q| {
                let mut m = vec![("epcClass".to_string(), s(&q.epc_class))];
                if let Some(n) = &q.quantity {
                    m.push(("quantity".into(), Json::Number(n.clone())));
                }
                if let Some(u) = &q.uom {
                    m.push(("uom".into(), s(u)));
                }
                Json::Object(m)
            })
            .collect(),
    )
}

/// A CBV standard value as EPCIS 2.0 JSON writes it: the bare term. The ledger keeps what was
/// signed, which may be the CBV 1.x URN (`urn:epcglobal:cbv:bizstep:shipping`) or the GS1 Web
/// URI (`https://ref.gs1.org/cbv/BizStep-shipping`); GS1's JSON Schema accepts neither for a
/// standard value. `vocab` is the URN's vocabulary (`bizstep`) and `web` the Web URI's prefix
/// (`BizStep-`). Anything else (a user vocabulary URI) is written as it is.
pub fn cbv_term<'a>(v: &'a str, vocab: &str, web: &str) -> &'a str {
    v.strip_prefix("urn:epcglobal:cbv:")
        .and_then(|r| r.strip_prefix(vocab))
        .and_then(|r| r.strip_prefix(':'))
        .or_else(|| {
            v.strip_prefix("https://ref.gs1.org/cbv/")
                .and_then(|r| r.strip_prefix(web))
        })
        .filter(|t| !t.is_empty())
        .unwrap_or(v)
}

/// A bizStep's bare CBV term (`cbv_term`), for the export and for every EPCIS query filter.
pub fn biz_step_term(v: &str) -> &str {
    cbv_term(v, "bizstep", "BizStep-")
}

/// A disposition's bare CBV term (`cbv_term`).
pub fn disposition_term(v: &str) -> &str {
    cbv_term(v, "disp", "Disp-")
}

/// `cbv_term` for a business transaction type (`btt`) or source/destination type (`sdt`).
fn typed_kind<'a>(k: &'a str, id_member: &str) -> &'a str {
    match id_member {
        "bizTransaction" => cbv_term(k, "btt", "BTT-"),
        _ => cbv_term(k, "sdt", "SDT-"),
    }
}

fn typed_refs(v: &[TypedRef], id_member: &str) -> Json {
    Json::Array(
        v.iter()
            .map(|r| {
                let mut m = Vec::new();
                if let Some(k) = &r.kind {
                    m.push(("type".to_string(), s(typed_kind(k, id_member))));
                }
                m.push((id_member.to_string(), s(&r.id)));
                Json::Object(m)
            })
            .collect(),
    )
}

pub fn event_type_name(t: EventType) -> &'static str {
    match t {
        EventType::ObjectEvent => "ObjectEvent",
        EventType::AggregationEvent => "AggregationEvent",
        EventType::TransformationEvent => "TransformationEvent",
        EventType::TransactionEvent => "TransactionEvent",
        EventType::AssociationEvent => "AssociationEvent",
    }
}

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Add => "ADD",
        Action::Observe => "OBSERVE",
        Action::Delete => "DELETE",
    }
}

/// One event as an EPCIS event object, and the term definitions it needs (its `@context`
/// extension) for the caller to declare. `index` is only used in errors.
pub fn export_event(index: usize, ev: &ProvenanceEvent) -> Result<(Json, Vec<(String, Json)>), EpcisError> {
    let err = |field: &str, reason: &str| EpcisError::event(index, field, reason);
    let kept = |key: &str| -> Result<Option<Json>, EpcisError> {
        match ev.extensions.get(key) {
            None => Ok(None),
            Some(text) => json::parse(text)
                .map(Some)
                .map_err(|e| err(key, &format!("the kept value is not JSON: {e}"))),
        }
    };
    let extra_members = |key: &str| -> Result<Vec<(String, Json)>, EpcisError> {
        match kept(key)? {
            None => Ok(Vec::new()),
            Some(Json::Object(m)) => Ok(m),
            Some(_) => Err(err(key, "the kept extra members are not a JSON object")),
        }
    };
    let time = |field: &str, ms: i64| {
        time::render_ms(ms).ok_or_else(|| err(field, &format!("{ms} ms is outside the years 0000-9999")))
    };
    let mut m: Vec<(String, Json)> = Vec::new();
    let mut put = |k: &str, v: Json| m.push((k.to_string(), v));
    put("type", s(event_type_name(ev.event_type)));
    put("eventTime", s(&time("eventTime", ev.event_time_ms)?));
    if let Some(v) = kept("recordTime")? {
        put("recordTime", v);
    }
    let offset = time::render_offset(ev.event_time_zone_offset_min)
        .ok_or_else(|| err("eventTimeZoneOffset", "outside -14:00..+14:00"))?;
    put("eventTimeZoneOffset", s(&offset));
    if let Some(id) = &ev.event_id {
        put("eventID", s(id));
    }
    if let Some(d) = &ev.error_declaration {
        let mut dm = vec![(
            "declarationTime".to_string(),
            s(&time("errorDeclaration.declarationTime", d.declaration_time_ms)?),
        )];
        if let Some(r) = &d.reason {
            dm.push(("reason".into(), s(cbv_term(r, "er", "ER-"))));
        }
        if !d.corrective_event_ids.is_empty() {
            dm.push(("correctiveEventIDs".into(), strings(&d.corrective_event_ids)));
        }
        dm.extend(extra_members(EXT_ERROR_DECLARATION)?);
        put("errorDeclaration", Json::Object(dm));
    } else if ev.extensions.contains_key(EXT_ERROR_DECLARATION) {
        return Err(err(
            EXT_ERROR_DECLARATION,
            "extra members kept for an errorDeclaration the event lacks",
        ));
    }
    if let Some(v) = kept("certificationInfo")? {
        put("certificationInfo", v);
    }
    if let Some(p) = &ev.parent_id {
        put("parentID", s(p));
    }
    let lists: [(&str, &Vec<String>); 4] = [
        ("epcList", &ev.epc_list),
        ("childEPCs", &ev.child_epcs),
        ("inputEPCList", &ev.input_epc_list),
        ("outputEPCList", &ev.output_epc_list),
    ];
    for (k, v) in lists {
        if !v.is_empty() {
            put(k, strings(v));
        }
    }
    let qlists: [(&str, &Vec<QuantityElement>); 4] = [
        ("quantityList", &ev.quantity_list),
        ("childQuantityList", &ev.child_quantity_list),
        ("inputQuantityList", &ev.input_quantity_list),
        ("outputQuantityList", &ev.output_quantity_list),
    ];
    for (k, v) in qlists {
        if !v.is_empty() {
            put(k, quantities(v));
        }
    }
    if let Some(t) = &ev.transformation_id {
        put("transformationID", s(t));
    }
    if let Some(a) = ev.action {
        put("action", s(action_name(a)));
    }
    if let Some(b) = &ev.biz_step {
        put("bizStep", s(biz_step_term(b)));
    }
    if let Some(d) = &ev.disposition {
        put("disposition", s(disposition_term(d)));
    }
    if let Some(v) = kept("persistentDisposition")? {
        put("persistentDisposition", v);
    }
    for (k, id) in [(EXT_READ_POINT, &ev.read_point), (EXT_BIZ_LOCATION, &ev.biz_location)] {
        match id {
            Some(id) => {
                let mut lm = vec![("id".to_string(), s(id))];
                lm.extend(extra_members(k)?);
                put(k, Json::Object(lm));
            }
            None if ev.extensions.contains_key(k) => {
                return Err(err(k, "extra members kept for a location the event lacks"));
            }
            None => {}
        }
    }
    if !ev.biz_transaction_list.is_empty() {
        put(
            "bizTransactionList",
            typed_refs(&ev.biz_transaction_list, "bizTransaction"),
        );
    }
    if !ev.source_list.is_empty() {
        put("sourceList", typed_refs(&ev.source_list, "source"));
    }
    if !ev.destination_list.is_empty() {
        put("destinationList", typed_refs(&ev.destination_list, "destination"));
    }
    for k in ["sensorElementList", "ilmd"] {
        if let Some(v) = kept(k)? {
            put(k, v);
        }
    }
    if let Some(u) = &ev.unlocode {
        put(EXT_UNLOCODE, s(u));
    }
    if let Some(c) = &ev.customs {
        let text = serde_json::to_string(c).map_err(|e| err(EXT_CUSTOMS, &e.to_string()))?;
        let v = json::parse(&text).map_err(|e| err(EXT_CUSTOMS, &e.to_string()))?;
        put(EXT_CUSTOMS, v);
    }
    let placed = [
        "recordTime",
        "certificationInfo",
        "persistentDisposition",
        "sensorElementList",
        "ilmd",
        EXT_READ_POINT,
        EXT_BIZ_LOCATION,
        EXT_ERROR_DECLARATION,
        EXT_CONTEXT,
    ];
    for k in ev.extensions.keys() {
        if placed.contains(&k.as_str()) {
            continue;
        }
        if matches!(k.as_str(), EXT_UNLOCODE | EXT_CUSTOMS) {
            return Err(err(k, "is both a typed field and an extension"));
        }
        if let Some(v) = kept(k)? {
            put(k, v);
        }
    }
    let defs = match kept(EXT_CONTEXT)? {
        None => Vec::new(),
        Some(Json::Object(d)) => d,
        Some(_) => return Err(err(EXT_CONTEXT, "the kept term definitions are not a JSON object")),
    };
    Ok((Json::Object(m), defs))
}

/// A complete `EPCISDocument` holding `events` in order, as indented JSON text.
pub fn export_document(events: &[ProvenanceEvent], opts: &ExportOptions) -> Result<String, EpcisError> {
    let (context, created, objects) = document_parts(events, opts)?;
    let doc = Json::Object(vec![
        ("@context".into(), context),
        ("type".into(), s("EPCISDocument")),
        ("schemaVersion".into(), s("2.0")),
        ("creationDate".into(), s(&created)),
        (
            "epcisBody".into(),
            Json::Object(vec![("eventList".into(), Json::Array(objects))]),
        ),
    ]);
    Ok(doc.pretty())
}

/// An `EPCISQueryDocument` (the answer to an EPCIS query, as the REST binding returns it) holding
/// `events` in order: `epcisBody.queryResults` with `query_name` and `resultsBody.eventList`;
/// the `@context` and the events exactly as `export_document` writes them.
pub fn export_query_document(
    events: &[ProvenanceEvent],
    opts: &ExportOptions,
    query_name: &str,
) -> Result<String, EpcisError> {
    let (context, created, objects) = document_parts(events, opts)?;
    let results = Json::Object(vec![
        ("queryName".into(), s(query_name)),
        (
            "resultsBody".into(),
            Json::Object(vec![("eventList".into(), Json::Array(objects))]),
        ),
    ]);
    let doc = Json::Object(vec![
        ("@context".into(), context),
        ("type".into(), s("EPCISQueryDocument")),
        ("schemaVersion".into(), s("2.0")),
        ("creationDate".into(), s(&created)),
        ("epcisBody".into(), Json::Object(vec![("queryResults".into(), results)])),
    ]);
    Ok(doc.pretty())
}

/// A document's `@context`, creation date and event objects (shared by both document shapes).
fn document_parts(events: &[ProvenanceEvent], opts: &ExportOptions) -> Result<(Json, String, Vec<Json>), EpcisError> {
    let mut objects = Vec::with_capacity(events.len());
    let mut all_defs = Vec::with_capacity(events.len());
    for (i, ev) in events.iter().enumerate() {
        let (o, defs) = export_event(i, ev)?;
        objects.push(o);
        all_defs.push(defs);
    }
    // Document-level definitions: every term all events agree on.
    let mut merged: Vec<(String, Json)> = Vec::new();
    let mut conflicted: Vec<String> = Vec::new();
    for (k, v) in all_defs.iter().flatten() {
        match merged.iter().find(|(x, _)| x == k) {
            None => merged.push((k.clone(), v.clone())),
            Some((_, w)) if w == v => {}
            Some(_) => conflicted.push(k.clone()),
        }
    }
    merged.retain(|(k, _)| !conflicted.contains(k));
    for (o, defs) in objects.iter_mut().zip(&all_defs) {
        let own: Vec<(String, Json)> = defs.iter().filter(|(k, _)| conflicted.contains(k)).cloned().collect();
        if !own.is_empty()
            && let Json::Object(m) = o
        {
            m.insert(0, (EXT_CONTEXT.to_string(), Json::Object(own)));
        }
    }
    let uses_tradechain = events.iter().any(|e| {
        e.unlocode.is_some() || e.customs.is_some() || e.extensions.keys().any(|k| k.starts_with("tradechain:"))
    });
    if uses_tradechain && !merged.iter().any(|(k, _)| k == "tradechain") {
        merged.insert(0, ("tradechain".to_string(), s(TRADECHAIN_NS)));
    }
    let mut context = vec![s(EPCIS_CONTEXT)];
    if !merged.is_empty() {
        context.push(Json::Object(merged));
    }
    let created = time::render_ms(opts.creation_date_ms)
        .ok_or_else(|| EpcisError::document("creationDate", "outside the years 0000-9999"))?;
    Ok((Json::Array(context), created, objects))
}

#[cfg(test)]
mod cbv_tests {
    use super::cbv_term;

    #[test]
    fn standard_cbv_values_are_written_as_bare_terms_and_user_vocabularies_as_they_are() {
        for v in [
            "urn:epcglobal:cbv:bizstep:shipping",
            "https://ref.gs1.org/cbv/BizStep-shipping",
            "shipping",
        ] {
            assert_eq!(cbv_term(v, "bizstep", "BizStep-"), "shipping", "{v}");
        }
        assert_eq!(
            cbv_term("urn:epcglobal:cbv:disp:in_transit", "disp", "Disp-"),
            "in_transit"
        );
        // Another vocabulary's URN, a user URI, or an empty term stay as they are.
        for v in [
            "urn:epcglobal:cbv:disp:in_transit",
            "https://example.com/steps/shipping",
            "urn:epcglobal:cbv:bizstep:",
            "urn:epcglobal:cbv:bizstepx:shipping",
        ] {
            assert_eq!(cbv_term(v, "bizstep", "BizStep-"), v, "{v}");
        }
    }
}
