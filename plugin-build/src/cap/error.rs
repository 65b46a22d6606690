//! [`CapError`]: everything that stops `plugin-build cap`, each variant with the data a person
//! needs (which file, what was expected, what was found) and a [`CapError::hint`] that names
//! the fix. Rendering (human or JSON) lives in [`super::report`].

use std::path::PathBuf;

use crate::process::ProcessError;

/// Why `plugin-build cap` stopped.
#[derive(Debug, thiserror::Error)]
pub enum CapError {
    /// The host lock (or host folder) does not exist.
    #[error("host lockfile `{}` not found", path.display())]
    HostLockMissing {
        /// The path that was looked at.
        path: PathBuf,
    },
    /// The host folder has a `Cargo.toml` but no `Cargo.lock`.
    #[error("host folder `{}` has no `Cargo.lock`", folder.display())]
    HostLockNotGenerated {
        /// The host folder.
        folder: PathBuf,
    },
    /// A lockfile could not be read from disk.
    #[error("cannot read `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A lockfile is not valid TOML.
    #[error("`{}` is not a TOML file", path.display())]
    NotToml {
        /// The file.
        path: PathBuf,
        /// The parser's complaint.
        #[source]
        source: toml::de::Error,
    },
    /// A lockfile is TOML but not a `Cargo.lock`.
    #[error("`{}` is not a Cargo.lock: {found}", path.display())]
    NotALockfile {
        /// The file.
        path: PathBuf,
        /// What it looks like instead.
        found: String,
    },
    /// The plugin folder has no `Cargo.toml`.
    #[error("plugin manifest `{}` not found", path.display())]
    PluginManifestMissing {
        /// The manifest path that was looked at.
        path: PathBuf,
        /// Whether it came from `--manifest-path` (else: the current folder).
        from_flag: bool,
    },
    /// The plugin workspace has no package to carry the temporary version pins.
    #[error("plugin workspace `{}` has no package", manifest.display())]
    NoPluginPackage {
        /// The manifest that was given.
        manifest: PathBuf,
    },
    /// The host builds a crate the plugin shares from git or a local path: cargo cannot pin the
    /// plugin's registry copy to it.
    #[error(
        "host lockfile `{}` takes {} from git or a local path",
        host_lock.display(),
        describe_unshareable(packages)
    )]
    HostUnshareableSource {
        /// The host lock.
        host_lock: PathBuf,
        /// `(name, host source, plugin version)` for each such crate.
        packages: Vec<(String, String, String)>,
    },
    /// `abi_stable` or `plugrack-api` is on another semver line than the host's: the plugin
    /// cannot load in that host whatever else is pinned.
    #[error("{}: this plugin cannot load in that host", describe_abi(mismatches))]
    AbiIncompatible {
        /// Each mismatch.
        mismatches: Vec<AbiMismatch>,
    },
    /// An interface crate (host-defined extension points) is on another semver line than the
    /// host's: the plugin loads, but the host refuses its extensions of that crate.
    #[error("{}: the host will refuse the plugin's extensions of {}", describe_interfaces(mismatches), if mismatches.len() == 1 { "it" } else { "them" })]
    InterfaceIncompatible {
        /// Each mismatch.
        mismatches: Vec<AbiMismatch>,
    },
    /// `--check` found shared crates that differ from the host's versions.
    #[error(
        "{count} shared {} differ{} from the host's `{}`",
        if *count == 1 { "crate" } else { "crates" },
        if *count == 1 { "s" } else { "" },
        host_lock.display()
    )]
    Mismatches {
        /// How many.
        count: usize,
        /// The host lock.
        host_lock: PathBuf,
        /// `--manifest-path`, if one was given.
        manifest_path: Option<PathBuf>,
    },
    /// Some pins were blocked by requirements in the plugin's graph (the others were applied).
    #[error(
        "{count} shared {} could not be pinned to the host's version",
        if *count == 1 { "crate" } else { "crates" }
    )]
    Conflicts {
        /// How many.
        count: usize,
    },
    /// The registry could not be reached (or `--offline` lacks cached index data).
    #[error("cannot reach the package registry while resolving `{}`", manifest.display())]
    RegistryUnreachable {
        /// The plugin manifest being resolved.
        manifest: PathBuf,
        /// Whether `--offline` was given.
        offline: bool,
        /// Cargo's own words.
        #[source]
        source: ProcessError,
    },
    /// Cargo failed for another reason.
    #[error("cargo failed on `{}`", manifest.display())]
    Cargo {
        /// The plugin manifest.
        manifest: PathBuf,
        /// Cargo's own words.
        #[source]
        source: ProcessError,
    },
    /// Cargo resolved, but a pin is not what the lock says afterwards.
    #[error(
        "cargo did not keep `{name}` at {expected} in `{}` (found {found})",
        lock.display()
    )]
    PinNotTaken {
        /// The plugin lock.
        lock: PathBuf,
        /// The crate.
        name: String,
        /// The host's version.
        expected: String,
        /// What the lock holds.
        found: String,
    },
    /// A plugin file could not be changed or restored.
    #[error("cannot write `{}`", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The plugin manifest is not a TOML document we can add the temporary pins to.
    #[error("cannot edit `{}`", path.display())]
    EditManifest {
        /// The manifest.
        path: PathBuf,
        /// Why.
        #[source]
        source: toml_edit::TomlError,
    },
}

/// An ABI crate on another semver line in the plugin than in the host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AbiMismatch {
    /// `abi_stable` or `plugrack-api`.
    pub name: String,
    /// The plugin's version.
    pub plugin: String,
    /// The host's version(s).
    pub host: Vec<String>,
}

fn describe_abi(mismatches: &[AbiMismatch]) -> String {
    mismatches
        .iter()
        .map(|m| {
            format!(
                "plugin uses `{}` {}, the host {}",
                m.name,
                m.plugin,
                m.host.join(" and ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn describe_interfaces(mismatches: &[AbiMismatch]) -> String {
    mismatches
        .iter()
        .map(|m| {
            format!(
                "plugin uses interface crate `{}` {}, the host {}",
                m.name,
                m.plugin,
                m.host.join(" and ")
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn line_requirements(mismatches: &[AbiMismatch]) -> Vec<String> {
    mismatches
        .iter()
        .map(|m| {
            let line = m
                .host
                .first()
                .and_then(|v| semver::Version::parse(v).ok())
                .map(|v| super::line::Line::of(&v).requirement())
                .unwrap_or_default();
            format!("`{} = \"{line}\"`", m.name)
        })
        .collect()
}

fn describe_unshareable(packages: &[(String, String, String)]) -> String {
    packages
        .iter()
        .map(|(name, source, _)| format!("`{name}` ({source})"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl CapError {
    /// The fix, as a sentence with the command to run where there is one.
    pub fn hint(&self) -> String {
        match self {
            CapError::HostLockMissing { .. } => "pass the host's `Cargo.lock`, or the folder that holds it: `plugin-build cap --from ../host/Cargo.lock`".into(),
            CapError::HostLockNotGenerated { folder } => format!(
                "generate it in the host first: `cargo generate-lockfile --manifest-path {}`",
                folder.join("Cargo.toml").display()
            ),
            CapError::Read { .. } => "check the path and its permissions".into(),
            CapError::NotToml { .. } | CapError::NotALockfile { .. } => {
                "pass the host's `Cargo.lock` (written by cargo), not another file".into()
            }
            CapError::PluginManifestMissing { from_flag: true, .. } => {
                "point `--manifest-path` at the plugin's `Cargo.toml` (or its folder)".into()
            }
            CapError::PluginManifestMissing { from_flag: false, .. } => {
                "run in the plugin's folder, or pass `--manifest-path path/to/plugin/Cargo.toml`"
                    .into()
            }
            CapError::NoPluginPackage { .. } => {
                "point `--manifest-path` at the plugin package's `Cargo.toml`".into()
            }
            CapError::HostUnshareableSource { packages, .. } => {
                let names: Vec<_> = packages.iter().map(|(n, _, _)| format!("`{n}`")).collect();
                format!(
                    "build the host with the registry release of {} (cap pins registry crates only), \
                     or give the plugin the same source with a `[patch.crates-io]` entry",
                    names.join(", ")
                )
            }
            CapError::AbiIncompatible { mismatches } => format!(
                "depend on {} (through plugrack-sdk) like the host does, then run cap again",
                line_requirements(mismatches).join(" and ")
            ),
            CapError::InterfaceIncompatible { mismatches } => format!(
                "depend on {} like the host does and implement that version's traits, then run cap again",
                line_requirements(mismatches).join(" and ")
            ),
            CapError::Mismatches {
                host_lock,
                manifest_path,
                ..
            } => format!(
                "run `plugin-build cap --from {}{}` and commit the updated Cargo.lock",
                host_lock.display(),
                manifest_path
                    .as_ref()
                    .map(|m| format!(" --manifest-path {}", m.display()))
                    .unwrap_or_default()
            ),
            CapError::Conflicts { .. } => "relax each requirement listed above so it accepts the host's version (or update the host), then run cap again".into(),
            CapError::RegistryUnreachable { offline: true, .. } => {
                "offline, cargo only picks crate versions already downloaded: run without `--offline`, or `cargo fetch` in the host (or a plugin already capped to it) first".into()
            }
            CapError::RegistryUnreachable { offline: false, .. } => "check the network and proxy settings (`CARGO_HTTP_PROXY`, `.cargo/config.toml` source replacements), or pass `--offline` if the index is cached".into(),
            CapError::Cargo { .. } => "fix what cargo reports above; the plugin's files were left unchanged".into(),
            CapError::PinNotTaken { .. } => "the plugin's files were restored; please report this with the cargo output".into(),
            CapError::Write { .. } => "check the folder's permissions and free space".into(),
            CapError::EditManifest { .. } => "check that the manifest is valid TOML: `cargo metadata --no-deps`".into(),
        }
    }
}
