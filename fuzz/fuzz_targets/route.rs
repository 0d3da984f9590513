//! Any request path, against a route with literal segments and typed parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use warp_eventstream_fuzz::{block_on, route};

fuzz_target!(|input: &[u8]| {
    let Some(uri) = route::target(input) else {
        return;
    };
    let endpoint = route::endpoint();
    let response = block_on(
        warp::test::request()
            .path(&uri.to_string())
            .reply(&endpoint),
    );
    route::check(&uri, response.status().as_u16(), response.body());
});
