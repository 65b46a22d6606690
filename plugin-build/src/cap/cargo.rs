//! How `cap` calls cargo: which binary, `--offline`, and telling a registry that cannot be
//! reached apart from other cargo failures. The processes themselves run through
//! [`crate::process`].

use std::path::Path;

use super::error::CapError;
use crate::process::{CommandLine, ProcessError};

/// The cargo to run and the flags every call shares.
#[derive(Debug, Clone)]
pub struct Cargo {
    program: String,
    offline: bool,
}

impl Cargo {
    /// `$CARGO` when set (cargo sets it for the commands it runs), else `cargo` from `PATH`.
    pub fn new(offline: bool) -> Self {
        let program = std::env::var("CARGO")
            .ok()
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "cargo".into());
        Cargo { program, offline }
    }

    /// Whether `--offline` is passed to cargo.
    pub fn offline(&self) -> bool {
        self.offline
    }

    /// `cargo [--offline] ARGS...`: `--offline` goes before the subcommand, as a global flag,
    /// so that callers can append arguments freely.
    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(&self, args: I) -> CommandLine {
        let cmd = CommandLine::new(self.program.clone());
        let cmd = if self.offline {
            cmd.arg("--offline")
        } else {
            cmd
        };
        cmd.args(args)
    }

    /// Maps a failed cargo run to [`CapError::RegistryUnreachable`] when cargo says it could
    /// not fetch the index, else to [`CapError::Cargo`].
    pub fn classify(&self, manifest: &Path, source: ProcessError) -> CapError {
        let text = source.to_string();
        if is_network_failure(&text) {
            CapError::RegistryUnreachable {
                manifest: manifest.to_owned(),
                offline: self.offline,
                source,
            }
        } else {
            CapError::Cargo {
                manifest: manifest.to_owned(),
                source,
            }
        }
    }
}

impl Cargo {
    /// A resolver failure that is not a conflict: offline, cargo only picks versions whose
    /// crates are downloaded, so it is [`CapError::RegistryUnreachable`]; online, it is a plain
    /// [`CapError::Cargo`].
    pub fn classify_unresolvable(&self, manifest: &Path, source: ProcessError) -> CapError {
        if self.offline {
            CapError::RegistryUnreachable {
                manifest: manifest.to_owned(),
                offline: true,
                source,
            }
        } else {
            self.classify(manifest, source)
        }
    }
}

/// Cargo's wording when the registry (or its offline cache) cannot answer.
pub fn is_network_failure(stderr: &str) -> bool {
    const MARKERS: &[&str] = &[
        "failed to query replaced source registry",
        "failed to download",
        "failed to fetch",
        "download of config.json failed",
        "Couldn't connect to server",
        "Could not resolve host",
        "failed to get successful HTTP response",
        "spurious network error",
        "network failure",
        "failed to load source for dependency",
        "attempting to make an HTTP request, but --offline was specified",
        "you're using offline mode",
    ];
    MARKERS.iter().any(|m| stderr.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_failures_are_recognised() {
        let table = [
            ("error: failed to get `serde` as a dependency of package `p`\n\nCaused by:\n  failed to query replaced source registry `crates-io`\n\nCaused by:\n  download of config.json failed\n\nCaused by:\n  [7] Couldn't connect to server", true),
            ("error: no matching package named `serde` found\nlocation searched: crates.io index\nAs a reminder, you're using offline mode (--offline) which can sometimes cause surprising resolution failures", true),
            ("error: failed to select a version for `serde`.", false),
        ];
        for (text, expected) in table {
            assert_eq!(is_network_failure(text), expected, "{text}");
        }
    }

    #[test]
    fn offline_is_a_global_flag() {
        let cmd = Cargo {
            program: "cargo".into(),
            offline: true,
        }
        .command(["update", "--workspace"]);
        assert_eq!(cmd.to_string(), "cargo --offline update --workspace");
    }
}
