use warp_eventstream::{event_stream, json};

event_stream! {
    pub fn counting(start: u64) {
        route "/e" every 1s => |i| json!(i + start)
    }
}

fn main() {}
