//! The `Last-Event-ID` request header: where a reconnecting client wants its stream to resume.

use std::convert::Infallible;

use warp::Filter;

/// The id a client last saw, as its browser reports it on reconnect. What it means is the
/// source's business: a tick number, or a position a hub's transport reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LastEventId {
    /// No header: a fresh client.
    Absent,
    /// The header's text.
    Given(Box<str>),
    /// A value that is not visible ASCII, which no source could have sent.
    Unreadable,
}

/// The id of the last frame of a stream that ended by itself: a client that reconnects with it
/// is told `204 No Content`, which makes `EventSource` stop for good.
pub(crate) const FINISHED: &str = "end";

/// A `Last-Event-ID` that is not one of the source's ids: the stream starts as for a fresh client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

impl LastEventId {
    /// Whether the client saw its stream end (its last id is [`FINISHED`]).
    pub(crate) fn is_finished(&self) -> bool {
        matches!(self, LastEventId::Given(id) if &**id == FINISHED)
    }

    /// The header's text, for logs (`None` without the header or for one that is not text).
    pub(crate) fn as_text(&self) -> Option<&str> {
        match self {
            LastEventId::Given(id) => Some(id),
            LastEventId::Absent | LastEventId::Unreadable => None,
        }
    }

    /// As a tick: `Ok(None)` without the header, `Ok(Some(n))` for a plain decimal `u64`.
    pub(crate) fn tick(&self) -> Result<Option<u64>, Invalid> {
        match self {
            LastEventId::Absent => Ok(None),
            LastEventId::Given(id) => parse_tick(id).map(Some).ok_or(Invalid),
            LastEventId::Unreadable => Err(Invalid),
        }
    }

    /// As a position `parse` reads: `Ok(None)` without the header.
    pub(crate) fn position<P>(
        &self,
        parse: impl FnOnce(&str) -> Option<P>,
    ) -> Result<Option<P>, Invalid> {
        match self {
            LastEventId::Absent => Ok(None),
            LastEventId::Given(id) => parse(id).map(Some).ok_or(Invalid),
            LastEventId::Unreadable => Err(Invalid),
        }
    }
}

fn parse_tick(value: &str) -> Option<u64> {
    // `u64::from_str` accepts a leading `+`; ids this crate writes never have one.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// Extracts the header; it never rejects, so no header value can turn into an HTTP error.
pub(crate) fn last_event_id() -> impl Filter<Extract = (LastEventId,), Error = Infallible> + Clone {
    warp::header::optional::<String>("last-event-id")
        .map(|id: Option<String>| {
            id.map_or(LastEventId::Absent, |id| LastEventId::Given(id.into()))
        })
        // Only a value that is not visible ASCII gets here: warp refuses it before `from_str`.
        .or(warp::any().map(|| LastEventId::Unreadable))
        .unify()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_decimal_u64_resumes_a_tick_stream() {
        let tick = |s: &str| LastEventId::Given(s.into()).tick();
        assert_eq!(tick("0"), Ok(Some(0)));
        assert_eq!(tick("42"), Ok(Some(42)));
        assert_eq!(tick("18446744073709551615"), Ok(Some(u64::MAX)));
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
            assert_eq!(tick(junk), Err(Invalid), "{junk:?}");
        }
        assert_eq!(LastEventId::Absent.tick(), Ok(None));
        assert_eq!(LastEventId::Unreadable.tick(), Err(Invalid));
    }
}
