//! The worker process that runs one out-of-process plugin.
//!
//! A host starts it as `<program> --plugrack-worker` with one end of a Unix socket pair as its
//! standard input. It dies with the host (`PR_SET_PDEATHSIG`, and it ends when the connection
//! does), limits its address space (`RLIMIT_AS`), sets `no_new_privs` and, where the kernel
//! has Landlock, confines itself to reading its plugin file and the system libraries and
//! writing its data folder; then it opens the plugin through the same checks as an
//! in-process host and serves calls until the host closes the connection.
//!
//! The program is `plugin-worker`, shipped with plugrack-host (`cargo install plugrack-host`
//! installs it beside `plugin-host`). A host application that would rather ship one binary
//! is its own worker: it calls [`run_if_worker`] first thing in `main` and names itself with
//! [`HostConfig::worker_program`](crate::HostConfig::worker_program):
//!
//! ```no_run
//! use plugrack_host::{HostConfig, Isolation, PluginManager};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     plugrack_host::worker::run_if_worker(); // returns only when this is not a worker
//!     let config = HostConfig::new("1.0.0".parse()?)
//!         .isolation(Isolation::process())
//!         .worker_program(std::env::current_exe()?);
//!     let manager = PluginManager::new(config);
//!     // ...
//!     # drop(manager);
//!     Ok(())
//! }
//! ```

use std::ffi::OsStr;

mod confine;
mod serve;
mod services;

/// The first argument that makes a program a worker.
pub const WORKER_FLAG: &str = "--plugrack-worker";

/// The environment variable carrying the host's process id, so a worker whose host died
/// before it could arrange to die with it notices and leaves.
pub(crate) const PARENT_ENV: &str = "PLUGRACK_WORKER_PARENT";

/// Becomes a worker if this process was started as one (its first argument is
/// [`WORKER_FLAG`]), and then never returns; otherwise returns at once. Call it first thing
/// in `main` of a host that is its own worker program.
pub fn run_if_worker() {
    if std::env::args_os().nth(1).as_deref() == Some(OsStr::new(WORKER_FLAG)) {
        serve::run()
    }
}

/// `main` of the `plugin-worker` program.
pub fn main() -> ! {
    run_if_worker();
    eprintln!(
        "plugin-worker runs an out-of-process plugin for a plugrack host, which starts it; it is not run by hand.\n  \
         fix: choose `--isolation process` in `plugin-host`, or `Isolation::Process` in the host's `HostConfig`"
    );
    std::process::exit(2)
}
