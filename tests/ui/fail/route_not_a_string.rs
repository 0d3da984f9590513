use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { route 42 every 1s => |i| json!(i) };
}
