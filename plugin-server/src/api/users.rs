//! `/api/users` (administrators) and `/api/user` (the caller).

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::{
    auth::{self, Admin, Caller},
    db::UserRow,
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUser {
    /// Letters, digits, `.`, `_`, `-`; unique (case-insensitively).
    pub name: String,
    /// At least 8 characters.
    pub password: String,
    /// An administrator or not (default: not).
    #[serde(default)]
    pub admin: bool,
}

/// The caller.
#[utoipa::path(get, path = "/api/user", tag = "users",
    responses((status = 200, body = UserRow), (status = 401, body = ErrorBody)))]
pub async fn current(Caller(user): Caller) -> Json<UserRow> {
    Json(user)
}

/// Every user.
#[utoipa::path(get, path = "/api/users", tag = "users",
    responses((status = 200, body = [UserRow]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<AppState>>,
    Admin(_): Admin,
) -> Result<Json<Vec<UserRow>>, ApiError> {
    Ok(Json(app.db.list_users()?))
}

/// Creates a user.
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = UserRow), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(app): State<Arc<AppState>>,
    Admin(_): Admin,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<UserRow>), ApiError> {
    let valid = !new.name.is_empty()
        && new.name.len() <= 64
        && new
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !valid {
        return Err(ApiError::bad_request(
            format!("`{}` is not a valid user name", new.name),
            "use 1 to 64 letters, digits, `.`, `_` or `-`",
        ));
    }
    auth::check_password(&new.password)?;
    let hash = tokio::task::block_in_place(|| auth::hash_password(&new.password));
    let user = app
        .db
        .create_user(&new.name, &hash, new.admin)?
        .ok_or_else(|| {
            ApiError::conflict(format!("user `{}` exists", new.name), "choose another name")
        })?;
    Ok((StatusCode::CREATED, Json(user)))
}

/// Deletes a user, with their tokens, messages and plugin states.
#[utoipa::path(delete, path = "/api/users/{id}", tag = "users",
    params(("id" = i64, Path, description = "user id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(app): State<Arc<AppState>>,
    Admin(admin): Admin,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if id == admin.id {
        return Err(ApiError::conflict(
            "you cannot delete yourself",
            "log in as another administrator to delete this user",
        ));
    }
    if !app.db.delete_user(id)? {
        return Err(ApiError::NotFound {
            what: format!("no user with id {id}"),
            hint: Some("list the users: GET /api/users".into()),
        });
    }
    app.auth.forget();
    app.user_plugins.forget_user(id);
    Ok(StatusCode::NO_CONTENT)
}
