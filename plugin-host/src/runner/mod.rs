//! Where a plugin runs: the one narrow interface between the manager's bookkeeping (entries,
//! statuses, instances, events, metrics, reload rules) and the code that actually holds a
//! loaded plugin.
//!
//! Two sides, each an interface the bookkeeping calls without knowing which implementation
//! answers:
//!
//! - [`Runner`]: one loaded plugin (start it, create instances, stop it). A trait object,
//!   chosen once per load; never on a call's path.
//! - [`InstanceCalls`]: one instance's entry points. [`Callee`] is the enum over the
//!   implementations, so a call is one predictable `match`, with no virtual call, lock or
//!   allocation added on the way to the plugin.
//!
//! The implementations: [`library`], the plugin's shared library opened in this process,
//! its entry points called through abi_stable's vtables; and [`process`], the same file
//! opened by a worker process of its own, its entry points called over a socket pair.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use plugrack_api::{
    abi_stable::std_types::{RResult, RString, RVec},
    Capabilities, HttpRequest, HttpResponse, KeyValue, PluginError, PluginModuleRef, RouteSpec,
};

use crate::{
    crash::Crash,
    error::LoadError,
    events::Subscribers,
    isolation::Isolation,
    loader::HostFacts,
    report::{PluginInfo, WorkerReport},
    services::BoundServices,
    values::User,
};

mod affinity;
pub(crate) mod library;
mod limit;
pub(crate) mod process;

/// Why an entry point did not return a value.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The plugin returned an error (a contained panic is kind `PANICKED`).
    Plugin(PluginError),
    /// It did not return within the time limit it was given.
    TimedOut,
    /// The process it ran in crashed.
    Crashed(Crash),
    /// It cannot be called any more (it crashed too often, or was unloaded).
    Unavailable(String),
}

/// How a loaded plugin is doing where it runs.
#[derive(Debug, Clone)]
pub(crate) enum Health {
    /// Running.
    Running,
    /// It crashed and is being started again.
    Restarting { reason: String },
    /// It crashed too often and is not started again.
    GaveUp(LoadError),
}

/// One loaded plugin, wherever it runs. Every method may be called from any thread.
pub(crate) trait Runner: Send + Sync {
    /// The capabilities its instances implement.
    fn capabilities(&self) -> Capabilities;

    /// Runs `on_load` with `services` bound to the whole plugin, waiting at most `limit`.
    fn start(&self, services: BoundServices, limit: Duration) -> Result<(), Failure>;

    /// [`Runner::start`] on the calling thread, for a caller that can itself be given up on
    /// (a folder's loader thread): in process the plugin's `on_load` runs right here, with no
    /// hand-off and no limit of its own; a worker process keeps its own `limit`.
    fn start_here(&self, services: BoundServices, limit: Duration) -> Result<(), Failure> {
        self.start(services, limit)
    }

    /// Creates the instance for `user`, with services bound to that user.
    fn new_instance(&self, user: &User, services: BoundServices) -> Result<Callee, Failure>;

    /// Runs `on_unload`, waiting at most `limit` when one is given, and lets go of the
    /// plugin. The caller has disabled and released the instances first.
    fn stop(&self, limit: Option<Duration>) -> Result<(), Failure>;

    /// The root module, when the library is mapped into this process (for callers that go
    /// straight through its vtables); `None` where the plugin runs elsewhere.
    fn module(&self) -> Option<PluginModuleRef>;

    /// How it is doing (always running in process: a crash there is the host's).
    fn health(&self) -> Health {
        Health::Running
    }

    /// Notes for the plugin's report (crashes and restarts), oldest first.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// The worker process, where there is one.
    fn worker(&self) -> Option<WorkerReport> {
        None
    }

    /// The last lines its worker wrote to stderr (the telling ones first), where it has one.
    fn last_words(&self) -> Vec<String> {
        Vec::new()
    }

    /// `in-process` or `process`.
    fn isolation(&self) -> &'static str;
}

/// A plugin that passed every check up to `on_load`, and its descriptor.
pub(crate) struct Opened {
    pub runner: Box<dyn Runner>,
    pub info: PluginInfo,
    /// The extensions a plugin elsewhere lists, as (id, version); in process the host reads
    /// them from the root module itself.
    pub listed_extensions: Vec<(String, String)>,
    /// How long the checks after `dlopen` took (layout, version, descriptor); zero for a
    /// worker, whose checks are part of its opening as seen from here.
    pub check_time: Duration,
    /// Whether the root module's layout check was answered by the cache.
    pub layout_cached: bool,
}

/// A private copy of a plugin file, removed when dropped: right after `dlopen` in process
/// (the mapping keeps the data), with the worker in a worker (a restart opens it again). A
/// plugin with bundled libraries is copied into a folder of its own (`<n>-<name>.d/`, see
/// `open_copy`), removed whole.
pub(crate) struct PrivateCopy(pub PathBuf);

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        if let Some(folder) = self
            .0
            .parent()
            .filter(|p| p.extension().is_some_and(|e| e == "d"))
        {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

/// What opening a plugin needs besides the file.
pub(crate) struct OpenContext<'a> {
    pub host: HostFacts<'a>,
    /// Where events about the plugin go (a worker's crashes).
    pub subscribers: Arc<Subscribers>,
    /// The configured worker program, if any.
    pub worker_program: Option<&'a Path>,
    /// The folder a worker may write.
    pub data_dir: PathBuf,
}

/// Opens the private copy of the plugin at `path` (the file or folder the user put in the
/// plugins folder, which errors name) where `isolation` says.
pub(crate) fn open(
    copy: PrivateCopy,
    path: &Path,
    isolation: &Isolation,
    context: &OpenContext<'_>,
) -> Result<Opened, Box<LoadError>> {
    match isolation {
        Isolation::InProcess => library::open(copy, path, &context.host),
        Isolation::Process(settings) => process::open(copy, path, settings, context),
    }
}

/// One instance's entry points, as every place a plugin can run implements them, with the
/// boundary's types. Each implementation answers in its own reply type, turned into a
/// `Result` only after the call was counted and timed, and into a [`Failure`] only on the
/// (cold) error path: the in-process success path stays what it was before the seam.
pub(crate) trait InstanceCalls {
    /// What a call answers.
    type Reply<T>: Outcome<T>;
    /// Turns the instance on.
    fn enable(&self) -> Self::Reply<()>;
    /// Turns the instance off.
    fn disable(&self) -> Self::Reply<()>;
    /// Capability `execute`.
    fn execute(&self, label: &str, input: &[KeyValue]) -> Self::Reply<RVec<KeyValue>>;
    /// Capability `http`: the routes.
    fn routes(&self) -> Self::Reply<RVec<RouteSpec>>;
    /// Capability `http`: one request.
    fn handle_http(&self, request: HttpRequest) -> Self::Reply<HttpResponse>;
    /// Capability `config`: the default text.
    fn default_config(&self) -> Self::Reply<RString>;
    /// Capability `config`: validate and apply.
    fn set_config(&self, text: &str) -> Self::Reply<()>;
    /// Capability `display`.
    fn display(&self, location: &str) -> Self::Reply<RString>;
}

/// A reply that becomes a `Result`.
pub(crate) trait Outcome<T> {
    /// The error it carries.
    type Error: Into<Failure>;
    /// The reply as a `Result`.
    fn into_outcome(self) -> Result<T, Self::Error>;
}

impl<T> Outcome<T> for RResult<T, PluginError> {
    type Error = PluginError;
    #[inline]
    fn into_outcome(self) -> Result<T, PluginError> {
        self.into_result()
    }
}

impl<T, E: Into<Failure>> Outcome<T> for Result<T, E> {
    type Error = E;
    #[inline]
    fn into_outcome(self) -> Self {
        self
    }
}

impl From<PluginError> for Failure {
    fn from(error: PluginError) -> Self {
        Self::Plugin(error)
    }
}

/// An instance, wherever its plugin runs.
pub(crate) enum Callee {
    /// In this process.
    Library(library::LibraryInstance),
    /// In the plugin's worker process.
    Worker(process::WorkerInstance),
}

/// `with_callee!(callee, |instance| body)`: runs `body` with `instance` bound to the
/// implementation behind the enum, one arm per place a plugin can run. The body is compiled
/// once per arm, so each sees its implementation's concrete types.
macro_rules! with_callee {
    ($callee:expr, |$instance:ident| $body:expr) => {
        match $callee {
            $crate::runner::Callee::Library($instance) => $body,
            $crate::runner::Callee::Worker($instance) => $body,
        }
    };
}
pub(crate) use with_callee;
