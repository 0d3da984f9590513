//! One connection's response body: a source's frames, with `retry:` first, keep-alive comments
//! while idle, a close event when the stream ends, and `on_close` however it ends.
//!
//! hyper polls this stream directly as the response body, so a connection costs no task of its
//! own: the source and the watch on shutdown and keep-alive ticks are all polled from here.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

use crate::close::CloseGuard;
use crate::frame::{encode_events, EventHeader, Payload, KEEP_ALIVE};
use crate::keep_alive::KeepAlive;
use crate::last_event_id::FINISHED;
use crate::metrics::CloseReason;
use crate::settings::Settings;
use crate::watch::StreamWatch;

/// A frame from a source, and how far the stream has got once it is written.
pub(crate) struct Sent {
    pub(crate) frame: Bytes,
    pub(crate) count: u64,
}

/// Why a source ended its stream without a close event, so the client reconnects: abruptly
/// after a panic, or with an ordinary end of body once a lagging client has its last frames.
#[derive(Debug)]
pub enum Abort {
    /// The handler or the source panicked.
    Panicked,
    /// The client fell behind and the endpoint's policy is `on_lag disconnect`.
    Lagged(u64),
}

impl std::fmt::Display for Abort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Abort::Panicked => f.write_str("the handler or source panicked"),
            Abort::Lagged(missed) => write!(f, "the client fell {missed} events behind"),
        }
    }
}

impl std::error::Error for Abort {}

/// What a connection's source yields.
pub(crate) type SourceItem = Result<Sent, Abort>;

enum State {
    /// The endpoint's `retry:` line goes out first.
    Preamble,
    Streaming,
    /// Shutdown began: the close event goes out, then the body ends.
    Closing,
    Done,
}

pin_project_lite::pin_project! {
    /// One connection's response body: its stream, entered in its `tracing` span at every poll.
    ///
    /// Pinned where hyper keeps it (warp boxes every response body), so that the source, and
    /// its wait for the next event, live inside it rather than in boxes of their own.
    pub(crate) struct EventBody<S> {
        // The stream's span (route, peer, `Last-Event-ID`; the close reason and count when it
        // ends), kept beside the stream so that entering it needs no clone.
        span: tracing::Span,
        #[pin]
        body: Body<S>,
    }

    impl<S> PinnedDrop for EventBody<S> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            let _entered = this.span.enter();
            let mut body = this.body.project();
            // The source goes first, and with it a hub subscription: by the time `on_close`
            // runs, the client has left every count. A panic in a source's own drop must not
            // cost the stream its `on_close` (the field is `None` after it all the same).
            let dropped = catch_unwind(AssertUnwindSafe(|| body.source.set(None)));
            let state = body.state;
            if dropped.is_err() {
                tracing::error!(
                    route = state.settings.route,
                    "dropping the source panicked"
                );
            }
            // Every deliberate ending closes the guard first; reaching here with it open means
            // hyper dropped the body: the client went away, a write timed out or the server is
            // stopping.
            state.guard.dropped(&state.settings, this.span);
            state
                .watch
                .release(&state.settings, state.guard.server_shutdown());
        }
    }
}

impl<S> EventBody<S>
where
    S: Stream<Item = SourceItem> + Send,
{
    pub(crate) fn new(
        source: S,
        settings: Arc<Settings>,
        guard: CloseGuard,
        span: tracing::Span,
    ) -> Self {
        EventBody {
            span,
            body: Body::new(source, settings, guard),
        }
    }
}

pin_project_lite::pin_project! {
    #[project = BodyProjection]
    struct Body<S> {
        // Set to `None` by `EventBody`'s drop, before `on_close` runs.
        #[pin]
        source: Option<S>,
        state: BodyState,
    }
}

/// Everything of a body but its source: where the stream stands and how it ends.
struct BodyState {
    settings: Arc<Settings>,
    /// The keep-alive tick of the last frame handed to hyper.
    last_write: u32,
    /// Wakes the stream when its endpoint's shutdown, or its server's, is triggered, and at
    /// its endpoint's keep-alive ticks.
    watch: StreamWatch,
    state: State,
    guard: CloseGuard,
}

impl<S> Body<S>
where
    S: Stream<Item = SourceItem> + Send,
{
    fn new(source: S, settings: Arc<Settings>, guard: CloseGuard) -> Self {
        Body {
            source: Some(source),
            state: BodyState {
                watch: StreamWatch::new(),
                last_write: settings.keep_alive.as_ref().map_or(0, KeepAlive::now),
                state: match settings.retry_frame {
                    Some(_) => State::Preamble,
                    None => State::Streaming,
                },
                guard,
                settings,
            },
        }
    }
}

impl BodyState {
    /// Notes a write: its keep-alive tick.
    fn written(&mut self) {
        if let Some(keep_alive) = &self.settings.keep_alive {
            self.last_write = keep_alive.now();
        }
    }

    /// Whether the keep-alive comment is due: a period's ticks passed since the last write.
    fn keep_alive_due(&mut self) -> bool {
        self.settings
            .keep_alive
            .as_ref()
            .is_some_and(|keep_alive| keep_alive.due(&mut self.last_write))
    }

    /// The close event (data: the count reached). When the source `finished` and the endpoint
    /// marks its end, the frame's id says so, and without a close event an id-only frame does:
    /// a browser that reconnects anyway sends it back and is told `204`.
    fn close_frame(&self, finished: bool) -> Option<Bytes> {
        let end = (finished && self.settings.marks_its_end).then_some(FINISHED);
        let Some(name) = self.settings.close_event else {
            return end.map(|end| Bytes::from(format!("id: {end}\n\n")));
        };
        let count = self.guard.count().to_string();
        Some(encode_events(
            &[EventHeader::new(name)],
            end,
            Payload::Json(count.as_bytes()),
        ))
    }

    /// The stream's last frame (the close event), counted as written.
    fn written_closing(&self, frame: Option<Bytes>) -> Option<Result<Bytes, Abort>> {
        let frame = frame?;
        self.settings.metrics.written(0, frame.len());
        Some(Ok(frame))
    }

    /// Closes the stream's guard (`on_close` runs, if it has not).
    fn close(&mut self, reason: CloseReason, span: &tracing::Span) {
        self.guard.close(&self.settings, reason, span);
    }

    /// Whether the endpoint's or the server's shutdown was triggered. Also where the stream
    /// enlists this poll's waker for its endpoint's keep-alive ticks (which `keep_alive_due`
    /// then reads) and keeps the ticking task running.
    fn shutting_down(&mut self, cx: &mut Context<'_>) -> bool {
        self.watch
            .triggered(cx, &self.settings, self.guard.server_shutdown())
    }
}

impl<S> Stream for EventBody<S>
where
    S: Stream<Item = SourceItem> + Send,
{
    type Item = Result<Bytes, Abort>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        // What the source and the close log while polled belongs to this stream's span.
        let _entered = this.span.enter();
        let mut body = this.body;
        // Over HTTP/2, tells the stream's driver when a frame waits for hyper to ask past it.
        if let Some(clock) = body.state.guard.stream_clock() {
            clock.asked();
        }
        let polled = body.as_mut().poll(cx, this.span);
        if let (Poll::Ready(Some(Ok(_))), Some(clock)) = (&polled, body.state.guard.stream_clock())
        {
            clock.handed();
        }
        polled
    }
}

impl<S> Body<S>
where
    S: Stream<Item = SourceItem> + Send,
{
    fn poll(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        span: &tracing::Span,
    ) -> Poll<Option<Result<Bytes, Abort>>> {
        let BodyProjection {
            source,
            state: this,
        } = self.project();
        let metrics = &this.settings.metrics;
        if let State::Preamble = this.state {
            this.state = State::Streaming;
            if let Some(preamble) = this.settings.retry_frame.clone() {
                metrics.written(0, preamble.len());
                return Poll::Ready(Some(Ok(preamble)));
            }
        }
        if let State::Streaming = this.state {
            if this.shutting_down(cx) {
                this.state = State::Closing;
            }
        }
        match std::mem::replace(&mut this.state, State::Done) {
            State::Preamble | State::Streaming => this.state = State::Streaming,
            State::Closing => {
                let frame = this.close_frame(false);
                this.close(CloseReason::Shutdown, span);
                return Poll::Ready(this.written_closing(frame));
            }
            State::Done => {
                this.close(CloseReason::Ended, span);
                return Poll::Ready(None);
            }
        }
        if this.guard.socket_stalled() {
            // The client reads slower than the source writes: what it has not taken waits in
            // the source (a hub's ring holds it once for every subscriber), not copied into
            // hyper's buffer, which would take up to 64 KiB of it. The write that gets through
            // polls the body again; the write timeout ends a stall that lasts.
            return Poll::Pending;
        }
        let Some(source) = source.as_pin_mut() else {
            // Only a body being dropped has no source, and it is not polled again.
            return Poll::Ready(None);
        };
        match source.poll_next(cx) {
            Poll::Ready(Some(Ok(sent))) => {
                let events = sent.count.saturating_sub(this.guard.count());
                this.settings.metrics.written(events, sent.frame.len());
                this.guard.sent(sent.count);
                this.written();
                Poll::Ready(Some(Ok(sent.frame)))
            }
            Poll::Ready(Some(Err(abort))) => {
                tracing::warn!(route = this.settings.route, reason = %abort, "stream aborted");
                this.state = State::Done;
                match abort {
                    // Ends the body without a close event, so the browser reconnects; an error
                    // would make hyper drop the frames it has not flushed yet, and with them
                    // the id the client must resume from.
                    Abort::Lagged(_) => {
                        this.close(CloseReason::Lagged, span);
                        Poll::Ready(None)
                    }
                    Abort::Panicked => {
                        this.close(CloseReason::Panic, span);
                        Poll::Ready(Some(Err(abort)))
                    }
                }
            }
            Poll::Ready(None) => {
                this.state = State::Done;
                let frame = this.close_frame(true);
                this.close(CloseReason::Ended, span);
                Poll::Ready(this.written_closing(frame))
            }
            Poll::Pending => {
                if this.keep_alive_due() {
                    this.settings.metrics.keep_alive(KEEP_ALIVE.len());
                    return Poll::Ready(Some(Ok(KEEP_ALIVE)));
                }
                Poll::Pending
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// Makes a body `Sync` for warp's boxed response body, which asks for it although hyper
    /// only ever polls a body through `&mut`.
    pub(crate) struct Exclusive<T> {
        #[pin]
        body: T,
    }
}

impl<T> Exclusive<T> {
    pub(crate) fn new(body: T) -> Self {
        Exclusive { body }
    }
}

// SAFETY: `Exclusive` offers no access to its contents through `&self` (its only method takes
// `Pin<&mut Self>`), so a shared reference to it exposes nothing that could race.
unsafe impl<T: Send> Sync for Exclusive<T> {}

impl<T: Stream> Stream for Exclusive<T> {
    type Item = T::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T::Item>> {
        self.project().body.poll_next(cx)
    }
}
