//! Write native plugins for `plugin-host` in idiomatic Rust.
//!
//! A plugin is a `cdylib` crate with a type implementing [`Plugin`], an instance type
//! implementing [`Instance`] plus any of the capability traits ([`Executor`], [`HttpHandler`],
//! [`Configurer`], [`Displayer`]), and one line:
//!
//! ```ignore
//! plugrack_sdk::export_plugin!(MyPlugin);
//! ```
//!
//! A plugin can also implement extension points that a host application declares in its own
//! interface crate (with `plugrack_extension::extension_point`): it implements the trait on
//! its plugin type and lists it, `export_plugin!(MyPlugin, extensions = [Formatter])`. A
//! plugin that only does that uses [`NoInstance`] as its instance type.
//!
//! The macro reads the descriptor from the crate's `Cargo.toml` (`[package]` and
//! `[package.metadata.plugin]`), checks it at compile time, detects which capabilities the
//! instance type implements, and exports the root module of `plugrack-api`.
//!
//! What this crate takes care of, so authors never see `abi_stable`:
//!
//! - conversion between the boundary's `abi_stable` types and std types and `serde`;
//! - `catch_unwind` around every entry point: a panic becomes an [`ErrorKind::PANICKED`]
//!   error carrying the panic message and location, and the host keeps running;
//! - the `log` crate's records reaching the host's log for this plugin;
//! - an in-process [`testing::Harness`] that drives a plugin through the same entry points the
//!   host uses, without building a shared library.

#![warn(missing_docs)]

mod error;
mod glue;
mod http;
mod logging;
mod panic;
mod plugin;
mod section;
mod services;
pub mod testing;
mod value;

pub use error::{Error, Result};
pub use http::{Request, Response, Route};
pub use plugin::{
    Configurer, Displayer, Executor, HttpHandler, Instance, NoInstance, Plugin, User,
};
pub use plugrack_api::{ErrorKind, API_VERSION};
pub use plugrack_sdk_macros::export_plugin;
pub use services::{Message, Services};
pub use value::{Value, Values};

/// Re-exports that the export macro's expansion refers to. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::glue::*;
    pub use crate::section::*;
    pub use plugrack_api;
    pub use plugrack_api::abi_stable;
}

/// The names most plugins need: `use plugrack_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        export_plugin, Configurer, Displayer, Error, ErrorKind, Executor, HttpHandler, Instance,
        Message, NoInstance, Plugin, Request, Response, Result, Route, Services, User, Value,
        Values,
    };
}
