//! Instances and calls: what a host application does with a loaded plugin.

use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

use plugin_api::{
    abi_stable::std_types::{RSlice, RStr, RVec},
    Capabilities, ErrorKind, KeyValue, PluginError, PluginInstanceBox,
};

use crate::values::{self, Request, Response, Route, Values};

/// A call that did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// No plugin has this id.
    #[error("no plugin with id `{id}` is loaded")]
    NotFound {
        /// The id asked for.
        id: String,
    },
    /// The plugin exists but is invalid or disabled.
    #[error("plugin `{id}` is not active: {reason}")]
    NotActive {
        /// The plugin.
        id: String,
        /// Why.
        reason: String,
    },
    /// The plugin does not declare this capability.
    #[error("plugin `{id}` does not offer the `{capability}` capability")]
    Unsupported {
        /// The plugin.
        id: String,
        /// The capability.
        capability: &'static str,
    },
    /// The plugin returned an error, or panicked (kind [`ErrorKind::PANICKED`]).
    #[error("plugin `{id}` failed in `{operation}`: {error}")]
    Plugin {
        /// The plugin.
        id: String,
        /// The entry point.
        operation: &'static str,
        /// The plugin's error.
        error: PluginError,
    },
}

impl CallError {
    /// The plugin's own error, if the plugin produced one.
    pub fn plugin_error(&self) -> Option<&PluginError> {
        match self {
            Self::Plugin { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether the plugin panicked (and the panic was contained).
    pub fn is_panic(&self) -> bool {
        self.plugin_error()
            .is_some_and(|e| e.kind == ErrorKind::PANICKED)
    }
}

/// Failure counts of one plugin, shared by its instances.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub errors: AtomicU64,
    pub panics: AtomicU64,
}

pub(crate) struct InstanceInner {
    pub plugin_id: String,
    pub capabilities: Capabilities,
    pub object: PluginInstanceBox,
    pub counters: Arc<Counters>,
}

/// A plugin instance for one user. Cheap to clone; callable from many threads at once.
#[derive(Clone)]
pub struct Instance {
    pub(crate) inner: Arc<InstanceInner>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin_id", &self.inner.plugin_id)
            .finish_non_exhaustive()
    }
}

impl Instance {
    /// The plugin's id.
    pub fn plugin_id(&self) -> &str {
        &self.inner.plugin_id
    }

    /// The capabilities the plugin declares.
    pub fn capabilities(&self) -> Capabilities {
        self.inner.capabilities
    }

    fn require(&self, flag: Capabilities, capability: &'static str) -> Result<(), CallError> {
        if self.inner.capabilities.contains(flag) {
            Ok(())
        } else {
            Err(CallError::Unsupported {
                id: self.inner.plugin_id.clone(),
                capability,
            })
        }
    }

    #[cold]
    fn failed(&self, operation: &'static str, error: PluginError) -> CallError {
        let counters = &self.inner.counters;
        counters.errors.fetch_add(1, Ordering::Relaxed);
        if error.kind == ErrorKind::PANICKED {
            counters.panics.fetch_add(1, Ordering::Relaxed);
            log::error!(target: "plugin_host", "plugin `{}` panicked in `{operation}`: {}", self.inner.plugin_id, error.message);
        }
        CallError::Plugin {
            id: self.inner.plugin_id.clone(),
            operation,
            error,
        }
    }

    fn lift<T>(
        &self,
        operation: &'static str,
        r: plugin_api::abi_stable::std_types::RResult<T, PluginError>,
    ) -> Result<T, CallError> {
        r.into_result().map_err(|e| self.failed(operation, e))
    }

    /// Capability `execute`: runs `label` over `input`.
    pub fn execute(&self, label: &str, input: &Values) -> Result<Values, CallError> {
        let input = values::values_to_abi(input);
        self.execute_raw(label, &input).map(values::values_from_abi)
    }

    /// Capability `execute` with the boundary's types, for hot paths: no conversion, and no
    /// allocation when `input` is empty.
    pub fn execute_raw(
        &self,
        label: &str,
        input: &[KeyValue],
    ) -> Result<RVec<KeyValue>, CallError> {
        self.require(Capabilities::EXECUTE, "execute")?;
        let result = self
            .inner
            .object
            .execute(RStr::from_str(label), RSlice::from_slice(input));
        self.lift("execute", result)
    }

    /// Capability `http`: the plugin's routes.
    pub fn routes(&self) -> Result<Vec<Route>, CallError> {
        self.require(Capabilities::HTTP, "http")?;
        let routes = self.lift("routes", self.inner.object.routes())?;
        Ok(routes.into_iter().map(Route::from).collect())
    }

    /// Capability `http`: one request.
    pub fn handle_http(&self, request: Request) -> Result<Response, CallError> {
        self.require(Capabilities::HTTP, "http")?;
        self.lift("handle_http", self.inner.object.handle_http(request.into()))
            .map(Response::from)
    }

    /// Capability `config`: the default configuration text.
    pub fn default_config(&self) -> Result<String, CallError> {
        self.require(Capabilities::CONFIG, "config")?;
        self.lift("default_config", self.inner.object.default_config())
            .map(Into::into)
    }

    /// Capability `config`: validates and applies a configuration.
    pub fn set_config(&self, text: &str) -> Result<(), CallError> {
        self.require(Capabilities::CONFIG, "config")?;
        self.lift(
            "set_config",
            self.inner.object.set_config(RStr::from_str(text)),
        )
    }

    /// Capability `display`: the markdown for `location` (the host's base URL).
    pub fn display(&self, location: &str) -> Result<String, CallError> {
        self.require(Capabilities::DISPLAY, "display")?;
        self.lift(
            "display",
            self.inner.object.display(RStr::from_str(location)),
        )
        .map(Into::into)
    }

    /// Turns the instance on.
    pub fn enable(&self) -> Result<(), CallError> {
        self.lift("enable", self.inner.object.enable())
    }

    /// Turns the instance off.
    pub fn disable(&self) -> Result<(), CallError> {
        self.lift("disable", self.inner.object.disable())
    }
}
