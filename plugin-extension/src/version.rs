//! The one rule that decides whether a plugin's version of an extension point may serve a
//! host's: the host (`plugrack-host`) and the build tool (`plugin-build cap` and `inspect`)
//! both call [`check_version`].
//!
//! The rule is plugrack-api's, and [`check_version`] calls
//! [`plugrack_api::compat::check_api_compatibility`] for it: the same major version, and the
//! plugin's minor not above the host's. A host at 1.3 calls methods appended in 1.1 to 1.3 on
//! a 1.0 plugin, whose vtable lacks them, and gets their defaults; a plugin built against 1.4
//! may rely on things a 1.3 host does not provide (a callback object with newer methods), so
//! it is refused. A major version is a breaking change. Patch versions never matter. 0.x
//! versions are not special (a 0.x minor is an append too, as in plugrack-api's rule); a
//! change that is not an append is caught by abi_stable's layout check of the interface.

use std::fmt;

use plugrack_api::compat::{check_api_compatibility, ApiIncompatibility, ApiVersion};

/// Why a plugin's version of an extension point cannot serve the host's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionMismatch {
    /// A version is not `major.minor.patch`.
    Unparseable {
        /// The text.
        found: String,
    },
    /// Another major version (older or newer).
    OtherMajor {
        /// The plugin's version.
        plugin: ApiVersion,
        /// The host's version.
        host: ApiVersion,
    },
    /// The same major version, a newer minor one than the host's.
    NewerMinor {
        /// The plugin's version.
        plugin: ApiVersion,
        /// The host's version.
        host: ApiVersion,
    },
}

impl fmt::Display for VersionMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unparseable { found } => write!(f, "version `{found}` is not major.minor.patch"),
            Self::OtherMajor { plugin, host } | Self::NewerMinor { plugin, host } => {
                write!(
                    f,
                    "the plugin implements {plugin}; this host provides {host}"
                )
            }
        }
    }
}

impl std::error::Error for VersionMismatch {}

/// Checks the plugin's version of an extension point against the host's.
///
/// ```
/// use plugrack_extension::{check_version, VersionMismatch};
///
/// assert!(check_version("1.3.0", "1.0.2").is_ok());
/// assert!(matches!(check_version("1.3.0", "2.0.0"), Err(VersionMismatch::OtherMajor { .. })));
/// assert!(matches!(check_version("1.3.0", "1.4.0"), Err(VersionMismatch::NewerMinor { .. })));
/// ```
pub fn check_version(host: &str, plugin: &str) -> Result<(), VersionMismatch> {
    let host = ApiVersion::parse(host).ok_or_else(|| VersionMismatch::Unparseable {
        found: host.to_owned(),
    })?;
    // The rule is plugrack-api's own (see the module header), so it is that crate's function;
    // only the classification differs: an extension's refusal names another major version,
    // older or newer, apart from a newer minor one, because their fixes differ (rebuild the
    // plugin against this interface's major version, or update the host).
    check_api_compatibility(host, plugin).map_err(|e| match e {
        ApiIncompatibility::Unparseable { found } => VersionMismatch::Unparseable { found },
        ApiIncompatibility::PluginTooNew { plugin, host } if plugin.major == host.major => {
            VersionMismatch::NewerMinor { plugin, host }
        }
        ApiIncompatibility::PluginTooNew { plugin, host }
        | ApiIncompatibility::PluginTooOld { plugin, host } => {
            VersionMismatch::OtherMajor { plugin, host }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_rule_table() {
        let cases: &[(&str, &str, &str)] = &[
            // host, plugin, verdict
            ("1.0.0", "1.0.0", "ok"),
            ("1.3.0", "1.0.0", "ok"),
            ("1.3.0", "1.3.9", "ok"),
            ("1.3.0", "1.4.0", "newer"),
            ("1.3.0", "2.0.0", "major"),
            ("2.0.0", "1.9.0", "major"),
            ("2.0.0", "3.0.0", "major"),
            ("1.3.0", "2.0.0-rc.1", "major"),
            // 0.x is not special (see the module header).
            ("0.3.0", "0.2.0", "ok"),
            ("0.3.0", "0.4.0", "newer"),
            ("1.0.0", "1.0.0-rc.1", "ok"),
            ("1.0.0", "1.0", "bad"),
            ("x", "1.0.0", "bad"),
            ("1.0.0", "one", "bad"),
        ];
        for (host, plugin, verdict) in cases {
            let got = match check_version(host, plugin) {
                Ok(()) => "ok",
                Err(VersionMismatch::NewerMinor { .. }) => "newer",
                Err(VersionMismatch::OtherMajor { .. }) => "major",
                Err(VersionMismatch::Unparseable { .. }) => "bad",
            };
            assert_eq!(got, *verdict, "host {host}, plugin {plugin}");
        }
    }
}
