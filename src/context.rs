//! A connection's context: the route's parameters and the `with` filter's value, extracted
//! together as one value that the handler, the source and the topic bind by name.

use warp::{Filter, Rejection};

/// The connection's context when the endpoint has a `with name = <filter>` clause:
/// `(path parameters, the filter's value)`.
pub fn with_value<F, P, W>(
    filter: F,
) -> impl Filter<Extract = ((P, W),), Error = Rejection> + Clone + Send + Sync + 'static
where
    F: Filter<Extract = (P, W), Error = Rejection> + Clone + Send + Sync + 'static,
    P: Send + 'static,
    W: Send + 'static,
{
    filter.map(|params: P, value: W| (params, value))
}

/// The connection's context without a `with` value: `(path parameters, ())`.
pub fn without<F, P>(
    filter: F,
) -> impl Filter<Extract = ((P, ()),), Error = Rejection> + Clone + Send + Sync + 'static
where
    F: Filter<Extract = (P,), Error = Rejection> + Clone + Send + Sync + 'static,
    P: Send + 'static,
{
    filter.map(|params: P| (params, ()))
}

/// What an expansion with a failed check stands for: the compile error is the message; this
/// keeps the rest of the expansion from adding type errors to it.
pub fn placeholder(
) -> impl Filter<Extract = (warp::reply::Response,), Error = Rejection> + Clone + Send + Sync + 'static
{
    warp::any()
        .and_then(|| std::future::ready(Err::<warp::reply::Response, _>(warp::reject::not_found())))
}
