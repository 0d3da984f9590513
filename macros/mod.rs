//! The `event_stream!` grammar. Only the grammar lives here: every expansion calls into `src/`
//! through `$crate::__private`, so users need no dependency besides this crate.
//!
//! Pipeline: [`event_stream!`] (the public entry) → `__event_stream_clauses!` (reads clauses into a
//! normalised list, one error rule per mistake) → `__event_stream_checks!` (each clause at most
//! once, required clauses present) → `__event_stream_expand!` (the builder chain).

mod checks;
mod clauses;
mod event_stream;
mod expand;
