//! Selective disclosure of provenance events: an event is committed as a list of salted
//! per-field hashes (as OpenAttestation/TradeTrust documents are), and a transaction's signature,
//! id and block leaf cover that list (`tx::Transaction::body_digest`). A public answer opens the
//! public fields and gives only the hash of every other, and a verifier checks each opened field
//! against the commitment the sender signed and the validators certified.
//!
//! The fields (`fields`): a fixed list of units in a fixed order (`UNITS`), then one unit per
//! extension member in key order. A unit is a name and the borsh bytes of its value.
//! - Public: type, eventID, eventTime (ms and zone offset), action, goods (every identifier and
//!   quantity list, parentID, transformationID: the "what"), bizStep, disposition, readPoint,
//!   bizLocation, unlocode, customsStep (the step's public name only), errorDeclaration (its time
//!   and corrective event ids), and the extension members EPCIS data declares public
//!   (`epcis::export::PUBLIC_EXTENSIONS`: sensor data, certification info, persistent disposition,
//!   recordTime, term definitions) — the same rule as the public EPCIS export.
//! - Commercial (withheld from the public): bizTransactions, sources, destinations (parties),
//!   customsDetails (declarant, declaration id, HS code, certificate and waybill references,
//!   remarks, hold reason), errorReason, and every other extension member (ILMD, unknown
//!   namespaced members).
//!
//! Invariants:
//! - `leaf = H("tradechain/event-field", salt ‖ borsh(name) ‖ borsh(value))` with
//!   `salt = H("tradechain/field-salt", seed ‖ borsh(name))`. The seed is the signer's secret
//!   (`tx::disclosure_seed`, from its key and the transaction) and is never disclosed, so a
//!   withheld field's leaf cannot be confirmed by guessing its value; an opened field's salt
//!   reveals nothing of the seed or of other salts.
//! - `digest = H("tradechain/event-fields", borsh(Vec<leaf>))`: the number and order of the units
//!   are part of it, so no unit can be moved, added or dropped.
//! - A verifier accepts an `EventOpening` only if every public unit of the fixed list is opened
//!   under its own name at its own position (`EventOpening::public`); a node cannot withhold a
//!   public field, relabel one, or open a commercial one as something else.
//! - Bounded: an opening holds at most `MAX_UNITS` units (the validators' transaction size limit
//!   keeps real events far below it).
use crate::codec::encode;
use crate::epcis::export::PUBLIC_EXTENSIONS;
use crate::hash::Hash;
use crate::payload::{Action, CustomsStep, EventType, ProvenanceEvent, QuantityElement};
use borsh::{BorshDeserialize, BorshSerialize};

/// The fixed units, in commitment order, and whether each is public.
pub const UNITS: &[(&str, bool)] = &[
    ("type", true),
    ("eventID", true),
    ("eventTime", true),
    ("action", true),
    ("goods", true),
    ("bizStep", true),
    ("disposition", true),
    ("readPoint", true),
    ("bizLocation", true),
    ("unlocode", true),
    ("customsStep", true),
    ("errorDeclaration", true),
    ("bizTransactions", false),
    ("sources", false),
    ("destinations", false),
    ("customsDetails", false),
    ("errorReason", false),
];

/// Prefix of an extension member's unit name.
pub const EXTENSION_PREFIX: &str = "extension:";

/// Most units an opening may hold (fixed units plus extension members).
pub const MAX_UNITS: usize = 4096;

/// The "what" of an event: every goods identifier and quantity in each role.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Goods {
    pub epc_list: Vec<String>,
    pub quantity_list: Vec<QuantityElement>,
    pub parent_id: Option<String>,
    pub child_epcs: Vec<String>,
    pub child_quantity_list: Vec<QuantityElement>,
    pub input_epc_list: Vec<String>,
    pub input_quantity_list: Vec<QuantityElement>,
    pub output_epc_list: Vec<String>,
    pub output_quantity_list: Vec<QuantityElement>,
    pub transformation_id: Option<String>,
}

impl Goods {
    /// Every identifier in a role that puts the event on an item's timeline (the same set as
    /// `ProvenanceEvent::touched_ids`).
    pub fn touched_ids(&self) -> Vec<&str> {
        crate::payload::touched_ids(
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

/// Visit every unit of `e` in commitment order — the `UNITS`, then one per extension member in
/// key order — with its name, whether it is public, and its borsh value (written into one reused
/// buffer). The one definition of the unit list: `fields` and `digest` both walk it.
fn visit_units(e: &ProvenanceEvent, mut f: impl FnMut(&str, bool, &[u8])) {
    fn put<T: BorshSerialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
        // Writing into a Vec cannot fail; borsh only errors on I/O.
        let _ = v.serialize(out);
    }
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    let mut unit = |i: usize, write: &dyn Fn(&mut Vec<u8>)| {
        buf.clear();
        write(&mut buf);
        let (name, public) = UNITS.get(i).copied().unwrap_or(("", false));
        debug_assert!(!name.is_empty(), "unit {i} is in UNITS");
        f(name, public, &buf);
    };
    unit(0, &|o| put(o, &e.event_type));
    unit(1, &|o| put(o, &e.event_id));
    unit(2, &|o| put(o, &(e.event_time_ms, e.event_time_zone_offset_min)));
    unit(3, &|o| put(o, &e.action));
    // `Goods`, field by field (a struct's borsh is its fields' in order).
    unit(4, &|o| {
        put(o, &e.epc_list);
        put(o, &e.quantity_list);
        put(o, &e.parent_id);
        put(o, &e.child_epcs);
        put(o, &e.child_quantity_list);
        put(o, &e.input_epc_list);
        put(o, &e.input_quantity_list);
        put(o, &e.output_epc_list);
        put(o, &e.output_quantity_list);
        put(o, &e.transformation_id);
    });
    unit(5, &|o| put(o, &e.biz_step));
    unit(6, &|o| put(o, &e.disposition));
    unit(7, &|o| put(o, &e.read_point));
    unit(8, &|o| put(o, &e.biz_location));
    unit(9, &|o| put(o, &e.unlocode));
    unit(10, &|o| put(o, &e.customs.as_ref().map(CustomsStep::public_name)));
    unit(11, &|o| {
        put(
            o,
            &e.error_declaration
                .as_ref()
                .map(|d| (d.declaration_time_ms, &d.corrective_event_ids)),
        )
    });
    unit(12, &|o| put(o, &e.biz_transaction_list));
    unit(13, &|o| put(o, &e.source_list));
    unit(14, &|o| put(o, &e.destination_list));
    unit(15, &|o| put(o, &e.customs));
    unit(16, &|o| {
        put(o, &e.error_declaration.as_ref().and_then(|d| d.reason.as_ref()))
    });
    debug_assert_eq!(UNITS.len(), 17);
    for (k, v) in &e.extensions {
        buf.clear();
        put(&mut buf, v);
        f(
            &format!("{EXTENSION_PREFIX}{k}"),
            PUBLIC_EXTENSIONS.contains(&k.as_str()),
            &buf,
        );
    }
}

/// Every unit of `e`: (name, borsh value, public), in commitment order.
pub fn fields(e: &ProvenanceEvent) -> Vec<(String, Vec<u8>, bool)> {
    let mut out = Vec::with_capacity(UNITS.len() + e.extensions.len());
    visit_units(e, |name, public, value| {
        out.push((name.to_string(), value.to_vec(), public))
    });
    out
}

/// Whether `e` carries anything the public view withholds: a non-empty commercial unit
/// (business transactions, parties, a customs step's details, an error declaration's reason,
/// an extension member not declared public). A `Released` step has no details.
pub fn carries_commercial(e: &ProvenanceEvent) -> bool {
    !e.biz_transaction_list.is_empty()
        || !e.source_list.is_empty()
        || !e.destination_list.is_empty()
        || e.error_declaration.as_ref().is_some_and(|d| d.reason.is_some())
        || e.extensions.keys().any(|k| !PUBLIC_EXTENSIONS.contains(&k.as_str()))
        || matches!(
            e.customs,
            Some(CustomsStep::Declared { .. } | CustomsStep::Inspected { .. } | CustomsStep::Held { .. })
        )
}

/// The salt of unit `name` under `seed`: `H("tradechain/field-salt", seed ‖ borsh(name))`.
pub fn salt(seed: &Hash, name: &str) -> Hash {
    Hash::tagged_parts(
        "tradechain/field-salt",
        &[&seed.0, &len_prefix(name.len()), name.as_bytes()],
    )
}

/// The leaf of one unit: `H("tradechain/event-field", salt ‖ borsh(name) ‖ borsh(value))`.
pub fn leaf(salt: &Hash, name: &str, value: &[u8]) -> Hash {
    Hash::tagged_parts(
        "tradechain/event-field",
        &[
            &salt.0,
            &len_prefix(name.len()),
            name.as_bytes(),
            &len_prefix(value.len()),
            value,
        ],
    )
}

/// Borsh's u32 length prefix of a string or byte vector.
fn len_prefix(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes()
}

fn digest_of(leaves: &[Hash]) -> Hash {
    Hash::tagged("tradechain/event-fields", &encode(&leaves.to_vec()))
}

/// The commitment to `e` under `seed`: the digest of its units' leaves, the same value
/// `EventOpening::digest` recomputes from an opening. One pass, without building the units (it
/// runs for every provenance transaction a node decodes: signing, admission, gossip, proposals).
pub fn digest(e: &ProvenanceEvent, seed: &Hash) -> Hash {
    use sha2::{Digest, Sha256};
    let mut all = Sha256::new();
    all.update(b"tradechain/event-fields\0");
    all.update(len_prefix(UNITS.len() + e.extensions.len()));
    visit_units(e, |name, _, value| all.update(leaf(&salt(seed, name), name, value).0));
    Hash(all.finalize().into())
}

/// One unit as disclosed: opened (name, value, salt) or withheld (only its leaf).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum FieldOpening {
    Open { name: String, value: Vec<u8>, salt: Hash },
    Withheld(Hash),
}

/// An event as disclosed: every unit, in commitment order.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EventOpening {
    pub units: Vec<FieldOpening>,
}

/// The public fields of an event, as opened and checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicEvent {
    pub event_type: EventType,
    pub event_id: Option<String>,
    pub event_time_ms: i64,
    pub event_time_zone_offset_min: i16,
    pub action: Option<Action>,
    pub goods: Goods,
    pub biz_step: Option<String>,
    pub disposition: Option<String>,
    pub read_point: Option<String>,
    pub biz_location: Option<String>,
    pub unlocode: Option<String>,
    pub customs_step: Option<String>,
    /// Declaration time and corrective event ids of an error declaration.
    pub error_declaration: Option<(i64, Vec<String>)>,
    /// How many units are withheld (commercial units are withheld even when empty).
    pub withheld: usize,
}

impl EventOpening {
    /// Open the public units of `e` and withhold the others.
    pub fn public(e: &ProvenanceEvent, seed: &Hash) -> EventOpening {
        Self::with(e, seed, |public| public)
    }

    /// Open every unit (a party to the event, or tests).
    pub fn full(e: &ProvenanceEvent, seed: &Hash) -> EventOpening {
        Self::with(e, seed, |_| true)
    }

    fn with(e: &ProvenanceEvent, seed: &Hash, open: impl Fn(bool) -> bool) -> EventOpening {
        let units = fields(e)
            .into_iter()
            .map(|(name, value, public)| {
                let s = salt(seed, &name);
                if open(public) {
                    FieldOpening::Open { name, value, salt: s }
                } else {
                    FieldOpening::Withheld(leaf(&s, &name, &value))
                }
            })
            .collect();
        EventOpening { units }
    }

    /// The commitment these units open.
    pub fn digest(&self) -> Result<Hash, String> {
        if self.units.len() > MAX_UNITS {
            return Err(format!("{} field units, more than {MAX_UNITS}", self.units.len()));
        }
        let leaves: Vec<Hash> = self
            .units
            .iter()
            .map(|u| match u {
                FieldOpening::Open { name, value, salt } => leaf(salt, name, value),
                FieldOpening::Withheld(h) => *h,
            })
            .collect();
        Ok(digest_of(&leaves))
    }

    /// The public fields, each opened under its own name at its own position; an error names
    /// the field that is withheld, misplaced or malformed.
    pub fn public_fields(&self) -> Result<PublicEvent, String> {
        if self.units.len() < UNITS.len() {
            return Err(format!(
                "the event discloses {} field units, fewer than the {} every event has",
                self.units.len(),
                UNITS.len()
            ));
        }
        let mut opened: Vec<&[u8]> = Vec::with_capacity(UNITS.len());
        for ((want, public), u) in UNITS.iter().zip(&self.units) {
            if !public {
                continue;
            }
            match u {
                FieldOpening::Open { name, value, .. } if name == want => opened.push(value),
                FieldOpening::Open { name, .. } => {
                    return Err(format!("field {want} is disclosed under the name {name:?}"));
                }
                FieldOpening::Withheld(_) => return Err(format!("public field {want} is withheld")),
            }
        }
        let mut it = opened.into_iter();
        let mut next = |what: &str| it.next().ok_or_else(|| format!("field {what} missing"));
        fn de<T: BorshDeserialize>(what: &str, b: &[u8]) -> Result<T, String> {
            crate::codec::decode(b).map_err(|e| format!("field {what}: {e}"))
        }
        let event_type = de("type", next("type")?)?;
        let event_id = de("eventID", next("eventID")?)?;
        let (event_time_ms, event_time_zone_offset_min) = de("eventTime", next("eventTime")?)?;
        let action = de("action", next("action")?)?;
        let goods = de("goods", next("goods")?)?;
        let biz_step = de("bizStep", next("bizStep")?)?;
        let disposition = de("disposition", next("disposition")?)?;
        let read_point = de("readPoint", next("readPoint")?)?;
        let biz_location = de("bizLocation", next("bizLocation")?)?;
        let unlocode = de("unlocode", next("unlocode")?)?;
        let customs_step = de("customsStep", next("customsStep")?)?;
        let error_declaration = de("errorDeclaration", next("errorDeclaration")?)?;
        let withheld = self
            .units
            .iter()
            .filter(|u| matches!(u, FieldOpening::Withheld(_)))
            .count();
        Ok(PublicEvent {
            event_type,
            event_id,
            event_time_ms,
            event_time_zone_offset_min,
            action,
            goods,
            biz_step,
            disposition,
            read_point,
            biz_location,
            unlocode,
            customs_step,
            error_declaration,
            withheld,
        })
    }
}

/// At most this many events in a document a disclosure names (a verifier's decoding bound; the
/// validators' transaction size limit keeps real documents far below it).
pub const MAX_DOCUMENT_EVENTS: usize = 65_536;

/// What a public answer shows of a signed provenance transaction: its header, the event's
/// public opening and the signature, and for event `i` of a document transaction, `i` and the
/// field digests of all the document's events. Enough to recompute the transaction id and its
/// block leaf, so the opened fields are tied to the certified block; the signature itself was
/// checked by the validators that accepted the transaction (its outcome is proven beside it).
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EventDisclosure {
    pub header: crate::tx::TxHeader,
    pub fields: EventOpening,
    pub signature: crate::crypto::Signature,
    pub document: Option<DocumentPosition>,
}

/// Where a disclosed event sits in its document transaction. The other events' digests are
/// salted commitments (`tx::document_event_seed`): they tell only how many events there are.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct DocumentPosition {
    pub event: u32,
    pub event_digests: Vec<Hash>,
}

impl EventDisclosure {
    /// The public disclosure of event `event` of `stx` (None unless it carries that event).
    pub fn public(stx: &crate::tx::SignedTransaction, event: u32) -> Option<EventDisclosure> {
        use crate::payload::Payload;
        let (fields, document) = match &stx.tx().payload {
            Payload::Provenance(e) if event == 0 => (EventOpening::public(e, stx.disclosure_seed()), None),
            Payload::ProvenanceDocument(es) => {
                let e = es.get(usize::try_from(event).ok()?)?;
                let seed = crate::tx::document_event_seed(stx.disclosure_seed(), event);
                let position = DocumentPosition {
                    event,
                    event_digests: crate::tx::document_event_digests(es, stx.disclosure_seed()),
                };
                (EventOpening::public(e, &seed), Some(position))
            }
            _ => return None,
        };
        Some(EventDisclosure {
            header: stx.tx().header(),
            fields,
            signature: stx.signature,
            document,
        })
    }

    /// Which of the transaction's events this discloses (0 for a single event).
    pub fn event(&self) -> u32 {
        self.document.as_ref().map_or(0, |p| p.event)
    }

    /// The transaction's body digest, recomputed from the opening.
    pub fn body_digest(&self) -> Result<Hash, String> {
        let fields = self.fields.digest()?;
        let payload = match &self.document {
            None => crate::tx::provenance_payload_digest(&fields),
            Some(p) => {
                if p.event_digests.len() > MAX_DOCUMENT_EVENTS {
                    return Err(format!(
                        "the document names {} events, more than {MAX_DOCUMENT_EVENTS}",
                        p.event_digests.len()
                    ));
                }
                let at = usize::try_from(p.event).ok().and_then(|i| p.event_digests.get(i));
                if at != Some(&fields) {
                    return Err(format!(
                        "the opened event is not event {} of the document ({} events)",
                        p.event,
                        p.event_digests.len()
                    ));
                }
                crate::tx::document_payload_digest(&p.event_digests)
            }
        };
        Ok(crate::tx::body_digest(&self.header, &payload))
    }

    /// The transaction id and its block Merkle leaf hash, recomputed from the opening.
    pub fn id_and_leaf(&self) -> Result<(Hash, Hash), String> {
        let body = self.body_digest()?;
        Ok((
            crate::tx::id_of(&body),
            crate::merkle::leaf_hash(&crate::tx::leaf_bytes_of(&body, &self.signature)),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::payload::{CustomsStep, ErrorDeclaration, EventType, TypedRef};

    fn event() -> ProvenanceEvent {
        let mut e = ProvenanceEvent::new(EventType::ObjectEvent);
        e.event_time_ms = 1_700_000_000_000;
        e.epc_list = vec!["https://id.gs1.org/01/06901234123456/21/SN1".into()];
        e.biz_step = Some("shipping".into());
        e.biz_transaction_list = vec![TypedRef {
            kind: Some("po".into()),
            id: "PO-1".into(),
        }];
        e.customs = Some(CustomsStep::Held {
            reason: "suspected undervaluation".into(),
        });
        e.error_declaration = Some(ErrorDeclaration {
            declaration_time_ms: 5,
            reason: Some("wrong count".into()),
            corrective_event_ids: vec!["urn:uuid:1".into()],
        });
        e.extensions.insert("ilmd".into(), "{\"lot\":\"L1\"}".into());
        e.extensions.insert("sensorElementList".into(), "[]".into());
        e
    }

    #[test]
    fn the_public_opening_reaches_the_full_digest_and_shows_only_public_fields() {
        let (e, seed) = (event(), Hash([7; 32]));
        let full = digest(&e, &seed);
        let leaves: Vec<Hash> = fields(&e).iter().map(|(n, v, _)| leaf(&salt(&seed, n), n, v)).collect();
        assert_eq!(full, digest_of(&leaves), "the one-pass digest is the units' digest");
        let public = EventOpening::public(&e, &seed);
        assert_eq!(public.digest(), Ok(full));
        assert_eq!(EventOpening::full(&e, &seed).digest(), Ok(full));
        let p = public.public_fields().unwrap();
        assert_eq!(p.biz_step.as_deref(), Some("shipping"));
        assert_eq!(p.customs_step.as_deref(), Some("held"));
        assert_eq!(p.error_declaration, Some((5, vec!["urn:uuid:1".to_string()])));
        assert_eq!(p.goods.touched_ids(), e.touched_ids());
        let bytes = crate::codec::encode(&public);
        for secret in ["PO-1", "undervaluation", "wrong count", "L1"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} leaks into the public opening"
            );
        }
        // The public extension is opened, ILMD withheld; 5 fixed commercial units + ILMD.
        assert_eq!(p.withheld, 6);
    }

    #[test]
    fn a_changed_field_salt_or_order_changes_the_digest() {
        let (e, seed) = (event(), Hash([7; 32]));
        let public = EventOpening::public(&e, &seed);
        let full = public.digest().unwrap();
        let mut m = public.clone();
        if let FieldOpening::Open { value, .. } = &mut m.units[5] {
            *value = crate::codec::encode(&Some("receiving".to_string()));
        }
        assert_ne!(m.digest().unwrap(), full);
        let mut m = public.clone();
        if let FieldOpening::Open { salt, .. } = &mut m.units[0] {
            salt.0[0] ^= 1;
        }
        assert_ne!(m.digest().unwrap(), full);
        let mut m = public.clone();
        m.units.swap(5, 6);
        assert_ne!(m.digest().unwrap(), full);
        assert!(m.public_fields().unwrap_err().contains("bizStep"));
        let mut m = public.clone();
        m.units.pop();
        assert_ne!(m.digest().unwrap(), full);
        // Another seed: other salts, another digest.
        assert_ne!(digest(&e, &Hash([8; 32])), full);
    }

    #[test]
    fn a_public_field_cannot_be_withheld_or_relabelled() {
        let (e, seed) = (event(), Hash([7; 32]));
        let public = EventOpening::public(&e, &seed);
        let mut m = public.clone();
        let FieldOpening::Open { name, value, salt } = m.units[10].clone() else {
            panic!("customsStep is public");
        };
        m.units[10] = FieldOpening::Withheld(leaf(&salt, &name, &value));
        assert_eq!(m.digest(), public.digest(), "withholding keeps the digest");
        assert_eq!(m.public_fields().unwrap_err(), "public field customsStep is withheld");
        let mut m = public.clone();
        if let FieldOpening::Open { name, .. } = &mut m.units[5] {
            *name = "disposition".into();
        }
        assert!(m.public_fields().is_err());
        assert_ne!(m.digest(), public.digest());
        let short = EventOpening {
            units: public.units[..3].to_vec(),
        };
        assert!(short.public_fields().is_err());
        let huge = EventOpening {
            units: vec![FieldOpening::Withheld(Hash::ZERO); MAX_UNITS + 1],
        };
        assert!(huge.digest().is_err());
    }
}
