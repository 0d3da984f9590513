//! The oracle the fuzz checks and the resume test rely on (`tests/checks/event_source.rs`),
//! against the examples of the WHATWG "Server-sent events" section and the ways a body can be
//! split into chunks.

use crate::checks::event_source::{parse, Event, EventSource};

fn event(event: &str, data: &str, id: &str) -> Event {
    Event {
        event: event.to_owned(),
        data: data.to_owned(),
        id: id.to_owned(),
    }
}

#[test]
fn the_spec_examples_dispatch_what_the_spec_says() {
    assert_eq!(
        parse(b"data: YHOO\ndata: +2\ndata: 10\n\n"),
        [event("message", "YHOO\n+2\n10", "")]
    );
    assert_eq!(
        parse(b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n"),
        [
            event("message", "first event", "1"),
            // An `id` field with no value resets the last event id.
            event("message", "second event", ""),
            // Only one space after the colon is stripped.
            event("message", " third event", ""),
        ]
    );
    // The last block is not followed by a blank line, so it is never dispatched.
    assert_eq!(
        parse(b"data\n\ndata\ndata\n\ndata:"),
        [event("message", "", ""), event("message", "\n", "")]
    );
    assert_eq!(
        parse(b"data:test\n\ndata: test\n\n"),
        [event("message", "test", ""), event("message", "test", "")]
    );
    assert_eq!(
        parse(b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\n"),
        [event("add", "73857293", ""), event("remove", "2153", "")]
    );
}

#[test]
fn id_only_frames_set_the_last_event_id_without_an_event() {
    let mut source = EventSource::new();
    assert_eq!(source.feed(b"id: 42\n\n"), []);
    assert_eq!(source.last_event_id(), Some("42"));
    assert_eq!(source.feed(b"data: x\n\n"), [event("message", "x", "42")]);
    // An id holding NUL is ignored; an empty one clears it (and no header is sent then).
    source.feed(b"id: 4\x002\n\n");
    assert_eq!(source.last_event_id(), Some("42"));
    source.feed(b"id\n\n");
    assert_eq!(source.last_event_id(), None);
}

#[test]
fn every_line_ending_and_a_leading_bom_are_accepted() {
    assert_eq!(
        parse(b"\xEF\xBB\xBFdata: a\r\ndata: b\rdata: c\n\r\n"),
        [event("message", "a\nb\nc", "")]
    );
    // Only one BOM is stripped; a second one makes the first line's field name unknown.
    assert_eq!(parse(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n"), []);
    // Comments, unknown fields and `retry` change no event.
    assert_eq!(
        parse(b":c\nretry: 10\nfoo: bar\ndata: a\n\n"),
        [event("message", "a", "")]
    );
}

#[test]
fn any_split_into_chunks_gives_the_same_events() {
    let body: &[u8] =
        b"\xEF\xBB\xBFid: 1\r\nevent: tick\r\ndata: a\r\n\r\ndata: b\rdata: c\r\rid: 2\n\ndata: d\n\n";
    let whole = parse(body);
    assert_eq!(whole.len(), 3, "{whole:?}");
    for at in 0..=body.len() {
        let mut source = EventSource::new();
        let mut events = source.feed(&body[..at]);
        events.extend(source.feed(&body[at..]));
        assert_eq!(events, whole, "split at {at}");
    }
    let mut source = EventSource::new();
    let events: Vec<Event> = body.iter().flat_map(|b| source.feed(&[*b])).collect();
    assert_eq!(events, whole, "one byte at a time");
}
