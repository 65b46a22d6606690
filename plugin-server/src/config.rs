//! The server's settings: where plugins and data live, where it listens, and its limits.
//! The command line ([`crate::cli`]) fills them in; tests and the benchmark build them
//! directly.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use plugrack_host::trust::TrustedKey;

use crate::calls::CallMode;

/// Everything the server needs to start. Paths are used as given.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The external plugins folder: watched, and where uploads are installed.
    pub plugins_dir: PathBuf,
    /// The bundled plugins folder (shipped with the application; wins an id over external).
    pub bundled_dir: Option<PathBuf>,
    /// The database, plugin storage and configurations, and per-plugin logs.
    pub data_dir: PathBuf,
    /// The host application version plugins' `host-version` requirements are checked
    /// against.
    pub host_version: semver::Version,
    /// The address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The URL people reach the server at (webhook URLs and the `location` plugins' display
    /// text is given); default: `http://` and the request's `Host` header.
    pub public_url: Option<String>,
    /// The largest request body a plugin route accepts.
    pub max_body_bytes: usize,
    /// The largest `.plg` accepted by upload or download.
    pub max_package_bytes: usize,
    /// How long a package download may take.
    pub fetch_timeout: Duration,
    /// How long the folder watcher waits for a deploy's writes to settle.
    pub watch_debounce: Duration,
    /// How long a plugin's `on_load` / `on_unload` may take.
    pub lifecycle_timeout: Duration,
    /// How the async server makes synchronous plugin calls.
    pub calls: CallMode,
    /// Plugin files are loaded where they are, without a private copy (`--load-in-place`).
    pub load_in_place: bool,
    /// The first administrator's password (else one is generated and printed once).
    pub admin_password: Option<String>,
    /// How long in-flight requests may run once shutdown starts.
    pub shutdown_grace: Duration,
    /// How long a connection may take to send a request's headers (the first request's, or
    /// the next one's on a kept-alive connection) before it is closed.
    pub header_timeout: Duration,
    /// Keys whose signatures are trusted. With any, only packages and plugin folders whose
    /// `plugin.toml` one of them signed are installed or loaded; empty: nothing is required.
    pub trusted_keys: Vec<TrustedKey>,
    /// Installs from git sources (`--git-builds`): off when `None`.
    pub git_builds: Option<GitBuilds>,
}

/// How the server builds a plugin from a git repository for an administrator's install: it
/// runs `plugin-build from-git` (the build tool stays a separate program: the server never
/// links it), then installs the package like an upload.
#[derive(Debug, Clone)]
pub struct GitBuilds {
    /// The `plugin-build` program (a path, or a name looked up on `PATH`).
    pub plugin_build: PathBuf,
    /// The host's `Cargo.lock` plugins are capped against (`None`: each repository's own lock).
    pub cap_from: Option<PathBuf>,
    /// How long one build may take.
    pub timeout: Duration,
    /// The minisign secret key each build is signed with (`plugin-build from-git --sign`),
    /// so that a server that trusts only signed plugins (`trusted_keys`) accepts its own
    /// builds. `None`: builds are unsigned, and refused before building on such a server.
    pub sign_key: Option<PathBuf>,
}

impl GitBuilds {
    /// `plugin-build` from `PATH`, no cap, 30 minutes, unsigned.
    pub fn new() -> Self {
        Self {
            plugin_build: PathBuf::from("plugin-build"),
            cap_from: None,
            timeout: Duration::from_secs(30 * 60),
            sign_key: None,
        }
    }
}

impl Default for GitBuilds {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerConfig {
    /// Defaults for everything but the folders.
    pub fn new(plugins_dir: impl Into<PathBuf>, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            plugins_dir: plugins_dir.into(),
            bundled_dir: None,
            data_dir: data_dir.into(),
            host_version: semver::Version::new(1, 0, 0),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            max_body_bytes: 1 << 20,
            max_package_bytes: 64 << 20,
            fetch_timeout: Duration::from_secs(60),
            watch_debounce: Duration::from_millis(300),
            lifecycle_timeout: Duration::from_secs(10),
            calls: CallMode::default(),
            load_in_place: false,
            admin_password: None,
            shutdown_grace: Duration::from_secs(10),
            header_timeout: Duration::from_secs(30),
            trusted_keys: Vec::new(),
            git_builds: None,
        }
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("plugin-server.sqlite3")
    }

    /// Plugin storage and accepted configurations (the host's storage folder).
    pub fn storage_dir(&self) -> PathBuf {
        self.data_dir.join("storage")
    }

    /// The checkouts of installs from git (`plugin-build from-git --cache-dir`).
    pub fn git_cache_dir(&self) -> PathBuf {
        self.data_dir.join("git-cache")
    }

    /// One log file per plugin.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }

    /// What the host can recompute but keeps across restarts: the layout checks its plugins
    /// passed, by library content (`HostConfig::cache_dir`).
    pub fn host_cache_dir(&self) -> PathBuf {
        self.data_dir.join("cache")
    }
}
