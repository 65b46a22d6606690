//! Starting and stopping: folders, database, first administrator, plugin manager, folder
//! watcher, listener; then serving until a shutdown signal, letting in-flight requests
//! finish, and unloading the plugins.

use std::{
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{atomic::AtomicBool, Arc},
    time::{Duration, Instant},
};

use plugrack_host::{HostConfig, LoadFrom, MessageEvent, PluginManager, Watcher};
use tokio::sync::watch;

use crate::{
    auth::{self, Auth},
    config::ServerConfig,
    db::{Db, OpenError},
    events::{self, EventHub, ServerEvent},
    instances::Instances,
    metrics::Metrics,
    routes::RouteTables,
    state::AppState,
    user_plugins::UserPlugins,
};

/// The name of the administrator created on first start.
pub const FIRST_ADMIN: &str = "admin";

/// The environment variable that sets the first administrator's password.
pub const ADMIN_PASSWORD_VARIABLE: &str = "PLUGIN_SERVER_ADMIN_PASSWORD";

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A folder could not be created or resolved.
    #[error("cannot use the folder `{}` ({what})", .path.display())]
    Folder {
        /// Which setting.
        what: &'static str,
        /// The folder.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error(transparent)]
    Database(#[from] OpenError),
    /// A query at start failed.
    #[error("the database refused a query at start")]
    Query(#[from] rusqlite::Error),
    /// The first administrator's password is too short.
    #[error("{ADMIN_PASSWORD_VARIABLE} is shorter than {} characters; choose a longer one, or unset it to have one generated", auth::MIN_PASSWORD_LEN)]
    AdminPassword,
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A thread could not be started.
    #[error("cannot start the event thread")]
    Thread(#[source] std::io::Error),
}

/// The administrator created on this start, when the database had no user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstAdmin {
    /// Their name, [`FIRST_ADMIN`].
    pub name: String,
    /// The password, when it was generated (to be shown once); `None` when it came from
    /// [`ADMIN_PASSWORD_VARIABLE`].
    pub generated_password: Option<String>,
}

/// A started server, listening, not yet serving.
pub struct Server {
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    watcher: Option<Watcher>,
    shutdown: watch::Sender<bool>,
    /// The administrator created on this start, if any.
    pub first_admin: Option<FirstAdmin>,
}

fn folder(what: &'static str, path: &Path, create: bool) -> Result<PathBuf, StartError> {
    let fail = |source| StartError::Folder {
        what,
        path: path.to_owned(),
        source,
    };
    if create {
        std::fs::create_dir_all(path).map_err(fail)?;
    }
    // Absolute, so the watcher's paths and the manager's entries compare equal.
    path.canonicalize().map_err(fail)
}

impl Server {
    /// Prepares everything and binds the listener. Must run on a multi-threaded tokio
    /// runtime (plugin calls use `block_in_place`).
    pub async fn start(mut config: ServerConfig) -> Result<Self, StartError> {
        config.plugins_dir = folder("--plugins-dir", &config.plugins_dir, true)?;
        config.data_dir = folder("--data-dir", &config.data_dir, true)?;
        if let Some(bundled) = &config.bundled_dir {
            config.bundled_dir = Some(folder("--bundled-dir", bundled, false)?);
        }
        for (what, dir) in [
            ("storage", config.storage_dir()),
            ("logs", config.log_dir()),
        ] {
            folder(what, &dir, true)?;
        }

        let db = Arc::new(Db::open(&config.database_path())?);
        let first_admin = first_admin(&db, config.admin_password.as_deref())?;
        let events = EventHub::default();
        let manager = Arc::new(PluginManager::new(host_config(&config, &db, &events)));
        let host_events = manager.subscribe();

        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.listen,
                source,
            })?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let state = Arc::new(AppState {
            user_plugins: UserPlugins::load(&db)?,
            instances: Instances::new(Arc::clone(&manager)),
            metrics: Metrics::new(Arc::clone(&manager)),
            routes: RouteTables::default(),
            auth: Auth::default(),
            events,
            watching: AtomicBool::new(false),
            install_lock: tokio::sync::Mutex::new(()),
            shutdown: shutdown_rx,
            db,
            manager,
            config,
        });
        events::forward(host_events, Arc::downgrade(&state)).map_err(StartError::Thread)?;

        let manager = Arc::clone(&state.manager);
        let reports = tokio::task::spawn_blocking(move || manager.discover())
            .await
            .expect("discovery does not panic");
        tracing::info!(
            "{} plugins active of {} entries",
            reports
                .iter()
                .filter(|r| r.status == plugrack_host::PluginStatus::Active)
                .count(),
            reports.len()
        );
        let watcher = match plugrack_host::watch(&state.manager, state.config.watch_debounce) {
            Ok(watcher) => {
                state
                    .watching
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                Some(watcher)
            }
            Err(e) => {
                tracing::warn!("the plugin folders are not watched ({e}); deploys need POST /api/plugins/ID/reload or a restart");
                None
            }
        };
        Ok(Self {
            state,
            listener,
            watcher,
            shutdown,
            first_admin,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The shared state (tests and benchmarks add routes beside the server's).
    pub fn state(&self) -> &Arc<AppState> {
        &self.state
    }

    /// Serves [`crate::api::router`] until `signal` completes.
    pub async fn serve(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = crate::api::router(Arc::clone(&self.state));
        self.serve_router(router, signal).await
    }

    /// Serves `router` (the server's, perhaps with routes added) until `signal` completes;
    /// then in-flight requests get the configured grace time to finish, the watcher stops,
    /// and the plugins are unloaded.
    pub async fn serve_router(
        self,
        router: axum::Router,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Self {
            state,
            listener,
            watcher,
            shutdown,
            ..
        } = self;
        let notify = shutdown.clone();
        let grace = state.config.shutdown_grace;
        let finished = crate::http::serve(
            listener,
            router,
            state.config.header_timeout,
            grace,
            async move {
                signal.await;
                tracing::info!("shutting down: letting in-flight requests finish");
                // The events streams end on this, so that their connections can finish.
                notify.send_replace(true);
            },
        )
        .await;
        if !finished {
            tracing::warn!("requests still running after {grace:?}; stopping anyway");
        }
        drop(watcher);
        unload(state).await;
        Ok(())
    }
}

/// Drops the last reference to the state, which unloads every plugin (`on_unload` runs).
async fn unload(state: Arc<AppState>) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Arc::strong_count(&state) > 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let plugins = state
        .manager
        .reports()
        .iter()
        .filter(|r| r.info.is_some())
        .count();
    tokio::task::spawn_blocking(move || drop(state))
        .await
        .expect("unloading does not panic");
    tracing::info!("unloaded {plugins} plugins; stopped");
}

fn host_config(config: &ServerConfig, db: &Arc<Db>, events: &EventHub) -> HostConfig {
    let mut host = HostConfig::new(config.host_version.clone())
        .external_dir(&config.plugins_dir)
        .storage_dir(config.storage_dir())
        .log_dir(config.log_dir())
        .cache_dir(config.host_cache_dir())
        .lifecycle_timeout(config.lifecycle_timeout);
    if config.load_in_place {
        host = host.load_from(LoadFrom::InPlace);
    }
    if let Some(bundled) = &config.bundled_dir {
        host = host.bundled_dir(bundled);
    }
    for key in &config.trusted_keys {
        tracing::info!("trusting signatures by key {} ({})", key.id(), key.origin());
        host = host.trusted_key(key.clone());
    }
    match &config.git_builds {
        Some(crate::config::GitBuilds {
            sign_key: Some(key),
            ..
        }) => tracing::info!("signing builds from git with `{}`", key.display()),
        Some(_) if !config.trusted_keys.is_empty() => tracing::warn!(
            "installs from git will be refused: their builds are unsigned and only signed \
             plugins are accepted; start with `--git-sign-key SECRET_KEY` to sign them"
        ),
        _ => {}
    }
    let db = Arc::clone(db);
    let tx = events.sender();
    host.on_message(move |m: MessageEvent| {
        let stored = db.insert_message(
            &m.plugin_id,
            m.user_id.map(|id| id as i64),
            &m.title,
            &m.message,
            m.priority,
            &m.extras,
        );
        match stored {
            Ok(message) => {
                let _ = tx.send(ServerEvent::Message { message });
            }
            Err(e) => tracing::warn!("a message from `{}` was not stored: {e}", m.plugin_id),
        }
    })
}

fn first_admin(db: &Db, password: Option<&str>) -> Result<Option<FirstAdmin>, StartError> {
    if db.count_users()? > 0 {
        return Ok(None);
    }
    let (password, generated) = match password {
        Some(p) if p.chars().count() < auth::MIN_PASSWORD_LEN => {
            return Err(StartError::AdminPassword)
        }
        Some(p) => (p.to_owned(), None),
        None => {
            let p = auth::random_hex(12);
            (p.clone(), Some(p))
        }
    };
    db.create_user(FIRST_ADMIN, &auth::hash_password(&password), true)?;
    Ok(Some(FirstAdmin {
        name: FIRST_ADMIN.into(),
        generated_password: generated,
    }))
}
