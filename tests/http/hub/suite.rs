//! What every hub transport promises: fan-out, replay on reconnect, reset, slow clients,
//! client limits, shutdown. Each function is one test, run per transport by `mod.rs`. Ids are
//! compared with the ids `publish` returned, since each transport writes its own.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use warp_eventstream::{event_stream, EventId, Hub, Shutdown};

use super::Backend;
use crate::client::{get, get_with_small_window, take_events};
use crate::server::{serve, Calls};

const LIMIT: Duration = Duration::from_secs(20);

fn data(event: &eventsource_stream::Event) -> Value {
    serde_json::from_str(&event.data).unwrap()
}

async fn publish_all<T: serde::Serialize>(
    hub: &Hub<T>,
    topic: &str,
    values: impl IntoIterator<Item = T>,
) -> Vec<EventId> {
    let mut ids = Vec::new();
    for value in values {
        ids.push(hub.publish(topic, value).await.unwrap());
    }
    ids
}

fn ids(events: &[eventsource_stream::Event]) -> Vec<String> {
    events.iter().map(|e| e.id.clone()).collect()
}

fn strings(ids: &[EventId]) -> Vec<String> {
    ids.iter().map(EventId::to_string).collect()
}

pub async fn fan_out_to_100_clients_delivers_every_event_in_order(backend: Backend) {
    let hub: Hub<u32> = backend.hub(1024).await;
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "all") };
    let addr = serve(feed).await;

    // The response head arrives after the subscription is made, so nothing published next is lost.
    let mut clients = Vec::new();
    for _ in 0..100 {
        clients.push(Box::pin(get(addr, "/feed", &[]).await.events()));
    }
    assert_eq!(hub.subscribers("all"), 100);
    let published = publish_all(&hub, "all", 1..=200).await;
    assert!(published.windows(2).all(|w| w[0] < w[1]), "ids increase");
    let received = futures::future::join_all(
        clients
            .iter_mut()
            .map(|events| take_events(events, 200, LIMIT)),
    )
    .await;
    for events in received {
        let values: Vec<Value> = events.iter().map(data).collect();
        assert_eq!(ids(&events), strings(&published));
        assert_eq!(values, (1..=200).map(|n| json!(n)).collect::<Vec<_>>());
        assert!(events.iter().all(|e| e.event == "message"));
    }
}

pub async fn a_reconnect_inside_the_buffer_receives_exactly_the_missed_events(backend: Backend) {
    let hub: Hub<String> = backend.hub(1024).await;
    let chat = event_stream! { route "/chat" from hub(hub.clone(), "lobby") };
    let addr = serve(chat).await;
    let published = publish_all(&hub, "lobby", (1..=10).map(|n| format!("message {n}"))).await;

    let last = published[3].to_string();
    let mut events = Box::pin(
        get(addr, "/chat", &[("last-event-id", &last)])
            .await
            .events(),
    );
    let missed = take_events(&mut events, 6, LIMIT).await;
    assert_eq!(ids(&missed), strings(&published[4..]));
    assert_eq!(data(&missed[0]), json!("message 5"));

    let live = hub.publish("lobby", "live".to_owned()).await.unwrap();
    let received = take_events(&mut events, 1, LIMIT).await;
    assert_eq!(
        (received[0].id.clone(), data(&received[0])),
        (live.to_string(), json!("live"))
    );
}

pub async fn a_new_client_learns_its_position_first_so_a_cut_before_any_event_resumes_exactly(
    backend: Backend,
) {
    let hub: Hub<u32> = backend.hub(1024).await;
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") };
    let addr = serve(feed).await;
    let published = publish_all(&hub, "t", 1..=3).await;

    // The first frame is id-only: it sets a browser's last event id and fires no event.
    let position = format!("id: {}\n\n", published[2]);
    let mut fresh = get(addr, "/feed", &[]).await;
    assert_eq!(fresh.body_prefix(position.len()).await, position);
    drop(fresh);

    // Published while that client was away; it reconnects with the id it was given.
    let missed_ids = publish_all(&hub, "t", 4..=5).await;
    let last = published[2].to_string();
    let mut events = Box::pin(
        get(addr, "/feed", &[("last-event-id", &last)])
            .await
            .events(),
    );
    let missed = take_events(&mut events, 2, LIMIT).await;
    assert_eq!(ids(&missed), strings(&missed_ids));
    assert_eq!(
        missed.iter().map(data).collect::<Vec<_>>(),
        [json!(4), json!(5)]
    );
}

pub async fn a_reconnect_behind_the_buffer_gets_a_reset_event_then_live_events(backend: Backend) {
    let hub: Hub<u32> = backend.hub(5).await;
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") };
    let addr = serve(feed).await;
    let published = publish_all(&hub, "t", 1..=backend.enough_to_trim()).await;

    let behind = published[1].to_string();
    let mut events = Box::pin(
        get(addr, "/feed", &[("last-event-id", &behind)])
            .await
            .events(),
    );
    let live = hub.publish("t", 0).await.unwrap();
    let received = take_events(&mut events, 2, LIMIT).await;
    assert_eq!(received[0].event, "reset");
    assert_eq!(received[0].id, published.last().unwrap().to_string());
    assert_eq!(data(&received[0]), json!({ "last_event_id": behind }));
    assert_eq!(
        (received[1].id.clone(), data(&received[1])),
        (live.to_string(), json!(0))
    );
}

pub async fn a_foreign_or_malformed_last_event_id_is_treated_as_absent(backend: Backend) {
    let hub: Hub<u32> = backend.hub(1024).await;
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") };
    let addr = serve(feed).await;
    let published = publish_all(&hub, "t", 1..=3).await;

    let position = format!("id: {}\n\n", published[2]);
    for junk in [backend.foreign_id(), "", "banana", "-1", "1-2-3"] {
        let mut client = get(addr, "/feed", &[("last-event-id", junk)]).await;
        assert_eq!(client.status, 200);
        assert_eq!(
            client.body_prefix(position.len()).await,
            position,
            "{junk:?} starts the client at the topic's head, with no backlog and no reset"
        );
    }
}

pub async fn path_parameters_select_the_topic(backend: Backend) {
    let hub: Hub<&'static str> = backend.hub(1024).await;
    let rooms = event_stream! {
        route "/rooms" / room: String / "events"
        from hub(hub.clone(), format!("room:{room}"))
    };
    let addr = serve(rooms).await;
    let mut a = Box::pin(get(addr, "/rooms/a/events", &[]).await.events());
    let mut b = Box::pin(get(addr, "/rooms/b/events", &[]).await.events());

    hub.publish("room:a", "for a").await.unwrap();
    hub.publish("room:b", "for b").await.unwrap();
    hub.publish("room:a", "for a again").await.unwrap();
    let to_a = take_events(&mut a, 2, LIMIT).await;
    let to_b = take_events(&mut b, 1, LIMIT).await;
    assert_eq!(
        to_a.iter().map(data).collect::<Vec<_>>(),
        [json!("for a"), json!("for a again")]
    );
    assert_eq!(data(&to_b[0]), json!("for b"));
    assert_eq!(get(addr, "/rooms/a", &[]).await.status, 404);
}

/// Fills the hub while one client has stopped reading, pacing the publisher by a healthy
/// client so that only the stalled one falls behind. Returns every id published, in order.
async fn publish_past_a_stalled_client(
    hub: &Hub<String>,
    addr: std::net::SocketAddr,
    total: usize,
) -> Vec<EventId> {
    let mut healthy = Box::pin(get(addr, "/feed", &[]).await.events());
    let payload = "x".repeat(1000);
    let mut published = Vec::new();
    while published.len() < total {
        // Bursts smaller than the endpoint's `buffer 32`, so the healthy client never lags.
        let burst = publish_all(hub, "t", std::iter::repeat_n(payload.clone(), 16)).await;
        let received = take_events(&mut healthy, 16, LIMIT).await;
        assert_eq!(
            ids(&received),
            strings(&burst),
            "the healthy client misses nothing"
        );
        assert!(received.iter().all(|event| event.event == "message"));
        published.extend(burst);
    }
    published
}

pub async fn a_stalled_client_is_skipped_forward_while_others_keep_up(backend: Backend) {
    let hub: Hub<String> = backend.hub(1024).await;
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") buffer 32 on_lag skip };
    let addr = serve(feed).await;

    let stalled = get_with_small_window(addr, "/feed", 4096).await;
    assert_eq!(stalled.status, 200);
    let mut published = publish_past_a_stalled_client(&hub, addr, 30_000).await;

    let mut events = Box::pin(stalled.events());
    let mut accounted = 0usize;
    let mut lagged = 0;
    loop {
        let event = take_events(&mut events, 1, LIMIT).await.remove(0);
        match event.event.as_str() {
            "lagged" => {
                lagged += 1;
                accounted += data(&event)["missed"].as_u64().unwrap() as usize;
                assert_eq!(
                    event.id,
                    published[accounted - 1].to_string(),
                    "a lagged event's id is the last skipped event's, where a reconnect resumes"
                );
                // Caught up: anything published from now on reaches this client.
                published.push(hub.publish("t", "last".to_owned()).await.unwrap());
            }
            "message" => {
                assert_eq!(
                    event.id,
                    published[accounted].to_string(),
                    "in order, none twice"
                );
                accounted += 1;
                if event.data == "\"last\"" {
                    break;
                }
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert!(lagged >= 1, "the stalled client was told it lagged");
    assert_eq!(
        accounted,
        published.len(),
        "every event was either delivered or counted as missed"
    );
}

pub async fn a_stalled_client_is_disconnected_under_on_lag_disconnect(backend: Backend) {
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    let hub: Hub<String> = backend.hub(1024).await;
    let feed = event_stream! {
        route "/feed" from hub(hub.clone(), "t") buffer 32 on_lag disconnect
        on_close |n| { close_tx.send(n).unwrap() }
    };
    let addr = serve(feed).await;

    let mut stalled = get_with_small_window(addr, "/feed", 4096).await;
    publish_past_a_stalled_client(&hub, addr, 20_000).await;
    hub.publish("t", "wake".to_owned()).await.unwrap();
    // The body ends (a clean end, so the frames before it arrive whole) with no close event:
    // the browser reconnects and resumes from the replay buffer.
    let rest = String::from_utf8(stalled.body_bytes().await).unwrap();
    assert!(
        !rest.contains("event: close"),
        "the server ended the stream without a close event"
    );
    let mut counts = vec![
        closed.next_within(LIMIT).await,
        closed.next_within(LIMIT).await,
    ];
    counts.sort();
    assert!(
        counts[0] < 20_000,
        "the stalled client did not get everything: {counts:?}"
    );
}

pub async fn on_lag_disconnect_sends_what_was_gathered_first_so_the_resume_starts_there(
    backend: Backend,
) {
    let hub: Hub<u32> = backend.hub(1024).await;
    let feed =
        event_stream! { route "/feed" from hub(hub.clone(), "t") buffer 2 on_lag disconnect };
    let addr = serve(feed).await;
    let mut client = get(addr, "/feed", &[]).await;
    let head = client.chunk().await.expect("the position frame");
    assert!(
        head.starts_with(b"id: ") && head.ends_with(b"\n\n"),
        "{head:?}"
    );

    // A burst the client cannot keep up with: it takes the first event(s), is then found more
    // than 2 behind, and leaves.
    let published = hub_burst(&hub, 10).await;
    let mut rest = Vec::new();
    while let Some(chunk) = client.chunk_until_closed().await {
        rest.extend_from_slice(&chunk);
    }
    let taken = crate::checks::event_source::parse(&rest);
    assert!(
        !taken.is_empty() && taken.len() < 10,
        "took {} events before leaving",
        taken.len()
    );
    assert_eq!(
        taken.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        strings(&published[..taken.len()]),
        "what was gathered before the lag reached the client, in order"
    );

    let last = taken.last().unwrap().id.clone();
    let mut events = Box::pin(
        get(addr, "/feed", &[("last-event-id", &last)])
            .await
            .events(),
    );
    let resumed = take_events(&mut events, 10 - taken.len(), LIMIT).await;
    assert_eq!(
        resumed.iter().map(data).collect::<Vec<_>>(),
        (taken.len() as u32 + 1..=10)
            .map(|n| json!(n))
            .collect::<Vec<_>>()
    );
}

/// Publishes 1..=n so that they reach subscribers as one burst: all at once, pipelined on a
/// broker's connection, so that its reader picks them up together.
async fn hub_burst(hub: &Hub<u32>, n: u32) -> Vec<EventId> {
    let published = futures::future::join_all((1..=n).map(|value| hub.publish("t", value))).await;
    let ids: Vec<EventId> = published.into_iter().map(Result::unwrap).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "stored in the order sent"
    );
    ids
}

pub async fn max_clients_answers_503_with_retry_after_until_a_place_frees(backend: Backend) {
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    let hub: Hub<u8> = backend.hub(1024).await;
    let feed = event_stream! {
        route "/feed" from hub(hub.clone(), "t") max_clients 2
        on_close |_n| { close_tx.send(()).unwrap() }
    };
    let addr = serve(feed).await;

    let first = get(addr, "/feed", &[]).await;
    let _second = get(addr, "/feed", &[]).await;
    let mut third = get(addr, "/feed", &[]).await;
    assert_eq!(third.status, 503);
    assert_eq!(third.header("retry-after"), Some("5"));
    assert_eq!(third.body().await, "max_clients reached");

    drop(first);
    closed.next_within(LIMIT).await;
    assert_eq!(get(addr, "/feed", &[]).await.status, 200);
}

pub async fn hub_events_keep_their_published_names(backend: Backend) {
    let hub: Hub<()> = backend.hub(1024).await;
    let alerts = event_stream! { route "/alerts" from hub(hub.clone(), "ops") };
    let addr = serve(alerts).await;
    let mut events = Box::pin(get(addr, "/alerts", &[]).await.events());
    let id = hub
        .publish_event(
            "ops",
            warp_eventstream::Event::text("disk\nfull").name("alert"),
        )
        .await
        .unwrap();
    let event = events.next().await.unwrap();
    assert_eq!(
        (event.event.as_str(), event.data.as_str(), event.id),
        ("alert", "disk\nfull", id.to_string())
    );
}

pub async fn shutdown_sends_every_hub_stream_its_close_event_and_runs_on_close(backend: Backend) {
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    let shutdown = Shutdown::new();
    let hub: Hub<u32> = backend.hub(1024).await;
    let feed = event_stream! {
        route "/feed" from hub(hub.clone(), "t") shutdown shutdown.clone()
        on_close |n| { close_tx.send(n).unwrap() }
    };
    let addr = serve(feed).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(Box::pin(
            get(addr, "/feed", &[]).await.events_until_closed(),
        ));
    }
    let id = hub.publish("t", 1).await.unwrap();
    for client in &mut clients {
        let got = take_events(client, 1, LIMIT).await;
        assert_eq!(got[0].id, id.to_string());
    }

    shutdown.trigger();
    for client in &mut clients {
        let close = take_events(client, 1, LIMIT).await;
        assert_eq!(
            (close[0].event.as_str(), close[0].data.as_str()),
            ("close", "1")
        );
        assert!(
            client.next().await.is_none(),
            "the stream ends after its close event"
        );
    }
    for _ in 0..3 {
        assert_eq!(closed.next_within(LIMIT).await, 1);
    }
    assert_eq!(
        closed.so_far(),
        Vec::<u64>::new(),
        "on_close ran once per stream"
    );
    assert_eq!(get(addr, "/feed", &[]).await.status, 503);
}
