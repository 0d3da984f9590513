use warp_eventstream::{event_stream, json};

const PATH: &str = "/e";

fn main() {
    let _endpoint = event_stream! { route PATH every 1s => |i| json!(i) };
}
