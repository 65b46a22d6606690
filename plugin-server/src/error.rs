//! The one error type of the HTTP API: every handler returns `Result<_, ApiError>`, and this
//! module alone decides the status code and renders the body, `{"error": ..., "hint": ...}`.
//!
//! `error` is the toolkit's short message (for a refused plugin or package, its lines);
//! `hint` says what to do about it, and is `null` only where there is nothing to do.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use plugrack_host::{package::VerifyError, CallError, ErrorKind};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, short.
    pub error: String,
    /// What to do about it.
    pub hint: Option<String>,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No credentials, or wrong ones.
    #[error("{reason}")]
    Unauthorized {
        /// What was wrong with the credentials.
        reason: String,
        /// Whether to send a `WWW-Authenticate: Basic` challenge (not to the page's own
        /// requests, which would make the browser ask for a password in a dialog).
        challenge: bool,
    },
    /// Valid credentials, but not an administrator's.
    #[error("this needs an administrator; user `{user}` is not one")]
    Forbidden {
        /// The caller.
        user: String,
    },
    /// No such thing (or not the caller's to see).
    #[error("{what}")]
    NotFound {
        /// What was not found.
        what: String,
        /// How to find it.
        hint: Option<String>,
    },
    /// A plugin route exists, with other methods.
    #[error("`{method}` is not one of this route's methods ({})", .allowed.join(", "))]
    MethodNotAllowed {
        /// The method asked for.
        method: String,
        /// The methods the route has.
        allowed: Vec<String>,
    },
    /// The request is malformed or its content refused.
    #[error("{error}")]
    BadRequest {
        /// What is wrong.
        error: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// The request conflicts with the current state.
    #[error("{error}")]
    Conflict {
        /// What conflicts.
        error: String,
        /// What to do.
        hint: Option<String>,
    },
    /// A request body over the limit.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// Which setting sets it.
        setting: &'static str,
    },
    /// An uploaded or downloaded package was refused.
    #[error(transparent)]
    Package(#[from] VerifyError),
    /// A package was installed, and the host refused to load it.
    #[error("{message}")]
    LoadRefused {
        /// The host's refusal (three lines: file, cause, fix).
        message: String,
    },
    /// A call into a plugin failed.
    #[error(transparent)]
    Call(CallError),
    /// A plugin route's call failed: always a 500 with the plugin's message.
    #[error("{0}")]
    PluginRoute(CallError),
    /// Downloading a package failed.
    #[error("{error}")]
    Fetch {
        /// What went wrong.
        error: String,
        /// What to do.
        hint: Option<String>,
        /// The status to answer with (400 for the caller's mistake, 502 for the remote's).
        status: u16,
    },
    /// Something on the server's side failed (database, file system).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// A 404 for a plugin id nobody has.
    pub fn no_plugin(id: &str) -> Self {
        Self::NotFound {
            what: format!("no plugin `{id}`"),
            hint: Some("list the plugins: GET /api/plugins".into()),
        }
    }

    /// A 400 with a hint.
    pub fn bad_request(error: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::BadRequest {
            error: error.into(),
            hint: Some(hint.into()),
        }
    }

    /// A 409 with a hint.
    pub fn conflict(error: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Conflict {
            error: error.into(),
            hint: Some(hint.into()),
        }
    }

    /// The status code: decided here and nowhere else.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadRequest { .. } | Self::Package(_) => StatusCode::BAD_REQUEST,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::LoadRefused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Call(error) => call_status(error),
            Self::PluginRoute(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Fetch { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
        }
    }

    /// The body: the message and a hint.
    pub fn body(&self) -> ErrorBody {
        let (error, hint) = match self {
            Self::Unauthorized { reason, .. } => (
                reason.clone(),
                Some("send HTTP basic auth, `Authorization: Bearer TOKEN` or `X-Plugin-Token: TOKEN`; create a token with POST /api/tokens".into()),
            ),
            Self::Forbidden { .. } => (
                self.to_string(),
                Some("ask an administrator, or log in as one".into()),
            ),
            Self::NotFound { what, hint } => (what.clone(), hint.clone()),
            Self::MethodNotAllowed { allowed, .. } => (
                self.to_string(),
                Some(format!("use {}", allowed.join(" or "))),
            ),
            Self::BadRequest { error, hint } | Self::Conflict { error, hint } => {
                (error.clone(), hint.clone())
            }
            Self::TooLarge { setting, .. } => (
                self.to_string(),
                Some(format!("send less, or start the server with a larger `{setting}`")),
            ),
            Self::Package(error) => {
                let (error, hint) = split_hint(&error.to_string());
                let hint = hint.unwrap_or_else(|| {
                    "make the package with `plugin-build package` and send it whole".into()
                });
                (error, Some(hint))
            }
            Self::LoadRefused { message } => split_hint(message),
            Self::Call(error) => (error.to_string(), call_hint(error)),
            Self::PluginRoute(error) => (
                error.to_string(),
                Some(if error.is_panic() {
                    "the plugin panicked; the server kept running: see the plugin's log and report it to its author".into()
                } else {
                    "the plugin's own error: see its log".into()
                }),
            ),
            Self::Fetch { error, hint, .. } => (error.clone(), hint.clone()),
            Self::Internal(error) => (
                error.clone(),
                Some("see the server's log; the request changed nothing it could not finish".into()),
            ),
        };
        ErrorBody { error, hint }
    }
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Internal(format!("database: {error}"))
    }
}

fn call_status(error: &CallError) -> StatusCode {
    match error {
        CallError::NotFound { .. } | CallError::Unsupported { .. } => StatusCode::NOT_FOUND,
        CallError::NotActive { .. } => StatusCode::CONFLICT,
        CallError::Plugin { error, .. }
            if error.kind == ErrorKind::INVALID_CONFIG
                || error.kind == ErrorKind::INVALID_INPUT =>
        {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn call_hint(error: &CallError) -> Option<String> {
    Some(match error {
        CallError::NotFound { .. } => "list the plugins: GET /api/plugins".into(),
        CallError::NotActive { .. } => "see the plugin's status and messages: GET /api/plugins/{id}".into(),
        CallError::Unsupported { .. } => "the plugin does not offer this; see its `capabilities`".into(),
        CallError::Plugin { error, .. } if error.kind == ErrorKind::INVALID_CONFIG => {
            "fix the configuration and send it again; the current one stays in place".into()
        }
        CallError::Plugin { error, .. } if error.kind == ErrorKind::PANICKED => {
            "the plugin panicked; the server kept running: see the plugin's log and report it to its author".into()
        }
        _ => "the plugin's own error: see its log".into(),
        }
    )
}

/// Splits a toolkit message into the problem and its hint: the last line when it starts
/// with `hint:` or `fix:`.
pub fn split_hint(message: &str) -> (String, Option<String>) {
    let lines: Vec<&str> = message.lines().collect();
    match lines.split_last() {
        Some((last, rest)) if !rest.is_empty() => {
            let trimmed = last.trim_start();
            let hint = trimmed
                .strip_prefix("hint:")
                .or_else(|| trimmed.strip_prefix("fix:"));
            match hint {
                Some(hint) => (rest.join("\n"), Some(hint.trim().to_owned())),
                None => (message.to_owned(), None),
            }
        }
        _ => (message.to_owned(), None),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!("{status}: {self}");
        }
        let mut response = (status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthorized {
                challenge: true, ..
            } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"plugin-server\", charset=\"UTF-8\""),
                );
            }
            Self::MethodNotAllowed { allowed, .. } => {
                if let Ok(value) = HeaderValue::from_str(&allowed.join(", ")) {
                    headers.insert(header::ALLOW, value);
                }
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_split_from_the_message() {
        let (error, hint) = split_hint(
            "plugin rejected: plugins/x.so\n  built for aarch64\n  fix: build it for this host",
        );
        assert_eq!(error, "plugin rejected: plugins/x.so\n  built for aarch64");
        assert_eq!(hint.as_deref(), Some("build it for this host"));
        assert_eq!(split_hint("one line"), ("one line".into(), None));
        assert_eq!(split_hint("a\nb"), ("a\nb".into(), None));
    }

    #[test]
    fn statuses_are_chosen_in_one_place() {
        let refused = ApiError::Call(CallError::Plugin {
            id: "p".into(),
            operation: "set_config",
            error: plugrack_host::PluginError::new(ErrorKind::INVALID_CONFIG, "no"),
        });
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let panicked = CallError::Plugin {
            id: "p".into(),
            operation: "handle_http",
            error: plugrack_host::PluginError::new(ErrorKind::PANICKED, "boom"),
        };
        assert_eq!(
            ApiError::PluginRoute(panicked).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            ApiError::no_plugin("x").body(),
            ErrorBody {
                error: "no plugin `x`".into(),
                hint: Some("list the plugins: GET /api/plugins".into())
            }
        );
    }
}
