//! The request path as outside input: a typed route matches exactly the paths its declaration
//! names, with each parameter percent-decoded (RFC 3986: `%` and two hex digits, UTF-8 after)
//! and parsed as its type; every other path is `404`.

use warp::http::Uri;
use warp::reply::Response;
use warp::{Filter, Rejection};
use warp_eventstream::{event_stream, json};

use super::event_source::parse;

/// The endpoint every path is sent to: `/rooms/<room>/events/<n>`, sending `[room, n]` once.
pub fn endpoint() -> impl Filter<Extract = (Response,), Error = Rejection> + Clone + Send + Sync {
    event_stream! {
        route "/rooms" / room: String / "events" / n: u32
        every 1ms until 1 close_event off
        => |_i| json!([room, n])
    }
}

/// The request target a client sends for fuzz input `input`: `/` and the input, when an HTTP
/// request line can carry it (visible ASCII only). Its path is what the server routes on.
pub fn target(input: &[u8]) -> Option<Uri> {
    if input.iter().any(|b| !b.is_ascii_graphic()) {
        return None;
    }
    let target = [b"/", input].concat();
    let uri = Uri::try_from(target).ok()?;
    // Only an origin-form target (a path, maybe a query) reaches routing as a path.
    uri.path().starts_with('/').then_some(uri)
}

/// `%XX` escapes decoded, strictly: a `%` not followed by two hex digits, or bytes that are not
/// UTF-8 after decoding, make the segment invalid.
fn percent_decode(segment: &str) -> Option<String> {
    let mut out = Vec::with_capacity(segment.len());
    let mut bytes = segment.bytes();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let high = (bytes.next()? as char).to_digit(16)?;
            let low = (bytes.next()? as char).to_digit(16)?;
            out.push((high * 16 + low) as u8);
        } else {
            out.push(byte);
        }
    }
    String::from_utf8(out).ok()
}

/// The parameters `path` must yield, or `None` when the route must not match.
pub fn expected(path: &str) -> Option<(String, u32)> {
    let rest = path.strip_prefix('/')?;
    // One trailing slash is tolerated, as warp's own `path!` does.
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segments: Vec<&str> = rest.split('/').collect();
    let [rooms, room, events, n] = segments[..] else {
        return None;
    };
    if rooms != "rooms" || events != "events" || room.is_empty() || n.is_empty() {
        return None;
    }
    let room = percent_decode(room)?;
    let n = percent_decode(n)?.parse().ok()?;
    Some((room, n))
}

/// Panics unless `status` and `body` are what the route must answer for `uri`.
pub fn check(uri: &Uri, status: u16, body: &[u8]) {
    let shown = String::from_utf8_lossy(body);
    match expected(uri.path()) {
        Some((room, n)) => {
            assert_eq!(status, 200, "{uri}: {shown}");
            let data: Vec<String> = parse(body).into_iter().map(|event| event.data).collect();
            assert_eq!(data, [json!([room, n]).to_string()], "{uri}: {shown}");
        }
        None => assert_eq!(status, 404, "{uri}: {shown}"),
    }
}
