//! Plugin HTTP routes.
//!
//! - `/plugin/{id}/custom/{token}/...`: gotify's scheme. The token is the user's webhook
//!   token for that plugin and names their instance, so an outside service can call it
//!   without credentials. An unknown token, another plugin's token and a disabled instance
//!   all answer the same 404, so a token cannot be probed.
//! - `/plugin/{id}/...`: the same routes for a logged-in user (basic auth or a client
//!   token), answered by the caller's own instance.
//!
//! The path after the mount point is matched against the instance's route table
//! ([`crate::routes`]): no match is a 404, a method mismatch a 405 with `Allow`. The
//! plugin never sees the caller's credentials (`Authorization`, `X-Plugin-Token` and
//! cookies are removed). Its answer gets `Content-Security-Policy: sandbox` and `nosniff`,
//! so HTML a plugin serves cannot run script with the page's origin.

use std::sync::Arc;

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Path, Request, State},
    http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use plugrack_host::{Instance, User};

use crate::{
    auth::Caller,
    calls,
    error::ApiError,
    routes::{Miss, RouteTable},
    state::AppState,
    user_plugins::host_user,
};

/// Headers the plugin never receives.
const PRIVATE_HEADERS: [&str; 4] = [
    "authorization",
    "x-plugin-token",
    "cookie",
    "proxy-authorization",
];

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound {
        what: format!("no route of plugin `{id}` here"),
        hint: Some("check the webhook URL (GET /api/plugins/{id} shows yours) and that your instance is enabled".into()),
    }
}

/// `/plugin/{id}/custom/{token}` and below.
pub async fn by_token(
    State(app): State<Arc<AppState>>,
    Path(params): Path<Vec<(String, String)>>,
    request: Request,
) -> Result<Response, ApiError> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (id, token, rest) = (param("id"), param("token"), param("path"));
    let hook = app
        .user_plugins
        .hook(&token)
        .filter(|hook| hook.plugin_id.eq_ignore_ascii_case(&id) && hook.enabled);
    let Some(hook) = hook else {
        return Err(not_found(&id));
    };
    serve(&app, &id, &hook.user, &rest, request).await
}

/// `/plugin/{id}/...` for a logged-in user.
pub async fn by_credentials(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path((id, rest)): Path<(String, String)>,
    request: Request,
) -> Result<Response, ApiError> {
    let info = app.manager.info(&id).ok_or_else(|| not_found(&id))?;
    if !app.user_plugins.state(&app.db, &user, &info.id)?.enabled {
        return Err(not_found(&id));
    }
    serve(&app, &id, &host_user(&user), &rest, request).await
}

/// Answers a request with the user's instance, counting the answer per plugin and status.
async fn serve(
    app: &Arc<AppState>,
    id: &str,
    user: &User,
    rest: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let instance = app.instances.get(id, user).map_err(|error| match error {
        plugrack_host::CallError::Plugin { .. } => ApiError::PluginRoute(error),
        _ => not_found(id),
    })?;
    let plugin = instance.plugin_id().to_owned();
    let result = answer(app, instance, user, rest, request).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(error) => error.status(),
    };
    app.metrics.count_response(&plugin, status.as_u16());
    result
}

async fn answer(
    app: &Arc<AppState>,
    instance: Instance,
    user: &User,
    rest: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let id = instance.plugin_id().to_owned();
    if !instance
        .capabilities()
        .contains(plugrack_host::Capabilities::HTTP)
    {
        return Err(ApiError::NotFound {
            what: format!("plugin `{id}` has no HTTP routes"),
            hint: Some("its `capabilities` do not include `http`".into()),
        });
    }
    let table = route_table(app, &id, user.id, &instance).await?;
    let path = format!("/{rest}");
    let method = request.method().clone();
    let label = match table.find(method.as_str(), &path) {
        Ok(label) => label.to_owned(),
        Err(Miss::NotFound) => {
            return Err(ApiError::NotFound {
                what: format!("plugin `{id}` has no route `{path}`"),
                hint: Some("GET /api/plugins/{id} lists its routes".into()),
            })
        }
        Err(Miss::Method(allowed)) => {
            return Err(ApiError::MethodNotAllowed {
                method: method.to_string(),
                allowed,
            })
        }
    };
    let query = request.uri().query().unwrap_or_default().to_owned();
    let headers = forwarded_headers(request.headers());
    let limit = app.config.max_body_bytes;
    let body = Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge {
                    limit,
                    setting: "--max-body-kib",
                }
            } else {
                ApiError::bad_request(
                    format!("the request body cannot be read: {}", rejection.body_text()),
                    "send the body again",
                )
            }
        })?;
    let plugin_request = plugrack_host::Request {
        label,
        method: method.to_string(),
        path,
        query,
        headers,
        body: body.to_vec(),
    };
    let answer = calls::run(
        app.config.calls,
        &app.metrics,
        &id,
        "handle_http",
        move || instance.handle_http(plugin_request),
    )
    .await?;
    into_response(&id, answer.map_err(ApiError::PluginRoute)?)
}

async fn route_table(
    app: &Arc<AppState>,
    id: &str,
    user: u64,
    instance: &Instance,
) -> Result<Arc<RouteTable>, ApiError> {
    if let Some(table) = app.routes.get(id, user) {
        return Ok(table);
    }
    let owned = instance.clone();
    let routes = calls::run(app.config.calls, &app.metrics, id, "routes", move || {
        owned.routes()
    })
    .await?
    .map_err(ApiError::PluginRoute)?;
    let table = RouteTable::build(id, &routes).map_err(ApiError::Internal)?;
    Ok(app.routes.insert(id, user, table))
}

fn forwarded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !PRIVATE_HEADERS.contains(&name.as_str()))
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect()
}

fn into_response(id: &str, answer: plugrack_host::Response) -> Result<Response, ApiError> {
    let status = StatusCode::from_u16(answer.status).map_err(|_| {
        ApiError::Internal(format!(
            "plugin `{id}` answered with status {}, which is not an HTTP status",
            answer.status
        ))
    })?;
    let mut response = (status, Body::from(answer.body)).into_response();
    let headers = response.headers_mut();
    for (name, value) in answer.headers {
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            (Ok(name), Ok(value)) if name != header::SET_COOKIE => {
                headers.append(name, value);
            }
            _ => tracing::warn!("plugin `{id}`: dropped the response header `{name}`"),
        }
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_the_plugin() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Basic YWRtaW46eA=="),
            ("x-plugin-token", "prt_secret"),
            ("cookie", "session=1"),
            ("proxy-authorization", "Basic eA=="),
            ("content-type", "application/json"),
            ("x-github-event", "push"),
        ] {
            headers.insert(name, HeaderValue::from_static(value));
        }
        let mut forwarded = forwarded_headers(&headers);
        forwarded.sort();
        assert_eq!(
            forwarded,
            [
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-github-event".to_owned(), "push".to_owned())
            ]
        );
    }

    #[test]
    fn answers_are_sandboxed_and_cannot_set_cookies() {
        let response = into_response(
            "p",
            plugrack_host::Response {
                status: 201,
                headers: vec![
                    ("content-type".into(), "text/html".into()),
                    ("set-cookie".into(), "session=stolen".into()),
                    ("bad header".into(), "x".into()),
                ],
                body: b"<script>alert(1)</script>".to_vec(),
            },
        )
        .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let headers = response.headers();
        assert_eq!(headers["content-type"], "text/html");
        assert_eq!(headers["content-security-policy"], "sandbox");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert!(headers.get("set-cookie").is_none());
        let invalid = into_response(
            "p",
            plugrack_host::Response {
                status: 1000,
                headers: vec![],
                body: vec![],
            },
        );
        assert!(invalid
            .unwrap_err()
            .to_string()
            .contains("not an HTTP status"));
    }
}
