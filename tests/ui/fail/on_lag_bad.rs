use warp_eventstream::{event_stream, json, Hub};

fn main() {
    let hub: Hub<u8> = Hub::new();
    let _endpoint = event_stream! { route "/e" from hub(hub.clone(), "t") on_lag sometimes };
    let _ = (hub, json!(0));
}
