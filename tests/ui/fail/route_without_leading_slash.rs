use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { route "event/counting" every 1s => |i| json!(i) };
}
