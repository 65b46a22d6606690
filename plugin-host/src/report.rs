//! What the manager reports about each entry of a plugins folder: the plugin's descriptor
//! ([`PluginInfo`]), its state ([`PluginStatus`]) and the whole record ([`PluginReport`]).
//! Plain data, shared by the bookkeeping, the loader and the command line.

use std::{
    fmt,
    path::PathBuf,
    time::{Duration, SystemTime},
};

use serde::Serialize;

use crate::{
    discovery::Origin, error::LoadError, extension::ExtensionReport, metrics::MetricsSnapshot,
};

/// What a plugin says about itself, from its descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginInfo {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Authors.
    pub authors: Vec<String>,
    /// Home page.
    pub homepage: String,
    /// License.
    pub license: String,
    /// Host versions supported.
    pub host_version_req: String,
    /// Operating systems supported.
    pub target_os: Vec<String>,
    /// The plugrack-api version it was built against.
    pub api_version: String,
    /// Capability names.
    pub capabilities: Vec<&'static str>,
    /// The file or plugin folder it was loaded from.
    pub path: PathBuf,
}

/// The state of one entry of a plugins folder.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginStatus {
    /// Loaded and callable.
    Active,
    /// Loaded, but turned off (by the host application, or because `enable` failed).
    Disabled {
        /// Why.
        reason: String,
    },
    /// Refused; the error says why and what to do. Also where an out-of-process plugin ends
    /// up after a crash loop.
    Invalid(LoadError),
    /// Its worker process crashed and is being started again (out-of-process plugins);
    /// calls wait for the new worker. The reason names the crash and the last lines the
    /// worker wrote to stderr.
    Crashed {
        /// What happened.
        reason: String,
    },
    /// Not a plugin (a hidden file, a file without `.so`, a folder without `plugin.toml`).
    Skipped {
        /// Why it was passed over.
        reason: String,
    },
}

impl PluginStatus {
    /// `active`, `disabled`, `invalid`, `crashed` or `skipped`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled { .. } => "disabled",
            Self::Invalid(_) => "invalid",
            Self::Crashed { .. } => "crashed",
            Self::Skipped { .. } => "skipped",
        }
    }
}

impl fmt::Display for PluginStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Active => f.write_str("active"),
            Self::Disabled { reason } => write!(f, "disabled: {reason}"),
            Self::Invalid(error) => write!(f, "invalid: {}", error.refusal),
            Self::Crashed { reason } => write!(f, "crashed: {reason}"),
            Self::Skipped { reason } => write!(f, "skipped: {reason}"),
        }
    }
}

/// One entry of a plugins folder and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginReport {
    /// The file or plugin folder.
    pub path: PathBuf,
    /// The folder it was found in.
    pub origin: Origin,
    /// The descriptor, when the plugin loaded.
    pub info: Option<PluginInfo>,
    /// Active, disabled, invalid or skipped.
    pub status: PluginStatus,
    /// Notes from later events (a refused reload, a stored configuration that no longer
    /// validates), newest last.
    pub messages: Vec<String>,
    /// How long loading took (checks, copy, `dlopen`, `on_load`).
    pub load_time: Option<Duration>,
    /// Where that time went, phase by phase.
    pub load_phases: Option<LoadPhases>,
    /// When it was loaded.
    pub loaded_at: Option<SystemTime>,
    /// Calls, errors, panics and latency.
    pub metrics: MetricsSnapshot,
    /// The host-defined extension points the plugin lists, each with the host's verdict
    /// (empty for plugins that list none, and for plugins built against plugrack-api 1.0).
    pub extensions: Vec<ExtensionReport>,
    /// Where it runs: `in-process`, or `process` (a worker of its own).
    pub isolation: &'static str,
    /// Its worker process, for an out-of-process plugin.
    pub worker: Option<WorkerReport>,
}

/// Where a plugin's load time went, phase by phase (see [`PluginReport::load_phases`]); what
/// is not in a phase (the duplicate-id check, the log, bookkeeping) is the rest of
/// [`PluginReport::load_time`]. In a folder load the checks of the next plugins run on
/// another thread while this one loads, so the sum of the folder's load times can exceed its
/// wall-clock time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadPhases {
    /// The checks before any of the plugin's code runs: reading, mapping or copying the file,
    /// the trust policy, ELF, manifest and checksums, the descriptor section.
    pub checks: Duration,
    /// Opening the library: `dlopen` and the root symbol in process; for an out-of-process
    /// plugin, starting its worker and everything the worker does to open it (its own
    /// phases are not seen from here).
    pub open: Duration,
    /// abi_stable's layout check of the root module, the version rule and the descriptor
    /// checks (in process only).
    pub layout_check: Duration,
    /// The plugin's `on_load`: in a folder load the call itself (the loader thread makes
    /// it); in a single load also the hand-off to the lifecycle thread that makes it.
    pub on_load: Duration,
    /// Checking and creating its host-defined extensions.
    pub extensions: Duration,
    /// Whether the root module's layout check was skipped because this library content
    /// passed it before (see [`crate::HostConfig::cache_dir`]); `layout_check` then holds
    /// the version and descriptor checks alone.
    pub layout_cached: bool,
}

impl LoadPhases {
    /// The phases' sum.
    pub fn total(&self) -> Duration {
        self.checks + self.open + self.layout_check + self.on_load + self.extensions
    }
}

/// An out-of-process plugin's worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerReport {
    /// The running worker's process id (`None` while it is being restarted).
    pub pid: Option<u32>,
    /// How many times it was restarted after a crash.
    pub restarts: u32,
    /// What the worker could confine (for example `no_new_privs, landlock fully enforced`).
    pub confinement: String,
}

impl PluginReport {
    /// The load error, for an invalid plugin.
    pub fn error(&self) -> Option<&LoadError> {
        match &self.status {
            PluginStatus::Invalid(e) => Some(e),
            _ => None,
        }
    }

    /// The plugin's id, if known.
    pub fn id(&self) -> Option<&str> {
        self.info
            .as_ref()
            .map(|i| i.id.as_str())
            .or_else(|| self.error().and_then(|e| e.id.as_deref()))
    }
}
