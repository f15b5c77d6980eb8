//! `tradechain verify`: the full offline audit of a node's store.
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use std::path::Path;

pub fn run(data_dir: &Path, out: &Output) -> CliResult {
    let db = if data_dir.join("db").exists() {
        data_dir.join("db")
    } else {
        data_dir.to_path_buf()
    };
    let mut last_pct = u64::MAX;
    let quiet = out.quiet;
    let mut progress = |done: u64, total: u64| {
        if quiet || total < 100 {
            return;
        }
        let pct = done * 100 / total.max(1);
        if pct != last_pct {
            last_pct = pct;
            let bar = "#".repeat((pct / 4) as usize);
            eprint!("\rverifying [{bar:<25}] {pct:>3}% ({done}/{total} blocks)");
        }
    };
    let res = tradechain_store::verify::verify_store(&db, &mut progress);
    if !quiet {
        eprintln!();
    }
    match res {
        Ok(report) => {
            let v = serde_json::json!({ "ok": true, "report": format!("{report:?}") });
            out.print(&v, |_| format!("store at {} verified: {report:?}", db.display()));
            Ok(())
        }
        Err(e) => Err(CliError::failure(format!("verification failed: {e}"))),
    }
}
