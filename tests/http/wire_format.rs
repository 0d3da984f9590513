//! The exact bytes each form of the DSL writes.
//!
//! These run on tokio's paused clock: the runtime jumps to the next timer whenever it is idle,
//! so `every 1s until 10` completes at once while the bytes stay exactly those of real time.

use warp_eventstream::{event_stream, json};

use crate::client::get;
use crate::server::{serve, Calls};

fn counting_message(i: u64) -> String {
    format!("id: {i}\ndata: {{\"msg\":\"Server count: {i}\"}}\n\n")
}

fn counting_increment(i: u64) -> String {
    format!("event: increment\nid: {i}\ndata: {{\"msg\":\"Server count: {i}\"}}\n\n")
}

#[tokio::test(start_paused = true)]
async fn short_form_writes_ten_message_events_then_close() {
    let counting = event_stream! { route "/event/counting" every 1s until 10 => |i| json!({ "msg": format!("Server count: {}", i) }) };
    let addr = serve(counting).await;

    let mut response = get(addr, "/event/counting", &[]).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/event-stream"));
    assert_eq!(response.header("cache-control"), Some("no-cache"));
    assert_eq!(response.header("x-accel-buffering"), Some("no"));

    let mut expected: String = (1..=10).map(counting_message).collect();
    expected.push_str("event: close\ndata: 10\n\n");
    assert_eq!(response.body().await, expected);
}

#[tokio::test(start_paused = true)]
async fn full_form_writes_both_names_per_tick_in_declared_order() {
    let mut opened = Calls::new();
    let mut closed = Calls::new();
    let (open_tx, close_tx) = (opened.sender.clone(), closed.sender.clone());
    let counting = event_stream! {
        route "/event/counting"
        every 1s
        until 10
        event ["message", "increment"]
        on_open { open_tx.send(()).unwrap() }
        on_close |n| { close_tx.send(n).unwrap() }
        => |i| json!({ "msg": format!("Server count: {}", i) })
    };
    let addr = serve(counting).await;

    let mut response = get(addr, "/event/counting", &[]).await;
    let mut expected: String = (1..=10)
        .map(|i| counting_message(i) + &counting_increment(i))
        .collect();
    expected.push_str("event: close\ndata: 10\n\n");
    assert_eq!(response.body().await, expected);

    assert_eq!(
        closed.next_within(std::time::Duration::from_secs(1)).await,
        10
    );
    assert_eq!(opened.so_far().len(), 1);
    assert!(closed.so_far().is_empty(), "on_close ran more than once");
}

#[tokio::test(start_paused = true)]
async fn each_tick_is_one_chunk_on_the_wire() {
    let counting = event_stream! {
        route "/e" every 1s until 2 event ["message", "increment"] close_event off
        => |i| json!(i)
    };
    let addr = serve(counting).await;
    let mut response = get(addr, "/e", &[]).await;
    let first = response.chunk().await.unwrap();
    assert_eq!(
        &first[..],
        b"id: 1\ndata: 1\n\nevent: increment\nid: 1\ndata: 1\n\n"
    );
    let second = response.chunk().await.unwrap();
    assert_eq!(
        &second[..],
        b"id: 2\ndata: 2\n\nevent: increment\nid: 2\ndata: 2\n\n"
    );
    assert!(
        response.chunk().await.is_none(),
        "close_event off ends the body after the last tick"
    );
}

#[tokio::test(start_paused = true)]
async fn a_single_custom_event_name_gets_an_event_line() {
    let ticks = event_stream! { route "/e" every 250ms until 1 event "tick" close_event "done" => |i| json!({ "i": i }) };
    let addr = serve(ticks).await;
    let body = get(addr, "/e", &[]).await.body().await;
    assert_eq!(
        body,
        "event: tick\nid: 1\ndata: {\"i\":1}\n\nevent: done\ndata: 1\n\n"
    );
}

#[tokio::test(start_paused = true)]
async fn idle_streams_send_keep_alive_comments() {
    let slow = event_stream! { route "/slow" every 20s until 1 close_event off => |i| json!(i) };
    let addr = serve(slow).await;
    // Default keep-alive: one comment at 15 s, then the tick at 20 s.
    assert_eq!(
        get(addr, "/slow", &[]).await.body().await,
        ":\n\nid: 1\ndata: 1\n\n"
    );

    let tuned = event_stream! { route "/tuned" every 5s until 1 keep_alive 2s close_event off => |i| json!(i) };
    let addr = serve(tuned).await;
    assert_eq!(
        get(addr, "/tuned", &[]).await.body().await,
        ":\n\n:\n\nid: 1\ndata: 1\n\n"
    );

    let quiet = event_stream! { route "/quiet" every 1min until 1 keep_alive off close_event off => |i| json!(i) };
    let addr = serve(quiet).await;
    assert_eq!(
        get(addr, "/quiet", &[]).await.body().await,
        "id: 1\ndata: 1\n\n"
    );
}

/// Three events a second apart, seventeen quiet seconds, a last event.
fn burst_then_quiet() -> impl futures::Stream<Item = u64> {
    futures::stream::unfold(0u64, |sent| async move {
        let wait = match sent {
            0..=2 => 1,
            3 => 17,
            _ => return None,
        };
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        Some((sent + 1, sent + 1))
    })
}

/// Keep-alive ticks come a quarter of a period apart: a comment goes out once three to four
/// seconds of a 4 s period have been quiet, never while events come more often, and a stream is
/// never quiet for longer than the period.
#[tokio::test(start_paused = true)]
async fn keep_alive_comments_fill_each_quiet_period_and_only_those() {
    let feed =
        event_stream! { route "/feed" from burst_then_quiet() keep_alive 4s close_event off };
    let addr = serve(feed).await;
    let mut response = get(addr, "/feed", &[]).await;
    let opened = tokio::time::Instant::now();
    let mut last = opened;
    let mut frames = Vec::new();
    while let Some(chunk) = response.chunk().await {
        let now = tokio::time::Instant::now();
        let quiet = now - last;
        last = now;
        let frame = String::from_utf8(chunk.to_vec()).unwrap();
        assert!(
            quiet.as_secs_f64() <= 4.0,
            "{quiet:?} without a write before {frame:?}"
        );
        if frame == ":\n\n" {
            assert!(
                quiet.as_secs_f64() >= 3.0,
                "a comment after only {quiet:?} of quiet"
            );
        }
        frames.push(((now - opened).as_secs(), frame));
    }
    let events: Vec<u64> = frames
        .iter()
        .filter(|(_, frame)| frame.contains("data: "))
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(
        events,
        [1, 2, 3, 20],
        "the events come when the source yields them"
    );
    assert_eq!(
        frames.last().unwrap().1,
        "id: end\n\n",
        "the stream marks its end"
    );
    let comments: Vec<u64> = frames
        .iter()
        .filter(|(_, frame)| frame == ":\n\n")
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(
        comments.len(),
        4,
        "one every four seconds of the quiet: {comments:?}"
    );
    assert!(comments.iter().all(|&at| at > 3 && at < 20), "{comments:?}");
}

#[tokio::test(start_paused = true)]
async fn retry_goes_first() {
    let counting =
        event_stream! { route "/e" every 1s until 1 retry 2500ms close_event off => |i| json!(i) };
    let addr = serve(counting).await;
    assert_eq!(
        get(addr, "/e", &[]).await.body().await,
        "retry: 2500\n\nid: 1\ndata: 1\n\n"
    );
}

#[tokio::test(start_paused = true)]
async fn text_handlers_send_one_data_line_per_line() {
    let poem = event_stream! {
        route "/poem" every 1s until 2 close_event off
        => text |i| if i == 1 { "roses\r\nviolets\rsugar\nyou".to_string() } else { String::new() }
    };
    let addr = serve(poem).await;
    let body = get(addr, "/poem", &[]).await.body().await;
    assert_eq!(
        body,
        "id: 1\ndata: roses\ndata: violets\ndata: sugar\ndata: you\n\nid: 2\ndata: \n\n"
    );
}
