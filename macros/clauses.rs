//! Reads the clauses of `event_stream!` into a normalised list, `(kind args...)` each.
//!
//! One rule accepts each clause's form; the rule after it catches any other use of that clause
//! and says what the accepted form is. State: `[clauses read so far] tokens left`.

#[doc(hidden)]
#[macro_export]
macro_rules! __event_stream_clauses {
    // `route "/a/b"` or `route "/rooms" / room: String / "events"`: the GET path.
    ([$($done:tt)*] route $first:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@route [$($done)*] [(first $first)] [$first,] [] $($rest)*)
    };
    ([$($done:tt)*] route $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`route` takes a string literal path, then any `/ \"segment\"` or `/ name: Type`: route \"/event/counting\" or route \"/rooms\" / room: String / \"events\""
        )
    };
    // `@route [done] [pieces] [label parts] [params] tokens`: the typed segments after the first.
    (@route [$($done:tt)*] [$($piece:tt)*] [$($label:tt)*] [$($param:tt)*] / $segment:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@route [$($done)*] [$($piece)* (segment $segment)] [$($label)* "/", $segment,] [$($param)*] $($rest)*)
    };
    (@route [$($done:tt)*] [$($piece:tt)*] [$($label:tt)*] [$($param:tt)*] / $name:ident : $ty:ident $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@route [$($done)*] [$($piece)* (param)] [$($label)* "/{", $crate::__private::stringify!($name), "}",] [$($param)* ($name $ty)] $($rest)*)
    };
    (@route [$($done:tt)*] [$($piece:tt)*] [$($label:tt)*] [$($param:tt)*] / $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`route` segments after the first are `/ \"literal\"` or `/ name: Type` (a `FromStr` type name): route \"/rooms\" / room: String / \"events\""
        )
    };
    (@route [$($done:tt)*] [$($piece:tt)*] [$($label:tt)*] [$($param:tt)*] $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (route [$($piece)*] [$($label)*] [$($param)*])] $($rest)*)
    };

    // `every 1s`: the tick source.
    ([$($done:tt)*] every $period:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (every $period)] $($rest)*)
    };
    // `every (config.period)`: a `Duration` known at run time, in parentheses.
    ([$($done:tt)*] every ($($period:tt)+) $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (every ($($period)+))] $($rest)*)
    };
    ([$($done:tt)*] every $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`every` takes a literal duration such as `250ms`, `1s`, `2min` or `1h`, or a `Duration` expression in parentheses: every 1s or every (config.period)"
        )
    };

    // `from hub(<hub>, <topic>)`, `from |last| <stream>` (resumable: `last` is the client's
    // `Last-Event-ID`) or `from <stream>`: the other sources.
    ([$($done:tt)*] from hub($hub:expr, $topic:expr $(,)?) $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (from hub ($hub) ($topic))] $($rest)*)
    };
    ([$($done:tt)*] from hub ($($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`from hub` takes a hub and a topic: from hub(chat, \"lobby\") or from hub(chat, room)"
        )
    };
    ([$($done:tt)*] from | $last:ident | $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr (from resume $last) [$($done)*] [] $($rest)*)
    };
    ([$($done:tt)*] from $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr (from stream) [$($done)*] [] $($rest)*)
    };

    // `until 10` or `until |item| item.done`: the last tick or item.
    ([$($done:tt)*] until $last:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (until count $last)] $($rest)*)
    };
    ([$($done:tt)*] until | $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr (until item) [$($done)*] [|] $($rest)*)
    };
    ([$($done:tt)*] until $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`until` takes the number of the last tick, at least 1, or a predicate on a `from` stream's items: until 10 or until |job| job.done"
        )
    };

    // `with user = <filter>` or `with <filter>`: a warp filter run on the request.
    ([$($done:tt)*] with $name:ident = $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr (with named $name) [$($done)*] [] $($rest)*)
    };
    ([$($done:tt)*] with $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr (with check) [$($done)*] [] $($rest)*)
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

    // `write_timeout 30s` or `write_timeout off`: how long a write may stall before the
    // connection is closed (enforced by `warp_eventstream::serve`).
    ([$($done:tt)*] write_timeout off $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (write_timeout off)] $($rest)*)
    };
    ([$($done:tt)*] write_timeout $limit:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (write_timeout $limit)] $($rest)*)
    };
    ([$($done:tt)*] write_timeout ($($limit:tt)+) $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (write_timeout ($($limit)+))] $($rest)*)
    };
    ([$($done:tt)*] write_timeout $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`write_timeout` takes a literal duration, a `Duration` expression in parentheses, or `off`: write_timeout 30s, write_timeout (config.timeout) or write_timeout off"
        )
    };

    // `keep_alive 15s` or `keep_alive off`: the idle heartbeat.
    ([$($done:tt)*] keep_alive off $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (keep_alive off)] $($rest)*)
    };
    ([$($done:tt)*] keep_alive $every:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (keep_alive $every)] $($rest)*)
    };
    ([$($done:tt)*] keep_alive ($($every:tt)+) $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (keep_alive ($($every)+))] $($rest)*)
    };
    ([$($done:tt)*] keep_alive $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`keep_alive` takes a literal duration, a `Duration` expression in parentheses, or `off`: keep_alive 15s, keep_alive (config.heartbeat) or keep_alive off"
        )
    };

    // `retry 2s`: the reconnection delay sent to the browser.
    ([$($done:tt)*] retry $delay:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (retry $delay)] $($rest)*)
    };
    ([$($done:tt)*] retry ($($delay:tt)+) $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (retry ($($delay)+))] $($rest)*)
    };
    ([$($done:tt)*] retry $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`retry` takes a literal duration or a `Duration` expression in parentheses: retry 2s or retry (config.retry)"
        )
    };

    // `close_event "done"` or `close_event off`: the event sent when the server ends the stream.
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

    // `buffer 256`: how far behind a hub client may fall before `on_lag` applies.
    ([$($done:tt)*] buffer $events:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (buffer $events)] $($rest)*)
    };
    ([$($done:tt)*] buffer $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`buffer` takes a number of events, at least 1: buffer 256"
        )
    };

    // `on_lag skip` or `on_lag disconnect`: what happens to a client further behind than `buffer`.
    ([$($done:tt)*] on_lag skip $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (on_lag Skip)] $($rest)*)
    };
    ([$($done:tt)*] on_lag disconnect $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (on_lag Disconnect)] $($rest)*)
    };
    ([$($done:tt)*] on_lag $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`on_lag` takes `skip` or `disconnect`: on_lag skip"
        )
    };

    // `max_clients 1000`: more concurrent streams than this get 503.
    ([$($done:tt)*] max_clients $limit:literal $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (max_clients $limit)] $($rest)*)
    };
    ([$($done:tt)*] max_clients $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`max_clients` takes a number, at least 1: max_clients 1000"
        )
    };

    // `clients <Clients>` and `shutdown <Shutdown>`: handles shared with the application.
    ([$($done:tt)*] clients $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr (clients) [$($done)*] [] $($rest)*)
    };
    ([$($done:tt)*] shutdown $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr (shutdown) [$($done)*] [] $($rest)*)
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

    // `on_close |n| { ... }`: runs once per connection with the count sent.
    ([$($done:tt)*] on_close |$last:tt| $body:block $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* (on_close $last $body)] $($rest)*)
    };
    ([$($done:tt)*] on_close $($rest:tt)*) => {
        $crate::__private::compile_error!(
            "`on_close` takes a one-argument closure with a block: on_close |n| { println!(\"Counted to: {}\", n) }"
        )
    };

    // The handler: `=> [async] [text | event] |i| ...`, its value sent as JSON, text lines or
    // a whole `Event`; `async` handlers return a future.
    ([$($done:tt)*] => async event |$item:tt| $body:expr $(,)?) => {
        $crate::__event_stream_checks!([$($done)*] (Later Built $item $body))
    };
    ([$($done:tt)*] => async text |$item:tt| $body:expr $(,)?) => {
        $crate::__event_stream_checks!([$($done)*] (Later Text $item $body))
    };
    ([$($done:tt)*] => async |$item:tt| $body:expr $(,)?) => {
        $crate::__event_stream_checks!([$($done)*] (Later Json $item $body))
    };
    ([$($done:tt)*] => event |$item:tt| $body:expr $(,)?) => {
        $crate::__event_stream_checks!([$($done)*] (Now Built $item $body))
    };
    ([$($done:tt)*] => text |$item:tt| $body:expr $(,)?) => {
        $crate::__event_stream_checks!([$($done)*] (Now Text $item $body))
    };
    ([$($done:tt)*] => |$item:tt| $body:expr $(,)?) => {
        $crate::__event_stream_checks!([$($done)*] (Now Json $item $body))
    };
    ([$($done:tt)*] => $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@bad_handler $($rest)*)
    };
    // `@bad_handler tokens`: the handler's own keywords first, then `@misplaced`.
    (@bad_handler async $($rest:tt)*) => { $crate::__event_stream_clauses!(@bad_handler $($rest)*) };
    (@bad_handler text $($rest:tt)*) => { $crate::__event_stream_clauses!(@bad_handler $($rest)*) };
    (@bad_handler event $($rest:tt)*) => { $crate::__event_stream_clauses!(@bad_handler $($rest)*) };
    (@bad_handler $($rest:tt)*) => { $crate::__event_stream_clauses!(@misplaced $($rest)*) };
    // `@misplaced tokens`: a handler that matched no form. A clause keyword among its tokens
    // means a clause was written after the handler; otherwise the handler's form is wrong.
    (@misplaced route $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler route) };
    (@misplaced every $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler every) };
    (@misplaced from $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler from) };
    (@misplaced until $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler until) };
    (@misplaced with $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler with) };
    (@misplaced event $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler event) };
    (@misplaced keep_alive $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler keep_alive) };
    (@misplaced write_timeout $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler write_timeout) };
    (@misplaced retry $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler retry) };
    (@misplaced close_event $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler close_event) };
    (@misplaced buffer $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler buffer) };
    (@misplaced on_lag $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler on_lag) };
    (@misplaced max_clients $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler max_clients) };
    (@misplaced clients $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler clients) };
    (@misplaced shutdown $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler shutdown) };
    (@misplaced on_open $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler on_open) };
    (@misplaced on_close $($rest:tt)*) => { $crate::__event_stream_clauses!(@clause_after_handler on_close) };
    (@misplaced $other:tt $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@misplaced $($rest)*)
    };
    (@misplaced) => {
        $crate::__private::compile_error!(
            "the handler takes one argument, the tick number or stream item: => |i| json!({ \"count\": i }), => text |i| format!(\"tick {}\", i), => event |i| Event::json(i).name(\"tick\"), each optionally `async`"
        )
    };
    (@clause_after_handler $keyword:ident) => {
        $crate::__private::compile_error!($crate::__private::concat!(
            "`", $crate::__private::stringify!($keyword),
            "` is written after the handler: every clause comes before `=> handler`, which ends the endpoint: event_stream! { route \"/ticks\" every 1s => |i| json!(i) }"
        ))
    };


    // The tokens ran out: no handler (which only a `from` source may leave out).
    ([$($done:tt)*]) => {
        $crate::__event_stream_checks!([$($done)*] (none))
    };

    // `@expr (kind) [done] [expression so far] tokens`: an expression runs up to the next clause.
    // Its first token is never a clause keyword, so `shutdown shutdown.clone()` reads as meant.
    (@expr ($($kind:tt)*) [$($done:tt)*] [] => $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [] => $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [] $first:tt $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr ($($kind)*) [$($done)*] [$first] $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] route $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] route $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] every $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] every $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] until $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] until $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] event $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] event $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] write_timeout $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] write_timeout $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] keep_alive $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] keep_alive $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] retry $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] retry $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] close_event $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] close_event $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] on_open $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] on_open $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] on_close $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] on_close $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] from $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] from $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] with $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] with $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] buffer $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] buffer $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] on_lag $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] on_lag $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] max_clients $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] max_clients $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] clients $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] clients $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] shutdown $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] shutdown $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] => $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*] => $($rest)*)
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*]) => {
        $crate::__event_stream_clauses!(@expr_done ($($kind)*) [$($done)*] [$($e)*])
    };
    (@expr_done ($($kind:tt)*) [$($done:tt)*] [$($e:tt)+] $($rest:tt)*) => {
        $crate::__event_stream_clauses!([$($done)* ($($kind)* $($e)+)] $($rest)*)
    };
    (@expr_done (from $($_:tt)*) [$($done:tt)*] [] $($rest:tt)*) => {
        $crate::__private::compile_error!("`from` takes a stream expression or a hub: from job_progress(id) or from hub(chat, room)")
    };
    (@expr_done (until $($_:tt)*) [$($done:tt)*] [] $($rest:tt)*) => {
        $crate::__private::compile_error!("`until` takes the number of the last tick or item, or a predicate on items: until 10 or until |job| job.done")
    };
    (@expr_done (with $($_:tt)*) [$($done:tt)*] [] $($rest:tt)*) => {
        $crate::__private::compile_error!("`with` takes a warp filter, named if its value is used: with user = warp::header::<String>(\"x-user\")")
    };
    (@expr_done (clients $($_:tt)*) [$($done:tt)*] [] $($rest:tt)*) => {
        $crate::__private::compile_error!("`clients` takes a `Clients` handle: clients clients.clone()")
    };
    (@expr_done (shutdown $($_:tt)*) [$($done:tt)*] [] $($rest:tt)*) => {
        $crate::__private::compile_error!("`shutdown` takes a `Shutdown` handle: shutdown shutdown.clone()")
    };
    (@expr ($($kind:tt)*) [$($done:tt)*] [$($e:tt)*] $next:tt $($rest:tt)*) => {
        $crate::__event_stream_clauses!(@expr ($($kind)*) [$($done)*] [$($e)* $next] $($rest)*)
    };

    // Anything else where a clause should start.
    ([$($done:tt)*] $unknown:tt $($rest:tt)*) => {
        $crate::__private::compile_error!($crate::__private::concat!(
            "unknown clause `",
            $crate::__private::stringify!($unknown),
            "`: expected route, every, from, until, with, event, keep_alive, write_timeout, retry, close_event, buffer, on_lag, max_clients, clients, shutdown, on_open, on_close, or => |i| ..."
        ))
    };
}
