//! How a host application configures its [`PluginManager`](crate::PluginManager).

use std::{collections::HashMap, path::PathBuf, sync::Arc, time::Duration};

use plugrack_extension::ExtensionPoint;

use crate::{
    events::MessageEvent,
    extension::DeclaredPoint,
    isolation::Isolation,
    logfile::LevelFilter,
    trust::{TrustPolicy, TrustedKey},
};

/// The manager's configuration. Every setting has a default except the host's version.
#[derive(Clone)]
pub struct HostConfig {
    pub(crate) host_version: semver::Version,
    pub(crate) bundled_dir: Option<PathBuf>,
    pub(crate) external_dir: Option<PathBuf>,
    pub(crate) storage_dir: Option<PathBuf>,
    pub(crate) log_dir: Option<PathBuf>,
    pub(crate) log_levels: HashMap<String, LevelFilter>,
    pub(crate) default_log_level: LevelFilter,
    pub(crate) log_max_bytes: u64,
    pub(crate) lifecycle_timeout: Duration,
    pub(crate) private_dir: Option<PathBuf>,
    pub(crate) load_from: LoadFrom,
    pub(crate) on_message: Option<Arc<dyn Fn(MessageEvent) + Send + Sync>>,
    pub(crate) extension_points: Vec<DeclaredPoint>,
    pub(crate) cache_dir: Option<PathBuf>,
    pub(crate) trust: TrustPolicy,
    pub(crate) isolation: Isolation,
    pub(crate) plugin_isolation: HashMap<String, Isolation>,
    pub(crate) worker_program: Option<PathBuf>,
}

impl std::fmt::Debug for HostConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The message callback and the extension points' constructors cannot be shown;
        // their presence and the points' ids can.
        let points: Vec<String> = self
            .extension_points
            .iter()
            .map(|p| format!("{} {}", p.id, p.version))
            .collect();
        f.debug_struct("HostConfig")
            .field("host_version", &self.host_version)
            .field("bundled_dir", &self.bundled_dir)
            .field("external_dir", &self.external_dir)
            .field("storage_dir", &self.storage_dir)
            .field("log_dir", &self.log_dir)
            .field("log_levels", &self.log_levels)
            .field("default_log_level", &self.default_log_level)
            .field("log_max_bytes", &self.log_max_bytes)
            .field("lifecycle_timeout", &self.lifecycle_timeout)
            .field("private_dir", &self.private_dir)
            .field("load_from", &self.load_from)
            .field("on_message", &self.on_message.is_some())
            .field("extension_points", &points)
            .field("cache_dir", &self.cache_dir)
            .field("trust", &self.trust)
            .finish()
    }
}

impl HostConfig {
    /// A configuration for a host application at `host_version`; plugins state which host
    /// versions they support and are checked against it.
    pub fn new(host_version: semver::Version) -> Self {
        Self {
            host_version,
            bundled_dir: None,
            external_dir: None,
            storage_dir: None,
            log_dir: None,
            log_levels: HashMap::new(),
            default_log_level: LevelFilter::Info,
            log_max_bytes: 10 * 1024 * 1024,
            lifecycle_timeout: Duration::from_secs(10),
            private_dir: None,
            load_from: LoadFrom::PrivateCopy,
            on_message: None,
            extension_points: Vec::new(),
            cache_dir: None,
            trust: TrustPolicy::default(),
            isolation: Isolation::InProcess,
            plugin_isolation: HashMap::new(),
            worker_program: None,
        }
    }

    /// The folder of plugins shipped with the application (GoCD's `plugins/bundled`). A
    /// bundled plugin wins over an external one with the same id.
    pub fn bundled_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.bundled_dir = Some(dir.into());
        self
    }

    /// The folder of plugins the user installs (GoCD's `plugins/external`).
    pub fn external_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.external_dir = Some(dir.into());
        self
    }

    /// Persist plugin storage and configurations under `dir` (one folder per plugin, every
    /// file written atomically) instead of keeping them in memory.
    pub fn storage_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage_dir = Some(dir.into());
        self
    }

    /// Write each plugin's log to `dir/plugin-<id>.log` (GoCD's per-plugin log files) instead
    /// of the `log` facade.
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// The log level of one plugin. The environment variable `PLUGIN_<ID>_LOG_LEVEL` (the id
    /// upper-cased, other characters as `_`) overrides it; the default is `info`.
    pub fn log_level(mut self, plugin_id: &str, level: LevelFilter) -> Self {
        self.log_levels
            .insert(plugin_id.to_ascii_lowercase(), level);
        self
    }

    /// The size at which a plugin's log file is rotated (`.log.1`, `.log.2`, `.log.3`).
    pub fn log_max_bytes(mut self, bytes: u64) -> Self {
        self.log_max_bytes = bytes;
        self
    }

    /// How long `on_load` and `on_unload` may run before the plugin is reported as hung.
    pub fn lifecycle_timeout(mut self, timeout: Duration) -> Self {
        self.lifecycle_timeout = timeout;
        self
    }

    /// Where private copies of plugin files are made before loading (default: a fresh folder
    /// under the system's temporary folder, removed with the manager).
    pub fn private_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.private_dir = Some(dir.into());
        self
    }

    /// What the manager maps when it loads a plugin in this process: a private copy of the
    /// file (the default, safe whatever writes the plugins folder), or the file itself,
    /// which saves the copy (most of a load's cost) but is safe only when every writer of the
    /// plugins folder replaces a file by renaming a new one over it. See [`LoadFrom`].
    pub fn load_from(mut self, from: LoadFrom) -> Self {
        self.load_from = from;
        self
    }

    /// Declares one of the host application's extension points (`E` is the marker type that
    /// `#[extension_point]` generates, `FormatterExt` for `trait Formatter`). Plugins'
    /// implementations of it are checked at load and handed out by
    /// [`PluginManager::extensions`](crate::PluginManager::extensions); implementations of
    /// extension points the host does not declare are reported as `undeclared`.
    ///
    /// # Panics
    /// When another extension point with the same id (case-insensitively) was declared.
    pub fn extension_point<E: ExtensionPoint>(mut self) -> Self {
        let point = DeclaredPoint::of::<E>();
        if let Some(other) = self
            .extension_points
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(point.id))
        {
            assert!(
                other.type_id == point.type_id,
                "two extension points share the id `{}`: give each its own id",
                point.id
            );
            return self;
        }
        self.extension_points.push(point);
        self
    }

    /// Keep what the manager can recompute but would rather not (the results of layout
    /// checks, the root module's and each extension's, by library content) in `dir`, so that
    /// a restart does not pay for them again. Without it the results are kept in memory, for
    /// reloads. The file is as trusted as the plugins folder: an entry makes the host skip a
    /// safety check for that content.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Deliver messages that plugins send to `callback`; by default they are logged.
    pub fn on_message(mut self, callback: impl Fn(MessageEvent) + Send + Sync + 'static) -> Self {
        self.on_message = Some(Arc::new(callback));
        self
    }

    /// Trust signatures by `key` (repeatable). With any trusted key, the host loads only plugin
    /// folders whose `plugin.toml` carries a signature by one of them (`plugin.toml.minisig`,
    /// written by `plugin-build package --sign` and `deploy`): an unsigned plugin (a bare `.so`
    /// is never signed), another signer, and a manifest or library changed after signing are
    /// each refused before the library is opened. Without trusted keys nothing is required.
    pub fn trusted_key(mut self, key: TrustedKey) -> Self {
        let mut keys = self.trust.keys().to_vec();
        keys.push(key);
        self.trust = TrustPolicy::new(keys);
        self
    }

    /// The host application's version.
    pub fn host_version(&self) -> &semver::Version {
        &self.host_version
    }

    /// The trust policy the keys make.
    pub fn trust_policy(&self) -> &TrustPolicy {
        &self.trust
    }

    /// Where plugins run: in this process (the default) or each in a worker process of its
    /// own. See [`Isolation`] and `docs/isolation.md`.
    pub fn isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// Where the plugin `plugin_id` runs, overriding [`HostConfig::isolation`] for it (ids
    /// compare case-insensitively). The id is read before anything of the plugin runs: from
    /// `plugin.toml` for a plugin folder, else from the library's descriptor section; a
    /// library without one is opened in a worker first to learn its id.
    pub fn plugin_isolation(mut self, plugin_id: &str, isolation: Isolation) -> Self {
        self.plugin_isolation
            .insert(plugin_id.to_ascii_lowercase(), isolation);
        self
    }

    /// The worker program for out-of-process plugins. By default the host looks, in order,
    /// at the `PLUGRACK_WORKER` environment variable, for `plugin-worker` next to the running
    /// executable (and one folder up, where cargo puts binaries beside test executables),
    /// and on `PATH`. A host that is its own worker (see [`crate::worker::run_if_worker`])
    /// passes `std::env::current_exe()`.
    pub fn worker_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.worker_program = Some(program.into());
        self
    }

    /// The isolation for a plugin whose id is known.
    pub(crate) fn isolation_for(&self, plugin_id: &str) -> &Isolation {
        self.plugin_isolation
            .get(&plugin_id.to_ascii_lowercase())
            .unwrap_or(&self.isolation)
    }
}

/// What the manager maps when it loads a plugin in this process ([`HostConfig::load_from`]).
///
/// The dynamic loader maps a library's file; a file written in place while it is mapped
/// (`cp new.so plugins/old.so` truncates and rewrites the same file) changes the code under
/// the running host, which then crashes. A file replaced by a rename (`plugin-build deploy`,
/// `plugin-server`'s installs, `install(1)`, `mv`) leaves the mapped one untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LoadFrom {
    /// A private copy of the file, written when the plugin is loaded and never written
    /// again: safe whatever writes the plugins folder.
    #[default]
    PrivateCopy,
    /// The file itself, opened once, checked and loaded through that one open file (a
    /// rename meanwhile cannot swap what is checked for something else). No copy is
    /// written. Only for plugins folders whose every writer replaces files by rename;
    /// writing a loaded file in place crashes the host. Out-of-process plugins, and a file
    /// this manager already loaded in place once (the loader would hand back the library it
    /// already has), still get a private copy.
    InPlace,
}
