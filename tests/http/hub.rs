//! `from hub(...)`: fan-out, replay on reconnect, slow clients, topics from path parameters.

use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use warp_eventstream::{event_stream, Hub};

use crate::client::{get, get_with_small_window, take_events};
use crate::server::{serve, Calls};

const LIMIT: Duration = Duration::from_secs(20);

fn data(event: &eventsource_stream::Event) -> Value {
    serde_json::from_str(&event.data).unwrap()
}

#[tokio::test]
async fn fan_out_to_100_clients_delivers_every_event_in_order() {
    let hub: Hub<u32> = Hub::new();
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "all") };
    let addr = serve(feed).await;

    // The response head arrives after the subscription is made, so nothing published next is lost.
    let mut clients = Vec::new();
    for _ in 0..100 {
        clients.push(Box::pin(get(addr, "/feed", &[]).await.events()));
    }
    assert_eq!(hub.subscribers("all"), 100);
    for n in 1..=200 {
        hub.publish("all", n).unwrap();
    }
    let received = futures::future::join_all(
        clients
            .iter_mut()
            .map(|events| take_events(events, 200, LIMIT)),
    )
    .await;
    for events in received {
        let ids: Vec<u64> = events.iter().map(|e| e.id.parse().unwrap()).collect();
        let values: Vec<Value> = events.iter().map(data).collect();
        assert_eq!(ids, (1..=200).collect::<Vec<u64>>());
        assert_eq!(values, (1..=200).map(|n| json!(n)).collect::<Vec<_>>());
        assert!(events.iter().all(|e| e.event == "message"));
    }
}

#[tokio::test]
async fn a_reconnect_inside_the_buffer_receives_exactly_the_missed_events() {
    let hub: Hub<String> = Hub::new();
    let chat = event_stream! { route "/chat" from hub(hub.clone(), "lobby") };
    let addr = serve(chat).await;
    for n in 1..=10 {
        hub.publish("lobby", format!("message {n}")).unwrap();
    }

    let mut events = Box::pin(get(addr, "/chat", &[("last-event-id", "4")]).await.events());
    let missed = take_events(&mut events, 6, LIMIT).await;
    assert_eq!(
        missed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        ["5", "6", "7", "8", "9", "10"]
    );
    assert_eq!(data(&missed[0]), json!("message 5"));

    hub.publish("lobby", "live".to_owned()).unwrap();
    let live = take_events(&mut events, 1, LIMIT).await;
    assert_eq!((live[0].id.as_str(), data(&live[0])), ("11", json!("live")));
}

#[tokio::test]
async fn a_new_client_learns_its_position_first_so_a_cut_before_any_event_resumes_exactly() {
    let hub: Hub<u32> = Hub::new();
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") };
    let addr = serve(feed).await;
    for n in 1..=3 {
        hub.publish("t", n).unwrap();
    }

    // The first frame is id-only: it sets a browser's last event id and fires no event.
    let mut fresh = get(addr, "/feed", &[]).await;
    assert_eq!(fresh.body_prefix(7).await, "id: 3\n\n");
    drop(fresh);

    // Published while that client was away; it reconnects with the id it was given.
    for n in 4..=5 {
        hub.publish("t", n).unwrap();
    }
    let mut events = Box::pin(get(addr, "/feed", &[("last-event-id", "3")]).await.events());
    let missed = take_events(&mut events, 2, LIMIT).await;
    assert_eq!(
        missed
            .iter()
            .map(|e| (e.id.as_str(), data(e)))
            .collect::<Vec<_>>(),
        [("4", json!(4)), ("5", json!(5))]
    );
}

#[tokio::test]
async fn a_reconnect_behind_the_buffer_gets_a_reset_event_then_live_events() {
    let hub: Hub<u32> = Hub::with_replay(5);
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") };
    let addr = serve(feed).await;
    for n in 1..=10 {
        hub.publish("t", n).unwrap();
    }

    let mut events = Box::pin(get(addr, "/feed", &[("last-event-id", "2")]).await.events());
    hub.publish("t", 11).unwrap();
    let received = take_events(&mut events, 2, LIMIT).await;
    assert_eq!(received[0].event, "reset");
    assert_eq!(received[0].id, "10");
    assert_eq!(data(&received[0]), json!({ "last_event_id": 2 }));
    assert_eq!(
        (received[1].id.as_str(), data(&received[1])),
        ("11", json!(11))
    );
}

#[tokio::test]
async fn path_parameters_select_the_topic() {
    let hub: Hub<&'static str> = Hub::new();
    let rooms = event_stream! {
        route "/rooms" / room: String / "events"
        from hub(hub.clone(), format!("room:{room}"))
    };
    let addr = serve(rooms).await;
    let mut a = Box::pin(get(addr, "/rooms/a/events", &[]).await.events());
    let mut b = Box::pin(get(addr, "/rooms/b/events", &[]).await.events());

    hub.publish("room:a", "for a").unwrap();
    hub.publish("room:b", "for b").unwrap();
    hub.publish("room:a", "for a again").unwrap();
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
/// client so that only the stalled one falls behind. Returns the healthy client's count.
pub async fn publish_past_a_stalled_client(
    hub: &Hub<String>,
    addr: std::net::SocketAddr,
    total: u32,
) {
    let mut healthy = Box::pin(get(addr, "/feed", &[]).await.events());
    let payload = "x".repeat(1000);
    let mut seen = 0u32;
    while seen < total {
        // Bursts smaller than the endpoint's `buffer 32`, so the healthy client never lags.
        for _ in 0..16 {
            hub.publish("t", payload.clone()).unwrap();
        }
        for event in take_events(&mut healthy, 16, LIMIT).await {
            seen += 1;
            assert_eq!(
                event.id,
                seen.to_string(),
                "the healthy client misses nothing"
            );
            assert_eq!(event.event, "message");
        }
    }
}

#[tokio::test]
async fn a_stalled_client_is_skipped_forward_while_others_keep_up() {
    let hub: Hub<String> = Hub::new();
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") buffer 32 on_lag skip };
    let addr = serve(feed).await;

    let stalled = get_with_small_window(addr, "/feed", 4096).await;
    assert_eq!(stalled.status, 200);
    publish_past_a_stalled_client(&hub, addr, 30_000).await;

    let mut events = Box::pin(stalled.events());
    let mut ids_and_missed = 0u64;
    let mut lagged = 0;
    loop {
        let event = take_events(&mut events, 1, LIMIT).await.remove(0);
        match event.event.as_str() {
            "lagged" => {
                lagged += 1;
                ids_and_missed += data(&event)["missed"].as_u64().unwrap();
                assert_eq!(
                    event.id,
                    ids_and_missed.to_string(),
                    "ids skip what was missed"
                );
                // Caught up: anything published from now on reaches this client.
                hub.publish("t", "last".to_owned()).unwrap();
            }
            "message" => {
                ids_and_missed += 1;
                if event.data == "\"last\"" {
                    assert_eq!(event.id, "30001");
                    break;
                }
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert!(lagged >= 1, "the stalled client was told it lagged");
    assert_eq!(
        ids_and_missed, 30_001,
        "every event was either delivered or counted as missed"
    );
}

#[tokio::test]
async fn a_stalled_client_is_disconnected_under_on_lag_disconnect() {
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    let hub: Hub<String> = Hub::new();
    let feed = event_stream! {
        route "/feed" from hub(hub.clone(), "t") buffer 32 on_lag disconnect
        on_close |n| { close_tx.send(n).unwrap() }
    };
    let addr = serve(feed).await;

    let mut stalled = get_with_small_window(addr, "/feed", 4096).await;
    publish_past_a_stalled_client(&hub, addr, 20_000).await;
    hub.publish("t", "wake".to_owned()).unwrap();
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

#[tokio::test]
async fn on_lag_disconnect_sends_what_was_gathered_first_so_the_resume_starts_there() {
    let hub: Hub<u32> = Hub::new();
    let feed =
        event_stream! { route "/feed" from hub(hub.clone(), "t") buffer 2 on_lag disconnect };
    let addr = serve(feed).await;
    let mut client = get(addr, "/feed", &[]).await;
    assert_eq!(client.body_prefix(7).await, "id: 0\n\n");

    // A burst the client cannot keep up with: it has taken event 1 when it is found 9 behind.
    for n in 1..=10 {
        hub.publish("t", n).unwrap();
    }
    let mut rest = Vec::new();
    while let Some(chunk) = client.chunk_until_closed().await {
        rest.extend_from_slice(&chunk);
    }
    assert_eq!(String::from_utf8(rest).unwrap(), "id: 1\ndata: 1\n\n");

    let mut events = Box::pin(get(addr, "/feed", &[("last-event-id", "1")]).await.events());
    let resumed = take_events(&mut events, 9, LIMIT).await;
    assert_eq!(
        resumed.iter().map(data).collect::<Vec<_>>(),
        (2..=10).map(|n| json!(n)).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn max_clients_answers_503_with_retry_after_until_a_place_frees() {
    let mut closed = Calls::new();
    let close_tx = closed.sender.clone();
    let hub: Hub<u8> = Hub::new();
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

#[tokio::test]
async fn hub_events_keep_their_published_names() {
    let hub: Hub<()> = Hub::new();
    let alerts = event_stream! { route "/alerts" from hub(hub.clone(), "ops") };
    let addr = serve(alerts).await;
    let mut events = Box::pin(get(addr, "/alerts", &[]).await.events());
    hub.publish_event(
        "ops",
        warp_eventstream::Event::text("disk\nfull").name("alert"),
    )
    .unwrap();
    let event = events.next().await.unwrap();
    assert_eq!(
        (event.event.as_str(), event.data.as_str(), event.id.as_str()),
        ("alert", "disk\nfull", "1")
    );
}
