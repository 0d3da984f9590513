//! `on_open` and `on_close`: the user's hooks, which see the connection's context (path
//! parameters and `with` value) as the handler does.
//!
//! Each hook is bound to a connection's context before its source opens, and runs only if the
//! stream starts (`on_open`) and when it ends, however it ends (`on_close`, from the close
//! guard). A connection that gets an early answer (`204`, `503`) runs neither.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// `on_close`, bound to one connection: called once with the count it reached.
pub(crate) type CloseHook = Box<dyn FnOnce(u64) + Send>;
/// `on_open`, bound to one connection.
type OpenHook = Box<dyn FnOnce() + Send>;

/// Binds a hook `H` to one connection's context `C`.
type Binder<C, H> = Arc<dyn Fn(&C) -> H + Send + Sync>;

/// An endpoint's hooks over connections with context `C`.
pub(crate) struct Hooks<C> {
    on_open: Option<Binder<C, OpenHook>>,
    on_close: Option<Binder<C, CloseHook>>,
}

impl<C> Default for Hooks<C> {
    fn default() -> Self {
        Hooks {
            on_open: None,
            on_close: None,
        }
    }
}

impl<C> Clone for Hooks<C> {
    fn clone(&self) -> Self {
        Hooks {
            on_open: self.on_open.clone(),
            on_close: self.on_close.clone(),
        }
    }
}

impl<C: Clone + Send + 'static> Hooks<C> {
    pub(crate) fn set_on_open(&mut self, on_open: impl Fn(&C) + Send + Sync + 'static) {
        let on_open = Arc::new(on_open);
        self.on_open = Some(Arc::new(move |ctx: &C| {
            let (on_open, ctx) = (on_open.clone(), ctx.clone());
            Box::new(move || on_open(&ctx))
        }));
    }

    pub(crate) fn set_on_close(&mut self, on_close: impl Fn(&C, u64) + Send + Sync + 'static) {
        let on_close = Arc::new(on_close);
        self.on_close = Some(Arc::new(move |ctx: &C| {
            let (on_close, ctx) = (on_close.clone(), ctx.clone());
            Box::new(move |sent| on_close(&ctx, sent))
        }));
    }
}

impl<C> Hooks<C> {
    /// The hooks bound to one connection's context, before its source takes the context.
    pub(crate) fn bind(&self, ctx: &C) -> Bound {
        Bound {
            on_open: self.on_open.as_ref().map(|bind| bind(ctx)),
            on_close: self.on_close.as_ref().map(|bind| bind(ctx)),
        }
    }
}

/// One connection's hooks.
pub(crate) struct Bound {
    on_open: Option<OpenHook>,
    pub(crate) on_close: Option<CloseHook>,
}

impl Bound {
    /// Runs `on_open`; `Err` if it panicked (the stream is then not started).
    pub(crate) fn open(&mut self) -> Result<(), ()> {
        match self.on_open.take() {
            Some(on_open) => catch_unwind(AssertUnwindSafe(on_open)).map_err(|_| ()),
            None => Ok(()),
        }
    }
}
