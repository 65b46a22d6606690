//! The traits `#[extension_point]` implements: what the host, the SDK and the generated code
//! know about an extension point.

use std::sync::Arc;

use plugrack_api::{abi_stable::type_layout::TypeLayout, PluginError};

/// One method of an extension point, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    /// The method's name.
    pub name: &'static str,
    /// The version that added it (`major.0.0` for the methods every version has).
    pub since: &'static str,
}

/// An extension point: implemented by the marker type `#[extension_point]` generates
/// (`FormatterExt` for `trait Formatter`).
pub trait ExtensionPoint: Sized + Send + Sync + 'static {
    /// The id, `[A-Za-z0-9._-]+` (`org.example.formatter`).
    const ID: &'static str;
    /// The version this build of the interface crate declares (semver).
    const VERSION: &'static str;
    /// The trait's name as written (`Formatter`).
    const NAME: &'static str;
    /// The package that declares it (`CARGO_PKG_NAME` of the interface crate): the export
    /// macro writes it into the plugin's descriptor section, so that tools can judge the
    /// plugin against a host's `Cargo.lock` without loading it.
    const INTERFACE: &'static str;
    /// That package's version in this build (`CARGO_PKG_VERSION`).
    const INTERFACE_VERSION: &'static str;
    /// The methods, in vtable order.
    const METHODS: &'static [Method];
    /// The ABI object that crosses the boundary (a `#[sabi_trait]` object in an `RBox`).
    type Object: Send + Sync + 'static;
    /// The layout of [`ExtensionPoint::Object`] in this build: the host compares a plugin's
    /// layout with it before it uses the plugin's implementation.
    const LAYOUT: &'static TypeLayout;
}

/// "`T` implements this extension point": how the SDK turns a plugin's value into the ABI
/// object. Implemented by `#[extension_point]` for every `T` that implements the trait.
pub trait ImplementedBy<T>: ExtensionPoint {
    /// The ABI object calling `value`'s implementation, each method under `catch_unwind`.
    fn object(value: Arc<T>) -> Self::Object;
}

/// Maps a trait object type (`dyn Formatter`) to its extension point (`FormatterExt`), so that
/// `export_plugin!(P, extensions = [Formatter])` can name the trait as the author wrote it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an extension point",
    label = "not declared with `#[extension_point]`",
    note = "list only traits declared with `#[plugrack_extension::extension_point]` in the host's interface crate"
)]
pub trait ExtensionTrait {
    /// The marker type.
    type Point: ExtensionPoint;
}

/// The host's side of a call: what the generated `…Calls` trait needs from a handle.
///
/// `plugrack_host::Extension<E>` implements it with `Error = plugrack_host::CallError`; any
/// other holder of an object (a test harness) can implement it too.
pub trait ExtensionHandle<E: ExtensionPoint> {
    /// What a failed call returns.
    type Error;

    /// The object to call.
    fn object(&self) -> &E::Object;

    /// Turns the plugin's error (or contained panic) from `method` into [`Self::Error`].
    /// Only called on failure, so it may count, log and allocate.
    fn failed(&self, method: &'static str, error: PluginError) -> Self::Error;
}
