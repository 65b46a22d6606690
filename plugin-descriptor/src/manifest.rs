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
//! [source]                     # only in packages built by `plugin-build from-git`
//! git = "https://example.org/showcase.git"
//! commit = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
//!
//! [targets.amd64]
//! file = "showcase-amd64.so"
//! size = 4242
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//!
//! # native libraries the plugin bundles (`[package.metadata.plugin] bundle`), stored in the
//! # package as `lib/amd64/<file>` and deployed beside the plugin as `lib/<file>`
//! [[targets.amd64.libs]]
//! file = "libgreet.so.1"
//! size = 15640
//! sha256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[cfg_attr(
    feature = "schema",
    schemars(
        title = "plugin.toml",
        description = "The manifest of a plugrack plugin package (`.plg`) and of a deployed plugin folder, written by `plugin-build package`."
    )
)]
pub struct Manifest {
    /// The manifest format number ([`FORMAT`]).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "The manifest format number; this schema describes format 1.",
            range(min = 1, max = 1)
        )
    )]
    pub format: u32,
    /// The plugin's descriptor, as stamped into its binaries.
    pub plugin: ManifestPlugin,
    /// Where the package was built from, for a package `plugin-build from-git` made (the
    /// `[source]` table); absent for a package built from a local folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ManifestSource>,
    /// One entry per built target, keyed by target name (`amd64`, `386`, `arm-7`, `arm64`).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "One entry per built target, keyed by target name (`amd64`, `386`, `arm-7`, `arm64`)."
        )
    )]
    pub targets: BTreeMap<String, ManifestTarget>,
}

/// The descriptor part of a manifest (the `[plugin]` table).
pub type ManifestPlugin = Descriptor;

/// One built target in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ManifestTarget {
    /// The shared object's file name, next to the manifest.
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "The shared object's file name, next to the manifest (a plain name: no `/`, no `..`).",
            regex(pattern = r"^[^/\\\x00]+$")
        )
    )]
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[0-9a-f]{64}$")))]
    pub sha256: String,
    /// The native libraries bundled for this target (none for most plugins): stored as
    /// `lib/<target>/<file>` in a package and as `lib/<file>` in a deployed plugin folder,
    /// where the plugin's `$ORIGIN/lib` run path finds them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "The native libraries bundled for this target (none for most plugins): `lib/<target>/<file>` in a package, `lib/<file>` in a deployed plugin folder."
        )
    )]
    pub libs: Vec<ManifestLib>,
}

/// One bundled native library of a target (a `[[targets.<name>.libs]]` entry).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ManifestLib {
    /// The library's file name, as the plugin's `DT_NEEDED` names it (`libgreet.so.1`).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "The library's file name, as the plugin's `DT_NEEDED` names it (`libgreet.so.1`; a plain name).",
            regex(pattern = r"^[^/\\\x00]+$")
        )
    )]
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lowercase hex.
    #[cfg_attr(feature = "schema", schemars(regex(pattern = r"^[0-9a-f]{64}$")))]
    pub sha256: String,
}

/// The folder of a plugin folder (and, with the target, of a package) that holds bundled
/// libraries; the plugin's run path names it as `$ORIGIN/lib`.
pub const LIB_DIR: &str = "lib";

/// The name of a bundled library of `target` inside a package: `lib/<target>/<file>`.
pub fn package_lib_name(target: &str, file: &str) -> String {
    format!("{LIB_DIR}/{target}/{file}")
}

/// The git source a package was built from (the `[source]` table): enough to build the same
/// package again with `plugin-build from-git GIT --rev COMMIT [--subdir SUBDIR]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ManifestSource {
    /// The repository's URL, as given to `plugin-build from-git` but without credentials
    /// (a user name and password in the URL are never recorded).
    pub git: String,
    /// The commit built: its full object id, lowercase hex (40 digits, 64 in a SHA-256
    /// repository).
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = r"^([0-9a-f]{40}|[0-9a-f]{64})$"))
    )]
    pub commit: String,
    /// The plugin crate's folder in the repository, relative to its root, when it is not the
    /// root (`/`-separated, no `..`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        // Segments that are neither `.` nor `..`, joined by `/` (no look-ahead: editors'
        // regex engines differ).
        schemars(regex(pattern = r"^(?:[^./\\\x00][^/\\\x00]*|\.[^./\\\x00][^/\\\x00]*|\.\.[^/\\\x00]+)(?:/(?:[^./\\\x00][^/\\\x00]*|\.[^./\\\x00][^/\\\x00]*|\.\.[^/\\\x00]+))*$"))
    )]
    pub subdir: Option<String>,
}

impl ManifestSource {
    /// What is wrong with this source, if anything: a commit that is not a full object id, or
    /// a subdir that is absolute or climbs out of the repository.
    pub fn problem(&self) -> Option<String> {
        if !is_object_id(&self.commit) {
            return Some(format!(
                "`source.commit` is `{}`; expected a full commit id (40 or 64 lowercase hex digits)",
                self.commit
            ));
        }
        if let Some(subdir) = &self.subdir {
            if !is_relative_subdir(subdir) {
                return Some(format!(
                    "`source.subdir` is `{subdir}`; expected a relative folder without `..`"
                ));
            }
        }
        None
    }
}

/// True for a full git object id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits.
pub fn is_object_id(text: &str) -> bool {
    matches!(text.len(), 40 | 64)
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// True for a relative, `/`-separated folder inside a repository: not empty, not absolute, no
/// `..` or `.` component, no backslash or NUL.
pub fn is_relative_subdir(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains(['\\', '\0'])
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
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
    /// A `[source]` table whose commit or subdir breaks its rule.
    BadSource {
        /// What is wrong, naming the field.
        problem: String,
    },
    /// A file name that would escape the folder (`..`, `/`).
    UnsafeFileName {
        /// The target.
        target: String,
        /// The file name.
        file: String,
    },
    /// A bundled library listed twice for one target.
    DuplicateLib {
        /// The target.
        target: String,
        /// The library's file name.
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
            Self::BadSource { problem } => write!(f, "{problem}"),
            Self::UnsafeFileName { target, file } => {
                write!(
                    f,
                    "target `{target}` names file `{file}`, which is not a plain file name"
                )
            }
            Self::DuplicateLib { target, file } => {
                write!(f, "target `{target}` lists bundled library `{file}` twice")
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
        if let Some(problem) = manifest.source.as_ref().and_then(ManifestSource::problem) {
            return Err(ManifestError::BadSource { problem });
        }
        for (target, entry) in &manifest.targets {
            if !is_plain_file_name(&entry.file) {
                return Err(ManifestError::UnsafeFileName {
                    target: target.clone(),
                    file: entry.file.clone(),
                });
            }
            for (i, lib) in entry.libs.iter().enumerate() {
                if !is_plain_file_name(&lib.file) {
                    return Err(ManifestError::UnsafeFileName {
                        target: target.clone(),
                        file: lib.file.clone(),
                    });
                }
                if entry.libs[..i].iter().any(|l| l.file == lib.file) {
                    return Err(ManifestError::DuplicateLib {
                        target: target.clone(),
                        file: lib.file.clone(),
                    });
                }
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
            source: None,
            targets: BTreeMap::from([(
                "amd64".into(),
                ManifestTarget {
                    file: "showcase-amd64.so".into(),
                    size: 3,
                    sha256: sha256_hex(b"abc"),
                    libs: Vec::new(),
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

        // A package built from git records where from; the table is optional and checked.
        let mut from_git = sample();
        from_git.source = Some(ManifestSource {
            git: "https://example.org/showcase.git".into(),
            commit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
            subdir: Some("plugins/showcase".into()),
        });
        let text = from_git.to_toml();
        assert!(text.contains("[source]\ngit = "), "{text}");
        assert_eq!(Manifest::parse(&text).unwrap(), from_git);
        for (field, bad) in [
            ("commit", "commit = \"4b825dc\""),
            ("subdir", "subdir = \"../outside\""),
            ("subdir", "subdir = \"/etc\""),
        ] {
            let key = bad.split(' ').next().unwrap();
            let line = text.lines().find(|l| l.starts_with(key)).unwrap();
            let broken = text.replace(line, bad);
            assert!(
                matches!(Manifest::parse(&broken), Err(ManifestError::BadSource { ref problem }) if problem.contains(&format!("source.{field}"))),
                "{broken}"
            );
        }
        assert!(is_relative_subdir("a/b-c"));
        for bad in ["", "a//b", "./a", "a/..", "a\\b"] {
            assert!(!is_relative_subdir(bad), "{bad}");
        }

        assert!(matches!(
            Manifest::parse("not toml ["),
            Err(ManifestError::Invalid { .. })
        ));
    }

    #[test]
    fn bundled_libraries_round_trip_and_bad_names_are_refused() {
        let lib = ManifestLib {
            file: "libgreet.so.1".into(),
            size: 3,
            sha256: sha256_hex(b"abc"),
        };
        let mut with_libs = sample();
        with_libs.targets.get_mut("amd64").unwrap().libs = vec![lib.clone()];
        let text = with_libs.to_toml();
        assert!(text.contains("[[targets.amd64.libs]]"), "{text}");
        assert_eq!(Manifest::parse(&text).unwrap(), with_libs);
        assert!(
            !sample().to_toml().contains("libs"),
            "no libs, no key: packages without bundled libraries keep their bytes"
        );
        assert_eq!(
            package_lib_name("arm64", "libgreet.so.1"),
            "lib/arm64/libgreet.so.1"
        );

        let escaping = text.replace("\"libgreet.so.1\"", "\"../libgreet.so.1\"");
        assert!(matches!(
            Manifest::parse(&escaping),
            Err(ManifestError::UnsafeFileName { file, .. }) if file == "../libgreet.so.1"
        ));
        let mut twice = with_libs.clone();
        twice.targets.get_mut("amd64").unwrap().libs = vec![lib.clone(), lib];
        let err = Manifest::parse(&twice.to_toml()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "target `amd64` lists bundled library `libgreet.so.1` twice"
        );
        let unknown = text.replace(
            "file = \"libgreet.so.1\"",
            "file = \"libgreet.so.1\"\nmode = 7",
        );
        assert!(matches!(
            Manifest::parse(&unknown),
            Err(ManifestError::Invalid { message }) if message.contains("mode")
        ));
    }
}
