//! Authentication (gotify's model): HTTP basic auth with a user's name and password, or a
//! client token as `Authorization: Bearer TOKEN` or `X-Plugin-Token: TOKEN`.
//!
//! Passwords are stored as argon2id hashes; client tokens as SHA-256 hashes (a token is
//! random, so a fast hash is enough, and the database never holds a usable secret).
//! Checking a password costs an argon2 run (tens of milliseconds by design), so a successful
//! basic-auth check is remembered, keyed by a salted hash of the name and password, until a
//! user is deleted. [`Caller`] and [`Admin`] are the extractors handlers take.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use argon2::{
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use axum::{extract::FromRequestParts, http::request::Parts, http::HeaderMap};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::{db::UserRow, error::ApiError, state::AppState};

/// The shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// `count` random bytes as lowercase hex.
pub fn random_hex(count: usize) -> String {
    let mut bytes = vec![0u8; count];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of `text`, lowercase hex: how client tokens are stored.
pub fn token_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source works");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any password")
        .to_string()
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// Checks a new password against the policy.
pub fn check_password(password: &str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(ApiError::bad_request(
            format!("the password is shorter than {MIN_PASSWORD_LEN} characters"),
            "choose a longer password",
        ));
    }
    Ok(())
}

/// Credentials as sent.
enum Credentials {
    Token(String),
    Basic { name: String, password: String },
}

/// Verifies credentials; remembers successful password checks.
pub struct Auth {
    salt: [u8; 16],
    verified: Mutex<HashMap<[u8; 32], i64>>,
}

impl Default for Auth {
    fn default() -> Self {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).expect("the operating system's random source works");
        Self {
            salt,
            verified: Mutex::default(),
        }
    }
}

impl Auth {
    /// Forgets every remembered password check (a user was deleted).
    pub fn forget(&self) {
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The user the request's credentials belong to.
    pub fn authenticate(&self, headers: &HeaderMap, state: &AppState) -> Result<UserRow, ApiError> {
        // The page marks its requests, so a refusal does not make the browser open its own
        // password dialog.
        let challenge = !headers.contains_key("x-requested-with");
        let credentials =
            credentials(headers).map_err(|reason| ApiError::Unauthorized { reason, challenge })?;
        match credentials {
            Some(Credentials::Token(token)) => self.by_token(&token, state),
            Some(Credentials::Basic { name, password }) => {
                self.by_password(&name, &password, state, challenge)
            }
            None => Err(ApiError::Unauthorized {
                reason: "this needs credentials, and the request has none".into(),
                challenge,
            }),
        }
    }

    /// The owner of a client token.
    pub fn by_token(&self, token: &str, state: &AppState) -> Result<UserRow, ApiError> {
        state
            .db
            .user_by_token(&token_hash(token))?
            .ok_or_else(|| ApiError::Unauthorized {
                reason: "the token is not valid (revoked, or never issued)".into(),
                challenge: false,
            })
    }

    fn by_password(
        &self,
        name: &str,
        password: &str,
        state: &AppState,
        challenge: bool,
    ) -> Result<UserRow, ApiError> {
        let key: [u8; 32] = Sha256::new()
            .chain_update(self.salt)
            .chain_update(name.to_lowercase().as_bytes())
            .chain_update([0])
            .chain_update(password.as_bytes())
            .finalize()
            .into();
        let remembered = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .copied();
        if let Some(id) = remembered {
            if let Some(user) = state.db.user(id)? {
                return Ok(user);
            }
        }
        let refused = || ApiError::Unauthorized {
            reason: "wrong user name or password".into(),
            challenge,
        };
        let (user, hash) = state.db.user_with_password(name)?.ok_or_else(refused)?;
        // Argon2 takes tens of milliseconds on purpose: let the runtime move other tasks.
        let ok = tokio::task::block_in_place(|| verify_password(password, &hash));
        if !ok {
            return Err(refused());
        }
        self.verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, user.id);
        Ok(user)
    }
}

fn credentials(headers: &HeaderMap) -> Result<Option<Credentials>, String> {
    if let Some(token) = headers.get("x-plugin-token") {
        let token = token
            .to_str()
            .map_err(|_| "the X-Plugin-Token header is not text".to_owned())?;
        return Ok(Some(Credentials::Token(token.trim().to_owned())));
    }
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| "the Authorization header is not text".to_owned())?;
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        return Ok(Some(Credentials::Token(rest.trim().to_owned())));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| "the basic credentials are not base64 of `name:password`".to_owned())?;
        let (name, password) = decoded.split_once(':').ok_or_else(|| {
            "the basic credentials have no `:` between name and password".to_owned()
        })?;
        return Ok(Some(Credentials::Basic {
            name: name.to_owned(),
            password: password.to_owned(),
        }));
    }
    Err(format!(
        "the Authorization scheme `{scheme}` is not supported; use Basic or Bearer"
    ))
}

/// The authenticated user making the request.
#[derive(Debug, Clone)]
pub struct Caller(pub UserRow);

/// The authenticated user making the request, who is an administrator.
#[derive(Debug, Clone)]
pub struct Admin(pub UserRow);

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        state.auth.authenticate(&parts.headers, state).map(Caller)
    }
}

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Caller(user) = Caller::from_request_parts(parts, state).await?;
        if !user.admin {
            return Err(ApiError::Forbidden { user: user.name });
        }
        Ok(Admin(user))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(check_password("short").is_err());
    }

    #[test]
    fn credentials_are_read_from_each_header() {
        let mut headers = HeaderMap::new();
        assert!(credentials(&headers).unwrap().is_none());
        headers.insert(
            "authorization",
            HeaderValue::from_static("Basic YWRtaW46c2VjcmV0"),
        );
        assert!(matches!(credentials(&headers).unwrap(),
            Some(Credentials::Basic { name, password }) if name == "admin" && password == "secret"));
        headers.insert("authorization", HeaderValue::from_static("Bearer abc"));
        assert!(
            matches!(credentials(&headers).unwrap(), Some(Credentials::Token(t)) if t == "abc")
        );
        headers.insert("x-plugin-token", HeaderValue::from_static("xyz"));
        assert!(
            matches!(credentials(&headers).unwrap(), Some(Credentials::Token(t)) if t == "xyz")
        );
        headers.remove("x-plugin-token");
        headers.insert("authorization", HeaderValue::from_static("Digest x"));
        assert!(credentials(&headers)
            .err()
            .unwrap()
            .contains("`Digest` is not supported"));
    }
}
