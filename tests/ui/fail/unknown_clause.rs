use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { route "/e" evry 1s => |i| json!(i) };
}
