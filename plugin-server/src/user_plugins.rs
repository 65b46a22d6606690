//! Each user's state for each plugin: enabled or not, and the webhook token that names the
//! user's instance in `/plugin/{id}/custom/{token}/...` (gotify's per-user plugin
//! configuration). The database holds it; this table keeps it in memory too, because the
//! webhook path looks a token up on every request.

use std::{collections::HashMap, sync::RwLock};

use plugrack_host::User;

use crate::{
    auth::random_hex,
    db::{Db, PluginState, UserRow},
};

/// What a webhook token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The instance's user.
    pub user: User,
    /// The plugin, lower-case.
    pub plugin_id: String,
    /// Whether the user's instance is enabled.
    pub enabled: bool,
}

/// The users' plugin states, by webhook token.
#[derive(Default)]
pub struct UserPlugins {
    by_token: RwLock<HashMap<String, Hook>>,
}

/// The host's view of a user: instances are kept per id.
pub fn host_user(user: &UserRow) -> User {
    User {
        id: user.id as u64,
        name: user.name.clone(),
        admin: user.admin,
    }
}

impl UserPlugins {
    /// Loads every state from the database.
    pub fn load(db: &Db) -> rusqlite::Result<Self> {
        let users: HashMap<i64, UserRow> =
            db.list_users()?.into_iter().map(|u| (u.id, u)).collect();
        let mut by_token = HashMap::new();
        for state in db.all_states()? {
            if let Some(user) = users.get(&state.user_id) {
                by_token.insert(
                    state.webhook_token,
                    Hook {
                        user: host_user(user),
                        plugin_id: state.plugin_id,
                        enabled: state.enabled,
                    },
                );
            }
        }
        Ok(Self {
            by_token: RwLock::new(by_token),
        })
    }

    /// A user's state for a plugin, created (disabled, with a new token) on first use.
    pub fn state(&self, db: &Db, user: &UserRow, plugin_id: &str) -> rusqlite::Result<PluginState> {
        let state = db.ensure_state(user.id, plugin_id, || random_hex(16))?;
        self.by_token
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(state.webhook_token.clone())
            .or_insert_with(|| Hook {
                user: host_user(user),
                plugin_id: state.plugin_id.clone(),
                enabled: state.enabled,
            });
        Ok(state)
    }

    /// Records whether a user's instance is enabled.
    pub fn set_enabled(
        &self,
        db: &Db,
        user: &UserRow,
        plugin_id: &str,
        enabled: bool,
    ) -> rusqlite::Result<()> {
        let state = self.state(db, user, plugin_id)?;
        db.set_enabled(user.id, plugin_id, enabled)?;
        if let Some(hook) = self
            .by_token
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&state.webhook_token)
        {
            hook.enabled = enabled;
        }
        Ok(())
    }

    /// The instance a webhook token names.
    pub fn hook(&self, token: &str) -> Option<Hook> {
        self.by_token
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    /// Forgets a deleted user's tokens.
    pub fn forget_user(&self, user_id: i64) {
        self.by_token
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, hook| hook.user.id != user_id as u64);
    }
}
