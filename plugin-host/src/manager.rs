//! The plugin manager: discovers plugin files, loads each one independently, keeps one status
//! per file, creates per-user instances and unloads.

use std::{
    collections::HashMap,
    fmt, fs,
    path::{Path, PathBuf},
    sync::{atomic::Ordering, Arc, Mutex},
};

use plugin_api::{PluginModuleRef, API_VERSION};
use serde::Serialize;

use crate::{
    call::{CallError, Counters, Instance, InstanceInner},
    error::{LoadError, Refusal},
    loader::{self, HostFacts},
    services::{BoundServices, Shared, Storage},
    values::User,
};

/// A message a plugin sent through the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageEvent {
    /// The sending plugin.
    pub plugin_id: String,
    /// The user whose instance sent it; `None` for the plugin as a whole.
    pub user_id: Option<u64>,
    /// Title.
    pub title: String,
    /// Body.
    pub message: String,
    /// Priority.
    pub priority: i32,
    /// Extra data as JSON text, or empty.
    pub extras: String,
}

/// How the host application sets up its manager.
#[derive(Clone)]
pub struct HostConfig {
    host_version: semver::Version,
    storage_dir: Option<PathBuf>,
    on_message: Option<Arc<dyn Fn(MessageEvent) + Send + Sync>>,
}

impl HostConfig {
    /// A configuration for a host application at `host_version`; plugins state which host
    /// versions they support and are checked against it.
    pub fn new(host_version: semver::Version) -> Self {
        Self {
            host_version,
            storage_dir: None,
            on_message: None,
        }
    }

    /// Persist plugin storage under `dir` (one folder per plugin, written atomically) instead
    /// of keeping it in memory.
    pub fn storage_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage_dir = Some(dir.into());
        self
    }

    /// Deliver messages that plugins send to `callback`; by default they are logged.
    pub fn on_message(mut self, callback: impl Fn(MessageEvent) + Send + Sync + 'static) -> Self {
        self.on_message = Some(Arc::new(callback));
        self
    }
}

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
    /// The plugin-api version it was built against.
    pub api_version: String,
    /// Capability names.
    pub capabilities: Vec<&'static str>,
    /// The file it was loaded from.
    pub path: PathBuf,
}

impl PluginInfo {
    pub(crate) fn from_module(module: PluginModuleRef, path: &Path) -> Self {
        let d = module.descriptor();
        let strings = |list: plugin_api::abi_stable::std_types::RSlice<'static, _>| {
            list.iter()
                .map(|s: &plugin_api::abi_stable::std_types::RStr<'static>| s.as_str().to_owned())
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

/// The state of one plugin file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginStatus {
    /// Loaded and callable.
    Active,
    /// Loaded, but turned off by the host application.
    Disabled {
        /// Why.
        reason: String,
    },
    /// Refused; the error says why and what to do.
    Invalid(LoadError),
}

impl PluginStatus {
    /// `active`, `disabled` or `invalid`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled { .. } => "disabled",
            Self::Invalid(_) => "invalid",
        }
    }
}

impl fmt::Display for PluginStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Active => f.write_str("active"),
            Self::Disabled { reason } => write!(f, "disabled: {reason}"),
            Self::Invalid(error) => write!(f, "invalid: {}", error.refusal),
        }
    }
}

/// One plugin file and its outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginReport {
    /// The file.
    pub path: PathBuf,
    /// The descriptor, when the file got far enough to have one read.
    pub info: Option<PluginInfo>,
    /// Active, disabled or invalid.
    pub status: PluginStatus,
    /// Calls that returned an error so far.
    pub errors: u64,
    /// Panics contained so far.
    pub panics: u64,
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

struct Loaded {
    module: PluginModuleRef,
    info: PluginInfo,
    instances: Mutex<HashMap<u64, Instance>>,
    counters: Arc<Counters>,
}

struct Entry {
    path: PathBuf,
    status: PluginStatus,
    loaded: Option<Loaded>,
}

/// Loads plugins and hands out instances. See the crate documentation for an example.
pub struct PluginManager {
    config: HostConfig,
    shared: Arc<Shared>,
    entries: Vec<Entry>,
}

impl PluginManager {
    /// A manager with no plugins yet.
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
        Self {
            config,
            shared,
            entries: Vec::new(),
        }
    }

    /// The plugin-api version this host provides.
    pub fn api_version(&self) -> &'static str {
        API_VERSION
    }

    /// Loads every plugin file in `dir`, in file-name order, and returns one report per file.
    /// Dotfiles and folders are skipped. A file that fails never stops the others.
    pub fn load_dir(&mut self, dir: &Path) -> Vec<PluginReport> {
        let mut files: Vec<PathBuf> = match fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    !p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                })
                .filter(|p| {
                    let is_dir = p.is_dir();
                    if is_dir {
                        log::debug!(target: "plugin_host", "skipping folder {}", p.display());
                    }
                    !is_dir
                })
                .collect(),
            Err(e) => {
                let error = LoadError::new(
                    dir,
                    Refusal::Unreadable {
                        reason: e.to_string(),
                    },
                );
                log::warn!(target: "plugin_host", "{error}");
                return vec![PluginReport {
                    path: dir.to_owned(),
                    info: None,
                    status: PluginStatus::Invalid(error),
                    errors: 0,
                    panics: 0,
                }];
            }
        };
        files.sort();
        files.iter().map(|path| self.load_file(path)).collect()
    }

    /// Loads one plugin file and returns its report.
    pub fn load_file(&mut self, path: &Path) -> PluginReport {
        let entry = self.open_entry(path);
        match &entry.status {
            PluginStatus::Invalid(error) => {
                log::warn!(target: "plugin_host", "{error}");
            }
            _ => {
                log::info!(target: "plugin_host", "loaded plugin `{}` from {}", entry.loaded.as_ref().map_or("", |l| l.info.id.as_str()), path.display())
            }
        }
        self.entries.push(entry);
        Self::report(self.entries.last().expect("just pushed"))
    }

    fn open_entry(&self, path: &Path) -> Entry {
        let invalid = |error: LoadError| Entry {
            path: path.to_owned(),
            status: PluginStatus::Invalid(error),
            loaded: None,
        };
        let opened = match loader::open(
            path,
            &HostFacts {
                host_version: &self.config.host_version,
            },
        ) {
            Ok(opened) => opened,
            Err(error) => return invalid(*error),
        };
        let id = opened.info.id.clone();
        if let Some(other) = self.find_loaded(&id) {
            let refusal = Refusal::DuplicateId {
                id: id.clone(),
                loaded_from: other.info.path.clone(),
            };
            return invalid(LoadError::new(path, refusal).with_id(id));
        }
        let services = BoundServices::new(&id, None, Arc::clone(&self.shared)).into_abi();
        if let Err(error) = (opened.module.on_load())(services).into_result() {
            let refusal = if error.kind == plugin_api::ErrorKind::PANICKED {
                Refusal::OnLoadPanicked {
                    message: error.message.into(),
                }
            } else {
                Refusal::OnLoadFailed {
                    message: error.message.into(),
                }
            };
            return invalid(LoadError::new(path, refusal).with_id(id));
        }
        Entry {
            path: path.to_owned(),
            status: PluginStatus::Active,
            loaded: Some(Loaded {
                module: opened.module,
                info: opened.info,
                instances: Mutex::default(),
                counters: Arc::default(),
            }),
        }
    }

    fn find_loaded(&self, id: &str) -> Option<&Loaded> {
        self.entries
            .iter()
            .filter_map(|e| e.loaded.as_ref())
            .find(|l| l.info.id.eq_ignore_ascii_case(id))
    }

    fn find_entry(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| {
            e.loaded
                .as_ref()
                .is_some_and(|l| l.info.id.eq_ignore_ascii_case(id))
        })
    }

    fn report(entry: &Entry) -> PluginReport {
        let (errors, panics) = entry.loaded.as_ref().map_or((0, 0), |l| {
            (
                l.counters.errors.load(Ordering::Relaxed),
                l.counters.panics.load(Ordering::Relaxed),
            )
        });
        PluginReport {
            path: entry.path.clone(),
            info: entry.loaded.as_ref().map(|l| l.info.clone()),
            status: entry.status.clone(),
            errors,
            panics,
        }
    }

    /// One report per file loaded so far, in load order.
    pub fn reports(&self) -> Vec<PluginReport> {
        self.entries.iter().map(Self::report).collect()
    }

    /// The descriptor of an active or disabled plugin (ids compare case-insensitively).
    pub fn info(&self, id: &str) -> Option<&PluginInfo> {
        self.find_loaded(id).map(|l| &l.info)
    }

    /// The instance of plugin `id` for `user`, created and enabled on first use.
    pub fn instance(&self, id: &str, user: &User) -> Result<Instance, CallError> {
        let entry = self
            .find_entry(id)
            .ok_or_else(|| CallError::NotFound { id: id.into() })?;
        let loaded = entry
            .loaded
            .as_ref()
            .expect("find_entry returns loaded entries");
        if let PluginStatus::Disabled { reason } = &entry.status {
            return Err(CallError::NotActive {
                id: loaded.info.id.clone(),
                reason: reason.clone(),
            });
        }
        let mut instances = loaded.instances.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(instance) = instances.get(&user.id) {
            return Ok(instance.clone());
        }
        let plugin_id = loaded.info.id.clone();
        let services =
            BoundServices::new(&plugin_id, Some(user.id), Arc::clone(&self.shared)).into_abi();
        let object = (loaded.module.new_instance())(user.to_abi(), services)
            .into_result()
            .map_err(|error| {
                if error.kind == plugin_api::ErrorKind::PANICKED {
                    loaded.counters.panics.fetch_add(1, Ordering::Relaxed);
                }
                loaded.counters.errors.fetch_add(1, Ordering::Relaxed);
                CallError::Plugin {
                    id: plugin_id.clone(),
                    operation: "new_instance",
                    error,
                }
            })?;
        let instance = Instance {
            inner: Arc::new(InstanceInner {
                plugin_id,
                capabilities: loaded.module.capabilities(),
                object,
                counters: Arc::clone(&loaded.counters),
            }),
        };
        instance.enable()?;
        instances.insert(user.id, instance.clone());
        Ok(instance)
    }

    /// Turns a plugin off (its instances are disabled and dropped) or back on.
    pub fn set_enabled(&mut self, id: &str, enabled: bool) -> Result<(), CallError> {
        let entry = self
            .entries
            .iter_mut()
            .find(|e| {
                e.loaded
                    .as_ref()
                    .is_some_and(|l| l.info.id.eq_ignore_ascii_case(id))
            })
            .ok_or_else(|| CallError::NotFound { id: id.into() })?;
        if enabled {
            entry.status = PluginStatus::Active;
        } else {
            let loaded = entry.loaded.as_ref().expect("found by loaded id");
            drain_instances(loaded);
            entry.status = PluginStatus::Disabled {
                reason: "disabled by the host".into(),
            };
        }
        Ok(())
    }

    /// Unloads plugin `id`: disables and drops its instances, then calls `on_unload`.
    /// The library stays mapped (abi_stable never unloads), but the plugin is forgotten.
    pub fn unload(&mut self, id: &str) -> Result<(), CallError> {
        let index = self
            .entries
            .iter()
            .position(|e| {
                e.loaded
                    .as_ref()
                    .is_some_and(|l| l.info.id.eq_ignore_ascii_case(id))
            })
            .ok_or_else(|| CallError::NotFound { id: id.into() })?;
        let entry = self.entries.remove(index);
        let loaded = entry.loaded.expect("found by loaded id");
        drain_instances(&loaded);
        (loaded.module.on_unload())()
            .into_result()
            .map_err(|error| CallError::Plugin {
                id: loaded.info.id.clone(),
                operation: "on_unload",
                error,
            })
    }
}

fn drain_instances(loaded: &Loaded) {
    let drained: Vec<Instance> = {
        let mut map = loaded.instances.lock().unwrap_or_else(|e| e.into_inner());
        map.drain().map(|(_, i)| i).collect()
    };
    for instance in drained {
        if let Err(e) = instance.disable() {
            log::warn!(target: "plugin_host", "{e}");
        }
    }
}

impl Drop for PluginManager {
    fn drop(&mut self) {
        let ids: Vec<String> = self
            .entries
            .iter()
            .filter_map(|e| e.loaded.as_ref().map(|l| l.info.id.clone()))
            .collect();
        for id in ids {
            if let Err(e) = self.unload(&id) {
                log::warn!(target: "plugin_host", "{e}");
            }
        }
    }
}
