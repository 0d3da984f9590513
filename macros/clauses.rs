//! Reads the clauses of `event_stream!` into a normalised list, `(kind args...)` each.
//!
//! One rule accepts each clause's form; the rule after it catches any other use of that clause
//! and says what the accepted form is. State: `[clauses read so far] tokens left`.

#[doc(hidden)]
#[macro_export]
macro_rules! __event_stream_clauses {
    // `route "/a/b"`: the GET path.
    ([$($done:tt)*] route $path:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (route $path)] $($rest)*)
    };
    ([$($done:tt)*] route $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`route` takes a string literal path: route \"/event/counting\""
        )
    };

    // `every 1s`: the tick period.
    ([$($done:tt)*] every $period:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (every $period)] $($rest)*)
    };
    ([$($done:tt)*] every $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`every` takes a duration such as `250ms`, `1s`, `2min` or `1h`: every 1s"
        )
    };

    // `until 10`: the last tick.
    ([$($done:tt)*] until $last:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (until $last)] $($rest)*)
    };
    ([$($done:tt)*] until $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`until` takes the number of the last tick, at least 1: until 10"
        )
    };

    // `event "name"` or `event ["a", "b"]`: the event types each tick is sent as.
    ([$($done:tt)*] event $name:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (event [$name])] $($rest)*)
    };
    ([$($done:tt)*] event [$($name:literal),+ $(,)?] $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (event [$($name),+])] $($rest)*)
    };
    ([$($done:tt)*] event $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`event` takes a name or a list of names: event \"increment\" or event [\"message\", \"increment\"]"
        )
    };

    // `keep_alive 15s` or `keep_alive off`: the idle heartbeat.
    ([$($done:tt)*] keep_alive off $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (keep_alive off)] $($rest)*)
    };
    ([$($done:tt)*] keep_alive $every:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (keep_alive $every)] $($rest)*)
    };
    ([$($done:tt)*] keep_alive $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`keep_alive` takes a duration or `off`: keep_alive 15s or keep_alive off"
        )
    };

    // `retry 2s`: the reconnection delay sent to the browser.
    ([$($done:tt)*] retry $delay:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (retry $delay)] $($rest)*)
    };
    ([$($done:tt)*] retry $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`retry` takes a duration such as `500ms` or `2s`: retry 2s"
        )
    };

    // `close_event "done"` or `close_event off`: the event sent after the `until` tick.
    ([$($done:tt)*] close_event off $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (close_event off)] $($rest)*)
    };
    ([$($done:tt)*] close_event $name:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (close_event $name)] $($rest)*)
    };
    ([$($done:tt)*] close_event $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`close_event` takes an event name or `off`: close_event \"done\" or close_event off"
        )
    };

    // `on_open { ... }`: runs when a client's stream starts.
    ([$($done:tt)*] on_open $body:block $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (on_open $body)] $($rest)*)
    };
    ([$($done:tt)*] on_open $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`on_open` takes a block: on_open { println!(\"Start counting\") }"
        )
    };

    // `on_close |n| { ... }`: runs once per connection with the last tick sent.
    ([$($done:tt)*] on_close |$last:tt| $body:block $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (on_close $last $body)] $($rest)*)
    };
    ([$($done:tt)*] on_close $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`on_close` takes a one-argument closure with a block: on_close |n| { println!(\"Counted to: {}\", n) }"
        )
    };

    // `=> event |i| ...`: the handler, building the whole `Event` (name and id included).
    ([$($done:tt)*] => event |$tick:tt| $body:expr $(,)?) => {
        $crate::__event_stream_checks!([$($done)*] (Built $tick $body))
    };
    // `=> text |i| ...`: the handler, its value sent as text lines.
    ([$($done:tt)*] => text |$tick:tt| $body:expr $(,)?) => {
        $crate::__event_stream_checks!([$($done)*] (Text $tick $body))
    };
    // `=> |i| ...`: the handler, its value sent as JSON.
    ([$($done:tt)*] => |$tick:tt| $body:expr $(,)?) => {
        $crate::__event_stream_checks!([$($done)*] (Json $tick $body))
    };
    ([$($done:tt)*] => $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "the handler takes one argument, the tick number: => |i| json!({ \"count\": i }), => text |i| format!(\"tick {}\", i) or => event |i| Event::json(i).name(\"tick\")"
        )
    };

    // The tokens ran out before `=>`.
    ([$($done:tt)*]) => {
        $crate::__private::compile_error!(
            "missing handler: end the endpoint with => |i| json!({ \"count\": i })"
        )
    };

    // Anything else where a clause should start.
    ([$($done:tt)*] $unknown:tt $($rest:tt)*) => {
        $crate::__private::compile_error!($crate::__private::concat!(
            "unknown clause `",
            $crate::__private::stringify!($unknown),
            "`: expected route, every, until, event, keep_alive, retry, close_event, on_open, on_close, or => |i| ..."
        ))
    };
}
