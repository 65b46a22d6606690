//! Hot reload: watches the plugin folders and loads, reloads or unloads what changed.
//!
//! Changes are debounced (a deploy writes several files), mapped to the top-level entry of a
//! plugins folder they belong to (a `.so` file or a plugin folder), and then: a new entry is
//! loaded, a changed one reloaded ([`PluginManager::reload`]: a bad build leaves the running
//! one in place), a removed one unloaded. Hidden entries (a deploy's temporary files) are
//! ignored.
//!
//! Only events that can change an entry count: creations, writes (modify, close after
//! writing), attribute changes, renames and removals. Opens, reads and closes after reading
//! are ignored: the checks themselves open and read every file they look at, so reacting to
//! those made each check the reason for the next one (a refused file was refused about three
//! times a second, forever). And whether an entry changed at all is decided by its stamp
//! (`crate::stamp`): an entry is tried once per version, loaded or refused.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    sync::{mpsc, Arc, Weak},
    thread,
    time::{Duration, Instant},
};

use notify::{
    event::{AccessKind, AccessMode},
    Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher as _,
};

use crate::{discovery::Origin, PluginManager};

/// A batch of changes is applied at the latest after this many debounce periods, so a writer
/// that never pauses still gets its changes seen.
const MAX_BATCH_PERIODS: u32 = 10;

/// Watches the manager's folders until dropped.
pub struct Watcher {
    watcher: Option<RecommendedWatcher>,
    thread: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("watching", &self.watcher.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Dropping the watcher drops its sender, which ends the thread.
        self.watcher.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A watched folder: where events come from (an absolute path) and the folder as configured
/// (what the manager's entries are named after).
#[derive(Debug, Clone)]
struct Folder {
    watched: PathBuf,
    configured: PathBuf,
    origin: Origin,
}

/// Starts watching the bundled and external folders configured for `manager`.
///
/// ```no_run
/// use std::{sync::Arc, time::Duration};
/// use plugrack_host::{HostConfig, PluginManager};
///
/// let manager = Arc::new(PluginManager::new(HostConfig::new("1.0.0".parse()?).external_dir("plugins")));
/// manager.discover();
/// let _watcher = plugrack_host::watch(&manager, Duration::from_millis(300))?;
/// // ... serve; deployed plugins are picked up while the watcher lives.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn watch(manager: &Arc<PluginManager>, debounce: Duration) -> Result<Watcher, notify::Error> {
    let mut folders = Vec::new();
    for (configured, origin) in manager.folders() {
        // Events name absolute paths; a relative folder (`--plugins-dir plugins`) must match.
        let watched = std::path::absolute(&configured).map_err(notify::Error::io)?;
        folders.push(Folder {
            watched,
            configured,
            origin,
        });
    }
    let (tx, rx) = mpsc::channel::<notify::Result<Event>>();
    let mut watcher = notify::recommended_watcher(move |event| {
        // The receiving thread is gone only while the watcher is being dropped.
        let _ = tx.send(event);
    })?;
    for folder in &folders {
        watcher.watch(&folder.watched, RecursiveMode::Recursive)?;
    }
    let weak = Arc::downgrade(manager);
    let thread = thread::Builder::new()
        .name("plugin-watch".into())
        .spawn(move || {
            while let Some(batch) = next_batch(&rx, debounce) {
                apply(&weak, &folders, batch);
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(Watcher {
        watcher: Some(watcher),
        thread: Some(thread),
    })
}

/// What one debounced batch touched.
#[derive(Debug, Default)]
struct Batch {
    paths: BTreeSet<PathBuf>,
    /// The kernel dropped events (its queue overflowed): every entry is looked at.
    rescan: bool,
}

impl Batch {
    /// Adds `event`; whether it was a change (ignored accesses and errors are not).
    fn add(&mut self, event: notify::Result<Event>) -> bool {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                log::warn!(target: "plugrack_host", "watching the plugin folders: {e}");
                return false;
            }
        };
        if event.need_rescan() {
            self.rescan = true;
            return true;
        }
        if !is_change(&event.kind) {
            log::trace!(target: "plugrack_host", "ignored {:?} of {:?}", event.kind, event.paths);
            return false;
        }
        log::debug!(target: "plugrack_host", "{:?} of {:?}", event.kind, event.paths);
        self.paths.extend(event.paths);
        true
    }
}

/// Waits for a change, then collects changes until none came for `debounce` (or for
/// [`MAX_BATCH_PERIODS`] periods at most). `None` once the watcher is dropped.
fn next_batch(rx: &mpsc::Receiver<notify::Result<Event>>, debounce: Duration) -> Option<Batch> {
    let mut batch = Batch::default();
    while !batch.add(rx.recv().ok()?) {}
    let latest = Instant::now() + debounce * MAX_BATCH_PERIODS;
    loop {
        let quiet_until = Instant::now() + debounce;
        // Accesses do not postpone the batch: only a change restarts the quiet period.
        let changed = loop {
            let left = quiet_until
                .min(latest)
                .saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(event) => {
                    if batch.add(event) {
                        break true;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => break false,
                // Dropped while changes were pending: they are applied all the same.
                Err(mpsc::RecvTimeoutError::Disconnected) => return Some(batch),
            }
        };
        if !changed || Instant::now() >= latest {
            return Some(batch);
        }
    }
}

/// Whether an event of this kind can change a plugins-folder entry. Opening, reading and
/// closing after reading cannot, and the manager's own checks cause them.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Any
        | EventKind::Create(_)
        | EventKind::Modify(_)
        | EventKind::Remove(_)
        | EventKind::Other => true,
    }
}

/// The entry of a plugins folder that `path` belongs to, named as the manager names it.
fn top_level(path: &Path, folders: &[Folder]) -> Option<(PathBuf, Origin)> {
    folders.iter().find_map(|folder| {
        let first = path
            .strip_prefix(&folder.watched)
            .ok()?
            .components()
            .next()?;
        Some((folder.configured.join(first), folder.origin))
    })
}

fn apply(manager: &Weak<PluginManager>, folders: &[Folder], batch: Batch) {
    let Some(manager) = manager.upgrade() else {
        return;
    };
    let known = manager.sources();
    let mut touched: BTreeSet<(PathBuf, Origin)> = batch
        .paths
        .iter()
        .filter_map(|p| top_level(p, folders))
        .collect();
    if batch.rescan {
        for folder in folders {
            let listed = fs::read_dir(&folder.configured)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path());
            let remembered = known
                .iter()
                .filter(|s| s.parent() == Some(folder.configured.as_path()))
                .cloned();
            touched.extend(listed.chain(remembered).map(|p| (p, folder.origin)));
        }
    }
    for (entry, origin) in touched {
        if entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let is_known = known.contains(&entry);
        if fs::symlink_metadata(&entry).is_ok() {
            // An entry already tried in this version (loaded or refused) is left alone there.
            let report = if is_known {
                manager.refresh(&entry)
            } else {
                manager.load_new(&entry, origin)
            };
            log::debug!(target: "plugrack_host", "{}: {}", entry.display(), report.status);
        } else if is_known {
            // Removed: forgotten, so a file put back under its name is tried afresh.
            manager.remove(&entry);
        }
    }
}

impl PartialOrd for Origin {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Origin {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (*self as u8).cmp(&(*other as u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every raw event a real watcher reports for `action` on a file in a watched folder,
    /// collected for a bounded time after the action.
    fn raw_events(action: impl FnOnce(&Path)) -> Vec<EventKind> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("junk.so");
        fs::write(&file, b"garbage").unwrap();
        let (tx, rx) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(move |e| {
            let _ = tx.send(e);
        })
        .unwrap();
        watcher.watch(dir.path(), RecursiveMode::Recursive).unwrap();
        action(&file);
        let mut kinds = Vec::new();
        while let Ok(event) = rx.recv_timeout(Duration::from_millis(300)) {
            kinds.push(event.unwrap().kind);
        }
        eprintln!("events: {kinds:?}");
        kinds
    }

    #[test]
    fn reading_a_file_produces_events_that_are_not_changes() {
        // What the checks do to a file: open it, read it, close it.
        let kinds = raw_events(|file| {
            fs::read(file).unwrap();
        });
        assert!(
            kinds.contains(&EventKind::Access(AccessKind::Open(AccessMode::Any))),
            "the kernel reports the open: {kinds:?}"
        );
        assert!(
            kinds.iter().all(|k| !is_change(k)),
            "none of them is a change: {kinds:?}"
        );
    }

    #[test]
    fn writing_renaming_and_removing_are_changes() {
        for (what, action) in [
            (
                "write",
                (|f: &Path| fs::write(f, b"other").unwrap()) as fn(&Path),
            ),
            ("rename", |f: &Path| {
                fs::rename(f, f.with_file_name("moved.so")).unwrap()
            }),
            ("remove", |f: &Path| fs::remove_file(f).unwrap()),
        ] {
            let kinds = raw_events(action);
            assert!(
                kinds.iter().any(is_change),
                "a {what} is seen as a change: {kinds:?}"
            );
        }
    }

    #[test]
    fn top_level_maps_absolute_event_paths_to_configured_entries() {
        let folders = [Folder {
            watched: PathBuf::from("/srv/app/plugins"),
            configured: PathBuf::from("plugins"),
            origin: Origin::External,
        }];
        for (event, entry) in [
            ("/srv/app/plugins/junk.so", Some("plugins/junk.so")),
            (
                "/srv/app/plugins/showcase/plugin.toml",
                Some("plugins/showcase"),
            ),
            (
                "/srv/app/plugins/showcase/lib/amd64/libz.so.1",
                Some("plugins/showcase"),
            ),
            ("/srv/app/plugins", None),
            ("/srv/app/other/junk.so", None),
        ] {
            assert_eq!(
                top_level(Path::new(event), &folders).map(|(p, _)| p),
                entry.map(PathBuf::from),
                "{event}"
            );
        }
    }
}
