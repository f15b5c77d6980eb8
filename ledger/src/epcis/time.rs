//! EPCIS times: RFC 3339 date-times ↔ Unix milliseconds, and `eventTimeZoneOffset` ↔ minutes.
//!
//! Invariants:
//! - Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, years 0000-9999, real calendar dates
//!   (leap years), `T`/`Z` in either case. Fractions finer than a millisecond are accepted only
//!   when the extra digits are zeros; a leap second (`:60`) is refused — neither fits in
//!   `event_time_ms`, and a time the ledger cannot hold exactly is an error, not a rounding.
//! - `render_ms` is the canonical spelling: UTC, `Z`, exactly three fraction digits; for any
//!   `ms` it renders, `parse_ms(render_ms(ms)) == ms`.
//! - An offset is `±HH:MM` within -14:00..=+14:00 (the EPCIS 2.0 pattern); `render_offset` gives
//!   `+00:00` for zero.
//! - Pure integer arithmetic; no clock, no floats.

const MS_PER_DAY: i64 = 86_400_000;
/// Unix ms of 0000-01-01T00:00:00Z and of 10000-01-01T00:00:00Z (exclusive).
pub const MIN_MS: i64 = -62_167_219_200_000;
pub const MAX_MS_EXCLUSIVE: i64 = 253_402_300_800_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The calendar date (year, month 1-12, day 1-31) `z` days after 1970-01-01 (H. Hinnant's
/// civil_from_days): the one calendar conversion (EPCIS times, the page, certificates).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let t = s.get(range)?;
    if t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse().ok()
    } else {
        None
    }
}

/// Minutes east of UTC of `±HH:MM`.
fn offset_minutes(s: &str) -> Option<i64> {
    if s.len() != 6 || s.as_bytes().get(3) != Some(&b':') {
        return None;
    }
    let sign = match s.as_bytes().first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => return None,
    };
    let (h, m) = (num(s, 1..3)?, num(s, 4..6)?);
    (h <= 23 && m <= 59).then_some(sign * (h * 60 + m))
}

/// Unix milliseconds of an RFC 3339 date-time; the error says what is wrong.
pub fn parse_ms(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not an RFC 3339 time (YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm))");
    let b = s.as_bytes();
    if b.len() < 20
        || b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
    {
        return Err(bad());
    }
    let (y, mo, d) = (num(s, 0..4), num(s, 5..7), num(s, 8..10));
    let (h, mi, sec) = (num(s, 11..13), num(s, 14..16), num(s, 17..19));
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(sec)) = (y, mo, d, h, mi, sec) else {
        return Err(bad());
    };
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 {
        return Err(format!("{s:?} is not a valid calendar date and time"));
    }
    if sec == 60 {
        return Err(format!("{s:?} is a leap second, which cannot be represented"));
    }
    if sec > 59 {
        return Err(format!("{s:?} is not a valid calendar date and time"));
    }
    let mut rest = s.get(19..).ok_or_else(bad)?;
    let mut millis = 0i64;
    if let Some(f) = rest.strip_prefix('.') {
        let n = f.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        let digits = f.get(..n).ok_or_else(bad)?;
        let (ms_part, finer) = digits.split_at(n.min(3));
        if finer.bytes().any(|c| c != b'0') {
            return Err(format!(
                "{s:?} has sub-millisecond precision, which cannot be represented (event times are whole milliseconds)"
            ));
        }
        millis = format!("{ms_part:0<3}").parse().map_err(|_| bad())?;
        rest = f.get(n..).ok_or_else(bad)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        o => offset_minutes(o).ok_or_else(bad)?,
    };
    let days = days_from_civil(y, mo, d);
    Ok(days * MS_PER_DAY + ((h * 60 + mi - offset) * 60 + sec) * 1000 + millis)
}

/// Canonical spelling of a Unix-ms time: `YYYY-MM-DDThh:mm:ss.fffZ`. None outside years 0000-9999.
pub fn render_ms(ms: i64) -> Option<String> {
    if !(MIN_MS..MAX_MS_EXCLUSIVE).contains(&ms) {
        return None;
    }
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let (h, rem) = (in_day / 3_600_000, in_day % 3_600_000);
    let (mi, rem) = (rem / 60_000, rem % 60_000);
    let (sec, milli) = (rem / 1000, rem % 1000);
    Some(format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{milli:03}Z"))
}

/// `eventTimeZoneOffset` (`±HH:MM`, -14:00..=+14:00) in minutes east of UTC.
pub fn parse_offset(s: &str) -> Result<i16, String> {
    let m = offset_minutes(s).ok_or_else(|| format!("{s:?} is not a time zone offset (±hh:mm)"))?;
    if m.abs() > 14 * 60 {
        return Err(format!("{s:?} is outside -14:00..+14:00"));
    }
    i16::try_from(m).map_err(|_| format!("{s:?} is outside -14:00..+14:00"))
}

/// `±HH:MM` of an offset in minutes; None outside -14:00..=+14:00.
pub fn render_offset(min: i16) -> Option<String> {
    if min.unsigned_abs() > 14 * 60 {
        return None;
    }
    let sign = if min < 0 { '-' } else { '+' };
    let a = min.unsigned_abs();
    Some(format!("{sign}{:02}:{:02}", a / 60, a % 60))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_epcis_spellings() {
        let a = parse_ms("2005-04-03T20:33:31.116000-06:00").unwrap();
        let b = parse_ms("2005-04-04T02:33:31.116Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, 1_112_582_011_116);
        assert_eq!(parse_ms("1970-01-01T00:00:00Z").unwrap(), 0);
        assert_eq!(parse_ms("2020-01-14T00:00:00+01:00").unwrap(), 1_578_956_400_000);
        assert_eq!(parse_ms("1969-12-31t23:59:59.9z").unwrap(), -100);
        assert_eq!(parse_ms("0000-01-01T00:00:00Z").unwrap(), MIN_MS);
        assert_eq!(parse_ms("9999-12-31T23:59:59.999Z").unwrap(), MAX_MS_EXCLUSIVE - 1);
    }

    #[test]
    fn refuses_what_it_cannot_hold() {
        for bad in [
            "2005-04-03",
            "2005-04-03 20:33:31Z",
            "2005-02-29T00:00:00Z",
            "2005-04-03T24:00:00Z",
            "2005-04-03T20:33:31",
            "2005-04-03T20:33:31.Z",
            "2005-04-03T20:33:31+0100",
            "2005-04-03T20:33:31.1234Z",
            "2016-12-31T23:59:60Z",
            "+2005-04-03T20:33:31Z",
        ] {
            assert!(parse_ms(bad).is_err(), "{bad} parsed");
        }
        assert!(
            parse_ms("2005-04-03T20:33:31.1234Z")
                .unwrap_err()
                .contains("sub-millisecond")
        );
        assert!(parse_ms("2016-12-31T23:59:60Z").unwrap_err().contains("leap second"));
    }

    #[test]
    fn render_round_trips() {
        for ms in [0, -1, 1_112_582_011_116, MIN_MS, MAX_MS_EXCLUSIVE - 1, 951_782_400_000] {
            let s = render_ms(ms).unwrap();
            assert_eq!(parse_ms(&s).unwrap(), ms, "{s}");
        }
        assert_eq!(render_ms(0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(render_ms(MAX_MS_EXCLUSIVE), None);
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+08:00").unwrap(), 480);
        assert_eq!(parse_offset("-06:00").unwrap(), -360);
        assert_eq!(parse_offset("+14:00").unwrap(), 840);
        assert!(parse_offset("+14:01").is_err());
        assert!(parse_offset("0100").is_err());
        assert_eq!(render_offset(0).unwrap(), "+00:00");
        assert_eq!(render_offset(-570).unwrap(), "-09:30");
        assert_eq!(render_offset(900), None);
    }
}
