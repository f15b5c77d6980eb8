//! The node's TOML configuration. Unknown keys and bad values are errors that name the key.
//!
//! Invariants: a loaded `NodeConfig` has passed `validate` (addresses parse, limits positive,
//! a validator names its consensus key file) and, with `[tls]`, its certificate, key and client
//! CA files load (`tls::ServerTls::load`); relative paths are resolved against the config file's
//! directory.
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    Validator,
    Observer,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub node: NodeSection,
    pub p2p: P2pSection,
    pub grpc: GrpcSection,
    #[serde(default)]
    pub http: HttpSection,
    /// TLS on the gRPC and HTTP ports; plaintext when absent.
    #[serde(default)]
    pub tls: Option<TlsSection>,
    #[serde(default)]
    pub mempool: MempoolSection,
    #[serde(default)]
    pub log: LogSection,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// A human name for logs and status.
    pub name: String,
    pub role: NodeRole,
    pub data_dir: PathBuf,
    pub genesis: PathBuf,
    /// The libp2p identity (ed25519 seed file, 0600); must be one of the org's registered node keys.
    pub node_key: PathBuf,
    /// Validator only: the consensus signing key (0600) of the validator entry in genesis.
    #[serde(default)]
    pub consensus_key: Option<PathBuf>,
    /// Validator only: start even if the consensus WAL is unreadable, discarding it. Off by
    /// default — a validator that forgets what it signed at the current height can double-sign;
    /// set it (or pass `node run --discard-unreadable-wal`) only after a human decided it is safe.
    #[serde(default)]
    pub discard_unreadable_wal: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct P2pSection {
    pub listen: Vec<String>,
    #[serde(default)]
    pub bootstrap: Vec<String>,
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcSection {
    pub listen: String,
    #[serde(default = "default_max_message")]
    pub max_message_bytes: usize,
    #[serde(default = "default_concurrency")]
    pub concurrency_per_connection: usize,
    #[serde(default = "default_request_timeout")]
    pub request_timeout_ms: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// Prometheus `/metrics`, the GS1 Digital Link resolver and the EPCIS 2.0 REST binding; off
    /// when absent.
    #[serde(default)]
    pub listen: Option<String>,
    /// EPCIS REST capture (`POST /capture`): the node signs captured events for this one org.
    /// Off when absent (capture answers 501).
    #[serde(default)]
    pub epcis_capture: Option<EpcisCaptureSection>,
    /// EPCIS REST webhook subscriptions (`POST /queries/{name}/subscriptions`): their bounds.
    #[serde(default)]
    pub epcis_webhooks: EpcisWebhooksSection,
}

/// `[http.epcis_webhooks]`: the bounds of webhook subscriptions (`epcis_rest::webhook`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpcisWebhooksSection {
    /// Deliver to loopback, private, link-local and other non-global addresses. Off by default:
    /// a member could otherwise make the node POST into the node's own network (SSRF).
    #[serde(default)]
    pub allow_private_destinations: bool,
    /// Webhooks one org may hold (0: webhooks off).
    #[serde(default = "default_webhooks_per_org")]
    pub max_per_org: usize,
    /// Webhooks on this node.
    #[serde(default = "default_webhooks_total")]
    pub max_total: usize,
    /// One delivery (connect, send, the response's head), ms.
    #[serde(default = "default_webhook_timeout")]
    pub timeout_ms: u64,
    /// One delivery's body.
    #[serde(default = "default_webhook_body")]
    pub max_body_bytes: usize,
    /// How far a signed creation request's time may be from the node's clock.
    #[serde(default = "default_capture_skew")]
    pub auth_skew_ms: u64,
}

impl Default for EpcisWebhooksSection {
    fn default() -> Self {
        EpcisWebhooksSection {
            allow_private_destinations: false,
            max_per_org: default_webhooks_per_org(),
            max_total: default_webhooks_total(),
            timeout_ms: default_webhook_timeout(),
            max_body_bytes: default_webhook_body(),
            auth_skew_ms: default_capture_skew(),
        }
    }
}

/// `[http.epcis_capture]`: who the node captures EPCIS events for, and the limits.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpcisCaptureSection {
    /// The org whose events the node signs; only requests signed by this org may capture.
    pub org: String,
    /// The key id of `key_file` among the org's keys.
    pub key_id: u32,
    /// The org's signing key (0600), as `tradechain keys generate` writes it.
    pub key_file: PathBuf,
    /// Events per capture (`GS1-EPCIS-Capture-Limit`).
    #[serde(default = "default_capture_events")]
    pub max_events: usize,
    /// Bytes per capture document (`GS1-EPCIS-Capture-File-Size-Limit`).
    #[serde(default = "default_capture_bytes")]
    pub max_body_bytes: usize,
    /// How far a signed request's time may be from the node's clock.
    #[serde(default = "default_capture_skew")]
    pub auth_skew_ms: u64,
}

/// `[tls]`: one certificate for both API ports (gRPC and HTTP), which then speak only TLS; the
/// libp2p port is not affected (it has its own Noise encryption and member allow-list).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// The node's certificate chain, PEM, leaf first; its SANs must name the address clients use.
    pub cert_file: PathBuf,
    /// The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1), 0600.
    pub key_file: PathBuf,
    /// The CA (PEM, one or more certificates) that member systems' client certificates chain to.
    #[serde(default)]
    pub client_ca_file: Option<PathBuf>,
    /// Client certificates on the gRPC port: "none" (default), "optional" or "required".
    #[serde(default)]
    pub grpc_client_auth: crate::tls::ClientAuth,
    /// Client certificates on the HTTP port (the public resolver page is there: usually "none").
    #[serde(default)]
    pub http_client_auth: crate::tls::ClientAuth,
    /// How long a client may take to finish its TLS handshake.
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MempoolSection {
    pub max_txs: usize,
    pub max_bytes: usize,
}

impl Default for MempoolSection {
    fn default() -> Self {
        MempoolSection {
            max_txs: 100_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    #[serde(default = "default_log_format")]
    pub format: String,
    #[serde(default = "default_log_level")]
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            format: default_log_format(),
            level: default_log_level(),
        }
    }
}

fn default_max_message() -> usize {
    16 * 1024 * 1024
}
fn default_concurrency() -> usize {
    64
}
fn default_request_timeout() -> u64 {
    30_000
}
fn default_capture_events() -> usize {
    500
}
fn default_capture_bytes() -> usize {
    4 * 1024 * 1024
}
fn default_capture_skew() -> u64 {
    60_000
}
fn default_webhooks_per_org() -> usize {
    4
}
fn default_webhooks_total() -> usize {
    256
}
fn default_webhook_timeout() -> u64 {
    10_000
}
fn default_webhook_body() -> usize {
    1024 * 1024
}
fn default_handshake_timeout() -> u64 {
    10_000
}
fn default_log_format() -> String {
    "human".into()
}
fn default_log_level() -> String {
    "info".into()
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {err}")]
    Read { path: String, err: String },
    #[error("{path}: {msg}")]
    Parse { path: String, msg: String },
    #[error("{path}: {key}: {msg}")]
    Invalid { path: String, key: String, msg: String },
}

impl NodeConfig {
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            err: e.to_string(),
        })?;
        let mut cfg = NodeConfig::parse(&text).map_err(|msg| ConfigError::Parse {
            path: path.display().to_string(),
            msg,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.resolve_paths(base);
        cfg.validate().map_err(|(key, msg)| ConfigError::Invalid {
            path: path.display().to_string(),
            key,
            msg,
        })?;
        // The TLS files are read now, so a bad one stops `node run` before anything starts.
        if let Some(t) = &cfg.tls {
            crate::tls::ServerTls::load(t).map_err(|e| ConfigError::Invalid {
                path: path.display().to_string(),
                key: e.key.to_string(),
                msg: e.msg,
            })?;
        }
        Ok(cfg)
    }

    /// Parse TOML; toml's messages name the unknown or mistyped key and its line.
    pub fn parse(text: &str) -> Result<NodeConfig, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim().to_string())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.node.data_dir);
        fix(&mut self.node.genesis);
        fix(&mut self.node.node_key);
        if let Some(k) = self.node.consensus_key.as_mut() {
            fix(k);
        }
        if let Some(c) = self.http.epcis_capture.as_mut() {
            fix(&mut c.key_file);
        }
        if let Some(t) = self.tls.as_mut() {
            fix(&mut t.cert_file);
            fix(&mut t.key_file);
            if let Some(ca) = t.client_ca_file.as_mut() {
                fix(ca);
            }
        }
    }

    /// The first bad value, as (key, message).
    pub fn validate(&self) -> Result<(), (String, String)> {
        let bad = |k: &str, m: String| Err((k.to_string(), m));
        if self.node.name.trim().is_empty() {
            return bad("node.name", "must not be empty".into());
        }
        if self.node.role == NodeRole::Validator && self.node.consensus_key.is_none() {
            return bad("node.consensus_key", "a validator needs its consensus key file".into());
        }
        if self.p2p.listen.is_empty() {
            return bad("p2p.listen", "at least one listen address is needed".into());
        }
        for (i, a) in self.p2p.listen.iter().chain(&self.p2p.bootstrap).enumerate() {
            if a.parse::<libp2p::Multiaddr>().is_err() {
                let key = if i < self.p2p.listen.len() {
                    "p2p.listen"
                } else {
                    "p2p.bootstrap"
                };
                return bad(key, format!("{a:?} is not a multiaddr (e.g. /ip4/127.0.0.1/tcp/7001)"));
            }
        }
        if self.grpc.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad(
                "grpc.listen",
                format!("{:?} is not an address like 127.0.0.1:9001", self.grpc.listen),
            );
        }
        if let Some(h) = &self.http.listen
            && h.parse::<std::net::SocketAddr>().is_err()
        {
            return bad("http.listen", format!("{h:?} is not an address like 127.0.0.1:8001"));
        }
        if let Some(c) = &self.http.epcis_capture {
            if self.http.listen.is_none() {
                return bad(
                    "http.epcis_capture",
                    "needs http.listen (capture is served on the HTTP port)".into(),
                );
            }
            if let Err(e) = tradechain_ledger::OrgId::new(&c.org) {
                return bad("http.epcis_capture.org", format!("{:?}: {e}", c.org));
            }
            // Each event is one transaction of the org: a sender holds at most 10,000 nonces of a mempool.
            if c.max_events == 0 || c.max_events > 10_000 {
                return bad("http.epcis_capture.max_events", "must be 1-10000".into());
            }
            if c.max_body_bytes == 0 || c.max_body_bytes > 64 * 1024 * 1024 {
                return bad("http.epcis_capture.max_body_bytes", "must be 1 byte to 64 MiB".into());
            }
            if c.auth_skew_ms == 0 {
                return bad("http.epcis_capture.auth_skew_ms", "must be positive".into());
            }
        }
        let w = &self.http.epcis_webhooks;
        if w.max_total == 0 || w.max_total > 10_000 {
            return bad("http.epcis_webhooks.max_total", "must be 1-10000".into());
        }
        if w.timeout_ms == 0 || w.timeout_ms > 120_000 {
            return bad("http.epcis_webhooks.timeout_ms", "must be 1-120000".into());
        }
        if w.max_body_bytes < 4096 || w.max_body_bytes > 64 * 1024 * 1024 {
            return bad("http.epcis_webhooks.max_body_bytes", "must be 4 KiB to 64 MiB".into());
        }
        if w.auth_skew_ms == 0 {
            return bad("http.epcis_webhooks.auth_skew_ms", "must be positive".into());
        }
        if let Some(t) = &self.tls {
            use crate::tls::ClientAuth;
            for (k, a) in [
                ("tls.grpc_client_auth", t.grpc_client_auth),
                ("tls.http_client_auth", t.http_client_auth),
            ] {
                if a != ClientAuth::None && t.client_ca_file.is_none() {
                    return bad(
                        k,
                        format!("{a:?} client certificates need tls.client_ca_file").to_lowercase(),
                    );
                }
            }
            if t.client_ca_file.is_some()
                && t.grpc_client_auth == ClientAuth::None
                && t.http_client_auth == ClientAuth::None
            {
                return bad(
                    "tls.client_ca_file",
                    "is set, but neither tls.grpc_client_auth nor tls.http_client_auth asks for client certificates"
                        .into(),
                );
            }
            if t.handshake_timeout_ms == 0 {
                return bad("tls.handshake_timeout_ms", "must be positive".into());
            }
        }
        for (k, v) in [
            ("p2p.max_message_bytes", self.p2p.max_message_bytes),
            ("grpc.max_message_bytes", self.grpc.max_message_bytes),
            ("grpc.concurrency_per_connection", self.grpc.concurrency_per_connection),
            ("mempool.max_txs", self.mempool.max_txs),
            ("mempool.max_bytes", self.mempool.max_bytes),
        ] {
            if v == 0 {
                return bad(k, "must be positive".into());
            }
        }
        if !matches!(self.log.format.as_str(), "human" | "json") {
            return bad(
                "log.format",
                format!("{:?}: expected \"human\" or \"json\"", self.log.format),
            );
        }
        Ok(())
    }

    /// A commented default config (`tradechain node init`).
    pub fn default_toml(name: &str) -> String {
        format!(
            r#"# tradechain node configuration. Unknown keys are errors.
[node]
name = "{name}"
# "validator" votes in consensus; "observer" follows the chain and serves reads.
role = "observer"
data_dir = "data"
genesis = "genesis.json"
# libp2p identity (0600); its public key must be registered as one of your org's node keys.
node_key = "keys/node.key"
# Validators only: the consensus key named in genesis' validator set.
# consensus_key = "keys/consensus.key"

[p2p]
listen = ["/ip4/127.0.0.1/tcp/7001"]
# Peers with their PeerId, e.g. "/ip4/127.0.0.1/tcp/7002/p2p/12D3Koo..."
bootstrap = []
max_message_bytes = 16777216

[grpc]
listen = "127.0.0.1:9001"
max_message_bytes = 16777216
concurrency_per_connection = 64
request_timeout_ms = 30000

[http]
# Prometheus /metrics, the GS1 Digital Link resolver page and the EPCIS 2.0 REST binding.
listen = "127.0.0.1:8001"

# EPCIS REST capture (POST /capture): off unless set. The node then signs captured events for
# this one org with its key; only requests signed by the same org are accepted (README).
# [http.epcis_capture]
# org = "PRODUCER-FZ"
# key_id = 0
# key_file = "keys/producer-fz.key"
# max_events = 500
# max_body_bytes = 4194304
# auth_skew_ms = 60000

# EPCIS REST webhook subscriptions (POST /queries/{name}/subscriptions, org-signed): the node
# POSTs new matching events to each subscriber's http:// URL. Destinations on loopback, private
# or link-local addresses are refused unless allowed (SSRF: a member could make the node call
# into its own network); allow them only where every member may reach that network anyway.
# [http.epcis_webhooks]
# allow_private_destinations = false
# max_per_org = 4
# max_total = 256
# timeout_ms = 10000
# max_body_bytes = 1048576

# TLS on the gRPC and HTTP ports: off unless set (README "TLS"). `tradechain tls ca` and
# `tradechain tls cert` make a CA and certificates. With client_ca_file, a port can ask member
# systems for client certificates: "none", "optional" or "required".
# [tls]
# cert_file = "tls/node.pem"
# key_file = "tls/node.key"
# client_ca_file = "tls/members-ca.pem"
# grpc_client_auth = "required"
# http_client_auth = "none"

[mempool]
max_txs = 100000
max_bytes = 268435456

[log]
format = "human"   # or "json"
level = "info"
"#
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn default_config_parses_and_validates() {
        let cfg = NodeConfig::parse(&NodeConfig::default_toml("n1")).unwrap();
        assert_eq!(cfg.node.role, NodeRole::Observer);
        cfg.validate().unwrap();
    }

    #[test]
    fn epcis_capture_is_off_by_default_and_checked_when_set() {
        let cfg = NodeConfig::parse(&NodeConfig::default_toml("n1")).unwrap();
        assert!(cfg.http.epcis_capture.is_none());
        let on = NodeConfig::default_toml("n1").replace(
            "# [http.epcis_capture]\n# org = \"PRODUCER-FZ\"\n# key_id = 0\n# key_file = \"keys/producer-fz.key\"",
            "[http.epcis_capture]\norg = \"PRODUCER-FZ\"\nkey_id = 0\nkey_file = \"keys/producer-fz.key\"",
        );
        let mut cfg = NodeConfig::parse(&on).unwrap();
        let c = cfg.http.epcis_capture.clone().unwrap();
        assert_eq!((c.org.as_str(), c.key_id, c.max_events), ("PRODUCER-FZ", 0, 500));
        cfg.validate().unwrap();
        cfg.resolve_paths(Path::new("/etc/tc"));
        assert_eq!(
            cfg.http.epcis_capture.as_ref().unwrap().key_file,
            Path::new("/etc/tc/keys/producer-fz.key")
        );
        cfg.http.epcis_capture.as_mut().unwrap().max_events = 0;
        assert_eq!(cfg.validate().unwrap_err().0, "http.epcis_capture.max_events");
        cfg.http.epcis_capture.as_mut().unwrap().max_events = 5;
        cfg.http.listen = None;
        assert_eq!(cfg.validate().unwrap_err().0, "http.epcis_capture");
    }

    #[test]
    fn tls_is_off_by_default_and_checked_when_set() {
        let cfg = NodeConfig::parse(&NodeConfig::default_toml("n1")).unwrap();
        assert!(cfg.tls.is_none());
        let on = NodeConfig::default_toml("n1").replace(
            "# [tls]\n# cert_file = \"tls/node.pem\"\n# key_file = \"tls/node.key\"",
            "[tls]\ncert_file = \"tls/node.pem\"\nkey_file = \"tls/node.key\"",
        );
        let mut cfg = NodeConfig::parse(&on).unwrap();
        cfg.validate().unwrap();
        cfg.resolve_paths(Path::new("/etc/tc"));
        let t = cfg.tls.clone().unwrap();
        assert_eq!(t.cert_file, Path::new("/etc/tc/tls/node.pem"));
        assert_eq!(t.grpc_client_auth, crate::tls::ClientAuth::None);
        cfg.tls.as_mut().unwrap().grpc_client_auth = crate::tls::ClientAuth::Required;
        assert_eq!(cfg.validate().unwrap_err().0, "tls.grpc_client_auth");
        cfg.tls.as_mut().unwrap().client_ca_file = Some("ca.pem".into());
        cfg.validate().unwrap();
        cfg.tls.as_mut().unwrap().grpc_client_auth = crate::tls::ClientAuth::None;
        assert_eq!(cfg.validate().unwrap_err().0, "tls.client_ca_file");
        let err = NodeConfig::parse(&on.replace(
            "key_file = \"tls/node.key\"",
            "key_file = \"k\"\ngrpc_client_auth = \"maybe\"",
        ))
        .unwrap_err();
        assert!(err.contains("grpc_client_auth") && err.contains("maybe"), "{err}");
    }

    #[test]
    fn unknown_key_is_named() {
        let text = NodeConfig::default_toml("n1").replace("[mempool]", "[mempool]\nmax_txz = 3");
        let err = NodeConfig::parse(&text).unwrap_err();
        assert!(err.contains("max_txz"), "{err}");
    }

    #[test]
    fn bad_value_is_named() {
        let text = NodeConfig::default_toml("n1").replace("127.0.0.1:9001", "nowhere");
        let err = NodeConfig::parse(&text).unwrap().validate().unwrap_err();
        assert_eq!(err.0, "grpc.listen");
        let text = NodeConfig::default_toml("n1").replace("role = \"observer\"", "role = \"validator\"");
        let err = NodeConfig::parse(&text).unwrap().validate().unwrap_err();
        assert_eq!(err.0, "node.consensus_key");
    }
}
