//! `Last-Event-ID` as outside input: whatever a client sends, a tick stream gives the documented
//! answer (resume after a plain decimal `u64`, start over otherwise, `204` at or past the end).

use std::ops::RangeInclusive;

use warp::http::HeaderValue;
use warp::reply::Response;
use warp::{Filter, Rejection};
use warp_eventstream::{event_stream, json};

use super::event_source::parse;

/// The path of [`endpoint`].
pub const PATH: &str = "/resume";

/// The ticks [`endpoint`] sends: the `until` in its declaration.
pub const TICKS: u64 = 3;

/// The endpoint every input is sent to: ticks 1 to [`TICKS`], each with its number as data.
pub fn endpoint() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync {
    event_stream! { route "/resume" every 1ms until 3 close_event off => |i| json!(i) }
}

/// The header value a server receives when a client sends `input`: HTTP parsers strip the
/// spaces and tabs around a field value. `None` when no request can carry it (a control byte:
/// hyper answers 400 before any endpoint runs, which `tests/faults/hostile.rs` covers).
pub fn header_value(input: &[u8]) -> Option<HeaderValue> {
    let is_space = |b: &u8| *b == b' ' || *b == b'\t';
    let start = input
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(input.len());
    let end = input
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |at| at + 1);
    let value = &input[start..end];
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return None;
    }
    HeaderValue::from_bytes(value).ok()
}

/// What the endpoint must answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// `200` with exactly these ticks, in order.
    Ticks(RangeInclusive<u64>),
    /// `204 No Content`: the client has everything; `EventSource` stops reconnecting.
    NoContent,
}

/// The documented answer to `value`: only ASCII digits that fit a `u64` resume.
pub fn expected(value: &HeaderValue) -> Answer {
    let digits = value.as_bytes();
    let resume_after = if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        digits.iter().try_fold(0u64, |n, digit| {
            n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })
    } else {
        None
    };
    match resume_after {
        Some(last) if last >= TICKS => Answer::NoContent,
        Some(last) => Answer::Ticks(last + 1..=TICKS),
        None => Answer::Ticks(1..=TICKS),
    }
}

/// Panics unless `status` and `body` are the documented answer to `value`.
pub fn check(value: &HeaderValue, status: u16, body: &[u8]) {
    let shown = String::from_utf8_lossy(body);
    match expected(value) {
        Answer::NoContent => {
            assert_eq!(status, 204, "Last-Event-ID {value:?}: {shown}");
            assert!(body.is_empty(), "Last-Event-ID {value:?}: {shown}");
        }
        Answer::Ticks(ticks) => {
            assert_eq!(status, 200, "Last-Event-ID {value:?}: {shown}");
            let received: Vec<(String, String)> = parse(body)
                .into_iter()
                .map(|event| (event.id, event.data))
                .collect();
            let sent: Vec<(String, String)> = ticks
                .map(|tick| (tick.to_string(), tick.to_string()))
                .collect();
            assert_eq!(received, sent, "Last-Event-ID {value:?}: {shown}");
        }
    }
}
