//! A handler, a source stream and an `on_close` that panic: each affects only its own
//! connection, the server keeps serving, and each panic is logged once.

use std::time::Duration;

use futures::StreamExt;
use warp::Filter;
use warp_eventstream::{event_stream, json};

use crate::client::get;
use crate::server::serve;
use crate::support::{error_logs, serial, within, Counter};

const LIMIT: Duration = Duration::from_secs(10);

/// Items 1 and 2 a millisecond apart (so the response head goes out first), then a panic.
fn panics_on_third() -> impl futures::Stream<Item = u64> {
    futures::stream::iter(1..=10u64).then(|n| async move {
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(n != 3, "the source broke");
        n
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_panic_stays_in_its_connection_and_is_logged_once() {
    let _alone = serial().await;
    let logs = error_logs();
    logs.lock().unwrap().clear();
    let closed = Counter::new();

    let handler = {
        let closed = closed.clone();
        event_stream! {
            route "/handler" every 1ms
            on_close |_n| { closed.bump() }
            => |i| { assert!(i != 3, "the handler broke"); json!(i) }
        }
    };
    let source = {
        let closed = closed.clone();
        event_stream! {
            route "/source" from panics_on_third()
            on_close |_n| { closed.bump() }
        }
    };
    let on_close = event_stream! {
        route "/on_close" every 1ms until 2
        on_close |_n| { panic!("on_close broke") }
        => |i| json!(i)
    };
    let healthy = event_stream! { route "/healthy" every 1ms => |i| json!(i) };
    let addr = serve(handler.or(source).or(on_close).or(healthy)).await;

    let mut steady = Box::pin(get(addr, "/healthy", &[]).await.events());
    let mut last_healthy = 0;

    for round in 1..=2u64 {
        // The handler: two events, then the connection is cut.
        let mut response = get(addr, "/handler", &[]).await;
        assert_eq!(response.status, 200);
        assert!(within("handler stream cut", LIMIT, response.aborted()).await);
        // The source: two items, then the connection is cut.
        let mut response = get(addr, "/source", &[]).await;
        assert!(within("source stream cut", LIMIT, response.aborted()).await);
        closed.reaches(2 * round, LIMIT).await;
        // on_close panics after a clean end: the client sees the whole stream.
        let body = within(
            "on_close stream",
            LIMIT,
            get(addr, "/on_close", &[]).await.body(),
        )
        .await;
        assert!(body.ends_with("event: close\ndata: 2\n\n"), "{body}");

        // The other stream went on throughout.
        for _ in 0..3 {
            let event = within("healthy event", LIMIT, steady.next()).await.unwrap();
            let n: u64 = event.id.parse().unwrap();
            assert!(n > last_healthy);
            last_healthy = n;
        }
    }

    let logs = logs.lock().unwrap().clone();
    let count = |what: &str| logs.iter().filter(|message| message.contains(what)).count();
    assert_eq!(count("handler panicked"), 2, "{logs:?}");
    assert_eq!(count("source stream panicked"), 2, "{logs:?}");
    assert_eq!(count("on_close panicked"), 2, "{logs:?}");
}
