//! The config's value parsers: Go durations (`"1m30s"`) and human byte
//! sizes (`"10GB"`, `"256KiB"`), as Kubo reads them. Every Go-style duration
//! or size in Ferrite is parsed here.

use std::time::Duration;

/// Parses a human byte size as Kubo does (go-humanize `ParseBytes`): a
/// number (commas and a fraction allowed), optional space, and a
/// case-insensitive unit. SI units are powers of 1000 (`10GB` = 10¹⁰), IEC
/// units powers of 1024 (`256KiB` = 262 144); a bare number is bytes.
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let number = s[..digits_end].replace(',', "");
    let unit = s[digits_end..].trim().to_ascii_lowercase();
    let multiplier: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1000_u64.pow(2),
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1000_u64.pow(3),
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1000_u64.pow(4),
        "ti" | "tib" => 1 << 40,
        "p" | "pb" => 1000_u64.pow(5),
        "pi" | "pib" => 1 << 50,
        "e" | "eb" => 1000_u64.pow(6),
        "ei" | "eib" => 1 << 60,
        _ => return Err(format!("invalid size {s:?}: unknown unit {unit:?}")),
    };
    let bad = || format!("invalid size {s:?}: expected a number and a unit such as \"10GB\"");
    if number.is_empty() {
        return Err(bad());
    }
    let too_large = || format!("invalid size {s:?}: too large");
    if let Ok(n) = number.parse::<u64>() {
        return n.checked_mul(multiplier).ok_or_else(too_large);
    }
    // Fractions ("1.5GB") go through floating point, as in go-humanize.
    let f: f64 = number.parse().map_err(|_| bad())?;
    let bytes = f * multiplier as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(too_large());
    }
    Ok(bytes as u64)
}

/// Parses a Go duration string (`time.ParseDuration`), as used by Kubo's
/// config: a sequence of decimal numbers with units `ns`, `us`/`µs`, `ms`,
/// `s`, `m`, `h` (`"1h30m"`, `"1.5s"`, `"1m0s"`); `"0"` alone is zero.
/// Negative durations are refused.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = |why: &str| format!("invalid duration {s:?}: {why}");
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.starts_with('-') {
        return Err(bad("negative durations are not allowed"));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad("empty"));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (int_part, after) = rest.split_at(int_end);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                a.split_at(end)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(bad("expected a number"));
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(bad("missing unit")),
            other => return Err(bad(&format!("unknown unit {other:?}"))),
        };
        let int: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| bad("number too large"))?
        };
        total = int
            .checked_mul(unit_ns)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| bad("too large"))?;
        if !frac_part.is_empty() {
            // Nanosecond precision is all a Duration keeps.
            let digits = &frac_part[..frac_part.len().min(18)];
            let scale = 10u128.pow(digits.len() as u32);
            let frac: u128 = digits.parse().map_err(|_| bad("bad fraction"))?;
            total = total
                .checked_add(frac * unit_ns / scale)
                .ok_or_else(|| bad("too large"))?;
        }
        rest = after;
    }
    // Go durations are int64 nanoseconds.
    if total > i64::MAX as u128 {
        return Err(bad("too large"));
    }
    Ok(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provide::DEFAULT_REPROVIDE_INTERVAL;
    #[test]
    fn byte_sizes_follow_go_humanize() {
        assert_eq!(parse_byte_size("10GB"), Ok(10_000_000_000));
        assert_eq!(parse_byte_size("10gb"), Ok(10_000_000_000));
        assert_eq!(parse_byte_size("10 GiB"), Ok(10 << 30));
        assert_eq!(parse_byte_size("256KiB"), Ok(262_144));
        assert_eq!(parse_byte_size("1.5MB"), Ok(1_500_000));
        assert_eq!(parse_byte_size("1,000"), Ok(1000));
        assert_eq!(parse_byte_size("42"), Ok(42));
        assert_eq!(parse_byte_size("42 B"), Ok(42));
        assert_eq!(parse_byte_size("5k"), Ok(5000));
        assert_eq!(parse_byte_size("2gi"), Ok(2 << 30));
        assert!(parse_byte_size("").is_err());
        assert!(parse_byte_size("GB").is_err());
        assert!(parse_byte_size("-1GB").is_err());
        assert!(parse_byte_size("10 furlongs").is_err());
        assert!(parse_byte_size("100000EB").is_err());
    }

    #[test]
    fn durations_follow_go() {
        let d = |s| parse_duration(s);
        assert_eq!(d("0"), Ok(Duration::ZERO));
        assert_eq!(d("0s"), Ok(Duration::ZERO));
        assert_eq!(d("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(d("1m0s"), Ok(Duration::from_secs(60)));
        assert_eq!(d("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(d("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(d(".5s"), Ok(Duration::from_millis(500)));
        assert_eq!(d("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(d("2us"), Ok(Duration::from_micros(2)));
        assert_eq!(d("2µs"), Ok(Duration::from_micros(2)));
        assert_eq!(d("22h"), Ok(DEFAULT_REPROVIDE_INTERVAL));
        assert!(d("").is_err());
        assert!(d("10").is_err());
        assert!(d("1d").is_err());
        assert!(d("-1s").is_err());
        assert!(d("s").is_err());
        assert!(d("3000000h").is_err());
    }

    /// The cases of ferrite-cluster's former copy of this parser.
    #[test]
    fn cluster_go_durations() {
        let d = |s| parse_duration(s).ok();
        assert_eq!(d("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(d("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(d("90s"), Some(Duration::from_secs(90)));
        assert_eq!(d("1h30m10s"), Some(Duration::from_secs(5410)));
        assert_eq!(d("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(d("300ms"), Some(Duration::from_millis(300)));
        assert_eq!(d("0"), Some(Duration::ZERO));
        for bad in ["", "1", "-1h", "1d", "h", "1hx"] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }
}
