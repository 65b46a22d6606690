//! The plugin package being built: its manifest (found like `cargo locate-project` does, or
//! given with `--manifest-path`), name, library name, workspace root and target directory.
//! It reads the manifests itself instead of running `cargo metadata`: that process alone costs
//! more than the 5% overhead budget of a no-op rebuild. Where the artifact really is comes from
//! cargo's own JSON messages during the build; the target directory here is only the fallback.
//! Also finds the `cross` configuration (Cross.toml or `[workspace.metadata.cross]` /
//! `[package.metadata.cross]`) that the `cross` backend honours.

use std::path::{Path, PathBuf};

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
    /// cargo's target directory (`CARGO_TARGET_DIR`, else `<workspace>/target`).
    pub target_directory: PathBuf,
    /// The library's crate name (`-` replaced by `_`): `lib<crate>.so`.
    pub lib_name: String,
    /// Where the `cross` configuration is, if any.
    pub cross_config: Option<CrossConfig>,
    /// The native libraries `[package.metadata.plugin] bundle` names: with any, the plugin is
    /// linked with the run path [`BUNDLE_RUN_PATH`] so the loader finds them beside it.
    pub bundle: Vec<String>,
}

/// The run path a plugin that bundles libraries is linked with: the `lib/` folder beside the
/// plugin file, where `plugin-build deploy` installs them.
pub const BUNDLE_RUN_PATH: &str = "$ORIGIN/lib";

/// Where the `cross` backend's configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CrossConfig {
    /// A `Cross.toml` file (passed to cross as `CROSS_CONFIG`).
    File(PathBuf),
    /// `[workspace.metadata.cross]` or `[package.metadata.cross]` in this manifest (cross reads
    /// it itself when it runs in the workspace root).
    Metadata(PathBuf),
}

pub(crate) fn read_manifest(path: &Path) -> Result<toml::Value, BuildError> {
    let text = std::fs::read_to_string(path).map_err(|source| BuildError::Io {
        action: "read",
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| BuildError::Manifest {
        path: path.to_owned(),
        reason: e.message().to_owned(),
    })
}

impl Project {
    /// Reads the package at `manifest_path`, or the one the current directory is in.
    pub fn load(manifest_path: Option<&Path>) -> Result<Self, BuildError> {
        let cwd = std::env::current_dir().map_err(|source| BuildError::Io {
            action: "find the current folder",
            path: PathBuf::from("."),
            source,
        })?;
        let manifest = match manifest_path {
            Some(path) => cwd.join(path),
            None => cwd
                .ancestors()
                .map(|d| d.join("Cargo.toml"))
                .find(|m| m.is_file())
                .ok_or_else(|| BuildError::NoManifest { dir: cwd.clone() })?,
        };
        let manifest = manifest.canonicalize().map_err(|source| BuildError::Io {
            action: "read",
            path: manifest.clone(),
            source,
        })?;
        let doc = read_manifest(&manifest)?;
        let no_package = || BuildError::NoPackage {
            manifest: manifest.clone(),
        };
        let package = doc.get("package").ok_or_else(no_package)?;
        let name = package
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or_else(no_package)?
            .to_owned();
        let lib = doc.get("lib");
        let is_cdylib = lib
            .and_then(|l| l.get("crate-type").or_else(|| l.get("crate_type")))
            .and_then(|t| t.as_array())
            .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
        if !is_cdylib {
            return Err(BuildError::NotCdylib {
                package: name,
                manifest,
            });
        }
        let lib_name = lib
            .and_then(|l| l.get("name"))
            .and_then(|n| n.as_str())
            .unwrap_or(&name)
            .replace('-', "_");
        let package_dir = manifest.parent().map(Path::to_owned).unwrap_or_default();
        let workspace_root = find_workspace_root(&package_dir, &doc);
        let target_directory = std::env::var_os("CARGO_TARGET_DIR")
            .filter(|d| !d.is_empty())
            .map(|d| cwd.join(d))
            .unwrap_or_else(|| workspace_root.join("target"));
        let has_package_cross = package
            .get("metadata")
            .and_then(|m| m.get("cross"))
            .is_some();
        let cross_config = find_cross_config(&package_dir, &workspace_root, has_package_cross);
        let bundle = plugrack_descriptor::metadata::bundle(
            package.get("metadata").and_then(|m| m.get("plugin")),
        )
        .map_err(|problem| BuildError::Manifest {
            path: manifest.clone(),
            reason: problem.to_string(),
        })?;
        Ok(Self {
            name,
            manifest_path: manifest,
            package_dir,
            workspace_root,
            target_directory,
            lib_name,
            cross_config,
            bundle,
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

/// The workspace root the way cargo finds it: the package's own `[workspace]`, the folder its
/// `package.workspace` names, else the nearest folder above with a `[workspace]` manifest.
pub(crate) fn find_workspace_root(package_dir: &Path, doc: &toml::Value) -> PathBuf {
    if doc.get("workspace").is_some() {
        return package_dir.to_owned();
    }
    if let Some(path) = doc
        .get("package")
        .and_then(|p| p.get("workspace"))
        .and_then(|w| w.as_str())
    {
        let root = package_dir.join(path);
        return root.canonicalize().unwrap_or(root);
    }
    package_dir
        .ancestors()
        .skip(1)
        .find(|dir| {
            let manifest = dir.join("Cargo.toml");
            manifest.is_file()
                && read_manifest(&manifest).is_ok_and(|m| m.get("workspace").is_some())
        })
        .map(Path::to_owned)
        .unwrap_or_else(|| package_dir.to_owned())
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
    fn packages_are_read_from_their_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"plugins/*\"]\n",
        )
        .unwrap();
        let pkg = root.join("plugins/my-plugin");
        std::fs::create_dir_all(&pkg).unwrap();
        let write = |text: &str| std::fs::write(pkg.join("Cargo.toml"), text).unwrap();
        let load = || Project::load(Some(&pkg.join("Cargo.toml")));

        write("[package]\nname = \"my-plugin\"\n[lib]\ncrate-type = [\"cdylib\", \"rlib\"]\n");
        let project = load().unwrap();
        assert_eq!(project.name, "my-plugin");
        assert_eq!(project.lib_name, "my_plugin");
        assert_eq!(project.package_dir, pkg);
        assert_eq!(
            project.workspace_root, root,
            "the nearest [workspace] above"
        );

        write("[package]\nname = \"my-plugin\"\n[lib]\nname = \"notify\"\ncrate-type = [\"cdylib\"]\n[workspace]\n");
        let project = load().unwrap();
        assert_eq!(project.lib_name, "notify");
        assert_eq!(project.workspace_root, pkg, "its own [workspace]");

        write("[package]\nname = \"my-plugin\"\n");
        let err = load().unwrap_err().to_string();
        assert!(err.contains("does not build a shared library"), "{err}");
        std::fs::write(root.join("Cargo.toml"), "[workspace]\nmembers = [").unwrap();
        write("[package]\nname = \"my-plugin\"\n[lib]\ncrate-type = [\"cdylib\"]\n");
        assert_eq!(
            load().unwrap().workspace_root,
            pkg,
            "a broken parent is not a workspace"
        );
        let err = Project::load(Some(&root.join("Cargo.toml")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot parse"), "{err}");
    }

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
