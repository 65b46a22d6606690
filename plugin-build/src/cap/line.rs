//! Semver-compatible lines: the unit in which cargo keeps one version of a crate per lockfile
//! and in which `cap` matches plugin and host. Same major for 1.x and up, same minor for 0.x,
//! same patch for 0.0.x (cargo's caret rule).

use std::fmt;

use semver::Version;

/// The semver-compatible line of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Line {
    /// `x.*` for x >= 1.
    Major(u64),
    /// `0.y.*` for y >= 1.
    Minor(u64),
    /// `0.0.z`.
    Patch(u64),
}

impl Line {
    /// The line `version` belongs to. Pre-release and build metadata do not matter.
    pub fn of(version: &Version) -> Self {
        match (version.major, version.minor, version.patch) {
            (0, 0, patch) => Line::Patch(patch),
            (0, minor, _) => Line::Minor(minor),
            (major, _, _) => Line::Major(major),
        }
    }

    /// A caret requirement that accepts exactly this line, e.g. `0.11`.
    pub fn requirement(&self) -> String {
        match self {
            Line::Major(m) => format!("{m}"),
            Line::Minor(m) => format!("0.{m}"),
            Line::Patch(p) => format!("0.0.{p}"),
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Line::Major(m) => write!(f, "{m}.x"),
            Line::Minor(m) => write!(f, "0.{m}.x"),
            Line::Patch(p) => write!(f, "0.0.{p}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_cargos_caret_rule() {
        // (a, b, same line?)
        let table = [
            ("1.0.0", "1.99.3", true),
            ("1.0.229", "1.0.150", true),
            ("1.0.0", "2.0.0", false),
            ("0.11.3", "0.11.0", true),
            ("0.11.3", "0.10.7", false),
            ("0.4.8", "0.4.22", true),
            ("0.0.3", "0.0.3", true),
            ("0.0.3", "0.0.4", false),
            ("1.0.0-rc.1", "1.2.0", true),
            ("0.2.0+build", "0.2.9", true),
        ];
        for (a, b, same) in table {
            let (va, vb) = (Version::parse(a).unwrap(), Version::parse(b).unwrap());
            assert_eq!(Line::of(&va) == Line::of(&vb), same, "{a} vs {b}");
        }
    }

    #[test]
    fn requirement_accepts_the_line() {
        for v in ["0.11.3", "1.4.0", "0.0.7"] {
            let v = Version::parse(v).unwrap();
            let req = semver::VersionReq::parse(&Line::of(&v).requirement()).unwrap();
            assert!(req.matches(&v), "{v}");
        }
    }
}
