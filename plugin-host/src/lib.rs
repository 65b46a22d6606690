//! Load native plugins built against `plugin-api`, safely.
//!
//! A host application creates a [`PluginManager`], points it at a folder, and gets one
//! [`PluginStatus`] per file: a broken, foreign or incompatible file is recorded as
//! [`PluginStatus::Invalid`] with a short message that names the fix, and the other plugins
//! load regardless. Then it creates per-user instances and calls their capabilities.
//!
//! ```no_run
//! use plugin_host::{HostConfig, PluginManager, User, Values};
//!
//! let mut manager = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
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
//! the host services handed to plugins, instances and calls. What it leaves to the host
//! application: command lines, printing and exiting (this library only returns values and
//! emits `log` records), HTTP serving, and persistence policy beyond the storage folder.

#![warn(missing_docs)]

mod call;
mod error;
mod loader;
mod manager;
pub mod manifest;
pub mod preflight;
mod services;
mod values;

pub use call::{CallError, Instance};
pub use error::{LoadError, Refusal};
pub use manager::{
    HostConfig, MessageEvent, PluginInfo, PluginManager, PluginReport, PluginStatus,
};
pub use plugin_api::{Capabilities, ErrorKind, PluginError, Value, API_VERSION};
pub use values::{Request, Response, Route, User, Values};
