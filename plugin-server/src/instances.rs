//! Per-user enable and disable of plugin instances, on top of the host's instances.
//!
//! The host creates a user's instance on first use and enables it; it knows nothing of a
//! user turning their instance off. The server keeps that state ([`crate::user_plugins`])
//! and never hands out a disabled user's instance. On the transitions it calls the
//! instance's own `disable` and `enable` (gotify's contract), and it remembers which live
//! instances it has disabled ("paused"), so that turning one back on calls `enable` on that
//! same instance rather than twice. A load, reload or unload of the plugin makes new
//! instances, so it forgets the plugin's paused ones ([`Instances::forget_plugin`]).
//!
//! A disabled user's instance that must answer a configuration request is created (the
//! host enables it) and disabled again at once.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use plugrack_host::{CallError, Instance, PluginManager, User};

/// The live instances that their users disabled.
pub struct Instances {
    manager: Arc<PluginManager>,
    paused: Mutex<HashSet<(String, u64)>>,
}

fn key(id: &str, user: &User) -> (String, u64) {
    (id.to_ascii_lowercase(), user.id)
}

impl Instances {
    /// Over `manager`'s instances.
    pub fn new(manager: Arc<PluginManager>) -> Self {
        Self {
            manager,
            paused: Mutex::default(),
        }
    }

    fn paused(&self) -> std::sync::MutexGuard<'_, HashSet<(String, u64)>> {
        self.paused.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The user's instance, for a user who has it enabled.
    pub fn get(&self, id: &str, user: &User) -> Result<Instance, CallError> {
        self.manager.instance(id, user)
    }

    /// Turns the user's instance on.
    pub fn enable(&self, id: &str, user: &User) -> Result<(), CallError> {
        let instance = self.manager.instance(id, user)?;
        if self.paused().remove(&key(id, user)) {
            instance.enable()?;
        }
        Ok(())
    }

    /// Turns the user's instance off (calls its `disable`).
    pub fn disable(&self, id: &str, user: &User) -> Result<(), CallError> {
        if self.paused().contains(&key(id, user)) {
            return Ok(());
        }
        let instance = self.manager.instance(id, user)?;
        self.paused().insert(key(id, user));
        instance.disable()
    }

    /// Validates and applies a configuration for the user's instance, keeping a disabled
    /// instance disabled.
    pub fn set_config(
        &self,
        id: &str,
        user: &User,
        text: &str,
        enabled: bool,
    ) -> Result<(), CallError> {
        self.manager.set_config(id, user, text)?;
        if !enabled {
            // The host may have just created (and enabled) the instance to validate the text.
            if let Err(e) = self.disable(id, user) {
                log::warn!("plugin `{id}`, user {}: {e}", user.id);
            }
        }
        Ok(())
    }

    /// An instance to read the default configuration from, for an enabled or disabled user.
    pub fn for_reading(&self, id: &str, user: &User, enabled: bool) -> Result<Instance, CallError> {
        let instance = self.manager.instance(id, user)?;
        if !enabled {
            if let Err(e) = self.disable(id, user) {
                log::warn!("plugin `{id}`, user {}: {e}", user.id);
            }
        }
        Ok(instance)
    }

    /// Forgets the paused instances of a plugin that was loaded, reloaded or unloaded.
    pub fn forget_plugin(&self, id: &str) {
        let id = id.to_ascii_lowercase();
        self.paused().retain(|(plugin, _)| *plugin != id);
    }
}
