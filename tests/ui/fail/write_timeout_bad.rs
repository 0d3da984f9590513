use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! { route "/e" every 1s write_timeout never => |i| json!(i) };
}
