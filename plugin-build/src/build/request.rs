//! Target resolution: turns the `--target` values (names, aliases, triples, `all`, repeated or
//! comma-separated) into an ordered list of [`Target`]s without duplicates, and checks the
//! `--glibc` floor. What to do with them is left to the backends.

use std::fmt;

use crate::targets::{self, Target, TARGETS};

use super::BuildError;

/// Resolves `--target` values. No value means the machine's own target (like cargo).
pub fn resolve_targets(values: &[String]) -> Result<Vec<Target>, BuildError> {
    let mut out: Vec<Target> = Vec::new();
    for value in values.iter().map(|v| v.trim()).filter(|v| !v.is_empty()) {
        if value.eq_ignore_ascii_case("all") {
            out.extend(TARGETS);
        } else {
            out.push(
                targets::find(value).ok_or_else(|| BuildError::UnknownTarget {
                    name: value.to_owned(),
                })?,
            );
        }
    }
    if out.is_empty() {
        // The machine's own target; on a machine that is none of the four, ask for one.
        out.push(targets::host().ok_or_else(|| BuildError::UnknownTarget {
            name: std::env::consts::ARCH.to_owned(),
        })?);
    }
    // `all` and explicit lists build in the table's order, so output is stable.
    out.sort_by_key(|t| TARGETS.iter().position(|x| x == t));
    out.dedup();
    Ok(out)
}

/// A glibc version floor, `MAJOR.MINOR`, as cargo-zigbuild takes it in the target suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct GlibcVersion {
    /// Major version (2).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
}

impl GlibcVersion {
    /// Parses `2.17`.
    pub fn parse(value: &str) -> Result<Self, BuildError> {
        let bad = || BuildError::BadGlibc {
            value: value.to_owned(),
        };
        let (major, minor) = value.trim().split_once('.').ok_or_else(bad)?;
        let major = major.parse().map_err(|_| bad())?;
        let minor = minor.parse().map_err(|_| bad())?;
        if major != 2 {
            return Err(bad());
        }
        Ok(Self { major, minor })
    }
}

impl fmt::Display for GlibcVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Joins target names for messages: `arm64, arm-7`.
pub fn names(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(values: &[&str]) -> Result<Vec<&'static str>, String> {
        let values: Vec<String> = values.iter().map(|s| s.to_string()).collect();
        resolve_targets(&values)
            .map(|ts| ts.into_iter().map(|t| t.name).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn target_lists() {
        let ok: &[(&[&str], &[&str])] = &[
            (&["arm64"], &["arm64"]),
            (&["aarch64", "arm64"], &["arm64"]),
            (&["all"], &["amd64", "386", "arm-7", "arm64"]),
            (&["arm64", "all"], &["amd64", "386", "arm-7", "arm64"]),
            (&["arm64", "i686"], &["386", "arm64"]),
            (&["armv7", " x86_64 "], &["amd64", "arm-7"]),
            (&["ALL"], &["amd64", "386", "arm-7", "arm64"]),
            (&[], &["amd64"]),
        ];
        for (input, expected) in ok {
            assert_eq!(resolve(input).as_deref(), Ok(*expected), "{input:?}");
        }
        let err = resolve(&["arm64", "sparc"]).unwrap_err();
        assert!(err.contains("unknown target `sparc`"), "{err}");
    }

    #[test]
    fn glibc_versions() {
        assert_eq!(
            GlibcVersion::parse("2.17").unwrap(),
            GlibcVersion {
                major: 2,
                minor: 17
            }
        );
        assert_eq!(GlibcVersion::parse("2.31").unwrap().to_string(), "2.31");
        for bad in ["2", "2.x", "3.1", "", "2.17.1", "glibc-2.17"] {
            assert!(GlibcVersion::parse(bad).is_err(), "{bad}");
        }
        assert!(GlibcVersion::parse("2.17").unwrap() < GlibcVersion::parse("2.28").unwrap());
    }
}
