//! Canonical encoding properties (proptest): round trips of the ledger's signed and stored types,
//! rejection of trailing and truncated bytes, no panic on random or mutated bytes, and canonical
//! form (anything that decodes re-encodes to the same bytes, including map key order).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;
use std::collections::BTreeMap;
use tradechain_ledger::certificate::CommitSig;
use tradechain_ledger::codec::{self, DecodeError, decode, decode_with_limit, encode};
use tradechain_ledger::payload::*;
use tradechain_ledger::records::ItemEventRef;
use tradechain_ledger::{
    Block, BlockHeader, CommitCertificate, CreditTier, Hash, OrgId, Payload, PublicKey, SecretKey, Signature,
    SignedTransaction, Transaction,
};

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>().prop_map(Hash)
}
fn public_key() -> impl Strategy<Value = PublicKey> {
    any::<[u8; 32]>().prop_map(PublicKey)
}
fn signature() -> impl Strategy<Value = Signature> {
    vec(any::<u8>(), 64).prop_map(|v| Signature(v.try_into().unwrap()))
}
fn org_id() -> impl Strategy<Value = OrgId> {
    "[A-Z0-9-]{2,32}".prop_map(|s| OrgId::new(&s).unwrap())
}
fn text() -> impl Strategy<Value = String> {
    ".{0,16}"
}

fn settlement() -> impl Strategy<Value = SettlementOp> {
    prop_oneof![
        (
            text(),
            org_id(),
            org_id(),
            any::<u64>(),
            "[A-Z]{3}",
            text(),
            text(),
            text()
        )
            .prop_map(|(id, payer, payee, amount, cur, inv, a, b)| SettlementOp::Instruct(
                SettlementInstruct {
                    settlement_id: id,
                    payer_bank: payer,
                    payee_bank: payee,
                    amount_minor: amount,
                    currency: cur,
                    reference: SettlementRef::Invoice { number: inv },
                    payer_party: a,
                    payee_party: b,
                }
            )),
        (text(), org_id(), text(), org_id()).prop_map(|(id, carrier, reference, payee)| {
            SettlementOp::Instruct(SettlementInstruct {
                settlement_id: id.clone(),
                payer_bank: payee.clone(),
                payee_bank: payee,
                amount_minor: 1,
                currency: "USD".into(),
                reference: SettlementRef::Waybill { carrier, reference },
                payer_party: String::new(),
                payee_party: id,
            })
        }),
        (org_id(), text()).prop_map(|(payer_bank, settlement_id)| SettlementOp::Confirm {
            payer_bank,
            settlement_id
        }),
        (org_id(), text()).prop_map(|(payer_bank, settlement_id)| SettlementOp::Repay {
            payer_bank,
            settlement_id
        }),
        (org_id(), text(), text()).prop_map(|(payer_bank, settlement_id, reason)| SettlementOp::Release {
            payer_bank,
            settlement_id,
            reason
        }),
        (org_id(), text(), text()).prop_map(|(payer_bank, settlement_id, reason)| SettlementOp::Cancel {
            payer_bank,
            settlement_id,
            reason
        }),
    ]
}

fn waybill() -> impl Strategy<Value = WaybillOp> {
    prop_oneof![
        (org_id(), text(), org_id()).prop_map(|(carrier, reference, new_holder)| WaybillOp::Transfer {
            carrier,
            reference,
            new_holder
        }),
        (org_id(), text(), any::<bool>()).prop_map(|(carrier, reference, d)| WaybillOp::Surrender {
            carrier,
            reference,
            purpose: if d {
                SurrenderPurpose::Delivery
            } else {
                SurrenderPurpose::Amendment
            },
        }),
        (org_id(), text(), text()).prop_map(|(carrier, reference, reason)| WaybillOp::Void {
            carrier,
            reference,
            reason
        }),
        (org_id(), text()).prop_map(|(carrier, reference)| WaybillOp::Accomplish { carrier, reference }),
    ]
}

fn provenance() -> impl Strategy<Value = ProvenanceEvent> {
    (
        0u8..5,
        option::of(text()),
        any::<i64>(),
        any::<i16>(),
        vec(text(), 0..4),
        option::of(text()),
        btree_map(text(), text(), 0..3),
        option::of(prop_oneof![
            text().prop_map(|reason| CustomsStep::Held { reason }),
            Just(CustomsStep::Released),
        ]),
    )
        .prop_map(
            |(t, event_id, time, tz, epcs, biz_step, extensions, customs)| ProvenanceEvent {
                event_type: [
                    EventType::ObjectEvent,
                    EventType::AggregationEvent,
                    EventType::TransformationEvent,
                    EventType::TransactionEvent,
                    EventType::AssociationEvent,
                ][t as usize],
                event_id,
                event_time_ms: time,
                event_time_zone_offset_min: tz,
                action: Some(Action::Observe),
                epc_list: epcs,
                quantity_list: vec![],
                parent_id: None,
                child_epcs: vec![],
                child_quantity_list: vec![],
                input_epc_list: vec![],
                input_quantity_list: vec![],
                output_epc_list: vec![],
                output_quantity_list: vec![],
                transformation_id: None,
                biz_step,
                disposition: None,
                read_point: None,
                biz_location: None,
                unlocode: None,
                biz_transaction_list: vec![],
                source_list: vec![],
                destination_list: vec![],
                customs,
                error_declaration: None,
                extensions,
            },
        )
}

fn governance() -> impl Strategy<Value = GovernanceOp> {
    prop_oneof![
        text().prop_map(|proposal_id| GovernanceOp::Approve { proposal_id }),
        (org_id(), 0u8..4).prop_map(|(org, t)| GovernanceOp::SetCreditTier {
            org,
            tier: [
                CreditTier::Dishonest,
                CreditTier::General,
                CreditTier::AeoGeneral,
                CreditTier::AeoAdvanced
            ][t as usize],
        }),
        (text(), org_id(), any::<u32>(), public_key()).prop_map(|(proposal_id, org, key_id, new_key)| {
            GovernanceOp::Propose {
                proposal_id,
                change: GovAction::RotateKey { org, key_id, new_key },
            }
        }),
        (text(), org_id()).prop_map(|(proposal_id, org)| GovernanceOp::Propose {
            proposal_id,
            change: GovAction::RemoveOrg { org },
        }),
    ]
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        settlement().prop_map(Payload::Settlement),
        waybill().prop_map(Payload::Waybill),
        (text(), text()).prop_map(|(number, reason)| Payload::Certificate(CertificateOp::Revoke { number, reason })),
        provenance().prop_map(Payload::Provenance),
        governance().prop_map(Payload::Governance),
    ]
}

fn transaction() -> impl Strategy<Value = Transaction> {
    (
        any::<u16>(),
        text(),
        org_id(),
        any::<u32>(),
        any::<u64>(),
        any::<i64>(),
        payload(),
    )
        .prop_map(
            |(version, chain_id, sender, key_id, nonce, time_ms, payload)| Transaction {
                version,
                chain_id,
                sender,
                key_id,
                nonce,
                time_ms,
                payload,
            },
        )
}

fn signed() -> impl Strategy<Value = SignedTransaction> {
    (transaction(), any::<[u8; 32]>(), signature())
        .prop_map(|(tx, seed, signature)| SignedTransaction::new(tx, tradechain_ledger::Hash(seed), signature))
}

fn header() -> impl Strategy<Value = BlockHeader> {
    (
        (any::<u16>(), text(), any::<u64>(), hash(), hash(), any::<u32>()),
        (hash(), any::<i64>(), public_key(), hash(), hash()),
    )
        .prop_map(
            |((version, chain_id, height, prev_hash, tx_root, tx_count), (results_hash, time_ms, proposer, vh, sh))| {
                BlockHeader {
                    version,
                    chain_id,
                    height,
                    prev_hash,
                    tx_root,
                    tx_count,
                    results_hash,
                    time_ms,
                    proposer,
                    validators_hash: vh,
                    state_hash: sh,
                }
            },
        )
}

fn block() -> impl Strategy<Value = Block> {
    (header(), vec(signed(), 0..4)).prop_map(|(header, txs)| Block { header, txs })
}

fn certificate() -> impl Strategy<Value = CommitCertificate> {
    (
        any::<u64>(),
        any::<u32>(),
        hash(),
        vec(
            (public_key(), signature()).prop_map(|(validator, signature)| CommitSig { validator, signature }),
            0..5,
        ),
    )
        .prop_map(|(height, round, block_hash, signatures)| CommitCertificate {
            height,
            round,
            block_hash,
            signatures,
        })
}

/// Round trip, canonical re-encoding, trailing byte and every truncation rejected.
fn check<T: borsh::BorshSerialize + borsh::BorshDeserialize + PartialEq + std::fmt::Debug>(
    v: &T,
) -> Result<(), TestCaseError> {
    let bytes = encode(v);
    let back: T = decode(&bytes).unwrap();
    prop_assert_eq!(&back, v);
    prop_assert_eq!(encode(&back), bytes.clone());
    let mut longer = bytes.clone();
    longer.push(0);
    prop_assert_eq!(decode::<T>(&longer).unwrap_err(), DecodeError::TrailingBytes(1));
    for cut in 0..bytes.len() {
        prop_assert!(decode::<T>(&bytes[..cut]).is_err(), "prefix of {} bytes decoded", cut);
    }
    if !bytes.is_empty() {
        let too_large = matches!(
            decode_with_limit::<T>(&bytes, bytes.len() - 1),
            Err(DecodeError::TooLarge { .. })
        );
        prop_assert!(too_large);
    }
    Ok(())
}

/// Decoding must not panic; whatever decodes must re-encode to exactly the input.
fn no_panic_canonical<T: borsh::BorshSerialize + borsh::BorshDeserialize>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = decode::<T>(bytes) {
        prop_assert_eq!(encode(&v), bytes.to_vec());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn payload_round_trips(p in payload()) { check(&p)?; }

    #[test]
    fn transaction_round_trips(t in transaction()) { check(&t)?; }

    #[test]
    fn signed_transaction_round_trips(s in signed()) {
        check(&s)?;
        prop_assert_eq!(decode::<SignedTransaction>(&encode(&s)).unwrap().id(), s.id());
    }

    #[test]
    fn block_round_trips(b in block()) {
        check(&b)?;
        prop_assert_eq!(decode::<Block>(&encode(&b)).unwrap().hash(), b.hash());
    }

    #[test]
    fn certificate_round_trips(c in certificate()) { check(&c)?; }

    #[test]
    fn signatures_survive_the_round_trip(t in transaction(), label in "[a-z]{1,8}") {
        let key = SecretKey::from_label(&label);
        let s = t.sign(&key);
        let back: SignedTransaction = decode(&encode(&s)).unwrap();
        prop_assert!(back.verify_signature(&key.public()).is_ok());
        let mut forged = back.clone();
        forged.tx_mut().nonce = forged.tx().nonce.wrapping_add(1);
        prop_assert!(forged.verify_signature(&key.public()).is_err());
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        no_panic_canonical::<Block>(&bytes)?;
        no_panic_canonical::<SignedTransaction>(&bytes)?;
        no_panic_canonical::<Transaction>(&bytes)?;
        no_panic_canonical::<Payload>(&bytes)?;
        no_panic_canonical::<CommitCertificate>(&bytes)?;
        no_panic_canonical::<ItemEventRef>(&bytes)?;
        no_panic_canonical::<tradechain_ledger::Genesis>(&bytes)?;
        no_panic_canonical::<tradechain_ledger::state::WriteSet>(&bytes)?;
    }

    #[test]
    fn mutated_encodings_never_panic(b in block(), pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = encode(&b);
        if !bytes.is_empty() {
            let i = pos.index(bytes.len());
            bytes[i] = byte;
        }
        no_panic_canonical::<Block>(&bytes)?;
    }

    #[test]
    fn huge_length_prefixes_are_refused(n in 1u32..) {
        // A vector claiming n elements with none present must fail, without allocating n.
        let mut bytes = n.to_le_bytes().to_vec();
        bytes.push(0);
        prop_assert!(decode::<Vec<SignedTransaction>>(&bytes).is_err());
    }
}

#[test]
fn map_keys_out_of_order_are_refused() {
    // Canonical form: a BTreeMap encoded with keys out of order must not decode (it would
    // re-encode differently). Two extensions, swapped in the encoding.
    let mut m = BTreeMap::new();
    m.insert("a".to_string(), "1".to_string());
    m.insert("b".to_string(), "2".to_string());
    let good = encode(&m);
    assert_eq!(codec::decode::<BTreeMap<String, String>>(&good).unwrap(), m);
    let entry = |k: &str, v: &str| {
        let mut e = encode(&k.to_string());
        e.extend(encode(&v.to_string()));
        e
    };
    let mut swapped = 2u32.to_le_bytes().to_vec();
    swapped.extend(entry("b", "2"));
    swapped.extend(entry("a", "1"));
    assert!(codec::decode::<BTreeMap<String, String>>(&swapped).is_err());
    let mut dup = 2u32.to_le_bytes().to_vec();
    dup.extend(entry("a", "1"));
    dup.extend(entry("a", "1"));
    assert!(codec::decode::<BTreeMap<String, String>>(&dup).is_err());
}
