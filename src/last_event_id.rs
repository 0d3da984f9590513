//! The `Last-Event-ID` request header: where a reconnecting client wants its stream to resume.

use std::convert::Infallible;
use std::str::FromStr;

use warp::Filter;

/// The tick a client last saw, as its browser reports it on reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LastEventId {
    /// No header: a fresh client.
    Absent,
    /// A decimal `u64`: resume after this tick.
    Tick(u64),
    /// Anything else (empty, signed, too large, junk, not text): start over, and log it.
    Invalid,
}

impl FromStr for LastEventId {
    type Err = Infallible;

    fn from_str(value: &str) -> Result<Self, Infallible> {
        // `u64::from_str` accepts a leading `+`; ids this crate writes never have one.
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(LastEventId::Invalid);
        }
        Ok(value
            .parse()
            .map_or(LastEventId::Invalid, LastEventId::Tick))
    }
}

/// Extracts the header; it never rejects, so no header value can turn into an HTTP error.
pub(crate) fn last_event_id() -> impl Filter<Extract = (LastEventId,), Error = Infallible> + Clone {
    warp::header::optional::<LastEventId>("last-event-id")
        .map(|id: Option<LastEventId>| id.unwrap_or(LastEventId::Absent))
        // Only a value that is not visible ASCII gets here: warp refuses it before `from_str`.
        .or(warp::any().map(|| LastEventId::Invalid))
        .unify()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_decimal_u64_resumes() {
        let parse = |s: &str| s.parse::<LastEventId>().unwrap();
        assert_eq!(parse("0"), LastEventId::Tick(0));
        assert_eq!(parse("42"), LastEventId::Tick(42));
        assert_eq!(parse("18446744073709551615"), LastEventId::Tick(u64::MAX));
        for junk in [
            "",
            "+1",
            "-1",
            "1.0",
            " 1",
            "18446744073709551616",
            "abc",
            "1e3",
        ] {
            assert_eq!(parse(junk), LastEventId::Invalid, "{junk:?}");
        }
    }
}
