//! The ABI contract between a plugin host and its plugins.
//!
//! Everything that crosses the boundary between a host application and a plugin shared
//! library is declared here, and only here, with [`abi_stable`] types. A plugin exports one
//! root module, [`PluginModule`]; the host checks its layout at load time and then talks to it
//! through function pointers and `#[sabi_trait]` objects.
//!
//! This crate is treated as a published protocol:
//!
//! - it is versioned 1.x and grows only by appending (new trailing prefix fields, new trailing
//!   defaulted trait methods, new associated constants); nothing is removed or reordered;
//! - every appended item says which version added it;
//! - the one compatibility rule between a host's and a plugin's API version lives in
//!   [`compat::check_api_compatibility`], which the host and the build tool both call.
//!
//! Version 1.1.0 appended [`PluginModule::extensions`]: host-defined extension points
//! ([`ExtensionDecl`]), whose interfaces live in the host's own crates.
//!
//! Plugin authors do not use this crate directly: `plugrack-sdk` wraps it in idiomatic Rust.
//! Host authors use it through `plugin-host`.

#![warn(missing_docs)]

pub mod compat;
mod descriptor;
mod error;
mod extension;
mod http;
mod instance;
mod module;
mod services;
mod value;

pub use abi_stable;
pub use descriptor::{Descriptor, DescriptorRef};
pub use error::{ErrorKind, PluginError};
pub use extension::{ExtensionDecl, ExtensionDeclRef, ExtensionDecl_Prefix, ExtensionSlot};
pub use http::{Header, HttpRequest, HttpResponse, RouteSpec};
pub use instance::{
    Capabilities, PluginInstance, PluginInstanceBox, PluginInstance_TO, UserContext,
};
pub use module::{PluginModule, PluginModuleRef, PluginModule_Prefix};
pub use services::{HostServices, HostServicesBox, HostServices_TO, LogLevel, Message};
pub use value::{KeyValue, Value};

/// The version of this contract, as written in `Cargo.toml`.
///
/// A plugin records the version it was built against in its [`Descriptor`]; the host compares
/// it with its own through [`compat::check_api_compatibility`].
pub const API_VERSION: &str = env!("CARGO_PKG_VERSION");
