//! Matching a request path against a `route`: literal segments and typed parameters, such as
//! `route "/rooms" / room: String / "events"`.

use std::str::FromStr;
use std::sync::Arc;

use warp::path::Tail;
use warp::{Filter, Rejection};

/// One piece of a route as declared: a literal (one or more `/`-separated segments) or a
/// parameter (exactly one segment).
#[derive(Debug, Clone, Copy)]
pub enum Piece {
    /// `"/rooms"` or `"events"`.
    Literal(&'static str),
    /// `room: String`.
    Param,
}

/// The parameter segments of a matched path, percent-decoded, in order.
#[derive(Debug)]
pub struct Captures(std::vec::IntoIter<String>);

enum Segment {
    Literal(&'static str),
    Param,
}

/// Matches the remaining path exactly (a trailing `/` is tolerated, as warp's own `path!` does),
/// extracting the parameters with `parse`; rejects with 404 otherwise, so `.or()` tries the next
/// route, and also when a parameter does not parse as its type (as `warp::path::param` does).
pub fn route<P: Send + 'static>(
    pieces: &'static [Piece],
    parse: fn(&mut Captures) -> Result<P, Rejection>,
) -> impl Filter<Extract = (P,), Error = Rejection> + Clone {
    let segments: Arc<[Segment]> = pieces
        .iter()
        .flat_map(|piece| -> Box<dyn Iterator<Item = Segment>> {
            match piece {
                Piece::Literal(text) => Box::new(
                    text.split('/')
                        .filter(|s| !s.is_empty())
                        .map(Segment::Literal),
                ),
                Piece::Param => Box::new(std::iter::once(Segment::Param)),
            }
        })
        .collect();
    warp::path::tail().and_then(move |tail: Tail| {
        let matched =
            match_path(&segments, tail.as_str()).and_then(|mut captures| parse(&mut captures).ok());
        std::future::ready(matched.ok_or_else(warp::reject::not_found))
    })
}

fn match_path(segments: &[Segment], path: &str) -> Option<Captures> {
    let mut params = Vec::new();
    let mut actual = segments_of(path);
    for segment in segments {
        let found = actual.next()?;
        match segment {
            Segment::Literal(text) if *text == found => {}
            Segment::Literal(_) => return None,
            Segment::Param if found.is_empty() => return None,
            Segment::Param => params.push(percent_decode(found)?),
        }
    }
    actual
        .next()
        .is_none()
        .then(|| Captures(params.into_iter()))
}

/// The next parameter, parsed as `T`.
pub fn param<T: FromStr>(captures: &mut Captures) -> Result<T, Rejection> {
    captures
        .0
        .next()
        .and_then(|segment| segment.parse().ok())
        .ok_or_else(warp::reject::not_found)
}

fn segments_of(path: &str) -> impl Iterator<Item = &str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segments = path.split('/');
    if path.is_empty() {
        // "" has no segments, but `split` would yield one empty one.
        segments.next();
    }
    segments
}

/// `%XX` escapes decoded; `None` for a bad escape (RFC 3986: `%` and exactly two hex digits) or
/// bytes that are not UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    if !segment.contains('%') {
        return Some(segment.to_owned());
    }
    let mut out = Vec::with_capacity(segment.len());
    let mut bytes = segment.bytes();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            // Digit by digit: `u8::from_str_radix` would also take a sign, as in `%+1`.
            let high = hex_digit(bytes.next()?)?;
            let low = hex_digit(bytes.next()?)?;
            out.push(high << 4 | low);
        } else {
            out.push(byte);
        }
    }
    String::from_utf8(out).ok()
}

fn hex_digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captures(pieces: &[Segment], path: &str) -> Option<Vec<String>> {
        match_path(pieces, path).map(|c| c.0.collect())
    }

    #[test]
    fn literal_and_param_segments_match_exactly() {
        let pieces = [
            Segment::Literal("rooms"),
            Segment::Param,
            Segment::Literal("events"),
        ];
        assert_eq!(
            captures(&pieces, "rooms/lobby/events"),
            Some(vec!["lobby".into()])
        );
        assert_eq!(
            captures(&pieces, "rooms/lobby/events/"),
            Some(vec!["lobby".into()])
        );
        assert_eq!(
            captures(&pieces, "rooms/a%20b/events"),
            Some(vec!["a b".into()])
        );
        assert_eq!(captures(&pieces, "rooms/lobby"), None);
        assert_eq!(captures(&pieces, "rooms/lobby/events/x"), None);
        assert_eq!(captures(&pieces, "rooms//events"), None);
        assert_eq!(captures(&pieces, "rooms/%zz/events"), None);
        assert_eq!(captures(&pieces, "rooms/%ff/events"), None);
        // Found by the `route` fuzz target: a sign is not a hex digit.
        assert_eq!(captures(&pieces, "rooms/%+1/events"), None);
        assert_eq!(captures(&pieces, "rooms/%2/events"), None);
        assert_eq!(
            captures(&pieces, "rooms/%E2%82%ac/events"),
            Some(vec!["€".into()])
        );
    }
}
