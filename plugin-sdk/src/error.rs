//! The error type plugin authors return, and its conversion to the boundary's error.

use std::fmt;

use plugrack_api::{ErrorKind, PluginError};

/// An error a plugin returns to the host: a kind and a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    /// The [`ErrorKind`]'s number, widened to a whole word. In `Result<Values>` (the return
    /// type of every `execute`) an error's kind shares its bytes with the map's length; as a
    /// `u32` the compiler moved that word as two halves and then read the length back
    /// whole, a store-forwarding stall that took over a third of a no-op call's time (perf,
    /// on the call benchmark). A word-sized kind is moved and read as one word.
    kind: u64,
    message: String,
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A failure of the given kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind: kind.0.into(),
            message: message.into(),
        }
    }

    /// A general failure.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::FAILED, message)
    }

    /// The caller's input was not acceptable.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::INVALID_INPUT, message)
    }

    /// The thing asked for does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NOT_FOUND, message)
    }

    /// A configuration was refused.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::INVALID_CONFIG, message)
    }

    /// The operation is not offered.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::UNSUPPORTED, message)
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        // Only `new` and `From<PluginError>` set it, from a `u32`.
        ErrorKind(self.kind as u32)
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind())
            .field("message", &self.message)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind(), self.message)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self::failed(message)
    }
}

impl From<&str> for Error {
    fn from(message: &str) -> Self {
        Self::failed(message)
    }
}

impl From<std::io::Error> for Error {
    fn from(err: std::io::Error) -> Self {
        Self::failed(err.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(err: serde_json::Error) -> Self {
        Self::invalid_input(err.to_string())
    }
}

impl From<PluginError> for Error {
    fn from(err: PluginError) -> Self {
        Self::new(err.kind, err.message)
    }
}

impl From<Error> for PluginError {
    fn from(err: Error) -> Self {
        PluginError::new(err.kind(), err.message)
    }
}
