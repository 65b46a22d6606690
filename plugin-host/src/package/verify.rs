//! Verifying a package: the archive, its manifest, and every file against the manifest.
//!
//! The checks, in order: the archive reads ([`super::archive`]); it holds a `plugin.toml`
//! that parses (the host's [`Manifest`] format, unknown fields refused); under a trust policy
//! ([`verify_with`]), its signature `plugin.toml.minisig` verifies with a trusted key; the
//! plugin id can name a folder; every entry is listed in the manifest; every target's file, and
//! every bundled library (`lib/<target>/<file>`), is there with the size and SHA-256 the
//! manifest says. A [`Verified`] package is only ever made
//! here. [`check_descriptors`] also compares each library's descriptor section with the
//! manifest (`plugin-build deploy` does; the host does it anyway when it loads the plugin).

use std::path::{Path, PathBuf};

use plugrack_descriptor::compare::Field;

use crate::{
    manifest::{self, Manifest, ManifestError, ManifestTarget},
    trust::{self, SignatureInfo, Signer, TrustError, TrustPolicy},
};

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
    /// Refused by the trust policy: unsigned, signed by another key, or changed after signing.
    #[error("refusing package `{}`: {problem}\n  hint: {}", .path.display(), .problem.fix())]
    Trust {
        /// The package.
        path: PathBuf,
        /// Why (shown in the message, so not a `source`).
        problem: TrustError,
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
    /// A file's size differs from the manifest.
    #[error("refusing package `{}`: `{file}` is {found} bytes, plugin.toml says {expected}\n  hint: the package was changed after `plugin-build package` made it; make it again", .path.display())]
    Size {
        /// The package.
        path: PathBuf,
        /// The file.
        file: String,
        /// What the manifest says.
        expected: u64,
        /// What the file is.
        found: u64,
    },
    /// A file's SHA-256 differs from the manifest.
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
    /// A library's descriptor section describes another plugin than `plugin.toml` does.
    #[error("refusing package `{}`: plugin.toml says {field} `{manifest}`, the descriptor section of `{file}` says `{library}`\n  hint: the package was changed after `plugin-build package` made it, or made from a stale build; build and package it again", .path.display())]
    DescriptorMismatch {
        /// The package.
        path: PathBuf,
        /// The library.
        file: String,
        /// The field that differs.
        field: &'static str,
        /// The manifest's value.
        manifest: String,
        /// The section's value.
        library: String,
    },
    /// A library's descriptor section cannot be read.
    #[error("refusing package `{}`: the descriptor section of `{file}` is not usable: {problem}\n  hint: build and package it again", .path.display())]
    BadSection {
        /// The package.
        path: PathBuf,
        /// The library.
        file: String,
        /// What is wrong.
        problem: String,
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
    /// Every entry, `plugin.toml` (and its signature) included.
    pub entries: Vec<Entry>,
    /// Who signed `plugin.toml`, as the signature claims (not verified without a trust policy).
    pub signature: Option<SignatureInfo>,
    /// The trusted key that verified the signature, under a trust policy.
    pub signer: Option<Signer>,
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

/// Reads a package's bytes and checks every entry against its manifest, requiring no
/// signature. `path` names the package in the messages (a file, or an uploaded file's name).
pub fn verify(path: &Path, bytes: &[u8]) -> Result<Verified, VerifyError> {
    verify_with(path, bytes, &TrustPolicy::default())
}

/// [`verify`] under a trust policy: with trusted keys, `plugin.toml` must carry a signature
/// by one of them that matches its bytes.
pub fn verify_with(
    path: &Path,
    bytes: &[u8],
    policy: &TrustPolicy,
) -> Result<Verified, VerifyError> {
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
    let signature_text = entries
        .iter()
        .find(|e| e.name == manifest::SIGNATURE_FILE_NAME)
        .map(|e| String::from_utf8_lossy(&e.data).into_owned());
    let trust_error = |problem| VerifyError::Trust {
        path: path.to_owned(),
        problem,
    };
    // The signature covers the manifest's exact bytes, so it is checked before they are read.
    let signer = policy
        .check(&text.data, signature_text.as_deref())
        .map_err(trust_error)?;
    let signature = match &signature_text {
        Some(text) => Some(trust::signature_info(text).map_err(trust_error)?),
        None => None,
    };
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
            || entry.name == manifest::SIGNATURE_FILE_NAME
            || manifest.targets.iter().any(|(name, t)| {
                t.file == entry.name
                    || t.libs
                        .iter()
                        .any(|l| manifest::package_lib_name(name, &l.file) == entry.name)
            });
        if !listed {
            return Err(VerifyError::UnexpectedEntry {
                path: path.to_owned(),
                name: entry.name.clone(),
            });
        }
    }
    for (target, listed) in &manifest.targets {
        check_file(
            path,
            &entries,
            target,
            &listed.file,
            listed.size,
            &listed.sha256,
        )?;
        for lib in &listed.libs {
            let name = manifest::package_lib_name(target, &lib.file);
            check_file(path, &entries, target, &name, lib.size, &lib.sha256)?;
        }
    }
    Ok(Verified {
        path: path.to_owned(),
        manifest,
        entries,
        signature,
        signer,
    })
}

/// Checks that the entry `name` is in the archive with the size and SHA-256 plugin.toml lists.
fn check_file(
    path: &Path,
    entries: &[Entry],
    target: &str,
    name: &str,
    expected_size: u64,
    expected_sha256: &str,
) -> Result<(), VerifyError> {
    let entry =
        entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| VerifyError::MissingFile {
                path: path.to_owned(),
                target: target.to_owned(),
                file: name.to_owned(),
            })?;
    let size = entry.data.len() as u64;
    if size != expected_size {
        return Err(VerifyError::Size {
            path: path.to_owned(),
            file: name.to_owned(),
            expected: expected_size,
            found: size,
        });
    }
    let sha256 = manifest::sha256_hex(&entry.data);
    if sha256 != expected_sha256 {
        return Err(VerifyError::Checksum {
            path: path.to_owned(),
            file: name.to_owned(),
            expected: format!("sha256 {expected_sha256}"),
            found: format!("sha256 {sha256}"),
        });
    }
    Ok(())
}

/// Checks that every library's descriptor section (where it has one) describes the plugin
/// that `plugin.toml` describes: what `plugin-build deploy` checks on top of [`verify`]. A
/// host application that installs a package anyway learns of a mismatch when it loads the
/// plugin (the host refuses it before `dlopen`).
pub fn check_descriptors(verified: &Verified) -> Result<(), VerifyError> {
    for listed in verified.manifest.targets.values() {
        check_section(
            &verified.path,
            &listed.file,
            verified.data(&listed.file),
            &verified.manifest,
        )?;
    }
    Ok(())
}

/// Checks one library's section against the manifest. Libraries that are not object files are
/// left to the host's checks.
fn check_section(
    path: &Path,
    file: &str,
    data: &[u8],
    manifest: &Manifest,
) -> Result<(), VerifyError> {
    let section = match plugrack_descriptor::elf::read(data) {
        Ok(Some(section)) => section,
        Ok(None) | Err(plugrack_descriptor::elf::ReadError::NotObject(_)) => return Ok(()),
        Err(plugrack_descriptor::elf::ReadError::Section(problem)) => {
            return Err(VerifyError::BadSection {
                path: path.to_owned(),
                file: file.to_owned(),
                problem: problem.to_string(),
            })
        }
    };
    // The fields a host decides on: a package whose plugin.toml and library name another
    // plugin or release, or promise other hosts or systems, is refused. The display fields
    // (name, description, ...) are not compared here: the host shows the root module's, and
    // at load it compares those with the section itself (`precheck::agree`).
    let found = manifest
        .plugin
        .fields()
        .first_difference_among(&section.fields(), &Field::DECIDING);
    match found {
        None => Ok(()),
        Some(d) => Err(VerifyError::DescriptorMismatch {
            path: path.to_owned(),
            file: file.to_owned(),
            field: d.field,
            manifest: d.this,
            library: d.other,
        }),
    }
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
            source: None,
            targets: BTreeMap::from([(
                "amd64".into(),
                ManifestTarget {
                    file: "p-amd64.so".into(),
                    size: so.len() as u64,
                    sha256: manifest::sha256_hex(so),
                    libs: Vec::new(),
                },
            )]),
        }
        .to_toml()
    }

    /// Every manifest these tests make follows the committed schema
    /// (`docs/schema/plugin.toml.json`, generated from the same types).
    fn follows_the_schema(text: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema/plugin.toml.json");
        let schema: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let value: serde_json::Value = toml::from_str(text).unwrap();
        let errors: Vec<String> = jsonschema::validator_for(&schema)
            .unwrap()
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{errors:?}\n  fix: regenerate the schema if the types changed: \
             `PLUGRACK_UPDATE_SCHEMA=1 cargo test -p plugrack-descriptor --test schema`\n{text}"
        );
    }

    #[test]
    fn bundled_libraries_are_checked_and_installed_into_lib() {
        let so = b"\x7fELF pretend".as_slice();
        let lib = b"\x7fELF greet".as_slice();
        let mut parsed = Manifest::parse(&manifest("p", so)).unwrap();
        parsed.targets.get_mut("amd64").unwrap().libs = vec![crate::manifest::ManifestLib {
            file: "libgreet.so.1".into(),
            size: lib.len() as u64,
            sha256: manifest::sha256_hex(lib),
        }];
        let text = parsed.to_toml();
        let path = Path::new("p.plg");
        let name = "lib/amd64/libgreet.so.1";
        let good = tar_gz(&[
            ("plugin.toml", text.as_bytes()),
            ("p-amd64.so", so),
            (name, lib),
        ]);
        let verified = verify(path, &good).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let installed = super::super::install(&verified, "amd64", dir.path()).unwrap();
        assert_eq!(installed.libs, ["lib/libgreet.so.1"]);
        assert_eq!(
            std::fs::read(dir.path().join("p/lib/libgreet.so.1")).unwrap(),
            lib
        );

        type Case<'a> = (Vec<(&'a str, &'a [u8])>, &'a str);
        let cases: [Case; 3] = [
            (
                vec![
                    ("plugin.toml", text.as_bytes()),
                    ("p-amd64.so", so),
                    (name, b"\x7fELF greeT"),
                ],
                "`lib/amd64/libgreet.so.1` does not match plugin.toml",
            ),
            (
                vec![("plugin.toml", text.as_bytes()), ("p-amd64.so", so)],
                "lists `lib/amd64/libgreet.so.1` for amd64, but the archive does not contain it",
            ),
            (
                vec![
                    ("plugin.toml", text.as_bytes()),
                    ("p-amd64.so", so),
                    (name, lib),
                    ("lib/amd64/libextra.so.1", lib),
                ],
                "entry `lib/amd64/libextra.so.1` is not listed",
            ),
        ];
        for (entries, expected) in cases {
            let err = verify(path, &tar_gz(&entries)).unwrap_err().to_string();
            assert!(err.contains(expected), "expected `{expected}`: {err}");
        }
    }

    #[test]
    fn a_good_package_verifies_and_every_bad_one_is_refused() {
        let so = b"\x7fELF pretend".as_slice();
        let good = manifest("p", so);
        follows_the_schema(&good);
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
        let cases: [(Files, &str); 8] = [
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
                "`p-amd64.so` is 7 bytes, plugin.toml says 12",
            ),
            (
                &[
                    ("plugin.toml", good.as_bytes()),
                    ("p-amd64.so", b"\x7fELF pretenD"),
                ],
                "`p-amd64.so` does not match plugin.toml",
            ),
            (
                &[
                    ("plugin.toml", good.as_bytes()),
                    ("plugin.toml.minisig", b"not a signature"),
                    ("p-amd64.so", so),
                ],
                "its signature cannot be read",
            ),
        ];
        for (entries, expected) in cases {
            let err = verify(path, &tar_gz(entries)).unwrap_err().to_string();
            assert!(err.starts_with("refusing package `p.plg`: "), "{err}");
            assert!(err.contains(expected), "expected `{expected}`: {err}");
        }
        let policy = TrustPolicy::new(vec![crate::trust::TrustedKey::decode(
            "RWT5dfOBpsRAcy1dI2E12+34jUBqTcbGsff3aM8jUCHvHCQqXC6ybxwi",
            "k.pub",
        )
        .unwrap()]);
        let unsigned = tar_gz(&[("plugin.toml", good.as_bytes()), ("p-amd64.so", so)]);
        let err = verify_with(path, &unsigned, &policy)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("it is not signed") && err.contains("--sign"),
            "{err}"
        );
        let err = verify(path, b"not gzip").unwrap_err().to_string();
        assert!(
            err.contains("damaged or truncated") && err.contains("hint:"),
            "{err}"
        );
    }
}
