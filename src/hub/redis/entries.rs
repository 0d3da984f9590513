//! Redis stream entries as the hub stores them, and the replies that carry them.
//!
//! An entry holds what [`Outgoing::stored`] gives (fields `event`, `kind`, `data`); its id is the
//! one Redis assigned. Replies are read from raw [`Value`]s, which keeps a batch of entries to one
//! pass and no per-entry map.

use redis::Value;

use crate::hub::transport::{HubFrame, Outgoing};
use crate::hub::EventId;

/// One entry read back: its id and, unless some other program wrote it, its event.
pub(super) struct Entry {
    pub(super) id: EventId,
    pub(super) event: Option<Outgoing>,
}

impl Entry {
    /// The frame every subscriber of this process is written; `None` for a foreign entry,
    /// which is skipped (it still moves the topic's position).
    pub(super) fn frame(&self) -> Option<HubFrame> {
        let event = self.event.as_ref()?;
        Some(HubFrame {
            id: self.id,
            bytes: event.frame(self.id),
        })
    }
}

/// The entries of an `XRANGE`/`XREVRANGE` reply.
pub(super) fn range(reply: Value) -> Vec<Entry> {
    match reply {
        Value::Array(entries) => entries.into_iter().filter_map(entry).collect(),
        _ => Vec::new(),
    }
}

/// The streams of an `XREAD` reply, each key with its entries; empty on a timeout.
pub(super) fn read(reply: Value) -> Vec<(Vec<u8>, Vec<Entry>)> {
    let streams = match reply {
        Value::Array(streams) => streams,
        Value::Map(streams) => streams
            .into_iter()
            .map(|(key, entries)| Value::Array(vec![key, entries]))
            .collect(),
        _ => return Vec::new(),
    };
    streams
        .into_iter()
        .filter_map(|stream| {
            let Value::Array(mut parts) = stream else {
                return None;
            };
            if parts.len() != 2 {
                return None;
            }
            let entries = range(parts.pop()?);
            let key = bytes(parts.pop()?)?;
            Some((key, entries))
        })
        .collect()
}

/// An id as Redis writes it.
pub(super) fn id(value: Value) -> Option<EventId> {
    EventId::parse_pair(std::str::from_utf8(&bytes(value)?).ok()?)
}

fn entry(value: Value) -> Option<Entry> {
    let Value::Array(mut parts) = value else {
        return None;
    };
    if parts.len() != 2 {
        return None;
    }
    let fields = parts.pop()?;
    let id = id(parts.pop()?)?;
    Some(Entry {
        id,
        event: event(fields),
    })
}

fn event(fields: Value) -> Option<Outgoing> {
    let fields = match fields {
        Value::Array(fields) => fields,
        _ => return None,
    };
    let (mut name, mut kind, mut data) = (None, None, None);
    let mut fields = fields.into_iter();
    while let (Some(field), Some(value)) = (fields.next(), fields.next()) {
        match &bytes(field)?[..] {
            b"event" => name = Some(String::from_utf8(bytes(value)?).ok()?),
            b"kind" => kind = Some(bytes(value)?),
            b"data" => data = Some(bytes(value)?),
            _ => {}
        }
    }
    Outgoing::from_stored(&name?, &kind?, data?)
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    }
}
