//! Reading `Cargo.lock` files of every format cargo has written (v1 with `[metadata]`
//! checksums, v2, v3, v4) into the flat list of packages that matching needs. Parsing is
//! `cargo-lock`'s job; this module classifies what goes wrong (missing, not TOML, TOML that is
//! not a lockfile) into [`CapError`] variants that name the file. It never writes a lockfile:
//! only cargo does that.

use std::{
    fmt,
    path::{Path, PathBuf},
};

use semver::Version;

use super::error::CapError;

/// Where a locked package comes from, reduced to what matching needs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// crates.io (however the lock spells its index).
    CratesIo,
    /// Another registry, by its source string.
    Registry(String),
    /// A git repository, by its source string (with the commit).
    Git(String),
    /// A path or workspace package (no `source` in the lock).
    Local,
    /// Anything else (local registry, directory source), by its source string.
    Other(String),
}

impl Source {
    fn from_lock(source: Option<&cargo_lock::SourceId>) -> Self {
        let Some(id) = source else {
            return Source::Local;
        };
        let text = id.to_string();
        if id.is_default_registry() {
            Source::CratesIo
        } else if id.is_git() {
            Source::Git(text)
        } else if id.is_path() {
            Source::Local
        } else if text.starts_with("registry+") || text.starts_with("sparse+") {
            Source::Registry(text)
        } else {
            Source::Other(text)
        }
    }

    /// Whether cargo can pin a package from this source with a version requirement.
    pub fn is_registry(&self) -> bool {
        matches!(self, Source::CratesIo | Source::Registry(_))
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::CratesIo => f.write_str("crates.io"),
            Source::Registry(s) | Source::Git(s) | Source::Other(s) => f.write_str(s),
            Source::Local => f.write_str("path"),
        }
    }
}

/// One `[[package]]` of a lockfile.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LockedPackage {
    /// The crate name.
    pub name: String,
    /// The locked version.
    pub version: Version,
    /// Where it comes from.
    pub source: Source,
}

impl fmt::Display for LockedPackage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.version)
    }
}

/// A parsed lockfile.
#[derive(Debug, Clone)]
pub struct Lock {
    /// The file it was read from.
    pub path: PathBuf,
    /// The lockfile format version (1 to 4).
    pub format: u32,
    /// Every package, sorted by name then version.
    pub packages: Vec<LockedPackage>,
}

impl Lock {
    /// Reads and classifies `path`. A missing file is [`CapError::HostLockMissing`]; callers
    /// that read the plugin's lock know it exists.
    pub fn read(path: &Path) -> Result<Self, CapError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                CapError::HostLockMissing {
                    path: path.to_owned(),
                }
            } else {
                CapError::Read {
                    path: path.to_owned(),
                    source,
                }
            }
        })?;
        Self::parse(path, &text)
    }

    /// Parses lockfile text; `path` is only used in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, CapError> {
        let table: toml::Table = toml::from_str(text).map_err(|source| CapError::NotToml {
            path: path.to_owned(),
            source,
        })?;
        let not_a_lock = |found: String| CapError::NotALockfile {
            path: path.to_owned(),
            found,
        };
        match table.get("package") {
            Some(toml::Value::Array(_)) => {}
            Some(toml::Value::Table(_)) => {
                return Err(not_a_lock(
                    "it has a `[package]` table, so it looks like a Cargo.toml manifest".into(),
                ))
            }
            _ if table.contains_key("workspace") => {
                return Err(not_a_lock(
                    "it has a `[workspace]` table, so it looks like a Cargo.toml manifest".into(),
                ))
            }
            _ if table.contains_key("root") => {}
            _ => return Err(not_a_lock("it has no `[[package]]` entries".into())),
        }
        // cargo-lock 10.1 slices checksums by byte index and panics on one of 64 bytes that
        // is not ASCII (found by the `lockfile` fuzz target): check them first.
        if let Some(found) = bad_checksum(&table) {
            return Err(not_a_lock(format!(
                "it has checksum `{found}`, which is not 64 hexadecimal digits"
            )));
        }
        let lock: cargo_lock::Lockfile = text
            .parse()
            .map_err(|e: cargo_lock::Error| not_a_lock(e.to_string()))?;
        let format = match lock.version {
            cargo_lock::ResolveVersion::V1 => 1,
            cargo_lock::ResolveVersion::V2 => 2,
            cargo_lock::ResolveVersion::V3 => 3,
            cargo_lock::ResolveVersion::V4 => 4,
            _ => 0,
        };
        let mut packages: Vec<LockedPackage> = lock
            .root
            .iter()
            .chain(&lock.packages)
            .map(|p| LockedPackage {
                name: p.name.as_str().to_owned(),
                version: p.version.clone(),
                source: Source::from_lock(p.source.as_ref()),
            })
            .collect();
        packages.sort();
        packages.dedup();
        Ok(Lock {
            path: path.to_owned(),
            format,
            packages,
        })
    }

    /// The packages named `name`.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a LockedPackage> + 'a {
        self.packages.iter().filter(move |p| p.name == name)
    }
}

/// The first checksum in the lock (a `[[package]]`'s or a v1 `[metadata]` entry) that is not
/// 64 ASCII hexadecimal digits (`<none>` is allowed in v1 metadata).
fn bad_checksum(table: &toml::Table) -> Option<String> {
    let valid = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let packages = table
        .get("package")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("checksum").and_then(toml::Value::as_str));
    let metadata = table
        .get("metadata")
        .and_then(toml::Value::as_table)
        .into_iter()
        .flatten()
        .filter(|(key, _)| key.starts_with("checksum "))
        .filter_map(|(_, value)| value.as_str())
        .filter(|value| *value != "<none>");
    packages
        .chain(metadata)
        .find(|c| !valid(c))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRATES_IO: &str = "registry+https://github.com/rust-lang/crates.io-index";

    fn v1() -> String {
        format!(
            r#"[[package]]
name = "host"
version = "0.1.0"
dependencies = [
 "serde 1.0.101 ({CRATES_IO})",
 "toml 0.5.3 ({CRATES_IO})",
]

[[package]]
name = "serde"
version = "1.0.101"
source = "{CRATES_IO}"

[[package]]
name = "toml"
version = "0.5.3"
source = "{CRATES_IO}"
dependencies = [
 "serde 1.0.101 ({CRATES_IO})",
]

[metadata]
"checksum serde 1.0.101 ({CRATES_IO})" = "9796c9b7ba2ffe7a9ce53c2287dfc48080f4b2b362fcc245a259b3a7201119dd"
"checksum toml 0.5.3 ({CRATES_IO})" = "c7aabe75941d914b72bf3e5d3932ed92ce0664d49d8432305a8b547c37227724"
"#
        )
    }

    fn modern(version: u32) -> String {
        format!(
            r#"# This file is automatically @generated by Cargo.
version = {version}

[[package]]
name = "host"
version = "0.1.0"
dependencies = [
 "syn 1.0.109",
 "syn 2.0.87",
]

[[package]]
name = "syn"
version = "1.0.109"
source = "{CRATES_IO}"
checksum = "72b64191b275b66ffe2469e8af2c1cfe3bafa67b529ead792a6d0160888b4237"

[[package]]
name = "syn"
version = "2.0.87"
source = "{CRATES_IO}"
checksum = "25aa4ce346d03a6dcd68dd8b4010bcb74e54e62c90c573f394c46eae99aba32d"

[[package]]
name = "vendored"
version = "0.3.0"
source = "git+https://example.invalid/vendored?rev=abc#abc0123"
"#
        )
    }

    #[test]
    fn every_lock_format_reads() {
        let lock = Lock::parse(Path::new("v1.lock"), &v1()).unwrap();
        assert_eq!(lock.format, 1);
        let names: Vec<_> = lock.packages.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["host 0.1.0", "serde 1.0.101", "toml 0.5.3"]);
        assert_eq!(lock.packages[0].source, Source::Local);
        assert_eq!(lock.packages[1].source, Source::CratesIo);
        for version in [3, 4] {
            let lock = Lock::parse(Path::new("x.lock"), &modern(version)).unwrap();
            assert_eq!(lock.format, version);
            assert_eq!(lock.named("syn").count(), 2);
            let git = lock.named("vendored").next().unwrap();
            assert!(matches!(git.source, Source::Git(_)), "{:?}", git.source);
        }
        // v2 has no version line; cargo-lock tells it from v1 by the inline checksums.
        let v2 = modern(4).replace("version = 4\n", "");
        assert_eq!(Lock::parse(Path::new("v2.lock"), &v2).unwrap().format, 2);
    }

    #[test]
    fn bad_inputs_are_classified() {
        let p = Path::new("bad.lock");
        let cases: [(&str, &str); 5] = [
            ("this is = not [toml", "is not a TOML file"),
            (
                "[package]\nname = \"x\"\nversion = \"0.1.0\"\n",
                "looks like a Cargo.toml",
            ),
            ("[workspace]\nmembers = []\n", "looks like a Cargo.toml"),
            ("title = \"hello\"\n", "no `[[package]]` entries"),
            ("[[package]]\nname = \"x\"\n", "is not a Cargo.lock"),
        ];
        for (text, expected) in cases {
            let err = Lock::parse(p, text).unwrap_err();
            assert!(err.to_string().contains(expected), "{text:?}: {err}");
            assert!(err.to_string().contains("bad.lock"), "{err}");
        }
        let missing = Lock::read(Path::new("/nonexistent/Cargo.lock")).unwrap_err();
        assert!(
            matches!(missing, CapError::HostLockMissing { .. }),
            "{missing}"
        );
    }
}
