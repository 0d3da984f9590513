use std::time::Duration;

use warp_eventstream::{event_stream, json};

fn main() {
    let heartbeat = Duration::from_secs(20);
    let _endpoint = event_stream! { route "/e" every 1s keep_alive heartbeat => |i| json!(i) };
}
