//! Whole-endpoint checks on the clause list: each clause at most once, a route present.

#[doc(hidden)]
#[macro_export]
macro_rules! __event_stream_checks {
    // Entry: run every check, then expand. A failed check is one compile error; the expansion
    // still type-checks, so it adds no noise.
    ([$($clause:tt)*] $handler:tt) => {{
        $crate::__event_stream_checks!(@unique $($clause)*);
        $crate::__event_stream_checks!(@require_route [$($clause)*]);
        $crate::__event_stream_expand!(@sort $handler [] [] [] [] [] $($clause)*)
    }};

    // `@unique clauses`: no kind appears after itself.
    (@unique) => {};
    (@unique ($kind:ident $($args:tt)*) $($rest:tt)*) => {
        $crate::__event_stream_checks!(@once $kind $($rest)*);
        $crate::__event_stream_checks!(@unique $($rest)*);
    };

    // `@once kind clauses`: the clause `kind` is not among `clauses`.
    (@once route (route $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`route` is given twice; give it once: route \"/event/counting\"");
    };
    (@once every (every $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`every` is given twice; give it once: every 1s");
    };
    (@once from (from $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`from` is given twice; an endpoint has one source: from hub(chat, room)");
    };
    (@once until (until $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`until` is given twice; give it once: until 10");
    };
    (@once with (with $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`with` is given twice; combine the filters with `.and()` into one: with user = auth()");
    };
    (@once event (event $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`event` is given twice; list every name in one clause: event [\"message\", \"increment\"]");
    };
    (@once keep_alive (keep_alive $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`keep_alive` is given twice; give it once: keep_alive 15s");
    };
    (@once write_timeout (write_timeout $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`write_timeout` is given twice; give it once: write_timeout 30s");
    };
    (@once retry (retry $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`retry` is given twice; give it once: retry 2s");
    };
    (@once close_event (close_event $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`close_event` is given twice; give it once: close_event \"done\"");
    };
    (@once buffer (buffer $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`buffer` is given twice; give it once: buffer 256");
    };
    (@once on_lag (on_lag $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`on_lag` is given twice; give it once: on_lag skip");
    };
    (@once max_clients (max_clients $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`max_clients` is given twice; give it once: max_clients 1000");
    };
    (@once clients (clients $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`clients` is given twice (a named endpoint has its own); give it once: clients counter.clone()");
    };
    (@once shutdown (shutdown $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`shutdown` is given twice; give it once: shutdown shutdown.clone()");
    };
    (@once on_open (on_open $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`on_open` is given twice; put everything in one block: on_open { ... }");
    };
    (@once on_close (on_close $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`on_close` is given twice; put everything in one block: on_close |n| { ... }");
    };
    (@once $kind:ident $other:tt $($rest:tt)*) => {
        $crate::__event_stream_checks!(@once $kind $($rest)*);
    };
    (@once $kind:ident) => {};

    // `@require_route [clauses]`: a `route` clause is among `clauses`.
    (@require_route [(route $($args:tt)*) $($rest:tt)*]) => {};
    (@require_route [$other:tt $($rest:tt)*]) => {
        $crate::__event_stream_checks!(@require_route [$($rest)*]);
    };
    (@require_route []) => {
        $crate::__private::compile_error!("missing `route` clause: add route \"/event/counting\"");
    };
}
