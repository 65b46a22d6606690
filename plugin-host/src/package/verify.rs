//! Verifying a package: the archive, its manifest, and every file against the manifest.
//!
//! The checks, in order: the archive reads ([`super::archive`]); it holds a `plugin.toml`
//! that parses (the host's [`Manifest`] format, unknown fields refused); the plugin id can
//! name a folder; every entry is listed in the manifest; every target's file is there with
//! the size and SHA-256 the manifest says. A [`Verified`] package is only ever made here.

use std::path::{Path, PathBuf};

use crate::manifest::{self, Manifest, ManifestError, ManifestTarget};

use super::archive::{self, ArchiveError, Entry};

/// Why a package is refused. Each message names the package and says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The archive itself is refused.
    #[error("refusing package `{}`: {problem}\n  hint: make the package again with `plugin-build package` and copy it whole", .path.display())]
    Archive {
        /// The package.
        path: PathBuf,
        /// Why (shown in the message, so not a `source`).
        problem: ArchiveError,
    },
    /// No `plugin.toml` in the archive.
    #[error("refusing package `{}`: it has no `{}`\n  hint: make packages with `plugin-build package`", .path.display(), manifest::FILE_NAME)]
    NoManifest {
        /// The package.
        path: PathBuf,
    },
    /// The manifest cannot be used.
    #[error("refusing package `{}`: {problem}", .path.display())]
    Manifest {
        /// The package.
        path: PathBuf,
        /// Why (shown in the message, so not a `source`).
        problem: ManifestError,
    },
    /// The plugin id cannot name a folder.
    #[error("refusing package `{}`: plugin id `{id}` is not valid (letters, digits, `.`, `_`, `-`)", .path.display())]
    BadId {
        /// The package.
        path: PathBuf,
        /// The id.
        id: String,
    },
    /// A target's file is not in the archive.
    #[error("refusing package `{}`: plugin.toml lists `{file}` for {target}, but the archive does not contain it", .path.display())]
    MissingFile {
        /// The package.
        path: PathBuf,
        /// The target.
        target: String,
        /// The file.
        file: String,
    },
    /// An entry the manifest does not name.
    #[error("refusing package `{}`: entry `{name}` is not listed in plugin.toml", .path.display())]
    UnexpectedEntry {
        /// The package.
        path: PathBuf,
        /// The entry.
        name: String,
    },
    /// A file's size or SHA-256 differs from the manifest.
    #[error("refusing package `{}`: `{file}` does not match plugin.toml\n  expected: {expected}\n     found: {found}\n  hint: the package was changed after `plugin-build package` made it; make it again", .path.display())]
    Checksum {
        /// The package.
        path: PathBuf,
        /// The file.
        file: String,
        /// What the manifest says.
        expected: String,
        /// What the file is.
        found: String,
    },
    /// The package lacks the requested target.
    #[error("package `{}` has no {wanted} build; it has: {available}\n  hint: build and package it: `plugin-build --target {wanted} && plugin-build package`", .path.display())]
    TargetMissing {
        /// The package.
        path: PathBuf,
        /// The requested target.
        wanted: String,
        /// What it has, comma-separated.
        available: String,
    },
}

/// A package whose every entry was checked against its manifest.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The package's path or name, as the messages show it.
    pub path: PathBuf,
    /// The manifest.
    pub manifest: Manifest,
    /// Every entry, `plugin.toml` included.
    pub entries: Vec<Entry>,
}

impl Verified {
    /// The contents of a checked entry.
    pub fn data(&self, name: &str) -> &[u8] {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.data.as_slice())
            .unwrap_or_default()
    }

    /// The manifest's entry for `target` (`amd64`, `386`, `arm-7`, `arm64`), or the refusal
    /// that lists the targets the package has.
    pub fn target(&self, target: &str) -> Result<&ManifestTarget, VerifyError> {
        self.manifest
            .targets
            .get(target)
            .ok_or_else(|| VerifyError::TargetMissing {
                path: self.path.clone(),
                wanted: target.to_owned(),
                available: self
                    .manifest
                    .targets
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// Reads a package's bytes and checks every entry against its manifest. `path` names the
/// package in the messages (a file, or an uploaded file's name).
pub fn verify(path: &Path, bytes: &[u8]) -> Result<Verified, VerifyError> {
    let entries = archive::read(bytes).map_err(|problem| VerifyError::Archive {
        path: path.to_owned(),
        problem,
    })?;
    let text = entries
        .iter()
        .find(|e| e.name == manifest::FILE_NAME)
        .ok_or_else(|| VerifyError::NoManifest {
            path: path.to_owned(),
        })?;
    let manifest = Manifest::parse(&String::from_utf8_lossy(&text.data)).map_err(|problem| {
        VerifyError::Manifest {
            path: path.to_owned(),
            problem,
        }
    })?;
    let id = &manifest.plugin.id;
    if !is_folder_name(id) {
        return Err(VerifyError::BadId {
            path: path.to_owned(),
            id: id.clone(),
        });
    }
    for entry in &entries {
        let listed = entry.name == manifest::FILE_NAME
            || manifest.targets.values().any(|t| t.file == entry.name);
        if !listed {
            return Err(VerifyError::UnexpectedEntry {
                path: path.to_owned(),
                name: entry.name.clone(),
            });
        }
    }
    for (target, listed) in &manifest.targets {
        let entry = entries
            .iter()
            .find(|e| e.name == listed.file)
            .ok_or_else(|| VerifyError::MissingFile {
                path: path.to_owned(),
                target: target.clone(),
                file: listed.file.clone(),
            })?;
        let sha256 = manifest::sha256_hex(&entry.data);
        let size = entry.data.len() as u64;
        if size != listed.size || sha256 != listed.sha256 {
            return Err(VerifyError::Checksum {
                path: path.to_owned(),
                file: listed.file.clone(),
                expected: format!("{} bytes, sha256 {}", listed.size, listed.sha256),
                found: format!("{size} bytes, sha256 {sha256}"),
            });
        }
    }
    Ok(Verified {
        path: path.to_owned(),
        manifest,
        entries,
    })
}

/// True for a plugin id that can name a folder: the id rule excludes separators and a
/// leading dot (a hidden folder).
fn is_folder_name(id: &str) -> bool {
    manifest::is_plain_file_name(id) && plugrack_descriptor::id::is_valid(id)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::{
        manifest::{ManifestPlugin, FORMAT},
        package::archive::tests::tar_gz,
    };

    fn manifest(id: &str, so: &[u8]) -> String {
        Manifest {
            format: FORMAT,
            plugin: ManifestPlugin {
                id: id.into(),
                name: "P".into(),
                version: "0.1.0".into(),
                description: String::new(),
                authors: vec![],
                homepage: String::new(),
                license: String::new(),
                host_version: "*".into(),
                target_os: vec![],
                api_version: "1.0.0".into(),
            },
            targets: BTreeMap::from([(
                "amd64".into(),
                ManifestTarget {
                    file: "p-amd64.so".into(),
                    size: so.len() as u64,
                    sha256: manifest::sha256_hex(so),
                },
            )]),
        }
        .to_toml()
    }

    #[test]
    fn a_good_package_verifies_and_every_bad_one_is_refused() {
        let so = b"\x7fELF pretend".as_slice();
        let good = manifest("p", so);
        let path = Path::new("p.plg");
        let verified = verify(
            path,
            &tar_gz(&[("plugin.toml", good.as_bytes()), ("p-amd64.so", so)]),
        )
        .unwrap();
        assert_eq!(verified.data("p-amd64.so"), so);
        assert_eq!(verified.target("amd64").unwrap().file, "p-amd64.so");
        let missing = verified.target("arm64").unwrap_err().to_string();
        assert!(
            missing.contains("has no arm64 build; it has: amd64"),
            "{missing}"
        );

        let bad_id = manifest(".hidden", so);
        type Files<'a> = &'a [(&'a str, &'a [u8])];
        let cases: [(Files, &str); 6] = [
            (&[("p-amd64.so", so)], "it has no `plugin.toml`"),
            (
                &[("plugin.toml", b"format = 1")],
                "not a valid plugin manifest",
            ),
            (
                &[("plugin.toml", bad_id.as_bytes()), ("p-amd64.so", so)],
                "plugin id `.hidden` is not valid",
            ),
            (
                &[
                    ("plugin.toml", good.as_bytes()),
                    ("p-amd64.so", so),
                    ("x", b""),
                ],
                "entry `x` is not listed",
            ),
            (
                &[("plugin.toml", good.as_bytes())],
                "lists `p-amd64.so` for amd64, but the archive does not contain it",
            ),
            (
                &[("plugin.toml", good.as_bytes()), ("p-amd64.so", b"changed")],
                "`p-amd64.so` does not match plugin.toml",
            ),
        ];
        for (entries, expected) in cases {
            let err = verify(path, &tar_gz(entries)).unwrap_err().to_string();
            assert!(err.starts_with("refusing package `p.plg`: "), "{err}");
            assert!(err.contains(expected), "expected `{expected}`: {err}");
        }
        let err = verify(path, b"not gzip").unwrap_err().to_string();
        assert!(
            err.contains("damaged or truncated") && err.contains("hint:"),
            "{err}"
        );
    }
}
