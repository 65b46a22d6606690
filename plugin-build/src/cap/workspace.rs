//! The plugin side: finding its manifest, workspace root and `Cargo.lock` (through
//! `cargo metadata --no-deps`, which neither resolves nor writes), and the [`Snapshot`] that
//! puts the plugin's files back byte for byte when anything fails.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{cargo::Cargo, error::CapError};

/// Where the plugin's files are.
#[derive(Debug, Clone)]
pub struct PluginWorkspace {
    /// The manifest that was given (or `./Cargo.toml`).
    pub manifest: PathBuf,
    /// The workspace root's manifest.
    pub root_manifest: PathBuf,
    /// The workspace's `Cargo.lock` (may not exist yet).
    pub lock: PathBuf,
    /// The package manifest that carries the temporary version pins while cargo resolves.
    pub seed_manifest: PathBuf,
    /// The plugin package's name, for messages.
    pub name: String,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetadataPackage>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
}

#[derive(Deserialize)]
struct MetadataPackage {
    id: String,
    name: String,
    manifest_path: PathBuf,
}

impl PluginWorkspace {
    /// Finds the plugin from `--manifest-path` (a `Cargo.toml` or its folder) or the current
    /// folder.
    pub fn locate(manifest_path: Option<&Path>, cargo: &Cargo) -> Result<Self, CapError> {
        let from_flag = manifest_path.is_some();
        let given = match manifest_path {
            Some(p) if p.is_dir() => p.join("Cargo.toml"),
            Some(p) => p.to_owned(),
            None => PathBuf::from("Cargo.toml"),
        };
        if !given.is_file() {
            return Err(CapError::PluginManifestMissing {
                path: given,
                from_flag,
            });
        }
        let manifest = std::path::absolute(&given).map_err(|source| CapError::Read {
            path: given.clone(),
            source,
        })?;
        let output = cargo
            .command(["metadata", "--no-deps", "--format-version", "1"])
            .arg("--manifest-path")
            .arg(manifest.to_string_lossy())
            .output()
            .map_err(|source| CapError::Cargo {
                manifest: manifest.clone(),
                source,
            })?;
        let meta: Metadata =
            serde_json::from_slice(&output.stdout).map_err(|e| CapError::Cargo {
                manifest: manifest.clone(),
                source: crate::process::ProcessError::Failed {
                    command: "cargo metadata".into(),
                    status: "unreadable output".into(),
                    stderr: e.to_string(),
                },
            })?;
        let members: Vec<&MetadataPackage> = meta
            .packages
            .iter()
            .filter(|p| meta.workspace_members.contains(&p.id))
            .collect();
        let same_file = |a: &Path, b: &Path| {
            a == b
                || (a.canonicalize().ok().is_some()
                    && a.canonicalize().ok() == b.canonicalize().ok())
        };
        // The given manifest's own package if it has one, else the first member by name.
        let seed = members
            .iter()
            .find(|p| same_file(&p.manifest_path, &manifest))
            .or_else(|| members.iter().min_by(|a, b| a.name.cmp(&b.name)))
            .ok_or_else(|| CapError::NoPluginPackage {
                manifest: manifest.clone(),
            })?;
        Ok(PluginWorkspace {
            root_manifest: meta.workspace_root.join("Cargo.toml"),
            lock: meta.workspace_root.join("Cargo.lock"),
            seed_manifest: seed.manifest_path.clone(),
            name: seed.name.clone(),
            manifest,
        })
    }
}

/// The bytes of some files (or their absence) as they were before `cap` started, put back on
/// drop unless [`Snapshot::keep`] was called for that file.
#[derive(Debug)]
pub struct Snapshot {
    files: Vec<(PathBuf, Option<Vec<u8>>, bool)>,
}

impl Snapshot {
    /// Records `paths` as they are now.
    pub fn take(paths: &[&Path]) -> Result<Self, CapError> {
        let mut files = Vec::new();
        for path in paths {
            let bytes = match std::fs::read(path) {
                Ok(bytes) => Some(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => {
                    return Err(CapError::Read {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            };
            files.push((path.to_path_buf(), bytes, true));
        }
        Ok(Snapshot { files })
    }

    /// The recorded bytes of `path` (`None` if it did not exist or was not recorded).
    pub fn original(&self, path: &Path) -> Option<&[u8]> {
        self.files
            .iter()
            .find(|(p, _, _)| p == path)
            .and_then(|(_, b, _)| b.as_deref())
    }

    /// Whether `path` has changed since the snapshot.
    pub fn changed(&self, path: &Path) -> bool {
        let now = std::fs::read(path).ok();
        self.files
            .iter()
            .find(|(p, _, _)| p == path)
            .is_some_and(|(_, before, _)| *before != now)
    }

    /// Puts `path` back now.
    pub fn restore(&self, path: &Path) -> Result<(), CapError> {
        match self.files.iter().find(|(p, _, _)| p == path) {
            Some((path, before, _)) => put_back(path, before.as_deref()),
            None => Ok(()),
        }
    }

    /// Keeps the current content of `path` instead of restoring it on drop.
    pub fn keep(&mut self, path: &Path) {
        for (p, _, restore) in &mut self.files {
            if p == path {
                *restore = false;
            }
        }
    }

    /// Puts every file that is still marked for restoring back.
    pub fn restore_all(&self) -> Result<(), CapError> {
        for (path, before, restore) in &self.files {
            if *restore {
                put_back(path, before.as_deref())?;
            }
        }
        Ok(())
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        if let Err(err) = self.restore_all() {
            eprintln!("error: {err}\n  hint: {}", err.hint());
        }
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename (so nobody sees half a
/// file), keeping the old permissions; `None` removes the file. Does nothing when the file
/// already holds exactly that.
pub fn put_back(path: &Path, bytes: Option<&[u8]>) -> Result<(), CapError> {
    let now = std::fs::read(path).ok();
    if now.as_deref() == bytes {
        return Ok(());
    }
    let write_err = |source| CapError::Write {
        path: path.to_owned(),
        source,
    };
    match bytes {
        None => std::fs::remove_file(path).map_err(write_err),
        Some(bytes) => write_atomic(path, bytes).map_err(write_err),
    }
}

/// Replaces `path` with `bytes` atomically, keeping its permissions.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".plugin-build-cap-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), meta.permissions())?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_restores_content_and_absence() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("Cargo.toml");
        let b = dir.path().join("Cargo.lock");
        std::fs::write(&a, "original").unwrap();
        {
            let snap = Snapshot::take(&[&a, &b]).unwrap();
            std::fs::write(&a, "changed").unwrap();
            std::fs::write(&b, "created").unwrap();
            assert!(snap.changed(&a) && snap.changed(&b));
        }
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "original");
        assert!(!b.exists());
        {
            let mut snap = Snapshot::take(&[&a, &b]).unwrap();
            std::fs::write(&b, "kept").unwrap();
            snap.keep(&b);
        }
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "kept");
    }
}
