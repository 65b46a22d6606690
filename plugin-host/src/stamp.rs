//! Stamps: what identifies one version of a plugins-folder entry without opening it, so the
//! manager tries each version once (a loaded build, a refused file, a skipped entry alike) and
//! the folder watcher can tell a real change from an event about an unchanged entry.
//!
//! A stamp is taken from file metadata only (`stat`): reading an entry to decide whether it
//! changed would itself produce file-system events. For a `.so` file it is that file's; for a
//! plugin folder it is every file inside (the manifest, its signature, the libraries, whatever
//! else was deployed), so a bad `plugin.toml` is remembered as well as a bad library.
//!
//! Per file: the length, the modification time, the status-change time, and the device and
//! inode. The status-change time matters: a deploy tool may keep the modification time
//! (`cp -p`, `rsync -t`), but no tool can set the status-change time, which the kernel moves on
//! every write. A deploy by rename gives a new inode even within one clock tick.

use std::{
    fs,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

/// How deep a plugin folder is walked: `lib/<arch>/` sits two levels down.
const MAX_DEPTH: usize = 4;
/// How many files of one plugin folder are stamped; past this a folder is not a plugin a
/// person deployed, and the first files stand for it.
const MAX_FILES: usize = 1024;

/// One version of an entry: the metadata of each of its files, in path order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stamp(Vec<FileStamp>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct FileStamp {
    /// The path inside the entry (empty for a `.so` file itself).
    path: PathBuf,
    len: u64,
    modified: (i64, i64),
    changed: (i64, i64),
    device: u64,
    inode: u64,
}

impl FileStamp {
    fn new(path: PathBuf, meta: &fs::Metadata) -> Self {
        Self {
            path,
            len: meta.len(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
            device: meta.dev(),
            inode: meta.ino(),
        }
    }
}

/// The stamp of the entry at `entry` (a file, or a folder and the files inside it), or `None`
/// when it does not exist. Symbolic links are followed, as loading follows them; links to
/// folders inside a plugin folder are stamped but not walked (no cycles).
pub(crate) fn of(entry: &Path) -> Option<Stamp> {
    let meta = fs::metadata(entry).ok()?;
    if !meta.is_dir() {
        return Some(Stamp(vec![FileStamp::new(PathBuf::new(), &meta)]));
    }
    let mut files = Vec::new();
    walk(entry, Path::new(""), 0, &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Some(Stamp(files))
}

fn walk(root: &Path, inside: &Path, depth: usize, files: &mut Vec<FileStamp>) {
    let Ok(children) = fs::read_dir(root.join(inside)) else {
        return;
    };
    for child in children.filter_map(Result::ok) {
        if files.len() >= MAX_FILES {
            return;
        }
        let path = inside.join(child.file_name());
        let is_real_dir = child.file_type().is_ok_and(|t| t.is_dir());
        if is_real_dir {
            if depth + 1 < MAX_DEPTH {
                walk(root, &path, depth + 1, files);
            }
            continue;
        }
        // A dangling link is stamped by the link itself: creating its target is a change.
        let meta = fs::metadata(child.path()).or_else(|_| fs::symlink_metadata(child.path()));
        if let Ok(meta) = meta {
            files.push(FileStamp::new(path, &meta));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_keeps_its_stamp_until_it_is_written_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("junk.so");
        assert_eq!(of(&file), None, "a missing entry has no stamp");
        fs::write(&file, b"garbage").unwrap();
        let first = of(&file).unwrap();
        // Reading it (what the checks do) changes nothing.
        let _ = fs::read(&file).unwrap();
        assert_eq!(of(&file).as_ref(), Some(&first));

        // Same length, other bytes, in place: the status-change time moves even when the
        // modification time is put back.
        let modified = fs::metadata(&file).unwrap().modified().unwrap();
        fs::write(&file, b"GARBAGE").unwrap();
        fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(modified)
            .unwrap();
        assert_ne!(of(&file).as_ref(), Some(&first));

        // Replaced by rename: a new inode.
        let before = of(&file).unwrap();
        let staged = dir.path().join(".junk.so.tmp");
        fs::write(&staged, b"GARBAGE").unwrap();
        fs::rename(&staged, &file).unwrap();
        assert_ne!(of(&file).unwrap(), before);
    }

    #[test]
    fn a_folder_stamp_covers_every_file_inside_it() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("showcase");
        fs::create_dir_all(folder.join("lib/amd64")).unwrap();
        fs::write(folder.join("plugin.toml"), "format = 1").unwrap();
        fs::write(folder.join("showcase-amd64.so"), b"elf").unwrap();
        let first = of(&folder).unwrap();
        assert_eq!(first.0.len(), 2);
        assert_eq!(of(&folder).unwrap(), first, "stable while nothing changes");

        fs::write(folder.join("plugin.toml"), "format = 2").unwrap();
        let edited = of(&folder).unwrap();
        assert_ne!(edited, first, "an edited manifest");

        fs::write(folder.join("lib/amd64/libz.so.1"), b"elf").unwrap();
        let added = of(&folder).unwrap();
        assert_ne!(added, edited, "a bundled library added two levels down");
        assert_eq!(added.0.len(), 3);

        fs::remove_file(folder.join("showcase-amd64.so")).unwrap();
        assert_ne!(of(&folder).unwrap(), added, "a library removed");
    }
}
