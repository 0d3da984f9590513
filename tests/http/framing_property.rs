//! Property: whatever names, ids and payloads a handler computes, an independent SSE parser reads
//! back exactly what was sent, or the event was refused because it would break the framing.
//! The cases and the expectation are the framing fuzz target's (`tests/checks/framing.rs`); the
//! parser here is the `eventsource-stream` crate, a second one beside the checks' own.

use std::sync::Arc;

use futures::StreamExt;
use proptest::prelude::*;
use warp_eventstream::event_stream;

use crate::checks::event_source::Event;
use crate::checks::framing::Case;
use crate::client::get;
use crate::server::serve;

/// Ticks per generated stream: `until` takes a literal, so every case fills all of them.
const TICKS: usize = 24;

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
        tricky_string(),
        any::<bool>(),
    )
        .prop_map(|(name, id, data, json)| Case::new(name, id, data, json))
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
            get(addr, "/p", &[]).await.events().map(|e| Event { event: e.event, data: e.data, id: e.id }).collect::<Vec<_>>().await
        });
        let expected: Vec<_> = cases.iter().zip(1..).filter_map(|(case, tick)| case.expected_from_handler(tick)).collect();
        prop_assert_eq!(received, expected);
    }
}
