//! `bench verify-bound`: this machine's ed25519 verification rate (single and batched, per core)
//! and the bound it sets on a network whose every validator checks every signature here:
//! `batched verifies/s per core × cores ÷ validators`.
use std::time::{Duration, Instant};
use tradechain_ledger::SecretKey;

/// ed25519 verifications per second on one core, single and in batches of 1,024, and the
/// resulting bound for `validators` validators sharing this machine's cores.
pub fn verify_bound(validators: u64) -> serde_json::Value {
    let keys: Vec<SecretKey> = (0..64).map(|i| SecretKey::from_label(&format!("bench-{i}"))).collect();
    let msgs: Vec<Vec<u8>> = (0..1024u32)
        .map(|i| format!("tradechain bench message {i}").into_bytes())
        .collect();
    let sigs: Vec<_> = msgs.iter().enumerate().map(|(i, m)| keys[i % 64].sign(m)).collect();
    let pks: Vec<_> = (0..msgs.len()).map(|i| keys[i % 64].public()).collect();
    let rate = |f: &mut dyn FnMut() -> usize| {
        let start = Instant::now();
        let mut n = 0usize;
        while start.elapsed() < Duration::from_millis(700) {
            n += f();
        }
        n as f64 / start.elapsed().as_secs_f64()
    };
    let single = rate(&mut || {
        for i in 0..64 {
            let _ = pks[i].verify(&msgs[i], &sigs[i]);
        }
        64
    });
    let refs: Vec<&[u8]> = msgs.iter().map(Vec::as_slice).collect();
    let batch = rate(&mut || {
        let _ = tradechain_ledger::crypto::verify_batch(&refs, &sigs, &pks);
        refs.len()
    });
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
    let validators = validators.max(1);
    serde_json::json!({
        "benchmark": "verify-bound",
        "single_per_core": single.round(),
        "batch_per_core": batch.round(),
        "cores": cores,
        "validators": validators,
        "bound_tps": (batch * cores / validators as f64).round(),
    })
}

pub fn human(v: &serde_json::Value) -> String {
    format!(
        "ed25519 on this machine: {} single/s, {} batched/s per core, {} cores → bound {} tx/s with {} validators",
        v["single_per_core"], v["batch_per_core"], v["cores"], v["bound_tps"], v["validators"]
    )
}
