//! `=> event |i| Event::...`: computed names and ids, refused at send time when they would break
//! the framing.

use futures::StreamExt;
use warp_eventstream::{event_stream, json, Event};

use crate::client::get;
use crate::server::serve;

#[tokio::test(start_paused = true)]
async fn computed_names_and_ids_are_sent_as_built() {
    let endpoint = event_stream! {
        route "/e" every 1s until 3 close_event off
        => event |i| match i {
            1 => Event::json(json!({ "n": 1 })),
            2 => Event::text("two\nlines").name("text"),
            _ => Event::json(3).name("message").id("custom-3"),
        }
    };
    let addr = serve(endpoint).await;
    let body = get(addr, "/e", &[]).await.body().await;
    assert_eq!(body, "id: 1\ndata: {\"n\":1}\n\nevent: text\nid: 2\ndata: two\ndata: lines\n\nid: custom-3\ndata: 3\n\n");
}

#[tokio::test(start_paused = true)]
async fn events_whose_computed_fields_break_framing_are_skipped_and_the_stream_goes_on() {
    let endpoint = event_stream! {
        route "/e" every 1s until 6
        => event |i| match i {
            1 => Event::json(i).name("bad\nname"),
            2 => Event::json(i).name(""),
            3 => Event::json(i).id("bad\rid"),
            4 => Event::json(i).id("nul\0id"),
            5 => Event::json(std::collections::HashMap::from([((1, 2), 3)])),
            _ => Event::json(i).name("ok"),
        }
    };
    let addr = serve(endpoint).await;
    let events: Vec<_> = get(addr, "/e", &[]).await.events().collect().await;
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.event.as_str(), e.id.as_str(), e.data.as_str()))
        .collect();
    assert_eq!(seen, [("ok", "6", "6"), ("close", "6", "6")]);
}
