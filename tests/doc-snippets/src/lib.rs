//! The Rust snippets of the guides under `docs/`, compiled by `cargo test --doc`: each guide
//! is this crate's documentation of one module, so rustdoc turns each ```` ```rust ```` block
//! into a doc test. Lines starting with `# ` are the setup a reader does not need to see
//! (mdBook hides them too); a snippet that needs plugin files or a running host is
//! `no_run` (compiled, not run); `ignore` marks what cannot compile on its own, with the
//! reason beside it in the guide.
//!
//! Not checked beyond parsing: a snippet that is a `#[test]` function (the author guide's
//! harness test), since rustdoc builds doc tests without `--test` and so drops it; the same
//! harness calls are compiled and run by the template's and the examples' own tests.
//!
//! The guides without Rust snippets (or whose blocks are all shell, TOML or output) are not
//! listed: there is nothing to compile in them.

#[cfg(doctest)]
#[doc = include_str!("../../../docs/plugin-author-guide.md")]
pub mod plugin_author_guide {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/host-integration.md")]
pub mod host_integration {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/extension-points.md")]
pub mod extension_points {}

#[cfg(doctest)]
#[doc = include_str!("../../../docs/trust.md")]
pub mod trust {}
