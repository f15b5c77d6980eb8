//! `tradechain tls`: a CA and certificates for the nodes' API ports and for member systems
//! (client certificates, mTLS), with rcgen (pure Rust, ECDSA P-256 over ring; no `openssl`).
//!
//! Invariants: keys are written 0600 and never printed; an existing file is overwritten only
//! with `--force`; every certificate issued is checked, before it is written, to chain to the CA
//! it was issued by (with rustls' own verifier, for its SANs or as a client), so a CA that this
//! command cannot reproduce as an issuer (one not made by `tls ca`) is refused rather than
//! producing certificates no node would accept.
use crate::exit::{CliError, CliResult};
use crate::output::Output;
use clap::Subcommand;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand, Debug)]
pub enum TlsCmd {
    /// Make a CA: OUT_DIR/ca.pem (the certificate clients and nodes trust) and OUT_DIR/ca.key (0600).
    #[command(after_help = "Example:\n  tradechain tls ca --out-dir tls --name \"tradechain testnet CA\"")]
    Ca {
        #[arg(long)]
        out_dir: PathBuf,
        /// The CA's common name.
        #[arg(long, default_value = "tradechain CA")]
        name: String,
        /// Validity in days.
        #[arg(long, default_value_t = 3650)]
        days: u32,
        #[arg(long)]
        force: bool,
    },
    /// Issue a certificate signed by a CA made by `tls ca`: OUT_DIR/NAME.pem (chain: the
    /// certificate, then the CA) and OUT_DIR/NAME.key (0600). A node's certificate names the
    /// addresses clients connect to (--san, an IP address or DNS name, repeatable); a member
    /// system's client certificate (--client) needs none.
    #[command(after_help = "Examples:\n  \
        tradechain tls cert --ca-dir tls --name customs-cn --san 127.0.0.1 --san localhost --out-dir tls\n  \
        tradechain tls cert --ca-dir tls --name customs-cn-app --client --out-dir tls")]
    Cert {
        /// The directory with ca.pem and ca.key.
        #[arg(long)]
        ca_dir: PathBuf,
        /// Common name and file name (letters, digits, '.', '_', '-').
        #[arg(long)]
        name: String,
        #[arg(long)]
        san: Vec<String>,
        /// A client certificate (mTLS) instead of a server certificate.
        #[arg(long)]
        client: bool,
        #[arg(long, default_value_t = 825)]
        days: u32,
        #[arg(long)]
        out_dir: PathBuf,
        #[arg(long)]
        force: bool,
    },
}

pub fn run(cmd: TlsCmd, out: &Output) -> CliResult {
    match cmd {
        TlsCmd::Ca {
            out_dir,
            name,
            days,
            force,
        } => {
            let (cert, key) = make_ca(&name, days)?;
            let (c, k) = (out_dir.join("ca.pem"), out_dir.join("ca.key"));
            write_pair(&c, &cert, &k, &key, force)?;
            print_pair(&c, &k, out);
            Ok(())
        }
        TlsCmd::Cert {
            ca_dir,
            name,
            san,
            client,
            days,
            out_dir,
            force,
        } => {
            if name.is_empty()
                || name.starts_with('.')
                || !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            {
                return Err(CliError::usage(format!(
                    "--name {name:?}: letters, digits, '.', '_' and '-' only (it is also the file name)"
                )));
            }
            if !client && san.is_empty() {
                return Err(CliError::usage(
                    "--san: a node's certificate must name the addresses clients connect to (e.g. --san 127.0.0.1)",
                ));
            }
            let ca_pem = read_text(&ca_dir.join("ca.pem"), "--ca-dir")?;
            let ca_key = read_text(&ca_dir.join("ca.key"), "--ca-dir")?;
            let (cert, key) = issue(&ca_pem, &ca_key, &name, &san, client, days)?;
            let (c, k) = (out_dir.join(format!("{name}.pem")), out_dir.join(format!("{name}.key")));
            write_pair(&c, &format!("{cert}{ca_pem}"), &k, &key, force)?;
            print_pair(&c, &k, out);
            Ok(())
        }
    }
}

fn print_pair(cert: &Path, key: &Path, out: &Output) {
    let v = serde_json::json!({ "certificate": cert.display().to_string(), "key": key.display().to_string() });
    out.print(&v, |_| {
        format!("certificate: {}\nkey:         {}", cert.display(), key.display())
    });
}

fn read_text(path: &Path, flag: &str) -> CliResult<String> {
    std::fs::read_to_string(path).map_err(|e| CliError::usage(format!("{flag}: cannot read {}: {e}", path.display())))
}

/// Write the certificate (0644) and the key (0600), refusing to overwrite either without `force`.
fn write_pair(cert_path: &Path, cert: &str, key_path: &Path, key: &str, force: bool) -> CliResult {
    for p in [cert_path, key_path] {
        if p.exists() && !force {
            return Err(CliError::usage(format!(
                "{} exists; pass --force to overwrite",
                p.display()
            )));
        }
    }
    if let Some(dir) = key_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| CliError::failure(format!("{}: {e}", dir.display())))?;
    }
    fn io(p: &Path) -> impl Fn(std::io::Error) -> CliError + '_ {
        move |e| CliError::failure(format!("{}: {e}", p.display()))
    }
    let _ = std::fs::remove_file(key_path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(key_path).map_err(io(key_path))?;
    std::io::Write::write_all(&mut f, key.as_bytes()).map_err(io(key_path))?;
    f.sync_all().map_err(io(key_path))?;
    std::fs::write(cert_path, cert).map_err(io(cert_path))?;
    Ok(())
}

fn fail(what: &str) -> impl Fn(rcgen::Error) -> CliError + '_ {
    move |e| CliError::failure(format!("{what}: {e}"))
}

/// A self-signed CA: (certificate PEM, key PEM).
pub fn make_ca(name: &str, days: u32) -> CliResult<(String, String)> {
    let key = KeyPair::generate().map_err(fail("CA key"))?;
    let params = ca_params(name, days)?;
    let cert = params.self_signed(&key).map_err(fail("CA certificate"))?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn ca_params(name: &str, days: u32) -> CliResult<CertificateParams> {
    let mut p = CertificateParams::new(Vec::<String>::new()).map_err(fail("CA"))?;
    p.distinguished_name = dn_cn(name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut p, days)?;
    Ok(p)
}

fn dn_cn(name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, DnValue::Utf8String(name.to_string()));
    dn
}

/// Issue a certificate under the CA (its PEM and key PEM): (certificate PEM, key PEM).
pub fn issue(
    ca_pem: &str,
    ca_key_pem: &str,
    name: &str,
    sans: &[String],
    client: bool,
    days: u32,
) -> CliResult<(String, String)> {
    let ca_der = tradechain_node::tls::read_certs_pem("--ca-dir (ca.pem)", ca_pem.as_bytes())
        .map_err(|e| CliError::usage(e.to_string()))?;
    let Some(ca_der) = ca_der.into_iter().next() else {
        return Err(CliError::usage("--ca-dir: ca.pem has no certificate"));
    };
    let ca_name = subject_common_name(&ca_der).ok_or_else(|| {
        CliError::usage("--ca-dir: ca.pem's subject is not a single common name: use a CA made by `tradechain tls ca`")
    })?;
    let ca_key = KeyPair::from_pem(ca_key_pem).map_err(|e| CliError::usage(format!("--ca-dir (ca.key): {e}")))?;
    // The issuer as `tls ca` made it (subject and key are all a signature depends on).
    let ca = ca_params(&ca_name, 1)?
        .self_signed(&ca_key)
        .map_err(fail("CA certificate"))?;

    let mut p = CertificateParams::new(sans.to_vec()).map_err(|e| CliError::usage(format!("--san: {e}")))?;
    p.distinguished_name = dn_cn(name);
    p.is_ca = IsCa::ExplicitNoCa;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![if client {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    validity(&mut p, days)?;
    let key = KeyPair::generate().map_err(fail("key"))?;
    let cert = p.signed_by(&key, &ca, &ca_key).map_err(fail("certificate"))?;
    check_chain(&ca_der, cert.der(), sans, client)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The certificate verifies under the CA, as rustls checks it on a connection.
fn check_chain(
    ca: &CertificateDer<'static>,
    cert: &CertificateDer<'static>,
    sans: &[String],
    client: bool,
) -> CliResult {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.clone())
        .map_err(|e| CliError::usage(format!("--ca-dir: ca.pem is not a usable CA: {e}")))?;
    let roots = Arc::new(roots);
    let provider = tradechain_node::tls::provider();
    let now = UnixTime::now();
    let bad = |e: String| {
        CliError::usage(format!(
            "--ca-dir: the certificate issued does not verify under ca.pem ({e}); use a CA made by `tradechain tls ca`"
        ))
    };
    if client {
        let v = rustls::server::WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        v.verify_client_cert(cert, &[], now).map_err(|e| bad(e.to_string()))?;
    } else {
        use rustls::client::danger::ServerCertVerifier;
        let v = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| bad(e.to_string()))?;
        for san in sans {
            let name =
                ServerName::try_from(san.as_str()).map_err(|e| CliError::usage(format!("--san {san:?}: {e}")))?;
            v.verify_server_cert(cert, &[], &name, &[], now)
                .map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(())
}

/// From a day before today to `days` after it.
fn validity(p: &mut CertificateParams, days: u32) -> CliResult {
    if days == 0 {
        return Err(CliError::usage("--days must be positive"));
    }
    let today = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| (d.as_secs() / 86_400) as i64)
        .unwrap_or(0);
    let (y, m, d) = civil(today - 1);
    p.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil(today + i64::from(days));
    p.not_after = rcgen::date_time_ymd(y, m, d);
    Ok(())
}

/// The calendar date `days` after 1970-01-01 (H. Hinnant's civil_from_days).
fn civil(days: i64) -> (i32, u8, u8) {
    let (y, m, d) = tradechain_ledger::epcis::time::civil_from_days(days);
    (y as i32, m as u8, d as u8)
}

/// One DER element at the start of `b`: (tag, contents, rest). None if it is cut short.
fn der(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&l0, mut b) = b.split_first()?;
    let len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let (lb, rest) = b.split_at(n);
        b = rest;
        lb.iter().fold(0usize, |a, &x| (a << 8) | usize::from(x))
    };
    if b.len() < len {
        return None;
    }
    let (body, rest) = b.split_at(len);
    Some((tag, body, rest))
}

/// The subject of a certificate if it is exactly one UTF8String common name (as `tls ca` makes it).
fn subject_common_name(cert: &[u8]) -> Option<String> {
    let (_, c, _) = der(cert)?; // Certificate
    let (_, mut tbs, _) = der(c)?; // TBSCertificate
    let (tag, _, rest) = der(tbs)?;
    if tag == 0xa0 {
        tbs = rest; // [0] version
    }
    // serialNumber, signature, issuer, validity
    for _ in 0..4 {
        tbs = der(tbs)?.2;
    }
    let (_, subject, _) = der(tbs)?; // Name: SEQUENCE OF RDN
    let (_, rdn, more) = der(subject)?; // SET OF AttributeTypeAndValue
    let (_, atv, more_in_set) = der(rdn)?;
    if !more.is_empty() || !more_in_set.is_empty() {
        return None;
    }
    let (oid_tag, oid, value) = der(atv)?;
    let (str_tag, text, end) = der(value)?;
    // 2.5.4.3 (commonName), UTF8String
    if oid_tag != 0x06 || oid != [0x55, 0x04, 0x03] || str_tag != 0x0c || !end.is_empty() {
        return None;
    }
    String::from_utf8(text.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_ca_issues_server_and_client_certificates_that_verify_and_a_foreign_ca_cannot() {
        let (ca, ca_key) = make_ca("test CA", 10).unwrap();
        let der = tradechain_node::tls::read_certs_pem("ca", ca.as_bytes()).unwrap();
        assert_eq!(subject_common_name(&der[0]).as_deref(), Some("test CA"));
        issue(&ca, &ca_key, "n1", &["127.0.0.1".into(), "localhost".into()], false, 5).unwrap();
        issue(&ca, &ca_key, "app", &[], true, 5).unwrap();
        // Another CA's key with this CA's certificate: the check refuses what it would issue.
        let (_, other_key) = make_ca("test CA", 10).unwrap();
        assert!(issue(&ca, &other_key, "n1", &["127.0.0.1".into()], false, 5).is_err());
        // Truncated or garbage DER never panics.
        for n in 0..der[0].len() {
            let _ = subject_common_name(&der[0][..n]);
        }
        assert_eq!(subject_common_name(b"\x30\x84\xff\xff\xff\xff"), None);
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
    }
}
