//! The wakers of many streams, woken together by one signal: a shutdown, a keep-alive tick.
//!
//! Each stream keeps one slot here, a waker, instead of a future of its own parked in the
//! signal's wait list: a future must be pinned, so it costs every idle stream an allocation.

use std::sync::Mutex;
use std::task::Waker;

/// A stream's place in a [`WakerSet`], if it took one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot(u32);

impl Slot {
    /// No place taken yet.
    pub(crate) const NONE: Slot = Slot(u32::MAX);
}

/// Wakers in slots that their streams keep until they let go of them.
#[derive(Debug, Default)]
pub(crate) struct WakerSet {
    slots: Mutex<Slots>,
}

#[derive(Debug, Default)]
struct Slots {
    wakers: Vec<Option<Waker>>,
    /// Slots let go of, taken again before the list grows.
    free: Vec<u32>,
}

impl WakerSet {
    /// Puts `waker` in the stream's `slot`, taking a slot first if it has none.
    pub(crate) fn register(&self, slot: &mut Slot, waker: &Waker) {
        let mut slots = self.lock();
        if *slot == Slot::NONE {
            *slot = match slots.free.pop() {
                Some(free) => Slot(free),
                None => {
                    let taken = u32::try_from(slots.wakers.len())
                        .ok()
                        .filter(|&taken| taken != Slot::NONE.0)
                        .expect("fewer than 2^32 - 1 streams watch one signal");
                    slots.wakers.push(None);
                    Slot(taken)
                }
            };
        }
        // The caller registers again only with another waker (`StreamWatch` keeps the one it
        // gave), so the slot takes the new one as it is.
        slots.wakers[slot.0 as usize] = Some(waker.clone());
    }

    /// Frees the stream's slot, and the waker in it; `true` when that left no slot taken.
    pub(crate) fn release(&self, slot: Slot) -> bool {
        if slot == Slot::NONE {
            return false;
        }
        let mut slots = self.lock();
        slots.wakers[slot.0 as usize] = None;
        slots.free.push(slot.0);
        slots.is_empty()
    }

    /// Runs `then` under the set's lock if no slot is taken, so that no stream registers in
    /// between; whether it ran.
    pub(crate) fn if_empty(&self, then: impl FnOnce()) -> bool {
        let slots = self.lock();
        let empty = slots.is_empty();
        if empty {
            then();
        }
        empty
    }

    /// Wakes every stream that registered, keeping the wakers for the next time: a keep-alive
    /// tick comes again. The copies are not kept between calls: a list as long as the set's,
    /// kept for the next tick, would cost every idle stream as much again as its slot.
    pub(crate) fn wake_each(&self) {
        let woken: Vec<Waker> = self.lock().wakers.iter().flatten().cloned().collect();
        // Outside the lock, as in `wake_all`.
        woken.into_iter().for_each(Waker::wake);
    }

    /// Wakes every stream that registered, once, and lets go of the wakers (and the tasks they
    /// hold): a switch is triggered once, and a woken stream sees it without waiting again.
    pub(crate) fn wake_all(&self) {
        let woken: Vec<Waker> = self
            .lock()
            .wakers
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        // Outside the lock: a wake-up may reach into the scheduler, or run a current-thread
        // runtime's task, which may drop its stream and so free its slot.
        woken.into_iter().for_each(Waker::wake);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slots> {
        // A panic while the lock was held cannot leave the slots half-written (each step is a
        // single push, pop or store), so a poisoned lock is still sound to use.
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Slots {
    fn is_empty(&self) -> bool {
        self.wakers.len() == self.free.len()
    }
}

/// A waker that counts its wake-ups, for the tests of what registers wakers.
#[cfg(test)]
pub(crate) mod counting {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    /// How many times the waker was woken (and, by `Arc::strong_count`, how many hold it).
    pub(crate) struct Counter(AtomicUsize);

    impl Counter {
        pub(crate) fn woken(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    impl Wake for Counter {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    pub(crate) fn counter() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter(AtomicUsize::new(0)));
        (counter.clone(), Waker::from(counter))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::counting::counter;
    use super::*;

    #[test]
    fn wakes_each_registered_stream_once_with_its_latest_waker() {
        let set = WakerSet::default();
        let (first, first_waker) = counter();
        let (replaced, replaced_waker) = counter();
        let (latest, latest_waker) = counter();
        let (mut a, mut b) = (Slot::NONE, Slot::NONE);
        set.register(&mut a, &first_waker);
        set.register(&mut b, &replaced_waker);
        set.register(&mut b, &latest_waker);
        assert_ne!(a, b);
        set.wake_all();
        set.wake_all();
        assert_eq!(first.woken(), 1);
        assert_eq!(replaced.woken(), 0);
        assert_eq!(latest.woken(), 1);
    }

    #[test]
    fn wake_each_keeps_the_wakers_and_release_tells_when_the_last_leaves() {
        let set = WakerSet::default();
        let (a_task, a_waker) = counter();
        let (b_task, b_waker) = counter();
        let (mut a, mut b) = (Slot::NONE, Slot::NONE);
        set.register(&mut a, &a_waker);
        set.register(&mut b, &b_waker);
        set.wake_each();
        set.wake_each();
        assert_eq!((a_task.woken(), b_task.woken()), (2, 2));
        assert_eq!(
            Arc::strong_count(&a_task),
            3,
            "the test's, `a_waker`, the set's"
        );
        assert!(!set.if_empty(|| unreachable!("two slots are taken")));
        assert!(!set.release(a));
        assert!(set.release(b));
        assert!(!set.release(Slot::NONE));
        let mut ran = false;
        assert!(set.if_empty(|| ran = true) && ran);
    }

    #[test]
    fn a_released_slot_is_reused_and_its_waker_dropped() {
        let set = WakerSet::default();
        let (counter, waker) = counter();
        let mut slot = Slot::NONE;
        set.register(&mut slot, &waker);
        assert_eq!(
            Arc::strong_count(&counter),
            3,
            "the test's, the waker's, the set's"
        );
        set.release(slot);
        assert_eq!(Arc::strong_count(&counter), 2);
        let mut again = Slot::NONE;
        set.register(&mut again, &waker);
        assert_eq!(again, slot);
        set.release(Slot::NONE);
        set.wake_all();
        assert_eq!(counter.woken(), 1);
    }
}
