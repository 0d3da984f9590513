use warp_eventstream::{event_stream, json, Hub};

fn main() {
    let hub: Hub<u8> = Hub::new();
    let _endpoint = event_stream! { route "/e" every 1s from hub(hub.clone(), "t") => |i| json!(i) };
    let _ = (hub, json!(0));
}
