//! A block of a [`Fanout`](super::Fanout)'s ring: [`BLOCK`] frames written in order, once each,
//! by one writer at a time, and read by any number of readers without a lock.
//!
//! A `OnceLock` per slot does the same safely, at the price of a `Once` round per publish (an
//! eighth of `Hub::publish`'s time); here the one count of frames written publishes them all.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::transport::HubFrame;

/// Frames per block.
pub(super) const BLOCK: usize = 64;

pub(super) struct Block {
    /// The number of the frame in the first slot.
    pub(super) start: u64,
    /// How many slots are written: exactly the first `written`, each once.
    written: AtomicUsize,
    slots: [UnsafeCell<MaybeUninit<HubFrame>>; BLOCK],
}

// SAFETY: a slot is written once, by the one writer `push`'s contract allows, before `written`
// counts it (release); readers only see slots `written` counts (acquire), which no one writes
// again. `HubFrame` is `Send + Sync`.
unsafe impl Sync for Block {}

impl Block {
    /// An empty block whose first slot is frame `start`.
    pub(super) fn new(start: u64) -> Block {
        Block {
            start,
            written: AtomicUsize::new(0),
            slots: [const { UnsafeCell::new(MaybeUninit::uninit()) }; BLOCK],
        }
    }

    /// Whether frame `n` has its slot in this block.
    pub(super) fn holds(&self, n: u64) -> bool {
        (self.start..self.start + BLOCK as u64).contains(&n)
    }

    /// Appends `frame`; `false` (the frame dropped) when the block is full.
    ///
    /// # Safety
    ///
    /// Pushes to one block must not run concurrently: the caller serialises them (the fan-out's
    /// senders hold its `filling` lock).
    pub(super) unsafe fn push(&self, frame: HubFrame) -> bool {
        let index = self.written.load(Ordering::Relaxed);
        if index == BLOCK {
            return false;
        }
        // SAFETY: the slot at `index` is not yet counted, so no reader looks at it, and no other
        // push runs (the contract): this is the only access to it.
        unsafe { (*self.slots[index].get()).write(frame) };
        self.written.store(index + 1, Ordering::Release);
        true
    }

    /// The first `count` frames, read without looking at the block's own count of what is
    /// written: that count is the sender's, and a reader loading it would pull its cache line
    /// away from the sender at every send.
    ///
    /// # Safety
    ///
    /// The first `count` slots must be written, and the caller must have seen it through an
    /// acquire load of a count its sender stored (release) after writing them: the fan-out's
    /// `end`, which counts a frame only after `push` returned.
    pub(super) unsafe fn first(&self, count: usize) -> &[HubFrame] {
        debug_assert!(count <= self.written.load(Ordering::Relaxed));
        // SAFETY: as in `written`, for the `count` slots the caller knows are written (this
        // function's contract).
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<HubFrame>(), count) }
    }

    /// The frames written so far, in order.
    pub(super) fn written(&self) -> &[HubFrame] {
        let written = self.written.load(Ordering::Acquire);
        // SAFETY: the first `written` slots are initialised (the acquire load sees their writes)
        // and never written again while `self` lives; `UnsafeCell<MaybeUninit<T>>` has `T`'s
        // layout, so they are `written` consecutive `HubFrame`s.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<HubFrame>(), written) }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        let written = *self.written.get_mut();
        for slot in &mut self.slots[..written] {
            // SAFETY: the first `written` slots are initialised, and dropped here only.
            unsafe { slot.get_mut().assume_init_drop() };
        }
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Block")
            .field("start", &self.start)
            .field("written", &self.written().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EventId;

    fn frame(n: u64) -> HubFrame {
        HubFrame {
            id: EventId::seq(n),
            bytes: bytes::Bytes::from(format!("id: {n}\n\n")),
        }
    }

    #[test]
    fn frames_are_read_as_written_and_a_full_block_takes_no_more() {
        let block = Block::new(128);
        for n in 128..128 + BLOCK as u64 {
            // SAFETY: one thread pushes.
            assert!(unsafe { block.push(frame(n)) });
        }
        // SAFETY: as above.
        assert!(!unsafe { block.push(frame(0)) });
        let ids: Vec<u64> = block.written().iter().map(|f| f.id.parts().1).collect();
        assert_eq!(ids, (128..128 + BLOCK as u64).collect::<Vec<_>>());
        assert!(block.holds(128) && block.holds(191) && !block.holds(192) && !block.holds(127));
    }

    #[test]
    fn a_dropped_block_drops_the_frames_written_and_only_those() {
        let shared = bytes::Bytes::from(vec![b'x'; 64]);
        let block = Block::new(0);
        for n in 0..3 {
            // SAFETY: one thread pushes.
            unsafe {
                block.push(HubFrame {
                    id: EventId::seq(n),
                    bytes: shared.clone(),
                })
            };
        }
        drop(block);
        // Every clone was dropped with the block: the buffer is unique again.
        assert!(shared.is_unique());
    }
}
