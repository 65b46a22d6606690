//! The descriptor itself: what a plugin says about itself, as `plugin.toml`'s `[plugin]` table
//! and the descriptor section carry it, and the field checks a reader applies to one it did not
//! write (a hand-written plugin, a doctored file).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{host_version, id};

/// A plugin's descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[cfg_attr(
    feature = "schema",
    schemars(
        title = "plugin",
        description = "The plugin's descriptor, as stamped into its binaries (the `[plugin]` table)."
    )
)]
pub struct Descriptor {
    /// Unique id ([`id::is_valid`]).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Unique id in a host: letters, digits, `.`, `_`, `-`, not starting with `.`; compared case-insensitively.",
            regex(pattern = r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
        )
    )]
    pub id: String,
    /// Display name.
    #[cfg_attr(feature = "schema", schemars(description = "Display name."))]
    pub name: String,
    /// The plugin's version (semver).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "The plugin's version (semver, e.g. `1.2.0`).",
            regex(pattern = r"^\d+\.\d+\.\d+")
        )
    )]
    pub version: String,
    /// Description.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(description = "Description."))]
    pub description: String,
    /// Authors, as `Name <mail>`.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(description = "Authors, as `Name <mail>`.")
    )]
    pub authors: Vec<String>,
    /// Home page or repository.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(description = "Home page or repository."))]
    pub homepage: String,
    /// SPDX license expression.
    #[serde(default)]
    #[cfg_attr(feature = "schema", schemars(description = "SPDX license expression."))]
    pub license: String,
    /// Host versions supported (a semver requirement, [`host_version`]).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "The host application versions supported: a semver requirement (`*`, `>=1.0.0, <2.0.0`)."
        )
    )]
    pub host_version: String,
    /// Operating systems supported; empty means any ([`crate::target_os`]).
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Operating systems supported (Rust's `std::env::consts::OS` names); empty means any.",
            schema_with = "crate::schema::target_os_list"
        )
    )]
    pub target_os: Vec<String>,
    /// The plugrack-api version the binaries were built against.
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "The plugrack-api version the binaries were built against (semver).",
            regex(pattern = r"^\d+\.\d+\.\d+")
        )
    )]
    pub api_version: String,
}

/// A descriptor field that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorProblem {
    /// The field, as `Cargo.toml` spells it.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl fmt::Display for DescriptorProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "descriptor field `{}` {}", self.field, self.problem)
    }
}

impl std::error::Error for DescriptorProblem {}

impl Descriptor {
    /// Checks the fields a reader can check on its own: the id syntax, the version and the
    /// host-version requirement. (The plugrack-api version is checked against the reader's by
    /// `plugrack_api::compat`.)
    pub fn check(&self) -> Result<(), DescriptorProblem> {
        check_fields(&self.id, &self.version, &self.host_version)
    }
}

/// The field checks of [`Descriptor::check`], for readers holding the fields elsewhere.
pub fn check_fields(
    plugin_id: &str,
    version: &str,
    host_version_req: &str,
) -> Result<(), DescriptorProblem> {
    if !id::is_valid(plugin_id) {
        return Err(DescriptorProblem {
            field: "id",
            problem: format!("`{plugin_id}` may only hold {}", id::RULE),
        });
    }
    if let Err(e) = semver::Version::parse(version) {
        return Err(DescriptorProblem {
            field: "version",
            problem: format!("`{version}` is not a semver version ({e})"),
        });
    }
    if let Err(e) = host_version::parse(host_version_req) {
        return Err(DescriptorProblem {
            field: "host-version",
            problem: format!(
                "`{}` is not a semver requirement ({})",
                e.requirement, e.reason
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Descriptor {
        Descriptor {
            id: "good.id".into(),
            name: "n".into(),
            version: "1.0.0".into(),
            description: String::new(),
            authors: vec![],
            homepage: String::new(),
            license: String::new(),
            host_version: ">=1.2, <2".into(),
            target_os: vec!["linux".into()],
            api_version: "1.0.0".into(),
        }
    }

    #[test]
    fn field_rules_one_by_one() {
        assert_eq!(sample().check(), Ok(()));
        type Case = (fn(&mut Descriptor), &'static str);
        let cases: &[Case] = &[
            (|d| d.id = "bad id".into(), "id"),
            (|d| d.id = String::new(), "id"),
            (|d| d.version = "1.0".into(), "version"),
            (|d| d.host_version = "not a req".into(), "host-version"),
        ];
        for (edit, field) in cases {
            let mut bad = sample();
            edit(&mut bad);
            assert_eq!(bad.check().unwrap_err().field, *field);
        }
    }
}
