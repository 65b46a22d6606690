//! The one way this host compares a plugin's types with its own: abi_stable's layout checker,
//! the plugin's layout as the interface, and checking globals of the check's own.
//!
//! The plugin's layout goes first, as abi_stable's "interface": the checker accepts an
//! implementation with more trailing prefix fields (root-module fields, vtable entries) than
//! the interface, never fewer, and the host is the newer side (a 1.1 host reads a 1.0
//! plugin's shorter root module and vtables through accessors that answer `None` for the
//! rest). The other way round, every older plugin would be refused.
//!
//! abi_stable's `check_layout_compatibility` also merges every library's prefix types,
//! non-exhaustive enums and extra checks into process-wide maps and checks each new library
//! against the union of all the libraries before it, so that two libraries that both extend
//! a type beyond what a third knows cannot disagree about the extension. Here that second
//! pass is redundant, and it was half of a plugin's load (0.13 of 0.27 ms here, growing the
//! maps by every plugin loaded): every layout this host checks is a plugin's against the
//! host's, and with the plugin as the interface a passing check means each of its prefix
//! types is a field-by-field prefix of the host's (and each of its enums' variants one of
//! the host's). So any two accepted plugins agree wherever both have a field, because both
//! agree with the host; and plugins only exchange values through the host. Each check
//! therefore gets fresh globals: the comparison with the host is abi_stable's, unchanged.

use plugrack_api::abi_stable::{
    abi_stability::abi_checking::{
        check_layout_compatibility_with_globals, AbiInstabilityErrors, CheckingGlobals,
    },
    type_layout::TypeLayout,
};

/// Checks the plugin's `plugin` layout of a type against the host's `host` layout of it.
pub(crate) fn check_against_host(
    plugin: &'static TypeLayout,
    host: &'static TypeLayout,
) -> Result<(), AbiInstabilityErrors> {
    check_layout_compatibility_with_globals(plugin, host, &CheckingGlobals::new())
}
