//! `/api/plugins`: the plugin list as the caller sees it, their own instance's enable switch,
//! configuration and display; and for administrators, install (upload or URL), removal and
//! reload.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Multipart, Path, State},
    http::{HeaderMap, StatusCode},
    Json,
};
use plugrack_host::{Origin, PluginReport, PluginStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::{Admin, Caller},
    calls,
    db::UserRow,
    error::{ApiError, ErrorBody},
    from_git, install, markdown,
    state::{api_id, AppState},
    user_plugins::host_user,
};

/// A plugin as one user sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PluginView {
    /// The plugin's id (for a refused file without one: its file name).
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// The plugrack-api version it was built against.
    pub api_version: Option<String>,
    /// `active`, `disabled` (by the host) or `invalid`.
    pub status: String,
    /// For an invalid plugin its refusal, line by line; later notes (a refused reload).
    pub messages: Vec<String>,
    /// `execute`, `http`, `config`, `display`.
    pub capabilities: Vec<String>,
    /// `bundled` or `external`.
    pub origin: String,
    /// The file or folder name in its plugins folder.
    pub file: String,
    /// Whether the caller's own instance is enabled.
    pub enabled: bool,
    /// The caller's webhook base URL, for a plugin with HTTP routes.
    pub webhook_url: Option<String>,
    /// The plugin's routes, relative to `webhook_url`.
    pub routes: Vec<RouteView>,
    /// The host's counters for the plugin.
    pub metrics: MetricsView,
}

/// One declared route.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RouteView {
    /// Method.
    pub method: String,
    /// Path pattern (`/item/:id`).
    pub path: String,
}

/// Calls, errors, panics and latency.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MetricsView {
    /// Calls made.
    pub calls: u64,
    /// Calls that failed (panics included).
    pub errors: u64,
    /// Panics contained.
    pub panics: u64,
    /// Median latency, nanoseconds (upper bound of its power-of-two bucket).
    pub p50_ns: Option<u64>,
    /// 99th percentile latency, nanoseconds (same estimate).
    pub p99_ns: Option<u64>,
}

/// A user's configuration of their instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConfigView {
    /// The configuration text (JSON for plugins made with the SDK).
    pub config: String,
    /// True when it is the accepted, stored one; false for the plugin's default.
    pub stored: bool,
}

/// A plugin's display text.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DisplayView {
    /// The plugin's markdown.
    pub markdown: String,
    /// The same rendered to HTML and sanitised (no script, no event handlers).
    pub html: String,
}

/// Where to install a package from: a `.plg` at a URL (`url` and `sha256`), or a git
/// repository to build it from (`git`, with at most one of `tag`, `branch`, `rev`, and
/// `subdir`; the server must run with `--git-builds`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// An `http://` or `https://` URL of a `.plg`.
    pub url: Option<String>,
    /// The package's SHA-256, hex (required with `url`: it is what makes a download
    /// trustworthy).
    pub sha256: Option<String>,
    /// A git repository to build the plugin from (`plugin-build from-git`).
    pub git: Option<String>,
    /// With `git`: build this tag.
    pub tag: Option<String>,
    /// With `git`: build the tip of this branch (default: the repository's default branch).
    pub branch: Option<String>,
    /// With `git`: build this commit or ref name.
    pub rev: Option<String>,
    /// With `git`: the plugin crate's folder in the repository.
    pub subdir: Option<String>,
}

fn view(
    app: &AppState,
    user: &UserRow,
    report: &PluginReport,
    base: &str,
) -> Result<PluginView, ApiError> {
    let id = api_id(report);
    let info = report.info.as_ref();
    let mut messages = Vec::new();
    match &report.status {
        PluginStatus::Invalid(error) => {
            messages.extend(error.to_string().lines().map(str::to_owned))
        }
        PluginStatus::Disabled { reason } => messages.push(reason.clone()),
        _ => {}
    }
    messages.extend(report.messages.iter().cloned());
    let (enabled, webhook_url) = match info {
        Some(info) => {
            let state = app.user_plugins.state(&app.db, user, &info.id)?;
            let url = info
                .capabilities
                .contains(&"http")
                .then(|| format!("{base}/plugin/{}/custom/{}/", info.id, state.webhook_token));
            (state.enabled, url)
        }
        None => (false, None),
    };
    let m = &report.metrics;
    Ok(PluginView {
        id,
        name: info.map(|i| i.name.clone()),
        version: info.map(|i| i.version.clone()),
        description: info.map(|i| i.description.clone()),
        api_version: info.map(|i| i.api_version.clone()),
        status: report.status.name().into(),
        messages,
        capabilities: info
            .map(|i| i.capabilities.iter().map(|c| (*c).to_owned()).collect())
            .unwrap_or_default(),
        origin: match report.origin {
            Origin::Bundled => "bundled".into(),
            Origin::External => "external".into(),
        },
        file: report
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        enabled,
        webhook_url,
        routes: Vec::new(),
        metrics: MetricsView {
            calls: m.calls,
            errors: m.errors,
            panics: m.panics,
            p50_ns: m.p50_ns,
            p99_ns: m.p99_ns,
        },
    })
}

/// The report of a loaded plugin (404 for none, 409 for a refused one).
fn loaded(app: &AppState, key: &str) -> Result<(PluginReport, String), ApiError> {
    let report = app
        .find_report(key)
        .ok_or_else(|| ApiError::no_plugin(key))?;
    match &report.info {
        Some(info) => {
            let id = info.id.clone();
            Ok((report, id))
        }
        None => Err(ApiError::conflict(
            format!("plugin `{key}` was refused and cannot be used"),
            "see its messages (GET /api/plugins/{id}), fix the file and deploy it again",
        )),
    }
}

/// Refuses, before any call crosses over, a plugin without the capability `name`.
fn require(report: &PluginReport, id: &str, name: &'static str) -> Result<(), ApiError> {
    let has = report
        .info
        .as_ref()
        .is_some_and(|info| info.capabilities.contains(&name));
    if has {
        Ok(())
    } else {
        Err(ApiError::Call(plugrack_host::CallError::Unsupported {
            id: id.into(),
            capability: name,
        }))
    }
}

/// Lists the plugins, with the caller's instance state.
#[utoipa::path(get, path = "/api/plugins", tag = "plugins",
    responses((status = 200, body = [PluginView]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    headers: HeaderMap,
) -> Result<Json<Vec<PluginView>>, ApiError> {
    let base = app.base_url(&headers);
    let views = app
        .plugin_reports()
        .iter()
        .map(|report| view(&app, &user, report, &base))
        .collect::<Result<_, _>>()?;
    Ok(Json(views))
}

/// One plugin, with its routes.
#[utoipa::path(get, path = "/api/plugins/{id}", tag = "plugins",
    params(("id" = String, Path, description = "plugin id")),
    responses((status = 200, body = PluginView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<PluginView>, ApiError> {
    let report = app
        .find_report(&key)
        .ok_or_else(|| ApiError::no_plugin(&key))?;
    let mut view = view(&app, &user, &report, &app.base_url(&headers))?;
    if view.enabled && view.webhook_url.is_some() {
        let id = view.id.clone();
        let instance = app.instances.get(&id, &host_user(&user));
        if let Ok(instance) = instance {
            let routes = calls::run(app.config.calls, &app.metrics, &id, "routes", move || {
                instance.routes()
            })
            .await?;
            if let Ok(routes) = routes {
                view.routes = routes
                    .into_iter()
                    .map(|r| RouteView {
                        method: r.method,
                        path: r.path,
                    })
                    .collect();
            }
        }
    }
    Ok(Json(view))
}

/// Enables the caller's instance.
#[utoipa::path(post, path = "/api/plugins/{id}/enable", tag = "plugins",
    params(("id" = String, Path, description = "plugin id")),
    responses((status = 200, body = PluginView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn enable(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<PluginView>, ApiError> {
    let (_, id) = loaded(&app, &key)?;
    app.user_plugins.set_enabled(&app.db, &user, &id, true)?;
    let (state, host, pid) = (Arc::clone(&app), host_user(&user), id.clone());
    let enabled = calls::run(app.config.calls, &app.metrics, &id, "enable", move || {
        state.instances.enable(&pid, &host)
    })
    .await?;
    if let Err(error) = enabled {
        app.user_plugins.set_enabled(&app.db, &user, &id, false)?;
        return Err(ApiError::Call(error));
    }
    current(&app, &user, &id, &headers)
}

/// Disables the caller's instance (its webhooks answer 404 until enabled again).
#[utoipa::path(post, path = "/api/plugins/{id}/disable", tag = "plugins",
    params(("id" = String, Path, description = "plugin id")),
    responses((status = 200, body = PluginView), (status = 404, body = ErrorBody)))]
pub async fn disable(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<PluginView>, ApiError> {
    let (_, id) = loaded(&app, &key)?;
    app.user_plugins.set_enabled(&app.db, &user, &id, false)?;
    let (state, host, pid) = (Arc::clone(&app), host_user(&user), id.clone());
    let disabled = calls::run(app.config.calls, &app.metrics, &id, "disable", move || {
        state.instances.disable(&pid, &host)
    })
    .await?;
    if let Err(e) = disabled {
        // The user's choice stands; the plugin's own hook failing does not undo it.
        tracing::warn!("plugin `{id}`, user `{}`: {e}", user.name);
    }
    current(&app, &user, &id, &headers)
}

fn current(
    app: &AppState,
    user: &UserRow,
    id: &str,
    headers: &HeaderMap,
) -> Result<Json<PluginView>, ApiError> {
    let report = app.find_report(id).ok_or_else(|| ApiError::no_plugin(id))?;
    Ok(Json(view(app, user, &report, &app.base_url(headers))?))
}

/// The caller's configuration (the stored one, else the plugin's default).
#[utoipa::path(get, path = "/api/plugins/{id}/config", tag = "plugins",
    params(("id" = String, Path, description = "plugin id")),
    responses((status = 200, body = ConfigView), (status = 404, body = ErrorBody)))]
pub async fn get_config(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(key): Path<String>,
) -> Result<Json<ConfigView>, ApiError> {
    let (report, id) = loaded(&app, &key)?;
    require(&report, &id, "config")?;
    // Where the host stores what the plugin accepted (docs/host-integration.md).
    let stored = app
        .config
        .storage_dir()
        .join(&id)
        .join(format!("user-{}.config", user.id));
    if let Ok(text) = std::fs::read_to_string(stored) {
        return Ok(Json(ConfigView {
            config: text,
            stored: true,
        }));
    }
    let enabled = app.user_plugins.state(&app.db, &user, &id)?.enabled;
    let (state, host, pid) = (Arc::clone(&app), host_user(&user), id.clone());
    let text = calls::run(
        app.config.calls,
        &app.metrics,
        &id,
        "default_config",
        move || {
            state
                .instances
                .for_reading(&pid, &host, enabled)
                .and_then(|instance| instance.default_config())
        },
    )
    .await?
    .map_err(ApiError::Call)?;
    Ok(Json(ConfigView {
        config: text,
        stored: false,
    }))
}

/// Sets the caller's configuration: the plugin validates it; a refusal is a 400 with the
/// plugin's message and the current configuration stays.
#[utoipa::path(put, path = "/api/plugins/{id}/config", tag = "plugins",
    params(("id" = String, Path, description = "plugin id")),
    request_body(content = String, description = "the configuration text (JSON for SDK plugins)", content_type = "application/json"),
    responses((status = 200, body = ConfigView), (status = 400, body = ErrorBody)))]
pub async fn put_config(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(key): Path<String>,
    body: Bytes,
) -> Result<Json<ConfigView>, ApiError> {
    let (report, id) = loaded(&app, &key)?;
    require(&report, &id, "config")?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| {
        ApiError::bad_request(
            "the configuration is not UTF-8 text",
            "send the configuration as text",
        )
    })?;
    let enabled = app.user_plugins.state(&app.db, &user, &id)?.enabled;
    let (state, host, pid, config) = (Arc::clone(&app), host_user(&user), id.clone(), text.clone());
    calls::run(
        app.config.calls,
        &app.metrics,
        &id,
        "set_config",
        move || state.instances.set_config(&pid, &host, &config, enabled),
    )
    .await?
    .map_err(ApiError::Call)?;
    app.routes.forget(&id, user.id as u64);
    Ok(Json(ConfigView {
        config: text,
        stored: true,
    }))
}

/// The plugin's display text for the caller, as markdown and as sanitised HTML.
#[utoipa::path(get, path = "/api/plugins/{id}/display", tag = "plugins",
    params(("id" = String, Path, description = "plugin id")),
    responses((status = 200, body = DisplayView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn display(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<DisplayView>, ApiError> {
    let (report, id) = loaded(&app, &key)?;
    require(&report, &id, "display")?;
    if !app.user_plugins.state(&app.db, &user, &id)?.enabled {
        return Err(ApiError::conflict(
            format!("your instance of `{id}` is disabled"),
            format!("enable it: POST /api/plugins/{id}/enable"),
        ));
    }
    let instance = app
        .instances
        .get(&id, &host_user(&user))
        .map_err(ApiError::Call)?;
    let location = app.base_url(&headers);
    let markdown = calls::run(app.config.calls, &app.metrics, &id, "display", move || {
        instance.display(&location)
    })
    .await?
    .map_err(ApiError::Call)?;
    Ok(Json(DisplayView {
        html: markdown::render(&markdown),
        markdown,
    }))
}

/// Installs an uploaded `.plg` (multipart field `package`), verified exactly as
/// `plugin-build deploy` verifies it, then waits for the host to load it.
#[utoipa::path(post, path = "/api/plugins", tag = "admin",
    request_body(content_type = "multipart/form-data", description = "field `package`: the .plg file"),
    responses((status = 201, body = PluginView, description = "installed and loaded"),
              (status = 200, body = PluginView, description = "installed, replacing a loaded version"),
              (status = 400, body = ErrorBody, description = "the package is refused; nothing was written"),
              (status = 403, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody, description = "installed, and the host refused to load it")))]
pub async fn upload(
    State(app): State<Arc<AppState>>,
    Admin(user): Admin,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
    let too_large = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge {
                limit: app.config.max_package_bytes,
                setting: "--max-package-mib",
            }
        } else {
            ApiError::bad_request(format!("the upload cannot be read: {}", e.body_text()), "send multipart/form-data with the .plg in a field named `package`: `curl -F package=@my.plg ...`")
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(too_large)? {
        if field.name() != Some("package") {
            continue;
        }
        let name = field.file_name().unwrap_or("upload.plg").to_owned();
        let bytes = field.bytes().await.map_err(too_large)?;
        if bytes.len() > app.config.max_package_bytes {
            return Err(ApiError::TooLarge {
                limit: app.config.max_package_bytes,
                setting: "--max-package-mib",
            });
        }
        let (status, report) = install::install(&app, &name, bytes.to_vec()).await?;
        return Ok((
            status,
            Json(view(&app, &user, &report, &app.base_url(&headers))?),
        ));
    }
    Err(ApiError::bad_request(
        "the upload has no `package` field",
        "send multipart/form-data with the .plg in a field named `package`: `curl -F package=@my.plg ...`",
    ))
}

/// Downloads a `.plg` from a URL (checksum required, size and time limits), or builds one
/// from a git repository (`--git-builds`), then installs it as an upload.
#[utoipa::path(post, path = "/api/plugins/install", tag = "admin",
    request_body = InstallRequest,
    responses((status = 201, body = PluginView), (status = 200, body = PluginView),
              (status = 400, body = ErrorBody, description = "refused (a bad URL or checksum, a git source that cannot be built); nothing was written"),
              (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "a git source, and the server runs without `--git-builds`"),
              (status = 422, body = ErrorBody), (status = 502, body = ErrorBody),
              (status = 504, body = ErrorBody, description = "the download or the build took too long")))]
pub async fn install_url(
    State(app): State<Arc<AppState>>,
    Admin(user): Admin,
    headers: HeaderMap,
    Json(request): Json<InstallRequest>,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
    let (name, bytes) = match request {
        InstallRequest {
            url: Some(url),
            git: None,
            sha256,
            tag: None,
            branch: None,
            rev: None,
            subdir: None,
        } => {
            let sha256 = sha256.ok_or_else(|| {
                ApiError::bad_request(
                    format!("`sha256` is missing: a download from `{url}` needs the package's checksum"),
                    "give the package's checksum: `sha256sum my.plg`",
                )
            })?;
            install::download(&app, &url, &sha256).await?
        }
        InstallRequest {
            git: Some(git),
            url: None,
            sha256: None,
            tag,
            branch,
            rev,
            subdir,
        } => {
            let source = from_git::GitSource {
                git,
                tag,
                branch,
                rev,
                subdir,
            };
            from_git::build(&app, &source).await?
        }
        InstallRequest {
            url: None, git: None, ..
        } => {
            return Err(ApiError::bad_request(
                "the request names no package: expected `url` (a .plg) or `git` (a repository)",
                "send {\"url\": \"https://...\", \"sha256\": \"...\"} or {\"git\": \"https://...\", \"tag\": \"v1.0.0\"}",
            ))
        }
        InstallRequest { url: Some(_), git: Some(_), .. } => {
            return Err(ApiError::bad_request(
                "the request names both `url` and `git`: expected one source",
                "send either a package URL with its `sha256`, or a `git` repository",
            ))
        }
        InstallRequest { url: Some(_), .. } => {
            return Err(ApiError::bad_request(
                "`tag`, `branch`, `rev` and `subdir` go with `git`, not with `url`",
                "leave them out for a package URL, or give `git` instead of `url`",
            ))
        }
        InstallRequest { .. } => {
            return Err(ApiError::bad_request(
                "`sha256` goes with `url`, not with `git`: a package built from git is checked by its build",
                "leave out `sha256` for a git source",
            ))
        }
    };
    let (status, report) = install::install(&app, &name, bytes).await?;
    Ok((
        status,
        Json(view(&app, &user, &report, &app.base_url(&headers))?),
    ))
}

/// Unloads a plugin and removes its file or folder from the plugins folder.
#[utoipa::path(delete, path = "/api/plugins/{id}", tag = "admin",
    params(("id" = String, Path, description = "plugin id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(app): State<Arc<AppState>>,
    Admin(_): Admin,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    let report = app
        .find_report(&key)
        .ok_or_else(|| ApiError::no_plugin(&key))?;
    install::remove(&app, &report).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Loads a plugin again from its file: unloads it (`on_unload`) and loads it (`on_load`);
/// for a refused file, tries it again.
#[utoipa::path(post, path = "/api/plugins/{id}/reload", tag = "admin",
    params(("id" = String, Path, description = "plugin id")),
    responses((status = 200, body = PluginView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn reload(
    State(app): State<Arc<AppState>>,
    Admin(user): Admin,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Result<Json<PluginView>, ApiError> {
    let report = app
        .find_report(&key)
        .ok_or_else(|| ApiError::no_plugin(&key))?;
    let report = install::reload(&app, &report).await?;
    Ok(Json(view(&app, &user, &report, &app.base_url(&headers))?))
}
