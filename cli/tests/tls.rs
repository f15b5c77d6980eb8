//! `testnet/up --mtls` with real processes: certificates made by `tradechain tls`, every API port
//! speaking TLS, gRPC requiring member client certificates. The CLI submits and queries over
//! https:// with --tls-ca/--tls-cert/--tls-key; without the CA, with another CA, without a client
//! certificate or with one of another CA it is refused; plaintext and garbage to the TLS ports
//! leave the node serving; HTTP (health, EPCIS REST) over TLS trusts the testnet CA.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod common;
use common::{BIN, Testnet};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

fn tc(endpoint: &str, tls: &[&Path], args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(["--endpoint", endpoint]);
    for (flag, p) in ["--tls-ca", "--tls-cert", "--tls-key"].iter().zip(tls) {
        c.arg(flag).arg(p);
    }
    // Nothing from the environment this test runs in.
    for v in [
        "TRADECHAIN_TLS_CA",
        "TRADECHAIN_TLS_CERT",
        "TRADECHAIN_TLS_KEY",
        "TRADECHAIN_KEY",
    ] {
        c.env_remove(v);
    }
    c.args(args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Raw bytes to a port; whatever comes back until it closes (2 s at most).
fn raw(port: u16, bytes: &[u8]) -> Vec<u8> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// GET over TLS trusting `ca` (PEM file): the whole response.
fn https_get(port: u16, ca: &Path, path: &str) -> Result<String, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut roots = rustls::RootCertStore::empty();
        for c in tradechain_node::tls::read_certs("ca", ca).unwrap() {
            roots.add(c).unwrap();
        }
        let cfg = rustls::ClientConfig::builder_with_provider(tradechain_node::tls::provider())
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| e.to_string())?;
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
        let mut s = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
            .await
            .map_err(|_| "timeout".to_string())?
            .map_err(|e| e.to_string())?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    })
}

#[test]
fn a_mtls_testnet_serves_members_with_certificates_and_refuses_the_rest() {
    let net = Testnet::new();
    net.script("up", &["--mtls", "--validators", "1", "--no-demo"]);
    let tls = net.data.join("tls");
    let (ca, cert, key) = (tls.join("ca.pem"), tls.join("client.pem"), tls.join("client.key"));
    let member: [&Path; 3] = [&ca, &cert, &key];
    let names = net.names();
    let obs = names.last().unwrap().clone();
    let https = net.endpoint(&obs).replace("http://", "https://");
    let grpc_port: u16 = https.rsplit(':').next().unwrap().parse().unwrap();
    let i = names.iter().position(|n| *n == obs).unwrap() as u16 + 1;
    let http_port = net.base + 20_000 + i;

    // The node config the testnet wrote: TLS with required client certificates on gRPC.
    let toml = std::fs::read_to_string(net.data.join(&obs).join("node.toml")).unwrap();
    assert!(
        toml.contains("[tls]") && toml.contains("grpc_client_auth = \"required\""),
        "{toml}"
    );
    // The testnet scripts reach the nodes over TLS with the member certificate.
    let status = net.script("status", &[]);
    assert!(text(&status).contains("height"), "{}", text(&status));
    let endpoints = text(&net.script("status", &["--endpoints"]));
    assert!(endpoints.lines().all(|l| l.starts_with("https://")), "{endpoints}");

    // A member system with the CA and its client certificate: reads and a submission that commits.
    let ok = tc(&https, &member, &["query", "status", "--output", "json"]);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("tradechain-testnet"), "{}", text(&ok));
    let commission = net.root.join("examples/commission.json");
    let producer_key = net.data.join("keys/producer-fz.key");
    let sub = tc(
        &https,
        &member,
        &[
            "submit",
            "event",
            commission.to_str().unwrap(),
            "--org",
            "PRODUCER-FZ",
            "--key",
            producer_key.to_str().unwrap(),
            "--wait",
        ],
    );
    assert!(sub.status.success(), "{}", text(&sub));

    // No CA for an https endpoint: a usage error naming the flag.
    let no_ca = tc(&https, &[], &["query", "status"]);
    assert_eq!(no_ca.status.code(), Some(2), "{}", text(&no_ca));
    assert!(text(&no_ca).contains("--tls-ca"), "{}", text(&no_ca));
    // A client certificate without its key: usage.
    let half = tc(&https, &[&ca, &cert], &["query", "status"]);
    assert_eq!(half.status.code(), Some(2), "{}", text(&half));
    // No client certificate: refused by the node.
    let anon = tc(&https, &[&ca], &["query", "status"]);
    assert!(!anon.status.success(), "{}", text(&anon));
    assert!(!text(&anon).contains("tradechain-testnet"), "{}", text(&anon));
    assert!(
        text(&anon).contains("--tls-cert"),
        "the refusal hints at the client certificate: {}",
        text(&anon)
    );

    // Another CA, and a client certificate it signed.
    let rogue = net.data.join("rogue");
    let r = Command::new(BIN)
        .args(["tls", "ca", "--name", "tradechain testnet CA", "--out-dir"])
        .arg(&rogue)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r));
    let r = Command::new(BIN)
        .args(["tls", "cert", "--name", "client", "--client", "--ca-dir"])
        .arg(&rogue)
        .arg("--out-dir")
        .arg(&rogue)
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", text(&r));
    let (rca, rcert, rkey) = (rogue.join("ca.pem"), rogue.join("client.pem"), rogue.join("client.key"));
    // Trusting the rogue CA (same name, other key): the node's certificate does not verify.
    let wrong_ca = tc(&https, &[&rca, &cert, &key], &["query", "status"]);
    assert_eq!(wrong_ca.status.code(), Some(4), "{}", text(&wrong_ca));
    assert!(
        text(&wrong_ca).contains("certificate"),
        "the cause is shown: {}",
        text(&wrong_ca)
    );
    // The rogue CA's client certificate: refused by the node.
    let wrong_client = tc(&https, &[&ca, &rcert, &rkey], &["query", "status"]);
    assert!(!wrong_client.status.success(), "{}", text(&wrong_client));
    assert!(!text(&wrong_client).contains("tradechain-testnet"));
    // Plaintext to the TLS port, by the CLI and raw; garbage too.
    let plain = tc(&net.endpoint(&obs), &[], &["query", "status"]);
    assert!(!plain.status.success(), "{}", text(&plain));
    for port in [grpc_port, http_port] {
        let answer = raw(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
        raw(port, &[0x16, 0x03, 0x01, 0xff, 0xff, 0x01]);
        raw(port, &[0u8; 8192]);
    }

    // HTTP over TLS (no client certificate asked on the HTTP port): health and the EPCIS binding.
    let h = https_get(http_port, &ca, "/healthz").unwrap();
    assert!(h.starts_with("HTTP/1.1 200") && h.ends_with("ok"), "{h}");
    let e = https_get(http_port, &ca, "/eventTypes").unwrap();
    assert!(e.starts_with("HTTP/1.1 200") && e.contains("ObjectEvent"), "{e}");
    assert!(https_get(http_port, &rca, "/healthz").is_err());
    // The refusals are counted per port and reason.
    let m = https_get(http_port, &ca, "/metrics").unwrap();
    for port in ["grpc", "http"] {
        let line = format!("tradechain_tls_refused_total{{port=\"{port}\",reason=\"handshake_failed\"}} ");
        let n: u64 = m
            .lines()
            .find_map(|l| l.strip_prefix(&line))
            .unwrap_or_else(|| panic!("no {line} in {m}"))
            .trim()
            .parse()
            .unwrap();
        assert!(n >= 2, "{line}{n}");
    }

    // The node is still up and serving members after all of it.
    let pid: u32 = std::fs::read_to_string(net.data.join(&obs).join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(common::alive(pid));
    let again = tc(&https, &member, &["query", "status"]);
    assert!(again.status.success(), "{}", text(&again));
}

#[test]
fn node_run_names_the_tls_key_of_a_bad_file() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("node.toml");
    let init = Command::new(BIN)
        .args(["node", "init", "--out"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(init.status.success(), "{}", text(&init));
    let on = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("# [tls]\n# cert_file", "[tls]\ncert_file")
        .replace("# key_file = \"tls/node.key\"", "key_file = \"tls/node.key\"");
    assert!(on.contains("[tls]\ncert_file"), "{on}");
    std::fs::write(&cfg, &on).unwrap();
    let run = |cfg: &Path| {
        Command::new(BIN)
            .args(["node", "run", "--config"])
            .arg(cfg)
            .output()
            .unwrap()
    };
    let out = run(&cfg);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("tls.cert_file") && text(&out).contains("node.pem"),
        "{}",
        text(&out)
    );
    // A certificate but a key that is not PEM.
    let tls = d.path().join("tls");
    let made = Command::new(BIN)
        .args(["tls", "ca", "--out-dir"])
        .arg(&tls)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let made = Command::new(BIN)
        .args(["tls", "cert", "--name", "node", "--san", "127.0.0.1", "--ca-dir"])
        .arg(&tls)
        .arg("--out-dir")
        .arg(&tls)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    std::fs::write(tls.join("node.key"), "garbage").unwrap();
    let out = run(&cfg);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("tls.key_file"), "{}", text(&out));
    // Client certificates asked for without a client CA: named too.
    std::fs::write(
        &cfg,
        on.replace(
            "key_file = \"tls/node.key\"",
            "key_file = \"tls/node.key\"\ngrpc_client_auth = \"required\"",
        ),
    )
    .unwrap();
    let out = run(&cfg);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("tls.grpc_client_auth"), "{}", text(&out));
}
