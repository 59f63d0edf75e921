//! Calendar arithmetic for `Timestamp` and `Duration`: RFC 3339 parsing and formatting, duration
//! text (`15m`, `7d`), and the UTC calendar functions the standard library exposes.
//!
//! Timestamps are milliseconds since the Unix epoch in the proleptic Gregorian calendar, UTC.
//! The conversions use Howard Hinnant's days-from-civil algorithm in `i64`, so they are exact for
//! every instant an `i64` of milliseconds can hold; no date library is involved, which keeps the
//! interpreter and the JIT (which calls the same functions) in exact agreement.

/// Milliseconds in a second.
pub const MS_PER_SECOND: i64 = 1_000;
/// Milliseconds in a minute.
pub const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
/// Milliseconds in an hour.
pub const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
/// Milliseconds in a day (UTC days have no leap seconds here).
pub const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;
/// Milliseconds in a week.
pub const MS_PER_WEEK: i64 = 7 * MS_PER_DAY;

/// Days since 1970-01-01 of the civil date `year-month-day` (month 1–12, day 1–31).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// The civil date `(year, month, day)` of a count of days since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

/// The hour of the day, 0–23, in UTC.
pub fn hour_of_day(ts_ms: i64) -> i64 {
    ts_ms.rem_euclid(MS_PER_DAY) / MS_PER_HOUR
}

/// The ISO day of the week in UTC: 1 = Monday … 7 = Sunday.
pub fn day_of_week(ts_ms: i64) -> i64 {
    // 1970-01-01 was a Thursday (4).
    (ts_ms.div_euclid(MS_PER_DAY) + 3).rem_euclid(7) + 1
}

/// A cursor over ASCII text with the small helpers the parsers need.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `n` decimal digits.
    fn digits(&mut self, n: usize, what: &str) -> Result<i64, String> {
        let mut v = 0i64;
        for _ in 0..n {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    v = v * 10 + i64::from(b - b'0');
                    self.pos += 1;
                }
                _ => return Err(format!("expected {n} digits for the {what}")),
            }
        }
        Ok(v)
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), String> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(format!("expected `{}` {what}", b as char))
        }
    }
}

/// Parses an RFC 3339 timestamp (`2026-11-24T10:30:00Z`, `2026-11-24T10:30:00.250+01:00`) to
/// milliseconds since the epoch. A bare date (`2026-11-24`) means midnight UTC. Fractions finer
/// than a millisecond are truncated. Leap seconds (`:60`) are rejected.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4, "year")?;
    c.expect(b'-', "after the year")?;
    let month = c.digits(2, "month")? as u32;
    c.expect(b'-', "after the month")?;
    let day = c.digits(2, "day")? as u32;
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is out of range 01–12"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(format!("day {day} does not exist in {year:04}-{month:02}"));
    }
    let days = days_from_civil(year, month, day);
    if c.peek().is_none() {
        return Ok(days * MS_PER_DAY);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return Err("expected `T` between the date and the time".into());
    }
    let hour = c.digits(2, "hour")?;
    c.expect(b':', "after the hour")?;
    let minute = c.digits(2, "minute")?;
    c.expect(b':', "after the minute")?;
    let second = c.digits(2, "second")?;
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!("time {hour:02}:{minute:02}:{second:02} is out of range"));
    }
    let mut millis = 0i64;
    if c.eat(b'.') {
        let start = c.pos;
        let mut scale = 100;
        while let Some(b @ b'0'..=b'9') = c.peek() {
            millis += i64::from(b - b'0') * scale;
            scale /= 10;
            c.pos += 1;
        }
        if c.pos == start {
            return Err("expected digits after `.`".into());
        }
    }
    let offset_ms = match c.peek() {
        Some(b'Z' | b'z') => {
            c.pos += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let oh = c.digits(2, "offset hours")?;
            c.expect(b':', "in the offset")?;
            let om = c.digits(2, "offset minutes")?;
            if oh > 23 || om > 59 {
                return Err("the offset is out of range".into());
            }
            let v = oh * MS_PER_HOUR + om * MS_PER_MINUTE;
            if sign == b'-' {
                -v
            } else {
                v
            }
        }
        _ => return Err("expected `Z` or an offset like `+01:00` after the time".into()),
    };
    if c.peek().is_some() {
        return Err("unexpected text after the timestamp".into());
    }
    Ok(days * MS_PER_DAY + hour * MS_PER_HOUR + minute * MS_PER_MINUTE + second * MS_PER_SECOND + millis - offset_ms)
}

/// Formats milliseconds since the epoch as RFC 3339 in UTC: `2026-11-24T10:30:00Z`, with
/// `.mmm` when the milliseconds are not zero. Years outside 0000–9999 get a sign and more digits
/// (`+12345-…`), which RFC 3339 cannot express but which keeps the output readable.
pub fn format_rfc3339(ts_ms: i64) -> String {
    let days = ts_ms.div_euclid(MS_PER_DAY);
    let ms_of_day = ts_ms.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let h = ms_of_day / MS_PER_HOUR;
    let m = ms_of_day % MS_PER_HOUR / MS_PER_MINUTE;
    let s = ms_of_day % MS_PER_MINUTE / MS_PER_SECOND;
    let ms = ms_of_day % MS_PER_SECOND;
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    };
    if ms == 0 {
        format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}Z")
    } else {
        format!("{year}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
    }
}

const UNITS: [(&str, i64); 6] = [
    ("w", MS_PER_WEEK),
    ("d", MS_PER_DAY),
    ("h", MS_PER_HOUR),
    ("m", MS_PER_MINUTE),
    ("s", MS_PER_SECOND),
    ("ms", 1),
];

/// Parses duration text: one or more `<digits><unit>` groups with units `ms s m h d w`
/// (`15m`, `1h30m`, `500ms`), optionally preceded by `-`. Digits may contain `_`.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if body.is_empty() {
        return Err("expected a duration like `15m` or `7d`".into());
    }
    let bytes = body.as_bytes();
    let mut pos = 0;
    let mut total: i64 = 0;
    while pos < bytes.len() {
        let mut n: i64 = 0;
        let start = pos;
        while pos < bytes.len() && (bytes[pos].is_ascii_digit() || bytes[pos] == b'_') {
            if bytes[pos] != b'_' {
                n = n
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(i64::from(bytes[pos] - b'0')))
                    .ok_or("the duration is out of range")?;
            }
            pos += 1;
        }
        if pos == start {
            return Err(format!(
                "expected a number in `{text}` (durations look like `15m`, `7d`, `500ms`)"
            ));
        }
        let ustart = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let unit = &body[ustart..pos];
        let scale = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, s)| *s)
            .ok_or_else(|| format!("unknown duration unit `{unit}` in `{text}`: use ms, s, m, h, d or w"))?;
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or("the duration is out of range")?;
    }
    Ok(if negative { -total } else { total })
}

/// Formats a duration with the largest unit that divides it exactly (`7d` → `1w`, `90m`,
/// `1500ms`), so the text is a valid duration literal (with a leading `-` when negative).
pub fn format_duration(ms: i64) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    if abs == 0 {
        return "0ms".into();
    }
    for (unit, scale) in UNITS {
        let scale = scale as u64;
        if abs.is_multiple_of(scale) {
            return format!("{sign}{}{unit}", abs / scale);
        }
    }
    format!("{sign}{abs}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 1, 1), 20454);
        for d in [-800_000, -1, 0, 1, 20454, 59, 60, 1_000_000] {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
    }

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_rfc3339("2026-01-01T00:00:00Z"), Ok(1_767_225_600_000));
        assert_eq!(parse_rfc3339("2026-01-01"), Ok(1_767_225_600_000));
        assert_eq!(parse_rfc3339("2026-01-01T01:00:00.5+01:00"), Ok(1_767_225_600_500));
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.999Z"), Ok(-1));
        assert!(parse_rfc3339("2026-02-29T00:00:00Z").is_err());
        assert!(parse_rfc3339("2024-02-29T00:00:00Z").is_ok());
        assert!(parse_rfc3339("2026-01-01T24:00:00Z").is_err());
        assert!(parse_rfc3339("2026-01-01T10:00:00").is_err());
        assert!(parse_rfc3339("2026-1-01").is_err());
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(format_rfc3339(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999Z");
        for ts in [0, -1, 1_767_225_600_123, -62_000_000_000_000] {
            assert_eq!(parse_rfc3339(&format_rfc3339(ts)), Ok(ts));
        }
        // Extremes format without overflow.
        let _ = format_rfc3339(i64::MIN);
        let _ = format_rfc3339(i64::MAX);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Ok(15 * MS_PER_MINUTE));
        assert_eq!(parse_duration("1h30m"), Ok(90 * MS_PER_MINUTE));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert_eq!(parse_duration("-1_000ms"), Ok(-1000));
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("15y").is_err());
        assert!(parse_duration("99999999999999w").is_err());
        assert_eq!(format_duration(7 * MS_PER_DAY), "1w");
        assert_eq!(format_duration(90 * MS_PER_MINUTE), "90m");
        assert_eq!(format_duration(-1500), "-1500ms");
        assert_eq!(format_duration(0), "0ms");
        let _ = format_duration(i64::MIN);
    }

    #[test]
    fn calendar_functions() {
        // 2026-01-01 is a Thursday.
        assert_eq!(day_of_week(1_767_225_600_000), 4);
        assert_eq!(day_of_week(1_767_225_600_000 + 4 * MS_PER_DAY), 1);
        assert_eq!(day_of_week(-1), 3);
        assert_eq!(hour_of_day(1_767_225_600_000 + 13 * MS_PER_HOUR + 5), 13);
        assert_eq!(hour_of_day(-1), 23);
    }
}
