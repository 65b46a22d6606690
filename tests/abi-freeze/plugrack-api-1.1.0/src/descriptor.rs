//! The plugin's descriptor: who it is, what it targets, which contract it was built against.

use abi_stable::{
    std_types::{RSlice, RStr},
    StableAbi,
};

/// Static facts about a plugin, stamped into the binary at build time from its `Cargo.toml`
/// (`[package]` and `[package.metadata.plugin]`).
///
/// A prefix type: later 1.x versions may append fields, which older plugins lack and which the
/// host then reads as `None`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = DescriptorRef)))]
pub struct Descriptor {
    /// Unique id, `[A-Za-z0-9._-]+`, compared case-insensitively.
    pub id: RStr<'static>,
    /// Display name.
    pub name: RStr<'static>,
    /// The plugin's own version (semver).
    pub version: RStr<'static>,
    /// One sentence about what the plugin does.
    pub description: RStr<'static>,
    /// Authors or maintainers, as `Name <mail>`.
    pub authors: RSlice<'static, RStr<'static>>,
    /// Home page or repository.
    pub homepage: RStr<'static>,
    /// SPDX license expression.
    pub license: RStr<'static>,
    /// The host versions this plugin supports, as a semver requirement (`>=2.0, <3`).
    pub host_version_req: RStr<'static>,
    /// Operating systems the plugin supports (`linux`, `macos`, ...); empty means any.
    pub target_os: RSlice<'static, RStr<'static>>,
    /// The version of `plugrack-api` the plugin was built against.
    #[sabi(last_prefix_field)]
    pub api_version: RStr<'static>,
}
