//! Remembers which extension layouts, and which root modules (under the id
//! [`ROOT_MODULE`]), were found compatible, by library content, so that a reload of an
//! unchanged file, the same file under another name, or (with a cache folder) a restart does
//! not pay abi_stable's layout check again.
//!
//! A key names both sides of a check: the plugin's side by the xxh3-128 hash of the library's
//! bytes plus the extension's id and version (one library holds one layout per id and
//! version); the host's side by the extension point's id and version, and for the file also
//! by the host executable's identity (its GNU build-id, else the hash of its bytes), since a
//! rebuilt host may carry another layout under the same version. Only successful checks are
//! kept: a refusal is checked again, so its detailed report stays available.
//!
//! Skipping abi_stable's check also skips its bookkeeping of prefix types across libraries
//! (`CheckingGlobals`): that matters when objects travel between libraries, and extension
//! objects only travel from a plugin to the host, which reads them through its own layout.
//!
//! Hashing a library costs about what the check it saves does (every page of the file is
//! read: 0.05-0.1 ms for a 900 KiB plugin, against 0.1 ms for the root module's check), so
//! the cache also remembers which hash a file had, by its [`FileIdentity`] (device, inode,
//! size, modification and change times): a restart, or a reload of an unchanged file, finds
//! the hash without reading the file. Only a file that had not changed for
//! [`SETTLED`] when it was hashed is remembered this way: a file written twice within one
//! tick of the file system's clock keeps its times, and a file that young may still be
//! being written.
//!
//! The file (`layout-checks.v1` in the configured cache folder) is a few text lines, written
//! atomically once per load, reload or folder load that learned something (not once per
//! check: a folder of a hundred new plugins is one write); anyone may delete it. It is as
//! trusted as the plugins folder: an entry makes the host skip a safety check for that
//! library content, and a file line makes it take a file's content as known by its times.

use std::{
    collections::{HashMap, VecDeque},
    fs,
    hash::Hash,
    os::unix::fs::MetadataExt,
    path::PathBuf,
    sync::{Mutex, OnceLock},
    time::{Duration, SystemTime},
};

use crate::services::write_atomically;

/// The hash the cache names a library's content by.
fn library_hash(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// How long a file must have been unchanged before its hash is remembered by its identity.
/// Two seconds: the coarsest timestamps in use (FAT's) are two seconds apart, and a file
/// rewritten within one tick of its file system's clock keeps its times.
const SETTLED: Duration = Duration::from_secs(2);

/// What names a file's content without reading it: the same device, inode and size, and the
/// same modification and change times to the nanosecond, mean the same bytes, unless the
/// file was written twice within one tick of the file system's clock (see [`SETTLED`]). The
/// change time cannot be set back by a program (`touch` sets it to now), so a file rewritten
/// and given its old modification time still gets a new identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileIdentity {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileIdentity {
    /// The identity of the file `meta` describes.
    pub fn of(meta: &fs::Metadata) -> Self {
        Self {
            device: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            modified: (meta.mtime(), meta.mtime_nsec()),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether the file had been left alone for [`SETTLED`] at `now`.
    fn settled_at(&self, now: SystemTime) -> bool {
        let (seconds, nanos) = self.modified.max(self.changed);
        let (Ok(seconds), Ok(nanos)) = (u64::try_from(seconds), u32::try_from(nanos)) else {
            return false;
        };
        SystemTime::UNIX_EPOCH
            .checked_add(Duration::new(seconds, nanos.min(999_999_999)))
            .and_then(|latest| latest.checked_add(SETTLED))
            .is_some_and(|settled| settled <= now)
    }

    fn line(&self, hash: u128) -> String {
        format!(
            "file {} {} {} {}.{:09} {}.{:09} {hash:032x}",
            self.device,
            self.inode,
            self.size,
            self.modified.0,
            self.modified.1,
            self.changed.0,
            self.changed.1
        )
    }

    /// The identity and hash of a `file` line's fields after `file`.
    fn parse(fields: &[&str]) -> Option<(Self, u128)> {
        let [device, inode, size, modified, changed, hash] = fields[..] else {
            return None;
        };
        let time = |text: &str| -> Option<(i64, i64)> {
            let (seconds, nanos) = text.split_once('.')?;
            Some((seconds.parse().ok()?, nanos.parse().ok()?))
        };
        Some((
            Self {
                device: device.parse().ok()?,
                inode: inode.parse().ok()?,
                size: size.parse().ok()?,
                modified: time(modified)?,
                changed: time(changed)?,
            },
            u128::from_str_radix(hash, 16).ok()?,
        ))
    }
}

/// The id the root module's check is kept under: no extension id can be it (ids have no
/// `:`).
pub(crate) const ROOT_MODULE: &str = ":root-module";

/// The name of the cache file inside the cache folder.
pub const CACHE_FILE: &str = "layout-checks.v1";

/// At most this many entries of each kind are kept (the oldest go first).
const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    library: u128,
    id: String,
    plugin_version: String,
    host_version: String,
}

impl Key {
    fn line(&self, host: u128) -> String {
        format!(
            "{host:032x} {:032x} {} {} {}",
            self.library, self.id, self.plugin_version, self.host_version
        )
    }
}

/// Entries in the order they were learned, at most [`MAX_ENTRIES`]: the oldest go first.
struct Learned<K, V> {
    entries: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K, V> Default for Learned<K, V> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Eq + Hash + Clone, V> Learned<K, V> {
    fn get(&self, key: &K) -> Option<&V> {
        self.entries.get(key)
    }

    /// Adds an entry; false when `key` was known (its value is kept).
    fn insert(&mut self, key: K, value: V) -> bool {
        if self.entries.contains_key(&key) {
            return false;
        }
        self.entries.insert(key.clone(), value);
        self.order.push_back(key);
        while self.order.len() > MAX_ENTRIES {
            if let Some(oldest) = self.order.pop_front() {
                self.entries.remove(&oldest);
            }
        }
        true
    }

    /// The entries, oldest first.
    fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.order
            .iter()
            .filter_map(|key| self.entries.get(key).map(|value| (key, value)))
    }
}

/// The layout-check cache of one manager.
pub(crate) struct LayoutCache {
    file: Option<PathBuf>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    loaded_file: bool,
    /// Entries learned since the file was last written.
    dirty: bool,
    known: Learned<Key, ()>,
    /// The content hash of files by identity.
    hashes: Learned<FileIdentity, u128>,
}

impl LayoutCache {
    /// A cache in memory, and in `dir/layout-checks.v1` when `dir` is given.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self {
            file: dir.map(|d| d.join(CACHE_FILE)),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !state.loaded_file {
            state.loaded_file = true;
            if let Some(file) = &self.file {
                load_file(file, &mut state);
            }
        }
        state
    }

    /// Whether this check passed before.
    pub fn contains(
        &self,
        library: u128,
        id: &str,
        plugin_version: &str,
        host_version: &str,
    ) -> bool {
        let key = Key {
            library,
            id: id.to_owned(),
            plugin_version: plugin_version.to_owned(),
            host_version: host_version.to_owned(),
        };
        self.lock().known.get(&key).is_some()
    }

    /// Records a passed check, in memory until [`Self::flush`].
    pub fn insert(&self, library: u128, id: &str, plugin_version: &str, host_version: &str) {
        let key = Key {
            library,
            id: id.to_owned(),
            plugin_version: plugin_version.to_owned(),
            host_version: host_version.to_owned(),
        };
        let mut state = self.lock();
        if state.known.insert(key, ()) {
            state.dirty = true;
        }
    }

    /// The content hash of the file `identity` names, when an earlier load of the same
    /// file (in this process, or before a restart) computed it.
    pub fn known_hash(&self, identity: &FileIdentity) -> Option<u128> {
        self.lock().hashes.get(identity).copied()
    }

    /// Hashes the library `bytes`, read from the open file `identity` names, and remembers
    /// the hash by that identity when the file had settled.
    pub fn hash_and_remember(&self, identity: &FileIdentity, bytes: &[u8]) -> u128 {
        self.hash_and_remember_at(identity, bytes, SystemTime::now())
    }

    fn hash_and_remember_at(&self, identity: &FileIdentity, bytes: &[u8], now: SystemTime) -> u128 {
        let hash = library_hash(bytes);
        if identity.settled_at(now) {
            let mut state = self.lock();
            if state.hashes.insert(*identity, hash) {
                state.dirty = true;
            }
        }
        hash
    }

    /// Writes the file, when there is one and something was learned since it was written.
    pub fn flush(&self) {
        let mut state = self.lock();
        if !std::mem::take(&mut state.dirty) {
            return;
        }
        if let Some(file) = &self.file {
            let host = host_identity();
            let mut text = String::from(
                "# plugrack-host: layouts found compatible (host, library, extension id or :root-module, plugin version, host version), then library hashes by file (device, inode, size, modified, changed, hash); safe to delete\n",
            );
            for (key, ()) in state.known.iter() {
                text.push_str(&key.line(host));
                text.push('\n');
            }
            // Older hosts skip these lines: they have another number of fields.
            for (identity, &hash) in state.hashes.iter() {
                text.push_str(&identity.line(hash));
                text.push('\n');
            }
            if let Err(e) = write_atomically(file, text.as_bytes()) {
                log::warn!(target: "plugrack_host", "cannot write the layout-check cache {}: {e}", file.display());
            }
        }
    }
}

impl Drop for LayoutCache {
    fn drop(&mut self) {
        self.flush();
    }
}

fn load_file(file: &std::path::Path, state: &mut State) {
    let text = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            log::warn!(target: "plugrack_host", "cannot read the layout-check cache {}: {e}", file.display());
            return;
        }
    };
    let host = format!("{:032x}", host_identity());
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields.first() == Some(&"file") {
            if let Some((identity, hash)) = FileIdentity::parse(&fields[1..]) {
                state.hashes.insert(identity, hash);
            }
            continue;
        }
        let [line_host, library, id, plugin_version, host_version] = fields[..] else {
            continue;
        };
        // Entries of another host build are kept out: its layouts may differ.
        if line_host != host {
            continue;
        }
        let Ok(library) = u128::from_str_radix(library, 16) else {
            continue;
        };
        let key = Key {
            library,
            id: id.to_owned(),
            plugin_version: plugin_version.to_owned(),
            host_version: host_version.to_owned(),
        };
        state.known.insert(key, ());
    }
}

/// This host executable's identity: its GNU build-id when the linker wrote one, else the
/// hash of its bytes. Computed once per process.
///
/// The executable is mapped, not read: finding the build-id touches its headers and notes
/// only, where reading a host of tens of megabytes whole cost the first load milliseconds.
fn host_identity() -> u128 {
    static IDENTITY: OnceLock<u128> = OnceLock::new();
    *IDENTITY.get_or_init(|| {
        let map = std::env::current_exe()
            .and_then(fs::File::open)
            .and_then(|file| {
                // SAFETY: a running executable cannot be opened for writing (ETXTBSY), so the
                // mapped bytes do not change while they are read.
                unsafe { memmap2::Mmap::map(&file) }
            });
        let bytes: &[u8] = match &map {
            Ok(map) => map,
            Err(_) => &[],
        };
        build_id(bytes)
            .map(library_hash)
            .unwrap_or_else(|| library_hash(bytes))
    })
}

fn build_id(bytes: &[u8]) -> Option<&[u8]> {
    use object::Object;
    object::File::parse(bytes).ok()?.build_id().ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_in_the_file_and_only_for_this_host() {
        let dir = tempfile::tempdir().unwrap();
        let cache = LayoutCache::new(Some(dir.path().to_owned()));
        assert!(!cache.contains(7, "a.b", "1.0.0", "1.1.0"));
        cache.insert(7, "a.b", "1.0.0", "1.1.0");
        assert!(cache.contains(7, "a.b", "1.0.0", "1.1.0"));
        assert!(
            !cache.contains(7, "a.b", "1.0.0", "1.2.0"),
            "another host version"
        );
        assert!(
            !cache.contains(8, "a.b", "1.0.0", "1.1.0"),
            "another library"
        );
        let file = dir.path().join(CACHE_FILE);
        assert!(!file.exists(), "written once per load, by flush");
        cache.flush();
        assert!(file.exists());

        let again = LayoutCache::new(Some(dir.path().to_owned()));
        assert!(
            again.contains(7, "a.b", "1.0.0", "1.1.0"),
            "read back from the file"
        );

        // An entry written by another host build is ignored.
        let text = fs::read_to_string(&file).unwrap();
        let foreign = text.replace(&format!("{:032x}", host_identity()), &"0".repeat(32));
        fs::write(&file, foreign).unwrap();
        assert!(!LayoutCache::new(Some(dir.path().to_owned())).contains(7, "a.b", "1.0.0", "1.1.0"));
    }

    #[test]
    fn a_settled_file_is_known_by_its_identity_after_a_restart_too() {
        let dir = tempfile::tempdir().unwrap();
        let library = dir.path().join("libp.so");
        fs::write(&library, b"first").unwrap();
        let identity = FileIdentity::of(&fs::metadata(&library).unwrap());
        let later = SystemTime::now() + SETTLED + Duration::from_secs(1);

        let cache = LayoutCache::new(Some(dir.path().to_owned()));
        // Just written: hashed, not remembered (it may still be being written).
        assert_eq!(
            cache.hash_and_remember(&identity, b"first"),
            library_hash(b"first")
        );
        assert_eq!(cache.known_hash(&identity), None);
        // Settled: remembered.
        assert_eq!(
            cache.hash_and_remember_at(&identity, b"first", later),
            library_hash(b"first")
        );
        assert_eq!(cache.known_hash(&identity), Some(library_hash(b"first")));
        cache.flush();

        let again = LayoutCache::new(Some(dir.path().to_owned()));
        assert_eq!(
            again.known_hash(&identity),
            Some(library_hash(b"first")),
            "read back from the file"
        );
        // Rewritten (same size): a new change time, so a new identity, not known.
        std::thread::sleep(Duration::from_millis(20));
        fs::write(&library, b"third").unwrap();
        let rewritten = FileIdentity::of(&fs::metadata(&library).unwrap());
        assert_ne!(rewritten, identity);
        assert_eq!(again.known_hash(&rewritten), None);
    }

    #[test]
    fn file_lines_read_back_and_bad_ones_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let meta = fs::metadata(dir.path()).unwrap();
        let identity = FileIdentity::of(&meta);
        let line = identity.line(0xabc);
        let fields: Vec<&str> = line.split(' ').collect();
        assert_eq!(fields[0], "file");
        assert_eq!(FileIdentity::parse(&fields[1..]), Some((identity, 0xabc)));
        for bad in [
            "file 1 2 3 4.5 6.7",
            "file 1 2 x 4.5 6.7 ab",
            "file 1 2 3 4 6.7 ab",
        ] {
            let fields: Vec<&str> = bad.split(' ').collect();
            assert_eq!(FileIdentity::parse(&fields[1..]), None, "{bad}");
        }
    }

    #[test]
    fn the_oldest_entries_go_first_and_known_ones_keep_their_value() {
        let mut learned = Learned::default();
        for n in 0..=MAX_ENTRIES {
            assert!(learned.insert(n, n * 2));
        }
        assert!(!learned.insert(MAX_ENTRIES, 0), "known");
        assert_eq!(learned.get(&MAX_ENTRIES), Some(&(MAX_ENTRIES * 2)));
        assert_eq!(learned.get(&0), None, "the oldest went");
        let keys: Vec<usize> = learned.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, (1..=MAX_ENTRIES).collect::<Vec<_>>());
    }

    #[test]
    fn this_test_binary_has_an_identity() {
        assert_ne!(host_identity(), library_hash(&[]));
    }
}
