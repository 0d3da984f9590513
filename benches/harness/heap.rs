//! The server processes' heap, counted: a global allocator over the system one that, once
//! [`count`] is called, keeps how many blocks of each size are live. The idle scenarios ask for
//! it before and after their connections open (`heap` on the server's stdin), and the difference
//! per connection says where each connection's bytes go, block by block.
//!
//! Until `count` is called (the load generator, a server outside the idle scenarios), it costs
//! one relaxed load per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Sizes are counted exactly, in steps of this many bytes, up to `LARGEST`; larger blocks share
/// one count.
const STEP: usize = 8;
const LARGEST: usize = 64 * 1024;
const CLASSES: usize = LARGEST / STEP + 1;

struct Counting;

static ON: AtomicBool = AtomicBool::new(false);
/// Live blocks per size class (`size.div_ceil(STEP)`); the last class is every larger block.
static LIVE: [AtomicIsize; CLASSES] = [const { AtomicIsize::new(0) }; CLASSES];
/// Live bytes, as asked for (not as the system allocator rounds them).
static BYTES: AtomicIsize = AtomicIsize::new(0);
/// Blocks allocated (and reallocated) in all, freed since or not: the churn behind the live
/// count, which leaves the allocator holes that count in the process's RSS.
static MADE: AtomicIsize = AtomicIsize::new(0);

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn class(size: usize) -> usize {
    size.div_ceil(STEP).min(CLASSES - 1)
}

fn note(size: usize, blocks: isize) {
    if ON.load(Ordering::Relaxed) {
        LIVE[class(size)].fetch_add(blocks, Ordering::Relaxed);
        BYTES.fetch_add(blocks * size as isize, Ordering::Relaxed);
        if blocks > 0 {
            MADE.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// SAFETY: every call goes to the system allocator unchanged; the counts are only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 1);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size(), 1);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(layout.size(), -1);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout.size(), -1);
        note(new_size, 1);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Starts counting: blocks allocated before are not seen (and a block freed after that was
/// allocated before makes a count negative, which a difference of two snapshots cancels out).
pub fn count() {
    ON.store(true, Ordering::SeqCst);
}

/// The live blocks as one line: `bytes=<live bytes> made=<blocks allocated> <size>:<blocks> ...`,
/// sizes rounded up to `STEP` (`65537` for every block over `LARGEST`), non-zero classes only.
pub fn snapshot() -> String {
    let mut line = format!(
        "bytes={} made={}",
        BYTES.load(Ordering::Relaxed),
        MADE.load(Ordering::Relaxed)
    );
    for (class, live) in LIVE.iter().enumerate() {
        let blocks = live.load(Ordering::Relaxed);
        if blocks != 0 {
            let size = if class == CLASSES - 1 {
                LARGEST + 1
            } else {
                class * STEP
            };
            line.push_str(&format!(" {size}:{blocks}"));
        }
    }
    line
}

/// What the connections opened between two `snapshot` lines cost each, of `n`.
pub struct PerConnection {
    /// Live bytes.
    pub bytes: f64,
    /// Blocks allocated, live or freed since.
    pub made: f64,
    /// The size classes that grew by at least a tenth of a block per connection, largest share
    /// first, as `(size, blocks per connection)`.
    pub blocks: Vec<(usize, f64)>,
}

/// What `after` holds beyond `before` (two `snapshot` lines), per connection of `n`.
pub fn per_connection(before: &str, after: &str, n: usize) -> PerConnection {
    let parse = |line: &str| {
        let (mut bytes, mut made) = (0, 0);
        let mut classes = std::collections::BTreeMap::new();
        for word in line.split_whitespace() {
            if let Some(total) = word.strip_prefix("bytes=") {
                bytes = total.parse::<i64>().unwrap_or(0);
            } else if let Some(total) = word.strip_prefix("made=") {
                made = total.parse::<i64>().unwrap_or(0);
            } else if let Some((size, blocks)) = word.split_once(':') {
                if let (Ok(size), Ok(blocks)) = (size.parse::<usize>(), blocks.parse::<i64>()) {
                    classes.insert(size, blocks);
                }
            }
        }
        (bytes, made, classes)
    };
    let ((bytes_before, made_before, before), (bytes_after, made_after, after)) =
        (parse(before), parse(after));
    let mut blocks: Vec<(usize, f64)> = after
        .iter()
        .map(|(&size, &live)| {
            let grew = live - before.get(&size).copied().unwrap_or(0);
            (size, grew as f64 / n as f64)
        })
        .filter(|&(_, blocks)| blocks >= 0.1)
        .collect();
    blocks.sort_by(|a, b| (b.0 as f64 * b.1).total_cmp(&(a.0 as f64 * a.1)));
    PerConnection {
        bytes: (bytes_after - bytes_before) as f64 / n as f64,
        made: (made_after - made_before) as f64 / n as f64,
        blocks,
    }
}
