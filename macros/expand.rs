//! The expansion: a builder chain on `$crate::__private::Endpoint`, one call per clause.
//! Literal arguments are checked in `const` items, so a bad one is a compile error.

#[doc(hidden)]
#[macro_export]
macro_rules! __event_stream_expand {
    // Entry: the handler starts the builder, each clause applies to it, then the warp filter.
    ([$($clause:tt)*] ($form:ident $tick:tt $body:expr)) => {{
        let endpoint = $crate::__private::Endpoint::new(
            $crate::__private::$form(move |$tick: u64| $body)
        );
        $( let endpoint = $crate::__event_stream_expand!(@apply endpoint $clause); )*
        endpoint.into_filter()
    }};

    (@apply $endpoint:ident (route $path:literal)) => {
        $endpoint.route({
            const ROUTE: &str = $crate::__private::validate::route(
                $crate::__private::stringify!($path),
                $crate::__private::concat!(
                    "`route` takes a path such as \"/event/counting\": a leading `/`, non-empty segments of URL path characters; found ",
                    $crate::__private::stringify!($path)
                ),
            );
            ROUTE
        })
    };
    (@apply $endpoint:ident (every $period:literal)) => {
        $endpoint.every($crate::__event_stream_expand!(@duration every $period))
    };
    (@apply $endpoint:ident (until $last:literal)) => {
        $endpoint.until({
            const UNTIL: u64 = $crate::__private::validate::until(
                $last,
                $crate::__private::concat!(
                    "`until` takes the number of the last tick, at least 1: until 10; found ",
                    $crate::__private::stringify!($last)
                ),
            );
            UNTIL
        })
    };
    (@apply $endpoint:ident (event [$($name:literal),+])) => {
        $endpoint.events({
            const EVENTS: &[&str] = $crate::__private::validate::event_names(
                &[$($name),+],
                $crate::__private::concat!(
                    "`event` names must be non-empty and contain no CR or LF: event [\"message\", \"increment\"]; found ",
                    $crate::__private::stringify!([$($name),+])
                ),
            );
            EVENTS
        })
    };
    (@apply $endpoint:ident (keep_alive off)) => {
        $endpoint.keep_alive($crate::__private::None)
    };
    (@apply $endpoint:ident (keep_alive $every:literal)) => {
        $endpoint.keep_alive($crate::__private::Some(
            $crate::__event_stream_expand!(@duration keep_alive $every)
        ))
    };
    (@apply $endpoint:ident (retry $delay:literal)) => {
        $endpoint.retry($crate::__event_stream_expand!(@duration retry $delay))
    };
    (@apply $endpoint:ident (close_event off)) => {
        $endpoint.close_event($crate::__private::None)
    };
    (@apply $endpoint:ident (close_event $name:literal)) => {
        $endpoint.close_event($crate::__private::Some({
            const EVENTS: &[&str] = $crate::__private::validate::event_names(
                &[$name],
                $crate::__private::concat!(
                    "`close_event` names must be non-empty and contain no CR or LF: close_event \"done\"; found ",
                    $crate::__private::stringify!($name)
                ),
            );
            EVENTS[0]
        }))
    };
    (@apply $endpoint:ident (on_open $body:block)) => {
        $endpoint.on_open(move || $body)
    };
    (@apply $endpoint:ident (on_close $last:tt $body:block)) => {
        $endpoint.on_close(move |$last: u64| $body)
    };

    // `@duration clause literal`: a compile-time `Duration`, or an error naming `clause`.
    (@duration $clause:ident $value:literal) => {{
        const DURATION: $crate::__private::Duration = $crate::__private::duration(
            $crate::__private::stringify!($value),
            $crate::__private::concat!(
                "`", $crate::__private::stringify!($clause),
                "` takes a duration such as `250ms`, `1s`, `2min` or `1h`; found `",
                $crate::__private::stringify!($value), "`"
            ),
        );
        DURATION
    }};
}
