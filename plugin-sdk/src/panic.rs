//! Keeps panics inside the plugin: every entry point runs under `catch_unwind`.
//!
//! A panic that unwinds into an `extern "C"` function aborts the whole host process, so each
//! entry point turns a panic into an [`ErrorKind::PANICKED`](plugrack_api::ErrorKind::PANICKED)
//! error that names the panic's message and where it happened.
//!
//! The hook and the location it records belong to `plugrack-extension`, so that panics in
//! the methods of host-defined extension points are reported exactly like panics here.

use std::{
    any::Any,
    cell::Cell,
    panic::{self, AssertUnwindSafe},
};

use plugrack_api::{abi_stable::std_types::RResult, PluginError};
use plugrack_extension::__private as shared;

thread_local! {
    /// How many lifecycle entry points this thread is inside: a panic there comes back to the
    /// host as an error that the host reports itself; the hook then records it at debug level.
    static IN_LIFECYCLE: Cell<u32> = const { Cell::new(0) };
}

/// Installs a panic hook that remembers where a panic happened, so the error can say so,
/// and that logs it instead of printing to the host's stderr: at debug level inside a
/// lifecycle entry point (see [`guard_lifecycle`]), at error level elsewhere. Only for the
/// plugin's own copy of std: called from the shared library's `on_load`, never in a test
/// process.
pub(crate) fn install_hook() {
    shared::install_panic_hook(|text| {
        let level = if IN_LIFECYCLE.get() > 0 {
            log::Level::Debug
        } else {
            log::Level::Error
        };
        log::log!(level, "{text}");
    });
}

/// Runs `f`, turning a panic into a [`ErrorKind::PANICKED`](plugrack_api::ErrorKind::PANICKED)
/// error naming `entry_point`.
///
/// Inlined into every entry point: `catch_unwind` costs nothing until a panic unwinds (it is
/// a landing pad, not a check), and the panic's report is built out of line.
#[inline]
pub(crate) fn guard<T>(
    entry_point: &str,
    f: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginError> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.into(),
        Err(payload) => RResult::RErr(panicked(entry_point, payload)),
    }
}

#[cold]
#[inline(never)]
fn panicked(entry_point: &str, payload: Box<dyn Any + Send>) -> PluginError {
    shared::panicked(&format!("`{entry_point}`"), payload)
}

/// [`guard`] for `on_load`, `on_unload` and `new_instance`, whose errors the host reports
/// itself (a refused load, a warning once per plugin): the panic hook records their panics
/// at debug level only, so an unload that panics does not print an error on every run of a
/// host. Instance calls keep the plain [`guard`]: they are the hot path, and marking them
/// would cost a thread-local access (a `__tls_get_addr` call in a shared library) per call.
pub(crate) fn guard_lifecycle<T>(
    entry_point: &str,
    f: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginError> {
    IN_LIFECYCLE.set(IN_LIFECYCLE.get() + 1);
    let result = guard(entry_point, f);
    IN_LIFECYCLE.set(IN_LIFECYCLE.get() - 1);
    result
}
