//! The `from <stream>` source: the user's stream, built per connection, each item rendered by the
//! handler with its number as its id; `until` ends it after a count or after the first item a
//! predicate accepts.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::Bytes;
use futures::Stream;

use crate::body::{Abort, Sent, SourceItem};
use crate::frame::EventHeader;
use crate::render::{Render, RenderError, Rendering};

type PendingFrame = Pin<Box<dyn Future<Output = Result<Bytes, RenderError>> + Send>>;

/// `until |item| ...`: the item it accepts is the last one sent.
pub(crate) type UntilItem<T> = Arc<dyn Fn(&T) -> bool + Send + Sync>;

pin_project_lite::pin_project! {
    pub(crate) struct StreamSource<St: Stream, C, R> {
        // The user's stream, pinned in the response body with the rest of the source rather
        // than in a box of its own.
        #[pin]
        stream: St,
        progress: Progress<St::Item, C, R>,
    }
}

/// Everything of a stream source but the stream: how its items are rendered, and how far it got.
struct Progress<T, C, R> {
    ctx: C,
    render: Arc<R>,
    headers: Arc<[EventHeader]>,
    route: &'static str,
    /// The id of the last item sent: items are numbered from 1, or from the client's position
    /// for a resumable stream.
    sent: u64,
    until: Option<u64>,
    until_item: Option<UntilItem<T>>,
    last: bool,
    pending: Option<PendingFrame>,
}

impl<St: Stream, C, R: Render<C, St::Item>> StreamSource<St, C, R> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        stream: St,
        ctx: C,
        render: Arc<R>,
        headers: Arc<[EventHeader]>,
        route: &'static str,
        from: u64,
        until: Option<u64>,
        until_item: Option<UntilItem<St::Item>>,
    ) -> Self {
        StreamSource {
            stream,
            progress: Progress {
                ctx,
                render,
                headers,
                route,
                sent: from,
                until,
                until_item,
                last: false,
                pending: None,
            },
        }
    }
}

impl<T, C, R> Progress<T, C, R> {
    fn rendered(&mut self, result: Result<Bytes, RenderError>) -> Option<SourceItem> {
        match result {
            Ok(frame) => {
                self.sent += 1;
                if self.until == Some(self.sent) {
                    self.last = true;
                }
                Some(Ok(Sent {
                    frame,
                    count: self.sent,
                }))
            }
            Err(RenderError::Panicked) => {
                tracing::error!(
                    route = self.route,
                    "event handler panicked; ending this stream"
                );
                Some(Err(Abort::Panicked))
            }
            Err(err) => {
                tracing::error!(route = self.route, error = %err, "event skipped");
                None
            }
        }
    }
}

impl<St, C, R> Stream for StreamSource<St, C, R>
where
    St: Stream,
    R: Render<C, St::Item>,
{
    type Item = SourceItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SourceItem>> {
        let projected = self.project();
        let mut stream = projected.stream;
        let this = projected.progress;
        loop {
            if let Some(pending) = &mut this.pending {
                let result = ready!(pending.as_mut().poll(cx));
                this.pending = None;
                if let Some(item) = this.rendered(result) {
                    return Poll::Ready(Some(item));
                }
            }
            if this.last {
                return Poll::Ready(None);
            }
            let polled = catch_unwind(AssertUnwindSafe(|| stream.as_mut().poll_next(cx)));
            let item = match polled {
                Ok(Poll::Ready(Some(item))) => item,
                Ok(Poll::Ready(None)) => return Poll::Ready(None),
                Ok(Poll::Pending) => return Poll::Pending,
                Err(_) => {
                    tracing::error!(
                        route = this.route,
                        "source stream panicked; ending this stream"
                    );
                    this.last = true;
                    return Poll::Ready(Some(Err(Abort::Panicked)));
                }
            };
            if let Some(until) = &this.until_item {
                match catch_unwind(AssertUnwindSafe(|| until(&item))) {
                    Ok(true) => this.last = true,
                    Ok(false) => {}
                    Err(_) => {
                        tracing::error!(route = this.route, "`until` panicked; ending this stream");
                        return Poll::Ready(Some(Err(Abort::Panicked)));
                    }
                }
            }
            let id = this.sent + 1;
            match this.render.render(&this.ctx, item, Some(id), &this.headers) {
                Rendering::Ready(result) => {
                    if let Some(item) = this.rendered(result) {
                        return Poll::Ready(Some(item));
                    }
                }
                Rendering::Pending(future) => this.pending = Some(future),
            }
        }
    }
}
