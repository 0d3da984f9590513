//! Whole-endpoint checks on the clause list: each clause at most once, required ones present.

#[doc(hidden)]
#[macro_export]
macro_rules! __event_stream_checks {
    // Entry: run every check, then expand. A failed check is one compile error; the expansion
    // still type-checks, so it adds no noise.
    ([$($clause:tt)*] $handler:tt) => {{
        $crate::__event_stream_checks!(@unique $($clause)*);
        $crate::__event_stream_checks!(@require route [$($clause)*]);
        $crate::__event_stream_checks!(@require every [$($clause)*]);
        $crate::__event_stream_expand!([$($clause)*] $handler)
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
    (@once until (until $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`until` is given twice; give it once: until 10");
    };
    (@once event (event $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`event` is given twice; list every name in one clause: event [\"message\", \"increment\"]");
    };
    (@once keep_alive (keep_alive $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`keep_alive` is given twice; give it once: keep_alive 15s");
    };
    (@once retry (retry $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`retry` is given twice; give it once: retry 2s");
    };
    (@once close_event (close_event $($args:tt)*) $($rest:tt)*) => {
        $crate::__private::compile_error!("`close_event` is given twice; give it once: close_event \"done\"");
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

    // `@require kind [clauses]`: the clause `kind` is among `clauses`.
    (@require route [(route $($args:tt)*) $($rest:tt)*]) => {};
    (@require every [(every $($args:tt)*) $($rest:tt)*]) => {};
    (@require $kind:ident [$other:tt $($rest:tt)*]) => {
        $crate::__event_stream_checks!(@require $kind [$($rest)*]);
    };
    (@require route []) => {
        $crate::__private::compile_error!("missing `route` clause: add route \"/event/counting\"");
    };
    (@require every []) => {
        $crate::__private::compile_error!("missing `every` clause, the tick period: add every 1s");
    };
}
