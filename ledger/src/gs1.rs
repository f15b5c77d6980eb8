//! GS1 identification keys: parsing GS1 Digital Link URIs and EPC URNs into one canonical goods key.
//!
//! Canonical goods key = the Digital Link path without host, GTIN zero-padded to 14 digits:
//! `01/{gtin14}/21/{serial}` (serialised item), `01/{gtin14}/10/{lot}` (lot/batch),
//! `00/{sscc18}` (logistic unit), `01/{gtin14}` (class level), `414/{gln13}` (location, with
//! `/254/{ext}` for a GLN extension), `8003/{grai}` (returnable asset), and also
//! `417/{pgln13}` (party), `8004/{giai}` (individual asset), `8018/{gsrn18}` (service relation),
//! `253/{gdti}` (document). Both spellings of one item reach the same key.
//!
//! Invariants:
//! - Every numeric key's GS1 check digit is verified (GTIN-8/12/13/14, SSCC-18, GLN-13, GRAI,
//!   GSRN, GDTI); EPC URNs carry no check digit, so it is computed when the GTIN/SSCC/GLN is rebuilt
//!   from company prefix + reference (company prefix 6-12 digits).
//! - Alphanumeric parts (serial, lot, extension) are percent-decoded, must be in GS1 AI encodable
//!   character set 82 and within their AI's length, and are re-encoded canonically: every byte
//!   other than `A-Z a-z 0-9 - . _` as `%XX` (upper-case hex), so a key never contains an
//!   ambiguous `/` and two spellings of one value give one key.
//! - A Digital Link keeps only the identifying parts: for `01`, serial (21) wins over lot (10);
//!   the consumer product variant (22), query string and fragment are dropped.
//! - Pure functions: no I/O, deterministic.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Gs1Error(pub String);

fn err(msg: impl Into<String>) -> Gs1Error {
    Gs1Error(msg.into())
}

/// GS1 mod-10 check digit of `digits` (the digits before the check digit). None if not all digits.
pub fn check_digit(digits: &str) -> Option<u8> {
    let mut sum = 0u32;
    for (i, b) in digits.bytes().rev().enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        let d = u32::from(b - b'0');
        sum += if i % 2 == 0 { 3 * d } else { d };
    }
    Some(((10 - sum % 10) % 10) as u8)
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is all digits and its last digit is the GS1 check digit of the others.
fn check_ok(s: &str) -> bool {
    all_digits(s) && s.len() >= 2 && {
        let (body, last) = s.split_at(s.len() - 1);
        check_digit(body) == Some(last.as_bytes()[0] - b'0')
    }
}

/// A GTIN-8, -12, -13 or -14 with a correct check digit.
pub fn is_valid_gtin(s: &str) -> bool {
    matches!(s.len(), 8 | 12 | 13 | 14) && check_ok(s)
}

fn numeric_key(name: &str, value: &str, len: usize) -> Result<(), Gs1Error> {
    if value.len() != len || !all_digits(value) {
        return Err(err(format!("{name} {value:?} must be {len} digits")));
    }
    if !check_ok(value) {
        let (body, _) = value.split_at(len - 1);
        return Err(err(format!(
            "{name} {value:?} has a wrong check digit (expected {})",
            check_digit(body).unwrap_or(0)
        )));
    }
    Ok(())
}

fn gtin14(value: &str) -> Result<String, Gs1Error> {
    if !matches!(value.len(), 8 | 12 | 13 | 14) || !all_digits(value) {
        return Err(err(format!("GTIN {value:?} must be 8, 12, 13 or 14 digits")));
    }
    let padded = format!("{value:0>14}");
    numeric_key("GTIN", &padded, 14)?;
    Ok(padded)
}

/// GS1 AI encodable character set 82.
fn is_cs82(b: u8) -> bool {
    matches!(b, b'!' | b'"' | b'%'..=b'?' | b'A'..=b'Z' | b'_' | b'a'..=b'z')
}

fn percent_decode(s: &str) -> Result<String, Gs1Error> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| err(format!("bad percent-escape in {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| err(format!("{s:?} does not decode to UTF-8")))
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decode, check charset and length, and re-encode canonically an alphanumeric part.
fn alnum(name: &str, raw: &str, max: usize) -> Result<String, Gs1Error> {
    let v = percent_decode(raw)?;
    if v.is_empty() || v.len() > max {
        return Err(err(format!("{name} {v:?} must be 1-{max} characters")));
    }
    if let Some(c) = v.bytes().find(|b| !is_cs82(*b)) {
        return Err(err(format!(
            "{name} {v:?} contains {:?}, outside GS1 character set 82",
            c as char
        )));
    }
    Ok(percent_encode(&v))
}

/// Normalise a GS1 Digital Link URI, an EPC URN (sgtin, sscc, lgtin, sgln, grai, giai, pgln,
/// gsrn, gdti, sgtin id pattern) or an already canonical key to the canonical goods key.
pub fn goods_key(id: &str) -> Result<String, Gs1Error> {
    if let Some(rest) = id.strip_prefix("urn:epc:") {
        return epc_urn(id, rest);
    }
    let path = if let Some(rest) = id.strip_prefix("https://").or_else(|| id.strip_prefix("http://")) {
        let rest = rest.split(['?', '#']).next().unwrap_or("");
        match rest.find('/') {
            Some(i) => &rest[i + 1..],
            None => return Err(err(format!("{id:?} is a URI without a GS1 Digital Link path"))),
        }
    } else if id.contains(':') {
        return Err(err(format!(
            "{id:?} is neither a GS1 Digital Link URI nor an EPC URN (urn:epc:…)"
        )));
    } else {
        id
    };
    digital_link_path(id, path)
}

const PRIMARY: &[&str] = &["01", "00", "414", "417", "8003", "8004", "8018", "253"];

fn digital_link_path(id: &str, path: &str) -> Result<String, Gs1Error> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let start = segs.iter().position(|s| PRIMARY.contains(s)).ok_or_else(|| {
        err(format!(
            "{id:?} has no GS1 primary key (01, 00, 414, 8003…) in its path"
        ))
    })?;
    let segs = &segs[start..];
    if !segs.len().is_multiple_of(2) {
        return Err(err(format!("{id:?}: Digital Link path must be key/value pairs")));
    }
    let (ai, value) = (segs[0], segs[1]);
    let quals: Vec<(&str, &str)> = segs[2..].chunks(2).map(|c| (c[0], c[1])).collect();
    let allowed: &[&str] = match ai {
        "01" => &["22", "10", "21"],
        "414" => &["254"],
        _ => &[],
    };
    let mut last_pos = None;
    for (q, _) in &quals {
        let pos = allowed
            .iter()
            .position(|a| a == q)
            .ok_or_else(|| err(format!("{id:?}: qualifier {q} is not allowed after {ai}")))?;
        if last_pos.is_some_and(|p| pos <= p) {
            return Err(err(format!("{id:?}: qualifiers out of order or repeated")));
        }
        last_pos = Some(pos);
    }
    let qual = |name: &str| quals.iter().find(|(q, _)| *q == name).map(|(_, v)| *v);
    match ai {
        "01" => {
            let g = gtin14(value)?;
            if let Some(s) = qual("21") {
                Ok(format!("01/{g}/21/{}", alnum("serial", s, 20)?))
            } else if let Some(l) = qual("10") {
                Ok(format!("01/{g}/10/{}", alnum("lot", l, 20)?))
            } else {
                Ok(format!("01/{g}"))
            }
        }
        "00" => {
            numeric_key("SSCC", value, 18)?;
            Ok(format!("00/{value}"))
        }
        "414" | "417" => {
            numeric_key("GLN", value, 13)?;
            match qual("254") {
                Some(e) => Ok(format!("{ai}/{value}/254/{}", alnum("GLN extension", e, 20)?)),
                None => Ok(format!("{ai}/{value}")),
            }
        }
        "8003" => grai(value),
        "8004" => giai(value),
        "8018" => {
            numeric_key("GSRN", value, 18)?;
            Ok(format!("8018/{value}"))
        }
        _ => gdti(value),
    }
}

fn grai(value: &str) -> Result<String, Gs1Error> {
    let v = percent_decode(value)?;
    if v.len() < 14 || !v.is_char_boundary(14) {
        return Err(err(format!("GRAI {v:?} must start with 14 digits")));
    }
    let (num, serial) = v.split_at(14);
    if !num.starts_with('0') {
        return Err(err(format!("GRAI {v:?} must start with the filler digit 0")));
    }
    numeric_key("GRAI", num, 14)?;
    if serial.is_empty() {
        Ok(format!("8003/{num}"))
    } else {
        Ok(format!("8003/{num}{}", alnum("GRAI serial", serial, 16)?))
    }
}

fn giai(value: &str) -> Result<String, Gs1Error> {
    let v = percent_decode(value)?;
    if !v.bytes().take(6).all(|b| b.is_ascii_digit()) || v.len() < 7 {
        return Err(err(format!("GIAI {v:?} must start with a company prefix")));
    }
    Ok(format!("8004/{}", alnum("GIAI", &v, 30)?))
}

fn gdti(value: &str) -> Result<String, Gs1Error> {
    let v = percent_decode(value)?;
    if v.len() < 13 || !v.is_char_boundary(13) {
        return Err(err(format!("GDTI {v:?} must start with 13 digits")));
    }
    let (num, serial) = v.split_at(13);
    numeric_key("GDTI", num, 13)?;
    if serial.is_empty() {
        Ok(format!("253/{num}"))
    } else {
        Ok(format!("253/{num}{}", alnum("GDTI serial", serial, 17)?))
    }
}

fn company_prefix(id: &str, cp: &str) -> Result<(), Gs1Error> {
    if !(6..=12).contains(&cp.len()) || !all_digits(cp) {
        return Err(err(format!("{id:?}: company prefix {cp:?} must be 6-12 digits")));
    }
    Ok(())
}

/// Split `cp.ref…` and check the company prefix plus reference have `total` digits.
fn cp_ref(id: &str, cp: &str, reference: &str, total: usize) -> Result<(), Gs1Error> {
    company_prefix(id, cp)?;
    if cp.len() + reference.len() != total || !(reference.is_empty() || all_digits(reference)) {
        return Err(err(format!(
            "{id:?}: company prefix {cp:?} and reference {reference:?} must be {total} digits together"
        )));
    }
    Ok(())
}

fn with_check(body: &str) -> String {
    format!("{body}{}", check_digit(body).unwrap_or(0))
}

fn epc_urn(id: &str, rest: &str) -> Result<String, Gs1Error> {
    let mut it = rest.splitn(3, ':');
    let (Some(kind), Some(name), Some(body)) = (it.next(), it.next(), it.next()) else {
        return Err(err(format!("{id:?} is not an EPC URN (urn:epc:id:scheme:…)")));
    };
    let scheme = format!("{kind}:{name}");
    let scheme = scheme.as_str();
    let parts: Vec<&str> = body.split('.').collect();
    let want = |n: usize| -> Result<(), Gs1Error> {
        if parts.len() == n {
            Ok(())
        } else {
            Err(err(format!(
                "{id:?}: expected {n} dot-separated parts, found {}",
                parts.len()
            )))
        }
    };
    let gtin = |cp: &str, ir: &str| -> Result<String, Gs1Error> {
        cp_ref(id, cp, ir, 13)?;
        Ok(with_check(&format!("{}{cp}{}", &ir[..1], &ir[1..])))
    };
    match scheme {
        "id:sgtin" => {
            want(3)?;
            let g = gtin(parts[0], parts[1])?;
            Ok(format!("01/{g}/21/{}", alnum("serial", parts[2], 20)?))
        }
        "idpat:sgtin" => {
            want(3)?;
            if parts[2] != "*" {
                return Err(err(format!("{id:?}: only a whole-serial pattern (*) is supported")));
            }
            Ok(format!("01/{}", gtin(parts[0], parts[1])?))
        }
        "class:lgtin" => {
            want(3)?;
            let g = gtin(parts[0], parts[1])?;
            Ok(format!("01/{g}/10/{}", alnum("lot", parts[2], 20)?))
        }
        "id:sscc" => {
            want(2)?;
            let (cp, sr) = (parts[0], parts[1]);
            cp_ref(id, cp, sr, 17)?;
            Ok(format!("00/{}", with_check(&format!("{}{cp}{}", &sr[..1], &sr[1..]))))
        }
        "id:sgln" | "id:pgln" => {
            let ai = if scheme == "id:sgln" { "414" } else { "417" };
            want(if ai == "414" { 3 } else { 2 })?;
            cp_ref(id, parts[0], parts[1], 12)?;
            let gln = with_check(&format!("{}{}", parts[0], parts[1]));
            match parts.get(2) {
                Some(&"0") | None => Ok(format!("{ai}/{gln}")),
                Some(e) => Ok(format!("{ai}/{gln}/254/{}", alnum("GLN extension", e, 20)?)),
            }
        }
        "id:grai" => {
            want(3)?;
            cp_ref(id, parts[0], parts[1], 12)?;
            let num = with_check(&format!("0{}{}", parts[0], parts[1]));
            Ok(format!("8003/{num}{}", alnum("GRAI serial", parts[2], 16)?))
        }
        "id:giai" => {
            want(2)?;
            company_prefix(id, parts[0])?;
            let v = format!("{}{}", parts[0], percent_decode(parts[1])?);
            Ok(format!("8004/{}", alnum("GIAI", &v, 30)?))
        }
        "id:gsrn" => {
            want(2)?;
            cp_ref(id, parts[0], parts[1], 17)?;
            Ok(format!("8018/{}", with_check(&format!("{}{}", parts[0], parts[1]))))
        }
        "id:gdti" => {
            want(3)?;
            cp_ref(id, parts[0], parts[1], 12)?;
            let num = with_check(&format!("{}{}", parts[0], parts[1]));
            Ok(format!("253/{num}{}", alnum("GDTI serial", parts[2], 17)?))
        }
        _ => Err(err(format!("{id:?}: EPC scheme urn:epc:{scheme} is not supported"))),
    }
}

/// The Digital Link URI of a canonical key under `base_url` (e.g. `https://id.gs1.org`).
pub fn digital_link(key: &str, base_url: &str) -> String {
    format!("{}/{key}", base_url.trim_end_matches('/'))
}

/// Whether a canonical key names a location (GLN) rather than goods.
pub fn is_location_key(key: &str) -> bool {
    key.starts_with("414/")
}

/// Shortest and longest GS1 Company Prefix (GS1 General Specifications: 4 to 12 digits, the
/// 4-11 digit ones under GS1-8 and US/CA "UPC" prefixes, the common ones 6-10).
pub const COMPANY_PREFIX_LEN: std::ops::RangeInclusive<usize> = 4..=12;

/// Whether `p` can be a GS1 Company Prefix: 4 to 12 digits.
pub fn is_company_prefix(p: &str) -> bool {
    COMPANY_PREFIX_LEN.contains(&p.len()) && all_digits(p)
}

/// The digits of a canonical key that begin with its GS1 Company Prefix (whose length the key
/// does not say): the GTIN-14 without indicator digit, the SSCC without extension digit, the
/// GLN/PGLN/GDTI/GSRN/GRAI body, the GIAI. `None` for anything that is not a canonical key.
pub fn company_prefix_digits(key: &str) -> Option<&str> {
    let (ai, rest) = key.split_once('/')?;
    let value = rest.split('/').next()?;
    let digits = match ai {
        // indicator / extension digit first, then the company prefix
        "01" | "00" | "8003" => value.get(1..)?,
        "414" | "417" | "253" | "8018" | "8004" => value,
        _ => return None,
    };
    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
    digits.get(..n).filter(|d| d.len() >= *COMPANY_PREFIX_LEN.start())
}

/// Whether a canonical key names one physical instance (a serialised trade item, a logistic
/// unit, an individual or serialised returnable asset) rather than a class or lot of goods
/// (`01/{gtin}`, `01/{gtin}/10/{lot}`), a location or a party. Only instances are possessed,
/// and only instances end (a class is never destroyed by destroying some of it).
pub fn is_instance_key(key: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        ["01", _, "21", _] | ["00", _] | ["8004", _] => true,
        // GRAI: "0" + 12-digit asset type + check digit (14), then an optional serial
        ["8003", grai] => grai.len() > 14,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn company_prefix_digits_and_instances() {
        let phone = goods_key("urn:epc:id:sgtin:6901234.012345.SN1").unwrap();
        assert!(company_prefix_digits(&phone).is_some_and(|d| d.starts_with("690123412345")));
        assert!(is_instance_key(&phone));
        let sscc = goods_key("urn:epc:id:sscc:6901234.1000100001").unwrap();
        assert_eq!(company_prefix_digits(&sscc).map(|d| &d[..7]), Some("6901234"));
        assert!(is_instance_key(&sscc));
        let lot = goods_key("urn:epc:class:lgtin:6907777.054321.LOT1").unwrap();
        assert!(company_prefix_digits(&lot).is_some_and(|d| d.starts_with("690777754321")));
        assert!(!is_instance_key(&lot) && !is_instance_key("01/06901234123456"));
        let pgln = goods_key("urn:epc:id:pgln:6901234.00001").unwrap();
        assert!(company_prefix_digits(&pgln).is_some_and(|d| d.starts_with("690123400001")));
        assert!(!is_instance_key(&pgln));
        assert_eq!(company_prefix_digits("x"), None);
        assert_eq!(company_prefix_digits("01/"), None);
        assert_eq!(company_prefix_digits("99/123456"), None);
        assert!(is_company_prefix("6901234") && !is_company_prefix("690") && !is_company_prefix("69012345678901"));
        assert!(!is_company_prefix("69O1234"));
    }

    #[test]
    fn check_digits() {
        assert_eq!(check_digit("0950600013435"), Some(2));
        assert!(is_valid_gtin("09506000134352") && is_valid_gtin("9506000134352"));
        assert!(is_valid_gtin("96385074") && is_valid_gtin("614141000036"));
        assert!(!is_valid_gtin("09506000134353") && !is_valid_gtin("0950600013435x"));
        assert_eq!(check_digit("12a"), None);
    }

    #[test]
    fn spellings_meet() {
        let k = goods_key("https://id.gs1.org/01/09506000134352/21/abc").unwrap();
        assert_eq!(k, "01/09506000134352/21/abc");
        assert_eq!(
            goods_key("https://example.com/a/b/01/9506000134352/10/L1/21/abc").unwrap(),
            k
        );
        assert_eq!(goods_key(&k).unwrap(), k);
        assert_eq!(goods_key("urn:epc:id:sgtin:9506000.013435.abc").unwrap(), k);
        assert_eq!(
            goods_key("urn:epc:id:sscc:0614141.1234567890").unwrap(),
            goods_key("https://id.gs1.org/00/106141412345678908").unwrap()
        );
        assert_eq!(
            goods_key("urn:epc:id:sgln:0614141.00777.0").unwrap(),
            "414/0614141007776"
        );
        assert_eq!(
            goods_key("urn:epc:id:sgln:0614141.07346.1234").unwrap(),
            "414/0614141073467/254/1234"
        );
        assert_eq!(
            goods_key("urn:epc:class:lgtin:4012345.012345.998877").unwrap(),
            "01/04012345123456/10/998877"
        );
        assert_eq!(
            goods_key("urn:epc:idpat:sgtin:4012345.066666.*").unwrap(),
            "01/04012345666663"
        );
        assert_eq!(
            goods_key("urn:epc:id:grai:4012345.55555.987").unwrap(),
            "8003/04012345555554987"
        );
        assert_eq!(
            goods_key("https://id.gs1.org/01/09506000134352/21/a%2Fb").unwrap(),
            "01/09506000134352/21/a%2Fb"
        );
        assert_eq!(
            goods_key("urn:epc:id:sgtin:9506000.013435.a%2Fb").unwrap(),
            "01/09506000134352/21/a%2Fb"
        );
        assert_eq!(
            digital_link("00/106141412345678908", "https://id.gs1.org/"),
            "https://id.gs1.org/00/106141412345678908"
        );
    }

    #[test]
    fn rejects_with_reasons() {
        let e = goods_key("https://id.gs1.org/01/09506000134353/21/abc").unwrap_err();
        assert!(e.0.contains("wrong check digit (expected 2)"), "{e}");
        assert!(goods_key("urn:uuid:f81d4fae").unwrap_err().0.contains("neither"));
        assert!(
            goods_key("https://example.org/document1")
                .unwrap_err()
                .0
                .contains("no GS1 primary key")
        );
        assert!(
            goods_key("urn:epc:id:sgtin:12345.0123456.1")
                .unwrap_err()
                .0
                .contains("company prefix")
        );
        assert!(goods_key("https://id.gs1.org/01/09506000134352/21/").is_err());
        assert!(
            goods_key("https://id.gs1.org/01/09506000134352/21/a/10/b")
                .unwrap_err()
                .0
                .contains("order")
        );
        assert!(goods_key("https://id.gs1.org/00/106141412345678909").is_err());
        assert!(goods_key("urn:epc:id:sgtin:4012345.011111.%ZZ").is_err());
        assert!(
            goods_key("urn:epc:id:usdod:2S194.12345")
                .unwrap_err()
                .0
                .contains("not supported")
        );
        assert!(
            goods_key("https://id.gs1.org/01/09506000134352/21/ab%C3%A9")
                .unwrap_err()
                .0
                .contains("set 82")
        );
    }
}
