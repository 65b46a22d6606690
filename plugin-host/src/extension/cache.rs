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
//! The file (`layout-checks.v1` in the configured cache folder) is a few text lines, written
//! atomically once per load, reload or folder load that learned something (not once per
//! check: a folder of a hundred new plugins is one write); anyone may delete it. It is as trusted as the plugins folder: an entry makes
//! the host skip a safety check for that library content.

use std::{
    collections::HashSet,
    fs,
    path::PathBuf,
    sync::{Mutex, OnceLock},
};

use crate::services::write_atomically;

/// The hash the cache names a library's content by.
pub(crate) fn library_hash(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// The id the root module's check is kept under: no extension id can be it (ids have no
/// `:`).
pub(crate) const ROOT_MODULE: &str = ":root-module";

/// The name of the cache file inside the cache folder.
pub const CACHE_FILE: &str = "layout-checks.v1";

/// At most this many entries are kept in the file (the oldest go first).
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
    known: HashSet<Key>,
    /// Entries in the order they were learned, for the file.
    order: Vec<Key>,
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
        self.lock().known.contains(&key)
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
        if !state.known.insert(key.clone()) {
            return;
        }
        state.order.push(key);
        if state.order.len() > MAX_ENTRIES {
            let excess = state.order.len() - MAX_ENTRIES;
            let dropped: Vec<Key> = state.order.drain(..excess).collect();
            for key in dropped {
                state.known.remove(&key);
            }
        }
        state.dirty = true;
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
                "# plugrack-host: layouts found compatible (host, library, extension id or :root-module, plugin version, host version); safe to delete\n",
            );
            for key in &state.order {
                text.push_str(&key.line(host));
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
        if state.known.insert(key.clone()) {
            state.order.push(key);
        }
    }
}

/// This host executable's identity: its GNU build-id when the linker wrote one, else the
/// hash of its bytes. Computed once per process.
fn host_identity() -> u128 {
    static IDENTITY: OnceLock<u128> = OnceLock::new();
    *IDENTITY.get_or_init(|| {
        let bytes = std::env::current_exe()
            .and_then(fs::read)
            .unwrap_or_default();
        build_id(&bytes)
            .map(library_hash)
            .unwrap_or_else(|| library_hash(&bytes))
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
    fn this_test_binary_has_an_identity() {
        assert_ne!(host_identity(), library_hash(&[]));
    }
}
