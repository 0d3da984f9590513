//! The fuzz targets' seeds and every input they ever failed on (`fuzz/seeds`, `fuzz/regressions`),
//! replayed over loopback HTTP with the same checks the targets run (`tests/checks`).

use std::path::Path;
use std::time::Duration;

use crate::checks::{framing, last_event_id, route};
use crate::client::{get, get_with_raw_header};
use crate::server::serve;
use crate::support::within;

const LIMIT: Duration = Duration::from_secs(10);

/// Every input kept for `target`, with the file it came from.
fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut inputs = Vec::new();
    for kind in ["seeds", "regressions"] {
        let dir = fuzz.join(kind).join(target);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("{dir:?}: {err}")) {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|name| name != ".gitkeep") {
                let input = std::fs::read(&path).unwrap();
                inputs.push((path.display().to_string(), input));
            }
        }
    }
    inputs.sort();
    inputs
}

#[tokio::test]
async fn every_kept_last_event_id_input_gets_its_documented_answer() {
    let addr = serve(last_event_id::endpoint()).await;
    let mut checked = 0;
    for (file, input) in inputs("last_event_id") {
        let Some(value) = last_event_id::header_value(&input) else {
            continue;
        };
        let (status, body) = within(&file, LIMIT, async {
            let mut response =
                get_with_raw_header(addr, last_event_id::PATH, "last-event-id", value.as_bytes())
                    .await;
            (response.status, response.body_bytes().await)
        })
        .await;
        last_event_id::check(&value, status, &body);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} inputs could be sent");
}

#[tokio::test]
async fn every_kept_framing_input_reads_back_or_is_refused() {
    let inputs = inputs("framing");
    assert!(inputs.len() >= 10, "only {} inputs kept", inputs.len());
    for (file, input) in inputs {
        let case = framing::Case::decode(&input);
        let addr = serve(framing::endpoint(&case)).await;
        let (status, body) = within(&file, LIMIT, async {
            let mut response = get(addr, framing::PATH, &[]).await;
            (response.status, response.body_bytes().await)
        })
        .await;
        framing::check_handler(&case, status, &body);
        framing::check_hub(&case);
    }
}

#[tokio::test]
async fn every_kept_route_input_matches_exactly_or_is_404() {
    let addr = serve(route::endpoint()).await;
    let mut checked = 0;
    for (file, input) in inputs("route") {
        let Some(uri) = route::target(&input) else {
            continue;
        };
        let (status, body) = within(&file, LIMIT, async {
            let mut response = get(addr, &uri.to_string(), &[]).await;
            (response.status, response.body_bytes().await)
        })
        .await;
        route::check(&uri, status, &body);
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} inputs could be sent");
}
