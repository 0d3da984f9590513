//! Why `serve` speaks HTTPS and HTTP/2: Chromium opens six connections per origin over
//! HTTP/1.1, and each `EventSource` holds one for good; over HTTP/2 they all share one.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpListener;
use warp::Filter;
use warp_eventstream::{event_stream, serve, Tls};

use crate::browser::Browser;
use crate::certs::TestCert;
use crate::server::Calls;

/// Opens twelve `EventSource`s at once and notes when each receives its first event.
const TWELVE_STREAMS: &str = r#"<!doctype html><body><script>
    const start = performance.now();
    window.first = {};
    window.sources = [];
    for (let i = 0; i < 12; i++) {
        const source = new EventSource('/ticks/' + i);
        window.sources.push(source);
        source.onmessage = () => {
            if (i in window.first) return;
            window.first[i] = performance.now() - start;
            const going = Object.keys(window.first).length;
            document.body.dataset.going = String(going);
            if (going === 12) document.body.dataset.done = 'true';
        };
    }
    window.protocol = performance.getEntriesByType('navigation')[0].nextHopProtocol;
</script></body>"#;

/// The page and twelve tick streams; `opened` hears each stream the server starts.
fn routes(
    opened: tokio::sync::mpsc::UnboundedSender<u32>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let page = warp::path::end().map(|| warp::reply::html(TWELVE_STREAMS));
    let ticks = event_stream! {
        route "/ticks" / n: u32
        every 100ms
        on_open { opened.send(*n).unwrap() }
        => |i| json!(i)
    };
    page.map(warp::Reply::into_response).or(ticks).unify()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_event_sources_over_https_share_one_http2_connection() {
    let cert = TestCert::localhost();
    let mut opened = Calls::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let tls = Tls::from_pem(&cert.cert_pem, &cert.key_pem).unwrap();
    tokio::spawn(serve(routes(opened.sender.clone())).tls(tls).run(listener));
    // Chromium trusts the test's certificate, and nothing else, by its public key.
    let trust = format!(
        "--ignore-certificate-errors-spki-list={}",
        cert.spki_sha256()
    );
    let browser = Browser::launch_with(&[trust]).await;

    browser
        .client
        .goto(&format!("https://127.0.0.1:{}/", addr.port()))
        .await
        .unwrap();
    browser
        .until_done("all twelve streams receive events")
        .await;
    assert_eq!(browser.eval("return window.protocol;").await, json!("h2"));
    let first = browser.eval("return window.first;").await;
    let first = first.as_object().unwrap();
    assert_eq!(first.len(), 12);
    for (stream, ms) in first {
        let ms = ms.as_f64().unwrap();
        assert!(
            ms < 2000.0,
            "stream {stream}'s first event after {ms:.0} ms"
        );
    }
    let mut streams: Vec<u32> = opened.so_far();
    streams.sort();
    assert_eq!(
        streams,
        (0..12).collect::<Vec<_>>(),
        "each stream opened once"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http1_only_six_event_sources_get_going_until_one_closes() {
    let mut opened = Calls::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(routes(opened.sender.clone())).run(listener));
    let browser = Browser::launch().await;

    browser.open(addr).await;
    assert_eq!(
        browser.eval("return window.protocol;").await,
        json!("http/1.1")
    );
    let mut going = Vec::new();
    for _ in 0..6 {
        going.push(opened.next_within(Duration::from_secs(30)).await);
    }
    wait_for_going(&browser, 6).await;
    assert!(
        opened.so_far().is_empty(),
        "six connections are all Chromium opens to one origin"
    );

    // One page closes a stream: its connection goes to the next one waiting.
    let closing = going[0];
    browser
        .eval(&format!("window.sources[{closing}].close(); return null;"))
        .await;
    let seventh = opened.next_within(Duration::from_secs(30)).await;
    assert!(
        !going.contains(&seventh),
        "a stream that was waiting: {seventh}"
    );
    wait_for_going(&browser, 7).await;
    browser.close().await;
}

/// Waits until the page says `n` streams have received an event.
async fn wait_for_going(browser: &Browser, n: usize) {
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(fantoccini::Locator::Css(&format!("body[data-going='{n}']")))
        .await
        .unwrap_or_else(|_| panic!("{n} streams get going"));
    let first: Value = browser.eval("return window.first;").await;
    assert_eq!(first.as_object().unwrap().len(), n);
}
