//! The descriptor rules of plugrack plugins, written once.
//!
//! A plugin's descriptor (its id, name, version, the host versions and operating systems it
//! supports, the plugrack-api version it was built against, its capabilities) is written by
//! the export macro at compile time, packaged by `plugin-build`, and checked by the host. Every
//! rule about it lives here, so that the three agree:
//!
//! - [`id`]: the id syntax (`[A-Za-z0-9._-]+`, compared case-insensitively);
//! - [`metadata`]: reading `[package]` and `[package.metadata.plugin]` of a plugin's
//!   `Cargo.toml`, with the defaults (id and name from the package name, host version `*`,
//!   target OS `linux`);
//! - [`host_version`]: the host-version requirement (a semver requirement) and its check;
//! - [`target_os`]: the operating-system names and the "supports this system" rule;
//! - [`manifest`]: `plugin.toml`, the package manifest;
//! - [`compare`]: the one comparison of two copies of a descriptor (which fields, in which
//!   order, the first difference), for readers that refuse a file whose copies disagree;
//! - [`section`]: the `.plugin_descriptor` ELF section, which tools and the host read without
//!   loading the library (loading runs its code); [`elf`] finds it in a file's bytes;
//! - `schema` (the `schema` feature): the JSON Schemas of `plugin.toml` and of
//!   `[package.metadata.plugin]`, generated from these types and committed as
//!   `docs/schema/*.json` for editors and other tools.
//!
//! What it leaves to others: the plugrack-api compatibility rule is `plugrack_api::compat`
//! (the contract owns its own versioning); loading, packaging and signing are the host's and
//! the build tool's.

#![warn(missing_docs)]

pub mod compare;
mod descriptor;
#[cfg(feature = "elf")]
pub mod elf;
pub mod host_version;
pub mod id;
pub mod manifest;
pub mod metadata;
#[cfg(feature = "schema")]
pub mod schema;
pub mod section;
pub mod target_os;

pub use descriptor::{Descriptor, DescriptorProblem};
