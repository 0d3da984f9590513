//! `RedisTransport`: what sharing one Redis between servers adds to the hub suite (which runs
//! against Redis too, in `hub/`): one order and one set of ids on every server, resume on any
//! server, and what each Redis fault does to publishers and to open streams. Every test starts
//! its own `redis-server`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use warp_eventstream::{event_stream, EventId, Hub, PublishError, RedisTransport};

use crate::browser::{cutting_proxy, serve_page, signalled, Browser, CuttingProxy};
use crate::client::{get, take_events};
use crate::redis_server::RedisServer;
use crate::server::serve;

const LIMIT: Duration = Duration::from_secs(30);

async fn hub<T: serde::Serialize>(redis: &RedisServer) -> Hub<T> {
    Hub::with_transport(RedisTransport::connect(&redis.url()).await.unwrap())
}

fn data(event: &eventsource_stream::Event) -> Value {
    serde_json::from_str(&event.data).unwrap()
}

#[tokio::test]
async fn two_servers_deliver_every_event_published_through_either_in_one_order_with_equal_ids() {
    let redis = RedisServer::start().await;
    let (a, b): (Hub<u32>, Hub<u32>) = (hub(&redis).await, hub(&redis).await);
    let addr_a = serve(event_stream! { route "/feed" from hub(a.clone(), "t") }).await;
    let addr_b = serve(event_stream! { route "/feed" from hub(b.clone(), "t") }).await;
    let mut clients = Vec::new();
    for addr in [addr_a, addr_b] {
        for _ in 0..10 {
            clients.push(Box::pin(get(addr, "/feed", &[]).await.events()));
        }
    }

    let mut published = Vec::new();
    for n in 1..=100 {
        let through = if n % 2 == 0 { &a } else { &b };
        published.push(through.publish("t", n).await.unwrap().to_string());
    }
    for client in &mut clients {
        let events = take_events(client, 100, LIMIT).await;
        let ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        assert_eq!(
            ids, published,
            "the ids Redis assigned, the same on both servers"
        );
        assert_eq!(
            events.iter().map(data).collect::<Vec<_>>(),
            (1..=100).map(|n| json!(n)).collect::<Vec<_>>(),
            "one order"
        );
    }
}

#[tokio::test]
async fn a_client_moving_to_another_server_gets_exactly_what_it_missed() {
    let redis = RedisServer::start().await;
    let (a, b): (Hub<u32>, Hub<u32>) = (hub(&redis).await, hub(&redis).await);
    let addr_a = serve(event_stream! { route "/feed" from hub(a.clone(), "t") }).await;
    let addr_b = serve(event_stream! { route "/feed" from hub(b.clone(), "t") }).await;
    // Server B has a client of its own on the topic, so its reader is already reading it.
    let mut on_b = Box::pin(get(addr_b, "/feed", &[]).await.events());

    let mut on_a = Box::pin(get(addr_a, "/feed", &[]).await.events());
    for n in 1..=5 {
        a.publish("t", n).await.unwrap();
    }
    let seen = take_events(&mut on_a, 5, LIMIT).await;
    drop(on_a);
    let mut missed = Vec::new();
    for n in 6..=10 {
        missed.push(a.publish("t", n).await.unwrap().to_string());
    }

    let last = seen[4].id.clone();
    let mut moved = Box::pin(
        get(addr_b, "/feed", &[("last-event-id", &last)])
            .await
            .events(),
    );
    let resumed = take_events(&mut moved, 5, LIMIT).await;
    assert_eq!(
        resumed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        missed
    );
    assert_eq!(
        resumed.iter().map(data).collect::<Vec<_>>(),
        (6..=10).map(|n| json!(n)).collect::<Vec<_>>()
    );
    let live = a.publish("t", 11).await.unwrap();
    let next = take_events(&mut moved, 1, LIMIT).await;
    assert_eq!(
        (next[0].id.clone(), data(&next[0])),
        (live.to_string(), json!(11))
    );
    assert_eq!(take_events(&mut on_b, 11, LIMIT).await.len(), 11);
}

#[tokio::test]
async fn a_client_ahead_of_this_servers_reader_gets_what_follows_its_id_once() {
    // A client whose id came from a server that had read further than this one: the ids it
    // already has must not be sent again.
    let redis = RedisServer::start().await;
    let (a, b): (Hub<u32>, Hub<u32>) = (hub(&redis).await, hub(&redis).await);
    let addr_b = serve(event_stream! { route "/feed" from hub(b.clone(), "t") }).await;
    let mut watching_b = Box::pin(get(addr_b, "/feed", &[]).await.events());
    let mut ids = Vec::new();
    for n in 1..=50 {
        ids.push(a.publish("t", n).await.unwrap().to_string());
    }
    // Whatever B's reader has read so far, a client at event 40 gets 41..=50 and nothing else.
    let mut moved = Box::pin(
        get(addr_b, "/feed", &[("last-event-id", &ids[39])])
            .await
            .events(),
    );
    let resumed = take_events(&mut moved, 10, LIMIT).await;
    assert_eq!(
        resumed.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
        ids[40..].to_vec()
    );
    assert_eq!(take_events(&mut watching_b, 50, LIMIT).await.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restarted_with_its_data_loses_and_doubles_nothing_for_100_open_streams() {
    let mut redis = RedisServer::start_persistent().await;
    let hub: Hub<u32> = hub(&redis).await;
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") keep_alive 100ms };
    let addr = serve(feed).await;
    let mut clients = Vec::new();
    for _ in 0..100 {
        clients.push(Box::pin(get(addr, "/feed", &[]).await.events()));
    }

    // Publishes until told to stop; records what Redis acknowledged, and what it refused.
    let (acked_tx, mut acked_rx) = tokio::sync::watch::channel(Vec::<EventId>::new());
    // Checked between publishes: a publish is never abandoned half way (it takes effect when
    // called, so an abandoned one could still be stored without being counted).
    let stop = Arc::new(AtomicBool::new(false));
    let publisher = tokio::spawn({
        let (hub, stop) = (hub.clone(), stop.clone());
        async move {
            let mut refused = 0u32;
            for n in 1.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match hub.publish("t", n).await {
                    Ok(id) => acked_tx.send_modify(|acked| acked.push(id)),
                    Err(PublishError::Transport(_)) => {
                        refused += 1;
                        // Back off while Redis is away rather than spin on refusals.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(other) => panic!("{other}"),
                }
            }
            refused
        }
    });

    acked_rx.wait_for(|acked| acked.len() >= 300).await.unwrap();
    redis.restart().await;
    let before = acked_rx.borrow().len();
    acked_rx
        .wait_for(|acked| acked.len() >= before + 300)
        .await
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    let refused = publisher.await.unwrap();
    let acked: Vec<String> = acked_rx.borrow().iter().map(EventId::to_string).collect();
    let last = hub.publish("t", 0).await.unwrap().to_string();

    for client in &mut clients {
        let mut ids = Vec::new();
        while ids.last() != Some(&last) {
            let event = take_events(client, 1, LIMIT).await.remove(0);
            assert_eq!(event.event, "message", "no reset: Redis kept its data");
            ids.push(event.id);
        }
        ids.pop();
        // A publish refused while Redis went down may still have been stored: a client may
        // have more than was acknowledged, never less, never twice, always in order.
        let parsed: Vec<EventId> = ids
            .iter()
            .map(|id| EventId::parse_pair(id).unwrap())
            .collect();
        assert!(
            parsed.windows(2).all(|w| w[0] < w[1]),
            "in order, none twice"
        );
        let missing: Vec<&String> = acked.iter().filter(|id| !ids.contains(id)).collect();
        assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
        assert!(
            ids.len() <= acked.len() + refused as usize,
            "{} received, {} acknowledged, {refused} refused",
            ids.len(),
            acked.len()
        );
    }
}

#[tokio::test]
async fn redis_restarted_without_its_data_sends_reset_then_live_events() {
    let mut redis = RedisServer::start().await;
    let hub: Hub<u32> = hub(&redis).await;
    let feed = event_stream! { route "/feed" from hub(hub.clone(), "t") keep_alive 100ms };
    let addr = serve(feed).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(Box::pin(get(addr, "/feed", &[]).await.events()));
    }
    let before = hub.publish("t", 1).await.unwrap().to_string();
    for client in &mut clients {
        assert_eq!(take_events(client, 1, LIMIT).await[0].id, before);
    }

    redis.restart_empty().await;
    // The server notices on its own when Redis is back, and tells every client.
    for client in &mut clients {
        let reset = take_events(client, 1, LIMIT).await.remove(0);
        assert_eq!(reset.event, "reset");
        assert_eq!(data(&reset), json!({ "last_event_id": before }));
    }
    let live = loop {
        match hub.publish("t", 2).await {
            Ok(id) => break id.to_string(),
            // The publishing connection may not have noticed the restart yet.
            Err(PublishError::Transport(_)) => continue,
            Err(other) => panic!("{other}"),
        }
    };
    for client in &mut clients {
        let event = take_events(client, 1, LIMIT).await.remove(0);
        assert_eq!((event.id, data_of(&event.data)), (live.clone(), json!(2)));
    }
}

fn data_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[tokio::test]
async fn while_redis_is_down_publish_fails_within_its_bound_and_the_server_keeps_serving() {
    let mut redis = RedisServer::start_persistent().await;
    let bound = Duration::from_millis(500);
    let hub: Hub<u32> = Hub::with_transport(
        RedisTransport::builder(&redis.url())
            .publish_timeout(bound)
            .connect()
            .await
            .unwrap(),
    );
    let feed = event_stream! { route "/feed" / topic: String from hub(hub.clone(), topic) keep_alive 100ms };
    let ticks = event_stream! { route "/ticks" every 10ms until 3 => |i| json!(i) };
    let addr = serve(warp::Filter::or(feed, ticks)).await;
    let mut open = get(addr, "/feed/t", &[]).await;
    let position = open.chunk().await.expect("the position frame");
    let id = hub.publish("t", 1).await.unwrap();

    redis.stop().await;
    let started = Instant::now();
    let refused = hub.publish("t", 2).await;
    assert!(
        matches!(refused, Err(PublishError::Transport(_))),
        "{refused:?}"
    );
    // The bound is 500 ms; the margin is for a loaded machine, not for the transport.
    assert!(
        started.elapsed() < bound * 10,
        "took {:?}",
        started.elapsed()
    );

    // The open stream stays open: the event sent before, then keep-alive comments.
    let mut seen = position.to_vec();
    while !seen.ends_with(b":\n\n") {
        seen.extend_from_slice(&open.chunk().await.expect("the stream stays open"));
    }
    let seen = String::from_utf8(seen).unwrap();
    assert!(seen.contains(&format!("id: {id}\ndata: 1\n\n")), "{seen}");
    // A new client of a topic this server does not read yet gets an empty stream, which a
    // browser retries later with the same Last-Event-ID; other endpoints answer as usual.
    let mut newcomer = get(addr, "/feed/other", &[("last-event-id", "5-0")]).await;
    assert_eq!(newcomer.status, 200);
    assert_eq!(newcomer.header("content-type"), Some("text/event-stream"));
    assert_eq!(newcomer.body().await, "");
    assert_eq!(get(addr, "/ticks", &[]).await.status, 200);

    // Back: what is published now reaches the stream that stayed open.
    redis.restart().await;
    let live = loop {
        match hub.publish("t", 3).await {
            Ok(id) => break id,
            Err(PublishError::Transport(_)) => continue,
            Err(other) => panic!("{other}"),
        }
    };
    let mut events = Box::pin(open.events());
    let next = events.next().await.unwrap();
    assert_eq!((next.id, next.data), (live.to_string(), "3".to_owned()));
}

/// Reads `MONITOR` from a connection of the test's own until an `XREAD` naming `must` arrives;
/// returns that command line.
async fn next_xread_naming(redis: &RedisServer, must: &str) -> String {
    let socket = tokio::net::TcpStream::connect(("127.0.0.1", redis.port))
        .await
        .unwrap();
    let (read, mut write) = socket.into_split();
    write.write_all(b"MONITOR\r\n").await.unwrap();
    let mut lines = BufReader::new(read).lines();
    let must = format!("\"{must}\"");
    tokio::time::timeout(LIMIT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("\"XREAD\"") && line.contains(&must) {
                return line;
            }
        }
        panic!("MONITOR ended");
    })
    .await
    .expect("an XREAD naming the topic")
}

#[tokio::test]
async fn topics_share_two_connections_and_a_topic_nobody_watches_is_no_longer_read() {
    let redis = RedisServer::start().await;
    let hub: Hub<u32> = hub(&redis).await;
    let feed = event_stream! { route "/feed" / topic: String from hub(hub.clone(), topic) };
    let addr = serve(feed).await;

    let mut watchers = Vec::new();
    for n in 0..1000 {
        watchers.push(get(addr, &format!("/feed/room-{n}"), &[]).await);
    }
    let clients: String = redis.query(redis::cmd("CLIENT").arg("LIST")).await;
    assert_eq!(
        clients.lines().count(),
        3,
        "1,000 topics, two connections (and this query's): {clients}"
    );

    drop(watchers);
    let gone = get(addr, "/feed/gone", &[]).await;
    drop(gone);
    // Waiting for the client count is waiting for the server's own bookkeeping; the next
    // topic makes the reader issue a new XREAD, which must not name the ones nobody watches.
    let monitor = tokio::spawn({
        let port = redis.port;
        async move {
            let redis = RedisServer::attach(port);
            next_xread_naming(&redis, "sse:fresh").await
        }
    });
    let mut fresh = Box::pin(get(addr, "/feed/fresh", &[]).await.events());
    let xread = monitor.await.unwrap();
    assert!(!xread.contains("sse:gone"), "{xread}");
    assert!(!xread.contains("sse:room-"), "{xread}");
    let id = hub.publish("fresh", 1).await.unwrap();
    assert_eq!(
        take_events(&mut fresh, 1, LIMIT).await[0].id,
        id.to_string()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_cut_from_one_server_reconnects_to_another_and_gets_every_event_once() {
    const PAGE: &str = crate::collecting_page!(6);
    let redis = RedisServer::start().await;
    let (a, b): (Hub<u32>, Hub<u32>) = (hub(&redis).await, hub(&redis).await);
    let (server_a, requests_a) = serve_page(
        PAGE,
        event_stream! { route "/event/counting" from hub(a.clone(), "t") retry 100ms },
    )
    .await;
    let (server_b, requests_b) = serve_page(
        PAGE,
        event_stream! { route "/event/counting" from hub(b.clone(), "t") retry 100ms },
    )
    .await;
    // The page and its stream come from A; the stream is cut after event 3, and the browser's
    // reconnection goes to B.
    let CuttingProxy {
        addr: proxy,
        opened,
        cut,
        go,
    } = cutting_proxy(server_a, server_b, b"data: 3\n\n").await;
    let browser = Browser::launch().await;
    browser.open(proxy).await;
    signalled(opened, "the stream opens through the proxy").await;

    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(a.publish("t", n).await.unwrap().to_string());
    }
    signalled(cut, "event 3 passes the proxy").await;
    // Published through both servers while the browser is away.
    for n in 4..=6 {
        let through = if n % 2 == 0 { &a } else { &b };
        ids.push(through.publish("t", n).await.unwrap().to_string());
    }
    go.send(true).unwrap();
    browser.until_done("the page receives six events").await;

    let expected: Vec<Value> = ids.iter().zip(1..).map(|(id, n)| json!([id, n])).collect();
    assert_eq!(
        browser.eval("return window.received;").await,
        json!(expected)
    );
    assert_eq!(*requests_a.lock().unwrap(), [(200, None)]);
    assert_eq!(
        *requests_b.lock().unwrap(),
        [(200, Some(ids[2].clone()))],
        "B resumed the browser from A's id"
    );
    browser.close().await;
}
