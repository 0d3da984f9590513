//! Finished means finished for every source: a `from` stream that ended by itself, or by
//! `until`, is not run again by a browser that reconnects anyway; a stream cut in the middle is;
//! and `from |last| ...` resumes a stream where the client was.

use std::time::Duration;

use futures::Stream;
use tokio::sync::watch;
use warp_eventstream::event_stream;

use crate::client::{get, take_events};
use crate::server::{serve, Calls};

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_reconnect_to_a_finished_stream_is_told_204_and_opens_nothing() {
    let mut opened = Calls::new();
    let open_tx = opened.sender.clone();
    let steps = event_stream! {
        route "/steps"
        from futures::stream::iter(["fetch", "build", "deploy"])
        on_open { open_tx.send(()).unwrap() }
    };
    let addr = serve(steps).await;

    let body = get(addr, "/steps", &[]).await.body().await;
    assert!(
        body.ends_with("event: close\nid: end\ndata: 3\n\n"),
        "{body}"
    );
    opened.next_within(LIMIT).await;
    // What a browser that ignores `close` does next: reconnect with the last id it saw.
    let again = get(addr, "/steps", &[("last-event-id", "end")]).await;
    assert_eq!(again.status, 204, "EventSource stops for good on 204");
    assert_eq!(
        opened.so_far(),
        Vec::<()>::new(),
        "the stream was not opened again"
    );
}

#[tokio::test]
async fn a_stream_ended_by_until_stays_finished_too() {
    let numbers = event_stream! {
        route "/numbers" from futures::stream::iter(1u32..) until 2 close_event off
    };
    let addr = serve(numbers).await;
    let body = get(addr, "/numbers", &[]).await.body().await;
    assert_eq!(
        body, "id: 1\ndata: 1\n\nid: 2\ndata: 2\n\nid: end\n\n",
        "without a close event, an id-only frame marks the end"
    );
    assert_eq!(
        get(addr, "/numbers", &[("last-event-id", "end")])
            .await
            .status,
        204
    );
}

#[tokio::test]
async fn a_plain_stream_cut_in_the_middle_starts_over_on_reconnect() {
    let words = event_stream! { route "/words" from futures::stream::iter(["a", "b", "c"]) };
    let addr = serve(words).await;
    let mut events = Box::pin(
        get(addr, "/words", &[("last-event-id", "2")])
            .await
            .events(),
    );
    let got = take_events(&mut events, 3, LIMIT).await;
    assert_eq!(
        got.iter()
            .map(|e| (e.id.as_str(), e.data.as_str()))
            .collect::<Vec<_>>(),
        [("1", "\"a\""), ("2", "\"b\""), ("3", "\"c\"")],
        "a stream that cannot resume is sent again from its start"
    );
}

/// A job's log: `lines` is how many lines it has so far; the job ends after `total`.
pub fn lines_after(
    lines: watch::Receiver<u64>,
    last: u64,
    total: u64,
) -> impl Stream<Item = String> {
    futures::stream::unfold((lines, last), move |(mut lines, last)| async move {
        if last == total {
            return None;
        }
        lines.wait_for(|&n| n > last).await.ok()?;
        Some((format!("line {}", last + 1), (lines, last + 1)))
    })
}

#[tokio::test]
async fn a_resumable_stream_continues_after_the_clients_last_event_id() {
    let (log, lines) = watch::channel(5u64);
    let job = event_stream! {
        route "/jobs" / job: u32 / "log"
        from |last| lines_after(lines.clone(), last.unwrap_or(0), 5)
        => text |line| format!("job {job}: {line}")
    };
    let addr = serve(job).await;

    let mut events = Box::pin(
        get(addr, "/jobs/7/log", &[("last-event-id", "3")])
            .await
            .events(),
    );
    let got = take_events(&mut events, 2, LIMIT).await;
    assert_eq!(
        got.iter()
            .map(|e| (e.id.as_str(), e.data.as_str()))
            .collect::<Vec<_>>(),
        [("4", "job 7: line 4"), ("5", "job 7: line 5")],
        "ids continue from the client's position"
    );
    assert_eq!(
        get(addr, "/jobs/7/log", &[("last-event-id", "end")])
            .await
            .status,
        204
    );
    // An id that is not a number starts the stream from its beginning.
    let mut fresh = Box::pin(
        get(addr, "/jobs/7/log", &[("last-event-id", "x")])
            .await
            .events(),
    );
    assert_eq!(
        take_events(&mut fresh, 1, LIMIT).await[0].data,
        "job 7: line 1"
    );
    drop(log);
}

#[tokio::test]
async fn a_resumable_stream_at_or_past_its_until_answers_204() {
    let (_log, lines) = watch::channel(10u64);
    let job = event_stream! {
        route "/log" from |last| lines_after(lines.clone(), last.unwrap_or(0), 10) until 4
    };
    let addr = serve(job).await;
    assert_eq!(
        get(addr, "/log", &[("last-event-id", "4")]).await.status,
        204
    );
    let body = get(addr, "/log", &[("last-event-id", "2")])
        .await
        .body()
        .await;
    assert_eq!(
        body,
        "id: 3\ndata: \"line 3\"\n\nid: 4\ndata: \"line 4\"\n\nevent: close\nid: end\ndata: 4\n\n"
    );
}
