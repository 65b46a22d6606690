//! Installing a plugin folder so that a host watching the plugins folder never sees half of
//! it: the new folder is written completely under a hidden temporary name (the host skips
//! dotfiles), then put in place with one rename. An older folder of the same plugin is
//! swapped out with `renameat2(RENAME_EXCHANGE)`, which exchanges the two folders in one
//! atomic step; where the file system does not support it, two renames are used and the
//! old folder is put back if the second fails (a reader may then briefly find no folder,
//! never a mixed one).

use std::{
    ffi::CString,
    fs::{self, Permissions},
    io::{self, Write},
    os::unix::{ffi::OsStrExt, fs::PermissionsExt},
    path::Path,
};

use crate::fsutil::FILE_MODE;

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

/// Writes `files` into `<dir>/<name>/`, replacing an existing folder of that name whole.
pub fn install(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> io::Result<Method> {
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.new-"))
        .tempdir_in(dir)?;
    for (file, bytes) in files {
        let path = staging.path().join(file);
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
                    .prefix(&format!(".{name}.old-"))
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
        let method = install(dir.path(), "p", &[("a", b"one"), ("b", b"1")]).unwrap();
        assert_eq!(method, Method::Created);
        assert_eq!(listing(&dir.path().join("p")), ["a", "b"]);
        let mode = fs::metadata(dir.path().join("p/a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);

        let method = install(dir.path(), "p", &[("a", b"two"), ("c", b"2")]).unwrap();
        // tmpfs, ext4, xfs and btrfs support RENAME_EXCHANGE; the fallback is for the others.
        assert!(matches!(method, Method::Exchanged | Method::Replaced));
        assert_eq!(listing(&dir.path().join("p")), ["a", "c"]);
        assert_eq!(fs::read(dir.path().join("p/a")).unwrap(), b"two");
        assert_eq!(
            listing(dir.path()),
            ["p"],
            "no temporary folder may stay behind"
        );
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
