//! One plugin's worker over its whole life: the supervisor thread starts it, reaps it when
//! it ends (always: no zombies), tells a crash from a requested stop, and restarts it with
//! exponential backoff until a crash loop makes it give up.
//!
//! The supervisor thread is also the worker's parent thread, and lives exactly as long as
//! it: the worker's parent-death signal (`PR_SET_PDEATHSIG`) fires when the thread that
//! spawned it ends, so spawning from a short-lived thread would kill the worker with it.

use std::{
    collections::{HashMap, VecDeque},
    path::PathBuf,
    process::Child,
    sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock},
    time::{Duration, Instant},
};

use super::spawn::{self, kill_group, Started, Stderr};
use crate::{
    crash::Crash,
    error::{LoadError, Refusal},
    events::{PluginEvent, Subscribers},
    isolation::WorkerSettings,
    runner::PrivateCopy,
    services::BoundServices,
    wire::{
        conn::{Conn, ConnError},
        message::{Answer, Call, Hello, Ready},
    },
};

/// Where the worker is in its life.
pub(crate) enum Phase {
    /// Being started (the first time, or again after a crash).
    Starting,
    /// Running, reachable over this connection.
    Up(Arc<Conn>),
    /// Crashed; restarted after a delay.
    Down { reason: String },
    /// Crashed too often; not restarted.
    GaveUp(LoadError),
    /// Ended before the plugin ever started (a failed `on_load`): nothing to restart.
    Ended(Crash),
    /// Stopped by the host.
    Stopped,
}

/// What changes over the worker's life, under one lock.
pub(crate) struct Live {
    pub phase: Phase,
    /// Counts workers started, so an instance can tell that its worker was replaced.
    pub generation: u64,
    pub pid: Option<u32>,
    /// Set once `on_load` succeeded: from then on a crash is restarted.
    pub started: bool,
    pub stopping: bool,
    /// Why the host killed the current worker, when it did (a missed deadline).
    pub killed_for: Option<Crash>,
    /// The last crash, for calls that were cut off by it.
    pub last_crash: Option<(u64, Crash)>,
    pub crashes: VecDeque<Instant>,
    pub restarts: u32,
    /// `on_load`'s limit and the plugin's log level, for starting again.
    pub start_limit: Duration,
    pub log_level: u8,
    pub confinement: String,
}

/// Everything about one plugin's worker that outlives a single worker process.
pub(crate) struct Shared {
    pub program: PathBuf,
    pub hello: Hello,
    /// The private copy each worker opens; removed with the last reference.
    pub _copy: PrivateCopy,
    pub settings: WorkerSettings,
    pub subscribers: Arc<Subscribers>,
    pub id: OnceLock<String>,
    pub live: Mutex<Live>,
    pub changed: Condvar,
    /// The services of each scope: 0 the plugin as a whole, others one instance each.
    pub scopes: RwLock<HashMap<u64, BoundServices>>,
    pub stderr: Arc<Stderr>,
    pub notes: Mutex<Vec<String>>,
}

fn unpoison<T>(e: std::sync::PoisonError<T>) -> T {
    e.into_inner()
}

impl Shared {
    pub fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(unpoison)
    }

    pub fn scope(&self, scope: u64) -> Option<BoundServices> {
        self.scopes
            .read()
            .unwrap_or_else(unpoison)
            .get(&scope)
            .cloned()
    }

    fn id(&self) -> String {
        self.id
            .get()
            .cloned()
            .unwrap_or_else(|| self.hello.shown_path.display().to_string())
    }

    fn note(&self, text: String) {
        let mut notes = self.notes.lock().unwrap_or_else(unpoison);
        notes.push(text);
        let excess = notes.len().saturating_sub(50);
        notes.drain(..excess);
    }

    /// The connection to the running worker and its generation, waiting (until `deadline`)
    /// while a crashed worker is being restarted.
    pub fn connection(
        &self,
        deadline: Instant,
    ) -> Result<(Arc<Conn>, u64), crate::runner::Failure> {
        use crate::runner::Failure;
        let mut live = self.live();
        loop {
            match &live.phase {
                Phase::Up(conn) => return Ok((Arc::clone(conn), live.generation)),
                Phase::GaveUp(error) => {
                    return Err(Failure::Unavailable(error.refusal.to_string()))
                }
                Phase::Ended(crash) => {
                    return Err(Failure::Unavailable(format!("its worker ended: {crash}")))
                }
                Phase::Stopped => return Err(Failure::Unavailable("it was unloaded".into())),
                Phase::Starting | Phase::Down { .. } => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Failure::Unavailable(
                            "its worker is being restarted after a crash".into(),
                        ));
                    }
                    live = self
                        .changed
                        .wait_timeout(live, left)
                        .unwrap_or_else(unpoison)
                        .0;
                }
            }
        }
    }

    /// Kills the worker of `generation` because a call missed its deadline. Its connection
    /// is closed at once, so no other call is sent to the dying worker: they wait for the
    /// next one.
    pub fn kill_for_deadline(&self, generation: u64, limit: Duration) -> Crash {
        let crash = Crash::deadline(limit);
        let mut live = self.live();
        if live.generation == generation {
            if let Phase::Up(conn) = &live.phase {
                conn.close("the worker is being killed: a call missed its deadline");
                if live.killed_for.is_none() {
                    live.killed_for = Some(crash.clone());
                }
                if let Some(pid) = live.pid {
                    kill_group(pid);
                }
                live.phase = Phase::Down {
                    reason: format!("the worker {crash}; restarting{}", self.last_stderr()),
                };
            }
        }
        drop(live);
        self.changed.notify_all();
        crash
    }

    /// Waits (until `deadline`) until the worker of `generation` is no longer the current
    /// one: a call that found it gone waits for its successor.
    pub fn wait_replaced(&self, generation: u64, deadline: Instant) {
        let mut live = self.live();
        while live.generation == generation && matches!(live.phase, Phase::Up(_)) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            live = self
                .changed
                .wait_timeout(live, left)
                .unwrap_or_else(unpoison)
                .0;
        }
    }

    /// How the worker of `generation` ended, waiting a little for the supervisor to reap it
    /// (the connection breaks a moment before the process is gone).
    pub fn crash_of(&self, generation: u64) -> Crash {
        let until = Instant::now() + Duration::from_secs(3);
        let mut live = self.live();
        loop {
            if let Some((g, crash)) = &live.last_crash {
                if *g == generation {
                    return crash.clone();
                }
            }
            if live.stopping {
                return Crash::Lost {
                    reason: "the plugin was unloaded".into(),
                };
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Crash::Lost {
                    reason: "the connection broke".into(),
                };
            }
            live = self
                .changed
                .wait_timeout(live, left)
                .unwrap_or_else(unpoison)
                .0;
        }
    }

    /// Sends `call` to the running worker and decodes the answer.
    pub fn ask(conn: &Arc<Conn>, call: &Call, deadline: Instant) -> Result<Answer, ConnError> {
        let body = conn.call(call, Some(deadline))?;
        postcard::from_bytes::<Answer>(&body)
            .map_err(|e| ConnError::Closed(format!("an unreadable answer: {e}")))
    }

    /// The worker's last words, as a report shows them.
    fn last_stderr(&self) -> String {
        let shown = self.stderr.summary(5);
        if shown.is_empty() {
            String::new()
        } else {
            format!("\n  last stderr: {}", shown.join("\n               "))
        }
    }

    /// Records a crash of a plugin that had started: schedules a restart (returns the delay)
    /// or gives up after a crash loop (`None`).
    fn crashed(&self, generation: u64, crash: Crash) -> Option<Duration> {
        let stderr = self.last_stderr();
        let policy = &self.settings.restart;
        let mut live = self.live();
        live.last_crash = Some((generation, crash.clone()));
        let now = Instant::now();
        live.crashes.push_back(now);
        while live
            .crashes
            .front()
            .is_some_and(|t| now.duration_since(*t) > policy.window)
        {
            live.crashes.pop_front();
        }
        let count = live.crashes.len() as u32;
        let (message, delay) = if count >= policy.max_crashes {
            let error = LoadError::new(
                &self.hello.shown_path,
                Refusal::CrashLoop {
                    crashes: count,
                    window_s: policy.window.as_secs(),
                    last: crash.clone(),
                },
            )
            .with_id(self.id());
            let message = format!("{}{stderr}", error.refusal);
            live.phase = Phase::GaveUp(error);
            (message, None)
        } else {
            let delay = policy.delay(count);
            let message = format!(
                "the worker {crash}; restarting in {} ms{stderr}",
                delay.as_millis()
            );
            live.phase = Phase::Down {
                reason: message.clone(),
            };
            (message, Some(delay))
        };
        drop(live);
        self.changed.notify_all();
        let id = self.id();
        log::warn!(target: "plugrack_host", "plugin `{id}`: {message}");
        self.note(message.clone());
        self.subscribers
            .publish(PluginEvent::Crashed { id, message });
        delay
    }

    /// Waits out a restart delay; false when the plugin is being stopped meanwhile.
    fn backoff(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        let mut live = self.live();
        loop {
            if live.stopping {
                return false;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                live.phase = Phase::Starting;
                return true;
            }
            live = self
                .changed
                .wait_timeout(live, left)
                .unwrap_or_else(unpoison)
                .0;
        }
    }
}

/// The supervisor thread: see the module documentation. The first start's outcome goes to
/// `first`; later starts are restarts.
pub(crate) fn run(shared: Arc<Shared>, first: mpsc::Sender<Result<Ready, Refusal>>) {
    let mut first = Some(first);
    loop {
        let Started {
            mut child,
            conn,
            ready,
        } = match spawn::start(&shared) {
            Ok(started) => started,
            Err(refusal) => {
                if let Some(first) = first.take() {
                    shared.live().phase = Phase::Ended(Crash::Lost {
                        reason: refusal.to_string(),
                    });
                    shared.changed.notify_all();
                    let _ = first.send(Err(refusal));
                    return;
                }
                let generation = shared.live().generation;
                let crash = Crash::Lost {
                    reason: format!("restarting failed: {refusal}"),
                };
                match shared.crashed(generation, crash) {
                    Some(delay) if shared.backoff(delay) => continue,
                    _ => return finish(&shared),
                }
            }
        };
        let generation = {
            let mut live = shared.live();
            live.generation += 1;
            live.pid = Some(child.id());
            live.killed_for = None;
            if let Ready::Loaded { confinement, .. } = &ready {
                live.confinement = confinement.clone();
            }
            live.generation
        };
        match first.take() {
            Some(first) => {
                shared.live().phase = Phase::Up(Arc::clone(&conn));
                shared.changed.notify_all();
                if first.send(Ok(ready)).is_err() {
                    // Nobody waits any more (the host gave up on the start): end the worker.
                    shared.live().stopping = true;
                    kill_group(child.id());
                }
            }
            None => restart_plugin(&shared, &conn, &mut child),
        }
        let status = child.wait();
        conn.close("the worker exited");
        // Anything the worker started ends with it.
        kill_group(child.id());
        let mut live = shared.live();
        live.pid = None;
        if live.stopping {
            live.phase = Phase::Stopped;
            drop(live);
            shared.changed.notify_all();
            return;
        }
        // Let the stderr thread read the worker's last words.
        drop(live);
        std::thread::sleep(Duration::from_millis(20));
        let mut live = shared.live();
        let crash = match (live.killed_for.take(), status) {
            (Some(crash), _) => crash,
            (None, Ok(status)) => Crash::from_exit(
                status,
                &shared.stderr.summary(spawn::TAIL),
                shared.hello.address_space,
            ),
            (None, Err(e)) => Crash::Lost {
                reason: format!("cannot wait for the worker: {e}"),
            },
        };
        if !live.started {
            live.last_crash = Some((generation, crash.clone()));
            live.phase = Phase::Ended(crash);
            drop(live);
            shared.changed.notify_all();
            return;
        }
        drop(live);
        match shared.crashed(generation, crash) {
            Some(delay) if shared.backoff(delay) => continue,
            _ => return finish(&shared),
        }
    }
}

/// The supervisor ends without a worker: wake whoever waits.
fn finish(shared: &Shared) {
    let mut live = shared.live();
    if live.stopping {
        live.phase = Phase::Stopped;
    }
    drop(live);
    shared.changed.notify_all();
}

/// Starts the plugin again in a restarted worker (`on_load` with the plugin's services),
/// then lets calls in; the instances are created again by their next call.
fn restart_plugin(shared: &Shared, conn: &Arc<Conn>, child: &mut Child) {
    let (limit, log_level) = {
        let live = shared.live();
        (live.start_limit, live.log_level)
    };
    let answer = Shared::ask(conn, &Call::Start { log_level }, Instant::now() + limit);
    match answer {
        Ok(Ok(_)) => {
            let mut live = shared.live();
            live.restarts += 1;
            live.phase = Phase::Up(Arc::clone(conn));
            drop(live);
            shared.changed.notify_all();
            shared.note(format!("the worker was restarted (pid {})", child.id()));
        }
        failed => {
            let why = match &failed {
                Ok(Err(error)) => format!("`on_load` failed again: {}", error.message),
                Err(ConnError::TimedOut) => {
                    format!("`on_load` did not return within {} ms", limit.as_millis())
                }
                _ => "it crashed in `on_load`".into(),
            };
            log::warn!(target: "plugrack_host", "plugin `{}`: restarting: {why}", shared.id());
            if let Err(ConnError::TimedOut) | Ok(Err(_)) = failed {
                let mut live = shared.live();
                live.killed_for = Some(Crash::Lost { reason: why });
                drop(live);
                kill_group(child.id());
            }
        }
    }
}
