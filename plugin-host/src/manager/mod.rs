//! The plugin manager: discovers plugin files and folders, loads each one independently from
//! a private copy, keeps one status per entry, hands out per-user instances, reloads and
//! unloads, and publishes events.
//!
//! Every method takes `&self`: a manager is shared between the application's threads and the
//! folder watcher (`Arc<PluginManager>`). Loading happens outside the state lock; only the
//! swap of an entry is under it, so calls keep flowing while a plugin loads or reloads.
//!
//! This is the bookkeeping side of the "where a plugin runs" seam: it never touches a
//! library or a process itself, only the [`Runner`] each load returns. The work is spread
//! over [`open`] (checks before anything of the plugin runs, the private copy, opening it),
//! [`start`] (`on_load` and the entry), [`folder`] (a folder's entries, opened on a loader
//! thread that can be given up on),
//! [`instances`] (per-user instances, configuration, turning plugins on and off),
//! [`extensions`] (typed handles to host-defined extension points) and [`lifecycle`]
//! (reload, removal, unload, retiring replaced builds).

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{atomic::AtomicU64, mpsc, Arc, Mutex, RwLock},
    time::{Duration, SystemTime},
};

use plugrack_api::API_VERSION;

use crate::{
    call::{CallError, Instance},
    config::HostConfig,
    discovery::{self, Found, Origin},
    error::{LoadError, Refusal},
    events::{PluginEvent, Subscribers},
    extension::{LayoutCache, LoadedExtension},
    logfile::PluginLog,
    metrics::Metrics,
    report::{LoadPhases, PluginInfo, PluginReport, PluginStatus},
    runner::{Health, Runner},
    services::{Shared, Storage},
    stamp::{self, Stamp},
};

mod extensions;
mod folder;
mod instances;
mod lifecycle;
mod open;
mod private;
mod start;

use open::Prechecked;
use private::PrivateDir;

/// A folder entry's checks run ahead of its load: its stamp, taken before they read it, and
/// their outcome.
type Ahead = (Option<Stamp>, Result<Prechecked, Box<LoadError>>);

/// An instance, or the reason it is disabled; the instance is kept so a new configuration
/// can revive it.
struct Slot {
    instance: Instance,
    disabled: Option<String>,
}

pub(crate) struct Loaded {
    /// Where the plugin runs.
    runner: Box<dyn Runner>,
    info: PluginInfo,
    instances: Mutex<HashMap<u64, Slot>>,
    metrics: Arc<Metrics>,
    log: Arc<PluginLog>,
    load_time: Duration,
    load_phases: LoadPhases,
    loaded_at: SystemTime,
    /// The host-defined extension points it implements, checked and created after `on_load`.
    extensions: Vec<LoadedExtension>,
}

struct Entry {
    /// The entry's stamp when it was last tried (loaded, refused or skipped), taken before it
    /// was read: the same version is never tried twice, a refused file included; a change to
    /// it (or its removal) is what lets it be tried again.
    tried: Option<Stamp>,
    source: PathBuf,
    origin: Origin,
    status: PluginStatus,
    loaded: Option<Arc<Loaded>>,
    messages: Vec<String>,
}

impl Entry {
    /// Whether this entry holds the loaded plugin `id` (ids compare case-insensitively).
    fn has_id(&self, id: &str) -> bool {
        self.loaded
            .as_ref()
            .is_some_and(|l| l.info.id.eq_ignore_ascii_case(id))
    }
}

/// The plugins whose failing `on_unload` was already reported: a plugin that fails (or
/// panics) on every unload is reported once, at warning level, not on every reload or run.
#[derive(Clone, Default)]
struct UnloadWarnings(Arc<Mutex<HashSet<String>>>);

impl UnloadWarnings {
    fn report(&self, id: &str, error: &CallError) {
        let first = self
            .0
            .lock()
            .unwrap_or_else(lock_poisoned)
            .insert(id.to_ascii_lowercase());
        if first {
            log::warn!(target: "plugrack_host", "{error} (reported once per plugin)");
        } else {
            log::debug!(target: "plugrack_host", "{error}");
        }
    }
}

/// Loads plugins and hands out instances. See the crate documentation for an example.
pub struct PluginManager {
    core: Arc<Core>,
    /// False for a folder loader's handle (see `folder`): only the application's manager
    /// unloads the plugins when it is dropped.
    owner: bool,
}

/// A manager's state, shared with the thread that loads a folder's plugins.
struct Core {
    config: HostConfig,
    shared: Arc<Shared>,
    state: RwLock<Vec<Entry>>,
    subscribers: Arc<Subscribers>,
    private: PrivateDir,
    generation: AtomicU64,
    /// The files (device, inode) loaded in place once ([`crate::LoadFrom::InPlace`]).
    in_place: Mutex<HashSet<(u64, u64)>>,
    unload_warnings: UnloadWarnings,
    /// Extension layout checks that passed, by library content.
    layout_cache: LayoutCache,
}

impl std::fmt::Debug for PluginManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plugins = self
            .core
            .state
            .read()
            .map_or_else(|e| e.into_inner().len(), |s| s.len());
        f.debug_struct("PluginManager")
            .field("config", &self.core.config)
            .field("plugins", &plugins)
            .finish_non_exhaustive()
    }
}

fn lock_poisoned<T>(e: std::sync::PoisonError<T>) -> T {
    e.into_inner()
}

impl PluginManager {
    /// A manager with no plugins yet.
    ///
    /// # Panics
    /// If no private folder can be created under the system's temporary folder and none was
    /// configured with [`HostConfig::private_dir`].
    pub fn new(config: HostConfig) -> Self {
        let storage = match &config.storage_dir {
            Some(dir) => Storage::Dir(dir.clone()),
            None => Storage::Memory(Mutex::default()),
        };
        let shared = Arc::new(Shared {
            host_version: config.host_version.to_string(),
            storage,
            on_message: config.on_message.clone(),
        });
        let private = match &config.private_dir {
            Some(dir) => PrivateDir::Given(dir.clone()),
            None => PrivateDir::create(),
        };
        let layout_cache = LayoutCache::new(config.cache_dir.clone());
        let core = Core {
            layout_cache,
            config,
            shared,
            state: RwLock::default(),
            subscribers: Arc::default(),
            private,
            generation: AtomicU64::new(0),
            in_place: Mutex::default(),
            unload_warnings: UnloadWarnings::default(),
        };
        Self {
            core: Arc::new(core),
            owner: true,
        }
    }

    /// Another handle on this manager's state, for a thread that loads a folder's plugins
    /// and may outlive the call that started it (when a plugin's `on_load` hangs there).
    fn loader_handle(&self) -> Self {
        Self {
            core: Arc::clone(&self.core),
            owner: false,
        }
    }

    /// The plugrack-api version this host provides.
    pub fn api_version(&self) -> &'static str {
        API_VERSION
    }

    /// Subscribes to loaded, refused, reloaded and unloaded events. Dropping the receiver
    /// unsubscribes.
    pub fn subscribe(&self) -> mpsc::Receiver<PluginEvent> {
        self.core.subscribers.subscribe()
    }

    /// Loads the configured bundled folder, then the external folder (see [`crate::discovery`]
    /// for the order), and returns one report per entry.
    pub fn discover(&self) -> Vec<PluginReport> {
        let mut reports = Vec::new();
        let folders = [
            (&self.core.config.bundled_dir, Origin::Bundled),
            (&self.core.config.external_dir, Origin::External),
        ];
        for (dir, origin) in folders {
            if let Some(dir) = dir {
                reports.extend(self.load_folder(dir, origin));
            }
        }
        reports
    }

    /// Loads every entry of `dir` as external plugins, in file-name order, and returns one
    /// report per entry. A failing entry never stops the others.
    pub fn load_dir(&self, dir: &Path) -> Vec<PluginReport> {
        self.load_folder(dir, Origin::External)
    }

    /// [`Self::load_folder_entries`], then the layout-check cache's file written once for
    /// the whole folder.
    fn load_folder(&self, dir: &Path, origin: Origin) -> Vec<PluginReport> {
        let reports = self.load_folder_entries(dir, origin);
        self.core.layout_cache.flush();
        reports
    }

    /// Loads or skips one entry of a folder, whose checks may have run already.
    fn load_found(&self, found: Found, prechecked: Option<Ahead>, origin: Origin) -> PluginReport {
        match found {
            Found::Candidate(path) => {
                // The stamp is taken before anything reads the file: a write during the load
                // changes it, and the watcher's event for that write loads the new version.
                let (tried, prechecked) = match prechecked {
                    Some((tried, prechecked)) => (tried, prechecked),
                    None => (stamp::of(&path), self.precheck(&path)),
                };
                let opened =
                    prechecked.and_then(|prechecked| self.open_prechecked(&path, prechecked, None));
                self.record_load(&path, tried, opened, origin)
            }
            Found::Skipped { path, reason } => {
                log::debug!(target: "plugrack_host", "skipping {}: {reason}", path.display());
                self.push(Entry {
                    tried: stamp::of(&path),
                    source: path,
                    origin,
                    status: PluginStatus::Skipped { reason },
                    loaded: None,
                    messages: vec![],
                })
            }
        }
    }

    /// Loads one plugin file or plugin folder as an external plugin.
    pub fn load_file(&self, path: &Path) -> PluginReport {
        self.load_path(path, Origin::External)
    }

    fn load_path(&self, path: &Path, origin: Origin) -> PluginReport {
        let report = self.load_found(Found::Candidate(path.to_owned()), None, origin);
        self.core.layout_cache.flush();
        report
    }

    /// Records the outcome of loading `path` (stamped `tried` before it was read) as its
    /// entry, logs and publishes it.
    fn record_load(
        &self,
        path: &Path,
        tried: Option<Stamp>,
        opened: Result<Arc<Loaded>, Box<LoadError>>,
        origin: Origin,
    ) -> PluginReport {
        let entry = match opened {
            Ok(loaded) => {
                log::info!(target: "plugrack_host", "loaded plugin `{}` from {}", loaded.info.id, path.display());
                self.core.subscribers.publish(PluginEvent::Loaded {
                    id: loaded.info.id.clone(),
                    source: path.to_owned(),
                });
                Entry {
                    tried,
                    source: path.to_owned(),
                    origin,
                    status: PluginStatus::Active,
                    loaded: Some(loaded),
                    messages: vec![],
                }
            }
            Err(error) => {
                log::warn!(target: "plugrack_host", "{error}");
                self.core.subscribers.publish(PluginEvent::Refused {
                    source: path.to_owned(),
                    message: error.to_string(),
                });
                // A worker's last words explain its crash; abi_stable's reports stay in
                // `detail` only (they run to hundreds of lines).
                let messages = match (&error.refusal, &error.detail) {
                    (Refusal::WorkerCrashed { .. }, Some(words)) => vec![words.clone()],
                    _ => vec![],
                };
                Entry {
                    tried,
                    source: path.to_owned(),
                    origin,
                    status: PluginStatus::Invalid(*error),
                    loaded: None,
                    messages,
                }
            }
        };
        self.push(entry)
    }

    fn push(&self, entry: Entry) -> PluginReport {
        let report = Self::report(&entry);
        let mut state = self.core.state.write().unwrap_or_else(lock_poisoned);
        // Loading the same source again replaces its entry.
        state.retain(|e| e.source != entry.source);
        state.push(entry);
        report
    }

    fn find_loaded(&self, id: &str) -> Option<Arc<Loaded>> {
        let state = self.core.state.read().unwrap_or_else(lock_poisoned);
        state
            .iter()
            .filter_map(|e| e.loaded.as_ref())
            .find(|l| l.info.id.eq_ignore_ascii_case(id))
            .cloned()
    }

    fn report(entry: &Entry) -> PluginReport {
        let loaded = entry.loaded.as_ref();
        // Where it runs may have news: a worker that crashed is restarting, or gave up.
        let status = match (&entry.status, loaded.map(|l| l.runner.health())) {
            (PluginStatus::Active, Some(Health::Restarting { reason })) => {
                PluginStatus::Crashed { reason }
            }
            (PluginStatus::Active | PluginStatus::Disabled { .. }, Some(Health::GaveUp(error))) => {
                PluginStatus::Invalid(error)
            }
            (status, _) => status.clone(),
        };
        let mut messages = entry.messages.clone();
        if let Some(loaded) = loaded {
            messages.extend(loaded.runner.notes());
        }
        PluginReport {
            path: entry.source.clone(),
            origin: entry.origin,
            info: loaded.map(|l| l.info.clone()),
            status,
            messages,
            load_time: loaded.map(|l| l.load_time),
            load_phases: loaded.map(|l| l.load_phases),
            loaded_at: loaded.map(|l| l.loaded_at),
            extensions: loaded
                .map(|l| l.extensions.iter().map(|e| e.report.clone()).collect())
                .unwrap_or_default(),
            metrics: loaded.map(|l| l.metrics.snapshot()).unwrap_or_default(),
            isolation: loaded.map_or("-", |l| l.runner.isolation()),
            worker: loaded.and_then(|l| l.runner.worker()),
        }
    }

    /// One report per entry loaded so far, in load order.
    pub fn reports(&self) -> Vec<PluginReport> {
        self.core
            .state
            .read()
            .unwrap_or_else(lock_poisoned)
            .iter()
            .map(Self::report)
            .collect()
    }

    /// The report of the plugin with this id (case-insensitive).
    pub fn report_for(&self, id: &str) -> Option<PluginReport> {
        let state = self.core.state.read().unwrap_or_else(lock_poisoned);
        state.iter().find(|e| e.has_id(id)).map(Self::report)
    }

    /// The descriptor of a loaded plugin (ids compare case-insensitively).
    pub fn info(&self, id: &str) -> Option<PluginInfo> {
        self.find_loaded(id).map(|l| l.info.clone())
    }

    fn active(&self, id: &str) -> Result<Arc<Loaded>, CallError> {
        let state = self.core.state.read().unwrap_or_else(lock_poisoned);
        let entry = state
            .iter()
            .find(|e| e.has_id(id))
            .ok_or_else(|| CallError::NotFound { id: id.into() })?;
        let loaded = entry.loaded.clone().expect("found by loaded id");
        match (&entry.status, loaded.runner.health()) {
            (PluginStatus::Disabled { reason }, _) => Err(CallError::NotActive {
                id: loaded.info.id.clone(),
                reason: reason.clone(),
            }),
            (_, Health::GaveUp(error)) => Err(CallError::NotActive {
                id: loaded.info.id.clone(),
                reason: error.refusal.to_string(),
            }),
            _ => Ok(loaded),
        }
    }

    /// The entries' sources, for the watcher.
    pub(crate) fn sources(&self) -> Vec<PathBuf> {
        self.core
            .state
            .read()
            .unwrap_or_else(lock_poisoned)
            .iter()
            .map(|e| e.source.clone())
            .collect()
    }

    /// The folders to watch.
    pub(crate) fn folders(&self) -> Vec<(PathBuf, Origin)> {
        [
            (&self.core.config.bundled_dir, Origin::Bundled),
            (&self.core.config.external_dir, Origin::External),
        ]
        .into_iter()
        .filter_map(|(d, o)| d.clone().map(|d| (d, o)))
        .collect()
    }

    pub(crate) fn load_new(&self, path: &Path, origin: Origin) -> PluginReport {
        let report = self.load_found(discovery::classify(path.to_owned()), None, origin);
        self.core.layout_cache.flush();
        report
    }
}

fn drain_instances(loaded: &Loaded) {
    let drained: Vec<Slot> = {
        let mut map = loaded.instances.lock().unwrap_or_else(lock_poisoned);
        map.drain().map(|(_, slot)| slot).collect()
    };
    for slot in drained.into_iter().filter(|s| s.disabled.is_none()) {
        if let Err(e) = slot.instance.disable() {
            log::warn!(target: "plugrack_host", "{e}");
        }
    }
}

impl Drop for PluginManager {
    fn drop(&mut self) {
        if !self.owner {
            return;
        }
        let entries = std::mem::take(&mut *self.core.state.write().unwrap_or_else(lock_poisoned));
        for loaded in entries.into_iter().filter_map(|e| e.loaded) {
            let id = loaded.info.id.clone();
            if let Err(e) = self.unload_now(loaded) {
                self.core.unload_warnings.report(&id, &e);
            }
        }
        // A folder loader given up on while it runs a hung `on_load` holds the state until
        // that call returns, if ever; the private copies go now all the same.
        if Arc::strong_count(&self.core) > 1 {
            self.core.private.remove_now();
        }
    }
}
