//! Starting one opened plugin: its `on_load` within the time limit, then its host-defined
//! extensions and the [`Loaded`] entry.
//!
//! Where `on_load` runs: a single load hands it to a lifecycle worker and waits, so that a
//! hung one can be given up on (`runner::limit`). A folder's loader thread runs it itself: that
//! thread is what the folder load gives up on (see `folder`), and a hand-off per plugin cost
//! about 0.05 ms here (a plugin loaded in place costs 0.3-0.4 ms, a bare `dlopen` 0.1), in the
//! hand-off itself and in the `dlopen`s beside a worker awake in the same address space.

use std::{
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use super::{open::Opening, Loaded, PluginManager};
use crate::{
    error::{LoadError, Refusal},
    extension,
    report::LoadPhases,
    runner::Failure,
    services::BoundServices,
};

/// Where a plugin's `on_load` runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum OnLoadOn {
    /// On a lifecycle worker, waited for at most the time limit.
    Worker,
    /// On the calling thread, which can be given up on.
    ThisThread,
}

/// A plugin whose `on_load` has answered.
pub(super) struct Started {
    opening: Opening,
    result: Result<(), Failure>,
    on_load: Duration,
}

impl PluginManager {
    /// Runs the opened plugin's `on_load` where `on` says.
    pub(super) fn run_on_load(&self, opening: Opening, on: OnLoadOn) -> Started {
        let services = BoundServices::new(
            &opening.id,
            None,
            Arc::clone(&self.core.shared),
            Arc::clone(&opening.log),
        );
        let limit = self.core.config.lifecycle_timeout;
        let started = Instant::now();
        let runner = &opening.opened.runner;
        let result = match on {
            OnLoadOn::Worker => runner.start(services, limit),
            OnLoadOn::ThisThread => runner.start_here(services, limit),
        };
        Started {
            opening,
            result,
            on_load: started.elapsed(),
        }
    }

    /// The refusal of a plugin whose `on_load` outlived the time limit.
    pub(super) fn on_load_timed_out(&self) -> Refusal {
        Refusal::OnLoadTimedOut {
            limit_ms: self.core.config.lifecycle_timeout.as_millis() as u64,
        }
    }

    /// Turns the answer of the started plugin's `on_load` into its entry: once it succeeded,
    /// its extensions are checked and created.
    pub(super) fn finish_start(
        &self,
        path: &Path,
        started: Started,
    ) -> Result<Arc<Loaded>, Box<LoadError>> {
        let Started {
            opening,
            result,
            on_load,
        } = started;
        let Opening {
            opened,
            id,
            log,
            library_hash,
            checks,
            open,
            before_start,
        } = opening;
        let with_id = |refusal: Refusal| Box::new(LoadError::new(path, refusal).with_id(&id));
        match result {
            Err(Failure::TimedOut) => return Err(with_id(self.on_load_timed_out())),
            Err(Failure::Plugin(error)) if error.kind == plugrack_api::ErrorKind::PANICKED => {
                return Err(with_id(Refusal::OnLoadPanicked {
                    message: error.message.into(),
                }))
            }
            Err(Failure::Plugin(error)) => {
                return Err(with_id(Refusal::OnLoadFailed {
                    message: error.message.into(),
                }))
            }
            Err(Failure::Crashed(crash)) => {
                let mut error = with_id(Refusal::WorkerCrashed {
                    during: "on_load",
                    crash,
                });
                let words = opened.runner.last_words();
                if !words.is_empty() {
                    error.detail = Some(format!("last stderr:\n  {}", words.join("\n  ")));
                }
                return Err(error);
            }
            Err(Failure::Unavailable(reason)) => {
                return Err(with_id(Refusal::WorkerFailed { reason }))
            }
            Ok(()) => {}
        }
        let extending = Instant::now();
        // Extensions are checked and created only now: the library is open (abi_stable's
        // globals are set up, so layout checks are sound) and the plugin has loaded.
        let extensions = match opened.runner.module() {
            Some(module) => extension::resolve(
                &extension::PluginRef { id: &id, path },
                module,
                library_hash,
                &self.core.config.extension_points,
                &self.core.layout_cache,
            ),
            // In a worker: what its root module lists there, each declared one refused.
            None => extension::out_of_process(
                &extension::PluginRef { id: &id, path },
                &opened.listed_extensions,
                &self.core.config.extension_points,
            ),
        };
        let load_phases = LoadPhases {
            checks,
            open,
            layout_check: opened.check_time,
            on_load,
            extensions: extending.elapsed(),
            layout_cached: opened.layout_cached,
        };
        Ok(Arc::new(Loaded {
            extensions,
            load_time: checks + before_start + on_load + load_phases.extensions,
            load_phases,
            runner: opened.runner,
            info: opened.info,
            instances: Mutex::default(),
            metrics: Arc::default(),
            log,
            loaded_at: SystemTime::now(),
        }))
    }
}
