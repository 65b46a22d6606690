//! Reading a plugin's descriptor from its `Cargo.toml`: `[package]` fields plus the
//! `[package.metadata.plugin]` table, with the defaults.
//!
//! ```toml
//! [package.metadata.plugin]
//! id = "com.example.my-plugin"   # default: the package name
//! name = "My plugin"             # default: the package name
//! host-version = ">=1.0, <2"     # default: "*"
//! target-os = ["linux"]          # default: ["linux"]
//! bundle = ["libgreet.so.1"]     # native libraries to ship in the package (default: none)
//! ```
//!
//! `bundle` is not part of the descriptor (the plugin's binaries do not carry it): `plugin-build`
//! reads it with [`bundle`] to put those libraries in the package; [`read`] only checks it, so
//! that a bad entry fails the build as early as any other key.
//!
//! The export macro calls [`read`] with cargo's `CARGO_PKG_*` values and the table from the
//! file; `plugin-build` calls it with `cargo metadata`'s. Either way the same rules and the same
//! defaults apply, and an unknown key is an error (a typo would otherwise be silently ignored).

use std::fmt;

use crate::{host_version, id, target_os, Descriptor};

/// The keys `[package.metadata.plugin]` may hold.
pub const KNOWN_KEYS: &[&str] = &["id", "name", "host-version", "target-os", "bundle"];

/// `[package.metadata.plugin]` as a type: every key it may hold ([`KNOWN_KEYS`]) with its
/// type. [`read`] applies the rules and defaults; this type is what the JSON Schema
/// (`docs/schema/package-metadata-plugin.json`, the `schema` feature) is generated from, and a
/// test keeps its keys equal to [`KNOWN_KEYS`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[cfg_attr(
    feature = "schema",
    schemars(
        title = "[package.metadata.plugin]",
        description = "A plugrack plugin's descriptor keys in its Cargo.toml; `[package]` gives the version, description, authors, homepage and license."
    )
)]
pub struct MetadataTable {
    /// The plugin id (default: the package name).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Unique id in a host: letters, digits, `.`, `_`, `-`, not starting with `.` (default: the package name).",
            regex(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
        )
    )]
    pub id: Option<String>,
    /// The display name (default: the package name).
    #[cfg_attr(
        feature = "schema",
        schemars(description = "Display name (default: the package name).")
    )]
    pub name: Option<String>,
    /// The host-version requirement (default: `*`).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "The host application versions supported: a semver requirement such as `>=1.0.0, <2.0.0` (default: `*`)."
        )
    )]
    pub host_version: Option<String>,
    /// The operating systems (default: `["linux"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Operating systems supported (default: `[\"linux\"]`; empty means any).",
            schema_with = "crate::schema::optional_target_os_list"
        )
    )]
    pub target_os: Option<Vec<String>>,
    /// The native libraries to ship in the package (default: none; [`bundle`] reads them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Native libraries to ship in the package, as the plugin links them (`[\"libgreet.so.1\"]`; plain file names; default: none).",
            schema_with = "crate::schema::library_names"
        )
    )]
    pub bundle: Option<Vec<String>>,
}

/// The `[package]` fields a descriptor takes (workspace inheritance already resolved).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PackageFields {
    /// `name`.
    pub name: String,
    /// `version`.
    pub version: String,
    /// `description`.
    pub description: String,
    /// `authors`.
    pub authors: Vec<String>,
    /// `homepage`, if set.
    pub homepage: Option<String>,
    /// `repository`, if set (the home page when no `homepage` is set).
    pub repository: Option<String>,
    /// `license`.
    pub license: String,
}

/// A descriptor read from `Cargo.toml`: everything but the plugrack-api version, which is the
/// one the plugin's binaries are compiled against and only known there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Authors.
    pub authors: Vec<String>,
    /// Home page.
    pub homepage: String,
    /// License.
    pub license: String,
    /// Host-version requirement.
    pub host_version: String,
    /// Operating systems.
    pub target_os: Vec<String>,
}

impl Metadata {
    /// The full descriptor, for binaries built against plugrack-api `api_version`.
    pub fn into_descriptor(self, api_version: &str) -> Descriptor {
        Descriptor {
            id: self.id,
            name: self.name,
            version: self.version,
            description: self.description,
            authors: self.authors,
            homepage: self.homepage,
            license: self.license,
            host_version: self.host_version,
            target_os: self.target_os,
            api_version: api_version.to_owned(),
        }
    }
}

/// What is wrong with a plugin's `Cargo.toml`. The messages name the key and the fix; the
/// caller adds which file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// `[package.metadata.plugin]` is not a table.
    NotATable {
        /// The TOML type found.
        found: String,
    },
    /// A key this toolkit does not know.
    UnknownKey {
        /// The key.
        key: String,
    },
    /// A key that must be a string.
    NotAString {
        /// The key.
        key: &'static str,
        /// The TOML type found.
        found: String,
    },
    /// An id that breaks [`id::is_valid`].
    InvalidId {
        /// The id.
        id: String,
    },
    /// A version that is not semver.
    InvalidVersion {
        /// The version.
        version: String,
    },
    /// A host-version that is not a semver requirement.
    InvalidHostVersion(host_version::InvalidRequirement),
    /// `target-os` is not an array.
    TargetOsNotAnArray {
        /// The TOML type found.
        found: String,
    },
    /// `target-os` names a system this toolkit does not know.
    UnknownOs {
        /// What it holds.
        found: String,
    },
    /// `bundle` is not an array of strings.
    BundleNotAList {
        /// What it holds.
        found: String,
    },
    /// A `bundle` entry that is not a plain library file name (`libfoo.so.1`).
    BundleBadName {
        /// The entry.
        name: String,
    },
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotATable { found } => {
                write!(f, "`[package.metadata.plugin]` must be a table, found a {found}")
            }
            Self::UnknownKey { key } => write!(
                f,
                "unknown key `{key}` in `[package.metadata.plugin]`; expected one of: {}",
                KNOWN_KEYS.join(", ")
            ),
            Self::NotAString { key, found } => write!(
                f,
                "`{key}` in `[package.metadata.plugin]` must be a string, found a {found}"
            ),
            Self::InvalidId { id: plugin_id } => write!(
                f,
                "plugin id `{plugin_id}` is not valid: use {} (set `id` in `[package.metadata.plugin]`)",
                id::RULE
            ),
            Self::InvalidVersion { version } => {
                write!(f, "package version `{version}` is not a semver version")
            }
            Self::InvalidHostVersion(e) => write!(f, "host-version {e}"),
            Self::TargetOsNotAnArray { found } => write!(
                f,
                "`target-os` must be an array of strings like [\"linux\"], found a {found}"
            ),
            Self::UnknownOs { found } => write!(
                f,
                "`target-os` holds `{found}`; expected names among: {}",
                target_os::KNOWN.join(", ")
            ),
            Self::BundleNotAList { found } => write!(
                f,
                "`bundle` must be an array of library file names like [\"libfoo.so.1\"], found {found}"
            ),
            Self::BundleBadName { name } => write!(
                f,
                "`bundle` entry `{name}` is not a library file name: give the name the plugin links (`libfoo.so.1`), without a folder"
            ),
        }
    }
}

impl std::error::Error for MetadataError {}

/// Reads the descriptor from `package` and the `[package.metadata.plugin]` value (`None` when
/// the table is absent), applying the defaults and every rule.
pub fn read(
    package: &PackageFields,
    plugin: Option<&toml::Value>,
) -> Result<Metadata, MetadataError> {
    let empty = toml::Table::new();
    let table = match plugin {
        None => &empty,
        Some(toml::Value::Table(t)) => t,
        Some(other) => {
            return Err(MetadataError::NotATable {
                found: other.type_str().into(),
            })
        }
    };
    if let Some(key) = table.keys().find(|k| !KNOWN_KEYS.contains(&k.as_str())) {
        return Err(MetadataError::UnknownKey { key: key.clone() });
    }
    let string = |key: &'static str| -> Result<Option<String>, MetadataError> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(MetadataError::NotAString {
                key,
                found: other.type_str().into(),
            }),
        }
    };

    let plugin_id = string("id")?.unwrap_or_else(|| package.name.clone());
    if !id::is_valid(&plugin_id) {
        return Err(MetadataError::InvalidId { id: plugin_id });
    }
    if semver::Version::parse(&package.version).is_err() {
        return Err(MetadataError::InvalidVersion {
            version: package.version.clone(),
        });
    }
    let host_version = string("host-version")?.unwrap_or_else(|| host_version::DEFAULT.into());
    host_version::parse(&host_version).map_err(MetadataError::InvalidHostVersion)?;
    let target_os = match table.get("target-os") {
        None => target_os::default_list(),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| match v.as_str() {
                Some(os) if target_os::KNOWN.contains(&os) => Ok(os.to_owned()),
                _ => Err(MetadataError::UnknownOs {
                    found: v.to_string(),
                }),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(MetadataError::TargetOsNotAnArray {
                found: other.type_str().into(),
            })
        }
    };
    bundle(Some(&toml::Value::Table(table.clone())))?;
    let homepage = match &package.homepage {
        Some(h) if !h.is_empty() => h.clone(),
        _ => package.repository.clone().unwrap_or_default(),
    };
    Ok(Metadata {
        id: plugin_id,
        name: string("name")?.unwrap_or_else(|| package.name.clone()),
        version: package.version.clone(),
        description: package.description.clone(),
        authors: package.authors.clone(),
        homepage,
        license: package.license.clone(),
        host_version,
        target_os,
    })
}

/// The libraries `[package.metadata.plugin] bundle` names (`plugin` is that table, `None`
/// when absent), in the order given: plain file names, no duplicates kept.
pub fn bundle(plugin: Option<&toml::Value>) -> Result<Vec<String>, MetadataError> {
    let Some(value) = plugin.and_then(|p| p.get("bundle")) else {
        return Ok(Vec::new());
    };
    let not_a_list = || MetadataError::BundleNotAList {
        found: value.to_string(),
    };
    let items = value.as_array().ok_or_else(not_a_list)?;
    let mut names: Vec<String> = Vec::new();
    for item in items {
        let name = item.as_str().ok_or_else(not_a_list)?;
        let plain = crate::manifest::is_plain_file_name(name) && !name.starts_with('.');
        if !plain {
            return Err(MetadataError::BundleBadName { name: name.into() });
        }
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Reads the descriptor from a whole `Cargo.toml` text's `[package.metadata.plugin]`, with the
/// `[package]` fields given (cargo resolves workspace inheritance, so they come from cargo).
pub fn read_manifest_text(
    package: &PackageFields,
    cargo_toml: &str,
) -> Result<Metadata, ManifestTextError> {
    let doc: toml::Table = cargo_toml
        .parse()
        .map_err(|e: toml::de::Error| ManifestTextError::NotToml(e.message().to_owned()))?;
    let section = doc
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("plugin"));
    read(package, section).map_err(ManifestTextError::Metadata)
}

/// Why [`read_manifest_text`] failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestTextError {
    /// The file is not TOML.
    #[error("not valid TOML: {0}")]
    NotToml(String),
    /// A descriptor rule is broken.
    #[error(transparent)]
    Metadata(MetadataError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_type_has_exactly_the_known_keys() {
        let full = MetadataTable {
            id: Some("a".into()),
            name: Some("A".into()),
            host_version: Some("*".into()),
            target_os: Some(vec!["linux".into()]),
            bundle: Some(vec!["libgreet.so.1".into()]),
        };
        let table = toml::Table::try_from(&full).unwrap();
        let mut keys: Vec<&str> = table.keys().map(String::as_str).collect();
        let mut known = KNOWN_KEYS.to_vec();
        keys.sort_unstable();
        known.sort_unstable();
        assert_eq!(
            keys, known,
            "`MetadataTable` (the schema's source) and `KNOWN_KEYS` (what `read` accepts) differ: \
             give `MetadataTable` a field for each key, then regenerate the schema \
             (`PLUGRACK_UPDATE_SCHEMA=1 cargo test -p plugrack-descriptor --test schema`)"
        );
        // What `read` accepts, the type reads too.
        let text = toml::to_string(&full).unwrap();
        assert_eq!(toml::from_str::<MetadataTable>(&text).unwrap(), full);
    }

    fn package() -> PackageFields {
        PackageFields {
            name: "my-plugin".into(),
            version: "1.2.3".into(),
            authors: vec!["A <a@x>".into(), "B <b@x>".into()],
            repository: Some("https://example.org/repo".into()),
            ..PackageFields::default()
        }
    }

    fn check(lines: &str) -> Result<Metadata, String> {
        let text = format!("[package]\nname = \"x\"\n[package.metadata.plugin]\n{lines}\n");
        read_manifest_text(&package(), &text).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_come_from_the_package() {
        let m = read_manifest_text(&package(), "[package]\nname = \"my-plugin\"\n").unwrap();
        assert_eq!(
            (
                m.id.as_str(),
                m.name.as_str(),
                m.version.as_str(),
                m.host_version.as_str()
            ),
            ("my-plugin", "my-plugin", "1.2.3", "*")
        );
        assert_eq!(m.authors, ["A <a@x>", "B <b@x>"]);
        assert_eq!(m.target_os, ["linux"]);
        assert_eq!(
            m.homepage, "https://example.org/repo",
            "the repository when no homepage"
        );
        let d = m.into_descriptor("1.0.0");
        assert_eq!(d.check(), Ok(()));
        assert_eq!(d.api_version, "1.0.0");
    }

    #[test]
    fn set_values_win_over_defaults() {
        let m = check("id = \"com.x\"\nname = \"X\"\nhost-version = \">=1, <2\"\ntarget-os = []")
            .unwrap();
        assert_eq!(
            (m.id.as_str(), m.name.as_str(), m.host_version.as_str()),
            ("com.x", "X", ">=1, <2")
        );
        assert!(m.target_os.is_empty(), "an empty list means any system");
    }

    #[test]
    fn bundle_lists_library_names() {
        let text = "[package]\nname = \"x\"\n[package.metadata.plugin]\nbundle = [\"libgreet.so.1\", \"libz.so.1\", \"libgreet.so.1\"]\n";
        assert!(read_manifest_text(&package(), text).is_ok());
        let doc: toml::Table = text.parse().unwrap();
        let plugin = doc["package"].get("metadata").and_then(|m| m.get("plugin"));
        assert_eq!(bundle(plugin).unwrap(), ["libgreet.so.1", "libz.so.1"]);
        assert_eq!(bundle(None).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn every_mistake_is_refused_with_the_fix() {
        let cases = [
            ("id = \"my plugin\"", "plugin id `my plugin` is not valid"),
            ("id = \".hidden\"", "is not valid"),
            ("host-version = \"one\"", "is not a semver requirement"),
            ("target-os = [\"amiga\"]", "expected names among"),
            ("target-os = \"linux\"", "must be an array of strings"),
            ("colour = \"red\"", "unknown key `colour`"),
            ("id = 7", "must be a string"),
            ("bundle = \"libgreet.so.1\"", "`bundle` must be an array"),
            ("bundle = [1]", "`bundle` must be an array"),
            (
                "bundle = [\"../libgreet.so.1\"]",
                "entry `../libgreet.so.1` is not",
            ),
            ("bundle = [\"lib/libgreet.so.1\"]", "without a folder"),
            ("bundle = [\"..\"]", "is not a library file name"),
        ];
        for (line, expected) in cases {
            let err = check(line).expect_err(line);
            assert!(err.contains(expected), "{line}: {err}");
        }
        let err = read_manifest_text(&package(), "[package\n").unwrap_err();
        assert!(err.to_string().contains("not valid TOML"), "{err}");
        let err = read(&package(), Some(&toml::Value::Integer(3))).unwrap_err();
        assert!(err.to_string().contains("must be a table"), "{err}");
    }
}
