use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { route "/prices/{symbol}" every 1s => |i| json!(i) };
}
