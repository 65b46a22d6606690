//! The plugin in a worker process of its own: the same file, opened by the `plugin-worker`
//! program through the same checks, its entry points called over an inherited socket pair,
//! its service calls answered by the host over the same connection.
//!
//! A crash (segfault, abort, stack overflow, `exit`, a call past its deadline, an allocation
//! past the address-space limit) ends the worker, never the host; the call in flight returns
//! [`Crash`](crate::Crash), the worker is restarted with backoff, and unloading ends the
//! process, so its memory really goes back.
//!
//! - [`program`] finds the worker program; [`spawn`] starts one and performs the handshake;
//! - [`supervise`] owns a plugin's worker over time: reaping, crashes, restarts, giving up;
//! - [`instance`] is an instance in the worker; [`host_side`] answers the worker's requests.

use std::{
    collections::{HashMap, VecDeque},
    path::Path,
    sync::{atomic::AtomicU64, mpsc, Arc, Condvar, Mutex, OnceLock, RwLock},
    thread,
    time::{Duration, Instant},
};

use plugrack_api::{Capabilities, PluginModuleRef};

use self::{
    spawn::{kill_group, Stderr},
    supervise::{Live, Phase, Shared},
};
use super::{Callee, Failure, Health, OpenContext, Opened, PrivateCopy, Runner};
use crate::{
    error::LoadError,
    isolation::WorkerSettings,
    report::WorkerReport,
    services::BoundServices,
    values::User,
    wire::{
        conn::ConnError,
        convert,
        message::{Call, Hello, Ready},
    },
};

mod host_side;
mod instance;
pub(crate) mod program;
mod spawn;
mod supervise;

pub(crate) use instance::WorkerInstance;

/// Starts a worker for the private copy of the plugin at `path`.
pub(crate) fn open(
    copy: PrivateCopy,
    path: &Path,
    settings: &WorkerSettings,
    context: &OpenContext<'_>,
) -> Result<Opened, Box<LoadError>> {
    let fail = |refusal| Box::new(LoadError::new(path, refusal));
    let program = program::find(context.worker_program).map_err(fail)?;
    let hello = Hello {
        host_version: context.host.host_version.to_string(),
        api_version: plugrack_api::API_VERSION.into(),
        library: copy.0.clone(),
        shown_path: path.to_owned(),
        address_space: settings.address_space,
        confine: settings.confine,
        data_dir: Some(context.data_dir.clone()),
    };
    let shared = Arc::new(Shared {
        program,
        hello,
        _copy: copy,
        settings: settings.clone(),
        subscribers: Arc::clone(&context.subscribers),
        id: OnceLock::new(),
        live: Mutex::new(Live {
            phase: Phase::Starting,
            generation: 0,
            pid: None,
            started: false,
            stopping: false,
            killed_for: None,
            last_crash: None,
            crashes: VecDeque::new(),
            restarts: 0,
            start_limit: settings.call_timeout,
            log_level: 3,
            confinement: String::new(),
        }),
        changed: Condvar::new(),
        scopes: RwLock::new(HashMap::new()),
        stderr: Arc::new(Stderr::default()),
        notes: Mutex::default(),
    });
    let (tx, rx) = mpsc::channel();
    let supervisor = Arc::clone(&shared);
    thread::Builder::new()
        .name("plugin-worker".into())
        .spawn(move || supervise::run(supervisor, tx))
        .map_err(|e| {
            fail(crate::error::Refusal::WorkerFailed {
                reason: format!("cannot start its supervising thread: {e}"),
            })
        })?;
    let ready = rx
        .recv_timeout(settings.start_timeout + Duration::from_secs(5))
        .map_err(|_| {
            fail(crate::error::Refusal::WorkerStartTimedOut {
                limit_ms: settings.start_timeout.as_millis() as u64,
            })
        })?
        .map_err(fail)?;
    let runner = ProcessRunner {
        shared,
        next_instance: AtomicU64::new(1),
    };
    match ready {
        Ready::Loaded {
            info,
            capabilities,
            confinement,
            extensions,
        } => {
            let capabilities = Capabilities(capabilities);
            let info = convert::info_from_wire(info, capabilities, path);
            let _ = runner.shared.id.set(info.id.clone());
            log::debug!(target: "plugrack_host", "plugin `{}` runs in a worker ({confinement})", info.id);
            Ok(Opened {
                runner: Box::new(WithCapabilities {
                    runner,
                    capabilities,
                }),
                info,
                listed_extensions: extensions,
                check_time: Duration::ZERO,
                layout_cached: false,
            })
        }
        Ready::Refused(failure) => Err(Box::new(convert::load_error_from_wire(failure, path))),
    }
}

/// A plugin in a worker.
struct ProcessRunner {
    shared: Arc<Shared>,
    next_instance: AtomicU64,
}

/// The runner and the capabilities its plugin declared in the handshake.
struct WithCapabilities {
    runner: ProcessRunner,
    capabilities: Capabilities,
}

impl ProcessRunner {
    /// Ends the worker: asks it to leave by closing the connection, kills its process group
    /// if it is still there after a moment, and waits until the supervisor has reaped it.
    fn end(&self) {
        let conn = {
            let mut live = self.shared.live();
            live.stopping = true;
            match &live.phase {
                Phase::Up(conn) => Some(Arc::clone(conn)),
                _ => None,
            }
        };
        self.shared.changed.notify_all();
        if let Some(conn) = conn {
            conn.close("the plugin was unloaded");
        }
        for (wait, kill) in [
            (Duration::from_millis(500), true),
            (Duration::from_secs(2), false),
        ] {
            let until = Instant::now() + wait;
            let mut live = self.shared.live();
            while !matches!(
                live.phase,
                Phase::Stopped | Phase::Ended(_) | Phase::GaveUp(_)
            ) && live.pid.is_some()
            {
                let left = until.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                live = self
                    .shared
                    .changed
                    .wait_timeout(live, left)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            match live.pid {
                Some(pid) if kill => kill_group(pid),
                _ => return,
            }
        }
    }
}

impl Runner for WithCapabilities {
    fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    fn start(&self, services: BoundServices, limit: Duration) -> Result<(), Failure> {
        let shared = &self.runner.shared;
        shared.stderr.set_log(Arc::clone(services.log()));
        let log_level = services.log().effective_level() as u8;
        shared
            .scopes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(0, services);
        {
            let mut live = shared.live();
            live.start_limit = limit;
            live.log_level = log_level;
        }
        let deadline = Instant::now() + limit;
        let (conn, generation) = shared.connection(deadline)?;
        match supervise::Shared::ask(&conn, &Call::Start { log_level }, deadline) {
            Ok(Ok(_)) => {
                shared.live().started = true;
                Ok(())
            }
            Ok(Err(error)) => Err(Failure::Plugin(convert::error_from_wire(error))),
            Err(ConnError::TimedOut) => {
                shared.kill_for_deadline(generation, limit);
                Err(Failure::TimedOut)
            }
            Err(ConnError::Closed(_) | ConnError::Unsent(_)) => {
                Err(Failure::Crashed(shared.crash_of(generation)))
            }
        }
    }

    fn new_instance(&self, user: &User, services: BoundServices) -> Result<Callee, Failure> {
        let shared = &self.runner.shared;
        let handle = self
            .runner
            .next_instance
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        shared
            .scopes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(handle, services);
        // Created lazily by its first call in the current worker: generation 0 is none.
        let instance = WorkerInstance::new(Arc::clone(shared), handle, user.clone(), 0);
        let deadline = Instant::now() + shared.settings.call_timeout;
        let (conn, generation) = shared.connection(deadline)?;
        let call = Call::NewInstance {
            instance: handle,
            user: convert::user_to_wire(user),
        };
        match supervise::Shared::ask(&conn, &call, deadline) {
            Ok(Ok(_)) => {
                instance
                    .generation
                    .store(generation, std::sync::atomic::Ordering::Release);
                Ok(Callee::Worker(instance))
            }
            Ok(Err(error)) => Err(Failure::Plugin(convert::error_from_wire(error))),
            Err(ConnError::TimedOut) => Err(Failure::Crashed(
                shared.kill_for_deadline(generation, shared.settings.call_timeout),
            )),
            Err(ConnError::Closed(_) | ConnError::Unsent(_)) => {
                Err(Failure::Crashed(shared.crash_of(generation)))
            }
        }
    }

    fn stop(&self, limit: Option<Duration>) -> Result<(), Failure> {
        let shared = &self.runner.shared;
        let limit = limit.unwrap_or(shared.settings.call_timeout);
        let up = {
            let live = shared.live();
            match &live.phase {
                Phase::Up(conn) if live.started => Some((Arc::clone(conn), live.generation)),
                _ => None,
            }
        };
        let result = match up {
            None => Ok(()),
            Some((conn, generation)) => {
                match supervise::Shared::ask(&conn, &Call::Stop, Instant::now() + limit) {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(error)) => Err(Failure::Plugin(convert::error_from_wire(error))),
                    Err(ConnError::TimedOut) => Err(Failure::TimedOut),
                    Err(ConnError::Closed(_) | ConnError::Unsent(_)) => {
                        Err(Failure::Crashed(shared.crash_of(generation)))
                    }
                }
            }
        };
        self.runner.end();
        result
    }

    fn module(&self) -> Option<PluginModuleRef> {
        None
    }

    fn health(&self) -> Health {
        let live = self.runner.shared.live();
        match &live.phase {
            Phase::Down { reason } => Health::Restarting {
                reason: reason.clone(),
            },
            Phase::Starting if live.started => Health::Restarting {
                reason: "its worker is starting again after a crash".into(),
            },
            Phase::GaveUp(error) => Health::GaveUp(error.clone()),
            _ => Health::Running,
        }
    }

    fn notes(&self) -> Vec<String> {
        self.runner
            .shared
            .notes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn worker(&self) -> Option<WorkerReport> {
        let live = self.runner.shared.live();
        Some(WorkerReport {
            pid: live.pid,
            restarts: live.restarts,
            confinement: live.confinement.clone(),
        })
    }

    fn isolation(&self) -> &'static str {
        "process"
    }

    fn last_words(&self) -> Vec<String> {
        self.runner.shared.stderr.summary(5)
    }
}

impl Drop for WithCapabilities {
    fn drop(&mut self) {
        let stopped = matches!(self.runner.shared.live().phase, Phase::Stopped);
        if !stopped {
            self.runner.end();
        }
    }
}
