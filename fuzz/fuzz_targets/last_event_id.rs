//! Any bytes a client can send as `Last-Event-ID`, against a tick stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warp_eventstream_fuzz::{block_on, last_event_id};

fuzz_target!(|input: &[u8]| {
    let Some(value) = last_event_id::header_value(input) else {
        return;
    };
    let endpoint = last_event_id::endpoint();
    let response = block_on(
        warp::test::request()
            .path(last_event_id::PATH)
            .header("last-event-id", value.clone())
            .reply(&endpoint),
    );
    last_event_id::check(&value, response.status().as_u16(), response.body());
});
