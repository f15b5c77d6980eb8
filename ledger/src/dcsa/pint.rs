//! The PINT 3.0 envelope's transfer chain (platform-to-platform transfer of an eBL): the hash
//! links that bind it to the transport document and to itself.
//!
//! Checked (`check_envelope`), each failure naming the member at fault:
//! - every `envelopeTransferChain[i]` is a JWS compact serialisation whose payload is a JSON
//!   object with `transportDocumentChecksum` = SHA-256 (lowercase hex) of the envelope's
//!   `transportDocument` as canonical JSON (members sorted, no whitespace: RFC 8785 for the
//!   documents DCSA publishes — strings and integer numbers), and a non-empty `transactions`
//!   list each with an `action`;
//! - entry i > 0 names entry i−1 by `previousEnvelopeTransferChainEntrySignedContentChecksum`
//!   = SHA-256 of that entry's compact text (so entries can be neither dropped, reordered nor
//!   altered);
//! - `envelopeManifestSignedContent`'s payload has the same `transportDocumentChecksum` and
//!   `lastEnvelopeTransferChainEntrySignedContentChecksum` = SHA-256 of the last entry.
//!
//! Not checked: the JWS signatures themselves (RS256/ES256 under the sending platform's key,
//! which this ledger does not hold; a receiving platform verifies them against its trust list).
use super::import::{array, at, object, opt_string, string};
use super::{DcsaError, Json, json};
use sha2::{Digest, Sha256};

/// One decoded transfer-chain entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferEntry {
    pub ebl_platform: Option<String>,
    /// The `action` of each transaction, e.g. `ISSU`, `TRNS`, `ENDO`, `SURR`.
    pub actions: Vec<String>,
}

/// SHA-256 of text, lowercase hex.
pub fn checksum(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Checksum of a transport document: SHA-256 of its canonical JSON.
pub fn document_checksum(td: &Json) -> String {
    checksum(&td.canonical())
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    // Leftover bits must be padding zeros; one leftover character is never valid.
    (bits < 6 && acc & ((1 << bits) - 1) == 0).then_some(out)
}

/// base64url without padding (for building test envelopes).
pub fn b64url_encode(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            let idx = ((n >> (18 - 6 * i)) & 63) as usize;
            out.push(char::from(A.get(idx).copied().unwrap_or(b'A')));
        }
    }
    out
}

/// The payload of a JWS compact serialisation, as a JSON object.
fn jws_payload(jws: &str, field: &str) -> Result<Json, DcsaError> {
    let parts: Vec<&str> = jws.split('.').collect();
    let [_, payload, _] = parts.as_slice() else {
        return Err(DcsaError::field(
            field,
            format!(
                "is not a JWS compact serialisation (3 dot-separated parts; found {})",
                parts.len()
            ),
        ));
    };
    let bytes = b64url_decode(payload).ok_or_else(|| DcsaError::field(field, "the JWS payload is not base64url"))?;
    let text = String::from_utf8(bytes).map_err(|_| DcsaError::field(field, "the JWS payload is not UTF-8"))?;
    let v = json::parse(&text).map_err(|e| DcsaError::field(field, format!("the JWS payload is not JSON: {e}")))?;
    if !matches!(v, Json::Object(_)) {
        return Err(DcsaError::field(field, "the JWS payload is not a JSON object"));
    }
    Ok(v)
}

fn expect_eq(payload: &Json, field: &str, name: &str, want: &str, what: &str) -> Result<(), DcsaError> {
    let got = string(payload, field, name)?;
    if got.eq_ignore_ascii_case(want) {
        Ok(())
    } else {
        Err(DcsaError::field(
            at(field, name),
            format!("{got} is not {what} ({want})"),
        ))
    }
}

/// Check a PINT envelope's transfer chain and manifest against its transport document; the
/// decoded entries, oldest first.
pub fn check_envelope(envelope: &Json) -> Result<Vec<TransferEntry>, DcsaError> {
    let td = object(envelope, "", "transportDocument")?;
    let td_sum = document_checksum(td);
    let chain = array(envelope, "", "envelopeTransferChain")?;
    if chain.is_empty() {
        return Err(DcsaError::field("envelopeTransferChain", "is empty"));
    }
    let mut entries = Vec::new();
    let mut previous: Option<&str> = None;
    for (i, e) in chain.iter().enumerate() {
        let field = format!("envelopeTransferChain[{i}]");
        let jws = e
            .as_str()
            .ok_or_else(|| DcsaError::field(&field, format!("is {}, not a string", e.kind())))?;
        let p = jws_payload(jws, &field)?;
        expect_eq(
            &p,
            &field,
            "transportDocumentChecksum",
            &td_sum,
            "the SHA-256 of transportDocument",
        )?;
        let prev_name = "previousEnvelopeTransferChainEntrySignedContentChecksum";
        match previous {
            Some(prev) => expect_eq(
                &p,
                &field,
                prev_name,
                &checksum(prev),
                "the SHA-256 of the previous entry",
            )?,
            None => {
                if opt_string(&p, &field, prev_name)?.is_some() {
                    return Err(DcsaError::field(
                        at(&field, prev_name),
                        "the first entry cannot name a previous entry the envelope does not carry",
                    ));
                }
            }
        }
        let tx = array(&p, &field, "transactions")?;
        if tx.is_empty() {
            return Err(DcsaError::field(at(&field, "transactions"), "is empty"));
        }
        let mut actions = Vec::new();
        for (k, t) in tx.iter().enumerate() {
            actions.push(string(t, &format!("{field}.transactions[{k}]"), "action")?.to_string());
        }
        entries.push(TransferEntry {
            ebl_platform: opt_string(&p, &field, "eblPlatform")?.map(str::to_string),
            actions,
        });
        previous = Some(jws);
    }
    let mfield = "envelopeManifestSignedContent";
    let manifest = string(envelope, "", mfield)?;
    let m = jws_payload(manifest, mfield)?;
    expect_eq(
        &m,
        mfield,
        "transportDocumentChecksum",
        &td_sum,
        "the SHA-256 of transportDocument",
    )?;
    if let Some(last) = previous {
        expect_eq(
            &m,
            mfield,
            "lastEnvelopeTransferChainEntrySignedContentChecksum",
            &checksum(last),
            "the SHA-256 of the last transfer-chain entry",
        )?;
    }
    Ok(entries)
}
