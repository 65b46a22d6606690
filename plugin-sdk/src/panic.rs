//! Keeps panics inside the plugin: every entry point runs under `catch_unwind`.
//!
//! A panic that unwinds into an `extern "C"` function aborts the whole host process, so each
//! entry point turns a panic into an [`ErrorKind::PANICKED`] error that names the panic's
//! message and where it happened.

use std::{
    any::Any,
    cell::{Cell, RefCell},
    panic::{self, AssertUnwindSafe},
    sync::Once,
};

use plugrack_api::{abi_stable::std_types::RResult, ErrorKind, PluginError};

thread_local! {
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
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
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            let level = if IN_LIFECYCLE.get() > 0 {
                log::Level::Debug
            } else {
                log::Level::Error
            };
            log::log!(
                level,
                "panic at {}: {}",
                location.as_deref().unwrap_or("unknown location"),
                payload_message(info.payload())
            );
            LAST_LOCATION.with(|cell| *cell.borrow_mut() = location);
        }));
    });
}

fn payload_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Runs `f`, turning a panic into a [`ErrorKind::PANICKED`] error naming `entry_point`.
pub(crate) fn guard<T>(
    entry_point: &str,
    f: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginError> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result.into(),
        Err(payload) => {
            let message = payload_message(payload.as_ref());
            let location = LAST_LOCATION.with(|cell| cell.borrow_mut().take());
            let text = match location {
                Some(at) => format!("plugin panicked in `{entry_point}` at {at}: {message}"),
                None => format!("plugin panicked in `{entry_point}`: {message}"),
            };
            RResult::RErr(PluginError::new(ErrorKind::PANICKED, text))
        }
    }
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
