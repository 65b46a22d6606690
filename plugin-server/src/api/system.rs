//! `/health` (no credentials) and `/metrics` (an administrator's: Prometheus scrapes it
//! with basic auth or a bearer token).

use std::sync::Arc;

use axum::{extract::State, http::header, response::IntoResponse, Json};
use plugrack_host::PluginStatus;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{auth::Admin, error::ApiError, state::AppState};

/// The server's health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
    /// Plugins active.
    pub active: usize,
    /// Plugins refused.
    pub invalid: usize,
    /// Whether the plugin folders are watched.
    pub watching: bool,
}

/// Whether the server is up, and how many plugins it runs.
#[utoipa::path(get, path = "/health", tag = "system", responses((status = 200, body = Health)), security(()))]
pub async fn health(State(app): State<Arc<AppState>>) -> Json<Health> {
    let reports = app.plugin_reports();
    let count = |name: &str| reports.iter().filter(|r| r.status.name() == name).count();
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        active: reports
            .iter()
            .filter(|r| r.status == PluginStatus::Active)
            .count(),
        invalid: count("invalid"),
        watching: app.is_watching(),
    })
}

/// Prometheus metrics (text format).
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, content_type = "text/plain", body = String), (status = 401), (status = 403)))]
pub async fn metrics(
    State(app): State<Arc<AppState>>,
    Admin(_): Admin,
) -> Result<impl IntoResponse, ApiError> {
    Ok((
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        app.metrics.render(),
    ))
}
