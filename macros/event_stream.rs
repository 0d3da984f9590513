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
/// Before the final `=> handler`, in any order, each at most once:
///
/// | clause | meaning | default |
/// |---|---|---|
/// | `route "/a/b"` | the `GET` path (required) | |
/// | `every 1s` | tick period: an integer with `ms`, `s`, `min` or `h` (required) | |
/// | `until 10` | end the stream after tick 10 | runs until the client leaves |
/// | `event "name"` / `event ["a", "b"]` | event type(s) each tick is sent as, in order | `"message"` |
/// | `keep_alive 30s` / `keep_alive off` | comment heartbeat while idle | `15s` |
/// | `write_timeout 10s` / `write_timeout off` | close a connection whose writes stall this long (under [`serve`](crate::serve())) | `30s` |
/// | `retry 2s` | `retry:` sent first: the browser's reconnection delay | not sent |
/// | `close_event "done"` / `close_event off` | event sent after the `until` tick | `"close"` |
/// | `on_open { ... }` | runs when a client's stream starts | |
/// | `on_close \|n\| { ... }` | runs once per connection with the last tick sent | |
///
/// The handler is `=> |i| expr` where `i: u64` counts ticks from 1 and `expr` is any
/// `serde::Serialize` (one JSON `data:` line), or `=> text |i| expr` where `expr` is a `String` or
/// `&str` (one `data:` line per line of text). Each event of tick `i` carries `id: i`; a client
/// reconnecting with `Last-Event-ID: k` resumes at tick `k + 1`, and one at or past `until` gets
/// `204 No Content`, which tells `EventSource` to stop reconnecting.
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
                $crate::__event_stream_clauses!([(clients [<$name _clients>]())] $($clauses)*)
            }
        }
    };
    ($(#[$attr:meta])* $vis:vis fn $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "a named endpoint takes no arguments and its clauses in braces: pub fn counting() { route \"/event/counting\" every 1s => |i| json!(i) }"
        );
    };
    ($($clauses:tt)*) => {
        $crate::__event_stream_clauses!([] $($clauses)*)
    };
}
