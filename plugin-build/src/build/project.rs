//! The plugin package being built: found with `cargo locate-project` / `cargo metadata` (run
//! through [`crate::process`]), so workspaces, `CARGO_TARGET_DIR` and `.cargo/config.toml`
//! are cargo's business, not ours. Also finds the `cross` configuration (Cross.toml or
//! `[workspace.metadata.cross]` / `[package.metadata.cross]`) that the `cross` backend honours.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::process::CommandLine;

use super::BuildError;

/// What the build needs to know about the plugin package.
#[derive(Debug, Clone)]
pub struct Project {
    /// The package name (`-` kept: it names the output files).
    pub name: String,
    /// The package's `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// The folder of that `Cargo.toml`.
    pub package_dir: PathBuf,
    /// The workspace root (equal to `package_dir` for a lone package).
    pub workspace_root: PathBuf,
    /// cargo's target directory.
    pub target_directory: PathBuf,
    /// The library's crate name (`-` replaced by `_`): `lib<crate>.so`.
    pub lib_name: String,
    /// Where the `cross` configuration is, if any.
    pub cross_config: Option<CrossConfig>,
}

/// Where the `cross` backend's configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrossConfig {
    /// A `Cross.toml` file (passed to cross as `CROSS_CONFIG`).
    File(PathBuf),
    /// `[workspace.metadata.cross]` or `[package.metadata.cross]` in this manifest (cross reads
    /// it itself when it runs in the workspace root).
    Metadata(PathBuf),
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_root: PathBuf,
    target_directory: PathBuf,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    manifest_path: PathBuf,
    targets: Vec<CargoTarget>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct CargoTarget {
    name: String,
    crate_types: Vec<String>,
}

#[derive(Deserialize)]
struct Located {
    root: PathBuf,
}

impl Project {
    /// Reads the package at `manifest_path`, or the one the current directory is in.
    pub fn load(manifest_path: Option<&Path>) -> Result<Self, BuildError> {
        let manifest = match manifest_path {
            Some(path) => std::path::absolute(path).map_err(|source| BuildError::Io {
                action: "find",
                path: path.to_owned(),
                source,
            })?,
            None => {
                let out = CommandLine::new("cargo")
                    .args(["locate-project", "--message-format", "json"])
                    .output()
                    .map_err(BuildError::Metadata)?;
                let located: Located = serde_json::from_slice(&out.stdout)
                    .map_err(|e| BuildError::MetadataFormat(e.to_string()))?;
                located.root
            }
        };
        let out = CommandLine::new("cargo")
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--manifest-path",
            ])
            .arg(manifest.to_string_lossy())
            .output()
            .map_err(BuildError::Metadata)?;
        let metadata: Metadata = serde_json::from_slice(&out.stdout)
            .map_err(|e| BuildError::MetadataFormat(e.to_string()))?;
        Self::from_metadata(metadata, &manifest)
    }

    fn from_metadata(metadata: Metadata, manifest: &Path) -> Result<Self, BuildError> {
        let canonical = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
        let wanted = canonical(manifest);
        let package = metadata
            .packages
            .into_iter()
            .find(|p| canonical(&p.manifest_path) == wanted)
            .ok_or_else(|| BuildError::NoPackage {
                manifest: manifest.to_owned(),
            })?;
        let lib = package
            .targets
            .iter()
            .find(|t| t.crate_types.iter().any(|c| c == "cdylib"))
            .ok_or_else(|| BuildError::NotCdylib {
                package: package.name.clone(),
                manifest: package.manifest_path.clone(),
            })?;
        let package_dir = package
            .manifest_path
            .parent()
            .map(Path::to_owned)
            .unwrap_or_default();
        let has_package_cross = package
            .metadata
            .as_ref()
            .and_then(|m| m.get("cross"))
            .is_some();
        let cross_config =
            find_cross_config(&package_dir, &metadata.workspace_root, has_package_cross);
        Ok(Self {
            lib_name: lib.name.replace('-', "_"),
            name: package.name,
            manifest_path: package.manifest_path,
            package_dir,
            workspace_root: metadata.workspace_root,
            target_directory: metadata.target_directory,
            cross_config,
        })
    }

    /// Where cargo leaves the shared object for `triple` and `profile_dir` (`release`/`debug`).
    pub fn artifact_path(&self, triple: &str, profile_dir: &str) -> PathBuf {
        self.target_directory
            .join(triple)
            .join(profile_dir)
            .join(format!("lib{}.so", self.lib_name))
    }
}

/// Finds the cross configuration the way cross does: `Cross.toml` next to the package, then in
/// the workspace root, then `[package.metadata.cross]`, then `[workspace.metadata.cross]`.
fn find_cross_config(
    package_dir: &Path,
    workspace_root: &Path,
    has_package_cross: bool,
) -> Option<CrossConfig> {
    for dir in [package_dir, workspace_root] {
        let file = dir.join("Cross.toml");
        if file.is_file() {
            return Some(CrossConfig::File(file));
        }
    }
    if has_package_cross {
        return Some(CrossConfig::Metadata(package_dir.join("Cargo.toml")));
    }
    let root_manifest = workspace_root.join("Cargo.toml");
    let text = std::fs::read_to_string(&root_manifest).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    value
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("cross"))
        .map(|_| CrossConfig::Metadata(root_manifest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_config_is_found_where_cross_looks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let pkg = root.join("pkg");
        std::fs::create_dir_all(&pkg).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"pkg\"]\n",
        )
        .unwrap();
        assert_eq!(find_cross_config(&pkg, root, false), None);
        assert_eq!(
            find_cross_config(&pkg, root, true),
            Some(CrossConfig::Metadata(pkg.join("Cargo.toml")))
        );
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"pkg\"]\n[workspace.metadata.cross.target.aarch64-unknown-linux-gnu]\nimage = \"x\"\n",
        )
        .unwrap();
        assert_eq!(
            find_cross_config(&pkg, root, false),
            Some(CrossConfig::Metadata(root.join("Cargo.toml")))
        );
        std::fs::write(root.join("Cross.toml"), "").unwrap();
        assert_eq!(
            find_cross_config(&pkg, root, false),
            Some(CrossConfig::File(root.join("Cross.toml")))
        );
        std::fs::write(pkg.join("Cross.toml"), "").unwrap();
        assert_eq!(
            find_cross_config(&pkg, root, false),
            Some(CrossConfig::File(pkg.join("Cross.toml")))
        );
    }
}
