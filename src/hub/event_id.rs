//! [`EventId`]: an event's position within its topic, as the transport that carries it assigns
//! it and as a browser sends it back in `Last-Event-ID`.

use std::fmt;

/// The position of an event within its topic: the `id:` a client is sent, and what it sends back
/// in `Last-Event-ID` to resume.
///
/// Positions are opaque to the hub and to endpoints; each [`Transport`](crate::Transport) assigns
/// and parses its own. Two forms exist: a sequence number (`7`, what
/// [`MemoryTransport`](crate::MemoryTransport) counts), and a pair (`1700000000000-0`, the entry
/// ids a Redis stream assigns). Within one topic of one transport, later events have greater ids.
///
/// ```
/// use warp_eventstream::EventId;
///
/// assert_eq!(EventId::seq(7).to_string(), "7");
/// assert_eq!(EventId::pair(1700000000000, 3).to_string(), "1700000000000-3");
/// assert_eq!(EventId::parse_seq("7"), Some(EventId::seq(7)));
/// assert_eq!(EventId::parse_pair("1700000000000-3"), Some(EventId::pair(1700000000000, 3)));
/// assert_eq!(EventId::parse_seq("1700000000000-3"), None, "a foreign id");
/// assert!(EventId::pair(5, 0) < EventId::pair(5, 1));
/// assert_eq!(EventId::seq(7), "7");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId {
    major: u64,
    minor: u64,
    form: Form,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Form {
    /// `minor` alone.
    Seq,
    /// `major-minor`.
    Pair,
}

/// Digits of the longest id: two `u64`s and a dash.
pub(crate) const MAX_LEN: usize = 41;

impl EventId {
    /// A sequence number: written as `n`.
    ///
    /// ```
    /// assert_eq!(warp_eventstream::EventId::seq(0).to_string(), "0");
    /// ```
    pub const fn seq(n: u64) -> Self {
        EventId {
            major: 0,
            minor: n,
            form: Form::Seq,
        }
    }

    /// A pair, ordered by `major` then `minor`: written as `major-minor`, like a Redis stream
    /// entry id (milliseconds, then a sequence within the millisecond).
    ///
    /// ```
    /// assert_eq!(warp_eventstream::EventId::pair(0, 0).to_string(), "0-0");
    /// ```
    pub const fn pair(major: u64, minor: u64) -> Self {
        EventId {
            major,
            minor,
            form: Form::Pair,
        }
    }

    /// Reads a sequence number: plain ASCII digits, no sign, within `u64`.
    ///
    /// ```
    /// use warp_eventstream::EventId;
    /// assert_eq!(EventId::parse_seq("42"), Some(EventId::seq(42)));
    /// for junk in ["", "+1", "-1", " 1", "1.0", "18446744073709551616", "1-0"] {
    ///     assert_eq!(EventId::parse_seq(junk), None, "{junk:?}");
    /// }
    /// ```
    pub fn parse_seq(id: &str) -> Option<Self> {
        parse_digits(id).map(EventId::seq)
    }

    /// Reads a pair, `major-minor`, each part plain ASCII digits within `u64`.
    ///
    /// ```
    /// use warp_eventstream::EventId;
    /// assert_eq!(EventId::parse_pair("5-1"), Some(EventId::pair(5, 1)));
    /// for junk in ["", "5", "5-", "-1", "5-1-2", "5-+1", "a-b"] {
    ///     assert_eq!(EventId::parse_pair(junk), None, "{junk:?}");
    /// }
    /// ```
    pub fn parse_pair(id: &str) -> Option<Self> {
        let (major, minor) = id.split_once('-')?;
        Some(EventId::pair(parse_digits(major)?, parse_digits(minor)?))
    }

    /// The two numbers: `(0, n)` for a sequence number, `(major, minor)` for a pair.
    ///
    /// ```
    /// use warp_eventstream::EventId;
    /// assert_eq!(EventId::seq(9).parts(), (0, 9));
    /// assert_eq!(EventId::pair(3, 4).parts(), (3, 4));
    /// ```
    pub const fn parts(&self) -> (u64, u64) {
        (self.major, self.minor)
    }

    /// Writes the id into `buf` without allocating; returns the text.
    pub(crate) fn format<'a>(&self, buf: &'a mut [u8; MAX_LEN]) -> &'a str {
        std::str::from_utf8(self.digits(buf)).expect("ASCII digits")
    }

    /// [`format`](EventId::format) as bytes, for framing: no UTF-8 check on the publish path.
    pub(crate) fn digits<'a>(&self, buf: &'a mut [u8; MAX_LEN]) -> &'a [u8] {
        let mut at = buf.len();
        at = write_digits(buf, at, self.minor);
        if self.form == Form::Pair {
            at -= 1;
            buf[at] = b'-';
            at = write_digits(buf, at, self.major);
        }
        &buf[at..]
    }
}

fn parse_digits(digits: &str) -> Option<u64> {
    // `u64::from_str` accepts a leading `+`; ids this crate writes never have one.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Writes `value` in decimal ending just before `end`; returns where it starts.
fn write_digits(buf: &mut [u8; MAX_LEN], mut end: usize, mut value: u64) -> usize {
    loop {
        end -= 1;
        buf[end] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return end;
        }
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format(&mut [0; MAX_LEN]))
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({self})")
    }
}

impl PartialEq<str> for EventId {
    fn eq(&self, other: &str) -> bool {
        self.format(&mut [0; MAX_LEN]) == other
    }
}

impl PartialEq<&str> for EventId {
    fn eq(&self, other: &&str) -> bool {
        self == *other
    }
}

impl PartialEq<EventId> for &str {
    fn eq(&self, other: &EventId) -> bool {
        other == self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_ids_fit_the_buffer() {
        assert_eq!(EventId::seq(u64::MAX).to_string(), u64::MAX.to_string());
        let largest = EventId::pair(u64::MAX, u64::MAX).to_string();
        assert_eq!(largest, format!("{}-{}", u64::MAX, u64::MAX));
        assert_eq!(largest.len(), MAX_LEN);
        assert_eq!(
            EventId::parse_pair(&largest),
            Some(EventId::pair(u64::MAX, u64::MAX))
        );
    }
}
