//! Hot reload: watches the plugin folders and loads, reloads or unloads what changed.
//!
//! Changes are debounced (a deploy writes several files), mapped to the top-level entry of a
//! plugins folder they belong to (a `.so` file or a plugin folder), and then: a new entry is
//! loaded, a changed one reloaded ([`PluginManager::reload`]: a bad build leaves the running
//! one in place), a removed one unloaded. Hidden entries (a deploy's temporary files) are
//! ignored.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{mpsc, Arc, Weak},
    thread,
    time::Duration,
};

use notify::RecursiveMode;
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

use crate::{discovery::Origin, PluginManager};

/// Watches the manager's folders until dropped.
pub struct Watcher {
    debouncer: Option<Debouncer<notify::RecommendedWatcher>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("watching", &self.debouncer.is_some())
            .finish_non_exhaustive()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Dropping the debouncer closes the channel, which ends the thread.
        self.debouncer.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
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
    let folders = manager.folders();
    let (tx, rx) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(debounce, tx)?;
    for (dir, _) in &folders {
        debouncer.watcher().watch(dir, RecursiveMode::Recursive)?;
    }
    let weak = Arc::downgrade(manager);
    let thread = thread::Builder::new()
        .name("plugin-watch".into())
        .spawn(move || {
            while let Ok(batch) = rx.recv() {
                match batch {
                    Ok(events) => apply(&weak, &folders, events.iter().map(|e| e.path.as_path())),
                    Err(e) => {
                        log::warn!(target: "plugrack_host", "watching the plugin folders: {e}")
                    }
                }
            }
        })
        .map_err(|e| notify::Error::generic(&e.to_string()))?;
    Ok(Watcher {
        debouncer: Some(debouncer),
        thread: Some(thread),
    })
}

/// The entry of a plugins folder that `path` belongs to.
fn top_level(path: &Path, folders: &[(PathBuf, Origin)]) -> Option<(PathBuf, Origin)> {
    folders.iter().find_map(|(dir, origin)| {
        let first = path.strip_prefix(dir).ok()?.components().next()?;
        Some((dir.join(first), *origin))
    })
}

fn apply<'a>(
    manager: &Weak<PluginManager>,
    folders: &[(PathBuf, Origin)],
    paths: impl Iterator<Item = &'a Path>,
) {
    let Some(manager) = manager.upgrade() else {
        return;
    };
    let touched: BTreeSet<(PathBuf, Origin)> =
        paths.filter_map(|p| top_level(p, folders)).collect();
    let known = manager.sources();
    for (entry, origin) in touched {
        if entry
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        let is_known = known.contains(&entry);
        if entry.exists() {
            let report = if is_known {
                manager.reload(&entry)
            } else {
                manager.load_new(&entry, origin)
            };
            log::debug!(target: "plugrack_host", "{}: {}", entry.display(), report.status);
        } else if is_known {
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
