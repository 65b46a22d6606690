//! `plugin.toml`: the package manifest that `plugin-build package` writes (and signs, with
//! `--sign`), `plugin-build deploy` verifies, and the host reads from a deployed plugin folder.
//!
//! The format is part of the toolkit's stable surface: it carries a format number, rejects
//! unknown fields (a newer format is refused with a clear message rather than half-read),
//! and lists, per target, the shared object's file name, size and SHA-256. A signature of the
//! manifest's exact bytes, in minisign's format, travels beside it as
//! [`SIGNATURE_FILE_NAME`]: since the manifest lists every library's SHA-256, signing it signs
//! the libraries too.
//!
//! ```toml
//! format = 1
//!
//! [plugin]
//! id = "showcase"
//! name = "Showcase"
//! version = "1.2.0"
//! description = "Exercises every capability"
//! authors = ["Team <team@example.org>"]
//! homepage = ""
//! license = "MIT"
//! host-version = ">=1.0.0, <2.0.0"
//! target-os = ["linux"]
//! api-version = "1.0.0"
//!
//! [targets.amd64]
//! file = "showcase-amd64.so"
//! size = 4242
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! ```

use std::{collections::BTreeMap, fmt, path::Path};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Descriptor;

/// The format number this build reads and writes.
pub const FORMAT: u32 = 1;

/// The file name of the manifest inside a package and a deployed plugin folder.
pub const FILE_NAME: &str = "plugin.toml";

/// The file name of the manifest's signature (minisign's `<file>.minisig` convention).
pub const SIGNATURE_FILE_NAME: &str = "plugin.toml.minisig";

/// A package manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The manifest format number ([`FORMAT`]).
    pub format: u32,
    /// The plugin's descriptor, as stamped into its binaries.
    pub plugin: ManifestPlugin,
    /// One entry per built target, keyed by target name (`amd64`, `386`, `arm-7`, `arm64`).
    pub targets: BTreeMap<String, ManifestTarget>,
}

/// The descriptor part of a manifest (the `[plugin]` table).
pub type ManifestPlugin = Descriptor;

/// One built target in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestTarget {
    /// The shared object's file name, next to the manifest.
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
}

/// A manifest that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// Not valid TOML, or fields missing, unknown or of the wrong type.
    Invalid {
        /// The parser's message, naming the field.
        message: String,
    },
    /// A format this build does not know.
    UnsupportedFormat {
        /// The manifest's format number.
        found: u32,
    },
    /// A file name that would escape the folder (`..`, `/`).
    UnsafeFileName {
        /// The target.
        target: String,
        /// The file name.
        file: String,
    },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid { message } => {
                write!(f, "not a valid plugin manifest: {}", message.trim())
            }
            Self::UnsupportedFormat { found } => {
                write!(f, "manifest format {found} is newer than this tool reads (format {FORMAT}); update the tool")
            }
            Self::UnsafeFileName { target, file } => {
                write!(
                    f,
                    "target `{target}` names file `{file}`, which is not a plain file name"
                )
            }
        }
    }
}

impl std::error::Error for ManifestError {}

impl Manifest {
    /// Parses and checks manifest text.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        // Read the format first, so a newer format says so instead of failing on a field.
        if let Ok(table) = text.parse::<toml::Table>() {
            if let Some(found) = table.get("format").and_then(toml::Value::as_integer) {
                if found != i64::from(FORMAT) {
                    return Err(ManifestError::UnsupportedFormat {
                        found: found.try_into().unwrap_or(u32::MAX),
                    });
                }
            }
        }
        let manifest: Manifest = toml::from_str(text).map_err(|e| ManifestError::Invalid {
            message: e.to_string(),
        })?;
        for (target, entry) in &manifest.targets {
            if !is_plain_file_name(&entry.file) {
                return Err(ManifestError::UnsafeFileName {
                    target: target.clone(),
                    file: entry.file.clone(),
                });
            }
        }
        Ok(manifest)
    }

    /// The manifest as TOML text, with a stable field order.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a manifest always serialises")
    }
}

/// True for a name without separators, `..` or leading dot-dot tricks.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}

/// The SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    Ok(sha256_hex(&std::fs::read(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT,
            plugin: ManifestPlugin {
                id: "showcase".into(),
                name: "Showcase".into(),
                version: "1.2.0".into(),
                description: "d".into(),
                authors: vec!["A <a@example.org>".into()],
                homepage: String::new(),
                license: "MIT".into(),
                host_version: ">=1.0.0, <2.0.0".into(),
                target_os: vec!["linux".into()],
                api_version: "1.0.0".into(),
            },
            targets: BTreeMap::from([(
                "amd64".into(),
                ManifestTarget {
                    file: "showcase-amd64.so".into(),
                    size: 3,
                    sha256: sha256_hex(b"abc"),
                },
            )]),
        }
    }

    #[test]
    fn round_trips_and_refuses_bad_input() {
        let text = sample().to_toml();
        assert_eq!(Manifest::parse(&text).unwrap(), sample());
        assert_eq!(
            sample().targets["amd64"].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );

        let unknown = text.replace("[plugin]\n", "[plugin]\ncolour = \"red\"\n");
        assert!(
            matches!(Manifest::parse(&unknown), Err(ManifestError::Invalid { message }) if message.contains("colour"))
        );
        let newer = text.replace("format = 1", "format = 2");
        assert_eq!(
            Manifest::parse(&newer),
            Err(ManifestError::UnsupportedFormat { found: 2 })
        );
        let escaping = text.replace("file = \"showcase-amd64.so\"", "file = \"../evil.so\"");
        assert!(matches!(
            Manifest::parse(&escaping),
            Err(ManifestError::UnsafeFileName { .. })
        ));
        assert!(matches!(
            Manifest::parse("not toml ["),
            Err(ManifestError::Invalid { .. })
        ));
    }
}
