//! Duration literals of the DSL (`250ms`, `1s`, `2min`, `1h`), read at compile time.
//!
//! The macro hands over the literal's source text (`stringify!(1s)`): Rust tokenises `1s` as an
//! integer with the suffix `s`, which is only an error once it is used as a number, so reading
//! the text in a `const` turns a bad unit into a compile error that names the clause.

use std::time::Duration;

/// Parses `<digits><unit>` with unit `ms`, `s`, `min` or `h`; panics with `error` otherwise.
///
/// Called in a `const` item, so the panic is a compile error carrying `error`.
pub const fn parse(text: &str, error: &'static str) -> Duration {
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
                None => panic!("{}", error),
            },
            None => panic!("{}", error),
        };
        digits += 1;
        i += 1;
    }
    if digits == 0 || value == 0 {
        panic!("{}", error);
    }
    let (_, unit) = bytes.split_at(i);
    let millis_per_unit: u64 = match unit {
        b"ms" => 1,
        b"s" => 1_000,
        b"min" => 60_000,
        b"h" => 3_600_000,
        _ => panic!("{}", error),
    };
    match value.checked_mul(millis_per_unit) {
        Some(millis) => Duration::from_millis(millis),
        None => panic!("{}", error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_is_read() {
        assert_eq!(parse("250ms", ""), Duration::from_millis(250));
        assert_eq!(parse("1s", ""), Duration::from_secs(1));
        assert_eq!(parse("2min", ""), Duration::from_secs(120));
        assert_eq!(parse("1h", ""), Duration::from_secs(3600));
        assert_eq!(parse("1_500ms", ""), Duration::from_millis(1500));
    }

    #[test]
    #[should_panic(expected = "bad")]
    fn unknown_unit_is_rejected() {
        parse("1x", "bad");
    }

    #[test]
    #[should_panic(expected = "bad")]
    fn zero_is_rejected() {
        parse("0s", "bad");
    }

    #[test]
    #[should_panic(expected = "bad")]
    fn missing_unit_is_rejected() {
        parse("15", "bad");
    }
}
