//! Conversions from ledger types to proto views. Pure functions; the canonical borsh bytes are
//! always included next to the typed fields, so clients verify what they were shown.
use tradechain_ledger::block::{Block, BlockHeader, TxOutcome};
use tradechain_ledger::certificate::ValidatorSet;
use tradechain_ledger::codec::encode;
use tradechain_ledger::merkle::InclusionProof;
use tradechain_ledger::records::TxLocation;
use tradechain_proto::v1;

pub fn location(loc: TxLocation) -> v1::TxLocation {
    v1::TxLocation {
        height: loc.height,
        index: loc.index,
    }
}

pub fn header(h: &BlockHeader) -> v1::BlockHeaderView {
    v1::BlockHeaderView {
        height: h.height,
        block_hash: h.hash().to_hex(),
        prev_hash: h.prev_hash.to_hex(),
        tx_root: h.tx_root.to_hex(),
        tx_count: h.tx_count,
        results_hash: h.results_hash.to_hex(),
        time_ms: h.time_ms,
        proposer: h.proposer.to_hex(),
        validators_hash: h.validators_hash.to_hex(),
        state_hash: h.state_hash.to_hex(),
        chain_id: h.chain_id.clone(),
        header_borsh: encode(h),
    }
}

pub fn rejection(rule: &str, reason: &str) -> v1::Rejection {
    v1::Rejection {
        rule: rule.to_string(),
        reason: reason.to_string(),
    }
}

pub fn outcomes(block: &Block, outcomes: &[TxOutcome]) -> Vec<v1::TxOutcomeView> {
    block
        .txs
        .iter()
        .zip(outcomes)
        .enumerate()
        .map(|(i, (tx, o))| v1::TxOutcomeView {
            index: i as u32,
            tx_id: tx.id().to_hex(),
            accepted: matches!(o, TxOutcome::Accepted),
            rejection: match o {
                TxOutcome::Accepted => None,
                TxOutcome::Rejected { rule, reason } => Some(rejection(rule, reason)),
            },
        })
        .collect()
}

pub fn inclusion(p: &InclusionProof) -> v1::InclusionProof {
    v1::InclusionProof {
        index: p.index,
        tree_size: p.tree_size,
        path: p.path.iter().map(|h| h.0.to_vec()).collect(),
        proof_borsh: encode(p),
    }
}

pub fn validators(set: &ValidatorSet) -> Vec<v1::ValidatorView> {
    set.validators
        .iter()
        .map(|v| v1::ValidatorView {
            org: v.org.to_string(),
            public_key: v.public_key.to_hex(),
            power: v.power,
        })
        .collect()
}

/// A serde value as JSON text (records always serialise; an empty string marks the impossible).
pub fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// The serde name of a unit enum variant (`WaybillStatus::Issued` → `ISSUED`).
pub fn enum_name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}
