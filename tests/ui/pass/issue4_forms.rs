use warp::Filter;
use warp_eventstream::{event_stream, json, Clients, Event, Hub, Shutdown};

event_stream! {
    /// Counting, as a named constructor.
    pub fn counting() {
        route "/event/counting" every 1s until 10 => |i| json!({ "msg": format!("Server count: {}", i) })
    }
}

fn main() {
    let chat: Hub<String> = Hub::new();
    let clients = Clients::new();
    let shutdown = Shutdown::new();
    let rooms = event_stream! {
        route "/rooms" / room: String / "events"
        from hub(chat.clone(), room)
        buffer 64
        on_lag disconnect
        max_clients 1000
        clients clients.clone()
        shutdown shutdown.clone()
        retry 2s
    };
    let progress = event_stream! {
        route "/jobs" / id: u32
        with user = warp::header::<String>("x-user")
        from futures::stream::iter(0..=100u8).map(move |p| (id, p))
        until |(_, p)| *p == 100
        => async |(id, p)| json!({ "job": id, "percent": p, "user": user })
    };
    let computed = event_stream! {
        route "/computed" every 250ms
        => async event |i| Event::json(i).name(if i % 2 == 0 { "even" } else { "odd" })
    };
    let routes = counting().or(rooms).or(progress).or(computed);
    let _ = (warp::serve(routes), counting_clients().count());
}
use futures::StreamExt as _;
