//! The plugin in this process: its shared library is opened by the [`loader`](crate::loader)
//! and every entry point is a call through abi_stable's vtables. Fast (nanoseconds), but the
//! plugin shares the host's address space: a crash in it is the host's crash, and the library
//! stays mapped after unloading (abi_stable never unmaps).

use std::{path::Path, sync::mpsc, thread, time::Duration};

use plugrack_api::{
    abi_stable::std_types::{RResult, RStr, RString, RVec},
    Capabilities, HttpRequest, HttpResponse, KeyValue, PluginError, PluginInstanceBox,
    PluginModuleRef, RouteSpec,
};

use super::{Callee, Failure, InstanceCalls, Opened, Runner};
use crate::{
    error::LoadError,
    loader::{self, HostFacts},
    services::BoundServices,
    values::User,
};

/// Opens `library` in this process.
pub(crate) fn open(
    library: &Path,
    path: &Path,
    host: &HostFacts<'_>,
) -> Result<Opened, Box<LoadError>> {
    let opened = loader::open(library, path, host)?;
    Ok(Opened {
        runner: Box::new(LibraryRunner {
            module: opened.module,
        }),
        info: opened.info,
    })
}

/// A plugin library mapped into this process.
struct LibraryRunner {
    module: PluginModuleRef,
}

impl Runner for LibraryRunner {
    fn capabilities(&self) -> Capabilities {
        self.module.capabilities()
    }

    fn start(&self, services: BoundServices, limit: Duration) -> Result<(), Failure> {
        let on_load = self.module.on_load();
        let services = services.into_abi();
        match run_with_limit(limit, move || on_load(services).into_result()) {
            None => Err(Failure::TimedOut),
            Some(result) => result.map_err(Failure::Plugin),
        }
    }

    fn new_instance(&self, user: &User, services: BoundServices) -> Result<Callee, Failure> {
        (self.module.new_instance())(user.to_abi(), services.into_abi())
            .into_result()
            .map(|object| Callee::Library(LibraryInstance(object)))
            .map_err(Failure::Plugin)
    }

    fn stop(&self, limit: Option<Duration>) -> Result<(), Failure> {
        let on_unload = self.module.on_unload();
        let Some(limit) = limit else {
            return on_unload().into_result().map_err(Failure::Plugin);
        };
        match run_with_limit(limit, move || on_unload().into_result()) {
            None => Err(Failure::TimedOut),
            Some(result) => result.map_err(Failure::Plugin),
        }
    }

    fn module(&self) -> Option<PluginModuleRef> {
        Some(self.module)
    }
}

/// An instance created by a library in this process.
pub(crate) struct LibraryInstance(PluginInstanceBox);

impl InstanceCalls for LibraryInstance {
    type Reply<T> = RResult<T, PluginError>;

    #[inline]
    fn enable(&self) -> RResult<(), PluginError> {
        self.0.enable()
    }

    #[inline]
    fn disable(&self) -> RResult<(), PluginError> {
        self.0.disable()
    }

    #[inline]
    fn execute(&self, label: &str, input: &[KeyValue]) -> RResult<RVec<KeyValue>, PluginError> {
        self.0.execute(RStr::from_str(label), input.into())
    }

    #[inline]
    fn routes(&self) -> RResult<RVec<RouteSpec>, PluginError> {
        self.0.routes()
    }

    #[inline]
    fn handle_http(&self, request: HttpRequest) -> RResult<HttpResponse, PluginError> {
        self.0.handle_http(request)
    }

    #[inline]
    fn default_config(&self) -> RResult<RString, PluginError> {
        self.0.default_config()
    }

    #[inline]
    fn set_config(&self, text: &str) -> RResult<(), PluginError> {
        self.0.set_config(RStr::from_str(text))
    }

    #[inline]
    fn display(&self, location: &str) -> RResult<RString, PluginError> {
        self.0.display(RStr::from_str(location))
    }
}

/// Runs `f` on its own thread and waits at most `limit` for it. `None` when it did not
/// finish in time; the thread is then left to finish on its own (a thread cannot be killed).
fn run_with_limit<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("plugin-lifecycle".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    match spawned {
        Ok(_) => rx.recv_timeout(limit).ok(),
        Err(e) => {
            log::warn!(target: "plugrack_host", "cannot start a lifecycle thread: {e}");
            None
        }
    }
}
