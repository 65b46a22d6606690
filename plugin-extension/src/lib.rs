//! Host-defined extension points for plugrack: typed, semver-versioned interfaces that a host
//! application declares in its own crate and that plugins implement.
//!
//! A host author writes the interface once, in an *interface crate* that host and plugins
//! both depend on (the text pipeline's, `examples/text-pipeline/api`, is built and tested by
//! the workspace; this crate cannot compile the example itself, not being an interface crate):
//!
//! ```ignore
//! use plugrack_extension::{extension_point, std_types::{RStr, RString}};
//!
//! #[extension_point(id = "org.example.formatter", version = "1.1.0")]
//! pub trait Formatter: Send + Sync {
//!     /// Formats `text`.
//!     fn format(&self, text: RStr<'_>) -> RString;
//!
//!     /// Added in 1.1.0; plugins built against 1.0 answer with this default.
//!     #[since = "1.1.0"]
//!     fn name(&self) -> RString {
//!         "unnamed".into()
//!     }
//! }
//! ```
//!
//! The attribute keeps the trait as written (plugins implement it on their plugin type and
//! list it in `plugrack_sdk::export_plugin!(MyPlugin, extensions = [Formatter])`) and adds:
//!
//! - `FormatterExt`, a marker type implementing [`ExtensionPoint`]: the id, the version, the
//!   ABI object type and its `TypeLayout`; the host asks for handles with it
//!   (`manager.extensions::<FormatterExt>()`);
//! - `FormatterCalls`, the host's side of the calls: implemented for every
//!   [`ExtensionHandle`], each method calls straight through the object's vtable and returns
//!   `Result<T, H::Error>` (`plugrack_host::CallError` for the host's handles);
//! - the ABI object behind both, a `#[sabi_trait]` whose methods return
//!   `RResult<T, PluginError>`: the plugin side runs every method under `catch_unwind`, so a
//!   panic in a plugin becomes an error the host sees, not an abort (abi_stable aborts the
//!   process when a panic unwinds out of a vtable call). A method whose return type is already
//!   `Result<T, PluginError>` (or `RResult`) is flattened into that one result.
//!
//! What this crate owns: the traits that tie an interface crate to the host
//! ([`ExtensionPoint`], [`ExtensionHandle`]) and to the SDK ([`ImplementedBy`],
//! [`ExtensionTrait`]), the one version rule ([`check_version`]) that the host and
//! `plugin-build` both apply, and the panic guard of the generated code. The boundary types
//! themselves ([`plugrack_api::ExtensionDecl`]) live in `plugrack-api`.
//!
//! An interface crate depends on this crate and on `abi_stable` (the generated `#[sabi_trait]`
//! names it), and is marked as one in its `Cargo.toml`, so that `plugin-build cap` treats its
//! semver line like `plugrack-api`'s:
//!
//! ```toml
//! [package.metadata.plugrack]
//! interface = true
//! ```

#![warn(missing_docs)]

mod point;
mod version;

#[doc(hidden)]
pub mod __private;

pub use plugrack_api;
pub use plugrack_api::abi_stable;
pub use plugrack_api::abi_stable::std_types;
pub use plugrack_api::{ErrorKind, PluginError};
pub use plugrack_extension_macros::extension_point;
pub use point::{ExtensionHandle, ExtensionPoint, ExtensionTrait, ImplementedBy, Method};
pub use version::{check_version, VersionMismatch};
