//! A `text/event-stream` parser that follows the WHATWG "Server-sent events" processing model
//! step by step, as a browser's `EventSource` does: the oracle the tests and fuzz targets compare
//! the server's bytes against, and the `Last-Event-ID` a browser would send on reconnect.
//! (`retry:` changes no event, so it is not tracked.)
//!
//! Written from the spec rather than taken from a crate, so that what it accepts is exactly what
//! a browser accepts (id-only frames, lone CR line endings, a BOM, NUL in ids).

/// One dispatched event, as a page's listener sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event type (`message` when the frame had no `event:` field).
    pub event: String,
    /// The data lines, joined with LF.
    pub data: String,
    /// `lastEventId`: the last `id:` seen on the stream, not only in this frame.
    pub id: String,
}

/// The parser's state for one connection; feed it the body as it arrives.
#[derive(Debug, Default, Clone)]
pub struct EventSource {
    /// Bytes of an unfinished line.
    line: Vec<u8>,
    /// Whether the stream's first bytes (where a BOM may stand) have been seen.
    started: bool,
    /// The previous chunk ended in CR: an LF starting this one belongs to that line ending.
    after_cr: bool,
    event_type: String,
    data: String,
    id_buffer: String,
    last_event_id: String,
}

impl EventSource {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        EventSource::default()
    }

    /// Processes the next bytes of the body; returns the events they dispatched, in order.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Event> {
        let events = Vec::new();
        if !self.started {
            // The UTF-8 decoder strips one leading BOM; it may arrive split over chunks.
            const BOM: &[u8] = b"\xEF\xBB\xBF";
            let seen = self.line.len() + bytes.len();
            if seen < BOM.len() && BOM.starts_with(&[&self.line[..], bytes].concat()) {
                self.line.extend_from_slice(bytes);
                return events;
            }
            let mut start = std::mem::take(&mut self.line);
            start.extend_from_slice(bytes);
            self.started = true;
            let rest = start.strip_prefix(BOM).unwrap_or(&start).to_vec();
            return self.feed_lines(&rest, events);
        }
        if bytes.is_empty() {
            return events;
        }
        if self.after_cr && bytes[0] == b'\n' {
            bytes = &bytes[1..];
        }
        self.after_cr = false;
        self.feed_lines(bytes, events)
    }

    fn feed_lines(&mut self, bytes: &[u8], mut events: Vec<Event>) -> Vec<Event> {
        let mut rest = bytes;
        while let Some(at) = rest.iter().position(|&b| b == b'\r' || b == b'\n') {
            self.line.extend_from_slice(&rest[..at]);
            let line = std::mem::take(&mut self.line);
            let skip = match (rest[at], rest.get(at + 1)) {
                (b'\r', Some(b'\n')) => 2,
                (b'\r', None) => {
                    self.after_cr = true;
                    1
                }
                _ => 1,
            };
            rest = &rest[at + skip..];
            if let Some(event) = self.process_line(&line) {
                events.push(event);
            }
        }
        self.line.extend_from_slice(rest);
        events
    }

    /// "Interpreting an event stream": one line.
    fn process_line(&mut self, line: &[u8]) -> Option<Event> {
        let line = String::from_utf8_lossy(line);
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&line[..], ""),
        };
        match field {
            "event" => self.event_type = value.to_owned(),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.id_buffer = value.to_owned(),
            _ => {}
        }
        None
    }

    /// "Dispatch the event": the id is taken even when no event fires.
    fn dispatch(&mut self) -> Option<Event> {
        self.last_event_id = self.id_buffer.clone();
        let event_type = std::mem::take(&mut self.event_type);
        let mut data = std::mem::take(&mut self.data);
        if data.is_empty() {
            return None;
        }
        data.pop(); // the LF after the last data line
        Some(Event {
            event: if event_type.is_empty() {
                "message".to_owned()
            } else {
                event_type
            },
            data,
            id: self.last_event_id.clone(),
        })
    }

    /// The `Last-Event-ID` header a browser sends when it reconnects (`None`: no header).
    pub fn last_event_id(&self) -> Option<&str> {
        Some(self.last_event_id.as_str()).filter(|id| !id.is_empty())
    }
}

/// Every event a whole body dispatches (an unfinished last frame is dropped, as at end of stream).
pub fn parse(body: &[u8]) -> Vec<Event> {
    EventSource::new().feed(body)
}
