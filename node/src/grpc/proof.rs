//! Offline verification of the material a provenance reply carries (client side: a consumer app
//! or the CLI runs this without trusting the node that answered).
//!
//! Checks per event: the header names the chain and the given validator set; the commit certificate finalises the header (height and hash) under the
//! given validator set; the inclusion proof links the leaf hash to the header's `tx_root`; the
//! outcome proof links `outcome_leaf(index, Accepted)` to the header's `results_hash` (the
//! transaction was accepted, not merely included); when the transaction bytes are given, they
//! hash to the leaf, carry the claimed tx id, and the signed event names the item (bound: any of
//! its goods identifiers normalises to the queried goods key); the event
//! reference's hash is `H(prev_event_hash || tx_id || goods_key)` and it matches the entry shown
//! (tx id, seq, event time; with the bytes, every field the entry shows — time, org, type,
//! action, bizStep, disposition, readPoint, UN/LOCODE, customs step — is the signed one; for a
//! redacted event only its existence, position, time and recording block are proven). Across a timeline: entries
//! follow one another (`prev_event_hash` of each is the previous `event_hash`, starting from the
//! zero hash at seq 0), and the last entry of the last page is the item's `last_event_hash`.
use tradechain_ledger::block::{BlockHeader, TxOutcome, outcome_leaf};
use tradechain_ledger::certificate::{CommitCertificate, ValidatorSet};
use tradechain_ledger::codec::decode;
use tradechain_ledger::hash::Hash;
use tradechain_ledger::merkle::{InclusionProof, leaf_hash};
use tradechain_ledger::payload::Payload;
use tradechain_ledger::records::{ItemEventRef, item_event_hash};
use tradechain_ledger::tx::SignedTransaction;
use tradechain_proto::v1;

use super::provenance::customs_step;
use super::views;

/// Verify one timeline entry's proof. Returns the verified event reference.
pub fn verify_entry(
    chain_id: &str,
    validators: &ValidatorSet,
    goods_key: &str,
    entry: &v1::TimelineEntry,
) -> Result<ItemEventRef, String> {
    let p = entry.proof.as_ref().ok_or("entry has no proof")?;
    let header: BlockHeader = decode(&p.block_header_borsh).map_err(|e| format!("block header: {e}"))?;
    if header.chain_id != chain_id {
        return Err(format!(
            "header is for chain {:?}, expected {chain_id:?}",
            header.chain_id
        ));
    }
    if header.validators_hash != validators.hash() {
        return Err("header is certified by another validator set".into());
    }
    let cert: CommitCertificate =
        decode(&p.commit_certificate_borsh).map_err(|e| format!("commit certificate: {e}"))?;
    cert.verify(chain_id, header.height, &header.hash(), validators)
        .map_err(|e| format!("commit certificate: {e}"))?;
    let inc = p.inclusion.as_ref().ok_or("no inclusion proof")?;
    let proof: InclusionProof = decode(&inc.proof_borsh).map_err(|e| format!("inclusion proof: {e}"))?;
    let leaf: [u8; 32] = p
        .leaf_hash
        .as_slice()
        .try_into()
        .map_err(|_| "leaf hash must be 32 bytes".to_string())?;
    let leaf = Hash(leaf);
    if !proof.verify_hash(&leaf, &header.tx_root) {
        return Err("inclusion proof does not reach the header's tx_root".into());
    }
    let ev: ItemEventRef = decode(&p.event_ref_borsh).map_err(|e| format!("event reference: {e}"))?;
    if ev.at.height != header.height || u64::from(ev.at.index) != proof.index {
        return Err("event reference location differs from the proven leaf".into());
    }
    // Accepted, not a rejected transaction that merely sits in the block.
    let out = p
        .outcome
        .as_ref()
        .ok_or(format!("entry seq {} has no outcome proof", ev.seq))?;
    let out: InclusionProof = decode(&out.proof_borsh).map_err(|e| format!("outcome proof: {e}"))?;
    if out.index != proof.index
        || !out.verify_hash(&outcome_leaf(ev.at.index, &TxOutcome::Accepted), &header.results_hash)
    {
        return Err(format!(
            "entry seq {}: the transaction is not proven accepted (its outcome does not reach block {}'s results hash)",
            ev.seq, header.height
        ));
    }
    if ev.tx_id.to_hex() != entry.tx_id || ev.seq != entry.seq || ev.event_time_ms != entry.event_time_ms {
        return Err("event reference differs from the entry's tx id, seq or time".into());
    }
    if !p.signed_tx_borsh.is_empty() {
        if leaf_hash(&p.signed_tx_borsh) != leaf {
            return Err("signed transaction bytes do not hash to the leaf".into());
        }
        let stx: SignedTransaction = decode(&p.signed_tx_borsh).map_err(|e| format!("signed tx: {e}"))?;
        if stx.id() != ev.tx_id {
            return Err("signed transaction id differs from the event's tx id".into());
        }
        let Payload::Provenance(pe) = &stx.tx.payload else {
            return Err("the signed transaction is not a provenance event".into());
        };
        // Bound to the item: the signed event names it (in any identifier spelling) in a role
        // that puts it on its timeline.
        if !pe
            .touched_ids()
            .iter()
            .filter_map(|id| tradechain_ledger::gs1::goods_key(id).ok())
            .any(|k| k == goods_key)
        {
            return Err(format!(
                "entry seq {}: the signed event does not name goods {goods_key}",
                ev.seq
            ));
        }
        // What the entry shows must be what was signed.
        let shown = [
            (
                "eventTime",
                pe.event_time_ms.to_string(),
                entry.event_time_ms.to_string(),
            ),
            ("recording org", stx.tx.sender.to_string(), entry.org.clone()),
            ("type", views::enum_name(&pe.event_type), entry.event_type.clone()),
            (
                "action",
                pe.action.as_ref().map(views::enum_name).unwrap_or_default(),
                entry.action.clone(),
            ),
            (
                "bizStep",
                pe.biz_step.clone().unwrap_or_default(),
                entry.biz_step.clone(),
            ),
            (
                "disposition",
                pe.disposition.clone().unwrap_or_default(),
                entry.disposition.clone(),
            ),
            (
                "readPoint",
                pe.read_point.clone().unwrap_or_default(),
                entry.read_point.clone(),
            ),
            (
                "unlocode",
                pe.unlocode.clone().unwrap_or_default(),
                entry.unlocode.clone(),
            ),
            (
                "customs step",
                pe.customs.as_ref().map(customs_step).unwrap_or_default(),
                entry.customs_step.clone(),
            ),
        ];
        for (field, signed, entry_value) in shown {
            if signed != entry_value {
                return Err(format!(
                    "entry seq {} shows {field} {entry_value:?} but the signed event says {signed:?}",
                    ev.seq
                ));
            }
        }
    } else if !p.tx_redacted {
        return Err("transaction bytes missing but not marked redacted".into());
    }
    if item_event_hash(&ev.prev_event_hash, &ev.tx_id, goods_key) != ev.event_hash {
        return Err(format!("event hash of seq {} does not match its inputs", ev.seq));
    }
    if ev.prev_event_hash.to_hex() != p.prev_event_hash || ev.event_hash.to_hex() != p.event_hash {
        return Err("hex event hashes differ from the encoded event reference".into());
    }
    Ok(ev)
}

/// Verify every entry of a page and that they chain. `prev` is the `event_hash` of the entry
/// before this page (None on the first page, which must start at seq 0 from the zero hash).
/// Returns the last entry's event hash.
pub fn verify_page(
    chain_id: &str,
    validators: &ValidatorSet,
    reply: &v1::ProvenanceReply,
    prev: Option<Hash>,
) -> Result<Option<Hash>, String> {
    let mut last = prev;
    for e in &reply.timeline {
        let ev = verify_entry(chain_id, validators, &reply.goods_key, e)?;
        let expected_prev = last.unwrap_or(Hash::ZERO);
        if last.is_none() && ev.seq != 0 {
            return Err(format!("first entry has seq {}, expected 0", ev.seq));
        }
        if ev.prev_event_hash != expected_prev {
            return Err(format!("entry seq {} does not follow the previous entry", ev.seq));
        }
        last = Some(ev.event_hash);
    }
    if reply.next_page_token.is_empty() {
        let head = reply.summary.as_ref().map(|s| s.last_event_hash.as_str()).unwrap_or("");
        if let Some(l) = last
            && l.to_hex() != head
        {
            return Err("the chain does not end at the item's last event hash".into());
        }
    }
    Ok(last)
}
