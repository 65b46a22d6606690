//! A plugin's life after loading: reloading a new build while calls continue, retiring the
//! replaced build once its callers let go, unloading and removal.

use std::{
    path::Path,
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use super::{drain_instances, lock_poisoned, Loaded, PluginManager};
use crate::{
    call::{CallError, Instance},
    discovery::Origin,
    events::PluginEvent,
    report::{PluginReport, PluginStatus},
    runner::Failure,
    stamp,
};

impl PluginManager {
    /// Loads the plugin at `source` again (a new build was deployed) and swaps it in: new
    /// instances come from the new build, instances already handed out finish their calls on
    /// the old one, which is unloaded once they are released. A new build that fails any
    /// check leaves the running plugin in place, with the reason in its report's messages.
    ///
    /// A loaded plugin whose files have not changed since it was loaded (or since a new build
    /// was last refused) is left as it is. An entry that was refused or skipped is tried again
    /// even when unchanged: a refusal may have had a passing cause (an `on_load` that could not
    /// reach a service). The folder watcher, unlike this, tries each version only once.
    pub fn reload(&self, source: &Path) -> PluginReport {
        self.try_again(source, false)
    }

    /// The watcher's [`reload`](Self::reload): an entry in the version last tried, loaded or
    /// refused, is left alone (an event about attributes, a second event for one deploy, the
    /// checks' own reads).
    pub(crate) fn refresh(&self, source: &Path) -> PluginReport {
        self.try_again(source, true)
    }

    fn try_again(&self, source: &Path, only_if_changed: bool) -> PluginReport {
        // Taken before anything reads it, as in a first load.
        let stamp = stamp::of(source);
        let current = {
            let state = self.core.state.read().unwrap_or_else(lock_poisoned);
            state.iter().find(|e| e.source == source).map(|e| {
                let unchanged =
                    stamp.is_some() && e.tried == stamp && (only_if_changed || e.loaded.is_some());
                (
                    e.origin,
                    e.loaded.clone(),
                    unchanged.then(|| Self::report(e)),
                )
            })
        };
        let old = match current {
            Some((_, _, Some(unchanged))) => return unchanged,
            Some((_, Some(old), None)) => old,
            // Refused or skipped before: try it as a new entry.
            Some((origin, None, None)) => return self.load_new(source, origin),
            None => return self.load_path(source, Origin::External),
        };
        let old_id = old.info.id.clone();
        let opened = self.open(source, Some(&old_id));
        self.core.layout_cache.flush();
        match opened {
            Ok(new) => {
                let new_id = new.info.id.clone();
                {
                    let mut state = self.core.state.write().unwrap_or_else(lock_poisoned);
                    if let Some(entry) = state.iter_mut().find(|e| e.source == source) {
                        entry.tried = stamp;
                        entry.loaded = Some(Arc::clone(&new));
                        entry.status = PluginStatus::Active;
                        entry.messages.push(format!(
                            "reloaded: {} {} replaced {}",
                            new_id, new.info.version, old.info.version
                        ));
                    }
                }
                self.retire(old);
                log::info!(target: "plugrack_host", "reloaded plugin `{new_id}` from {}", source.display());
                self.core.subscribers.publish(PluginEvent::Reloaded {
                    id: new_id,
                    source: source.to_owned(),
                });
            }
            Err(error) => {
                let message = format!(
                    "a new build was refused, the running one is kept: {}",
                    error.refusal
                );
                log::warn!(target: "plugrack_host", "{error}");
                let mut state = self.core.state.write().unwrap_or_else(lock_poisoned);
                if let Some(entry) = state.iter_mut().find(|e| e.source == source) {
                    entry.messages.push(message.clone());
                    entry.tried = stamp;
                }
                drop(state);
                self.core.subscribers.publish(PluginEvent::ReloadRefused {
                    id: old_id,
                    message,
                });
            }
        }
        let state = self.core.state.read().unwrap_or_else(lock_poisoned);
        state
            .iter()
            .find(|e| e.source == source)
            .map(Self::report)
            .expect("the entry exists")
    }

    /// Forgets the entry at `source` (its file or folder was removed): a loaded plugin's
    /// instances are disabled and dropped and its `on_unload` runs.
    pub fn remove(&self, source: &Path) -> Option<PluginReport> {
        let entry = {
            let mut state = self.core.state.write().unwrap_or_else(lock_poisoned);
            let index = state.iter().position(|e| e.source == source)?;
            state.remove(index)
        };
        let report = Self::report(&entry);
        if let Some(loaded) = entry.loaded {
            let id = loaded.info.id.clone();
            if let Err(e) = self.unload_now(loaded) {
                self.core.unload_warnings.report(&id, &e);
            }
            self.core.subscribers.publish(PluginEvent::Unloaded { id });
        }
        Some(report)
    }

    /// Unloads plugin `id`: disables and drops its instances, then calls `on_unload`. The
    /// library stays mapped (abi_stable never unloads), but the plugin is forgotten.
    pub fn unload(&self, id: &str) -> Result<(), CallError> {
        let entry = {
            let mut state = self.core.state.write().unwrap_or_else(lock_poisoned);
            let index = state
                .iter()
                .position(|e| e.has_id(id))
                .ok_or_else(|| CallError::NotFound { id: id.into() })?;
            state.remove(index)
        };
        let loaded = entry.loaded.expect("found by loaded id");
        let id = loaded.info.id.clone();
        let result = self.unload_now(loaded);
        self.core.subscribers.publish(PluginEvent::Unloaded { id });
        result
    }

    pub(super) fn unload_now(&self, loaded: Arc<Loaded>) -> Result<(), CallError> {
        drain_instances(&loaded);
        let id = loaded.info.id.clone();
        match loaded.runner.stop(Some(self.core.config.lifecycle_timeout)) {
            Ok(()) => Ok(()),
            Err(Failure::TimedOut) => Err(CallError::Plugin {
                id,
                operation: "on_unload",
                error: plugrack_api::PluginError::new(
                    plugrack_api::ErrorKind::FAILED,
                    "did not return within the lifecycle time limit",
                ),
            }),
            Err(failure) => Err(failure.into_call_error(&id, "on_unload")),
        }
    }

    /// Unloads a replaced build once every instance handed out of it has been released (or
    /// after the lifecycle time limit), on a background thread.
    fn retire(&self, old: Arc<Loaded>) {
        let limit = self.core.config.lifecycle_timeout;
        let warnings = self.core.unload_warnings.clone();
        let spawned = thread::Builder::new()
            .name(format!("retire-{}", old.info.id))
            .spawn(move || {
                let deadline = Instant::now() + limit;
                let wait_until = |done: &dyn Fn() -> bool| {
                    while !done() && Instant::now() < deadline {
                        thread::sleep(Duration::from_millis(5));
                    }
                };
                // First every caller that still holds the old build (one may be creating an
                // instance from it right now), then every instance handed out of it.
                wait_until(&|| Arc::strong_count(&old) == 1);
                let instances: Vec<Instance> = {
                    let mut map = old.instances.lock().unwrap_or_else(lock_poisoned);
                    map.drain()
                        .filter(|(_, slot)| slot.disabled.is_none())
                        .map(|(_, slot)| slot.instance)
                        .collect()
                };
                wait_until(&|| instances.iter().all(|i| Arc::strong_count(&i.inner) == 1));
                for instance in &instances {
                    if let Err(e) = instance.disable() {
                        log::warn!(target: "plugrack_host", "{e}");
                    }
                }
                drop(instances);
                if let Err(failure) = old.runner.stop(None) {
                    let id = old.info.id.clone();
                    warnings.report(&id, &failure.into_call_error(&id, "on_unload"));
                }
            });
        if let Err(e) = spawned {
            log::warn!(target: "plugrack_host", "cannot start the thread that unloads a replaced build: {e}");
        }
    }
}
