use warp_eventstream::{event_stream, json, Hub};

fn main() {
    let hub: Hub<u8> = Hub::new();
    let _endpoint = event_stream! { route "/rooms" / "/events" every 1s => |i| json!(i) };
    let _ = (hub, json!(0));
}
