use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { route "/e" => |i| json!(i) every 1s };
}
