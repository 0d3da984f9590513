//! A route parameter no clause uses is a warning on its name, like an unused Rust binding
//! (denied here to pin its message); `_name` says it is unused on purpose.
#![deny(deprecated)]

use warp_eventstream::{event_stream, json};

fn main() {
    let _prices = event_stream! {
        route "/prices" / symbol: String / "live"
        every 1s
        => |i| json!(i)
    };
}
