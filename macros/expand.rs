//! The expansion: a builder chain on `$crate::__private::Endpoint`: settings, then the route's
//! filter and the source, then the handler. Literal arguments are checked in `const` items, so a
//! bad one is a compile error.

#[doc(hidden)]
#[macro_export]
macro_rules! __event_stream_expand {
    // `@sort handler [route] [source] [with] [until] [settings] clauses`: the clauses that shape
    // the expansion go to their own slot; the rest are settings.
    (@sort $h:tt [$($r:tt)*] [$($s:tt)*] [$($w:tt)*] [$($u:tt)*] [$($set:tt)*] (route $($a:tt)*) $($more:tt)*) => {
        $crate::__event_stream_expand!(@sort $h [$($r)* (route $($a)*)] [$($s)*] [$($w)*] [$($u)*] [$($set)*] $($more)*)
    };
    (@sort $h:tt [$($r:tt)*] [$($s:tt)*] [$($w:tt)*] [$($u:tt)*] [$($set:tt)*] (every $($a:tt)*) $($more:tt)*) => {
        $crate::__event_stream_expand!(@sort $h [$($r)*] [$($s)* (every $($a)*)] [$($w)*] [$($u)*] [$($set)*] $($more)*)
    };
    (@sort $h:tt [$($r:tt)*] [$($s:tt)*] [$($w:tt)*] [$($u:tt)*] [$($set:tt)*] (from $($a:tt)*) $($more:tt)*) => {
        $crate::__event_stream_expand!(@sort $h [$($r)*] [$($s)* (from $($a)*)] [$($w)*] [$($u)*] [$($set)*] $($more)*)
    };
    (@sort $h:tt [$($r:tt)*] [$($s:tt)*] [$($w:tt)*] [$($u:tt)*] [$($set:tt)*] (with $($a:tt)*) $($more:tt)*) => {
        $crate::__event_stream_expand!(@sort $h [$($r)*] [$($s)*] [$($w)* (with $($a)*)] [$($u)*] [$($set)*] $($more)*)
    };
    (@sort $h:tt [$($r:tt)*] [$($s:tt)*] [$($w:tt)*] [$($u:tt)*] [$($set:tt)*] (until $($a:tt)*) $($more:tt)*) => {
        $crate::__event_stream_expand!(@sort $h [$($r)*] [$($s)*] [$($w)*] [$($u)* (until $($a)*)] [$($set)*] $($more)*)
    };
    (@sort $h:tt [$($r:tt)*] [$($s:tt)*] [$($w:tt)*] [$($u:tt)*] [$($set:tt)*] $other:tt $($more:tt)*) => {
        $crate::__event_stream_expand!(@sort $h [$($r)*] [$($s)*] [$($w)*] [$($u)*] [$($set)* $other] $($more)*)
    };
    (@sort $h:tt [$($r:tt)*] [$($s:tt)*] [$($w:tt)*] [$($u:tt)*] [$($set:tt)*]) => {
        $crate::__event_stream_expand!(@build $h [$($r)*] [$($s)*] [$($w)*] [$($u)*] [$($set)*])
    };

    // A check already failed (no route, a clause twice): expand to a filter that type-checks.
    (@build $h:tt [] $($rest:tt)*) => { $crate::__private::placeholder() };
    (@build $h:tt [$r:tt $r2:tt $($rr:tt)*] $($rest:tt)*) => { $crate::__private::placeholder() };
    (@build $h:tt [$r:tt] $s:tt [$w:tt $w2:tt $($ww:tt)*] $($rest:tt)*) => { $crate::__private::placeholder() };
    (@build $h:tt [$r:tt] $s:tt $w:tt [$u:tt $u2:tt $($uu:tt)*] $($rest:tt)*) => { $crate::__private::placeholder() };

    // `every`: the tick source.
    (@build $handler:tt [$route:tt] [(every $period:tt)] [$($with:tt)?] [$($until:tt)?] [$($setting:tt)*]) => {{
        $crate::__event_stream_expand!(@unused $route $($setting)*);
        let __endpoint = $crate::__event_stream_expand!(@endpoint $route)
            .every($crate::__event_stream_expand!(@duration every $period));
        $( let __endpoint = $crate::__event_stream_expand!(@until_ticks __endpoint $until); )?
        $( let __endpoint = $crate::__event_stream_expand!(@apply ticks __endpoint $setting); )*
        let __ticks = __endpoint.ticks($crate::__event_stream_expand!(@filter $route [$($with)?]));
        let __ticks = $crate::__event_stream_expand!(@hooks __ticks [$route $($with)?] $($setting)*);
        $crate::__event_stream_expand!(@ticks_handler __ticks [$route $($with)?] $handler)
    }};

    // `from hub(hub, topic)`: the hub source; values are framed once, at publish.
    (@build $handler:tt [$route:tt] [(from hub ($hub:expr) ($topic:expr))] [$($with:tt)?] [$($until:tt)?] [$($setting:tt)*]) => {{
        $crate::__event_stream_expand!(@unused $route $($setting)*);
        $( $crate::__event_stream_expand!(@until_hub $until); )?
        $crate::__event_stream_expand!(@hub_handler $handler);
        let __endpoint = $crate::__event_stream_expand!(@endpoint $route);
        $( let __endpoint = $crate::__event_stream_expand!(@apply hub __endpoint $setting); )*
        let __hub = __endpoint.hub(
            $crate::__event_stream_expand!(@filter $route [$($with)?]),
            $hub,
            move |__context| {
                #[allow(unused_variables)]
                let $crate::__event_stream_expand!(@pattern [$route $($with)?]) = __context;
                $topic
            },
        );
        let __hub = $crate::__event_stream_expand!(@hooks __hub [$route $($with)?] $($setting)*);
        __hub.filter()
    }};

    // `from <stream>`: the user's stream, built per connection.
    (@build $handler:tt [$route:tt] [(from stream $($source:tt)+)] [$($with:tt)?] [$($until:tt)?] [$($setting:tt)*]) => {{
        $crate::__event_stream_expand!(@unused $route $($setting)*);
        let __endpoint = $crate::__event_stream_expand!(@endpoint $route);
        $( let __endpoint = $crate::__event_stream_expand!(@until_count __endpoint $until); )?
        $( let __endpoint = $crate::__event_stream_expand!(@apply stream __endpoint $setting); )*
        let __streams = __endpoint.stream(
            $crate::__event_stream_expand!(@filter $route [$($with)?]),
            move |__context, _| {
                #[allow(unused_variables)]
                let $crate::__event_stream_expand!(@pattern [$route $($with)?]) = __context;
                $($source)+
            },
        );
        $( let __streams = $crate::__event_stream_expand!(@until_item __streams $until); )?
        let __streams = $crate::__event_stream_expand!(@hooks __streams [$route $($with)?] $($setting)*);
        $crate::__event_stream_expand!(@stream_handler __streams [$route $($with)?] $handler)
    }};

    // `from |last| <stream>`: the user's stream, built per connection from the client's
    // `Last-Event-ID` (`last: Option<u64>`); its items' ids continue from there.
    (@build $handler:tt [$route:tt] [(from resume $last:ident $($source:tt)+)] [$($with:tt)?] [$($until:tt)?] [$($setting:tt)*]) => {{
        $crate::__event_stream_expand!(@unused $route $($setting)*);
        let __endpoint = $crate::__event_stream_expand!(@endpoint $route);
        $( let __endpoint = $crate::__event_stream_expand!(@until_count __endpoint $until); )?
        $( let __endpoint = $crate::__event_stream_expand!(@apply stream __endpoint $setting); )*
        let __streams = __endpoint.stream(
            $crate::__event_stream_expand!(@filter $route [$($with)?]),
            move |__context, $last: $crate::__private::Option<u64>| {
                #[allow(unused_variables)]
                let $crate::__event_stream_expand!(@pattern [$route $($with)?]) = __context;
                $($source)+
            },
        ).resumes();
        $( let __streams = $crate::__event_stream_expand!(@until_item __streams $until); )?
        let __streams = $crate::__event_stream_expand!(@hooks __streams [$route $($with)?] $($setting)*);
        $crate::__event_stream_expand!(@stream_handler __streams [$route $($with)?] $handler)
    }};

    (@build $h:tt [$r:tt] [] $($rest:tt)*) => {{
        $crate::__private::compile_error!(
            "missing source: add every 1s (a timer), from hub(<hub>, \"topic\") or from <stream>"
        );
        $crate::__private::placeholder()
    }};
    // The same source twice was already reported as a clause given twice.
    (@build $h:tt [$r:tt] [(every $($a:tt)*) (every $($b:tt)*)] $($rest:tt)*) => { $crate::__private::placeholder() };
    (@build $h:tt [$r:tt] [(from $($a:tt)*) (from $($b:tt)*)] $($rest:tt)*) => { $crate::__private::placeholder() };
    (@build $h:tt [$r:tt] [$s:tt $s2:tt $($ss:tt)*] $($rest:tt)*) => {{
        $crate::__private::compile_error!(
            "an endpoint has one source: `every` (a timer) or `from` (a hub or a stream), not both"
        );
        $crate::__private::placeholder()
    }};

    // `@endpoint (route ...)`: the builder, named by the declared path in logs.
    (@endpoint (route [$($piece:tt)*] [$($label:tt)*] [$($param:tt)*])) => {
        $crate::__private::Endpoint::new($crate::__private::concat!($($label)*))
    };

    // `@filter (route ...) [with]`: the request filter; it extracts the connection's context,
    // `(path parameters, with value)`.
    (@filter (route [$($piece:tt)*] [$($label:tt)*] [$(($name:ident $ty:ident))*]) [$($with:tt)?]) => {{
        const PIECES: &[$crate::__private::Piece] = &[
            $( $crate::__event_stream_expand!(@piece $piece) ),*
        ];
        let __route = $crate::__private::route(PIECES, |__captures| {
            $crate::__private::Ok(( $( $crate::__private::param::<$ty>(__captures)?, )* ))
        });
        $crate::__event_stream_expand!(@with __route $($with)?)
    }};
    (@with $route:ident) => { $crate::__private::without($route) };
    (@with $route:ident (with named $name:ident $($filter:tt)+)) => {
        $crate::__private::with_value($crate::__private::Filter::and($route, $($filter)+))
    };
    (@with $route:ident (with check $($filter:tt)+)) => {
        $crate::__private::with_check($route, $($filter)+)
    };

    // `@pattern [(route ...) with?]`: binds the context's parts to the names the clauses gave.
    (@pattern [(route $pieces:tt $label:tt [$(($name:ident $ty:ident))*])]) => {
        (($($name,)*), _)
    };
    (@pattern [(route $pieces:tt $label:tt [$(($name:ident $ty:ident))*]) (with named $value:ident $($filter:tt)+)]) => {
        (($($name,)*), $value)
    };
    (@pattern [(route $pieces:tt $label:tt [$(($name:ident $ty:ident))*]) (with check $($filter:tt)+)]) => {
        (($($name,)*), _)
    };

    (@piece (first $path:literal)) => {
        $crate::__private::Piece::Literal({
            const ROUTE: &str = match $crate::__private::validate::route($crate::__private::stringify!($path)) {
                $crate::__private::Ok(route) => route,
                $crate::__private::Err($crate::__private::validate::RouteError::Parameter) => {
                    const MESSAGE: &str = $crate::__private::concat!(
                        "`route` takes path parameters after the literal, as `/ name: Type`: route \"/prices\" / symbol: String; found ",
                        $crate::__private::stringify!($path)
                    );
                    $crate::__private::panic!("{}", MESSAGE)
                }
                $crate::__private::Err($crate::__private::validate::RouteError::Malformed) => {
                    const MESSAGE: &str = $crate::__private::concat!(
                        "`route` takes a path such as \"/event/counting\": a leading `/`, non-empty segments of URL path characters; found ",
                        $crate::__private::stringify!($path)
                    );
                    $crate::__private::panic!("{}", MESSAGE)
                }
            };
            ROUTE
        })
    };
    (@piece (segment $segment:literal)) => {
        $crate::__private::Piece::Literal({
            const SEGMENT: &str = $crate::__private::validate::route_segment(
                $crate::__private::stringify!($segment),
                $crate::__private::concat!(
                    "`route` segments after the first are non-empty URL path characters without a leading `/`: route \"/rooms\" / room: String / \"events\"; found ",
                    $crate::__private::stringify!($segment)
                ),
            );
            SEGMENT
        })
    };
    (@piece (param)) => { $crate::__private::Piece::Param };

    // Handlers per source. A tick handler gets the context by reference; a future (`async`)
    // owns a clone of it.
    (@ticks_handler $ticks:ident $ctx:tt (Now $format:ident $tick:tt $body:expr)) => {
        $ticks.render($crate::__private::$format, move |__context, __item| {
            #[allow(unused_variables)]
            let $crate::__event_stream_expand!(@pattern $ctx) = __context;
            // Bound last, so the handler's own argument wins over a same-named route parameter.
            let $tick = __item;
            $body
        })
    };
    (@ticks_handler $ticks:ident $ctx:tt (Later $format:ident $tick:tt $body:expr)) => {
        $ticks.render_async($crate::__private::$format, move |__context, __item| {
            #[allow(unused_variables)]
            let $crate::__event_stream_expand!(@pattern $ctx) = $crate::__private::Clone::clone(__context);
            let $tick = __item;
            async move { $body }
        })
    };
    (@ticks_handler $ticks:ident $ctx:tt (none)) => {{
        $crate::__private::compile_error!(
            "missing handler: end the endpoint with => |i| json!({ \"count\": i })"
        );
        $crate::__private::placeholder()
    }};

    (@stream_handler $streams:ident $ctx:tt (Now $format:ident $item:tt $body:expr)) => {
        $streams.render($crate::__private::$format, move |__context, __item| {
            #[allow(unused_variables)]
            let $crate::__event_stream_expand!(@pattern $ctx) = __context;
            // Bound last, so the handler's own argument wins over a same-named route parameter.
            let $item = __item;
            $body
        })
    };
    (@stream_handler $streams:ident $ctx:tt (Later $format:ident $item:tt $body:expr)) => {
        $streams.render_async($crate::__private::$format, move |__context, __item| {
            #[allow(unused_variables)]
            let $crate::__event_stream_expand!(@pattern $ctx) = $crate::__private::Clone::clone(__context);
            let $item = __item;
            async move { $body }
        })
    };
    (@stream_handler $streams:ident $ctx:tt (none)) => {
        $streams.render($crate::__private::Json, |_, __item| __item)
    };

    (@hub_handler (none)) => {};
    (@hub_handler $handler:tt) => {
        $crate::__private::compile_error!(
            "a hub source sends what was published, framed once for every client: leave out the `=> handler` and shape the value before hub.publish(topic, value)"
        );
    };

    // `until` per source: a tick count, an item count, or a predicate on items.
    (@until_ticks $endpoint:ident (until count $last:literal)) => {
        $endpoint.until($crate::__event_stream_expand!(@count until $last))
    };
    (@until_ticks $endpoint:ident (until item $($predicate:tt)+)) => {{
        $crate::__private::compile_error!(
            "`until |item| ...` needs a `from <stream>` source; with `every`, give the last tick: until 10"
        );
        $endpoint
    }};
    (@until_count $endpoint:ident (until count $last:literal)) => {
        $endpoint.until($crate::__event_stream_expand!(@count until $last))
    };
    (@until_count $endpoint:ident (until item $($predicate:tt)+)) => { $endpoint };
    (@until_item $streams:ident (until count $last:literal)) => { $streams };
    (@until_item $streams:ident (until item $($predicate:tt)+)) => {
        $streams.until_item($($predicate)+)
    };
    (@until_hub $until:tt) => {
        $crate::__private::compile_error!(
            "`until` does not apply to a hub source, which runs until the client leaves or the server shuts down"
        );
    };

    // `@apply source endpoint (setting ...)`: one builder call per setting clause.
    (@apply hub $endpoint:ident (event $($names:tt)*)) => {{
        $crate::__private::compile_error!(
            "`event` does not apply to a hub source: name the event when publishing: hub.publish_event(topic, Event::json(value).name(\"chat\"))"
        );
        $endpoint
    }};
    (@apply $source:ident $endpoint:ident (event [$($name:literal),+])) => {
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
    (@apply hub $endpoint:ident (buffer $events:literal)) => {
        $endpoint.buffer($crate::__event_stream_expand!(@count buffer $events) as usize)
    };
    (@apply hub $endpoint:ident (on_lag $policy:ident)) => {
        $endpoint.on_lag($crate::__private::OnLag::$policy)
    };
    (@apply $source:ident $endpoint:ident (buffer $($args:tt)*)) => {{
        $crate::__private::compile_error!(
            "`buffer` applies to a hub source, whose events queue per client: from hub(chat, room) buffer 256"
        );
        $endpoint
    }};
    (@apply $source:ident $endpoint:ident (on_lag $($args:tt)*)) => {{
        $crate::__private::compile_error!(
            "`on_lag` applies to a hub source, whose clients can fall behind: from hub(chat, room) on_lag skip"
        );
        $endpoint
    }};
    (@apply $source:ident $endpoint:ident (max_clients $limit:literal)) => {
        $endpoint.max_clients($crate::__event_stream_expand!(@count max_clients $limit) as usize)
    };
    (@apply $source:ident $endpoint:ident (clients $($clients:tt)+)) => {
        $endpoint.clients($($clients)+)
    };
    (@apply $source:ident $endpoint:ident (shutdown $($shutdown:tt)+)) => {
        $endpoint.shutdown($($shutdown)+)
    };
    (@apply $source:ident $endpoint:ident (keep_alive off)) => {
        $endpoint.keep_alive($crate::__private::None)
    };
    (@apply $source:ident $endpoint:ident (keep_alive $every:tt)) => {
        $endpoint.keep_alive($crate::__private::Some(
            $crate::__event_stream_expand!(@duration keep_alive $every)
        ))
    };
    (@apply $source:ident $endpoint:ident (write_timeout off)) => {
        $endpoint.write_timeout($crate::__private::None)
    };
    (@apply $source:ident $endpoint:ident (write_timeout $limit:tt)) => {
        $endpoint.write_timeout($crate::__private::Some(
            $crate::__event_stream_expand!(@duration write_timeout $limit)
        ))
    };
    (@apply $source:ident $endpoint:ident (retry $delay:tt)) => {
        $endpoint.retry($crate::__event_stream_expand!(@duration retry $delay))
    };
    (@apply $source:ident $endpoint:ident (close_event off)) => {
        $endpoint.close_event($crate::__private::None)
    };
    (@apply $source:ident $endpoint:ident (close_event $name:literal)) => {
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
    // The raw tokens are for `@unused` alone.
    (@apply $source:ident $endpoint:ident (raw $($raw:tt)*)) => { $endpoint };
    // The hooks are set on the source's builder (`@hook`), where the context's type is known.
    (@apply $source:ident $endpoint:ident (on_open $($hook:tt)*)) => { $endpoint };
    (@apply $source:ident $endpoint:ident (on_close $($hook:tt)*)) => { $endpoint };

    // `@hooks builder ctx clauses`: the builder with every hook among `clauses` set.
    (@hooks $builder:ident $ctx:tt) => { $builder };
    (@hooks $builder:ident $ctx:tt $first:tt $($rest:tt)*) => {{
        let $builder = $crate::__event_stream_expand!(@hook $builder $ctx $first);
        $crate::__event_stream_expand!(@hooks $builder $ctx $($rest)*)
    }};

    // `@hook builder ctx (clause ...)`: `on_open` and `on_close`, which see the connection's
    // path parameters and `with` value by name, as the handler does; other clauses pass.
    (@hook $builder:ident $ctx:tt (on_open $body:block)) => {
        $builder.on_open(move |__context| {
            #[allow(unused_variables)]
            let $crate::__event_stream_expand!(@pattern $ctx) = __context;
            $body
        })
    };
    (@hook $builder:ident $ctx:tt (on_close $last:tt $body:block)) => {
        $builder.on_close(move |__context, $last: u64| {
            #[allow(unused_variables)]
            let $crate::__event_stream_expand!(@pattern $ctx) = __context;
            $body
        })
    };
    (@hook $builder:ident $ctx:tt $other:tt) => { $builder };

    // `@unused (route ...) settings`: a route parameter no clause uses is a warning on its name,
    // and `_name` says it is unused on purpose, as with any Rust binding. The parameters are
    // bound in each clause's closure, where unused names must be allowed (the hooks need not use
    // what the handler does), so rustc's own lint cannot see it; instead the declaration's text
    // (the `(raw [...])` setting) is searched for each name at compile time, and an unused one
    // calls a deprecated method named after it. A field or a string of the same name counts as
    // a use: no warning where one might be due, never one where none is.
    (@unused (route $pieces:tt $label:tt [$(($name:ident $ty:ident))+]) (raw [$($raw:tt)*]) $($more:tt)*) => {
        #[allow(dead_code, non_camel_case_types)]
        {
            struct __EventStreamParam<const QUIET: bool>;
            impl __EventStreamParam<false> {
                $(
                    #[deprecated(note = "this route parameter is used by no clause: use it, or prefix its name with `_` to say it is unused")]
                    fn $name(&self) {}
                )+
            }
            impl __EventStreamParam<true> {
                $( fn $name(&self) {} )+
            }
            const __DECLARATION: &str = $crate::__private::stringify!($($raw)*);
            $(
                __EventStreamParam::<{
                    $crate::__private::validate::used_or_underscored(
                        __DECLARATION,
                        $crate::__private::stringify!($name),
                    )
                }>.$name();
            )+
        }
    };
    (@unused (route $pieces:tt $label:tt []) $($more:tt)*) => {};
    (@unused $route:tt $other:tt $($more:tt)*) => {
        $crate::__event_stream_expand!(@unused $route $($more)*);
    };
    (@unused $route:tt) => {};

    // `@count clause literal`: a compile-time count of at least 1, or an error naming `clause`.
    (@count $clause:ident $value:literal) => {{
        const COUNT: u64 = $crate::__private::validate::count(
            $value,
            $crate::__private::concat!(
                "`", $crate::__private::stringify!($clause),
                "` takes a whole number, at least 1; found ",
                $crate::__private::stringify!($value)
            ),
        );
        COUNT
    }};

    // `@duration clause literal`: a compile-time `Duration`, or an error naming `clause`;
    // `@duration clause (expr)`: a `Duration` computed at run time, checked when the endpoint is
    // built.
    (@duration $clause:ident $value:literal) => {{
        const DURATION: $crate::__private::Duration = match $crate::__private::duration($crate::__private::stringify!($value)) {
            $crate::__private::Ok(duration) => duration,
            $crate::__private::Err($crate::__private::DurationError::Zero) => {
                const MESSAGE: &str = $crate::__private::concat!(
                    "`", $crate::__private::stringify!($clause),
                    "` must be longer than zero: a duration such as `250ms` or `1s`; found `",
                    $crate::__private::stringify!($value), "`"
                );
                $crate::__private::panic!("{}", MESSAGE)
            }
            $crate::__private::Err($crate::__private::DurationError::Malformed) => {
                const MESSAGE: &str = $crate::__private::concat!(
                    "`", $crate::__private::stringify!($clause),
                    "` takes a duration such as `250ms`, `1s`, `2min` or `1h`; found `",
                    $crate::__private::stringify!($value), "`"
                );
                $crate::__private::panic!("{}", MESSAGE)
            }
        };
        DURATION
    }};
    (@duration $clause:ident ($($value:tt)+)) => {{
        let __duration: $crate::__private::Duration = $($value)+;
        __duration
    }};
}
