//! Installing, removing and reloading plugins for administrators.
//!
//! An uploaded or downloaded `.plg` is verified with `plugrack_host::package::verify_with`
//! under the server's trust policy and `package::check_descriptors` (the checks of
//! `plugin-build deploy --trusted-key`, nothing written on a refusal) and installed with
//! `package::install` (written under a hidden name, renamed into place). The folder watcher
//! then loads it, as it loads a `plugin-build deploy` into the folder; the request waits for
//! the host's verdict on that folder (loaded, reloaded, refused), so there is one loader and
//! no race between the watcher and the request. Without a watcher the request loads it.

use std::{path::PathBuf, sync::Arc, time::Duration};

use axum::http::StatusCode;
use plugrack_host::{
    host_target_name,
    package::{self, InstallError},
    trust::TrustPolicy,
    Origin, PluginReport, PluginStatus,
};
use sha2::{Digest, Sha256};
use tokio::sync::broadcast::error::RecvError;

use crate::{error::ApiError, events::ServerEvent, state::AppState};

/// What the host did with an installed folder.
enum Verdict {
    Loaded,
    Reloaded,
    Refused(String),
    NoAnswer,
}

/// Verifies and installs a package, then waits for the host to load it. 201 for a new
/// plugin, 200 for a replaced one; the host's refusal is a 422 (the package is installed
/// and listed as invalid, as after a deploy).
pub async fn install(
    app: &Arc<AppState>,
    name: &str,
    bytes: Vec<u8>,
) -> Result<(StatusCode, PluginReport), ApiError> {
    let _one_at_a_time = app.install_lock.lock().await;
    let path = PathBuf::from(name);
    let policy = TrustPolicy::new(app.config.trusted_keys.clone());
    let verified = tokio::task::spawn_blocking(move || {
        let verified = package::verify_with(&path, &bytes, &policy)?;
        package::check_descriptors(&verified)?;
        Ok::<_, package::VerifyError>(verified)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verifying the package failed: {e}")))??;
    let id = verified.manifest.plugin.id.clone();
    if let Some(existing) = app.manager.report_for(&id) {
        if existing.origin == Origin::Bundled {
            return Err(ApiError::conflict(
                format!("plugin `{id}` is bundled with the server (`{}`)", existing.path.display()),
                "a bundled plugin wins over an installed one: give the plugin another id, or replace the bundled folder's copy",
            ));
        }
    }
    let mut events = app.events.subscribe();
    let plugins_dir = app.config.plugins_dir.clone();
    let installed = tokio::task::spawn_blocking(move || {
        package::install(&verified, host_target_name(), &plugins_dir)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("installing the package failed: {e}")))?
    .map_err(|error| match error {
        InstallError::Target(refusal) => ApiError::Package(refusal),
        InstallError::NotAFolder { .. } => ApiError::conflict(
            error.to_string(),
            "remove that file from the plugins folder",
        ),
        other => ApiError::Internal(error_chain(&other)),
    })?;
    tracing::info!(
        "installed `{id}` {} into {}",
        installed.version,
        installed.folder.display()
    );

    let verdict = if app.is_watching() {
        let wait =
            app.config.watch_debounce * 4 + app.config.lifecycle_timeout + Duration::from_secs(2);
        match tokio::time::timeout(wait, wait_for(&mut events, &installed.folder, &id)).await {
            Ok(verdict) => verdict,
            Err(_) => Verdict::NoAnswer,
        }
    } else {
        Verdict::NoAnswer
    };
    let verdict = match verdict {
        // The watcher missed it (or there is none): load it here.
        Verdict::NoAnswer => {
            let manager = Arc::clone(&app.manager);
            let folder = installed.folder.clone();
            let report = tokio::task::spawn_blocking(move || manager.reload(&folder))
                .await
                .map_err(|e| ApiError::Internal(format!("loading the plugin failed: {e}")))?;
            match report.status {
                PluginStatus::Invalid(error) => Verdict::Refused(error.to_string()),
                _ if installed.replaced.is_some() => Verdict::Reloaded,
                _ => Verdict::Loaded,
            }
        }
        other => other,
    };
    // The host publishes its event just before it records the entry: look for a moment.
    let folder = installed.folder.clone();
    let mut report = None;
    for _ in 0..200 {
        report = app.manager.reports().into_iter().find(|r| r.path == folder);
        if report.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let report = |_: &AppState| {
        report.ok_or_else(|| {
            ApiError::Internal(format!(
                "`{}` is installed but not listed",
                folder.display()
            ))
        })
    };
    match verdict {
        Verdict::Loaded => Ok((StatusCode::CREATED, report(app)?)),
        Verdict::Reloaded => Ok((StatusCode::OK, report(app)?)),
        Verdict::Refused(message) => Err(ApiError::LoadRefused { message }),
        Verdict::NoAnswer => unreachable!("handled above"),
    }
}

async fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<ServerEvent>,
    folder: &std::path::Path,
    id: &str,
) -> Verdict {
    loop {
        match events.recv().await {
            Ok(ServerEvent::Loaded { source, .. }) if source == folder => return Verdict::Loaded,
            Ok(ServerEvent::Reloaded { source, .. }) if source == folder => {
                return Verdict::Reloaded
            }
            Ok(ServerEvent::Refused { source, message }) if source == folder => {
                return Verdict::Refused(message)
            }
            Ok(ServerEvent::ReloadRefused { id: other, message })
                if other.eq_ignore_ascii_case(id) =>
            {
                return Verdict::Refused(message)
            }
            Ok(_) | Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return Verdict::NoAnswer,
        }
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Downloads a package: `http`/`https` only, at most the configured size, within the
/// configured time, and only if its SHA-256 is `sha256`. Returns a name for the messages
/// (the URL's last segment) and the bytes.
pub async fn download(
    app: &AppState,
    url: &str,
    sha256: &str,
) -> Result<(String, Vec<u8>), ApiError> {
    let expected = sha256.trim().to_ascii_lowercase();
    if expected.len() != 64 || !expected.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request(
            format!("`{sha256}` is not a SHA-256 (64 hex digits)"),
            "give the package's checksum: `sha256sum my.plg`",
        ));
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| {
        ApiError::bad_request(
            format!("`{url}` is not a URL: {e}"),
            "give an http:// or https:// URL of a .plg",
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::bad_request(
            format!("`{url}` is not an http:// or https:// URL"),
            "give an http:// or https:// URL of a .plg",
        ));
    }
    let name = parsed
        .path_segments()
        .and_then(|mut s| s.next_back().map(str::to_owned))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "download.plg".into());
    let limit = app.config.max_package_bytes;
    let timeout = app.config.fetch_timeout;
    let remote = |error: String, hint: &str| ApiError::Fetch {
        error,
        hint: Some(hint.into()),
        status: 502,
    };
    let fetch = async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| ApiError::Internal(format!("cannot make an HTTP client: {e}")))?;
        let mut response = client.get(parsed.clone()).send().await.map_err(|e| {
            remote(
                format!("cannot download `{url}`: {}", error_chain(&e)),
                "check the URL and that the server can reach it",
            )
        })?;
        if !response.status().is_success() {
            return Err(remote(
                format!("downloading `{url}` answered {}", response.status()),
                "check the URL",
            ));
        }
        let too_large = || ApiError::Fetch {
            error: format!("`{url}` is larger than {limit} bytes"),
            hint: Some("start the server with a larger `--max-package-mib`".into()),
            status: 413,
        };
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            remote(
                format!("downloading `{url}` broke off: {}", error_chain(&e)),
                "try again",
            )
        })? {
            if bytes.len() + chunk.len() > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    };
    let bytes = tokio::time::timeout(timeout, fetch)
        .await
        .map_err(|_| ApiError::Fetch {
            error: format!(
                "downloading `{url}` took longer than {} s",
                timeout.as_secs()
            ),
            hint: Some(
                "try again, or start the server with a longer `--fetch-timeout-secs`".into(),
            ),
            status: 504,
        })??;
    let found: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if found != expected {
        return Err(ApiError::bad_request(
            format!("the download from `{url}` has SHA-256 {found}, not the {expected} given; nothing was installed"),
            "check the checksum and the URL: the file is not the one you meant",
        ));
    }
    Ok((name, bytes))
}

/// Unloads a plugin and removes its entry from the plugins folder.
pub async fn remove(app: &Arc<AppState>, report: &PluginReport) -> Result<(), ApiError> {
    let _one_at_a_time = app.install_lock.lock().await;
    if report.origin == Origin::Bundled {
        return Err(ApiError::conflict(
            format!("`{}` is bundled with the server", report.path.display()),
            "bundled plugins are removed from the bundled folder, not through the API",
        ));
    }
    let source = report.path.clone();
    if source.parent() != Some(app.config.plugins_dir.as_path()) {
        return Err(ApiError::conflict(
            format!("`{}` is not in the plugins folder", source.display()),
            "remove it by hand",
        ));
    }
    let manager = Arc::clone(&app.manager);
    tokio::task::spawn_blocking(move || -> Result<(), ApiError> {
        manager.remove(&source);
        // Out of sight first (the watcher skips hidden names), then gone.
        let name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let hidden =
            source.with_file_name(format!(".{name}.removed-{}", crate::auth::random_hex(4)));
        let io = |e: std::io::Error| {
            ApiError::Internal(format!("cannot remove `{}`: {e}", source.display()))
        };
        std::fs::rename(&source, &hidden).map_err(io)?;
        if hidden.is_dir() {
            std::fs::remove_dir_all(&hidden).map_err(io)
        } else {
            std::fs::remove_file(&hidden).map_err(io)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("removing the plugin failed: {e}")))?
}

/// Loads a plugin again from its file (see [`crate::api::plugins::reload`]).
pub async fn reload(app: &Arc<AppState>, report: &PluginReport) -> Result<PluginReport, ApiError> {
    let _one_at_a_time = app.install_lock.lock().await;
    let manager = Arc::clone(&app.manager);
    let source = report.path.clone();
    let id = report.info.as_ref().map(|i| i.id.clone());
    let report = tokio::task::spawn_blocking(move || {
        if let Some(id) = id {
            if let Err(e) = manager.unload(&id) {
                tracing::warn!("{e}");
            }
            manager.load_file(&source)
        } else {
            manager.reload(&source)
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("reloading the plugin failed: {e}")))?;
    match &report.status {
        PluginStatus::Invalid(error) => Err(ApiError::LoadRefused {
            message: error.to_string(),
        }),
        _ => Ok(report),
    }
}
