//! Matching a request path against a `route` literal such as `"/event/counting"`.

use std::sync::Arc;

use warp::path::Tail;
use warp::{Filter, Rejection};

/// Matches the remaining path exactly against `route`'s segments (a trailing `/` is tolerated,
/// as warp's own `path!` does), and rejects with 404 otherwise so `.or()` tries the next route.
pub(crate) fn route(route: &'static str) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    let segments: Arc<[&'static str]> = route.split('/').filter(|s| !s.is_empty()).collect();
    warp::path::tail()
        .and_then(move |tail: Tail| {
            let matches = segments_of(tail.as_str()).eq(segments.iter().copied());
            async move {
                if matches {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            }
        })
        .untuple_one()
}

fn segments_of(path: &str) -> impl Iterator<Item = &str> {
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segments = path.split('/');
    if path.is_empty() {
        // "" has no segments, but `split` would yield one empty one.
        segments.next();
    }
    segments
}
