use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { route "/e" every 1s until 3 every 2s => |i| json!(i) };
}
