//! Any name, id and payload a handler or publisher computes, framed by a handler and by a hub.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warp_eventstream_fuzz::{block_on, framing};

fuzz_target!(|input: &[u8]| {
    let case = framing::Case::decode(input);
    let endpoint = framing::endpoint(&case);
    let response = block_on(warp::test::request().path(framing::PATH).reply(&endpoint));
    framing::check_handler(&case, response.status().as_u16(), response.body());
    framing::check_hub(&case);
});
