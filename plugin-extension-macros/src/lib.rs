//! `#[extension_point]`, re-exported by `plugrack-extension` (see its documentation for what
//! a host author writes and what the attribute generates).
//!
//! This crate owns the compile-time half of an extension point: it reads the trait and the
//! interface crate's `Cargo.toml`, refuses what cannot cross the boundary or evolve safely
//! (with the fix in the message), and writes the generated items. The runtime half (the
//! traits the generated code implements, the panic guard) lives in `plugrack-extension`.

use proc_macro::TokenStream;
use syn::{parse_macro_input, punctuated::Punctuated, ItemTrait, MetaNameValue, Token};

mod args;
mod expand;
mod manifest;
mod method;

/// Declares a host-defined extension point on a trait. See `plugrack_extension`.
///
/// ```ignore
/// #[extension_point(id = "org.example.formatter", version = "1.1.0")]
/// pub trait Formatter: Send + Sync {
///     fn format(&self, text: RStr<'_>) -> RString;
///     #[since = "1.1.0"]
///     fn name(&self) -> RString { "unnamed".into() }
/// }
/// ```
///
/// - `id` (required): `[A-Za-z0-9._-]+`, unique among the host's extension points;
/// - `version` (optional, default: the crate's version): semver, on the crate's major line
///   and not above the crate's version (abi_stable and `plugin-build cap` see the crate's);
/// - methods take `&self` and `abi_stable` types; a method added after the first release of a
///   major line carries `#[since = "x.y.z"]`, comes after the older methods, and has a
///   default body that does not use `self` (the host runs it for plugins built before it).
#[proc_macro_attribute]
pub fn extension_point(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args =
        parse_macro_input!(attr with Punctuated::<MetaNameValue, Token![,]>::parse_terminated);
    let item = parse_macro_input!(item as ItemTrait);
    match expand::expand(args, item) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}
