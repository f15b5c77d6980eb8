//! GS1's EPCIS 2.0 JSON Schema, run by a validator written elsewhere (Python `jsonschema`, in
//! the `.venv` that `scripts/setup.sh` makes) through `scripts/epcis_schema_check.py`. Shared by
//! the ledger's export tests and the node's REST binding tests (included by path); and
//! `run_script`, how every test runs a Python tool (also the foreign clients, `python_clients`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
use std::path::PathBuf;

/// Run GS1's EPCIS 2.0 JSON Schema, through a validator written elsewhere (Python `jsonschema`
/// in the project's `.venv`, made by `scripts/setup.sh`), over `docs` (name, JSON text); returns
/// whether all passed and what it printed.
pub fn check(docs: &[(String, String)]) -> (bool, String) {
    // Both crates that use this live one level below the repository root.
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = repo.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh (it makes the Python test environment)",
        python.display()
    );
    let input: Vec<serde_json::Value> = docs
        .iter()
        .map(|(name, text)| {
            serde_json::json!({ "name": name, "document": serde_json::from_str::<serde_json::Value>(text).unwrap() })
        })
        .collect();
    let out = run_script(
        &python,
        &repo.join("scripts/epcis_schema_check.py"),
        &[repo.join("../shared/testdata/epcis/spec/EPCIS-JSON-Schema.json")],
        serde_json::to_string(&input).unwrap().as_bytes(),
        &[],
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Run a Python `script` (with `args`, in its own directory, extra `env`) under `python`, `stdin`
/// written to it; its output. The one way the tests run tools written elsewhere.
pub fn run_script(
    python: &std::path::Path,
    script: &std::path::Path,
    args: &[PathBuf],
    stdin: &[u8],
    env: &[(&str, &str)],
) -> std::process::Output {
    use std::io::Write;
    let mut child = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .current_dir(script.parent().unwrap())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}
