//! What the host decided about each extension a plugin lists: the report entry, its status,
//! and the refusal in at most three lines with a fix.

use std::{fmt, path::PathBuf};

use serde::Serialize;

/// Why the host refused one of a plugin's extensions; the plugin's other extensions and its
/// capabilities are not affected.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionRefusal {
    /// A version string is not `major.minor.patch`.
    BadVersion {
        /// The text.
        found: String,
    },
    /// The plugin implements another major version than the host's.
    OtherMajor {
        /// The plugin's version.
        plugin: String,
        /// The host's version.
        host: String,
    },
    /// The plugin implements a newer minor version than the host's.
    TooNew {
        /// The plugin's version.
        plugin: String,
        /// The host's version.
        host: String,
    },
    /// The same version on both sides, another layout: built against a modified copy.
    LayoutMismatch {
        /// The version both claim.
        version: String,
    },
    /// The plugin's constructor failed or panicked.
    ConstructFailed {
        /// The plugin's message.
        message: String,
    },
    /// The plugin lists the same extension point in one version twice.
    Duplicate,
    /// The plugin runs in a worker process: a typed handle is a call through the library's
    /// own vtable, which only works with the library mapped into the host.
    OutOfProcess,
}

impl ExtensionRefusal {
    /// A short stable name, for JSON output and matching.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadVersion { .. } => "bad-version",
            Self::OtherMajor { .. } => "other-major",
            Self::TooNew { .. } => "too-new",
            Self::LayoutMismatch { .. } => "layout-mismatch",
            Self::ConstructFailed { .. } => "construct-failed",
            Self::Duplicate => "duplicate",
            Self::OutOfProcess => "out-of-process",
        }
    }
}

/// A refused extension: which plugin, which extension point, which interface crate, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionError {
    /// The plugin file or folder.
    pub path: PathBuf,
    /// The plugin's id.
    pub plugin: String,
    /// The extension point's id.
    pub extension: String,
    /// The interface crate the extension point comes from, as the host has it.
    pub interface: String,
    /// Why.
    pub refusal: ExtensionRefusal,
    /// abi_stable's full report for a layout mismatch, for debugging.
    pub detail: Option<String>,
}

impl ExtensionError {
    /// What to do about it, as one line with the command where there is one.
    pub fn fix(&self) -> String {
        let crate_name = &self.interface;
        match &self.refusal {
            ExtensionRefusal::BadVersion { .. } | ExtensionRefusal::Duplicate => format!(
                "rebuild the plugin with the released `{crate_name}` and plugrack-sdk; report it to the plugin's authors if it persists"
            ),
            ExtensionRefusal::OtherMajor { host, .. } => format!(
                "rebuild the plugin against `{crate_name}` {}.x, the host's line: `plugin-build cap --from <host>/Cargo.lock`",
                host.split('.').next().unwrap_or(host)
            ),
            ExtensionRefusal::TooNew { host, .. } => format!(
                "update the host, or rebuild the plugin against `{crate_name}` {host}: `plugin-build cap --from <host>/Cargo.lock`"
            ),
            ExtensionRefusal::LayoutMismatch { .. } => format!(
                "rebuild against the released `{crate_name}`, not a modified copy (or bump its version): `plugin-build cap --from <host>/Cargo.lock`"
            ),
            ExtensionRefusal::ConstructFailed { .. } => {
                "see the plugin's log; report it to the plugin's authors".into()
            }
            ExtensionRefusal::OutOfProcess => format!(
                "run `{}` in process: `HostConfig::plugin_isolation(\"{}\", Isolation::InProcess)`, or `--isolation in-process`",
                self.plugin, self.plugin
            ),
        }
    }

    /// The middle line: what the host has and what the plugin has.
    pub fn cause(&self) -> String {
        let crate_name = &self.interface;
        match &self.refusal {
            ExtensionRefusal::BadVersion { found } => {
                format!("the plugin gives its version as `{found}`, which is not major.minor.patch")
            }
            ExtensionRefusal::OtherMajor { plugin, host } | ExtensionRefusal::TooNew { plugin, host } => {
                format!("the plugin implements {plugin}; this host provides {host} (`{crate_name}`)")
            }
            ExtensionRefusal::LayoutMismatch { version } => format!(
                "its `{crate_name}` {version} interface differs from this host's {version}: same version, another layout"
            ),
            ExtensionRefusal::ConstructFailed { message } => {
                format!("the plugin could not create it: {message}")
            }
            ExtensionRefusal::Duplicate => "the plugin lists this version of it twice".into(),
            ExtensionRefusal::OutOfProcess => format!(
                "the plugin runs in a worker process; `{crate_name}` handles call into the library directly, so they need it in the host's process"
            ),
        }
    }
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "extension refused: `{}` of plugin `{}` ({})",
            self.extension,
            self.plugin,
            self.path.display()
        )?;
        writeln!(f, "  {}", self.cause())?;
        write!(f, "  fix: {}", self.fix())
    }
}

impl std::error::Error for ExtensionError {}

/// What became of one extension a plugin lists.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionStatus {
    /// Checked and created: handles are available.
    Active,
    /// Refused; the plugin's other extensions and capabilities are unaffected.
    Refused(Box<ExtensionError>),
    /// This host declares no extension point with this id (not checked, not created).
    Undeclared,
    /// The plugin lists another version of the same extension point, which the host uses.
    Superseded {
        /// The version in use.
        by: String,
    },
}

impl ExtensionStatus {
    /// `active`, `refused`, `undeclared` or `superseded`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Refused(_) => "refused",
            Self::Undeclared => "undeclared",
            Self::Superseded { .. } => "superseded",
        }
    }
}

impl fmt::Display for ExtensionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Active => f.write_str("active"),
            Self::Refused(e) => write!(f, "refused: {}", e.cause()),
            Self::Undeclared => f.write_str("undeclared: this host has no such extension point"),
            Self::Superseded { by } => write!(f, "superseded: version {by} is used"),
        }
    }
}

/// Whether the host compared this extension's layout with its own, or trusted the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutCheck {
    /// Not needed: refused earlier, superseded, or undeclared.
    NotRun,
    /// abi_stable's check ran, taking this long.
    Checked {
        /// Microseconds.
        micros: u64,
    },
    /// This library content passed before (in this process, or in the cache folder).
    Cached,
}

impl LayoutCheck {
    /// `not-run`, `checked` or `cached`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NotRun => "not-run",
            Self::Checked { .. } => "checked",
            Self::Cached => "cached",
        }
    }
}

/// One extension a plugin lists, and the host's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionReport {
    /// The extension point's id.
    pub id: String,
    /// The version the plugin implements.
    pub version: String,
    /// The interface crate and version the plugin was built against (`text-pipeline-api 1.0.0`),
    /// as its layout records it.
    pub interface: String,
    /// The version this host provides, when it declares the extension point.
    pub host_version: Option<String>,
    /// Whether it is in use.
    pub status: ExtensionStatus,
    /// How its layout was judged.
    pub layout_check: LayoutCheck,
}

impl ExtensionReport {
    /// The refusal, for a refused extension.
    pub fn error(&self) -> Option<&ExtensionError> {
        match &self.status {
            ExtensionStatus::Refused(e) => Some(e),
            _ => None,
        }
    }
}

/// The JSON form: `{"id", "version", "interface", "host_version", "status", "layout_check",
/// "layout_check_us", "error"}`.
impl Serialize for ExtensionReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ExtensionReport", 8)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("version", &self.version)?;
        s.serialize_field("interface", &self.interface)?;
        s.serialize_field("host_version", &self.host_version)?;
        s.serialize_field("status", self.status.name())?;
        s.serialize_field("layout_check", self.layout_check.name())?;
        let micros = match self.layout_check {
            LayoutCheck::Checked { micros } => Some(micros),
            _ => None,
        };
        s.serialize_field("layout_check_us", &micros)?;
        let error = self.error().map(|e| {
            serde_json::json!({
                "code": e.refusal.code(),
                "message": e.to_string(),
                "cause": e.cause(),
                "fix": e.fix(),
            })
        });
        s.serialize_field("error", &error)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_three_lines_naming_both_sides_and_the_fix() {
        let cases = [
            ExtensionRefusal::OtherMajor {
                plugin: "2.0.0".into(),
                host: "1.1.0".into(),
            },
            ExtensionRefusal::TooNew {
                plugin: "1.4.0".into(),
                host: "1.1.0".into(),
            },
            ExtensionRefusal::LayoutMismatch {
                version: "1.1.0".into(),
            },
            ExtensionRefusal::ConstructFailed {
                message: "boom".into(),
            },
            ExtensionRefusal::BadVersion { found: "x".into() },
            ExtensionRefusal::Duplicate,
            ExtensionRefusal::OutOfProcess,
        ];
        for refusal in cases {
            let error = ExtensionError {
                path: "plugins/p.so".into(),
                plugin: "p".into(),
                extension: "text-pipeline.formatter".into(),
                interface: "text-pipeline-api".into(),
                refusal: refusal.clone(),
                detail: None,
            };
            let text = error.to_string();
            assert_eq!(text.lines().count(), 3, "{text}");
            assert!(
                text.starts_with(
                    "extension refused: `text-pipeline.formatter` of plugin `p` (plugins/p.so)"
                ),
                "{text}"
            );
            assert!(
                text.lines().nth(2).unwrap().starts_with("  fix: "),
                "{text}"
            );
            if let ExtensionRefusal::OtherMajor { .. } = refusal {
                assert!(
                    text.contains("implements 2.0.0; this host provides 1.1.0"),
                    "{text}"
                );
                assert!(text.contains("`text-pipeline-api` 1.x"), "{text}");
            }
        }
    }
}
