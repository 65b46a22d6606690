//! Installing a plugin folder so that a host watching the plugins folder never sees half of
//! it: the new folder is written completely under a hidden temporary name (the host skips
//! dotfiles), then put in place with one rename. An older folder of the same plugin is
//! swapped out with `renameat2(RENAME_EXCHANGE)`, which exchanges the two folders in one
//! atomic step; where the file system does not support it, two renames are used and the
//! old folder is put back if the second fails (a reader may then briefly find no folder,
//! never a mixed one). A deploy killed half-way leaves only its hidden staging folder, named
//! with its process id; the next install of that plugin removes the staging folders of
//! processes that no longer run.

use std::{
    ffi::CString,
    fs::{self, Permissions},
    io::{self, Write},
    os::unix::{ffi::OsStrExt, fs::PermissionsExt},
    path::{Path, PathBuf},
};

use crate::manifest::{self, Manifest};

use super::verify::{Verified, VerifyError};

/// The mode of every installed file (a temporary file starts 0600).
const FILE_MODE: u32 = 0o644;

/// How the folder was put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// There was no folder: one rename.
    Created,
    /// An older folder was exchanged atomically (`renameat2(RENAME_EXCHANGE)`).
    Exchanged,
    /// An older folder was moved aside, then the new one renamed in (no `RENAME_EXCHANGE`).
    Replaced,
}

/// Why a verified package could not be installed. Nothing is left half-written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The package lacks the target to install.
    #[error(transparent)]
    Target(#[from] VerifyError),
    /// `<dir>/<id>` exists and is not a folder.
    #[error("`{}` exists and is not a folder; move it away, then deploy again", .path.display())]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// A file could not be read or written.
    #[error("cannot {action} `{}`", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// What an install did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Installed {
    /// The plugin id.
    pub id: String,
    /// The version installed.
    pub version: String,
    /// The target installed.
    pub target: String,
    /// The plugin folder, `<dir>/<id>`.
    pub folder: PathBuf,
    /// The shared object's file name in that folder.
    pub file: String,
    /// The bundled native libraries installed beside it, as paths in that folder
    /// (`lib/libgreet.so.1`).
    pub libs: Vec<String>,
    /// The version found there before, if any.
    pub replaced: Option<String>,
    /// How the folder was put in place.
    pub method: Method,
}

/// Installs `target` of a verified package into the plugins folder `dir` as
/// `<dir>/<id>/plugin.toml` (the package's, byte for byte), its signature
/// `plugin.toml.minisig` if it has one, the target's `.so` and its bundled libraries as
/// `lib/<file>` (where the plugin's `$ORIGIN/lib` run path finds them), creating `dir` if
/// needed and exchanging an older folder of the plugin atomically.
pub fn install(verified: &Verified, target: &str, dir: &Path) -> Result<Installed, InstallError> {
    let entry = verified.target(target)?;
    let id = &verified.manifest.plugin.id;
    let folder = dir.join(id);
    let replaced = installed_version(&folder)?;
    // The manifest is installed byte for byte, so that its signature (installed beside it)
    // stays valid; the host uses the entry of its own target and ignores the others.
    let mut files: Vec<(&str, &[u8])> =
        vec![(manifest::FILE_NAME, verified.data(manifest::FILE_NAME))];
    if verified.signature.is_some() {
        files.push((
            manifest::SIGNATURE_FILE_NAME,
            verified.data(manifest::SIGNATURE_FILE_NAME),
        ));
    }
    files.push((&entry.file, verified.data(&entry.file)));
    let libs: Vec<(String, String)> = entry
        .libs
        .iter()
        .map(|lib| {
            (
                format!("{}/{}", manifest::LIB_DIR, lib.file),
                manifest::package_lib_name(target, &lib.file),
            )
        })
        .collect();
    for (installed_name, package_name) in &libs {
        files.push((installed_name, verified.data(package_name)));
    }
    fs::create_dir_all(dir).map_err(|source| InstallError::Io {
        action: "create",
        path: dir.to_owned(),
        source,
    })?;
    let method = install_files(dir, id, &files).map_err(|source| InstallError::Io {
        action: "write",
        path: folder.clone(),
        source,
    })?;
    Ok(Installed {
        id: id.clone(),
        version: verified.manifest.plugin.version.clone(),
        target: target.to_owned(),
        folder,
        file: entry.file.clone(),
        libs: libs.into_iter().map(|(name, _)| name).collect(),
        replaced,
        method,
    })
}

/// The version installed in the plugin folder `folder`, if there is one; refuses a path that
/// is not a folder.
pub fn installed_version(folder: &Path) -> Result<Option<String>, InstallError> {
    match fs::symlink_metadata(folder) {
        Err(_) => Ok(None),
        Ok(meta) if !meta.is_dir() => Err(InstallError::NotAFolder {
            path: folder.to_owned(),
        }),
        Ok(_) => Ok(fs::read_to_string(folder.join(manifest::FILE_NAME))
            .ok()
            .and_then(|text| Manifest::parse(&text).ok())
            .map(|m| m.plugin.version)
            .or_else(|| Some("an unversioned folder".into()))),
    }
}

/// Writes `files` into `<dir>/<name>/`, replacing an existing folder of that name whole. A
/// file name may hold one folder level (`lib/libgreet.so.1`); the folder is created.
pub fn install_files(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> io::Result<Method> {
    remove_abandoned(dir, name);
    let pid = std::process::id();
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.new-{pid}-"))
        .tempdir_in(dir)?;
    for (file, bytes) in files {
        let path = staging.path().join(file);
        if let Some(parent) = path.parent().filter(|p| *p != staging.path()) {
            fs::create_dir_all(parent)?;
            fs::set_permissions(parent, Permissions::from_mode(0o755))?;
        }
        let mut out = fs::File::create(&path)?;
        out.write_all(bytes)?;
        out.set_permissions(Permissions::from_mode(FILE_MODE))?;
        out.sync_all()?;
    }
    fs::set_permissions(staging.path(), Permissions::from_mode(0o755))?;
    fs::File::open(staging.path())?.sync_all()?;

    let target = dir.join(name);
    let method = match fs::symlink_metadata(&target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::rename(staging.path(), &target)?;
            // The staging name no longer exists; keep TempDir from deleting the new folder.
            let _ = staging.keep();
            Method::Created
        }
        Err(e) => return Err(e),
        Ok(_) => match exchange(staging.path(), &target) {
            // The staging name now holds the old folder; dropping `staging` removes it.
            Ok(()) => Method::Exchanged,
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
                let aside = tempfile::Builder::new()
                    .prefix(&format!(".{name}.old-{pid}-"))
                    .tempdir_in(dir)?;
                fs::rename(&target, aside.path())?;
                if let Err(e) = fs::rename(staging.path(), &target) {
                    fs::rename(aside.path(), &target)?;
                    return Err(e);
                }
                let _ = staging.keep();
                Method::Replaced
            }
            Err(e) => return Err(e),
        },
    };
    fs::File::open(dir)?.sync_all()?;
    Ok(method)
}

/// Removes the staging folders (`.<name>.new-<pid>-*`, `.<name>.old-<pid>-*`) that installs
/// killed before they finished left in `dir`: those whose process no longer runs. Folders of
/// a running install, this one's or another's, are left alone.
fn remove_abandoned(dir: &Path, name: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = [".new-", ".old-"]
            .iter()
            .find_map(|kind| file_name.strip_prefix(&format!(".{name}{kind}")))
        else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !process_runs(pid) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether a process with this id exists (signal 0 checks without sending anything).
fn process_runs(pid: i32) -> bool {
    // SAFETY: kill with signal 0 sends nothing; it only reports whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Exchanges two paths atomically (Linux `renameat2` with `RENAME_EXCHANGE`). Called through
/// `syscall` so that it works with a glibc older than 2.28, which lacks the wrapper.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    let a = CString::new(a.as_os_str().as_bytes())?;
    let b = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both pointers are valid NUL-terminated strings that outlive the call;
    // AT_FDCWD makes relative paths resolve against the working directory, as rename does.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn creates_then_exchanges_leaving_no_temporary_folders() {
        let dir = tempfile::tempdir().unwrap();
        let method = install_files(dir.path(), "p", &[("a", b"one"), ("b", b"1")]).unwrap();
        assert_eq!(method, Method::Created);
        assert_eq!(listing(&dir.path().join("p")), ["a", "b"]);
        let mode = fs::metadata(dir.path().join("p/a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);

        let method = install_files(
            dir.path(),
            "p",
            &[("a", b"two"), ("c", b"2"), ("lib/libx.so.1", b"x")],
        )
        .unwrap();
        // tmpfs, ext4, xfs and btrfs support RENAME_EXCHANGE; the fallback is for the others.
        assert!(matches!(method, Method::Exchanged | Method::Replaced));
        assert_eq!(listing(&dir.path().join("p")), ["a", "c", "lib"]);
        assert_eq!(fs::read(dir.path().join("p/lib/libx.so.1")).unwrap(), b"x");
        assert_eq!(fs::read(dir.path().join("p/a")).unwrap(), b"two");
        assert_eq!(
            listing(dir.path()),
            ["p"],
            "no temporary folder may stay behind"
        );
    }

    #[test]
    fn staging_folders_of_dead_processes_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22 on Linux, so this process cannot exist.
        let dead = dir.path().join(".p.new-99999999-abc");
        let live = dir
            .path()
            .join(format!(".p.new-{}-def", std::process::id()));
        let other = dir.path().join(".q.new-99999999-abc");
        for folder in [&dead, &live, &other] {
            fs::create_dir(folder).unwrap();
        }
        install_files(dir.path(), "p", &[("a", b"one")]).unwrap();
        assert!(!dead.exists(), "an abandoned staging folder is removed");
        assert!(live.exists(), "a running install's folder is kept");
        assert!(other.exists(), "another plugin's folders are not touched");
    }

    #[test]
    fn exchange_swaps_two_folders() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir(&a).unwrap();
        fs::write(a.join("from-a"), "").unwrap();
        fs::create_dir(&b).unwrap();
        exchange(&a, &b).unwrap();
        assert!(b.join("from-a").exists());
        assert!(!a.join("from-a").exists());
    }
}
