use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { route "/e" every 0s => |i| json!(i) };
}
