//! The typed handle the host calls an extension through.
//!
//! A handle is two `Arc`s: the plugin's object (a `#[sabi_trait]` object, so a call is a load
//! of its vtable and an indirect call into the plugin) and the plugin build that made it.
//! Holding the build keeps it loaded: after a reload, handles taken earlier finish their calls
//! on the old build, which is unloaded once they are all dropped (as for instances).
//! Nothing is counted on the way in: a successful call touches no shared memory, so calls
//! from many threads do not contend; failures (errors and contained panics) are counted in
//! the plugin's metrics and panics are logged.

use std::{fmt, sync::atomic::Ordering, sync::Arc};

use plugrack_api::{ErrorKind, PluginError};
use plugrack_extension::{ExtensionHandle, ExtensionPoint};

use crate::{call::CallError, metrics::Metrics};

/// What a handle needs from the plugin build that made it, and keeps alive.
pub(crate) trait ExtensionOwner: Send + Sync {
    /// The plugin's id.
    fn plugin_id(&self) -> &str;
    /// The plugin's metrics.
    fn metrics(&self) -> &Metrics;
}

/// A typed handle to one plugin's implementation of the extension point `E`, from
/// `PluginManager::extensions` or `PluginManager::extension`. Cheap to clone; callable from
/// many threads at once. The calls are the methods of the interface's `…Calls` trait (for
/// `trait Formatter`: `FormatterCalls`), each returning `Result<T, CallError>`.
pub struct Extension<E: ExtensionPoint> {
    object: Arc<E::Object>,
    version: &'static str,
    owner: Arc<dyn ExtensionOwner>,
}

impl<E: ExtensionPoint> Clone for Extension<E> {
    fn clone(&self) -> Self {
        Self {
            object: Arc::clone(&self.object),
            version: self.version,
            owner: Arc::clone(&self.owner),
        }
    }
}

impl<E: ExtensionPoint> fmt::Debug for Extension<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("id", &E::ID)
            .field("plugin", &self.owner.plugin_id())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl<E: ExtensionPoint> Extension<E> {
    pub(crate) fn new(
        object: Arc<E::Object>,
        version: &'static str,
        owner: Arc<dyn ExtensionOwner>,
    ) -> Self {
        Self {
            object,
            version,
            owner,
        }
    }

    /// The id of the plugin that implements it.
    pub fn plugin_id(&self) -> &str {
        self.owner.plugin_id()
    }

    /// The version of the extension point the plugin implements (at most the host's; methods
    /// added after it answer with their defaults).
    pub fn version(&self) -> &str {
        self.version
    }
}

impl<E: ExtensionPoint> ExtensionHandle<E> for Extension<E> {
    type Error = CallError;

    #[inline(always)]
    fn object(&self) -> &E::Object {
        &self.object
    }

    #[cold]
    #[inline(never)]
    fn failed(&self, method: &'static str, error: PluginError) -> CallError {
        let metrics = self.owner.metrics();
        metrics.errors.fetch_add(1, Ordering::Relaxed);
        if error.kind == ErrorKind::PANICKED {
            metrics.panics.fetch_add(1, Ordering::Relaxed);
            log::error!(
                target: "plugrack_host",
                "plugin `{}` panicked in `{method}` of extension `{}`: {}",
                self.owner.plugin_id(),
                E::ID,
                error.message
            );
        }
        CallError::Plugin {
            id: self.owner.plugin_id().to_owned(),
            operation: method,
            error,
        }
    }
}
