//! `from <stream>`, typed route parameters, `with` filters, `async` handlers, named endpoints.

use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use serde_json::{json, Value};
use warp::Filter;
use warp_eventstream::event_stream;

use crate::client::get;
use crate::server::serve;

#[derive(Debug, Clone, Serialize)]
struct Progress {
    job: u32,
    percent: u8,
    done: bool,
}

fn job_progress(job: u32) -> impl futures::Stream<Item = Progress> {
    futures::stream::iter([0u8, 25, 50, 75, 100, 100]).map(move |percent| Progress {
        job,
        percent,
        done: percent == 100,
    })
}

fn data_lines(body: &str) -> Vec<Value> {
    body.lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .map(|data| serde_json::from_str(data).unwrap())
        .collect()
}

#[tokio::test]
async fn a_stream_source_built_from_path_parameters_ends_at_the_until_predicate() {
    let progress = event_stream! {
        route "/jobs" / job: u32 / "progress"
        from job_progress(job)
        until |p| p.done
        event "progress"
    };
    let addr = serve(progress).await;

    let body = get(addr, "/jobs/7/progress", &[]).await.body().await;
    let sent = data_lines(&body);
    assert_eq!(
        sent.len(),
        6,
        "five progress events then the close event: {body}"
    );
    assert_eq!(sent[0], json!({ "job": 7, "percent": 0, "done": false }));
    assert_eq!(sent[4], json!({ "job": 7, "percent": 100, "done": true }));
    assert_eq!(sent[5], json!(5), "the close event carries the count sent");
    assert!(
        body.starts_with("event: progress\nid: 1\ndata: "),
        "stream items are numbered from 1: {body}"
    );
    assert!(
        body.ends_with("event: close\nid: end\ndata: 5\n\n"),
        "the close event's id marks the end, which a reconnect sends back: {body}"
    );

    assert_eq!(
        get(addr, "/jobs/seven/progress", &[]).await.status,
        404,
        "u32 did not parse"
    );
}

#[tokio::test]
async fn a_stream_handler_maps_items_and_a_count_until_stops_early() {
    let squares = event_stream! {
        route "/squares"
        from futures::stream::iter(1u64..)
        until 3
        => text |n| format!("{n} squared is {}", n * n)
    };
    let addr = serve(squares).await;
    let body = get(addr, "/squares", &[]).await.body().await;
    assert_eq!(
        body,
        "id: 1\ndata: 1 squared is 1\n\nid: 2\ndata: 2 squared is 4\n\nid: 3\ndata: 3 squared is 9\n\nevent: close\nid: end\ndata: 3\n\n"
    );
}

#[tokio::test]
async fn a_with_filter_adds_its_value_and_its_rejections() {
    let greetings = event_stream! {
        route "/greet" / times: u8
        with user = warp::header::<String>("x-user")
        every 5ms
        until 2
        => |i| json!({ "to": user, "tick": i, "of": times })
    };
    let addr = serve(greetings).await;

    let body = get(addr, "/greet/2", &[("x-user", "ada")])
        .await
        .body()
        .await;
    assert_eq!(
        data_lines(&body)[..2],
        [
            json!({ "to": "ada", "tick": 1, "of": 2 }),
            json!({ "to": "ada", "tick": 2, "of": 2 })
        ]
    );
    let mut refused = get(addr, "/greet/2", &[]).await;
    assert_eq!(
        refused.status, 400,
        "warp's own rejection for a missing header"
    );
    assert!(refused.body().await.contains("x-user"));
}

#[tokio::test]
async fn a_check_only_with_filter_guards_the_stream() {
    let secret = event_stream! {
        route "/secret"
        with warp::header::exact("authorization", "Bearer let-me-in")
        every 5ms until 1 close_event off
        => |i| json!(i)
    };
    let addr = serve(secret).await;
    assert_eq!(get(addr, "/secret", &[]).await.status, 400);
    let body = get(addr, "/secret", &[("authorization", "Bearer let-me-in")])
        .await
        .body()
        .await;
    assert_eq!(body, "id: 1\ndata: 1\n\n");
}

#[tokio::test]
async fn async_handlers_are_awaited_in_tick_order() {
    let slow_doubles = event_stream! {
        route "/doubles" / offset: u64
        every 5ms
        until 3
        => async |i| {
            // Later ticks finish sooner; the stream still sends them in order.
            tokio::time::sleep(Duration::from_millis(30 - 10 * i)).await;
            json!(i * 2 + offset)
        }
    };
    let addr = serve(slow_doubles).await;
    let body = get(addr, "/doubles/100", &[]).await.body().await;
    assert_eq!(
        data_lines(&body),
        [json!(102), json!(104), json!(106), json!(3)]
    );
}

#[tokio::test]
async fn async_stream_handlers_see_each_item() {
    let lengths = event_stream! {
        route "/lengths"
        from futures::stream::iter(["a", "bb", "ccc"])
        close_event off
        => async |word| {
            tokio::task::yield_now().await;
            word.len()
        }
    };
    let addr = serve(lengths).await;
    let body = get(addr, "/lengths", &[]).await.body().await;
    assert_eq!(
        body, "id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: 3\ndata: 3\n\nid: end\n\n",
        "without a close event, an id-only frame marks the end"
    );
}

event_stream! {
    /// A named endpoint, declared at module level.
    pub fn countdown() {
        route "/countdown" every 5ms until 3
        => |i| json!(4 - i)
    }
}

#[tokio::test]
async fn named_endpoints_are_functions_with_their_own_client_count() {
    let addr = serve(countdown().or(warp::path("health").map(|| "ok"))).await;
    let mut response = get(addr, "/countdown", &[]).await;
    assert_eq!(countdown_clients().count(), 1);
    let body = response.body().await;
    assert_eq!(data_lines(&body), [json!(3), json!(2), json!(1), json!(3)]);
    // The body ended on the wire after the guard gave its place back.
    assert_eq!(countdown_clients().count(), 0);
}

#[test]
#[should_panic(expected = "`every` must be longer than zero")]
fn a_zero_period_given_at_run_time_is_refused_when_the_endpoint_is_built() {
    let period = std::time::Duration::ZERO;
    let _ticks = event_stream! { route "/ticks" every (period) => |i| json!(i) };
}

#[tokio::test]
async fn durations_given_at_run_time_drive_the_stream() {
    let period = std::time::Duration::from_millis(5);
    let ticks = event_stream! {
        route "/ticks" every (period) until 3 retry (period * 200) keep_alive (period * 1000)
        => |i| json!(i)
    };
    let addr = serve(ticks).await;
    let body = get(addr, "/ticks", &[]).await.body().await;
    assert!(
        body.starts_with("retry: 1000\n\nid: 1\ndata: 1\n\n"),
        "{body}"
    );
    assert!(body.ends_with("event: close\ndata: 3\n\n"), "{body}");
}
