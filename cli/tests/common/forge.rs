//! Forging provenance answers the way a dishonest node (or anyone between it and the consumer)
//! would: every piece of proof material is real — certified headers, inclusion and outcome proofs
//! read from the live chain — only put where it does not belong. Used by the CLI's tamper test
//! (`cli_verify_proxy`) and the page's (`browser`), as `#[path = "common/forge.rs"] mod forge;`.
//!
//! The edits are small functions of one reply so that a change of the proof format (e.g. salted
//! field disclosures in `EventProof`) touches one place: `rechain` (the event references),
//! `set_shown_field` (a shown field), `rejected_entry` (an entry built from a transaction).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use tonic::transport::Channel;
use tradechain_ledger::block::{BlockHeader, TxOutcome, outcome_leaf, outcome_proof};
use tradechain_ledger::codec::{decode, encode};
use tradechain_ledger::hash::Hash;
use tradechain_ledger::merkle::{leaf_hash, prove, root_from_leaf_hashes};
use tradechain_ledger::payload::{CustomsStep, Payload};
use tradechain_ledger::records::{ItemEventRef, TxLocation, item_event_hash};
use tradechain_ledger::tx::SignedTransaction;
use tradechain_ledger::{OrgId, SecretKey};
use tradechain_node::grpc::{auth, views};
use tradechain_proto::v1;

/// The org that signs the rejected claim, and why the validators refuse it.
pub const FORGER: &str = "PRODUCER-FZ";
pub const FORGER_KEY: &str = "producer-fz.key";
pub const REJECTED_RULE: &str = "membership.role";

/// Submit, with the `tradechain` binary, a provenance event naming `item_urn` that the
/// validators reject: a customs release recorded by the producer (only customs record customs
/// steps, rule `membership.role`). It lands in a block with a rejected outcome. Returns its tx id.
pub fn submit_rejected_release(bin: &str, endpoint: &str, keys_dir: &Path, item_urn: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("release.json");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let event = serde_json::json!({
        "type": "ObjectEvent",
        "action": "OBSERVE",
        "epcList": [item_urn],
        "eventTimeMs": now,
        "eventTimeZoneOffsetMin": 60,
        "unlocode": "NLRTM",
        "customs": { "step": "released" },
    });
    std::fs::write(&file, event.to_string()).unwrap();
    let key = keys_dir.join(FORGER_KEY);
    let out = Command::new(bin)
        .args(["--endpoint", endpoint, "--output", "json", "submit", "event"])
        .arg(&file)
        .args(["--org", FORGER, "--key"])
        .arg(&key)
        .arg("--wait")
        .output()
        .unwrap();
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "submit: {e}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(out.status.code(), Some(3), "rejected by a validator rule: {said}");
    assert_eq!(said["state"], "rejected", "{said}");
    assert_eq!(said["rule"], REJECTED_RULE, "{said}");
    said["tx_id"].as_str().unwrap().to_string()
}

pub async fn connect(endpoint: &str) -> Channel {
    Channel::from_shared(endpoint.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// The whole first page of `goods_key`'s provenance, with proofs, straight from a node.
pub async fn fetch(ch: &Channel, goods_key: &str) -> v1::ProvenanceReply {
    v1::provenance_service_client::ProvenanceServiceClient::new(ch.clone())
        .get_provenance(v1::GetProvenanceRequest {
            id: Some(v1::get_provenance_request::Id::GoodsKey(goods_key.into())),
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("provenance of {goods_key}: {s}"))
        .into_inner()
}

/// A timeline entry for the rejected transaction `tx_id`, as a node would show an accepted event:
/// its certified header, its real inclusion proof in the block's tx root, its signed bytes, and
/// the real proof of its (rejected) outcome in the block's results hash — the best a dishonest
/// node has. The event reference is left for `rechain` to fill in where the entry is spliced.
/// The block's leaves and outcomes are read with `GetBlock`, signed as the transaction's sender.
pub async fn rejected_entry(ch: &Channel, tx_id: &str, keys_dir: &Path) -> v1::TimelineEntry {
    let st = v1::transaction_service_client::TransactionServiceClient::new(ch.clone())
        .get_transaction(v1::GetTransactionRequest {
            tx_id: tx_id.into(),
            include_tx: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.state(), v1::transaction_status::State::Rejected, "{st:?}");
    let loc = st.location.unwrap();
    let stx: SignedTransaction = decode(&st.signed_tx).unwrap();
    let block_req = || v1::BlockRequest {
        at: Some(v1::block_request::At::Height(loc.height)),
    };
    let mut chain = v1::chain_service_client::ChainServiceClient::new(ch.clone());
    let hr = chain.get_header(block_req()).await.unwrap().into_inner();
    let header_borsh = hr.header.unwrap().header_borsh;
    let header: BlockHeader = decode(&header_borsh).unwrap();
    let mut req = tonic::Request::new(block_req());
    let key = SecretKey::read_file(&keys_dir.join(FORGER_KEY)).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    auth::sign_request(
        &mut req,
        &header.chain_id,
        "/tradechain.v1.ChainService/GetBlock",
        &OrgId::new(FORGER).unwrap(),
        0,
        &key,
        now,
    )
    .unwrap();
    let block = chain.get_block(req).await.unwrap().into_inner();
    let leaves: Vec<Hash> = block
        .txs
        .iter()
        .map(|t| Hash(t.leaf_hash.as_slice().try_into().unwrap()))
        .collect();
    assert_eq!(root_from_leaf_hashes(&leaves), header.tx_root, "the block's leaves");
    let outcomes: Vec<TxOutcome> = block
        .outcomes
        .iter()
        .map(|o| match &o.rejection {
            Some(r) if !o.accepted => TxOutcome::Rejected {
                rule: r.rule.clone(),
                reason: r.reason.clone(),
            },
            _ => TxOutcome::Accepted,
        })
        .collect();
    let index = loc.index as usize;
    let leaf = leaf_hash(&stx.leaf_bytes());
    assert_eq!(leaves[index], leaf);
    let inclusion = prove(&leaves, index).unwrap();
    let outcome = outcome_proof(&outcomes, index).unwrap();
    // The material is genuine: this outcome proof shows the transaction's real (rejected)
    // verdict under the certified results hash.
    assert!(matches!(outcomes[index], TxOutcome::Rejected { .. }));
    assert!(
        outcome.verify_hash(&outcome_leaf(loc.index, &outcomes[index]), &header.results_hash),
        "the outcome proof of the rejected verdict reaches block {}'s results hash",
        loc.height
    );
    let Payload::Provenance(p) = &stx.tx().payload else {
        panic!("not a provenance event")
    };
    v1::TimelineEntry {
        seq: 0,
        tx_id: stx.id().to_hex(),
        location: Some(loc),
        event_type: views::enum_name(&p.event_type),
        action: p.action.as_ref().map(views::enum_name).unwrap_or_default(),
        biz_step: p.biz_step.clone().unwrap_or_default(),
        disposition: p.disposition.clone().unwrap_or_default(),
        event_id: p.event_id.clone().unwrap_or_default(),
        event_time_ms: p.event_time_ms,
        event_time_zone_offset_min: i32::from(p.event_time_zone_offset_min),
        block_time_ms: header.time_ms,
        read_point: p.read_point.clone().unwrap_or_default(),
        biz_location: p.biz_location.clone().unwrap_or_default(),
        unlocode: p.unlocode.clone().unwrap_or_default(),
        org: stx.tx().sender.to_string(),
        customs_step: p.customs.as_ref().map(CustomsStep::public_name).unwrap_or_default(),
        accepted: true,
        proof: Some(v1::EventProof {
            block_header_borsh: header_borsh,
            commit_certificate_borsh: hr.commit_certificate_borsh,
            inclusion: Some(views::inclusion(&inclusion)),
            leaf_hash: leaf.0.to_vec(),
            disclosure_borsh: encode(&tradechain_ledger::event_fields::EventDisclosure::public(&stx, 0).unwrap()),
            tx_redacted: false,
            outcome: Some(views::inclusion(&outcome)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Rewrite `reply`'s timeline into a consistent event-hash chain of `goods_key` (anyone can: the
/// chain is node state, not certified): each entry's seq is its position, its event reference
/// chains from the zero hash over its tx id, and the summary's count and head follow.
pub fn rechain(reply: &mut v1::ProvenanceReply, goods_key: &str) {
    let mut prev = Hash::ZERO;
    for (seq, e) in reply.timeline.iter_mut().enumerate() {
        let p = e.proof.as_mut().expect("an entry with proofs");
        let at = match e.location {
            Some(l) => TxLocation {
                height: l.height,
                index: l.index,
            },
            None => decode::<ItemEventRef>(&p.event_ref_borsh).unwrap().at,
        };
        let tx_id = Hash::from_hex(&e.tx_id).unwrap();
        let ev = ItemEventRef {
            seq: seq as u64,
            tx_id,
            at,
            event: 0,
            event_time_ms: e.event_time_ms,
            prev_event_hash: prev,
            event_hash: item_event_hash(&prev, &tx_id, 0, goods_key),
        };
        e.seq = ev.seq;
        p.event_ref_borsh = encode(&ev);
        p.prev_event_hash = ev.prev_event_hash.to_hex();
        p.event_hash = ev.event_hash.to_hex();
        prev = ev.event_hash;
    }
    let s = reply.summary.get_or_insert_with(Default::default);
    s.event_count = reply.timeline.len() as u64;
    s.last_event_hash = prev.to_hex();
}

/// The first entry that carries commercial fields: they are withheld as salted hashes, yet its
/// shown fields are checked against the signed field commitment.
/// (the first entry when none does).
pub fn first_signed(reply: &mut v1::ProvenanceReply) -> &mut v1::TimelineEntry {
    let i = reply
        .timeline
        .iter()
        .position(|e| e.proof.as_ref().is_some_and(|p| p.tx_redacted))
        .unwrap_or(0);
    &mut reply.timeline[i]
}

/// Show another business step than the signed one on the first event with commercial fields.
pub fn set_shown_field(reply: &mut v1::ProvenanceReply) {
    let e = first_signed(reply);
    e.biz_step = if e.biz_step.ends_with("receiving") {
        "urn:epcglobal:cbv:bizstep:shipping".into()
    } else {
        "urn:epcglobal:cbv:bizstep:receiving".into()
    };
}
