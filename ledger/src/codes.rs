//! Code tables the validators check against: ISO 3166-1 alpha-2 countries, ISO 4217 currencies
//! (both generated from Debian's iso-codes tables), and the shapes of UN/LOCODEs and HS codes.
//!
//! Invariant: the tables are sorted (binary search) — asserted in tests.

/// ISO 3166-1 alpha-2 (249 codes).
pub const COUNTRIES: &[&str] = &[
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ", "BA", "BB", "BD",
    "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS", "BT", "BV", "BW", "BY", "BZ", "CA",
    "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE",
    "DJ", "DK", "DM", "DO", "DZ", "EC", "EE", "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA",
    "GB", "GD", "GE", "GF", "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK",
    "HM", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM", "JO", "JP",
    "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT",
    "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK", "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS",
    "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ",
    "OM", "PA", "PE", "PF", "PG", "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS",
    "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS", "ST",
    "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO", "TR", "TT", "TV", "TW",
    "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI", "VN", "VU", "WF", "WS", "YE", "YT", "ZA",
    "ZM", "ZW",
];

/// ISO 4217 alphabetic codes (181 codes).
pub const CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN", "BHD", "BIF",
    "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF", "CHW", "CLF",
    "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
    "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HRK", "HTG", "HUF",
    "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU",
    "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD",
    "SHP", "SLE", "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST",
    "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XDR", "XOF", "XPD", "XPF", "XPT", "XSU", "XTS", "XUA",
    "XXX", "YER", "ZAR", "ZMW", "ZWL",
];

pub fn is_country(s: &str) -> bool {
    COUNTRIES.binary_search(&s).is_ok()
}

pub fn is_currency(s: &str) -> bool {
    CURRENCIES.binary_search(&s).is_ok()
}

/// UN/LOCODE: a country code followed by three characters of A-Z or 2-9 (e.g. `CNFOC`, `NLRTM`).
/// Any string is safe here: non-ASCII input is refused before any split (a byte offset inside a
/// multi-byte character would panic).
pub fn is_unlocode(s: &str) -> bool {
    s.len() == 5
        && s.is_ascii()
        && s.get(..2).is_some_and(is_country)
        && s.bytes()
            .skip(2)
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'9').contains(&b))
}

/// HS code: 6 digits (the international subheading), optionally extended nationally to 8 or 10.
pub fn is_hs_code(s: &str) -> bool {
    matches!(s.len(), 6 | 8 | 10) && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_and_known_codes_pass() {
        assert!(COUNTRIES.windows(2).all(|w| w[0] < w[1]));
        assert!(CURRENCIES.windows(2).all(|w| w[0] < w[1]));
        assert!(is_country("CN") && is_country("NL") && !is_country("XX") && !is_country("cn"));
        assert!(is_currency("EUR") && is_currency("CNY") && !is_currency("EURO"));
        assert!(is_unlocode("CNFOC") && is_unlocode("NLRTM") && is_unlocode("DEDUI"));
        assert!(!is_unlocode("XXFOC") && !is_unlocode("CNFO1") && !is_unlocode("CNFO"));
        // Multi-byte characters at every position never panic (the crash of issue 16).
        for s in [
            "Cé12",
            "éCNFO",
            "CNFOé",
            "CN€",
            "€€",
            "CNF\u{10FFFF}",
            "\u{0}\u{0}\u{0}\u{0}\u{0}",
        ] {
            assert!(!is_unlocode(s));
            assert!(!is_hs_code(s));
            assert!(!is_country(s));
        }
        assert!(is_hs_code("851712") && is_hs_code("85171200") && !is_hs_code("8517") && !is_hs_code("85171A"));
    }
}
