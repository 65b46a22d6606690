//! Per-user instances: created on first use with their stored configuration applied and
//! enabled, configured, and turned off and on with their plugin.

use std::{
    fs,
    path::PathBuf,
    sync::{atomic::Ordering, Arc},
};

use super::{drain_instances, lock_poisoned, Loaded, PluginManager, Slot};
use crate::{
    call::{CallError, Instance, InstanceInner},
    report::PluginStatus,
    runner::Failure,
    services::BoundServices,
    values::User,
};

impl PluginManager {
    fn config_path(&self, id: &str, user: u64) -> Option<PathBuf> {
        self.core
            .config
            .storage_dir
            .as_ref()
            .map(|dir| dir.join(id).join(format!("user-{user}.config")))
    }

    /// The instance of plugin `id` for `user`, created on first use: a stored configuration
    /// is applied, then the instance is enabled.
    ///
    /// A stored configuration the plugin no longer accepts leaves the instance disabled (the
    /// error says why) and the stored text untouched; [`PluginManager::set_config`] revives it.
    pub fn instance(&self, id: &str, user: &User) -> Result<Instance, CallError> {
        let loaded = self.active(id)?;
        let mut instances = loaded.instances.lock().unwrap_or_else(lock_poisoned);
        if let Some(slot) = instances.get(&user.id) {
            return match &slot.disabled {
                None => Ok(slot.instance.clone()),
                Some(reason) => Err(CallError::NotActive {
                    id: loaded.info.id.clone(),
                    reason: reason.clone(),
                }),
            };
        }
        let instance = self.new_instance(&loaded, user)?;
        let plugin_id = loaded.info.id.clone();
        if let Some(stored) = self
            .config_path(&plugin_id, user.id)
            .and_then(|p| fs::read_to_string(p).ok())
        {
            if let Err(e) = instance.apply_config(&stored) {
                let reason = format!("the stored configuration no longer validates ({e}); it is kept: send a new one");
                log::warn!(target: "plugrack_host", "plugin `{plugin_id}`, user {}: {reason}", user.id);
                instances.insert(
                    user.id,
                    Slot {
                        instance,
                        disabled: Some(reason.clone()),
                    },
                );
                return Err(CallError::NotActive {
                    id: plugin_id,
                    reason,
                });
            }
        }
        if let Err(error) = instance.enable() {
            // gotify's rule: an instance whose `enable` fails stays disabled, with the reason.
            let reason = format!("`enable` failed: {error}");
            instances.insert(
                user.id,
                Slot {
                    instance,
                    disabled: Some(reason),
                },
            );
            return Err(error);
        }
        instances.insert(
            user.id,
            Slot {
                instance: instance.clone(),
                disabled: None,
            },
        );
        Ok(instance)
    }

    fn new_instance(&self, loaded: &Arc<Loaded>, user: &User) -> Result<Instance, CallError> {
        let plugin_id = loaded.info.id.clone();
        let services = BoundServices::new(
            &plugin_id,
            Some(user.id),
            Arc::clone(&self.core.shared),
            Arc::clone(&loaded.log),
        );
        loaded.metrics.count_call();
        let callee = loaded
            .runner
            .new_instance(user, services)
            .map_err(|failure| {
                if matches!(&failure, Failure::Plugin(e) if e.kind == plugrack_api::ErrorKind::PANICKED)
                {
                    loaded.metrics.panics.fetch_add(1, Ordering::Relaxed);
                }
                loaded.metrics.errors.fetch_add(1, Ordering::Relaxed);
                failure.into_call_error(&plugin_id, "new_instance")
            })?;
        Ok(Instance {
            inner: Arc::new(InstanceInner {
                config_path: self.config_path(&plugin_id, user.id),
                plugin_id,
                capabilities: loaded.runner.capabilities(),
                callee,
                metrics: Arc::clone(&loaded.metrics),
            }),
        })
    }

    /// Validates `text` with the plugin and, if accepted, applies and stores it for `user`
    /// (atomically, under the storage folder) and re-enables an instance that a rejected
    /// stored configuration had disabled.
    pub fn set_config(&self, id: &str, user: &User, text: &str) -> Result<(), CallError> {
        let loaded = self.active(id)?;
        let disabled = {
            let instances = loaded.instances.lock().unwrap_or_else(lock_poisoned);
            instances
                .get(&user.id)
                .map(|slot| (slot.instance.clone(), slot.disabled.is_some()))
        };
        match disabled {
            None => self.instance(id, user)?.set_config(text),
            Some((instance, false)) => instance.set_config(text),
            Some((instance, true)) => {
                instance.set_config(text)?;
                instance.enable()?;
                let mut instances = loaded.instances.lock().unwrap_or_else(lock_poisoned);
                if let Some(slot) = instances.get_mut(&user.id) {
                    slot.disabled = None;
                }
                Ok(())
            }
        }
    }

    /// Turns a plugin off (its instances are disabled and dropped) or back on. Turning on
    /// checks the plugin by creating and enabling no instance; a later failing `enable` is
    /// reported by [`PluginManager::instance`].
    pub fn set_enabled(&self, id: &str, enabled: bool) -> Result<(), CallError> {
        let mut state = self.core.state.write().unwrap_or_else(lock_poisoned);
        let entry = state
            .iter_mut()
            .find(|e| e.has_id(id))
            .ok_or_else(|| CallError::NotFound { id: id.into() })?;
        if enabled {
            entry.status = PluginStatus::Active;
        } else {
            drain_instances(entry.loaded.as_ref().expect("found by loaded id"));
            entry.status = PluginStatus::Disabled {
                reason: "disabled by the host".into(),
            };
        }
        Ok(())
    }
}
