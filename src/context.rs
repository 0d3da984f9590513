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

/// What `with <filter>` (a filter with no name) takes: one that extracts nothing, only
/// accepting or rejecting the request. A filter that extracts a value must be named, or the
/// value would be lost.
#[diagnostic::on_unimplemented(
    message = "`with <filter>` takes a filter that extracts nothing, and this one extracts `{Self}`",
    label = "this filter extracts a value",
    note = "name the value to use it in the handler, the `from` expression and the hooks: with user = warp::header::<String>(\"x-user\")"
)]
pub trait ExtractsNothing {
    /// `route`, then `filter`, as the connection's context `(path parameters, ())`.
    fn after_route<R, F, P>(
        route: R,
        filter: F,
    ) -> impl Filter<Extract = ((P, ()),), Error = Rejection> + Clone + Send + Sync + 'static
    where
        R: Filter<Extract = (P,), Error = Rejection> + Clone + Send + Sync + 'static,
        F: Filter<Extract = Self, Error = Rejection> + Clone + Send + Sync + 'static,
        P: Send + 'static;
}

impl ExtractsNothing for () {
    fn after_route<R, F, P>(
        route: R,
        filter: F,
    ) -> impl Filter<Extract = ((P, ()),), Error = Rejection> + Clone + Send + Sync + 'static
    where
        R: Filter<Extract = (P,), Error = Rejection> + Clone + Send + Sync + 'static,
        F: Filter<Extract = (), Error = Rejection> + Clone + Send + Sync + 'static,
        P: Send + 'static,
    {
        without(route.and(filter))
    }
}

/// The connection's context with a `with <filter>` that only checks the request.
pub fn with_check<R, F, P>(
    route: R,
    filter: F,
) -> impl Filter<Extract = ((P, ()),), Error = Rejection> + Clone + Send + Sync + 'static
where
    R: Filter<Extract = (P,), Error = Rejection> + Clone + Send + Sync + 'static,
    F: Filter<Error = Rejection> + Clone + Send + Sync + 'static,
    F::Extract: ExtractsNothing,
    P: Send + 'static,
{
    <F::Extract as ExtractsNothing>::after_route(route, filter)
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
