/// Declares a Server-Sent Events endpoint and expands to a warp `Filter`.
///
/// ```
/// use warp::Filter;
/// use warp_eventstream::{event_stream, json};
///
/// let counting = event_stream! {
///     route "/event/counting"
///     every 1s
///     until 10
///     event ["message", "increment"]
///     on_open { println!("Start counting") }
///     on_close |n| { println!("Counted to: {}", n) }
///     => |i| json!({ "msg": format!("Server count: {}", i) })
/// };
/// let clock = event_stream! { route "/event/clock" every 250ms => |i| json!(i) };
/// let routes = counting.or(clock);
/// # let _ = warp::serve(routes);
/// ```
///
/// `GET /event/counting` then answers `200` with `content-type: text/event-stream`,
/// `cache-control: no-cache` and `x-accel-buffering: no`, and one second later writes:
///
/// ```text
/// id: 1
/// data: {"msg":"Server count: 1"}
///
/// event: increment
/// id: 1
/// data: {"msg":"Server count: 1"}
///
/// ```
///
/// # Clauses
///
/// Before the final `=> handler`, in any order, each at most once; exactly one source (`every` or
/// `from`):
///
/// | clause | meaning | default |
/// |---|---|---|
/// | `route "/a"` / `route "/rooms" / room: String / "events"` | the `GET` path and its typed parameters (required) | |
/// | `every 1s` / `every (expr)` | source: a tick on a timer; an integer with `ms`, `s`, `min` or `h`, or a `Duration` expression in parentheses | |
/// | `from <stream>` / `from \|last\| <stream>` | source: a stream built per connection; with `\|last\|` it resumes after the client's `Last-Event-ID` | |
/// | `from hub(<hub>, <topic>)` | source: what a [`Hub`](crate::Hub) publishes to the topic | |
/// | `until 10` / `until \|item\| ...` | end after tick (or item) 10, or after the item the predicate accepts | runs until the client leaves |
/// | `with name = <filter>` / `with <filter>` | a warp filter on the request: its value bound as `name`, or a guard | |
/// | `event "name"` / `event ["a", "b"]` | event type(s) each tick or item is sent as, in order | `"message"` |
/// | `keep_alive 30s` / `keep_alive off` | comment heartbeat while idle | `15s` |
/// | `write_timeout 10s` / `write_timeout off` | close a connection whose writes stall this long (under [`serve`](crate::serve())) | `30s` |
/// | `retry 2s` | `retry:` sent first: the browser's reconnection delay | not sent |
/// | `close_event "done"` / `close_event off` | event sent when the stream ends | `"close"` |
/// | `buffer 256` | how many events a hub client may fall behind | `256` |
/// | `on_lag skip` / `on_lag disconnect` | what happens to a hub client further behind | `skip` |
/// | `max_clients 10_000` | concurrent streams before `503` with `retry-after` | no limit |
/// | `clients <Clients>` | a [`Clients`](crate::Clients) counter of the open streams | its own |
/// | `shutdown <Shutdown>` | the [`Shutdown`](crate::Shutdown) switch that ends the streams | `Shutdown::global()` |
/// | `on_open { ... }` | runs when a client's stream starts; sees the route's parameters and `with` value | |
/// | `on_close \|n\| { ... }` | runs once per connection however it ends, with the last tick (or item id, or hub events sent); sees the parameters too | |
///
/// The handler is `=> |i| expr` where `i: u64` counts ticks from 1 (or is the stream's item) and
/// `expr` is any `serde::Serialize` (one JSON `data:` line), or `=> text |i| expr` where `expr`
/// is a `String` or `&str` (one `data:` line per line of text). Each event of tick `i` carries
/// `id: i`; a client reconnecting with `Last-Event-ID: k` resumes at tick `k + 1`, and one at or
/// past `until` gets `204 No Content`, which tells `EventSource` to stop reconnecting. A `from`
/// stream that ended marks its last frame `id: end`, and a reconnect with it gets `204` too.
///
/// # Authentication and CORS
///
/// `EventSource` sends no headers of its own: a page authenticates its stream with a cookie or a
/// token in the query string, which a `with` filter checks. A `recover` turns the rejection into
/// `401`, which `EventSource` treats as fatal; `warp::cors()` lets pages of other origins in.
///
/// ```
/// use std::collections::HashMap;
/// use warp::Filter;
/// use warp_eventstream::{event_stream, json};
///
/// #[derive(Debug)]
/// struct Unauthorized;
/// impl warp::reject::Reject for Unauthorized {}
///
/// /// The user of a session cookie, or a token in the query string; else a rejection.
/// fn user() -> impl Filter<Extract = (String,), Error = warp::Rejection> + Clone {
///     warp::cookie::optional::<String>("session")
///         .and(warp::query::<HashMap<String, String>>())
///         .and_then(|cookie: Option<String>, query: HashMap<String, String>| async move {
///             let token = cookie.or_else(|| query.get("token").cloned());
///             match token.as_deref() {
///                 Some("s3cret") => Ok("ann".to_owned()),
///                 _ => Err(warp::reject::custom(Unauthorized)),
///             }
///         })
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let feed = event_stream! {
///     route "/feed"
///     with user = user()
///     every 1ms
///     until 1
///     => |i| json!({ "tick": i, "user": user })
/// };
/// let routes = feed
///     .recover(|rejection: warp::Rejection| async move {
///         match rejection.find::<Unauthorized>() {
///             Some(_) => Ok(warp::reply::with_status("sign in first", warp::http::StatusCode::UNAUTHORIZED)),
///             None => Err(rejection),
///         }
///     })
///     .with(warp::cors().allow_origin("https://app.example.com").allow_method("GET"));
///
/// let denied = warp::test::request().path("/feed").reply(&routes).await;
/// assert_eq!(denied.status(), 401);
/// let by_cookie = warp::test::request()
///     .path("/feed")
///     .header("cookie", "session=s3cret")
///     .reply(&routes)
///     .await;
/// assert_eq!(by_cookie.status(), 200);
/// assert!(std::str::from_utf8(by_cookie.body()).unwrap().contains(r#""user":"ann""#));
/// let by_query = warp::test::request()
///     .path("/feed?token=s3cret")
///     .header("origin", "https://app.example.com")
///     .reply(&routes)
///     .await;
/// assert_eq!(by_query.status(), 200);
/// assert_eq!(
///     by_query.headers()["access-control-allow-origin"],
///     "https://app.example.com"
/// );
/// # }
/// ```
///
/// A mistake is a compile error naming the clause and its accepted form:
///
/// ```compile_fail
/// # use warp_eventstream::{event_stream, json};
/// // error: `every` takes a duration such as `250ms`, `1s`, `2min` or `1h`; found `1x`
/// let bad = event_stream! { route "/e" every 1x => |i| json!(i) };
/// ```
#[macro_export]
macro_rules! event_stream {
    // `pub fn name() { clauses }`: a constructor, and `name_clients()` for its live count.
    ($(#[$attr:meta])* $vis:vis fn $name:ident() { $($clauses:tt)* }) => {
        $crate::__private::paste! {
            #[doc = "How many streams of [`" $name "`] are open right now."]
            $vis fn [<$name _clients>]() -> $crate::Clients {
                static CLIENTS: $crate::__private::OnceLock<$crate::Clients> =
                    $crate::__private::OnceLock::new();
                $crate::__private::Clone::clone(CLIENTS.get_or_init($crate::Clients::new))
            }

            $(#[$attr])*
            $vis fn $name() -> impl $crate::__private::Filter<
                Extract = ($crate::__private::Response,),
                Error = $crate::__private::Rejection,
            > + $crate::__private::Clone + Send + Sync + 'static {
                $crate::__event_stream_clauses!([(raw [$($clauses)*]) (clients [<$name _clients>]())] $($clauses)*)
            }
        }
    };
    ($(#[$attr:meta])* $vis:vis fn $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "a named endpoint takes no arguments and its clauses in braces: pub fn counting() { route \"/event/counting\" every 1s => |i| json!(i) }"
        );
    };
    // The raw tokens ride along for the unused-parameter check (`macros/unused.rs`).
    ($($clauses:tt)*) => {
        $crate::__event_stream_clauses!([(raw [$($clauses)*])] $($clauses)*)
    };
}
