//! A block of a [`Fanout`](super::Fanout)'s ring: [`BLOCK`] frames written in order, once each,
//! by one writer at a time, and read by any number of readers without a lock.
//!
//! A frame's bytes are written into the block's own chunks, which live and die with it: a frame
//! costs no allocation and no reference count of its own. A `Bytes` per frame, cut from a shared
//! chunk, cost an atomic increment at every publish and a decrement when the ring let it go
//! (about a tenth of `Hub::publish`'s time), and 32 bytes of slot where a pointer and a length
//! take 16.
//!
//! A `OnceLock` per slot does the same safely, at the price of a `Once` round per publish (an
//! eighth of `Hub::publish`'s time); here the one count of frames written publishes them all.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::EventId;

/// Frames per block.
pub(super) const BLOCK: usize = 64;
/// The largest chunk of frames' bytes: a block of large frames takes several, and a frame
/// larger than this gets a chunk of its own size.
const CHUNK_MAX: usize = 16 * 1024;
/// Room for this many frames like the first in the first chunk of a topic's first block: a
/// topic that publishes little holds little.
const FIRST_FRAMES: usize = 4;

pub(super) struct Block {
    /// The number of the frame in the first slot.
    pub(super) start: u64,
    /// How many slots are written: exactly the first `written`, each once.
    written: AtomicUsize,
    slots: [UnsafeCell<MaybeUninit<RingFrame>>; BLOCK],
    /// Where the frames' bytes are: the writer's alone (`push`'s contract).
    chunks: UnsafeCell<Chunks>,
}

/// A frame in its slot: its id and its bytes, which live as long as the block.
#[derive(Clone, Copy)]
pub(crate) struct RingFrame {
    id: EventId,
    at: NonNull<u8>,
    len: usize,
}

impl RingFrame {
    /// The frame's id.
    pub(crate) fn id(&self) -> EventId {
        self.id
    }

    /// The whole frame, as subscribers write it.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `at` points at `len` bytes `push` wrote into a chunk of the block this frame is
        // borrowed from, which frees its chunks only when it is dropped, and never writes them
        // again.
        unsafe { std::slice::from_raw_parts(self.at.as_ptr(), self.len) }
    }
}

/// The chunks a block's frames' bytes are cut from.
struct Chunks {
    /// Every chunk, freed with the block. Raw, not boxes: a box moved into this list would
    /// claim its bytes as its own while readers hold slices of them.
    list: Vec<NonNull<[MaybeUninit<u8>]>>,
    /// The unused end of the newest chunk.
    next: *mut MaybeUninit<u8>,
    left: usize,
    /// The bytes of the block's frames so far.
    used: usize,
    /// The size of the block's first chunk (0: size it by the first frame).
    first: usize,
}

// SAFETY: a slot is written once, by the one writer `push`'s contract allows, before `written`
// counts it (release); readers only see slots `written` counts (acquire), which no one writes
// again, and the bytes a slot points at, written before it. The chunks are touched by that one
// writer, and freed by `drop`, which has the block to itself.
unsafe impl Sync for Block {}
// SAFETY: the raw pointers are into the block's own chunks, which go wherever the block goes.
unsafe impl Send for Block {}

impl Block {
    /// An empty block whose first slot is frame `start`; `first_chunk` sizes the chunk of its
    /// first frames (the bytes the block before it held: 0 for a topic's first block).
    pub(super) fn new(start: u64, first_chunk: usize) -> Block {
        Block {
            start,
            written: AtomicUsize::new(0),
            slots: [const { UnsafeCell::new(MaybeUninit::uninit()) }; BLOCK],
            chunks: UnsafeCell::new(Chunks {
                list: Vec::new(),
                next: std::ptr::null_mut(),
                left: 0,
                used: 0,
                first: first_chunk,
            }),
        }
    }

    /// Whether frame `n` has its slot in this block.
    #[inline]
    pub(super) fn holds(&self, n: u64) -> bool {
        (self.start..self.start + BLOCK as u64).contains(&n)
    }

    /// Appends a frame of `len` bytes with `id`, which `write` writes, whole; `false` (nothing
    /// written) when the block is full.
    ///
    /// # Safety
    ///
    /// Pushes to one block must not run concurrently, nor with [`used`](Block::used): the
    /// caller serialises them (the fan-out's senders hold its `filling` lock).
    pub(super) unsafe fn push(
        &self,
        id: EventId,
        len: usize,
        write: impl FnOnce(&mut [MaybeUninit<u8>]),
    ) -> bool {
        let index = self.written.load(Ordering::Relaxed);
        if index == BLOCK {
            return false;
        }
        // SAFETY: only the one writer (the contract) touches the chunks before the drop.
        let chunks = unsafe { &mut *self.chunks.get() };
        let at = chunks.cut(len, index);
        // SAFETY: `cut` handed out `len` bytes no frame was given before and no reader sees.
        write(unsafe { std::slice::from_raw_parts_mut(at.as_ptr(), len) });
        let frame = RingFrame {
            id,
            at: at.cast(),
            len,
        };
        // SAFETY: the slot at `index` is not yet counted, so no reader looks at it, and no other
        // push runs (the contract): this is the only access to it.
        unsafe { (*self.slots[index].get()).write(frame) };
        self.written.store(index + 1, Ordering::Release);
        true
    }

    /// The bytes of the frames pushed so far: what the next block's first chunk is sized by.
    ///
    /// # Safety
    ///
    /// As for [`push`](Block::push): the caller is the block's one writer.
    pub(super) unsafe fn used(&self) -> usize {
        // SAFETY: only the one writer (the contract) touches the chunks.
        unsafe { (*self.chunks.get()).used }
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
    pub(super) unsafe fn first(&self, count: usize) -> &[RingFrame] {
        debug_assert!(count <= self.written.load(Ordering::Relaxed));
        // SAFETY: as in `written`, for the `count` slots the caller knows are written (this
        // function's contract).
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<RingFrame>(), count) }
    }

    /// The frames written so far, in order.
    pub(super) fn written(&self) -> &[RingFrame] {
        let written = self.written.load(Ordering::Acquire);
        // SAFETY: the first `written` slots are initialised (the acquire load sees their writes)
        // and never written again while `self` lives; `UnsafeCell<MaybeUninit<T>>` has `T`'s
        // layout, so they are `written` consecutive `RingFrame`s.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<RingFrame>(), written) }
    }
}

impl Chunks {
    /// `len` bytes for the frame in slot `index`, at the end of the newest chunk or of a new one.
    #[inline]
    fn cut(&mut self, len: usize, index: usize) -> NonNull<MaybeUninit<u8>> {
        if self.left < len || self.next.is_null() {
            self.add_chunk(len, index);
        }
        // SAFETY: `next` is inside (or one past the end of) the newest chunk, with `left >= len`
        // bytes after it, so both it and `next + len` are within that chunk.
        let at = unsafe { NonNull::new_unchecked(self.next) };
        self.next = unsafe { self.next.add(len) };
        self.left -= len;
        self.used += len;
        at
    }

    /// Starts a chunk with room for a frame of `len` bytes in slot `index`, and for the frames
    /// still to come, each the size of the average so far (of the block before, at a block's
    /// start): whole ones only, so that large frames fill their chunk rather than leave most of
    /// a frame's room unused at its end. Out of line: once a block, for frames of a few dozen
    /// bytes.
    #[cold]
    fn add_chunk(&mut self, len: usize, index: usize) {
        let (average, frames) = match (index, self.first) {
            (0, 0) => (len, FIRST_FRAMES),
            // Rounded up: a block of frames like the last block's fits in one chunk.
            (0, first) => (first.div_ceil(BLOCK), BLOCK),
            (done, _) => (self.used.div_ceil(done), BLOCK - done),
        };
        let average = average.max(1);
        let fit = (CHUNK_MAX / average).clamp(1, frames);
        let size = average.saturating_mul(fit).clamp(len, CHUNK_MAX.max(len));
        let chunk = Box::<[u8]>::new_uninit_slice(size);
        let chunk = NonNull::new(Box::into_raw(chunk)).expect("a box is never null");
        self.list.push(chunk);
        self.next = chunk.as_ptr().cast();
        self.left = size;
    }
}

impl Drop for Chunks {
    fn drop(&mut self) {
        for chunk in self.list.drain(..) {
            // SAFETY: made by `Box::into_raw` in `cut`, and freed here only, once no frame of the
            // block is borrowed (the block is being dropped).
            drop(unsafe { Box::from_raw(chunk.as_ptr()) });
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

    /// Pushes frame `n`, `len` bytes of `n as u8`.
    fn push(block: &Block, n: u64, len: usize) -> bool {
        // SAFETY: one thread pushes.
        unsafe {
            block.push(EventId::seq(n), len, |out| {
                out.fill(MaybeUninit::new(n as u8));
            })
        }
    }

    #[test]
    fn frames_are_read_as_written_and_a_full_block_takes_no_more() {
        let block = Block::new(128, 0);
        for n in 128..128 + BLOCK as u64 {
            assert!(push(&block, n, 10));
        }
        assert!(!push(&block, 0, 10));
        let ids: Vec<u64> = block.written().iter().map(|f| f.id().parts().1).collect();
        assert_eq!(ids, (128..128 + BLOCK as u64).collect::<Vec<_>>());
        for frame in block.written() {
            assert_eq!(frame.bytes(), [frame.id().parts().1 as u8; 10]);
        }
        assert!(block.holds(128) && block.holds(191) && !block.holds(192) && !block.holds(127));
    }

    #[test]
    fn chunks_fit_the_frames_and_a_large_frame_gets_its_own() {
        // A topic's first block starts small; one sized by the block before takes its frames in
        // one chunk.
        let first = Block::new(0, 0);
        (0..BLOCK as u64).for_each(|n| assert!(push(&first, n, 40)));
        // SAFETY: this thread is the only writer.
        let used = unsafe { first.used() };
        assert_eq!(used, 40 * BLOCK);
        assert_eq!(unsafe { (*first.chunks.get()).list.len() }, 2);
        let next = Block::new(BLOCK as u64, used);
        (0..BLOCK as u64).for_each(|n| assert!(push(&next, n, 40)));
        assert_eq!(unsafe { (*next.chunks.get()).list.len() }, 1);

        // Large frames: a chunk holds whole frames, not one and most of another's room.
        let large = Block::new(0, 0);
        (0..BLOCK as u64).for_each(|n| assert!(push(&large, n, 10_000)));
        // SAFETY: this thread is the only writer.
        let chunks = unsafe { &(*large.chunks.get()).list };
        assert!(chunks.iter().all(|chunk| chunk.len() == 10_000));
        let next = Block::new(BLOCK as u64, unsafe { large.used() });
        (0..BLOCK as u64).for_each(|n| assert!(push(&next, n, 6_000)));
        let chunks = unsafe { &(*next.chunks.get()).list };
        let room: usize = chunks.iter().map(|chunk| chunk.len()).sum();
        assert!(room < 6_000 * BLOCK + 10_000, "{room} bytes of chunks");

        // Frames of every size keep their bytes, a huge one among them.
        let mixed = Block::new(0, 0);
        let sizes = [0, 1, 3000, 200_000, 7, 16 * 1024, 5];
        for (n, &len) in sizes.iter().enumerate() {
            assert!(push(&mixed, n as u64, len));
        }
        for (frame, &len) in mixed.written().iter().zip(&sizes) {
            assert_eq!(frame.bytes(), vec![frame.id().parts().1 as u8; len]);
        }
    }

    #[test]
    fn frames_are_readable_from_other_threads_while_the_writer_goes_on() {
        let block = std::sync::Arc::new(Block::new(0, 0));
        let reader = {
            let block = block.clone();
            std::thread::spawn(move || loop {
                let written = block.written();
                for frame in written {
                    assert_eq!(frame.bytes(), vec![frame.id().parts().1 as u8; 100]);
                }
                if written.len() == BLOCK {
                    return;
                }
            })
        };
        for n in 0..BLOCK as u64 {
            assert!(push(&block, n, 100));
        }
        reader.join().unwrap();
    }
}
