//! Endpoints are ordinary warp filters: they compose, nest, and reject what is not theirs.

use warp::Filter;
use warp_eventstream::{event_stream, json};

use crate::client::{get, request};
use crate::server::serve;

fn endpoints(
) -> impl Filter<Extract = (impl warp::Reply,), Error = warp::Rejection> + Clone + Send + Sync + 'static
{
    let counting = event_stream! { route "/event/counting" every 1s until 1 close_event off => |i| json!({ "count": i }) };
    let clock = event_stream! { route "/event/clock" every 1s until 1 close_event off event "time" => |i| json!({ "t": i }) };
    counting.or(clock)
}

#[tokio::test(start_paused = true)]
async fn endpoints_combined_with_or_each_serve_their_own_stream() {
    let addr = serve(endpoints()).await;
    assert_eq!(
        get(addr, "/event/counting", &[]).await.body().await,
        "id: 1\ndata: {\"count\":1}\n\n"
    );
    assert_eq!(
        get(addr, "/event/clock", &[]).await.body().await,
        "event: time\nid: 1\ndata: {\"t\":1}\n\n"
    );
}

#[tokio::test(start_paused = true)]
async fn endpoints_nest_under_a_path_prefix() {
    let addr = serve(warp::path("api").and(endpoints())).await;
    assert_eq!(get(addr, "/api/event/clock", &[]).await.status, 200);
    assert_eq!(get(addr, "/event/clock", &[]).await.status, 404);
}

#[tokio::test]
async fn other_paths_are_not_found() {
    let addr = serve(endpoints()).await;
    for path in [
        "/",
        "/event",
        "/event/counting/more",
        "/event//counting",
        "/EVENT/counting",
    ] {
        assert_eq!(get(addr, path, &[]).await.status, 404, "{path}");
    }
}

#[tokio::test]
async fn methods_other_than_get_are_rejected_with_405() {
    let addr = serve(endpoints()).await;
    for method in ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let response = request(addr, method, "/event/counting", &[("content-length", "0")]).await;
        assert_eq!(response.status, 405, "{method}");
    }
}
