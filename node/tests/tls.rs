//! TLS on the API ports, over real sockets on 127.0.0.1: gRPC and HTTP (health and the EPCIS REST
//! binding) with the node's one loader (`tls::ServerTls::load`) and accept loop; the right CA
//! works, a wrong CA does not; client certificates (mTLS) required or optional; plaintext,
//! garbage and stalled handshakes close only their own connection; load errors name the key.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};
use tradechain_node::config::TlsSection;
use tradechain_node::grpc::scenario::{CHAIN_ID, Scenario};
use tradechain_node::grpc::{Backend, RunningServer, ServerLimits, spawn_local_tls};
use tradechain_node::tls::{ClientAuth, ServerTls};
use tradechain_proto::v1::{GetStatusRequest, node_service_client::NodeServiceClient};

/// A CA and what it signs (PEM text).
struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name.push(DnType::CommonName, name);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ca {
            cert: p.self_signed(&key).unwrap(),
            key,
        }
    }
    fn pem(&self) -> String {
        self.cert.pem()
    }
    /// (certificate chain PEM, key PEM)
    fn issue(&self, sans: &[&str], eku: ExtendedKeyUsagePurpose) -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        p.distinguished_name.push(DnType::CommonName, "tls test");
        p.extended_key_usages = vec![eku];
        let c = p.signed_by(&key, &self.cert, &self.key).unwrap();
        (format!("{}{}", c.pem(), self.pem()), key.serialize_pem())
    }
    fn server(&self) -> (String, String) {
        self.issue(&["127.0.0.1", "localhost"], ExtendedKeyUsagePurpose::ServerAuth)
    }
    fn client(&self) -> (String, String) {
        self.issue(&[], ExtendedKeyUsagePurpose::ClientAuth)
    }
}

struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
    members: Ca,
    other: Ca,
}

impl Pki {
    fn new() -> Pki {
        let p = Pki {
            dir: tempfile::tempdir().unwrap(),
            ca: Ca::new("node CA"),
            members: Ca::new("members CA"),
            other: Ca::new("another network's CA"),
        };
        let (cert, key) = p.ca.server();
        p.write("node.pem", &cert);
        p.write("node.key", &key);
        p.write("ca.pem", &p.ca.pem());
        p.write("members.pem", &p.members.pem());
        p.write("other.pem", &p.other.pem());
        p
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Write a file; keys (`*.key`) 0600, as the node requires.
    fn write(&self, name: &str, text: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(self.path(name), text).unwrap();
        if name.ends_with(".key") {
            std::fs::set_permissions(self.path(name), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        self.path(name)
    }
    fn section(&self, grpc: ClientAuth, http: ClientAuth) -> TlsSection {
        TlsSection {
            cert_file: self.path("node.pem"),
            key_file: self.path("node.key"),
            client_ca_file: (grpc != ClientAuth::None || http != ClientAuth::None).then(|| self.path("members.pem")),
            grpc_client_auth: grpc,
            http_client_auth: http,
            handshake_timeout_ms: 500,
        }
    }
}

async fn grpc_server(t: &ServerTls) -> RunningServer {
    let backend: Arc<dyn Backend> = Scenario::trade().backend.clone();
    spawn_local_tls(backend, ServerLimits::default(), Some(t.grpc.clone()))
        .await
        .unwrap()
}

/// GetStatus over a fresh TLS channel trusting `ca`, with an optional client identity.
async fn status(url: &str, ca: &str, identity: Option<&(String, String)>) -> Result<String, String> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    if let Some((c, k)) = identity {
        tls = tls.identity(Identity::from_pem(c, k));
    }
    let ch = Channel::from_shared(url.to_string())
        .unwrap()
        .tls_config(tls)
        .map_err(|e| format!("config: {e}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(5))
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    NodeServiceClient::new(ch)
        .get_status(GetStatusRequest {})
        .await
        .map(|r| r.into_inner().chain_id)
        .map_err(|s| format!("call: {s:?}"))
}

/// Bytes sent raw to `addr`; what comes back before the server closes (or 2 s pass).
async fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(bytes).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut out)).await;
    out
}

#[tokio::test]
async fn grpc_over_tls_needs_the_right_ca_and_survives_plaintext_and_garbage() {
    let pki = Pki::new();
    let t = ServerTls::load(&pki.section(ClientAuth::None, ClientAuth::None)).unwrap();
    let server = grpc_server(&t).await;
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    assert_eq!(status(&url, &pki.ca.pem(), None).await.unwrap(), CHAIN_ID);
    // localhost is in the certificate too.
    let by_name = url.replace("127.0.0.1", "localhost");
    assert_eq!(status(&by_name, &pki.ca.pem(), None).await.unwrap(), CHAIN_ID);

    // A client trusting another CA does not get through.
    let e = status(&url, &pki.other.pem(), None).await.unwrap_err();
    assert!(e.contains("connect") || e.contains("call"), "{e}");

    // Plaintext gRPC (HTTP/2 prior knowledge) to the TLS port: refused, and no HTTP/2 answer.
    let plain = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .timeout(Duration::from_secs(5))
        .connect()
        .await;
    if let Ok(ch) = plain {
        assert!(
            NodeServiceClient::new(ch)
                .get_status(GetStatusRequest {})
                .await
                .is_err()
        );
    }
    let answer = raw(server.addr, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
    assert!(!answer.windows(8).any(|w| w == b"HTTP/2.0"), "{answer:?}");
    // Garbage, a truncated ClientHello, a huge record length: each closes its connection only.
    raw(server.addr, &[0u8; 4096]).await;
    raw(server.addr, &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]).await;
    raw(server.addr, &[0x16, 0x03, 0x03, 0xff, 0xff]).await;
    let junk: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    raw(server.addr, &junk).await;

    // Stalled clients (connected, silent) neither block other handshakes nor stay forever.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    let t0 = Instant::now();
    assert_eq!(status(&url, &pki.ca.pem(), None).await.unwrap(), CHAIN_ID);
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "a handshake waited {:?}",
        t0.elapsed()
    );
    let mut buf = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(5), idle[0].read(&mut buf)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "a silent connection outlived the handshake deadline: {closed:?}"
    );

    // Still serving; each refusal counted (tradechain_tls_refused_total).
    assert_eq!(status(&url, &pki.ca.pem(), None).await.unwrap(), CHAIN_ID);
    let r = &t.grpc.refused;
    assert!(r.failed.get() >= 5, "failed handshakes counted: {}", r.failed.get());
    assert!(
        r.timed_out.get() >= 1,
        "timed-out handshakes counted: {}",
        r.timed_out.get()
    );
    assert_eq!(r.busy.get(), 0);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn required_client_certificates_admit_only_the_member_ca() {
    let pki = Pki::new();
    let t = ServerTls::load(&pki.section(ClientAuth::Required, ClientAuth::None)).unwrap();
    let server = grpc_server(&t).await;
    let url = server.url();
    let ca = pki.ca.pem();

    let e = status(&url, &ca, None).await.unwrap_err();
    assert!(!e.is_empty(), "no client certificate was let in");
    let foreign = pki.other.client();
    status(&url, &ca, Some(&foreign))
        .await
        .expect_err("a client certificate of another CA was let in");
    // A server certificate of the member CA is not a client certificate (EKU serverAuth only).
    let wrong_use = pki.members.server();
    status(&url, &ca, Some(&wrong_use))
        .await
        .expect_err("a certificate without clientAuth was let in");
    let member = pki.members.client();
    assert_eq!(status(&url, &ca, Some(&member)).await.unwrap(), CHAIN_ID);
    server.stop().await.unwrap();

    // Optional: no certificate is served, a foreign one is not.
    let t = ServerTls::load(&pki.section(ClientAuth::Optional, ClientAuth::None)).unwrap();
    let server = grpc_server(&t).await;
    let url = server.url();
    assert_eq!(status(&url, &ca, None).await.unwrap(), CHAIN_ID);
    assert_eq!(status(&url, &ca, Some(&member)).await.unwrap(), CHAIN_ID);
    status(&url, &ca, Some(&foreign))
        .await
        .expect_err("optional client auth let a foreign certificate in");
    server.stop().await.unwrap();
}

/// An HTTP/1.1 GET over TLS trusting `ca`: the whole response, or the error.
async fn https_get(
    addr: SocketAddr,
    ca: &str,
    path: &str,
    identity: Option<&(String, String)>,
) -> Result<String, String> {
    https_request(addr, ca, "GET", path, b"", identity).await
}

/// An HTTP/1.1 request over TLS trusting `ca`: the whole response, or the error.
async fn https_request(
    addr: SocketAddr,
    ca: &str,
    method: &str,
    path: &str,
    body: &[u8],
    identity: Option<&(String, String)>,
) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in tradechain_node::tls::read_certs_pem("ca", ca.as_bytes()).unwrap() {
        roots.add(c).unwrap();
    }
    let b = rustls::ClientConfig::builder_with_provider(tradechain_node::tls::provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .unwrap()
        .with_root_certificates(roots);
    let mut cfg = match identity {
        None => b.with_no_client_auth(),
        Some((c, k)) => b
            .with_client_auth_cert(
                tradechain_node::tls::read_certs_pem("c", c.as_bytes()).unwrap(),
                rustls::pki_types::PrivateKeyDer::from_pem_slice(k.as_bytes()).unwrap(),
            )
            .unwrap(),
    };
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut s = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    assert_eq!(s.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(req.as_bytes()).await.map_err(|e| format!("write: {e}"))?;
    s.write_all(body).await.map_err(|e| format!("write: {e}"))?;
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out))
        .await
        .map_err(|_| "timeout".to_string())?
        .map_err(|e| format!("read: {e}"))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

async fn http_server(tls: &ServerTls) -> SocketAddr {
    let backend: Arc<dyn Backend> = Scenario::trade().backend.clone();
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(tradechain_node::epcis_rest::router(backend, None));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(tradechain_node::api::serve_http(l, app, Some(tls.http.clone())));
    addr
}

#[tokio::test]
async fn http_over_tls_serves_health_and_epcis_and_survives_plaintext() {
    let pki = Pki::new();
    let t = ServerTls::load(&pki.section(ClientAuth::None, ClientAuth::None)).unwrap();
    let addr = http_server(&t).await;
    let ca = pki.ca.pem();
    let r = https_get(addr, &ca, "/healthz", None).await.unwrap();
    assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("ok"), "{r}");
    let r = https_get(addr, &ca, "/eventTypes", None).await.unwrap();
    assert!(r.starts_with("HTTP/1.1 200") && r.contains("ObjectEvent"), "{r}");
    https_get(addr, &pki.other.pem(), "/healthz", None)
        .await
        .expect_err("a client trusting another CA got through");

    // A plaintext HTTP request to the TLS port gets no HTTP answer, and the port still serves.
    let answer = raw(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(!answer.starts_with(b"HTTP/"), "{:?}", String::from_utf8_lossy(&answer));
    raw(addr, &[0xff; 10_000]).await;
    let r = https_get(addr, &ca, "/healthz", None).await.unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");

    // The HTTP port may require member certificates too (its own setting).
    let t = ServerTls::load(&pki.section(ClientAuth::None, ClientAuth::Required)).unwrap();
    let addr = http_server(&t).await;
    let refused = https_get(addr, &ca, "/healthz", None).await;
    assert!(
        refused.as_ref().map_or(true, |r| !r.starts_with("HTTP/1.1 200")),
        "{refused:?}"
    );
    let r = https_get(addr, &ca, "/healthz", Some(&pki.members.client()))
        .await
        .unwrap();
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
}

/// A TLS handshake (ALPN h2) with the gRPC port from a given local address.
async fn handshake_from(addr: SocketAddr, from: [u8; 4], ca: &str) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in tradechain_node::tls::read_certs_pem("ca", ca.as_bytes()).unwrap() {
        roots.add(c).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(tradechain_node::tls::provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from((from, 0))).unwrap();
    let tcp = sock.connect(addr).await.map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let connect = tokio_rustls::TlsConnector::from(Arc::new(cfg)).connect(name, tcp);
    match tokio::time::timeout(Duration::from_secs(3), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timeout".into()),
    }
}

#[tokio::test]
async fn one_address_cannot_hold_every_handshake() {
    let pki = Pki::new();
    let mut section = pki.section(ClientAuth::None, ClientAuth::None);
    section.handshake_timeout_ms = 20_000;
    let t = ServerTls::load(&section).unwrap();
    let server = grpc_server(&t).await;
    let ca = pki.ca.pem();
    handshake_from(server.addr, [127, 0, 0, 1], &ca).await.unwrap();
    // As many silent connections from 127.0.0.1 as one address may have in handshake.
    let mut idle = Vec::new();
    for _ in 0..tradechain_node::tls::MAX_HANDSHAKES_PER_IP {
        idle.push(tokio::net::TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // That address gets no more; another address does, at once.
    let e = handshake_from(server.addr, [127, 0, 0, 1], &ca).await.unwrap_err();
    assert_ne!(e, "timeout", "the connection should be closed at once");
    assert_eq!(t.grpc.refused.busy.get(), 1);
    let t0 = Instant::now();
    handshake_from(server.addr, [127, 0, 0, 2], &ca).await.unwrap();
    assert!(t0.elapsed() < Duration::from_secs(2));
    // Once they go, the address is served again.
    drop(idle);
    tokio::time::sleep(Duration::from_millis(300)).await;
    handshake_from(server.addr, [127, 0, 0, 1], &ca).await.unwrap();
    server.stop().await.unwrap();
}

/// An EPCIS REST subscription (WebSocket) over TLS: `wss://`, trusting `ca`.
fn wss_first_message(addr: SocketAddr, ca: &str, path: &str) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in tradechain_node::tls::read_certs_pem("ca", ca.as_bytes()).unwrap() {
        roots.add(c).unwrap();
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(tradechain_node::tls::provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(cfg), name).unwrap();
    let tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let tls = rustls::StreamOwned::new(conn, tcp);
    let (mut ws, _) =
        tungstenite::client::client(format!("wss://{addr}{path}"), tls).map_err(|e| format!("upgrade: {e}"))?;
    let msg = ws.read().map_err(|e| format!("read: {e}"))?;
    Ok(msg.into_text().map_err(|e| e.to_string())?.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn epcis_named_query_streams_over_wss() {
    let pki = Pki::new();
    let t = ServerTls::load(&pki.section(ClientAuth::None, ClientAuth::None)).unwrap();
    let addr = http_server(&t).await;
    let ca = pki.ca.pem();
    let def = br#"{"name":"everything","query":{}}"#;
    let r = https_request(addr, &ca, "POST", "/queries", def, None).await.unwrap();
    assert!(r.starts_with("HTTP/1.1 201"), "{r}");
    let path = "/queries/everything/subscriptions?stream=true&initialRecordTime=1970-01-01T00:00:00Z";
    let (ca2, path2) = (ca.clone(), path.to_string());
    let first = tokio::task::spawn_blocking(move || wss_first_message(addr, &ca2, &path2))
        .await
        .unwrap()
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(v["type"], "EPCISQueryDocument", "{first}");
    assert_eq!(v["epcisBody"]["queryResults"]["queryName"], "everything", "{first}");
    // Another CA's client cannot subscribe.
    let other = pki.other.pem();
    let refused = tokio::task::spawn_blocking(move || wss_first_message(addr, &other, path))
        .await
        .unwrap();
    assert!(refused.is_err(), "{refused:?}");
}

#[test]
fn load_errors_name_the_config_key() {
    let pki = Pki::new();
    let ok = pki.section(ClientAuth::Required, ClientAuth::None);
    ServerTls::load(&ok).unwrap();
    let key_of = |t: &TlsSection| ServerTls::load(t).unwrap_err();

    let mut t = ok.clone();
    t.cert_file = pki.path("missing.pem");
    let e = key_of(&t);
    assert_eq!(e.key, "tls.cert_file");
    assert!(e.to_string().contains("missing.pem"), "{e}");

    // A key others can read.
    let mut t = ok.clone();
    t.key_file = pki.write("open.key", &std::fs::read_to_string(pki.path("node.key")).unwrap());
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&t.key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let e = key_of(&t);
    assert_eq!(e.key, "tls.key_file");
    assert!(e.msg.contains("chmod 600"), "{e}");

    let mut t = ok.clone();
    t.key_file = pki.write(
        "garbage.key",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    assert_eq!(key_of(&t).key, "tls.key_file");

    // A key that is not the certificate's.
    let mut t = ok.clone();
    let (_, other_key) = pki.ca.server();
    t.key_file = pki.write("other.key", &other_key);
    let e = key_of(&t);
    assert_eq!(e.key, "tls.key_file", "{e}");

    // The certificate file holds only a key.
    let mut t = ok.clone();
    t.cert_file = pki.path("node.key");
    assert_eq!(key_of(&t).key, "tls.cert_file");

    let mut t = ok.clone();
    t.client_ca_file = Some(pki.write("empty.pem", ""));
    assert_eq!(key_of(&t).key, "tls.client_ca_file");
    let mut t = ok;
    t.client_ca_file = Some(Path::new("/nonexistent/ca.pem").into());
    assert_eq!(key_of(&t).key, "tls.client_ca_file");
}
