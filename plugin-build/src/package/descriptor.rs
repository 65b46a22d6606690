//! The plugin's descriptor, read from its `Cargo.toml` through `cargo metadata` (run through
//! [`crate::process`]), with the rules and defaults of `plugrack-descriptor`, the same that
//! `plugrack_sdk::export_plugin!` applies. The plugrack-api version is the one cargo resolved
//! for the plugin (the version its binaries were built against). `package` compares this with
//! the descriptor section of every built library: a difference means a stale build.

use std::path::{Path, PathBuf};

use plugrack_descriptor::metadata::{self, PackageFields};
use plugrack_host::manifest::ManifestPlugin;

use super::PackageError;
use crate::process::CommandLine;

/// The plugin crate being packaged.
#[derive(Debug, Clone)]
pub struct PluginCrate {
    /// The package name (names the built files: `build/<name>-<arch>.so`).
    pub name: String,
    /// The package's `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// The folder of that `Cargo.toml`.
    pub dir: PathBuf,
    /// The descriptor, as `plugin.toml` carries it.
    pub descriptor: ManifestPlugin,
    /// The native libraries `[package.metadata.plugin] bundle` names.
    pub bundle: Vec<String>,
}

/// Finds the package of `manifest_path`, or of the current directory, and reads its descriptor.
pub fn read(manifest_path: Option<&Path>) -> Result<PluginCrate, PackageError> {
    let manifest = match manifest_path {
        Some(path) => std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
        None => {
            let out = CommandLine::new("cargo")
                .args(["locate-project", "--message-format", "plain"])
                .output()
                .map_err(PackageError::Cargo)?;
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
        }
    };
    let out = CommandLine::new("cargo")
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(manifest.to_string_lossy())
        .output()
        .map_err(PackageError::Cargo)?;
    let metadata = cargo_metadata::MetadataCommand::parse(String::from_utf8_lossy(&out.stdout))
        .map_err(|e| PackageError::CargoOutput(e.to_string()))?;
    from_metadata(&metadata, &manifest)
}

fn from_metadata(
    metadata: &cargo_metadata::Metadata,
    manifest: &Path,
) -> Result<PluginCrate, PackageError> {
    let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
    let wanted = canonical(manifest);
    let package = metadata
        .packages
        .iter()
        .find(|p| canonical(p.manifest_path.as_std_path()) == wanted)
        .ok_or_else(|| PackageError::NoPackage {
            manifest: manifest.to_owned(),
        })?;
    // The plugrack-api this plugin resolves to: the version its binaries were built against.
    let mut api: Vec<&semver::Version> = metadata
        .packages
        .iter()
        .filter(|p| p.name.as_str() == "plugrack-api")
        .map(|p| &p.version)
        .collect();
    api.sort();
    let api_version =
        api.last()
            .map(|v| v.to_string())
            .ok_or_else(|| PackageError::NoPluginApi {
                package: package.name.to_string(),
                manifest: manifest.to_owned(),
            })?;

    let fields = PackageFields {
        name: package.name.to_string(),
        version: package.version.to_string(),
        description: package.description.clone().unwrap_or_default(),
        authors: package.authors.clone(),
        homepage: package.homepage.clone(),
        repository: package.repository.clone(),
        license: package.license.clone().unwrap_or_default(),
    };
    let table = match &package.metadata["plugin"] {
        serde_json::Value::Null => None,
        json => Some(
            serde_json::from_value::<toml::Value>(json.clone())
                .map_err(|e| PackageError::CargoOutput(e.to_string()))?,
        ),
    };
    let descriptor_error = |problem| PackageError::Descriptor {
        manifest: manifest.to_owned(),
        problem,
    };
    let descriptor = metadata::read(&fields, table.as_ref())
        .map_err(descriptor_error)?
        .into_descriptor(&api_version);
    let bundle = metadata::bundle(table.as_ref()).map_err(descriptor_error)?;
    let manifest_path = package.manifest_path.clone().into_std_path_buf();
    Ok(PluginCrate {
        name: package.name.to_string(),
        dir: manifest_path
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default(),
        manifest_path,
        descriptor,
        bundle,
    })
}
