//! The error value that crosses the boundary: a kind and a message.

use std::fmt;

use abi_stable::{std_types::RString, StableAbi};

/// What went wrong, as an open set of numbered kinds.
///
/// This is a struct around an integer rather than an enum so that later 1.x versions can add
/// kinds without breaking plugins or hosts built against earlier ones: a kind this build does
/// not know is shown as `kind N`.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorKind(pub u32);

impl ErrorKind {
    /// The operation failed for a reason given in the message.
    pub const FAILED: Self = Self(1);
    /// The caller passed something the plugin cannot accept.
    pub const INVALID_INPUT: Self = Self(2);
    /// The plugin does not offer this capability or route.
    pub const UNSUPPORTED: Self = Self(3);
    /// The thing asked for does not exist.
    pub const NOT_FOUND: Self = Self(4);
    /// The plugin panicked; the message carries the panic message and location.
    pub const PANICKED: Self = Self(5);
    /// A host service is not available in this context (for example storage outside an instance).
    pub const UNAVAILABLE: Self = Self(6);
    /// A configuration was refused by the plugin's validation.
    pub const INVALID_CONFIG: Self = Self(7);

    /// A short lowercase name, stable across versions, for logs and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Self::FAILED => "failed",
            Self::INVALID_INPUT => "invalid input",
            Self::UNSUPPORTED => "unsupported",
            Self::NOT_FOUND => "not found",
            Self::PANICKED => "panicked",
            Self::UNAVAILABLE => "unavailable",
            Self::INVALID_CONFIG => "invalid config",
            _ => "unknown",
        }
    }
}

impl fmt::Debug for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            "unknown" => write!(f, "ErrorKind({})", self.0),
            name => write!(f, "ErrorKind({name})"),
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            "unknown" => write!(f, "kind {}", self.0),
            name => f.write_str(name),
        }
    }
}

/// An error returned by a plugin or by a host service.
#[repr(C)]
#[derive(StableAbi, Clone, PartialEq, Eq)]
pub struct PluginError {
    /// What kind of failure this is.
    pub kind: ErrorKind,
    /// A human-readable explanation, without a trailing period.
    pub message: RString,
}

impl PluginError {
    /// An error of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<RString>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Debug for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginError")
            .field("kind", &self.kind)
            .field("message", &self.message.as_str())
            .finish()
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl std::error::Error for PluginError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_kinds_still_display() {
        assert_eq!(ErrorKind(99).to_string(), "kind 99");
        assert_eq!(ErrorKind::PANICKED.to_string(), "panicked");
        let err = PluginError::new(ErrorKind::FAILED, "disk full");
        assert_eq!(err.to_string(), "failed: disk full");
    }
}
