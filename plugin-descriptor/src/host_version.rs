//! The host-version requirement: which versions of the host application a plugin supports,
//! written as a semver requirement (`>=1.2, <2`); `*` (the default) accepts every host.

use std::fmt;

/// The default requirement when `Cargo.toml` states none.
pub const DEFAULT: &str = "*";

/// A requirement that is not a semver requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRequirement {
    /// The text.
    pub requirement: String,
    /// The semver parser's reason.
    pub reason: String,
}

impl fmt::Display for InvalidRequirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a semver requirement ({}); write it like `>=1.0, <2`",
            self.requirement, self.reason
        )
    }
}

impl std::error::Error for InvalidRequirement {}

/// Parses a requirement.
pub fn parse(requirement: &str) -> Result<semver::VersionReq, InvalidRequirement> {
    semver::VersionReq::parse(requirement).map_err(|e| InvalidRequirement {
        requirement: requirement.to_owned(),
        reason: e.to_string(),
    })
}

/// Whether a host at `host` satisfies `requirement`: `Ok(true)`, `Ok(false)`, or the
/// requirement's syntax error.
///
/// ```
/// use plugrack_descriptor::host_version::accepts;
/// let host = semver::Version::new(1, 4, 0);
/// assert_eq!(accepts(">=1.2, <2", &host), Ok(true));
/// assert_eq!(accepts(">=2", &host), Ok(false));
/// assert!(accepts("one", &host).is_err());
/// ```
pub fn accepts(requirement: &str, host: &semver::Version) -> Result<bool, InvalidRequirement> {
    Ok(parse(requirement)?.matches(host))
}
