//! `text/event-stream` framing: each tick becomes one `Bytes` holding all of its events.
//!
//! Frames are built once, with their exact size reserved up front, and handed to hyper without
//! further copies. Field layout follows the WHATWG "Server-sent events" section: `event:` (left
//! out for the default `message` type, so `onmessage` sees it), `id:`, one `data:` line per line
//! of payload, then a blank line that dispatches the event.

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::validate::is_field_value;

/// The event type a browser dispatches when a frame has no `event:` line.
pub(crate) const DEFAULT_EVENT: &str = "message";

/// A comment line: ignored by clients, it keeps proxies and NAT tables from timing the stream out.
pub(crate) const KEEP_ALIVE: Bytes = Bytes::from_static(b":\n\n");

/// A value that cannot be framed: it would end a field early and corrupt the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FramingError {
    field: &'static str,
    value: String,
}

impl fmt::Display for FramingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SSE `{}` field {:?} is empty or contains CR, LF or NUL; event skipped",
            self.field, self.value
        )
    }
}

impl std::error::Error for FramingError {}

/// Checks a computed event name: non-empty, no CR or LF.
pub(crate) fn check_event_name(name: &str) -> Result<(), FramingError> {
    if name.is_empty() || !is_field_value(name, true) {
        return Err(FramingError {
            field: "event",
            value: name.to_owned(),
        });
    }
    Ok(())
}

/// Checks a computed id: no CR, LF or NUL (an empty id is valid: it resets the client's).
pub(crate) fn check_id(id: &str) -> Result<(), FramingError> {
    if !is_field_value(id, false) {
        return Err(FramingError {
            field: "id",
            value: id.to_owned(),
        });
    }
    Ok(())
}

/// The `event:` line of a declared name, precomputed once per endpoint.
#[derive(Debug, Clone)]
pub struct EventHeader(Box<[u8]>);

impl EventHeader {
    /// The header of a `message` event: none (a nameless event is a `message`).
    #[inline]
    pub(crate) fn message() -> Self {
        EventHeader(Box::new([]))
    }

    pub(crate) fn new(name: &str) -> Self {
        if name == DEFAULT_EVENT {
            return EventHeader::message();
        }
        let mut line = Vec::with_capacity(name.len() + 8);
        line.extend_from_slice(b"event: ");
        line.extend_from_slice(name.as_bytes());
        line.push(b'\n');
        EventHeader(line.into_boxed_slice())
    }

    /// The name this header was made from.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn name(&self) -> &str {
        match self.0.strip_prefix(b"event: ") {
            // Made from a `&str` by `new`: the bytes between the prefix and `\n` are that str.
            Some(line) => std::str::from_utf8(&line[..line.len() - 1]).expect("made from a str"),
            None => DEFAULT_EVENT,
        }
    }
}

/// How a payload is written as `data:` lines.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Payload<'a> {
    /// Serialised JSON: always one line, since serde_json escapes every control character.
    Json(&'a [u8]),
    /// Text split on CR, LF and CRLF into one `data:` line each, so multi-line text survives.
    Text(&'a str),
}

impl Payload<'_> {
    #[inline]
    fn encoded_len(&self) -> usize {
        match self {
            Payload::Json(json) => 7 + json.len(),
            Payload::Text(text) => text_lines(text).map(|line| 7 + line.len()).sum(),
        }
    }

    #[inline]
    fn write(&self, out: &mut impl BufMut) {
        match self {
            Payload::Json(json) => write_data_line(out, json),
            Payload::Text(text) => {
                text_lines(text).for_each(|line| write_data_line(out, line.as_bytes()))
            }
        }
    }
}

#[inline]
fn write_data_line(out: &mut impl BufMut, line: &[u8]) {
    out.put_slice(b"data: ");
    out.put_slice(line);
    out.put_u8(b'\n');
}

/// Splits on CRLF, CR and LF, the three line endings the SSE parser accepts.
fn text_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.find(['\r', '\n']) {
            Some(at) => {
                let skip = if current[at..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = Some(&current[at + skip..]);
                Some(&current[..at])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// Writes one tick: the same payload once per declared event header, in declared order.
pub(crate) fn encode_events(
    headers: &[EventHeader],
    id: Option<&str>,
    payload: Payload<'_>,
) -> Bytes {
    let id = id.map(str::as_bytes);
    let total = encoded_len(headers, id, payload);
    let mut out = BytesMut::with_capacity(total);
    write_events(&mut out, headers, id, payload);
    debug_assert_eq!(out.len(), total);
    out.freeze()
}

/// How many bytes [`write_events`] writes.
#[inline]
pub(crate) fn encoded_len(
    headers: &[EventHeader],
    id: Option<&[u8]>,
    payload: Payload<'_>,
) -> usize {
    let id_len = id.map_or(0, |id| 5 + id.len());
    let one = id_len + payload.encoded_len() + 1;
    headers.iter().map(|h| h.0.len() + one).sum()
}

/// Appends the frames [`encode_events`] gives to `out` (the id a checked one, as bytes).
#[inline]
pub(crate) fn write_events(
    out: &mut impl BufMut,
    headers: &[EventHeader],
    id: Option<&[u8]>,
    payload: Payload<'_>,
) {
    for header in headers {
        out.put_slice(&header.0);
        if let Some(id) = id {
            out.put_slice(b"id: ");
            out.put_slice(id);
            out.put_u8(b'\n');
        }
        payload.write(out);
        out.put_u8(b'\n');
    }
}

/// Writes `retry: <ms>`: the reconnection delay a browser uses after the stream drops.
pub(crate) fn encode_retry(millis: u128) -> Bytes {
    Bytes::from(format!("retry: {millis}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &Bytes) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn message_events_have_no_event_line() {
        let frame = encode_events(
            &[EventHeader::new("message")],
            None,
            Payload::Json(b"{\"a\":1}"),
        );
        assert_eq!(text(&frame), "data: {\"a\":1}\n\n");
    }

    #[test]
    fn each_declared_name_repeats_the_payload_in_order() {
        let headers = [EventHeader::new("message"), EventHeader::new("increment")];
        let frame = encode_events(&headers, Some("7"), Payload::Json(b"1"));
        assert_eq!(
            text(&frame),
            "id: 7\ndata: 1\n\nevent: increment\nid: 7\ndata: 1\n\n"
        );
    }

    #[test]
    fn text_payloads_get_one_data_line_per_line() {
        let frame = encode_events(
            &[EventHeader::new("message")],
            None,
            Payload::Text("a\r\nb\rc\nd"),
        );
        assert_eq!(text(&frame), "data: a\ndata: b\ndata: c\ndata: d\n\n");
        let frame = encode_events(&[EventHeader::new("message")], None, Payload::Text(""));
        assert_eq!(text(&frame), "data: \n\n");
        let frame = encode_events(&[EventHeader::new("message")], None, Payload::Text("end\n"));
        assert_eq!(text(&frame), "data: end\ndata: \n\n");
    }

    #[test]
    fn computed_fields_that_break_framing_are_refused() {
        assert!(check_event_name("").is_err());
        assert!(check_event_name("a\nb").is_err());
        assert!(check_id("1\r").is_err());
        assert!(check_id("a\0").is_err());
        assert!(check_id("").is_ok());
    }
}
