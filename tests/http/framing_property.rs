//! Property: whatever names, ids and payloads a handler computes, an independent SSE parser reads
//! back exactly what was sent, or the event was refused because it would break the framing.

use std::sync::Arc;

use futures::StreamExt;
use proptest::prelude::*;
use warp_eventstream::{event_stream, Event};

use crate::client::get;
use crate::server::serve;

/// Ticks per generated stream: `until` takes a literal, so every case fills all of them.
const TICKS: usize = 24;

#[derive(Debug, Clone)]
enum Data {
    Json(String),
    Text(String),
}

#[derive(Debug, Clone)]
struct Case {
    name: Option<String>,
    id: Option<String>,
    data: Data,
}

/// Strings that stress the framing: empty, line breaks of every kind, NUL, colons, spaces,
/// arbitrary unicode, and long ones.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "[a-z]{1,8}",
        "[ :a\\r\\n\\x00]{0,6}",
        any::<String>(),
        "[\\PC]{200,2000}",
        Just("message".to_owned()),
        Just("\u{feff}bom".to_owned()),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::option::of(tricky_string()),
        proptest::option::of(tricky_string()),
        prop_oneof![
            tricky_string().prop_map(Data::Json),
            tricky_string().prop_map(Data::Text)
        ],
    )
        .prop_map(|(name, id, data)| Case { name, id, data })
}

impl Case {
    fn event(&self) -> Event {
        let event = match &self.data {
            Data::Json(value) => Event::json(value),
            Data::Text(text) => Event::text(text.clone()),
        };
        let event = match &self.name {
            Some(name) => event.name(name.clone()),
            None => event,
        };
        match &self.id {
            Some(id) => event.id(id.clone()),
            None => event,
        }
    }

    /// What a conforming parser yields for tick `tick`: `(type, id, data)`, or `None` if the
    /// server must refuse the event.
    fn expected(&self, tick: usize) -> Option<(String, String, String)> {
        let name_ok = self
            .name
            .as_ref()
            .is_none_or(|n| !n.is_empty() && !n.contains(['\r', '\n']));
        let id_ok = self
            .id
            .as_ref()
            .is_none_or(|id| !id.contains(['\r', '\n', '\0']));
        if !name_ok || !id_ok {
            return None;
        }
        let data = match &self.data {
            Data::Json(value) => serde_json::to_string(value).unwrap(),
            // Every line break arrives as LF: the parser joins `data:` lines with LF.
            Data::Text(text) => text.replace("\r\n", "\n").replace('\r', "\n"),
        };
        let name = self.name.clone().unwrap_or_else(|| "message".to_owned());
        let id = self.id.clone().unwrap_or_else(|| tick.to_string());
        Some((name, id, data))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn parser_reads_back_what_was_sent_or_the_event_was_refused(cases in proptest::collection::vec(case(), TICKS)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        let received = runtime.block_on(async {
            let events = Arc::new(cases.iter().map(Case::event).collect::<Vec<_>>());
            let endpoint = event_stream! {
                route "/p" every 1s until 24 close_event off
                => event |i| events[i as usize - 1].clone()
            };
            let addr = serve(endpoint).await;
            get(addr, "/p", &[]).await.events().map(|e| (e.event, e.id, e.data)).collect::<Vec<_>>().await
        });
        let expected: Vec<_> = cases.iter().enumerate().filter_map(|(i, case)| case.expected(i + 1)).collect();
        prop_assert_eq!(received, expected);
    }
}
