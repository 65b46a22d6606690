//! `/api/tokens`: the caller's client tokens. A token is shown once, when created; the
//! database keeps only its hash.

use std::sync::Arc;

use axum::{
    extract::{Path, State},
    http::StatusCode,
    Json,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    auth::{self, Caller},
    db::TokenRow,
    error::{ApiError, ErrorBody},
    state::AppState,
};

/// A token to create.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewToken {
    /// A name to recognise it by (default `token`).
    #[serde(default)]
    pub name: Option<String>,
}

/// A created token, with its secret (shown this once).
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    /// Id (to revoke it).
    pub id: i64,
    /// Name.
    pub name: String,
    /// Unix time of creation.
    pub created_at: i64,
    /// The token: send it as `Authorization: Bearer TOKEN` or `X-Plugin-Token: TOKEN`.
    pub token: String,
}

/// The caller's tokens (without their secrets).
#[utoipa::path(get, path = "/api/tokens", tag = "tokens",
    responses((status = 200, body = [TokenRow]), (status = 401, body = ErrorBody)))]
pub async fn list(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
) -> Result<Json<Vec<TokenRow>>, ApiError> {
    Ok(Json(app.db.list_tokens(user.id)?))
}

/// Creates a token for the caller.
#[utoipa::path(post, path = "/api/tokens", tag = "tokens", request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 401, body = ErrorBody)))]
pub async fn create(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    body: Option<Json<NewToken>>,
) -> Result<(StatusCode, Json<CreatedToken>), ApiError> {
    let name = body
        .and_then(|Json(b)| b.name)
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "token".into());
    let token = format!("prt_{}", auth::random_hex(24));
    let row = app
        .db
        .create_token(user.id, &name, &auth::token_hash(&token))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedToken {
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            token,
        }),
    ))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(delete, path = "/api/tokens/{id}", tag = "tokens",
    params(("id" = i64, Path, description = "token id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(app): State<Arc<AppState>>,
    Caller(user): Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    if !app.db.delete_token(user.id, id)? {
        return Err(ApiError::NotFound {
            what: format!("you have no token with id {id}"),
            hint: Some("list your tokens: GET /api/tokens".into()),
        });
    }
    Ok(StatusCode::NO_CONTENT)
}
