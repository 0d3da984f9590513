//! What an operator sees: known traffic, then each metric's exact value, read from a recorder
//! installed in this test binary (the `metrics` facade takes one per process, so these tests
//! have a binary of their own), and the Prometheus text the chat example serves at `/metrics`.

#[allow(dead_code)]
#[path = "../examples/chat_room/mod.rs"]
mod chat_room;
#[allow(dead_code)]
#[path = "http/client.rs"]
mod client;
#[allow(dead_code)]
#[path = "http/server.rs"]
mod server;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::layers::FanoutBuilder;
use tokio::net::TcpListener;
use warp::Filter;
use warp_eventstream::{event_stream, json, serve, Clients, Event, Hub, Shutdown};

use client::{get, get_with_small_window, take_events};
use server::Calls;

const LIMIT: Duration = Duration::from_secs(20);

/// One recorder for the process: a debugging one for exact values, and Prometheus's.
fn recorders() -> &'static (Snapshotter, PrometheusHandle) {
    static RECORDERS: OnceLock<(Snapshotter, PrometheusHandle)> = OnceLock::new();
    RECORDERS.get_or_init(|| {
        let debugging = DebuggingRecorder::new();
        let snapshotter = debugging.snapshotter();
        let prometheus = PrometheusBuilder::new().build_recorder();
        let handle = prometheus.handle();
        let fanout = FanoutBuilder::default()
            .add_recorder(debugging)
            .add_recorder(prometheus)
            .build();
        metrics::set_global_recorder(fanout).expect("the only recorder of this binary");
        (snapshotter, handle)
    })
}

/// A metric's name and sorted labels.
type Series = (String, Vec<(String, String)>);

/// Every metric recorded since the last snapshot, with its value.
struct Recorded(Vec<(Series, DebugValue)>);

impl Recorded {
    fn take() -> Self {
        let snapshot = recorders().0.snapshot().into_vec();
        Recorded(
            snapshot
                .into_iter()
                .map(|(key, _, _, value)| {
                    let (_kind, key) = key.into_parts();
                    let (name, labels) = key.into_parts();
                    let mut labels: Vec<(String, String)> = labels
                        .into_iter()
                        .map(|label| {
                            let (key, value) = label.into_parts();
                            (key.to_string(), value.to_string())
                        })
                        .collect();
                    labels.sort();
                    ((name.as_str().to_owned(), labels), value)
                })
                .collect(),
        )
    }

    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<&DebugValue> {
        let mut wanted: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        wanted.sort();
        self.0
            .iter()
            .find(|((n, l), _)| n == name && *l == wanted)
            .map(|(_, value)| value)
    }

    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.find(name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            other => panic!("{name} {labels:?} is {other:?}"),
        }
    }

    fn gauge(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        match self.find(name, labels) {
            Some(DebugValue::Gauge(value)) => value.into_inner(),
            None => 0.0,
            other => panic!("{name} {labels:?} is {other:?}"),
        }
    }

    fn histogram_count(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        match self.find(name, labels) {
            Some(DebugValue::Histogram(values)) => values.len(),
            None => 0,
            other => panic!("{name} {labels:?} is {other:?}"),
        }
    }
}

// One thread: the lag burst below is stored whole before the lagging stream's task next runs.
// On two workers the stream could read each event as it came, never fall behind, and the test
// would wait for ever for a disconnect that was never due.
#[tokio::test]
async fn known_traffic_gives_exact_metrics() {
    recorders();
    let closed = Calls::new();
    let shutdown = Shutdown::new();

    // A tick stream: one client reads it to its end, one resumes, one is told it is finished.
    let ticks = {
        let close_tx = closed.sender.clone();
        event_stream! {
            route "/m/ticks" every 1ms until 3 shutdown shutdown.clone()
            on_close |_n| { close_tx.send("ticks").unwrap() }
            => |i| json!(i)
        }
    };
    // A hub stream with every way a stream can end.
    let hub: Hub<String> = Hub::new().record_subscribers_per_topic();
    let feed = {
        let close_tx = closed.sender.clone();
        event_stream! {
            route "/m/feed" / room: String
            from hub(hub.clone(), room)
            buffer 2 on_lag disconnect max_clients 4 write_timeout 300ms keep_alive 50ms
            shutdown shutdown.clone()
            on_close |_n| { close_tx.send("feed").unwrap() }
        }
    };
    let panics = {
        let close_tx = closed.sender.clone();
        event_stream! {
            route "/m/panics" every 1ms shutdown shutdown.clone()
            on_close |_n| { close_tx.send("panics").unwrap() }
            => |i| { assert!(i < 2, "the handler panics at tick 2"); json!(i) }
        }
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(ticks.or(feed).or(panics)).run(listener));
    let mut closed = closed;

    // Ticks: 3 events, then the close event; a resume after tick 1 sends ticks 2 and 3.
    let whole = get(addr, "/m/ticks", &[]).await.body().await;
    assert!(whole.ends_with("event: close\ndata: 3\n\n"));
    let resumed = get(addr, "/m/ticks", &[("last-event-id", "1")])
        .await
        .body()
        .await;
    assert!(resumed.starts_with("id: 2\n"));
    assert_eq!(
        get(addr, "/m/ticks", &[("last-event-id", "3")])
            .await
            .status,
        204
    );
    for _ in 0..2 {
        assert_eq!(closed.next_within(LIMIT).await, "ticks");
    }

    // A panicking handler.
    let mut panicking = get(addr, "/m/panics", &[]).await;
    assert!(panicking.aborted().await);
    assert_eq!(closed.next_within(LIMIT).await, "panics");

    // Hub: a client that leaves after its first event.
    let mut leaver = Box::pin(get(addr, "/m/feed/a", &[]).await.events());
    hub.publish("a", "one".to_owned()).await.unwrap();
    take_events(&mut leaver, 1, LIMIT).await;
    drop(leaver);
    assert_eq!(closed.next_within(LIMIT).await, "feed");

    // A lagging client: a burst of 10 into `buffer 2` disconnects it (the publishes complete at
    // once, so the stream's task runs only after the whole burst is stored).
    let mut lagging = get(addr, "/m/feed/b", &[]).await;
    lagging.chunk().await.expect("the position frame");
    for n in 0..10 {
        hub.publish("b", format!("burst {n}")).await.unwrap();
    }
    while lagging.chunk_until_closed().await.is_some() {}
    assert_eq!(closed.next_within(LIMIT).await, "feed");

    // A client that stopped reading: 64 KiB events until its writes stall for 300 ms.
    let stalled = get_with_small_window(addr, "/m/feed/c", 4096).await;
    let mut healthy = Box::pin(get(addr, "/m/feed/c", &[]).await.events());
    let big = "x".repeat(64 * 1024);
    loop {
        hub.publish("c", big.clone()).await.unwrap();
        take_events(&mut healthy, 1, LIMIT).await;
        if let Ok(which) =
            tokio::time::timeout(Duration::from_millis(10), closed.next_within(LIMIT)).await
        {
            assert_eq!(which, "feed");
            break;
        }
    }
    drop(stalled);

    // max_clients 4: the healthy client, two more, a quiet one, then a fifth is refused.
    let _second = get(addr, "/m/feed/d", &[]).await;
    let keeper = get(addr, "/m/feed/d", &[]).await;
    // A quiet stream gets a keep-alive comment after 50 ms.
    let mut quiet = get(addr, "/m/feed/e", &[]).await;
    let mut seen = Vec::new();
    while !seen.ends_with(b":\n\n") {
        seen.extend_from_slice(&quiet.chunk().await.expect("the quiet stream stays open"));
    }
    assert_eq!(get(addr, "/m/feed/d", &[]).await.status, 503);
    // A reset: an id ahead of the topic (from before a restart, say).
    drop(keeper);
    assert_eq!(closed.next_within(LIMIT).await, "feed");
    let mut reset = Box::pin(
        get(addr, "/m/feed/b", &[("last-event-id", "999999")])
            .await
            .events(),
    );
    assert_eq!(take_events(&mut reset, 1, LIMIT).await[0].event, "reset");
    // A publish the hub refuses.
    let refused = hub
        .publish_event("a", Event::text("x").name("bad\nname"))
        .await;
    assert!(refused.is_err());

    // Shutdown ends the four streams still open; a request after it is refused.
    shutdown.trigger();
    for _ in 0..4 {
        assert_eq!(closed.next_within(LIMIT).await, "feed");
    }
    assert_eq!(get(addr, "/m/feed/a", &[]).await.status, 503);

    let recorded = Recorded::take();
    let ticks = [("route", "/m/ticks")];
    let feed = [("route", "/m/feed/{room}")];
    let panics = [("route", "/m/panics")];
    let closed_by = |route: &'static str, reason: &'static str| {
        recorded.counter(
            "sse_streams_closed_total",
            &[("route", route), ("reason", reason)],
        )
    };
    assert_eq!(recorded.counter("sse_streams_opened_total", &ticks), 2);
    assert_eq!(closed_by("/m/ticks", "ended"), 2);
    assert_eq!(
        recorded.counter("sse_events_sent_total", &ticks),
        5,
        "3 then 2 ticks"
    );
    assert_eq!(
        recorded.counter(
            "sse_reconnects_total",
            &[("route", "/m/ticks"), ("outcome", "resumed")]
        ),
        1
    );
    assert_eq!(
        recorded.counter(
            "sse_reconnects_total",
            &[("route", "/m/ticks"), ("outcome", "none")]
        ),
        1
    );
    assert_eq!(
        recorded.counter(
            "sse_requests_refused_total",
            &[
                ("route", "/m/ticks"),
                ("status", "204"),
                ("reason", "finished")
            ]
        ),
        1
    );
    assert_eq!(recorded.gauge("sse_streams_open", &ticks), 0.0);
    assert_eq!(
        recorded.histogram_count("sse_stream_duration_seconds", &ticks),
        2
    );
    let tick_bytes = (whole.len() + resumed.len()) as u64;
    assert_eq!(recorded.counter("sse_bytes_sent_total", &ticks), tick_bytes);

    assert_eq!(closed_by("/m/panics", "panic"), 1);
    assert_eq!(recorded.counter("sse_streams_opened_total", &panics), 1);

    assert_eq!(recorded.counter("sse_streams_opened_total", &feed), 8);
    assert_eq!(
        closed_by("/m/feed/{room}", "client_left"),
        2,
        "the leaver and the keeper"
    );
    assert_eq!(closed_by("/m/feed/{room}", "lagged"), 1);
    assert_eq!(closed_by("/m/feed/{room}", "write_timeout"), 1);
    assert_eq!(closed_by("/m/feed/{room}", "shutdown"), 4);
    assert_eq!(closed_by("/m/feed/{room}", "ended"), 0);
    assert_eq!(recorded.gauge("sse_streams_open", &feed), 0.0);
    assert_eq!(
        recorded.counter(
            "sse_requests_refused_total",
            &[
                ("route", "/m/feed/{room}"),
                ("status", "503"),
                ("reason", "max_clients")
            ]
        ),
        1
    );
    assert_eq!(
        recorded.counter(
            "sse_requests_refused_total",
            &[
                ("route", "/m/feed/{room}"),
                ("status", "503"),
                ("reason", "shutdown")
            ]
        ),
        1
    );
    assert_eq!(
        recorded.counter(
            "sse_reconnects_total",
            &[("route", "/m/feed/{room}"), ("outcome", "reset")]
        ),
        1
    );
    assert!(
        recorded.counter("sse_hub_events_dropped_total", &feed) >= 1,
        "the lagging client's"
    );
    assert!(
        recorded.counter("sse_keep_alives_total", &feed) >= 1,
        "the quiet stream's"
    );
    assert!(recorded.counter("sse_hub_events_published_total", &[]) >= 11);
    assert_eq!(
        recorded.counter("sse_hub_publish_errors_total", &[("reason", "event_name")]),
        1
    );
    for room in ["a", "b", "c", "d", "e"] {
        assert_eq!(
            recorded.gauge("sse_hub_subscribers", &[("topic", room)]),
            0.0,
            "{room}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_example_serves_prometheus_text_at_metrics() {
    let prometheus = recorders().1.clone();
    let chat: Hub<chat_room::Message> = Hub::new();
    let routes = chat_room::routes(chat, Clients::new(), prometheus);
    let addr = server::serve(routes).await;

    let mut page = Box::pin(get(addr, "/rooms/lobby/events", &[]).await.events());
    let posted = client::request_with_body(
        addr,
        "POST",
        "/rooms/lobby/messages",
        &[("content-type", "application/json")],
        br#"{"name":"ann","text":"hi"}"#,
    )
    .await;
    assert_eq!(posted.status, 202);
    assert_eq!(
        take_events(&mut page, 1, LIMIT).await[0].data,
        r#"{"name":"ann","text":"hi"}"#
    );
    drop(page);

    let text = get(addr, "/metrics", &[]).await.body().await;
    let route = r#"route="/rooms/{room}/events""#;
    for line in [
        format!("sse_streams_opened_total{{{route}}} 1"),
        format!("sse_events_sent_total{{{route}}} 1"),
    ] {
        assert!(text.lines().any(|l| l == line), "{line:?} not in:\n{text}");
    }
    assert!(text.contains("sse_hub_events_published_total"), "{text}");
    assert!(
        text.contains("sse_stream_duration_seconds") || text.contains("sse_streams_open"),
        "{text}"
    );
}

/// The log lines of this binary, as JSON, from the first call on.
fn logs() -> &'static std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let logs = logs.clone();
            move || Lines(logs.clone())
        };
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::DEBUG)
            .with_current_span(true)
            .with_writer(writer)
            .init();
        logs
    })
}

struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stream_logs_in_a_span_with_its_route_peer_last_event_id_and_close() {
    let logs = logs();
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    let ticks = event_stream! {
        route "/s/ticks" / n: u32 every 1ms until 3
        on_close |_n| { close_tx.send(()).unwrap() }
        => |i| json!(i * u64::from(*n))
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(ticks).run(listener));
    let body = get(addr, "/s/ticks/7", &[("last-event-id", "1")])
        .await
        .body()
        .await;
    assert!(body.ends_with("event: close\ndata: 3\n\n"), "{body}");
    closed.next_within(LIMIT).await;

    let text = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    let line = text
        .lines()
        .find(|line| line.contains("stream closed") && line.contains("/s/ticks/{n}"))
        .unwrap_or_else(|| panic!("no close logged for the stream:\n{text}"));
    let logged: serde_json::Value = serde_json::from_str(line).unwrap();
    let span = &logged["span"];
    assert_eq!(span["name"], "sse_stream", "{line}");
    assert_eq!(
        span["route"], "/s/ticks/{n}",
        "the declared route, not the path"
    );
    assert_eq!(span["last_event_id"], "1");
    assert!(
        span["peer"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
    assert_eq!(
        span["reason"], "ended",
        "recorded on the span when the stream ends"
    );
    assert_eq!(span["events"], 3, "the last tick sent");
    assert_eq!(logged["fields"]["reason"], "ended");
    assert_eq!(logged["fields"]["events"], 3);
}
