//! Loading a folder's entries: the calling thread runs each entry's checks (reading, hashing
//! or copying the file, its ELF and descriptor section), in order, and hands them to a loader
//! thread, which opens and starts the checked plugins one at a time, running each `on_load`
//! itself. The calling thread then sleeps until the loader is done, waking only when an
//! `on_load` outlives the time limit: it records that plugin as timed out, gives up on the
//! loader (left to finish the hung call on its own, after which it ends without recording
//! anything) and starts another one for the rest of the folder.
//!
//! Why a loader thread: an `on_load` must run where it can be given up on. A single load hands
//! it to a lifecycle worker (`runner::limit`), but for a folder that hand-off cost about 0.05
//! ms per plugin here, a seventh of loading one in place: 0.31 against 0.37-0.40 ms per plugin
//! at 100 plugins in one run (docs/benchmarks.md). The hand-off is dear on both sides: waking
//! a worker, and then every `dlopen` beside a thread that is awake in the same address space
//! (its core must be told of each page mapping that changes). So the thread that loads is the
//! one that can be given up on, and nothing else of the process runs once the checks are done.
//!
//! The checks need nothing of the other plugins, and loads must be one at a time (the loader
//! holds one lock, and a duplicate id is decided by order), so the checks run ahead; the
//! channel is unbounded so that neither thread sleeps on the other once the checks lead.

use std::{
    io,
    path::{Path, PathBuf},
    sync::{mpsc, Arc, Condvar, Mutex, MutexGuard},
    thread,
    time::Instant,
};

use super::{lock_poisoned, start::OnLoadOn, Ahead, Entry, PluginManager};
use crate::{
    discovery::{self, Found, Origin},
    error::{LoadError, Refusal},
    report::{PluginReport, PluginStatus},
    stamp::{self, Stamp},
};

/// The checked entries, in the folder's order, for whichever loader is current.
type Queue = Arc<Mutex<mpsc::Receiver<(Found, Option<Ahead>)>>>;

/// What a folder's loader threads and its calling thread share.
#[derive(Default)]
struct Progress {
    turns: Mutex<Turns>,
    /// Notified when the current loader has finished.
    finished: Condvar,
}

#[derive(Default)]
struct Turns {
    /// The reports of the entries done, in the folder's order.
    reports: Vec<PluginReport>,
    /// The plugin whose `on_load` the current loader is running.
    on_load: Option<OnLoadRunning>,
    /// The number of the loader whose work counts: one given up on has a smaller number.
    loader: u64,
    /// No thread could be started for that loader: the calling thread loads the rest
    /// itself, once every check has been handed over.
    loader_on_caller: bool,
    /// The current loader has finished the folder.
    done: bool,
    /// The current loader panicked (a bug in the manager, not in a plugin).
    panicked: bool,
}

struct OnLoadRunning {
    path: PathBuf,
    tried: Option<Stamp>,
    id: String,
    /// `None` for a time limit too long to count.
    deadline: Option<Instant>,
}

impl OnLoadRunning {
    fn is_overdue(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|deadline| deadline <= now)
    }
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, Turns> {
        self.turns.lock().unwrap_or_else(lock_poisoned)
    }
}

/// Ends a loader: marks the folder done (or the loader panicked) when this loader is still
/// the current one, and wakes the calling thread.
struct LoaderExit<'a> {
    progress: &'a Progress,
    number: u64,
}

impl Drop for LoaderExit<'_> {
    fn drop(&mut self) {
        let mut turns = self.progress.lock();
        if turns.loader == self.number {
            turns.done = true;
            turns.panicked = thread::panicking();
            self.progress.finished.notify_all();
        }
    }
}

impl PluginManager {
    /// Loads or skips every entry of `dir`, in order (see the module documentation).
    pub(super) fn load_folder_entries(&self, dir: &Path, origin: Origin) -> Vec<PluginReport> {
        let found = match discovery::scan(dir) {
            Ok(found) => found,
            Err(e) => {
                let error = LoadError::new(
                    dir,
                    Refusal::Unreadable {
                        reason: e.to_string(),
                    },
                );
                log::warn!(target: "plugrack_host", "{error}");
                return vec![self.push(Entry {
                    tried: None,
                    source: dir.to_owned(),
                    origin,
                    status: PluginStatus::Invalid(error),
                    loaded: None,
                    messages: vec![],
                })];
            }
        };
        if found.len() < 2 {
            return found
                .into_iter()
                .map(|found| self.load_found(found, None, origin))
                .collect();
        }
        let (ahead, checked) = mpsc::channel();
        let queue: Queue = Arc::new(Mutex::new(checked));
        let progress = Arc::new(Progress::default());
        self.start_loader(&queue, &progress, origin);
        for found in found {
            let prechecked = match &found {
                Found::Candidate(path) => {
                    // Taken before anything reads it (see `load_found`).
                    let tried = stamp::of(path);
                    Some((tried, self.precheck(path)))
                }
                Found::Skipped { .. } => None,
            };
            // The receiver lives in `queue`, which this thread holds too.
            let _ = ahead.send((found, prechecked));
            self.give_up_if_overdue(&queue, &progress, origin);
        }
        drop(ahead);
        self.wait_for_loader(&queue, &progress, origin)
    }

    /// Starts the loader numbered `progress`'s current number, on a thread of its own; when
    /// no thread can be started, the calling thread is to be the loader.
    fn start_loader(&self, queue: &Queue, progress: &Arc<Progress>, origin: Origin) {
        let number = progress.lock().loader;
        let started = self.spawn_loader(number, queue, progress, origin);
        if let Err(e) = started {
            log::warn!(
                target: "plugrack_host",
                "cannot start a thread to load plugins ({e}); loading them on the calling thread"
            );
            progress.lock().loader_on_caller = true;
        }
    }

    fn spawn_loader(
        &self,
        number: u64,
        queue: &Queue,
        progress: &Arc<Progress>,
        origin: Origin,
    ) -> io::Result<()> {
        let manager = self.loader_handle();
        let queue = Arc::clone(queue);
        let progress = Arc::clone(progress);
        thread::Builder::new()
            .name("plugin-loader".into())
            .spawn(move || {
                let _exit = LoaderExit {
                    progress: &progress,
                    number,
                };
                manager.load_in_turn(number, &queue, &progress, origin, OnLoadOn::ThisThread);
            })
            .map(drop)
    }

    /// The loader's work: opens and starts each checked entry in turn and records it. Ends
    /// when the entries do, or, without recording anything more, when it comes back from an
    /// `on_load` it was given up on.
    fn load_in_turn(
        &self,
        number: u64,
        queue: &Queue,
        progress: &Progress,
        origin: Origin,
        on: OnLoadOn,
    ) {
        loop {
            let next = queue.lock().unwrap_or_else(lock_poisoned).recv();
            let Ok((found, ahead)) = next else {
                return;
            };
            let path = match found {
                Found::Candidate(path) => path,
                skipped => {
                    let report = self.load_found(skipped, None, origin);
                    progress.lock().reports.push(report);
                    continue;
                }
            };
            let (tried, prechecked) =
                ahead.unwrap_or_else(|| (stamp::of(&path), self.precheck(&path)));
            let opening = prechecked.and_then(|p| self.open_to_start(&path, p, None));
            let report = match opening {
                Err(error) => self.record_load(&path, tried, Err(error), origin),
                Ok(opening) => {
                    progress.lock().on_load = Some(OnLoadRunning {
                        path: path.clone(),
                        tried: tried.clone(),
                        id: opening.id.clone(),
                        deadline: Instant::now().checked_add(self.core.config.lifecycle_timeout),
                    });
                    let started = self.run_on_load(opening, on);
                    {
                        let mut turns = progress.lock();
                        if turns.loader != number {
                            // Given up on: the calling thread recorded the time-out.
                            return;
                        }
                        turns.on_load = None;
                    }
                    let loaded = self.finish_start(&path, started);
                    self.record_load(&path, tried, loaded, origin)
                }
            };
            progress.lock().reports.push(report);
        }
    }

    /// Gives up on the current loader when its `on_load` has outlived the time limit: records
    /// that plugin as timed out and starts another loader for the rest.
    fn give_up_if_overdue(&self, queue: &Queue, progress: &Arc<Progress>, origin: Origin) {
        let overdue = {
            let mut turns = progress.lock();
            let now = Instant::now();
            let Some(overdue) = turns.on_load.take_if(|r| r.is_overdue(now)) else {
                return;
            };
            turns.loader += 1;
            overdue
        };
        let error = LoadError::new(&overdue.path, self.on_load_timed_out()).with_id(&overdue.id);
        let report = self.record_load(&overdue.path, overdue.tried, Err(Box::new(error)), origin);
        progress.lock().reports.push(report);
        self.start_loader(queue, progress, origin);
    }

    /// Sleeps until the current loader has finished the folder, waking at the time limit of
    /// the `on_load` it is running to give up on it if it is still running; returns the
    /// reports in the folder's order.
    fn wait_for_loader(
        &self,
        queue: &Queue,
        progress: &Arc<Progress>,
        origin: Origin,
    ) -> Vec<PluginReport> {
        loop {
            let mut turns = progress.lock();
            if turns.loader_on_caller {
                turns.loader_on_caller = false;
                let number = turns.loader;
                drop(turns);
                // Every check has been handed over: the entries end, so this returns.
                self.load_in_turn(number, queue, progress, origin, OnLoadOn::Worker);
                let mut turns = progress.lock();
                turns.done = true;
                continue;
            }
            if turns.panicked {
                drop(turns);
                panic!("the thread loading a folder's plugins panicked");
            }
            if turns.done {
                return std::mem::take(&mut turns.reports);
            }
            let now = Instant::now();
            let wait = match &turns.on_load {
                Some(running) if running.is_overdue(now) => {
                    drop(turns);
                    self.give_up_if_overdue(queue, progress, origin);
                    continue;
                }
                Some(running) => running.deadline.map(|deadline| deadline - now),
                // A loader that starts an `on_load` after this wait began sets a deadline
                // after this wait ends.
                None => Some(self.core.config.lifecycle_timeout),
            };
            let finished = &progress.finished;
            // A poisoned lock is taken as it is on the next turn.
            match wait {
                Some(wait) => drop(finished.wait_timeout(turns, wait)),
                None => drop(finished.wait(turns)),
            }
        }
    }
}
