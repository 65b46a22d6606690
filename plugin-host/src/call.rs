//! Instances and calls: what a host application does with a loaded plugin. Counting,
//! timing and capability checks live here; the call itself goes to the [`Callee`], wherever
//! the plugin runs.

use std::{
    path::PathBuf,
    sync::{atomic::Ordering, Arc},
    time::Instant,
};

use plugrack_api::{Capabilities, ErrorKind, KeyValue, PluginError};

use crate::{
    crash::Crash,
    metrics::Metrics,
    runner::{with_callee, Callee, Failure, InstanceCalls, Outcome},
    services::write_atomically,
    values::{self, RawValues, Request, Response, Route, Values},
};

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
    /// The plugin's worker process crashed during the call (out-of-process plugins only);
    /// it is restarted, and the next call goes to the new worker.
    #[error("plugin `{id}` crashed in `{operation}`: {crash}")]
    Crashed {
        /// The plugin.
        id: String,
        /// The entry point.
        operation: &'static str,
        /// How the worker ended.
        crash: Crash,
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

    /// How the plugin's worker crashed, for a call that ended that way.
    pub fn crash(&self) -> Option<&Crash> {
        match self {
            Self::Crashed { crash, .. } => Some(crash),
            _ => None,
        }
    }

    /// Whether the plugin panicked (and the panic was contained).
    pub fn is_panic(&self) -> bool {
        self.plugin_error()
            .is_some_and(|e| e.kind == ErrorKind::PANICKED)
    }
}

/// `call!(self, "operation", |instance| expression)`: one counted and timed call on the
/// instance, wherever its plugin runs.
macro_rules! call {
    ($self:ident, $operation:literal, |$instance:ident| $call:expr) => {
        with_callee!(&$self.inner.callee, |$instance| $self
            .call($operation, || $call))
    };
}

impl Failure {
    /// What a caller sees when `operation` of plugin `id` failed this way.
    pub(crate) fn into_call_error(self, id: &str, operation: &'static str) -> CallError {
        let id = id.to_owned();
        match self {
            Self::Plugin(error) => CallError::Plugin {
                id,
                operation,
                error,
            },
            Self::TimedOut => CallError::Plugin {
                id,
                operation,
                error: PluginError::new(ErrorKind::FAILED, "did not return within its time limit"),
            },
            Self::Crashed(crash) => {
                log::error!(target: "plugrack_host", "plugin `{id}` crashed in `{operation}`: {crash}");
                CallError::Crashed {
                    id,
                    operation,
                    crash,
                }
            }
            Self::Unavailable(reason) => CallError::NotActive { id, reason },
        }
    }
}

pub(crate) struct InstanceInner {
    pub plugin_id: String,
    pub capabilities: Capabilities,
    pub callee: Callee,
    pub metrics: Arc<Metrics>,
    /// Where an accepted configuration is stored, when the host persists storage.
    pub config_path: Option<PathBuf>,
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

    #[inline(always)]
    fn require(&self, flag: Capabilities, capability: &'static str) -> Result<(), CallError> {
        if self.inner.capabilities.contains(flag) {
            Ok(())
        } else {
            Err(self.unsupported(capability))
        }
    }

    #[cold]
    #[inline(never)]
    fn unsupported(&self, capability: &'static str) -> CallError {
        CallError::Unsupported {
            id: self.inner.plugin_id.clone(),
            capability,
        }
    }

    #[cold]
    #[inline(never)]
    fn failed(&self, operation: &'static str, failure: Failure) -> CallError {
        let metrics = &self.inner.metrics;
        metrics.errors.fetch_add(1, Ordering::Relaxed);
        if let Failure::Plugin(error) = &failure {
            if error.kind == ErrorKind::PANICKED {
                metrics.panics.fetch_add(1, Ordering::Relaxed);
                log::error!(
                    target: "plugrack_host",
                    "plugin `{}` panicked in `{operation}`: {}",
                    self.inner.plugin_id,
                    error.message
                );
            }
        }
        failure.into_call_error(&self.inner.plugin_id, operation)
    }

    /// Makes one call across the boundary, counting it and timing a sample of calls. The
    /// untimed path is all that is inlined into a caller: count, call, check.
    #[inline(always)]
    fn call<T, R: Outcome<T>>(
        &self,
        operation: &'static str,
        f: impl FnOnce() -> R,
    ) -> Result<T, CallError> {
        // One conversion per arm: merging the two replies first would put the reply in
        // memory on the untimed path too (see `runner::library::read_reply`).
        match self.inner.metrics.start_call() {
            None => match f().into_outcome() {
                Ok(value) => Ok(value),
                Err(e) => Err(self.failed(operation, e.into())),
            },
            Some(cell) => {
                let started = Instant::now();
                let reply = f();
                cell.record_latency(started.elapsed());
                match reply.into_outcome() {
                    Ok(value) => Ok(value),
                    Err(e) => Err(self.failed(operation, e.into())),
                }
            }
        }
    }

    /// Capability `execute`: runs `label` over `input`.
    pub fn execute(&self, label: &str, input: &Values) -> Result<Values, CallError> {
        let input = values::values_to_abi(input);
        self.execute_raw(label, &input).map(values::values_from_abi)
    }

    /// Capability `execute` with the boundary's types, for hot paths: no conversion, and no
    /// allocation when `input` is empty.
    #[inline(always)]
    pub fn execute_raw(&self, label: &str, input: &[KeyValue]) -> Result<RawValues, CallError> {
        self.require(Capabilities::EXECUTE, "execute")?;
        call!(self, "execute", |o| o.execute(label, input)).map(RawValues::new)
    }

    /// Capability `http`: the plugin's routes.
    pub fn routes(&self) -> Result<Vec<Route>, CallError> {
        self.require(Capabilities::HTTP, "http")?;
        let routes = call!(self, "routes", |o| o.routes())?;
        Ok(routes.into_iter().map(Route::from).collect())
    }

    /// Capability `http`: one request.
    pub fn handle_http(&self, request: Request) -> Result<Response, CallError> {
        self.require(Capabilities::HTTP, "http")?;
        call!(self, "handle_http", |o| o.handle_http(request.into())).map(Response::from)
    }

    /// Capability `config`: the default configuration text.
    pub fn default_config(&self) -> Result<String, CallError> {
        self.require(Capabilities::CONFIG, "config")?;
        call!(self, "default_config", |o| o.default_config()).map(Into::into)
    }

    /// Capability `config`: validates and applies a configuration. When the host persists
    /// storage, an accepted configuration is stored (atomically) and applied again to this
    /// user's next instance, after a restart too.
    pub fn set_config(&self, text: &str) -> Result<(), CallError> {
        self.apply_config(text)?;
        if let Some(path) = &self.inner.config_path {
            write_atomically(path, text.as_bytes()).map_err(|e| CallError::Plugin {
                id: self.inner.plugin_id.clone(),
                operation: "set_config",
                error: PluginError::new(
                    ErrorKind::UNAVAILABLE,
                    format!("accepted, but cannot be stored in {}: {e}", path.display()),
                ),
            })?;
        }
        Ok(())
    }

    /// Validates and applies a configuration without storing it.
    pub(crate) fn apply_config(&self, text: &str) -> Result<(), CallError> {
        self.require(Capabilities::CONFIG, "config")?;
        call!(self, "set_config", |o| o.set_config(text))
    }

    /// Capability `display`: the markdown for `location` (the host's base URL).
    pub fn display(&self, location: &str) -> Result<String, CallError> {
        self.require(Capabilities::DISPLAY, "display")?;
        call!(self, "display", |o| o.display(location)).map(Into::into)
    }

    /// Turns the instance on.
    pub fn enable(&self) -> Result<(), CallError> {
        call!(self, "enable", |o| o.enable())
    }

    /// Turns the instance off.
    pub fn disable(&self) -> Result<(), CallError> {
        call!(self, "disable", |o| o.disable())
    }
}
