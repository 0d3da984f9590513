use warp_eventstream::{event_stream, json, Hub};

fn main() {
    let hub: Hub<u8> = Hub::new();
    let _endpoint = event_stream! { route "/e" with warp::any() with warp::any() every 1s => |i| json!(i) };
    let _ = (hub, json!(0));
}
