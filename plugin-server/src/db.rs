//! The SQLite database: users, client tokens, messages, and per-user plugin state (enabled
//! or not, and the webhook token that names the user's instance in URLs).
//!
//! One connection behind a mutex: every query is a few microseconds, so handlers run them
//! directly. The file is opened in WAL mode; the schema carries a version
//! (`PRAGMA user_version`) so later versions can migrate it. Client tokens are stored as
//! SHA-256 hashes only: the token itself is shown once, when it is created.

use std::{
    path::Path,
    sync::{Mutex, MutexGuard},
    time::{SystemTime, UNIX_EPOCH},
};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use utoipa::ToSchema;

/// The schema version this build writes.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    admin INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    plugin_id TEXT NOT NULL,
    user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    message TEXT NOT NULL,
    priority INTEGER NOT NULL,
    extras TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS plugin_states (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    plugin_id TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    webhook_token TEXT NOT NULL UNIQUE,
    PRIMARY KEY (user_id, plugin_id)
);
";

/// A user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Name (unique, compared case-insensitively).
    pub name: String,
    /// Administrator or not.
    pub admin: bool,
    /// Unix time of creation.
    pub created_at: i64,
}

/// A client token, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct TokenRow {
    /// Id.
    pub id: i64,
    /// The name its owner gave it.
    pub name: String,
    /// Unix time of creation.
    pub created_at: i64,
}

/// A message a plugin sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MessageRow {
    /// Id (increasing).
    pub id: i64,
    /// The sending plugin.
    pub plugin_id: String,
    /// The user whose instance sent it; `null` for the plugin as a whole.
    pub user_id: Option<i64>,
    /// Title.
    pub title: String,
    /// Body.
    pub message: String,
    /// Priority.
    pub priority: i32,
    /// Extra data as JSON text, or empty.
    pub extras: String,
    /// Unix time it arrived.
    pub created_at: i64,
}

/// A user's state for one plugin (plugin ids are stored lower-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginState {
    /// The user.
    pub user_id: i64,
    /// The plugin, lower-case.
    pub plugin_id: String,
    /// Whether the user's instance is enabled.
    pub enabled: bool,
    /// The token naming the user's instance in webhook URLs.
    pub webhook_token: String,
}

/// The database.
pub struct Db {
    conn: Mutex<Connection>,
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: row.get(0)?,
        name: row.get(1)?,
        admin: row.get(2)?,
        created_at: row.get(3)?,
    })
}

fn message_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<MessageRow> {
    Ok(MessageRow {
        id: row.get(0)?,
        plugin_id: row.get(1)?,
        user_id: row.get(2)?,
        title: row.get(3)?,
        message: row.get(4)?,
        priority: row.get(5)?,
        extras: row.get(6)?,
        created_at: row.get(7)?,
    })
}

fn state_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PluginState> {
    Ok(PluginState {
        user_id: row.get(0)?,
        plugin_id: row.get(1)?,
        enabled: row.get(2)?,
        webhook_token: row.get(3)?,
    })
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// SQLite refused.
    #[error("cannot open the database `{}`", .path.display())]
    Sqlite {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// A newer server wrote it.
    #[error("the database `{}` has schema version {found}, newer than this server's {SCHEMA_VERSION}; run the newer server, or start with another --data-dir", .path.display())]
    Newer {
        /// The file.
        path: std::path::PathBuf,
        /// Its version.
        found: i64,
    },
}

impl Db {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let sqlite = |source| OpenError::Sqlite {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(sqlite)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(sqlite)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sqlite)?;
        if version > SCHEMA_VERSION {
            return Err(OpenError::Newer {
                path: path.to_owned(),
                found: version,
            });
        }
        conn.execute_batch(SCHEMA).map_err(sqlite)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(sqlite)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many users there are.
    pub fn count_users(&self) -> rusqlite::Result<i64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))
    }

    /// How many administrators there are.
    pub fn count_admins(&self) -> rusqlite::Result<i64> {
        self.conn()
            .query_row("SELECT COUNT(*) FROM users WHERE admin", [], |r| r.get(0))
    }

    /// Creates a user; `None` when the name is taken.
    pub fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        admin: bool,
    ) -> rusqlite::Result<Option<UserRow>> {
        let conn = self.conn();
        let created_at = now();
        let inserted = conn.execute(
            "INSERT INTO users (name, password_hash, admin, created_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO NOTHING",
            params![name, password_hash, admin, created_at],
        )?;
        if inserted == 0 {
            return Ok(None);
        }
        Ok(Some(UserRow {
            id: conn.last_insert_rowid(),
            name: name.to_owned(),
            admin,
            created_at,
        }))
    }

    /// Every user, by id.
    pub fn list_users(&self) -> rusqlite::Result<Vec<UserRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id, name, admin, created_at FROM users ORDER BY id")?;
        let rows = stmt.query_map([], user_row)?;
        rows.collect()
    }

    /// A user by id.
    pub fn user(&self, id: i64) -> rusqlite::Result<Option<UserRow>> {
        self.conn()
            .query_row(
                "SELECT id, name, admin, created_at FROM users WHERE id = ?1",
                [id],
                user_row,
            )
            .optional()
    }

    /// A user and their password hash, by name.
    pub fn user_with_password(&self, name: &str) -> rusqlite::Result<Option<(UserRow, String)>> {
        self.conn()
            .query_row(
                "SELECT id, name, admin, created_at, password_hash FROM users WHERE name = ?1",
                [name],
                |r| Ok((user_row(r)?, r.get(4)?)),
            )
            .optional()
    }

    /// Deletes a user with their tokens, messages and plugin states; false if none.
    pub fn delete_user(&self, id: i64) -> rusqlite::Result<bool> {
        Ok(self
            .conn()
            .execute("DELETE FROM users WHERE id = ?1", [id])?
            > 0)
    }

    /// Stores a new client token's hash.
    pub fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
    ) -> rusqlite::Result<TokenRow> {
        let conn = self.conn();
        let created_at = now();
        conn.execute(
            "INSERT INTO tokens (user_id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![user_id, name, token_hash, created_at],
        )?;
        Ok(TokenRow {
            id: conn.last_insert_rowid(),
            name: name.to_owned(),
            created_at,
        })
    }

    /// A user's tokens, by id.
    pub fn list_tokens(&self, user_id: i64) -> rusqlite::Result<Vec<TokenRow>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT id, name, created_at FROM tokens WHERE user_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([user_id], |r| {
            Ok(TokenRow {
                id: r.get(0)?,
                name: r.get(1)?,
                created_at: r.get(2)?,
            })
        })?;
        rows.collect()
    }

    /// Revokes one of a user's tokens; false if the user has no such token.
    pub fn delete_token(&self, user_id: i64, token_id: i64) -> rusqlite::Result<bool> {
        Ok(self.conn().execute(
            "DELETE FROM tokens WHERE id = ?1 AND user_id = ?2",
            [token_id, user_id],
        )? > 0)
    }

    /// The owner of the token with this hash.
    pub fn user_by_token(&self, token_hash: &str) -> rusqlite::Result<Option<UserRow>> {
        self.conn()
            .query_row(
                "SELECT u.id, u.name, u.admin, u.created_at FROM tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = ?1",
                [token_hash],
                user_row,
            )
            .optional()
    }

    /// Stores a message.
    pub fn insert_message(
        &self,
        plugin_id: &str,
        user_id: Option<i64>,
        title: &str,
        message: &str,
        priority: i32,
        extras: &str,
    ) -> rusqlite::Result<MessageRow> {
        let conn = self.conn();
        let created_at = now();
        conn.execute(
            "INSERT INTO messages (plugin_id, user_id, title, message, priority, extras, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![plugin_id, user_id, title, message, priority, extras, created_at],
        )?;
        Ok(MessageRow {
            id: conn.last_insert_rowid(),
            plugin_id: plugin_id.to_owned(),
            user_id,
            title: title.to_owned(),
            message: message.to_owned(),
            priority,
            extras: extras.to_owned(),
            created_at,
        })
    }

    /// The newest `limit` messages a user may see, with an id above `since`, oldest first:
    /// their own, and for an administrator also the plugin-wide ones.
    pub fn list_messages(
        &self,
        user: &UserRow,
        since: i64,
        limit: i64,
    ) -> rusqlite::Result<Vec<MessageRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT * FROM (
                SELECT id, plugin_id, user_id, title, message, priority, extras, created_at
                FROM messages WHERE id > ?1 AND (user_id = ?2 OR (user_id IS NULL AND ?3))
                ORDER BY id DESC LIMIT ?4
             ) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![since, user.id, user.admin, limit], message_row)?;
        rows.collect()
    }

    /// A user's state for a plugin, created (disabled, with a new webhook token) if there
    /// is none yet.
    pub fn ensure_state(
        &self,
        user_id: i64,
        plugin_id: &str,
        new_token: impl FnOnce() -> String,
    ) -> rusqlite::Result<PluginState> {
        let plugin_id = plugin_id.to_ascii_lowercase();
        let conn = self.conn();
        let select = "SELECT user_id, plugin_id, enabled, webhook_token FROM plugin_states
                      WHERE user_id = ?1 AND plugin_id = ?2";
        if let Some(state) = conn
            .query_row(select, params![user_id, plugin_id], state_row)
            .optional()?
        {
            return Ok(state);
        }
        let token = new_token();
        conn.execute(
            "INSERT INTO plugin_states (user_id, plugin_id, enabled, webhook_token) VALUES (?1, ?2, 0, ?3)",
            params![user_id, plugin_id, token],
        )?;
        Ok(PluginState {
            user_id,
            plugin_id,
            enabled: false,
            webhook_token: token,
        })
    }

    /// Records whether a user's instance of a plugin is enabled.
    pub fn set_enabled(
        &self,
        user_id: i64,
        plugin_id: &str,
        enabled: bool,
    ) -> rusqlite::Result<()> {
        self.conn().execute(
            "UPDATE plugin_states SET enabled = ?3 WHERE user_id = ?1 AND plugin_id = ?2",
            params![user_id, plugin_id.to_ascii_lowercase(), enabled],
        )?;
        Ok(())
    }

    /// Every user's plugin states, for the webhook table.
    pub fn all_states(&self) -> rusqlite::Result<Vec<PluginState>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare("SELECT user_id, plugin_id, enabled, webhook_token FROM plugin_states")?;
        let rows = stmt.query_map([], state_row)?;
        rows.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_tokens_messages_and_states_round_trip_and_cascade() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db")).unwrap();
        let admin = db.create_user("admin", "h", true).unwrap().unwrap();
        let bob = db.create_user("bob", "h", false).unwrap().unwrap();
        assert!(
            db.create_user("BOB", "h", false).unwrap().is_none(),
            "names are case-insensitive"
        );
        assert_eq!(
            (db.count_users().unwrap(), db.count_admins().unwrap()),
            (2, 1)
        );

        let token = db.create_token(bob.id, "laptop", "hash1").unwrap();
        assert_eq!(db.user_by_token("hash1").unwrap(), Some(bob.clone()));
        assert!(
            !db.delete_token(admin.id, token.id).unwrap(),
            "not admin's token"
        );

        db.insert_message("p", Some(bob.id), "t", "m", 1, "")
            .unwrap();
        db.insert_message("p", None, "plugin-wide", "m", 1, "")
            .unwrap();
        assert_eq!(db.list_messages(&bob, 0, 10).unwrap().len(), 1);
        assert_eq!(db.list_messages(&admin, 0, 10).unwrap().len(), 1);

        let state = db
            .ensure_state(bob.id, "Showcase", || "tok".into())
            .unwrap();
        assert_eq!(
            (state.plugin_id.as_str(), state.enabled),
            ("showcase", false)
        );
        db.set_enabled(bob.id, "SHOWCASE", true).unwrap();
        let again = db
            .ensure_state(bob.id, "showcase", || unreachable!())
            .unwrap();
        assert!(again.enabled);

        assert!(db.delete_user(bob.id).unwrap());
        assert_eq!(db.user_by_token("hash1").unwrap(), None);
        assert!(db.all_states().unwrap().is_empty());
        drop(db);
        let reopened = Db::open(&dir.path().join("db")).unwrap();
        assert_eq!(reopened.list_users().unwrap(), [admin]);
    }
}
