//! [`FrameArena`]: the buffers a topic's frames are cut from, so that publishing an event costs
//! no allocation of its own.
//!
//! Each frame is written at the end of the topic's current chunk and split off it: the frame
//! shares the chunk, which is freed once its last frame is. A topic's frames live about as long
//! as each other (the ring drops them oldest first), so a chunk is not held by one old frame
//! among many freed ones; chunks are per topic for that reason, not per thread.

use bytes::{Bytes, BytesMut};

/// The frames a chunk is sized for: an allocation per this many frames of the last one's size.
const FRAMES_PER_CHUNK: usize = 64;
/// Bounds on a chunk's size: a topic with few, small events holds little; a frame larger than
/// the largest chunk gets a chunk of its own size.
const CHUNK_MIN: usize = 1024;
const CHUNK_MAX: usize = 64 * 1024;

/// The chunk a topic's frames are cut from.
#[derive(Debug, Default)]
pub(crate) struct FrameArena {
    /// The unused end of the current chunk (empty before the first frame).
    spare: BytesMut,
}

impl FrameArena {
    /// A frame of exactly `len` bytes, written by `write` at the end of the current chunk (or of a
    /// new one, if `len` does not fit what is left).
    pub(crate) fn frame(&mut self, len: usize, write: impl FnOnce(&mut BytesMut)) -> Bytes {
        if self.spare.capacity() < len {
            let size = len
                .saturating_mul(FRAMES_PER_CHUNK)
                .clamp(CHUNK_MIN, CHUNK_MAX);
            self.spare = BytesMut::with_capacity(size.max(len));
        }
        write(&mut self.spare);
        debug_assert_eq!(self.spare.len(), len, "`write` writes exactly `len` bytes");
        self.spare.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_share_a_chunk_until_it_is_full_and_keep_their_bytes() {
        let mut arena = FrameArena::default();
        let frames: Vec<Bytes> = (0..100u8)
            .map(|n| arena.frame(20, |out| out.extend_from_slice(&[n; 20])))
            .collect();
        for (n, frame) in frames.iter().enumerate() {
            assert_eq!(&frame[..], &[n as u8; 20][..]);
        }
        // 20-byte frames: chunks of 1,280 bytes hold 64 each.
        let in_first = frames
            .windows(2)
            .take_while(|pair| pair[0].as_ptr().wrapping_add(20) == pair[1].as_ptr())
            .count();
        assert_eq!(in_first + 1, 64);
        let large = arena.frame(200_000, |out| out.extend_from_slice(&vec![7; 200_000]));
        assert_eq!(large.len(), 200_000);
    }
}
