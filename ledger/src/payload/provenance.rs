//! Goods provenance events in the GS1 EPCIS 2.0 event model, plus the customs steps EPCIS lacks.
//!
//! Identifiers (EPCs, class ids, locations) are kept as given — GS1 Digital Link URIs or EPC URNs —
//! and normalised to a `GoodsKey` by `crate::gs1` when indexed, so both spellings reach one item.
//! Fields EPCIS defines but the ledger does not interpret (sensor data, certification info,
//! unknown extensions) are kept verbatim as canonical JSON text in `extensions`, so an export
//! gives back what was imported.
use crate::identity::OrgId;
use borsh::{BorshDeserialize, BorshSerialize};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub enum EventType {
    ObjectEvent,
    AggregationEvent,
    TransformationEvent,
    TransactionEvent,
    AssociationEvent,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Action {
    Add,
    Observe,
    Delete,
}

/// EPCIS `quantityElement`: a class-level identifier with an optional quantity. The quantity is
/// a decimal string (EPCIS allows fractions); no floats in the ledger.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct QuantityElement {
    #[serde(rename = "epcClass")]
    pub epc_class: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TypedRef {
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InspectionOutcome {
    Passed,
    Failed,
    PassedWithRemarks,
}

/// Customs steps that EPCIS has no bizStep for. Only customs may record them.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum CustomsStep {
    Declared {
        declaration_id: String,
        declarant: OrgId,
        hs_code: String,
        /// Claimed preferential origin: issuer and number of the certificate of origin.
        #[serde(default)]
        preferential_certificate: Option<CertificateRef>,
        #[serde(default)]
        waybill: Option<WaybillRef>,
    },
    Inspected {
        outcome: InspectionOutcome,
        remarks: String,
    },
    Held {
        reason: String,
    },
    Released,
}

impl CustomsStep {
    /// The step's public name: `declared`, `inspected:passed`, `held`, `released` (what the
    /// public view of an event shows of a customs step; the details are commercial).
    pub fn public_name(&self) -> String {
        match self {
            CustomsStep::Declared { .. } => "declared".into(),
            CustomsStep::Inspected { outcome, .. } => format!(
                "inspected:{}",
                match outcome {
                    InspectionOutcome::Passed => "passed",
                    InspectionOutcome::Failed => "failed",
                    InspectionOutcome::PassedWithRemarks => "passed_with_remarks",
                }
            ),
            CustomsStep::Held { .. } => "held".into(),
            CustomsStep::Released => "released".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct CertificateRef {
    pub issuer: OrgId,
    pub number: String,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct WaybillRef {
    pub carrier: OrgId,
    pub reference: String,
}

/// One EPCIS 2.0 event.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceEvent {
    #[serde(rename = "type")]
    pub event_type: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// Unix milliseconds (UTC) of `eventTime`.
    pub event_time_ms: i64,
    /// `eventTimeZoneOffset` in minutes east of UTC (+08:00 → 480).
    pub event_time_zone_offset_min: i16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epc_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quantity_list: Vec<QuantityElement>,
    /// Aggregation / transaction / association parent (pallet SSCC, case…).
    #[serde(default, rename = "parentID", skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, rename = "childEPCs", skip_serializing_if = "Vec::is_empty")]
    pub child_epcs: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_quantity_list: Vec<QuantityElement>,
    #[serde(default, rename = "inputEPCList", skip_serializing_if = "Vec::is_empty")]
    pub input_epc_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub input_quantity_list: Vec<QuantityElement>,
    #[serde(default, rename = "outputEPCList", skip_serializing_if = "Vec::is_empty")]
    pub output_epc_list: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub output_quantity_list: Vec<QuantityElement>,
    #[serde(default, rename = "transformationID", skip_serializing_if = "Option::is_none")]
    pub transformation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<String>,
    /// `readPoint.id` (SGLN URN or Digital Link of a GLN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_point: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_location: Option<String>,
    /// UN/LOCODE of where this happened, when known (ports, border crossings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlocode: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub biz_transaction_list: Vec<TypedRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_list: Vec<TypedRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_list: Vec<TypedRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customs: Option<CustomsStep>,
    /// EPCIS `errorDeclaration`: this event declares the event `corrects` (an eventID) erroneous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_declaration: Option<ErrorDeclaration>,
    /// Fields kept verbatim (canonical JSON text): sensorElementList, certificationInfo,
    /// persistentDisposition, ilmd, and any unknown extension. Key = JSON field name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDeclaration {
    pub declaration_time_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, rename = "correctiveEventIDs", skip_serializing_if = "Vec::is_empty")]
    pub corrective_event_ids: Vec<String>,
}

impl ProvenanceEvent {
    /// An event of `event_type` with every other field empty (time 0, UTC).
    pub fn new(event_type: EventType) -> ProvenanceEvent {
        ProvenanceEvent {
            event_type,
            event_id: None,
            event_time_ms: 0,
            event_time_zone_offset_min: 0,
            action: None,
            epc_list: Vec::new(),
            quantity_list: Vec::new(),
            parent_id: None,
            child_epcs: Vec::new(),
            child_quantity_list: Vec::new(),
            input_epc_list: Vec::new(),
            input_quantity_list: Vec::new(),
            output_epc_list: Vec::new(),
            output_quantity_list: Vec::new(),
            transformation_id: None,
            biz_step: None,
            disposition: None,
            read_point: None,
            biz_location: None,
            unlocode: None,
            biz_transaction_list: Vec::new(),
            source_list: Vec::new(),
            destination_list: Vec::new(),
            customs: None,
            error_declaration: None,
            extensions: BTreeMap::new(),
        }
    }

    /// Every instance-level identifier the event touches (to index it under each goods item).
    pub fn touched_ids(&self) -> Vec<&str> {
        touched_ids(
            [
                &self.epc_list,
                &self.child_epcs,
                &self.input_epc_list,
                &self.output_epc_list,
            ],
            self.parent_id.as_deref(),
            [
                &self.quantity_list,
                &self.child_quantity_list,
                &self.input_quantity_list,
                &self.output_quantity_list,
            ],
        )
    }
}

/// The identifiers in every role that puts an event on an item's timeline: the EPC lists (epc,
/// child, input, output), the parent, and the classes of the quantity lists. The one rule for
/// the validators' index (`ProvenanceEvent::touched_ids`) and a verifier's binding check
/// (`event_fields::Goods::touched_ids`).
pub fn touched_ids<'a>(
    epcs: [&'a [String]; 4],
    parent: Option<&'a str>,
    quantities: [&'a [QuantityElement]; 4],
) -> Vec<&'a str> {
    let [epc, child, input, output] = epcs;
    let mut v: Vec<&str> = Vec::new();
    v.extend(epc.iter().map(String::as_str));
    v.extend(parent);
    for l in [child, input, output] {
        v.extend(l.iter().map(String::as_str));
    }
    v.extend(quantities.iter().flat_map(|l| l.iter()).map(|q| q.epc_class.as_str()));
    v
}
