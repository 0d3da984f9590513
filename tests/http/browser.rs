//! Real clients: headless Chromium's `EventSource`, driven over WebDriver (chromedriver).
//!
//! Chromium and chromedriver come from Debian's packages; `scripts/test.sh` installs them when
//! absent. These tests fail, rather than skip, when they are missing.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use warp::Filter;
use warp_eventstream::event_stream;

use crate::server::serve;

const COUNTING_PAGE: &str = include_str!("../../examples/counting.html");

/// A headless Chromium session with its own chromedriver and a fresh profile.
pub struct Browser {
    pub client: Client,
    _driver: Child,
    profile: std::path::PathBuf,
}

impl Browser {
    pub async fn launch() -> Browser {
        Browser::launch_with(&[]).await
    }

    /// Like [`launch`](Browser::launch), with more Chromium flags.
    pub async fn launch_with(flags: &[String]) -> Browser {
        static PROFILES: AtomicU32 = AtomicU32::new(0);
        let profile = std::env::temp_dir().join(format!(
            "warp-eventstream-chromium-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::Relaxed)
        ));
        let port = free_port();
        let mut driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect(
                "chromedriver is installed (scripts/test.sh installs Debian's chromium-driver)",
            );
        // chromedriver says so on stdout once it listens.
        let mut lines = BufReader::new(driver.stdout.take().unwrap()).lines();
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("started successfully") {
                break;
            }
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        // What a closed network needs: no background fetches, no first-run, no sandbox (root).
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ]
        .map(String::from)
        .into();
        args.push(format!("--user-data-dir={}", profile.display()));
        args.extend_from_slice(flags);
        let capabilities = json!({
            "goog:chromeOptions": { "binary": "/usr/bin/chromium", "args": args }
        });
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.as_object().unwrap().clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("chromedriver starts a Chromium session");
        Browser {
            client,
            _driver: driver,
            profile,
        }
    }

    /// Opens `url` and waits until the page marks `<body data-done>`.
    async fn run_page(&self, url: &str) {
        self.client.goto(url).await.unwrap();
        self.until_done("the page finishes").await;
    }

    /// Opens the page served at `addr` (a server or a proxy in front of one).
    pub async fn open(&self, addr: SocketAddr) {
        self.client.goto(&format!("http://{addr}/")).await.unwrap();
    }

    /// Waits until the page marks `<body data-done>`; `what` says what that means.
    pub async fn until_done(&self, what: &str) {
        self.client
            .wait()
            .at_most(Duration::from_secs(30))
            .for_element(Locator::Css("body[data-done='true']"))
            .await
            .expect(what);
    }

    pub async fn eval(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    pub async fn close(self) {
        self.client.close().await.ok();
        std::fs::remove_dir_all(&self.profile).ok();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every `/event/counting` request the server answered: (status, Last-Event-ID).
pub type Requests = Arc<Mutex<Vec<(u16, Option<String>)>>>;

pub async fn serve_page<F, R>(page: &'static str, counting: F) -> (SocketAddr, Requests)
where
    F: Filter<Extract = (R,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
    R: warp::Reply + 'static,
{
    let requests: Requests = Arc::default();
    let log = requests.clone();
    let page = warp::path::end().map(move || warp::reply::html(page));
    let routes = page.or(counting).with(warp::log::custom(move |info| {
        if info.path() == "/event/counting" {
            let last_id = info
                .request_headers()
                .get("last-event-id")
                .map(|v| v.to_str().unwrap().to_owned());
            log.lock().unwrap().push((info.status().as_u16(), last_id));
        }
    }));
    (serve(routes).await, requests)
}

/// What the counting page records for ticks 1..=10 of both names, then the close event.
fn every_tick_once_then_close() -> Value {
    let mut expected: Vec<Value> = (1..=10)
        .flat_map(|i| {
            let msg = format!("Server count: {i}");
            [
                json!({ "type": "message", "id": i.to_string(), "msg": msg }),
                json!({ "type": "increment", "id": i.to_string(), "msg": msg }),
            ]
        })
        .collect();
    expected.push(json!({ "type": "close" }));
    Value::Array(expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_receives_every_counting_event_then_stays_closed() {
    let counting = event_stream! {
        route "/event/counting" every 100ms until 10 event ["message", "increment"]
        => |i| serde_json::json!({ "msg": format!("Server count: {}", i) })
    };
    let (addr, requests) = serve_page(COUNTING_PAGE, counting).await;
    let browser = Browser::launch().await;

    browser.run_page(&format!("http://{addr}/")).await;
    assert_eq!(
        browser.eval("return window.received;").await,
        every_tick_once_then_close()
    );
    assert_eq!(
        browser.eval("return window.source.readyState;").await,
        json!(2),
        "EventSource is CLOSED"
    );

    // A window to observe that nothing reconnects, not a synchronisation.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        *requests.lock().unwrap(),
        [(200, None)],
        "exactly one request reached the server"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_without_a_close_listener_stops_for_good_on_204() {
    const PAGE: &str = r#"<!doctype html><body><script>
        const ids = [];
        window.ids = ids;
        const source = new EventSource('/event/counting');
        window.source = source;
        source.onmessage = (event) => ids.push(event.lastEventId);
        source.onerror = () => {
            if (source.readyState === EventSource.CLOSED) document.body.dataset.done = 'true';
        };
    </script></body>"#;
    let counting = event_stream! {
        route "/event/counting" every 50ms until 5 retry 100ms close_event off
        => |i| serde_json::json!(i)
    };
    let (addr, requests) = serve_page(PAGE, counting).await;
    let browser = Browser::launch().await;

    browser.run_page(&format!("http://{addr}/")).await;
    assert_eq!(
        browser.eval("return window.ids;").await,
        json!(["1", "2", "3", "4", "5"])
    );
    assert_eq!(
        browser.eval("return window.source.readyState;").await,
        json!(2),
        "EventSource is CLOSED"
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        *requests.lock().unwrap(),
        [(200, None), (204, Some("5".to_owned()))],
        "one reconnect, answered 204, and nothing after it"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_reconnects_with_last_event_id_and_sees_every_tick_once() {
    // The first connection is cut by the server after tick 3 (its handler panics once).
    let cut = Arc::new(AtomicBool::new(true));
    let counting = event_stream! {
        route "/event/counting" every 100ms until 10 event ["message", "increment"] retry 200ms
        => |i| {
            if i == 4 && cut.swap(false, Ordering::SeqCst) {
                panic!("cutting the connection after tick 3");
            }
            serde_json::json!({ "msg": format!("Server count: {}", i) })
        }
    };
    let (addr, requests) = serve_page(COUNTING_PAGE, counting).await;
    let browser = Browser::launch().await;

    browser.run_page(&format!("http://{addr}/")).await;
    assert_eq!(
        browser.eval("return window.received;").await,
        every_tick_once_then_close()
    );
    assert_eq!(
        *requests.lock().unwrap(),
        [(200, None), (200, Some("3".to_owned()))]
    );
    browser.close().await;
}

/// A page whose `EventSource` records `[lastEventId, data]` of every message, and closes and
/// marks itself done once it has `$n` of them.
#[macro_export]
macro_rules! collecting_page {
    ($n:literal) => {
        concat!(
            r#"<!doctype html><body><script>
        const received = [];
        window.received = received;
        const source = new EventSource('/event/counting');
        source.onmessage = (event) => {
            received.push([event.lastEventId, JSON.parse(event.data)]);
            if (received.length === "#,
            stringify!($n),
            r#") {
                source.close();
                document.body.dataset.done = 'true';
            }
        };
    </script></body>"#
        )
    };
}

/// Waits, 30 s at most, for a signal from a [`CuttingProxy`]; `what` names it.
pub async fn signalled(signal: tokio::sync::oneshot::Receiver<()>, what: &str) {
    tokio::time::timeout(Duration::from_secs(30), signal)
        .await
        .expect(what)
        .expect("the proxy is running");
}

/// A loopback proxy: see [`cutting_proxy`].
pub struct CuttingProxy {
    pub addr: SocketAddr,
    /// Fires when the first event stream's response head has passed.
    pub opened: tokio::sync::oneshot::Receiver<()>,
    /// Fires when the connection carrying the marker has been cut.
    pub cut: tokio::sync::oneshot::Receiver<()>,
    /// Lets the connections made after the cut through.
    pub go: tokio::sync::watch::Sender<bool>,
}

/// A loopback proxy in front of `before` that cuts the first connection whose response carries
/// `marker`, right after forwarding it, and holds every connection made after the cut until
/// `go` is sent, then passes it to `after` (the same server, or another one): the test decides
/// what happens while the browser is away, and where it comes back.
pub async fn cutting_proxy(
    before: SocketAddr,
    after: SocketAddr,
    marker: &'static [u8],
) -> CuttingProxy {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut_tx, cut) = tokio::sync::oneshot::channel();
    let cut_tx = Arc::new(Mutex::new(Some(cut_tx)));
    let (opened_tx, opened) = tokio::sync::oneshot::channel();
    let opened_tx = Arc::new(Mutex::new(Some(opened_tx)));
    let (go, go_rx) = tokio::sync::watch::channel(false);
    let (cut_now, was_cut) = tokio::sync::watch::channel(false);
    let cut_now = Arc::new(cut_now);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (cut_tx, opened_tx, mut go_rx) = (cut_tx.clone(), opened_tx.clone(), go_rx.clone());
            let (cut_now, was_cut) = (cut_now.clone(), was_cut.clone());
            tokio::spawn(async move {
                if cut_tx.lock().unwrap().is_none() {
                    // Made after the cut: waits for the test, then passes through.
                    go_rx.wait_for(|go| *go).await.unwrap();
                    let mut upstream = TcpStream::connect(after).await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                    return;
                }
                let upstream = TcpStream::connect(before).await.unwrap();
                let (mut from_server, mut to_server) = upstream.into_split();
                let (mut from_client, mut to_client) = client.into_split();
                let requests =
                    tokio::spawn(
                        async move { tokio::io::copy(&mut from_client, &mut to_server).await },
                    );
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                let mut was_cut = was_cut.clone();
                loop {
                    // Every connection made before the cut ends with it, the browser's idle
                    // keep-alive ones too: reconnecting must make a new connection.
                    let n = tokio::select! {
                        read = from_server.read(&mut buf) => match read {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        },
                        _ = was_cut.wait_for(|cut| *cut) => break,
                    };
                    if to_client.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen.windows(17).any(|w| w == b"text/event-stream") {
                        if let Some(opened) = opened_tx.lock().unwrap().take() {
                            let _ = opened.send(());
                        }
                    }
                    if seen.windows(marker.len()).any(|w| w == marker) {
                        if let Some(cut) = cut_tx.lock().unwrap().take() {
                            cut_now.send_replace(true);
                            let _ = cut.send(());
                        }
                        break;
                    }
                }
                // Dropping both halves closes the browser's connection and the server's.
                requests.abort();
            });
        }
    });
    CuttingProxy {
        addr,
        opened,
        cut,
        go,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_cut_off_before_its_first_hub_event_resumes_from_its_position_frame() {
    const PAGE: &str = collecting_page!(3);
    let hub: warp_eventstream::Hub<u32> = warp_eventstream::Hub::new();
    let feed = event_stream! { route "/event/counting" from hub(hub.clone(), "t") retry 100ms };
    let (server, requests) = serve_page(PAGE, feed).await;
    // The cut falls right after the id-only frame that opens the stream, before any event.
    let CuttingProxy {
        addr: proxy,
        cut,
        go,
        ..
    } = cutting_proxy(server, server, b"id: 0\n\n").await;
    let browser = Browser::launch().await;

    browser.open(proxy).await;
    signalled(cut, "the stream's first frame passes the proxy").await;
    // Published while the browser is away: only its Last-Event-ID can bring these back.
    for n in 1..=3 {
        hub.publish("t", n).await.unwrap();
    }
    go.send(true).unwrap();
    browser
        .until_done("the page receives the three events")
        .await;

    assert_eq!(
        browser.eval("return window.received;").await,
        json!([["1", 1], ["2", 2], ["3", 3]])
    );
    assert_eq!(
        *requests.lock().unwrap(),
        [(200, None), (200, Some("0".to_owned()))],
        "the reconnect carries the id of the position frame"
    );
    browser.close().await;
}

/// A page that, like most, does not listen for `close`: it records every message and marks
/// itself done once its `EventSource` has stopped for good.
const NO_CLOSE_LISTENER_PAGE: &str = r#"<!doctype html><body><script>
    const received = [];
    window.received = received;
    const source = new EventSource('/event/counting');
    window.source = source;
    source.onmessage = (event) => received.push([event.lastEventId, JSON.parse(event.data)]);
    source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) document.body.dataset.done = 'true';
    };
</script></body>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_without_a_close_listener_receives_a_finished_from_stream_once() {
    let opened = Arc::new(AtomicU32::new(0));
    let steps = {
        let opened = opened.clone();
        event_stream! {
            route "/event/counting"
            from futures::stream::iter([1, 2, 3])
            retry 100ms
            on_open { opened.fetch_add(1, Ordering::SeqCst); }
        }
    };
    let (addr, requests) = serve_page(NO_CLOSE_LISTENER_PAGE, steps).await;
    let browser = Browser::launch().await;
    browser.run_page(&format!("http://{addr}/")).await;

    assert_eq!(
        browser.eval("return window.received;").await,
        json!([["1", 1], ["2", 2], ["3", 3]]),
        "every item once"
    );
    assert_eq!(
        browser.eval("return window.source.readyState;").await,
        json!(2),
        "CLOSED"
    );
    assert_eq!(
        *requests.lock().unwrap(),
        [(200, None), (204, Some("end".to_owned()))],
        "the reconnect after the end was told 204"
    );
    assert_eq!(
        opened.load(Ordering::SeqCst),
        1,
        "the stream was opened once"
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_cut_off_resumes_a_job_log_at_the_line_after_its_last_event_id() {
    let (log, lines) = tokio::sync::watch::channel(2u64);
    let job = event_stream! {
        route "/event/counting"
        from |last| crate::finished::lines_after(lines.clone(), last.unwrap_or(0), 5)
        retry 100ms
    };
    let (server, requests) = serve_page(NO_CLOSE_LISTENER_PAGE, job).await;
    let CuttingProxy {
        addr: proxy,
        cut,
        go,
        ..
    } = cutting_proxy(server, server, b"data: \"line 2\"\n\n").await;
    let browser = Browser::launch().await;
    browser.open(proxy).await;
    signalled(cut, "line 2 passes the proxy").await;
    // The job goes on while the browser is away.
    log.send_replace(5);
    go.send(true).unwrap();
    browser
        .until_done("the page's EventSource stops for good")
        .await;

    let expected: Vec<Value> = (1..=5)
        .map(|n| json!([n.to_string(), format!("line {n}")]))
        .collect();
    assert_eq!(
        browser.eval("return window.received;").await,
        json!(expected)
    );
    assert_eq!(
        *requests.lock().unwrap(),
        [
            (200, None),
            (200, Some("2".to_owned())),
            (204, Some("end".to_owned()))
        ],
        "resumed at line 3, then told the log had ended"
    );
    browser.close().await;
}
