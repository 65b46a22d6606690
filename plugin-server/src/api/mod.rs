//! The HTTP surface: the REST API under `/api`, `/health`, `/metrics`, the plugin routes
//! under `/plugin`, and the page at `/`. One module per resource; the router is assembled
//! here.

mod drain;
pub mod messages;
pub mod plugins;
pub mod system;
pub mod tokens;
pub mod users;

use std::sync::Arc;

use axum::{
    extract::DefaultBodyLimit,
    routing::{any, get, post},
    Router,
};

use crate::{error::ApiError, openapi, page, state::AppState, webhooks};

/// The whole server's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let config = &state.config;
    // The multipart framing adds a little to the package itself.
    let upload_limit = DefaultBodyLimit::max(config.max_package_bytes + (64 << 10));
    let plugin_limit = DefaultBodyLimit::max(config.max_body_bytes);
    let api = Router::new()
        .route("/user", get(users::current))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", axum::routing::delete(users::delete))
        .route("/tokens", get(tokens::list).post(tokens::create))
        .route("/tokens/{id}", axum::routing::delete(tokens::delete))
        .route("/messages", get(messages::list))
        .route("/events", get(messages::events))
        .route(
            "/plugins",
            get(plugins::list).post(plugins::upload).layer(upload_limit),
        )
        .route("/plugins/install", post(plugins::install_url))
        .route("/plugins/{id}", get(plugins::get).delete(plugins::remove))
        .route("/plugins/{id}/enable", post(plugins::enable))
        .route("/plugins/{id}/disable", post(plugins::disable))
        .route("/plugins/{id}/reload", post(plugins::reload))
        .route(
            "/plugins/{id}/config",
            get(plugins::get_config).put(plugins::put_config),
        )
        .route("/plugins/{id}/display", get(plugins::display))
        .route("/openapi.json", get(openapi::document))
        .fallback(api_fallback);
    let plugin_routes = Router::new()
        .route("/plugin/{id}/custom/{token}", any(webhooks::by_token))
        .route("/plugin/{id}/custom/{token}/", any(webhooks::by_token))
        .route(
            "/plugin/{id}/custom/{token}/{*path}",
            any(webhooks::by_token),
        )
        .route("/plugin/{id}/{*path}", any(webhooks::by_credentials))
        .layer(plugin_limit);
    Router::new()
        .route("/", get(page::index))
        .route("/assets/{file}", get(page::file))
        .route("/health", get(system::health))
        .route("/metrics", get(system::metrics))
        .nest("/api", api)
        .merge(plugin_routes)
        .fallback(fallback)
        .layer(axum::middleware::from_fn(drain::drain_refused_body))
        .with_state(state)
}

async fn api_fallback(axum::extract::OriginalUri(uri): axum::extract::OriginalUri) -> ApiError {
    ApiError::NotFound {
        what: format!("no API endpoint `{}`", uri.path()),
        hint: Some("the endpoints are listed in /api/openapi.json".into()),
    }
}

async fn fallback(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound {
        what: format!("nothing at `{}`", uri.path()),
        hint: Some("the page is at /, the API under /api (see /api/openapi.json)".into()),
    }
}
