//! The root module every plugin exports.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    package_version_strings,
    sabi_types::VersionStrings,
    std_types::{RResult, RSlice},
    StableAbi,
};

use crate::{
    Capabilities, DescriptorRef, ExtensionDeclRef, HostServicesBox, PluginError, PluginInstanceBox,
    UserContext,
};

/// The root module: what a plugin exports and the host loads.
///
/// A prefix type. Fields up to `new_instance` exist in every 1.x plugin; fields appended in
/// later versions are read by the host as `Option`s, `None` for plugins built earlier.
///
/// The host must load it with `abi_stable::library::lib_header_from_path` followed by
/// `init_root_module`, never with `RootModule::load_from_*`: those cache the first module
/// of this type in a static and hand it back for every later path.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
pub struct PluginModule {
    /// Who the plugin is and what it targets.
    pub descriptor: DescriptorRef,

    /// The optional capabilities its instances implement.
    pub capabilities: Capabilities,

    /// Called once after the host has accepted the plugin (GoCD's `@Load`); an error or a
    /// panic makes the plugin invalid. `services` is bound to the whole plugin.
    pub on_load: extern "C" fn(services: HostServicesBox) -> RResult<(), PluginError>,

    /// Called once before the host forgets the plugin (GoCD's `@UnLoad`).
    pub on_unload: extern "C" fn() -> RResult<(), PluginError>,

    /// Creates an instance for a user (gotify's `NewGotifyPluginInstance`).
    #[sabi(last_prefix_field)]
    pub new_instance: extern "C" fn(
        user: UserContext,
        services: HostServicesBox,
    ) -> RResult<PluginInstanceBox, PluginError>,

    /// Added in 1.1.0: the host-defined extension points this plugin implements, each in one
    /// version (a plugin may list several versions of one extension point; the host picks the
    /// one it supports). Empty when it implements none; `None` for plugins built against 1.0.
    pub extensions: RSlice<'static, ExtensionDeclRef>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}

    const BASE_NAME: &'static str = "plugin";
    const NAME: &'static str = "plugrack-api";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
