//! Durations known only at run time, in parentheses: `every`, `keep_alive`, `retry` and
//! `write_timeout` take any `Duration` expression.

use std::time::Duration;

use warp_eventstream::{event_stream, json};

struct Config {
    period: Duration,
    heartbeat: Duration,
}

fn main() {
    let config = Config {
        period: Duration::from_millis(250),
        heartbeat: Duration::from_secs(20),
    };
    let _endpoint = event_stream! {
        route "/e"
        every (config.period)
        keep_alive (config.heartbeat)
        retry (Duration::from_secs(2))
        write_timeout (config.heartbeat * 2)
        => |i| json!(i)
    };
}
