//! `.plg` packages on the host's side: read one strictly, verify every file against its
//! manifest, and install one target into a plugins folder atomically.
//!
//! This is what `plugin-build deploy` does before it writes anything, and what a host
//! application that accepts packages (an upload, a download) must do the same way, so it
//! lives here, once: [`archive`] reads the tar + gzip format and refuses anything but plain
//! top-level files, [`verify()`] checks the manifest and every size and SHA-256 and returns a
//! [`Verified`] package ([`verify_with`] also requires a signature by a trusted key,
//! [`crate::trust`]), and [`install()`] writes one target's folder under a hidden name and
//! renames it into place ([`install_files`] is that atomic step alone). Writing packages
//! stays with the build tool. Every refusal names the package and says how to fix it; on any
//! refusal nothing is written.
//!
//! ```no_run
//! use plugrack_host::package;
//!
//! let path = std::path::Path::new("hello-0.1.0.plg");
//! let bytes = std::fs::read(path)?;
//! let verified = package::verify(path, &bytes)?;
//! let installed = package::install(&verified, plugrack_host::host_target_name(), "plugins".as_ref())?;
//! println!("{} {} in {}", installed.id, installed.version, installed.folder.display());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod archive;
mod install;
mod verify;

pub use archive::{ArchiveError, Entry, MAX_UNPACKED};
pub use install::{install, install_files, installed_version, InstallError, Installed, Method};
pub use verify::{check_descriptors, verify, verify_with, Verified, VerifyError};
