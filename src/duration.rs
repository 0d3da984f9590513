//! Duration literals of the DSL (`250ms`, `1s`, `2min`, `1h`), read at compile time.
//!
//! The macro hands over the literal's source text (`stringify!(1s)`): Rust tokenises `1s` as an
//! integer with the suffix `s`, which is only an error once it is used as a number, so reading
//! the text in a `const` turns a bad unit into a compile error that names the clause.

use std::time::Duration;

/// Why a duration literal was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationError {
    /// `0s`, `0ms`: a period or timeout of nothing.
    Zero,
    /// Not `<digits><unit>`, an unknown unit, or too large.
    Malformed,
}

/// Parses `<digits><unit>` with unit `ms`, `s`, `min` or `h`.
///
/// Called in a `const` item whose `Err` arm panics with the clause's message, so a mistake is a
/// compile error that says what was wrong, and no note points inside this function.
pub const fn parse(text: &str) -> Result<Duration, DurationError> {
    let bytes = text.as_bytes();
    let mut value: u64 = 0;
    let mut digits = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'_' && digits > 0 {
            i += 1;
            continue;
        }
        if !b.is_ascii_digit() {
            break;
        }
        value = match value.checked_mul(10) {
            Some(v) => match v.checked_add((b - b'0') as u64) {
                Some(v) => v,
                None => return Err(DurationError::Malformed),
            },
            None => return Err(DurationError::Malformed),
        };
        digits += 1;
        i += 1;
    }
    if digits == 0 {
        return Err(DurationError::Malformed);
    }
    let (_, unit) = bytes.split_at(i);
    let millis_per_unit: u64 = match unit {
        b"ms" => 1,
        b"s" => 1_000,
        b"min" => 60_000,
        b"h" => 3_600_000,
        _ => return Err(DurationError::Malformed),
    };
    if value == 0 {
        return Err(DurationError::Zero);
    }
    match value.checked_mul(millis_per_unit) {
        Some(millis) => Ok(Duration::from_millis(millis)),
        None => Err(DurationError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_is_read() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1_500ms"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn zero_is_told_apart_from_a_malformed_literal() {
        assert_eq!(parse("0s"), Err(DurationError::Zero));
        assert_eq!(parse("0ms"), Err(DurationError::Zero));
        assert_eq!(parse("1x"), Err(DurationError::Malformed));
        assert_eq!(parse("15"), Err(DurationError::Malformed));
        assert_eq!(parse("0x"), Err(DurationError::Malformed));
        assert_eq!(
            parse("99999999999999999999s"),
            Err(DurationError::Malformed)
        );
    }
}
