use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { every 1s until 10 => |i| json!(i) };
}
