//! The OpenAPI document, generated from the handlers' annotations by `utoipa` and served at
//! `/api/openapi.json`.

use axum::Json;
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme},
    Modify, OpenApi,
};

use crate::api;

/// The API's description.
#[derive(OpenApi)]
#[openapi(
    info(title = "plugin-server", description = "The plugrack reference server: plugins, per-user instances, webhooks, users, tokens, messages."),
    paths(
        api::system::health, api::system::metrics,
        api::plugins::list, api::plugins::get, api::plugins::enable, api::plugins::disable,
        api::plugins::get_config, api::plugins::put_config, api::plugins::display,
        api::plugins::upload, api::plugins::install_url, api::plugins::remove, api::plugins::reload,
        api::users::current, api::users::list, api::users::create, api::users::delete,
        api::tokens::list, api::tokens::create, api::tokens::delete,
        api::messages::list, api::messages::events,
    ),
    modifiers(&Security),
    security(("basic" = []), ("bearer" = []), ("token" = [])),
    tags(
        (name = "plugins", description = "Plugins and the caller's own instances"),
        (name = "admin", description = "Installing, removing and reloading plugins (administrators)"),
        (name = "users"), (name = "tokens"), (name = "messages"), (name = "system"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Plugin-Token"))),
        );
    }
}

/// `/api/openapi.json`.
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
