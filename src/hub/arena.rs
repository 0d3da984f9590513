//! [`FrameArena`]: the buffers a topic's frames are cut from, so that publishing an event costs
//! no allocation of its own.
//!
//! Each frame is written at the end of the topic's current chunk and split off it: the frame
//! shares the chunk, which is freed once its last frame is. A topic's frames live about as long
//! as each other (its ring drops them oldest first), so a chunk is not held by one old frame
//! among many freed ones; chunks are per topic for that reason, not per thread. Each chunk is
//! twice the size of the one before, from one frame up to [`FRAMES_PER_CHUNK`] frames: a topic
//! that publishes little holds little, one that publishes much allocates rarely.

use bytes::{Bytes, BytesMut};

/// The most frames of the current size a chunk is made for.
const FRAMES_PER_CHUNK: usize = 64;
/// The largest chunk: the unused end of a topic's last chunk is at most this. A frame larger
/// than it gets a chunk of its own size.
const CHUNK_MAX: usize = 16 * 1024;

/// The chunk a topic's frames are cut from.
#[derive(Debug, Default)]
pub(crate) struct FrameArena {
    /// The unused end of the current chunk (empty before the first frame).
    spare: BytesMut,
    /// The size the next chunk asks for (0: one frame's).
    next: usize,
}

impl FrameArena {
    /// A frame of exactly `len` bytes, written by `write` at the end of the current chunk (or of a
    /// new one, if `len` does not fit what is left).
    pub(crate) fn frame(&mut self, len: usize, write: impl FnOnce(&mut BytesMut)) -> Bytes {
        if self.spare.capacity() < len {
            let most = len.saturating_mul(FRAMES_PER_CHUNK).min(CHUNK_MAX).max(len);
            let size = self.next.clamp(len, most);
            self.next = size.saturating_mul(2);
            self.spare = BytesMut::with_capacity(size);
        }
        write(&mut self.spare);
        debug_assert_eq!(self.spare.len(), len, "`write` writes exactly `len` bytes");
        self.spare.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many frames each chunk held, in order: consecutive frames of one chunk are adjacent.
    fn chunk_lengths(frames: &[Bytes]) -> Vec<usize> {
        let mut lengths = vec![1];
        for pair in frames.windows(2) {
            if pair[0].as_ptr().wrapping_add(pair[0].len()) == pair[1].as_ptr() {
                *lengths.last_mut().expect("one at least") += 1;
            } else {
                lengths.push(1);
            }
        }
        lengths
    }

    #[test]
    fn chunks_double_from_one_frame_to_their_bound_and_frames_keep_their_bytes() {
        let mut arena = FrameArena::default();
        let frames: Vec<Bytes> = (0..200u8)
            .map(|n| arena.frame(20, |out| out.extend_from_slice(&[n; 20])))
            .collect();
        for (n, frame) in frames.iter().enumerate() {
            assert_eq!(&frame[..], &[n as u8; 20][..]);
        }
        assert_eq!(chunk_lengths(&frames), [1, 2, 4, 8, 16, 32, 64, 64, 9]);

        // Large frames: chunks of at most `CHUNK_MAX`, and one of its own for a larger frame.
        let mut arena = FrameArena::default();
        let frames: Vec<Bytes> = (0..40)
            .map(|_| arena.frame(1000, |out| out.extend_from_slice(&[1; 1000])))
            .collect();
        assert!(chunk_lengths(&frames)
            .iter()
            .all(|&n| n <= CHUNK_MAX / 1000));
        let large = arena.frame(200_000, |out| out.extend_from_slice(&vec![7; 200_000]));
        assert_eq!(large.len(), 200_000);
    }
}
