//! The one state every handler shares (behind an `Arc`): the plugin manager, the database,
//! and the tables kept beside them.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use axum::http::HeaderMap;
use plugrack_host::{PluginManager, PluginReport, PluginStatus};
use tokio::sync::watch;

use crate::{
    auth::Auth, config::ServerConfig, db::Db, events::EventHub, instances::Instances,
    metrics::Metrics, routes::RouteTables, user_plugins::UserPlugins,
};

/// Everything a handler needs.
pub struct AppState {
    /// The settings the server started with.
    pub config: ServerConfig,
    /// The plugins.
    pub manager: Arc<PluginManager>,
    /// Users, tokens, messages, per-user plugin state.
    pub db: Arc<Db>,
    /// Credential checks.
    pub auth: Auth,
    /// Per-user plugin state, by webhook token.
    pub user_plugins: UserPlugins,
    /// Per-user enable and disable of instances.
    pub instances: Instances,
    /// Plugin route tables.
    pub routes: RouteTables,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Plugin events and messages, for `/api/events`.
    pub events: EventHub,
    /// Whether the plugin folders are watched (else installs load their plugin directly).
    pub watching: AtomicBool,
    /// One install or removal at a time.
    pub install_lock: tokio::sync::Mutex<()>,
    /// Turns true when shutdown starts, to end the event streams.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// Whether the folder watcher runs.
    pub fn is_watching(&self) -> bool {
        self.watching.load(Ordering::Relaxed)
    }

    /// The URL the server is reached at, for webhook URLs and plugins' display text: the
    /// configured public URL, else `http://` and the request's `Host`.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.config.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_else(|| self.config.listen.to_string());
        format!("http://{host}")
    }

    /// The plugins as the API lists them: every entry but those that are not plugins.
    pub fn plugin_reports(&self) -> Vec<PluginReport> {
        self.manager
            .reports()
            .into_iter()
            .filter(|r| !matches!(r.status, PluginStatus::Skipped { .. }))
            .collect()
    }

    /// The report the API calls `key`: a plugin's id, or for a refused file without one,
    /// its file name (both compared case-insensitively).
    pub fn find_report(&self, key: &str) -> Option<PluginReport> {
        self.plugin_reports()
            .into_iter()
            .find(|r| api_id(r).eq_ignore_ascii_case(key))
    }
}

/// The id the API uses for a report: the plugin's id, or its file name.
pub fn api_id(report: &PluginReport) -> String {
    report.id().map(str::to_owned).unwrap_or_else(|| {
        report
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}
