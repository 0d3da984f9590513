use warp_eventstream::{event_stream, json};

fn main() {
    let _endpoint = event_stream! {
        route "/e"
        with warp::header::<String>("x-user")
        every 1s
        => |i| json!(i)
    };
}
