//! Load native plugins built against `plugrack-api`, safely.
//!
//! A host application creates a [`PluginManager`], points it at a folder, and gets one
//! [`PluginStatus`] per file: a broken, foreign or incompatible file is recorded as
//! [`PluginStatus::Invalid`] with a short message that names the fix, and the other plugins
//! load regardless. Then it creates per-user instances and calls their capabilities.
//!
//! ```no_run
//! use plugrack_host::{HostConfig, PluginManager, User, Values};
//!
//! let manager = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
//! for report in manager.load_dir("plugins".as_ref()) {
//!     if let Some(error) = report.error() {
//!         eprintln!("{error}");
//!     }
//! }
//! let instance = manager.instance("showcase", &User::new(1, "alice")).unwrap();
//! let out = instance.execute("greet", &Values::new()).unwrap();
//! println!("{out:?}");
//! ```
//!
//! What it owns: discovery of candidate files, the checks that can run before `dlopen`
//! ([`preflight`]), loading through abi_stable with errors a person can act on ([`LoadError`]),
//! the host services handed to plugins, instances and calls, and verifying and installing
//! `.plg` packages ([`package`]) exactly as `plugin-build deploy` does. What it leaves to the host
//! application: command lines, printing and exiting (this library only returns values and
//! emits `log` records), HTTP serving, and persistence policy beyond the storage folder.

#![warn(missing_docs, missing_debug_implementations)]

mod call;
mod config;
mod crash;
pub mod discovery;
mod error;
mod events;
pub mod extension;
mod isolation;
mod layout;
mod loader;
mod logfile;
mod manager;
mod metrics;
pub mod needed;
pub mod package;
mod precheck;
pub mod preflight;
mod report;
mod runner;
mod services;
mod stamp;
pub mod trust;
mod values;
mod watch;
mod wire;
pub mod worker;

pub use call::{CallError, Instance};
pub use config::{HostConfig, LoadFrom};
pub use crash::{signal_name, Crash};
pub use discovery::Origin;
pub use error::{host_target_name, LoadError, Refusal};
pub use events::{MessageEvent, PluginEvent};
pub use extension::{
    Extension, ExtensionError, ExtensionRefusal, ExtensionReport, ExtensionStatus, LayoutCheck,
};
pub use isolation::{Isolation, RestartPolicy, WorkerSettings};
pub use logfile::{level_variable, LevelFilter};
pub use manager::PluginManager;
pub use metrics::{MetricsSnapshot, SAMPLE_EVERY};
pub use plugrack_api::{Capabilities, ErrorKind, PluginError, Value, API_VERSION};
/// `plugin.toml`, the package manifest (its rules live in `plugrack-descriptor`).
pub use plugrack_descriptor::manifest;
/// The descriptor section's format and reader (the rules live in `plugrack-descriptor`).
pub use plugrack_descriptor::section;
pub use plugrack_extension::{ExtensionHandle, ExtensionPoint};
pub use precheck::{precheck, Prechecked};
pub use report::{LoadPhases, PluginInfo, PluginReport, PluginStatus, WorkerReport};
pub use values::{RawValues, Request, Response, Route, User, Values};
pub use watch::{watch, Watcher};
