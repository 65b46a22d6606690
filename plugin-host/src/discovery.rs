//! Finding plugins in folders: which entries are candidates, in which order, and how a
//! deployed plugin folder (`<id>/plugin.toml` + its `.so` files) resolves to one file.
//!
//! Order, documented for host authors: the bundled folder first, then the external folder;
//! within a folder, entries sorted by file name (byte order). The first plugin to claim an id
//! keeps it, so a bundled plugin wins over an external one with the same id.

use std::{
    fs,
    io::Read,
    path::{Path, PathBuf},
};

use serde::Serialize;

use crate::{
    error::{host_target_name, Refusal},
    manifest::{self, Manifest},
};

/// Which folder a plugin came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Shipped with the application.
    Bundled,
    /// Installed by the user.
    External,
}

/// An entry of a plugins folder.
pub(crate) enum Found {
    /// A `.so` file or a plugin folder.
    Candidate(PathBuf),
    /// Something that is not a plugin, with the reason it was passed over.
    Skipped { path: PathBuf, reason: String },
}

/// Lists `dir`'s entries in file-name order, classifying each.
pub(crate) fn scan(dir: &Path) -> std::io::Result<Vec<Found>> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    paths.sort();
    Ok(paths.into_iter().map(classify).collect())
}

pub(crate) fn classify(path: PathBuf) -> Found {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.starts_with('.') {
        return Found::Skipped {
            path,
            reason: "hidden file".into(),
        };
    }
    if path.is_dir() {
        if path.join(manifest::FILE_NAME).is_file() {
            return Found::Candidate(path);
        }
        return Found::Skipped {
            path,
            reason: format!("a folder without `{}`", manifest::FILE_NAME),
        };
    }
    if path.extension().is_some_and(|e| e == "so") {
        return Found::Candidate(path);
    }
    Found::Skipped {
        path,
        reason: "not a `.so` file or a plugin folder".into(),
    }
}

/// A plugin folder's manifest, as its exact bytes (what a signature covers), parsed, and its
/// signature's text if it has one.
pub(crate) struct Folder {
    pub manifest_bytes: Vec<u8>,
    pub manifest: Result<Manifest, Refusal>,
    pub signature: Option<String>,
}

/// Reads a plugin folder's `plugin.toml` and `plugin.toml.minisig`, through an open handle on
/// the folder (see `precheck`'s snapshot). The manifest is parsed but a parse error is kept for
/// later: under a trust policy the signature is checked first, so an edited manifest is
/// reported as such.
pub(crate) fn read_folder_in(folder: &fs::File) -> std::io::Result<Folder> {
    let mut manifest_bytes = Vec::new();
    open_in(folder, manifest::FILE_NAME)?.read_to_end(&mut manifest_bytes)?;
    let signature = match open_in(folder, manifest::SIGNATURE_FILE_NAME) {
        Ok(mut file) => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes)?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let manifest = std::str::from_utf8(&manifest_bytes)
        .map_err(|e| e.to_string())
        .and_then(|text| Manifest::parse(text).map_err(|e| e.to_string()))
        .map_err(|message| Refusal::BadManifest { message });
    Ok(Folder {
        manifest_bytes,
        manifest,
        signature,
    })
}

/// Opens `name` inside the open folder `folder` (`openat`): the same folder whatever is renamed
/// over its path meanwhile.
pub(crate) fn open_in(folder: &fs::File, name: &str) -> std::io::Result<fs::File> {
    use std::os::{fd::AsRawFd, fd::FromRawFd};
    let name = std::ffi::CString::new(name)?;
    // SAFETY: the folder's descriptor is open for the duration of the call and `name` is a
    // NUL-terminated string; on success the new descriptor is owned by the returned File.
    let fd = unsafe {
        libc::openat(
            folder.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nothing else.
    Ok(unsafe { fs::File::from_raw_fd(fd) })
}

/// The library a plugin folder's manifest names for this host.
pub(crate) fn library_of(
    candidate: &Path,
    manifest: Result<Manifest, Refusal>,
) -> Result<(PathBuf, Manifest), Refusal> {
    let manifest = manifest?;
    let host = host_target_name();
    let Some(target) = manifest.targets.get(host) else {
        return Err(Refusal::NoTargetForHost {
            available: manifest.targets.keys().cloned().collect(),
            host: host.to_owned(),
        });
    };
    let library = candidate.join(&target.file);
    if !library.exists() {
        // A folder deployed for another target keeps the whole manifest (its signature must stay
        // valid) but holds that target's library only.
        let present: Vec<String> = manifest
            .targets
            .iter()
            .filter(|(_, t)| candidate.join(&t.file).exists())
            .map(|(name, _)| name.clone())
            .collect();
        if !present.is_empty() {
            return Err(Refusal::NoTargetForHost {
                available: present,
                host: host.to_owned(),
            });
        }
    }
    Ok((library, manifest))
}

/// Checks a library's bytes against its manifest entry for this host.
pub(crate) fn verify(manifest: &Manifest, bytes: &[u8]) -> Result<(), Refusal> {
    let target = &manifest.targets[host_target_name()];
    let found = manifest::sha256_hex(bytes);
    if found != target.sha256 || bytes.len() as u64 != target.size {
        return Err(Refusal::ChecksumMismatch {
            file: target.file.clone(),
            expected: target.sha256.clone(),
            found,
        });
    }
    Ok(())
}
