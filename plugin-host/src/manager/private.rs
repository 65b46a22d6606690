//! The folder of a manager's private copies: made when the manager is created (in `/dev/shm`
//! when it allows executable mappings, else under the temporary folder), locked for as long
//! as the manager lives, removed with it; and the sweep of the folders of managers that died
//! without removing theirs.
//!
//! Why a sweep: a host killed by a signal, or one that ends with `process::exit`, never
//! drops its manager, and a folder in `/dev/shm` holds memory until it is removed (a worker's
//! private copy is a whole plugin file; this machine's test runs had left 208 such folders,
//! 188 MB). Each folder holds a lock file, locked with `flock` by its manager: the kernel
//! releases the lock when the process ends however it ends, so a folder whose lock can be
//! taken belongs to nobody. Folders without a lock file (made before the lock existed, or
//! being made right now) are never touched.

use std::{
    fs,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

/// The prefix of every folder the manager makes for itself.
const PREFIX: &str = "plugin-host-";

/// The lock file inside each such folder.
const LOCK_FILE: &str = ".owner.lock";

/// Where private copies of plugin files go.
pub(super) enum PrivateDir {
    /// Made by the manager; the lock file stays locked while this lives.
    Owned {
        dir: tempfile::TempDir,
        _lock: Option<fs::File>,
    },
    /// Configured with [`crate::HostConfig::private_dir`]: the host's to clean.
    Given(PathBuf),
}

impl PrivateDir {
    pub(super) fn path(&self) -> &Path {
        match self {
            Self::Owned { dir, .. } => dir.path(),
            Self::Given(dir) => dir,
        }
    }

    /// A fresh folder for private copies: in `/dev/shm` when it is a memory file system that
    /// allows executable mappings (a copy there costs a memcpy; on a disk file system,
    /// creating and writing each copy dominated load time: 3-5 ms against 1 ms per plugin,
    /// see docs/benchmarks.md), else under the system's temporary folder. Folders of dead
    /// managers beside it are removed first.
    pub(super) fn create() -> Self {
        let shm = Path::new("/dev/shm");
        let builder = tempfile::Builder::new().prefix(PREFIX).to_owned();
        let dir = shm_allows_exec()
            .then(|| {
                sweep(shm);
                builder.tempdir_in(shm).ok()
            })
            .flatten()
            .unwrap_or_else(|| {
                sweep(&std::env::temp_dir());
                builder
                    .tempdir()
                    .expect("create a private folder for plugin copies")
            });
        let lock = lock(&dir.path().join(LOCK_FILE));
        Self::Owned { dir, _lock: lock }
    }
}

impl PrivateDir {
    /// Removes a folder the manager made, before it is dropped (a configured one is the
    /// host's); dropping it later finds nothing left to remove.
    pub(super) fn remove_now(&self) {
        if let Self::Owned { dir, .. } = self {
            let _ = fs::remove_dir_all(dir.path());
        }
    }
}

fn shm_allows_exec() -> bool {
    fs::read_to_string("/proc/self/mountinfo").is_ok_and(|info| {
        info.lines().any(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            fields.get(4) == Some(&"/dev/shm")
                && fields
                    .get(5)
                    .is_some_and(|opts| !opts.split(',').any(|o| o == "noexec"))
        })
    })
}

/// Creates `file` locked; `None` (and no lock file) if that fails, which only costs the sweep
/// of this folder after a crash.
///
/// The lock is taken on a file of another name, then renamed to `file`: a sweep looks only at
/// `file`, so it can never find it before it is locked (and take the lock of a live folder).
fn lock(file: &Path) -> Option<fs::File> {
    let staged = file.with_extension("new");
    let locked = fs::File::create(&staged).ok().filter(|f| {
        // SAFETY: flock on a valid open descriptor.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
    });
    match locked {
        Some(f) if fs::rename(&staged, file).is_ok() => Some(f),
        _ => {
            let _ = fs::remove_file(&staged);
            None
        }
    }
}

/// Removes the folders under `parent` of managers that are gone: named like ours, holding a
/// lock file whose lock can be taken. Returns how many were removed.
pub(super) fn sweep(parent: &Path) -> usize {
    let Ok(entries) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let is_ours = entry.file_name().to_string_lossy().starts_with(PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_ours {
            continue;
        }
        let folder = entry.path();
        // Held while removing: the owner is gone, and nobody else takes a dead folder.
        let Some(_lock) = fs::File::open(folder.join(LOCK_FILE)).ok().filter(|file| {
            // SAFETY: flock on a valid open descriptor.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
        }) else {
            continue;
        };
        match fs::remove_dir_all(&folder) {
            Ok(()) => {
                removed += 1;
                log::debug!(target: "plugrack_host", "removed {}, left by a manager that is gone", folder.display());
            }
            Err(e) => {
                log::debug!(target: "plugrack_host", "cannot remove {}: {e}", folder.display())
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_removes_only_folders_whose_owner_is_gone() {
        let parent = tempfile::tempdir().unwrap();
        let make = |name: &str, with_lock: bool| {
            let dir = parent.path().join(name);
            fs::create_dir(&dir).unwrap();
            fs::write(dir.join("0-plugin.so"), b"copy").unwrap();
            if with_lock {
                fs::write(dir.join(LOCK_FILE), b"").unwrap();
            }
            dir
        };
        let dead = make("plugin-host-dead", true);
        let alive = make("plugin-host-alive", true);
        let old_format = make("plugin-host-old", false);
        let other = make("something-else", true);
        // A live owner: its lock is held (a second open file description, as another
        // process would hold it).
        let held = lock(&alive.join(LOCK_FILE)).expect("lock the live folder");

        assert_eq!(sweep(parent.path()), 1);
        assert!(!dead.exists(), "a folder whose lock is free is gone");
        assert!(alive.join("0-plugin.so").exists(), "a locked folder stays");
        assert!(
            old_format.exists(),
            "a folder without a lock file is never touched"
        );
        assert!(other.exists(), "another program's folder is never touched");

        drop(held);
        assert_eq!(sweep(parent.path()), 1, "its owner is gone now");
        assert!(!alive.exists());
    }

    #[test]
    fn a_created_folder_is_locked_and_not_swept_while_it_lives() {
        let private = PrivateDir::create();
        let parent = private.path().parent().unwrap().to_owned();
        assert!(private.path().join(LOCK_FILE).is_file());
        assert!(
            !private.path().join(".owner.new").exists(),
            "locked under its staged name, then renamed"
        );
        sweep(&parent);
        assert!(
            private.path().is_dir(),
            "a live manager's folder survives a sweep"
        );
        let path = private.path().to_owned();
        drop(private);
        assert!(!path.exists(), "removed with its manager");
    }
}
