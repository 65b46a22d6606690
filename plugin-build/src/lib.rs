//! `plugin-build`: the plugin author's tool.
//!
//! The library does the work; `main.rs` only calls [`main_entry`]. Each subcommand owns a
//! module: [`new`] makes a plugin project from the embedded template, [`cap`] pins shared
//! crates to a host's `Cargo.lock`, [`build`] cross-builds for the four Linux targets,
//! [`images`] makes the `cross` backend's build images from Debian's packages (run by the
//! container engine of [`engine`]), [`doctor`] tells what the machine has for them, [`package`] makes the `.plg` archive,
//! [`deploy`] installs it into a plugins folder, [`inspect`] tells what a `.so` or `.plg`
//! is and whether the host would load it (without loading it), and [`sign`] makes keys
//! (`keygen`) and signs packages (`package --sign`); [`git`] builds and packages a plugin from a
//! git repository (`from-git`). Every external process goes through [`process`],
//! which records the exact command line and shows the child's stderr on failure. The targets
//! are defined once, in [`targets`]. [`shell`] writes completion scripts and man pages.
//!
//! Two binaries call the same parser: `plugin-build` and `cargo-plugin` (so `cargo plugin ...`
//! works as a cargo subcommand).

#![warn(missing_docs, missing_debug_implementations)]

pub mod build;
pub mod cap;
mod cli;
pub mod deploy;
pub mod doctor;
pub mod engine;
mod fsutil;
pub mod git;
pub mod images;
pub mod inspect;
pub mod new;
pub mod package;
pub mod process;
pub mod shell;
pub mod sign;
pub mod targets;

pub use cli::{cargo_main_entry, main_entry, Cli, Command};

/// Exit code: success.
pub const EXIT_SUCCESS: u8 = 0;
/// Exit code: the command failed, or `--check` found mismatches.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the command line was refused.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of `inspect`: the file was read, and this toolkit's host would refuse it.
pub const EXIT_REFUSED: u8 = inspect::EXIT_REFUSED;
