use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { route "/e" until 3 => |i| json!(i) };
}
