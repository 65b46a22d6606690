//! The one rule that decides whether a plugin built against one version of this contract may
//! run in a host built against another.
//!
//! The host and `plugin-build` both call [`check_api_compatibility`], so a plugin that the
//! build tool passes is a plugin the host accepts.
//!
//! The rule: the major versions must be equal (a major bump is a breaking change), and the
//! plugin's minor version must not exceed the host's (a plugin built against 1.4 may call host
//! services that a 1.2 host lacks). Patch versions never matter. abi_stable independently
//! checks the major version and the layout of every type, which catches a modified copy of
//! this crate published under the same version.

use std::fmt;

/// A `major.minor.patch` version, the only form this crate is published under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    /// Major version.
    pub major: u64,
    /// Minor version.
    pub minor: u64,
    /// Patch version.
    pub patch: u64,
}

impl ApiVersion {
    /// Parses `major.minor.patch`, ignoring any pre-release or build suffix.
    pub fn parse(text: &str) -> Option<Self> {
        let core = text.trim().split(['-', '+']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        let version = Self {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next()??,
        };
        parts.next().is_none().then_some(version)
    }

    /// This crate's own version.
    pub fn current() -> Self {
        Self::parse(crate::API_VERSION).expect("plugrack-api's own version is major.minor.patch")
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// Why a plugin's API version cannot run in a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiIncompatibility {
    /// The plugin's version string is not `major.minor.patch`.
    Unparseable {
        /// What the plugin recorded.
        found: String,
    },
    /// The plugin was built against an older major version than the host's.
    PluginTooOld {
        /// The plugin's version.
        plugin: ApiVersion,
        /// The host's version.
        host: ApiVersion,
    },
    /// The plugin was built against a newer version than the host knows.
    PluginTooNew {
        /// The plugin's version.
        plugin: ApiVersion,
        /// The host's version.
        host: ApiVersion,
    },
}

impl fmt::Display for ApiIncompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unparseable { found } => {
                write!(f, "plugrack-api version `{found}` is not major.minor.patch")
            }
            Self::PluginTooOld { plugin, host } | Self::PluginTooNew { plugin, host } => {
                write!(
                    f,
                    "built against plugrack-api {plugin}; this host provides {host}"
                )
            }
        }
    }
}

impl std::error::Error for ApiIncompatibility {}

/// Checks a plugin's API version (`plugin`) against the host's (`host`).
///
/// ```
/// use plugrack_api::compat::{check_api_compatibility, ApiIncompatibility, ApiVersion};
///
/// let host = ApiVersion::parse("1.4.0").unwrap();
/// assert!(check_api_compatibility(host, "1.0.3").is_ok());
/// assert!(matches!(
///     check_api_compatibility(host, "2.0.0"),
///     Err(ApiIncompatibility::PluginTooNew { .. })
/// ));
/// ```
pub fn check_api_compatibility(host: ApiVersion, plugin: &str) -> Result<(), ApiIncompatibility> {
    let plugin_version =
        ApiVersion::parse(plugin).ok_or_else(|| ApiIncompatibility::Unparseable {
            found: plugin.to_owned(),
        })?;
    if plugin_version.major < host.major {
        return Err(ApiIncompatibility::PluginTooOld {
            plugin: plugin_version,
            host,
        });
    }
    if plugin_version.major > host.major || plugin_version.minor > host.minor {
        return Err(ApiIncompatibility::PluginTooNew {
            plugin: plugin_version,
            host,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_rule_table() {
        let cases: &[(&str, &str, &str)] = &[
            // host, plugin, verdict
            ("1.0.0", "1.0.0", "ok"),
            ("1.4.2", "1.0.0", "ok"),
            ("1.4.2", "1.4.9", "ok"),
            ("1.4.0", "1.5.0", "new"),
            ("1.4.0", "2.0.0", "new"),
            ("2.0.0", "1.9.0", "old"),
            ("1.0.0", "1.0.0-rc.1", "ok"),
            ("1.0.0", "1.0", "bad"),
            ("1.0.0", "one", "bad"),
            ("1.0.0", "1.0.0.0", "bad"),
        ];
        for (host, plugin, verdict) in cases {
            let got = match check_api_compatibility(ApiVersion::parse(host).unwrap(), plugin) {
                Ok(()) => "ok",
                Err(ApiIncompatibility::PluginTooNew { .. }) => "new",
                Err(ApiIncompatibility::PluginTooOld { .. }) => "old",
                Err(ApiIncompatibility::Unparseable { .. }) => "bad",
            };
            assert_eq!(got, *verdict, "host {host}, plugin {plugin}");
        }
    }

    #[test]
    fn current_version_parses() {
        assert_eq!(ApiVersion::current().to_string(), crate::API_VERSION);
    }
}
