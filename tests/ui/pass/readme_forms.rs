//! The README's forms, verbatim, compile without a warning under strict lints.
#![deny(warnings, unused, clippy::all)]

use warp::Filter;
use warp_eventstream::{event_stream, json};

fn main() {
    let short = event_stream! { route "/event/counting" every 1s until 10 => |i| json!({ "msg": format!("Server count: {}", i) }) };

    let counting = event_stream! {
        route "/event/counting"
        every 1s
        until 10
        event ["message", "increment"]
        on_open { println!("Start counting") }
        on_close |n| { println!("Counted to: {}", n) }
        => |i| json!({ "msg": format!("Server count: {}", i) })
    };

    let every_clause = event_stream! {
        route "/"
        on_close |_| {}
        keep_alive off
        retry 1_500ms
        close_event "done"
        event "tick"
        every 2min
        until 3
        => text |_| "tick"
    };

    let _served = warp::serve(short.or(counting).or(every_clause));
}
