//! What wakes a stream besides its source: its endpoint's shutdown switch and keep-alive ticks,
//! through one slot in the endpoint's set of stream wakers, and its server's switch under
//! [`serve`](crate::serve()), through a slot in that switch's set.

use std::task::{Context, Waker};

use crate::settings::Settings;
use crate::shutdown::Shutdown;
use crate::wakers::Slot;

/// A stream's slots: its waker in its endpoint's set, and in its server's switch.
///
/// The owner lets go of the slots with [`release`](StreamWatch::release) when the stream is
/// dropped; a slot left behind would keep the stream's task alive through its waker.
pub(crate) struct StreamWatch {
    /// The waker the slots hold, to tell when a poll comes with another.
    waker: Option<Waker>,
    endpoint: Slot,
    server: Slot,
}

impl StreamWatch {
    pub(crate) fn new() -> Self {
        StreamWatch {
            waker: None,
            endpoint: Slot::NONE,
            server: Slot::NONE,
        }
    }

    /// Whether the endpoint's switch or the server's was triggered; if not, this poll's task is
    /// woken when one is, and at the endpoint's keep-alive ticks.
    pub(crate) fn triggered(
        &mut self,
        cx: &Context<'_>,
        settings: &Settings,
        server: Option<&Shutdown>,
    ) -> bool {
        if !self
            .waker
            .as_ref()
            .is_some_and(|waker| waker.will_wake(cx.waker()))
        {
            settings.streams.register(&mut self.endpoint, cx.waker());
            if let Some(server) = server {
                server.streams().register(&mut self.server, cx.waker());
            }
            self.waker = Some(cx.waker().clone());
        }
        if let Some(keep_alive) = &settings.keep_alive {
            keep_alive.keep_ticking();
        }
        settings.shutdown.is_triggered() || server.is_some_and(Shutdown::is_triggered)
    }

    /// Frees the stream's slots: `settings` and `server` are what it was polled with.
    pub(crate) fn release(&mut self, settings: &Settings, server: Option<&Shutdown>) {
        let endpoint = std::mem::replace(&mut self.endpoint, Slot::NONE);
        if settings.streams.release(endpoint) {
            if let Some(keep_alive) = &settings.keep_alive {
                keep_alive.last_left();
            }
        }
        if let Some(server) = server {
            server
                .streams()
                .release(std::mem::replace(&mut self.server, Slot::NONE));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::wakers::counting::counter;

    /// A stream's watch registers once per waker, is woken by either switch, and lets go of the
    /// waker (which holds its task) when released.
    #[test]
    fn a_watch_is_woken_by_either_switch_and_lets_go_when_released() {
        let (task, waker) = counter();
        let cx = Context::from_waker(&waker);
        let server = Shutdown::new();
        let mut settings = Settings::new("/test");
        settings.shutdown = Shutdown::new();
        settings.keep_alive = None;
        settings.shutdown.watch(&settings.streams);

        let mut watch = StreamWatch::new();
        assert!(!watch.triggered(&cx, &settings, Some(&server)));
        assert!(!watch.triggered(&cx, &settings, Some(&server)));
        assert_eq!(
            Arc::strong_count(&task),
            5,
            "the test's, `waker`, the watch's, two slots"
        );
        watch.release(&settings, Some(&server));
        assert_eq!(Arc::strong_count(&task), 3, "the slots let go");
        drop(watch);

        let mut watch = StreamWatch::new();
        assert!(!watch.triggered(&cx, &settings, Some(&server)));
        server.trigger();
        assert_eq!(task.woken(), 1);
        assert!(watch.triggered(&cx, &settings, Some(&server)));
        settings.shutdown.trigger();
        assert_eq!(task.woken(), 2, "the endpoint's switch wakes its streams");
        watch.release(&settings, Some(&server));
        drop(watch);
        assert_eq!(Arc::strong_count(&task), 2);
    }
}
