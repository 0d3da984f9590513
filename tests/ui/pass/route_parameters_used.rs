//! Route parameters used in any clause (the handler, the `from` expression, a hook's format
//! string), or named `_name`, expand without the unused-parameter warning (denied here).
#![deny(deprecated)]

use warp_eventstream::{event_stream, json, Hub};

fn main() {
    let hub: Hub<String> = Hub::new();
    let _in_handler = event_stream! {
        route "/a" / symbol: String every 1s => |i| json!({ "symbol": symbol, "i": i })
    };
    let _in_from = event_stream! { route "/b" / room: String from hub(hub.clone(), room) };
    let _in_format_string = event_stream! {
        route "/c" / job: u32 every 1s on_close |n| { println!("{job}: {n}") } => |i| json!(i)
    };
    let _silenced = event_stream! {
        route "/d" / _version: u32 / "feed" every 1s => |i| json!(i)
    };
    event_stream! {
        pub fn named() {
            route "/e" / user: String every 1s on_open { println!("{user}") } => |i| json!(i)
        }
    }
    let _named = named();
}
