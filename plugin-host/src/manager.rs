//! The plugin manager: discovers plugin files and folders, loads each one independently from
//! a private copy, keeps one status per entry, hands out per-user instances, reloads and
//! unloads, and publishes events.
//!
//! Every method takes `&self`: a manager is shared between the application's threads and the
//! folder watcher (`Arc<PluginManager>`). Loading happens outside the state lock; only the
//! swap of an entry is under it, so calls keep flowing while a plugin loads or reloads.

use std::{
    collections::HashMap,
    fmt, fs,
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Arc, Mutex, RwLock,
    },
    thread,
    time::{Duration, Instant, SystemTime},
};

use plugrack_api::{PluginModuleRef, API_VERSION};
use serde::Serialize;

use crate::{
    call::{CallError, Instance, InstanceInner},
    config::HostConfig,
    discovery::{self, Found, Origin},
    error::{LoadError, Refusal},
    events::{PluginEvent, Subscribers},
    loader::{self, HostFacts},
    logfile::{self, PluginLog},
    metrics::{Metrics, MetricsSnapshot},
    preflight,
    services::{BoundServices, Shared, Storage},
    values::User,
};

/// What a plugin says about itself, from its descriptor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginInfo {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Authors.
    pub authors: Vec<String>,
    /// Home page.
    pub homepage: String,
    /// License.
    pub license: String,
    /// Host versions supported.
    pub host_version_req: String,
    /// Operating systems supported.
    pub target_os: Vec<String>,
    /// The plugrack-api version it was built against.
    pub api_version: String,
    /// Capability names.
    pub capabilities: Vec<&'static str>,
    /// The file or plugin folder it was loaded from.
    pub path: PathBuf,
}

impl PluginInfo {
    pub(crate) fn from_module(module: PluginModuleRef, path: &Path) -> Self {
        let d = module.descriptor();
        let strings = |list: plugrack_api::abi_stable::std_types::RSlice<'static, _>| {
            list.iter()
                .map(|s: &plugrack_api::abi_stable::std_types::RStr<'static>| s.as_str().to_owned())
                .collect()
        };
        Self {
            id: d.id().into(),
            name: d.name().into(),
            version: d.version().into(),
            description: d.description().into(),
            authors: strings(d.authors()),
            homepage: d.homepage().into(),
            license: d.license().into(),
            host_version_req: d.host_version_req().into(),
            target_os: strings(d.target_os()),
            api_version: d.api_version().into(),
            capabilities: module.capabilities().names(),
            path: path.to_owned(),
        }
    }
}

/// The state of one entry of a plugins folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginStatus {
    /// Loaded and callable.
    Active,
    /// Loaded, but turned off (by the host application, or because `enable` failed).
    Disabled {
        /// Why.
        reason: String,
    },
    /// Refused; the error says why and what to do.
    Invalid(LoadError),
    /// Not a plugin (a hidden file, a file without `.so`, a folder without `plugin.toml`).
    Skipped {
        /// Why it was passed over.
        reason: String,
    },
}

impl PluginStatus {
    /// `active`, `disabled`, `invalid` or `skipped`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled { .. } => "disabled",
            Self::Invalid(_) => "invalid",
            Self::Skipped { .. } => "skipped",
        }
    }
}

impl fmt::Display for PluginStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Active => f.write_str("active"),
            Self::Disabled { reason } => write!(f, "disabled: {reason}"),
            Self::Invalid(error) => write!(f, "invalid: {}", error.refusal),
            Self::Skipped { reason } => write!(f, "skipped: {reason}"),
        }
    }
}

/// One entry of a plugins folder and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginReport {
    /// The file or plugin folder.
    pub path: PathBuf,
    /// The folder it was found in.
    pub origin: Origin,
    /// The descriptor, when the plugin loaded.
    pub info: Option<PluginInfo>,
    /// Active, disabled, invalid or skipped.
    pub status: PluginStatus,
    /// Notes from later events (a refused reload, a stored configuration that no longer
    /// validates), newest last.
    pub messages: Vec<String>,
    /// How long loading took (checks, copy, `dlopen`, `on_load`).
    pub load_time: Option<Duration>,
    /// When it was loaded.
    pub loaded_at: Option<SystemTime>,
    /// Calls, errors, panics and latency.
    pub metrics: MetricsSnapshot,
}

impl PluginReport {
    /// The load error, for an invalid plugin.
    pub fn error(&self) -> Option<&LoadError> {
        match &self.status {
            PluginStatus::Invalid(e) => Some(e),
            _ => None,
        }
    }

    /// The plugin's id, if known.
    pub fn id(&self) -> Option<&str> {
        self.info
            .as_ref()
            .map(|i| i.id.as_str())
            .or_else(|| self.error().and_then(|e| e.id.as_deref()))
    }
}

/// An instance, or the reason it is disabled; the instance is kept so a new configuration
/// can revive it.
struct Slot {
    instance: Instance,
    disabled: Option<String>,
}

pub(crate) struct Loaded {
    /// Length, modification time and inode of the library file when it was loaded: a watcher
    /// event that changed none of them is not a new build.
    stamp: Option<(u64, SystemTime, u64)>,
    module: PluginModuleRef,
    info: PluginInfo,
    instances: Mutex<HashMap<u64, Slot>>,
    metrics: Arc<Metrics>,
    log: Arc<PluginLog>,
    load_time: Duration,
    loaded_at: SystemTime,
}

struct Entry {
    /// The build last refused by a reload, so the same broken file is not tried again.
    refused_stamp: Option<(u64, SystemTime, u64)>,
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

/// Where private copies of plugin files go.
enum PrivateDir {
    Owned(tempfile::TempDir),
    Given(PathBuf),
}

impl PrivateDir {
    fn path(&self) -> &Path {
        match self {
            Self::Owned(dir) => dir.path(),
            Self::Given(dir) => dir,
        }
    }
}

/// Loads plugins and hands out instances. See the crate documentation for an example.
pub struct PluginManager {
    config: HostConfig,
    shared: Arc<Shared>,
    state: RwLock<Vec<Entry>>,
    subscribers: Subscribers,
    private: PrivateDir,
    generation: AtomicU64,
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
            None => PrivateDir::Owned(default_private_dir()),
        };
        Self {
            config,
            shared,
            state: RwLock::default(),
            subscribers: Subscribers::default(),
            private,
            generation: AtomicU64::new(0),
        }
    }

    /// The plugrack-api version this host provides.
    pub fn api_version(&self) -> &'static str {
        API_VERSION
    }

    /// Subscribes to loaded, refused, reloaded and unloaded events. Dropping the receiver
    /// unsubscribes.
    pub fn subscribe(&self) -> mpsc::Receiver<PluginEvent> {
        self.subscribers.subscribe()
    }

    /// Loads the configured bundled folder, then the external folder (see [`crate::discovery`]
    /// for the order), and returns one report per entry.
    pub fn discover(&self) -> Vec<PluginReport> {
        let mut reports = Vec::new();
        let folders = [
            (&self.config.bundled_dir, Origin::Bundled),
            (&self.config.external_dir, Origin::External),
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

    fn load_folder(&self, dir: &Path, origin: Origin) -> Vec<PluginReport> {
        let found = match discovery::scan(dir) {
            Ok(found) => found,
            Err(e) => {
                let error = LoadError::new(
                    dir,
                    Refusal::Unreadable {
                        reason: e.to_string(),
                    },
                );
                log::warn!(target: "plugrack_host", "{error}");
                return vec![self.push(Entry {
                    refused_stamp: None,
                    source: dir.to_owned(),
                    origin,
                    status: PluginStatus::Invalid(error),
                    loaded: None,
                    messages: vec![],
                })];
            }
        };
        found
            .into_iter()
            .map(|found| match found {
                Found::Candidate(path) => self.load_path(&path, origin),
                Found::Skipped { path, reason } => {
                    log::debug!(target: "plugrack_host", "skipping {}: {reason}", path.display());
                    self.push(Entry {
                        refused_stamp: None,
                        source: path,
                        origin,
                        status: PluginStatus::Skipped { reason },
                        loaded: None,
                        messages: vec![],
                    })
                }
            })
            .collect()
    }

    /// Loads one plugin file or plugin folder as an external plugin.
    pub fn load_file(&self, path: &Path) -> PluginReport {
        self.load_path(path, Origin::External)
    }

    fn load_path(&self, path: &Path, origin: Origin) -> PluginReport {
        let entry = match self.open(path, None) {
            Ok(loaded) => {
                log::info!(target: "plugrack_host", "loaded plugin `{}` from {}", loaded.info.id, path.display());
                self.subscribers.publish(PluginEvent::Loaded {
                    id: loaded.info.id.clone(),
                    source: path.to_owned(),
                });
                Entry {
                    refused_stamp: None,
                    source: path.to_owned(),
                    origin,
                    status: PluginStatus::Active,
                    loaded: Some(loaded),
                    messages: vec![],
                }
            }
            Err(error) => {
                log::warn!(target: "plugrack_host", "{error}");
                self.subscribers.publish(PluginEvent::Refused {
                    source: path.to_owned(),
                    message: error.to_string(),
                });
                Entry {
                    refused_stamp: None,
                    source: path.to_owned(),
                    origin,
                    status: PluginStatus::Invalid(*error),
                    loaded: None,
                    messages: vec![],
                }
            }
        };
        self.push(entry)
    }

    fn push(&self, entry: Entry) -> PluginReport {
        let report = Self::report(&entry);
        let mut state = self.state.write().unwrap_or_else(lock_poisoned);
        // Loading the same source again replaces its entry.
        state.retain(|e| e.source != entry.source);
        state.push(entry);
        report
    }

    /// Checks, copies, loads and starts the plugin at `path`. `replacing` is the id of the
    /// plugin this load will replace, which may keep its id.
    fn open(&self, path: &Path, replacing: Option<&str>) -> Result<Arc<Loaded>, Box<LoadError>> {
        let started = Instant::now();
        let fail = |refusal: Refusal| Box::new(LoadError::new(path, refusal));
        let (library, manifest) = discovery::resolve(path).map_err(fail)?;
        let bytes = match fs::metadata(&library) {
            Ok(meta) if !meta.is_file() => return Err(fail(Refusal::NotAFile)),
            Ok(_) => fs::read(&library).map_err(|e| {
                fail(Refusal::Unreadable {
                    reason: e.to_string(),
                })
            })?,
            Err(e) => {
                return Err(fail(Refusal::Unreadable {
                    reason: e.to_string(),
                }))
            }
        };
        preflight::inspect_bytes(&bytes).map_err(fail)?;
        if let Some(manifest) = &manifest {
            discovery::verify(manifest, &bytes).map_err(fail)?;
        }
        // Load a private copy: the dynamic loader shares one library per file, and a file
        // overwritten in place while mapped crashes the process. A copy is never touched.
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        let name = library
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let copy = self.private.path().join(format!("{generation}-{name}"));
        fs::write(&copy, &bytes).map_err(|e| {
            fail(Refusal::Unreadable {
                reason: format!("cannot copy it to {}: {e}", copy.display()),
            })
        })?;
        drop(bytes);

        let opened_result = loader::open(
            &copy,
            path,
            &HostFacts {
                host_version: &self.config.host_version,
            },
        );
        // The mapping keeps the data; the name is not needed once the library is open.
        let _ = fs::remove_file(&copy);
        let opened = opened_result?;
        let id = opened.info.id.clone();
        let with_id = |refusal: Refusal| Box::new(LoadError::new(path, refusal).with_id(&id));
        if let Some(manifest) = &manifest {
            for (field, in_manifest, in_library) in [
                ("id", &manifest.plugin.id, &opened.info.id),
                ("version", &manifest.plugin.version, &opened.info.version),
            ] {
                if in_manifest != in_library {
                    return Err(with_id(Refusal::ManifestMismatch {
                        field,
                        manifest: in_manifest.clone(),
                        library: in_library.clone(),
                    }));
                }
            }
        }
        let is_replaced = |other: &str| replacing.is_some_and(|r| r.eq_ignore_ascii_case(other));
        if let Some(other) = self.find_loaded(&id).filter(|l| !is_replaced(&l.info.id)) {
            return Err(with_id(Refusal::DuplicateId {
                id: id.clone(),
                loaded_from: other.info.path.clone(),
            }));
        }

        let level = self.log_level(&id);
        let log = PluginLog::new(
            &id,
            level,
            self.config.log_dir.as_deref(),
            self.config.log_max_bytes,
        )
        .map_err(|e| {
            with_id(Refusal::Unreadable {
                reason: format!("cannot open its log file: {e}"),
            })
        })?;
        let log = Arc::new(log);
        let services =
            BoundServices::new(&id, None, Arc::clone(&self.shared), Arc::clone(&log)).into_abi();
        let on_load = opened.module.on_load();
        match run_with_limit(self.config.lifecycle_timeout, move || {
            on_load(services).into_result()
        }) {
            None => {
                return Err(with_id(Refusal::OnLoadTimedOut {
                    limit_ms: self.config.lifecycle_timeout.as_millis() as u64,
                }))
            }
            Some(Err(error)) if error.kind == plugrack_api::ErrorKind::PANICKED => {
                return Err(with_id(Refusal::OnLoadPanicked {
                    message: error.message.into(),
                }))
            }
            Some(Err(error)) => {
                return Err(with_id(Refusal::OnLoadFailed {
                    message: error.message.into(),
                }))
            }
            Some(Ok(())) => {}
        }
        Ok(Arc::new(Loaded {
            stamp: stamp_of(path),
            module: opened.module,
            info: opened.info,
            instances: Mutex::default(),
            metrics: Arc::default(),
            log,
            load_time: started.elapsed(),
            loaded_at: SystemTime::now(),
        }))
    }

    fn log_level(&self, id: &str) -> logfile::LevelFilter {
        let from_env = std::env::var(logfile::level_variable(id))
            .ok()
            .and_then(|v| v.parse().ok());
        from_env
            .or_else(|| {
                self.config
                    .log_levels
                    .get(&id.to_ascii_lowercase())
                    .copied()
            })
            .unwrap_or(self.config.default_log_level)
    }

    fn find_loaded(&self, id: &str) -> Option<Arc<Loaded>> {
        let state = self.state.read().unwrap_or_else(lock_poisoned);
        state
            .iter()
            .filter_map(|e| e.loaded.as_ref())
            .find(|l| l.info.id.eq_ignore_ascii_case(id))
            .cloned()
    }

    fn report(entry: &Entry) -> PluginReport {
        let loaded = entry.loaded.as_ref();
        PluginReport {
            path: entry.source.clone(),
            origin: entry.origin,
            info: loaded.map(|l| l.info.clone()),
            status: entry.status.clone(),
            messages: entry.messages.clone(),
            load_time: loaded.map(|l| l.load_time),
            loaded_at: loaded.map(|l| l.loaded_at),
            metrics: loaded.map(|l| l.metrics.snapshot()).unwrap_or_default(),
        }
    }

    /// One report per entry loaded so far, in load order.
    pub fn reports(&self) -> Vec<PluginReport> {
        self.state
            .read()
            .unwrap_or_else(lock_poisoned)
            .iter()
            .map(Self::report)
            .collect()
    }

    /// The report of the plugin with this id (case-insensitive).
    pub fn report_for(&self, id: &str) -> Option<PluginReport> {
        let state = self.state.read().unwrap_or_else(lock_poisoned);
        state.iter().find(|e| e.has_id(id)).map(Self::report)
    }

    /// The descriptor of a loaded plugin (ids compare case-insensitively).
    pub fn info(&self, id: &str) -> Option<PluginInfo> {
        self.find_loaded(id).map(|l| l.info.clone())
    }

    fn active(&self, id: &str) -> Result<Arc<Loaded>, CallError> {
        let state = self.state.read().unwrap_or_else(lock_poisoned);
        let entry = state
            .iter()
            .find(|e| e.has_id(id))
            .ok_or_else(|| CallError::NotFound { id: id.into() })?;
        let loaded = entry.loaded.clone().expect("found by loaded id");
        match &entry.status {
            PluginStatus::Disabled { reason } => Err(CallError::NotActive {
                id: loaded.info.id.clone(),
                reason: reason.clone(),
            }),
            _ => Ok(loaded),
        }
    }

    fn config_path(&self, id: &str, user: u64) -> Option<PathBuf> {
        self.config
            .storage_dir
            .as_ref()
            .map(|dir| dir.join(id).join(format!("user-{user}.config")))
    }

    /// The instance of plugin `id` for `user`, created on first use: a stored configuration
    /// is applied, then the instance is enabled.
    ///
    /// A stored configuration the plugin no longer accepts leaves the instance disabled (the
    /// error says why) and the stored text untouched; [`PluginManager::set_config`] revives it.
    pub fn instance(&self, id: &str, user: &User) -> Result<Instance, CallError> {
        let loaded = self.active(id)?;
        let mut instances = loaded.instances.lock().unwrap_or_else(lock_poisoned);
        if let Some(slot) = instances.get(&user.id) {
            return match &slot.disabled {
                None => Ok(slot.instance.clone()),
                Some(reason) => Err(CallError::NotActive {
                    id: loaded.info.id.clone(),
                    reason: reason.clone(),
                }),
            };
        }
        let instance = self.new_instance(&loaded, user)?;
        let plugin_id = loaded.info.id.clone();
        if let Some(stored) = self
            .config_path(&plugin_id, user.id)
            .and_then(|p| fs::read_to_string(p).ok())
        {
            if let Err(e) = instance.apply_config(&stored) {
                let reason = format!("the stored configuration no longer validates ({e}); it is kept: send a new one");
                log::warn!(target: "plugrack_host", "plugin `{plugin_id}`, user {}: {reason}", user.id);
                instances.insert(
                    user.id,
                    Slot {
                        instance,
                        disabled: Some(reason.clone()),
                    },
                );
                return Err(CallError::NotActive {
                    id: plugin_id,
                    reason,
                });
            }
        }
        if let Err(error) = instance.enable() {
            // gotify's rule: an instance whose `enable` fails stays disabled, with the reason.
            let reason = format!("`enable` failed: {error}");
            instances.insert(
                user.id,
                Slot {
                    instance,
                    disabled: Some(reason),
                },
            );
            return Err(error);
        }
        instances.insert(
            user.id,
            Slot {
                instance: instance.clone(),
                disabled: None,
            },
        );
        Ok(instance)
    }

    fn new_instance(&self, loaded: &Arc<Loaded>, user: &User) -> Result<Instance, CallError> {
        let plugin_id = loaded.info.id.clone();
        let services = BoundServices::new(
            &plugin_id,
            Some(user.id),
            Arc::clone(&self.shared),
            Arc::clone(&loaded.log),
        )
        .into_abi();
        loaded.metrics.calls.fetch_add(1, Ordering::Relaxed);
        let object = (loaded.module.new_instance())(user.to_abi(), services)
            .into_result()
            .map_err(|error| {
                if error.kind == plugrack_api::ErrorKind::PANICKED {
                    loaded.metrics.panics.fetch_add(1, Ordering::Relaxed);
                }
                loaded.metrics.errors.fetch_add(1, Ordering::Relaxed);
                CallError::Plugin {
                    id: plugin_id.clone(),
                    operation: "new_instance",
                    error,
                }
            })?;
        Ok(Instance {
            inner: Arc::new(InstanceInner {
                config_path: self.config_path(&plugin_id, user.id),
                plugin_id,
                capabilities: loaded.module.capabilities(),
                object,
                metrics: Arc::clone(&loaded.metrics),
            }),
        })
    }

    /// Validates `text` with the plugin and, if accepted, applies and stores it for `user`
    /// (atomically, under the storage folder) and re-enables an instance that a rejected
    /// stored configuration had disabled.
    pub fn set_config(&self, id: &str, user: &User, text: &str) -> Result<(), CallError> {
        let loaded = self.active(id)?;
        let disabled = {
            let instances = loaded.instances.lock().unwrap_or_else(lock_poisoned);
            instances
                .get(&user.id)
                .map(|slot| (slot.instance.clone(), slot.disabled.is_some()))
        };
        match disabled {
            None => self.instance(id, user)?.set_config(text),
            Some((instance, false)) => instance.set_config(text),
            Some((instance, true)) => {
                instance.set_config(text)?;
                instance.enable()?;
                let mut instances = loaded.instances.lock().unwrap_or_else(lock_poisoned);
                if let Some(slot) = instances.get_mut(&user.id) {
                    slot.disabled = None;
                }
                Ok(())
            }
        }
    }

    /// Turns a plugin off (its instances are disabled and dropped) or back on. Turning on
    /// checks the plugin by creating and enabling no instance; a later failing `enable` is
    /// reported by [`PluginManager::instance`].
    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), CallError> {
        let mut state = self.state.write().unwrap_or_else(lock_poisoned);
        let entry = state
            .iter_mut()
            .find(|e| e.has_id(id))
            .ok_or_else(|| CallError::NotFound { id: id.into() })?;
        if enabled {
            entry.status = PluginStatus::Active;
        } else {
            drain_instances(entry.loaded.as_ref().expect("found by loaded id"));
            entry.status = PluginStatus::Disabled {
                reason: "disabled by the host".into(),
            };
        }
        Ok(())
    }

    /// Loads the plugin at `source` again (a new build was deployed) and swaps it in: new
    /// instances come from the new build, instances already handed out finish their calls on
    /// the old one, which is unloaded once they are released. A new build that fails any
    /// check leaves the running plugin in place, with the reason in its report's messages.
    pub fn reload(&self, source: &Path) -> PluginReport {
        let current = {
            let state = self.state.read().unwrap_or_else(lock_poisoned);
            state
                .iter()
                .find(|e| e.source == source)
                .map(|e| (e.origin, e.loaded.clone(), e.refused_stamp))
        };
        let stamp = stamp_of(source);
        let current = match current {
            Some((_, Some(old), refused))
                if stamp.is_some() && (old.stamp == stamp || refused == stamp) =>
            {
                // A watcher event for a build already loaded or already refused (attribute
                // updates, a second event for one deploy): nothing to do.
                return self.report_for(&old.info.id).expect("the entry is loaded");
            }
            other => other.map(|(origin, loaded, _)| (origin, loaded)),
        };
        let Some((_, Some(old))) = current else {
            let origin = current.map_or(Origin::External, |(o, _)| o);
            return self.load_path(source, origin);
        };
        let old_id = old.info.id.clone();
        match self.open(source, Some(&old_id)) {
            Ok(new) => {
                let new_id = new.info.id.clone();
                {
                    let mut state = self.state.write().unwrap_or_else(lock_poisoned);
                    if let Some(entry) = state.iter_mut().find(|e| e.source == source) {
                        entry.loaded = Some(Arc::clone(&new));
                        entry.status = PluginStatus::Active;
                        entry.messages.push(format!(
                            "reloaded: {} {} replaced {}",
                            new_id, new.info.version, old.info.version
                        ));
                    }
                }
                self.retire(old);
                log::info!(target: "plugrack_host", "reloaded plugin `{new_id}` from {}", source.display());
                self.subscribers.publish(PluginEvent::Reloaded {
                    id: new_id,
                    source: source.to_owned(),
                });
            }
            Err(error) => {
                let message = format!(
                    "a new build was refused, the running one is kept: {}",
                    error.refusal
                );
                log::warn!(target: "plugrack_host", "{error}");
                let mut state = self.state.write().unwrap_or_else(lock_poisoned);
                if let Some(entry) = state.iter_mut().find(|e| e.source == source) {
                    entry.messages.push(message.clone());
                    entry.refused_stamp = stamp;
                }
                drop(state);
                self.subscribers.publish(PluginEvent::ReloadRefused {
                    id: old_id,
                    message,
                });
            }
        }
        let state = self.state.read().unwrap_or_else(lock_poisoned);
        state
            .iter()
            .find(|e| e.source == source)
            .map(Self::report)
            .expect("the entry exists")
    }

    /// Forgets the entry at `source` (its file or folder was removed): a loaded plugin's
    /// instances are disabled and dropped and its `on_unload` runs.
    pub fn remove(&self, source: &Path) -> Option<PluginReport> {
        let entry = {
            let mut state = self.state.write().unwrap_or_else(lock_poisoned);
            let index = state.iter().position(|e| e.source == source)?;
            state.remove(index)
        };
        let report = Self::report(&entry);
        if let Some(loaded) = entry.loaded {
            let id = loaded.info.id.clone();
            if let Err(e) = self.unload_now(loaded) {
                log::warn!(target: "plugrack_host", "{e}");
            }
            self.subscribers.publish(PluginEvent::Unloaded { id });
        }
        Some(report)
    }

    /// Unloads plugin `id`: disables and drops its instances, then calls `on_unload`. The
    /// library stays mapped (abi_stable never unloads), but the plugin is forgotten.
    pub fn unload(&self, id: &str) -> Result<(), CallError> {
        let entry = {
            let mut state = self.state.write().unwrap_or_else(lock_poisoned);
            let index = state
                .iter()
                .position(|e| e.has_id(id))
                .ok_or_else(|| CallError::NotFound { id: id.into() })?;
            state.remove(index)
        };
        let loaded = entry.loaded.expect("found by loaded id");
        let id = loaded.info.id.clone();
        let result = self.unload_now(loaded);
        self.subscribers.publish(PluginEvent::Unloaded { id });
        result
    }

    fn unload_now(&self, loaded: Arc<Loaded>) -> Result<(), CallError> {
        drain_instances(&loaded);
        let id = loaded.info.id.clone();
        let on_unload = loaded.module.on_unload();
        match run_with_limit(self.config.lifecycle_timeout, move || {
            on_unload().into_result()
        }) {
            Some(Ok(())) => Ok(()),
            Some(Err(error)) => Err(CallError::Plugin {
                id,
                operation: "on_unload",
                error,
            }),
            None => Err(CallError::Plugin {
                id,
                operation: "on_unload",
                error: plugrack_api::PluginError::new(
                    plugrack_api::ErrorKind::FAILED,
                    "did not return within the lifecycle time limit",
                ),
            }),
        }
    }

    /// Unloads a replaced build once every instance handed out of it has been released (or
    /// after the lifecycle time limit), on a background thread.
    fn retire(&self, old: Arc<Loaded>) {
        let limit = self.config.lifecycle_timeout;
        let spawned = thread::Builder::new().name(format!("retire-{}", old.info.id)).spawn(move || {
            let deadline = Instant::now() + limit;
            let wait_until = |done: &dyn Fn() -> bool| {
                while !done() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(5));
                }
            };
            // First every caller that still holds the old build (one may be creating an
            // instance from it right now), then every instance handed out of it.
            wait_until(&|| Arc::strong_count(&old) == 1);
            let instances: Vec<Instance> = {
                let mut map = old.instances.lock().unwrap_or_else(lock_poisoned);
                map.drain().filter(|(_, slot)| slot.disabled.is_none()).map(|(_, slot)| slot.instance).collect()
            };
            wait_until(&|| instances.iter().all(|i| Arc::strong_count(&i.inner) == 1));
            for instance in &instances {
                if let Err(e) = instance.disable() {
                    log::warn!(target: "plugrack_host", "{e}");
                }
            }
            drop(instances);
            if let Err(e) = (old.module.on_unload())().into_result() {
                log::warn!(target: "plugrack_host", "plugin `{}`: `on_unload` of the replaced build failed: {e}", old.info.id);
            }
        });
        if let Err(e) = spawned {
            log::warn!(target: "plugrack_host", "cannot start the thread that unloads a replaced build: {e}");
        }
    }

    /// The entries' sources, for the watcher.
    pub(crate) fn sources(&self) -> Vec<PathBuf> {
        self.state
            .read()
            .unwrap_or_else(lock_poisoned)
            .iter()
            .map(|e| e.source.clone())
            .collect()
    }

    /// The folders to watch.
    pub(crate) fn folders(&self) -> Vec<(PathBuf, Origin)> {
        [
            (&self.config.bundled_dir, Origin::Bundled),
            (&self.config.external_dir, Origin::External),
        ]
        .into_iter()
        .filter_map(|(d, o)| d.clone().map(|d| (d, o)))
        .collect()
    }

    pub(crate) fn load_new(&self, path: &Path, origin: Origin) -> PluginReport {
        match discovery::classify(path.to_owned()) {
            Found::Candidate(path) => self.load_path(&path, origin),
            Found::Skipped { path, reason } => self.push(Entry {
                refused_stamp: None,
                source: path,
                origin,
                status: PluginStatus::Skipped { reason },
                loaded: None,
                messages: vec![],
            }),
        }
    }
}

/// A fresh folder for private copies: in `/dev/shm` when it is a memory file system that
/// allows executable mappings (a copy there costs a memcpy; on a disk file system, creating
/// and writing each copy dominated load time: 3-5 ms against 1 ms per plugin, see
/// docs/benchmarks.md), else under the system's temporary folder.
fn default_private_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let shm_allows_exec = fs::read_to_string("/proc/self/mountinfo").is_ok_and(|info| {
        info.lines().any(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            fields.get(4) == Some(&"/dev/shm")
                && fields
                    .get(5)
                    .is_some_and(|opts| !opts.split(',').any(|o| o == "noexec"))
        })
    });
    let builder = tempfile::Builder::new().prefix("plugin-host-").to_owned();
    if shm_allows_exec {
        if let Ok(dir) = builder.tempdir_in(shm) {
            return dir;
        }
    }
    builder
        .tempdir()
        .expect("create a private folder for plugin copies")
}

/// Identifies one build of a plugin entry: the library file's length, modification time and
/// inode (a deploy by rename gives a new inode even within one clock tick).
fn stamp_of(source: &Path) -> Option<(u64, SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt;
    let library = discovery::resolve(source).ok()?.0;
    let meta = fs::metadata(library).ok()?;
    Some((meta.len(), meta.modified().ok()?, meta.ino()))
}

/// Runs `f` on its own thread and waits at most `limit` for it. `None` when it did not
/// finish in time; the thread is then left to finish on its own (a thread cannot be killed).
fn run_with_limit<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name("plugin-lifecycle".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    match spawned {
        Ok(_) => rx.recv_timeout(limit).ok(),
        Err(e) => {
            log::warn!(target: "plugrack_host", "cannot start a lifecycle thread: {e}");
            None
        }
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
        let entries = std::mem::take(&mut *self.state.write().unwrap_or_else(lock_poisoned));
        for loaded in entries.into_iter().filter_map(|e| e.loaded) {
            if let Err(e) = self.unload_now(loaded) {
                log::warn!(target: "plugrack_host", "{e}");
            }
        }
    }
}
