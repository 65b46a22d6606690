//! Running a lifecycle entry point (`on_load`, `on_unload`) with a time limit.
//!
//! The entry point runs on another thread, so that the caller can give up on one that hangs:
//! a thread cannot be stopped, only left to finish on its own. Those threads are kept and
//! reused. A fresh thread per call cost about 45 µs of CPU time per plugin loaded and, on a
//! busy machine, several times that in waiting for the new thread to be first scheduled
//! (see docs/benchmarks.md); an idle worker is woken instead. A worker still busy with a
//! call that was given up on is not idle, so a hung plugin never delays the next one: a new
//! worker is started then. Workers idle for [`IDLE_EXIT`] end.
//!
//! Waking a sleeping thread on another core is the dear part of a hand-off: an
//! inter-processor interrupt to a halted core (on a virtual machine, an exit to the
//! hypervisor), once to start the call and once to answer it. Measured here a round trip
//! cost 55-85 µs of CPU time and up to 250 µs of waiting, more than opening the plugin's
//! library (docs/benchmarks.md). So an idle worker is moved to its caller's core before it
//! is woken ([`affinity`]): the caller sleeps on the answer, the worker runs in its place on
//! a core that is awake, and its answer wakes the caller where it is (about 17 µs of CPU
//! time). The worker gives itself its own cores back as soon as it runs, before the plugin's
//! code: it stays where it woke unless the scheduler moves it, while threads a plugin starts
//! in `on_load` are not confined to one core, and a hung plugin spins wherever the scheduler
//! likes. (A call given up on before its worker ran gives them back from the caller's side.)

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        mpsc, Mutex,
    },
    thread,
    time::Duration,
};

use super::affinity;

/// A worker with nothing to do for this long ends.
const IDLE_EXIT: Duration = Duration::from_secs(30);

/// A call to run; it returns the delivery of its answer, which the worker makes only after
/// it is idle again, so that a caller that loads plugin after plugin finds it idle.
type Job = Box<dyn FnOnce() -> Delivery + Send>;
type Delivery = Box<dyn FnOnce() + Send>;

/// The idle workers, each waiting on its own channel; the most recently idle last. A worker
/// in this list is alive: one that has waited [`IDLE_EXIT`] ends only after it has taken
/// itself out of it (under this lock), and one already taken by a caller waits for its job.
static IDLE: Mutex<Vec<Idle>> = Mutex::new(Vec::new());

/// An idle worker: where to send its next job, its thread, and its number (unique in the
/// process), by which it finds its own entry.
struct Idle {
    jobs: mpsc::Sender<Job>,
    thread: affinity::Thread,
    number: u64,
}

/// The next worker's number.
static NEXT_NUMBER: AtomicU64 = AtomicU64::new(0);

/// Runs `f` on a lifecycle worker and waits at most `limit` for it. `None` when it did not
/// finish in time; it is then left to finish on its own.
pub(crate) fn run_with_limit<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (reply, answer) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let answer = f();
        Box::new(move || {
            // The caller may have given up and gone: then nobody wants the answer.
            let _ = reply.send(answer);
        })
    });
    let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    // A new worker starts where the system puts it: its thread is known only once it runs.
    let mut moved = None;
    let job = match idle {
        Some(worker) => {
            worker.thread.move_to(affinity::current_core());
            // It has not ended (it waits for the job of whoever took it from the list); were
            // it gone, a new worker takes the job.
            match worker.jobs.send(job) {
                Ok(()) => {
                    moved = Some(worker.thread);
                    None
                }
                Err(mpsc::SendError(job)) => Some(job),
            }
        }
        None => Some(job),
    };
    if let Some(job) = job {
        if let Err(e) = start_worker(job) {
            log::warn!(target: "plugrack_host", "cannot start a lifecycle thread: {e}");
            return None;
        }
    }
    let answer = answer.recv_timeout(limit).ok();
    if answer.is_none() {
        if let Some(thread) = moved {
            thread.restore();
        }
    }
    answer
}

fn start_worker(first: Job) -> std::io::Result<()> {
    let (sender, jobs) = mpsc::channel::<Job>();
    thread::Builder::new()
        .name("plugin-lifecycle".into())
        .spawn(move || {
            let thread = affinity::Thread::current();
            let number = NEXT_NUMBER.fetch_add(1, Ordering::Relaxed);
            let mut job = first;
            loop {
                // Moved to its caller's core to be woken there; the plugin's code, and any
                // thread it starts, may run on the worker's own cores.
                thread.restore();
                let deliver = job();
                IDLE.lock().unwrap_or_else(|e| e.into_inner()).push(Idle {
                    jobs: sender.clone(),
                    thread,
                    number,
                });
                deliver();
                job = loop {
                    // The sender in its own list entry keeps the channel open.
                    if let Ok(job) = jobs.recv_timeout(IDLE_EXIT) {
                        break job;
                    }
                    let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
                    match idle.iter().position(|w| w.number == number) {
                        Some(at) => {
                            idle.remove(at);
                            return;
                        }
                        // A caller has taken it: that caller's job is on its way.
                        None => continue,
                    }
                };
            }
        })
        .map(drop)
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Instant};

    use super::*;

    #[test]
    fn answers_reuse_the_worker_on_the_callers_core_and_a_hung_call_does_not_block_the_next() {
        let name = || thread::current().name().map(str::to_owned);
        assert_eq!(
            run_with_limit(Duration::from_secs(5), name),
            Some(Some("plugin-lifecycle".to_owned()))
        );
        let first = run_with_limit(Duration::from_secs(5), || thread::current().id());
        let second = run_with_limit(Duration::from_secs(5), || thread::current().id());
        assert!(first.is_some());
        assert_eq!(first, second, "the idle worker runs the next call");

        // The caller held on one core: the worker wakes there, and the job (with any thread
        // it starts) may run on every core the worker had.
        let all_cores = allowed_cores();
        let caller = affinity::Thread::current();
        let core = affinity::current_core();
        caller.move_to(core);
        let (ran_on, cores, spawned_cores) = run_with_limit(Duration::from_secs(5), || {
            let spawned = thread::spawn(allowed_cores).join().unwrap();
            (affinity::current_core(), allowed_cores(), spawned)
        })
        .unwrap();
        caller.restore();
        if cfg!(target_os = "linux") {
            assert_eq!(ran_on, core, "the worker runs on its caller's core");
        }
        assert_eq!(
            cores, all_cores,
            "the plugin's code is not held on one core"
        );
        assert_eq!(spawned_cores, all_cores, "nor is a thread it starts");

        // A call that hangs past its limit is given up on, and its worker gets its own cores
        // back; the next call runs at once on another worker.
        let release = Arc::new(std::sync::Barrier::new(2));
        let hung = Arc::clone(&release);
        let (report, reported) = mpsc::channel();
        let started = Instant::now();
        assert_eq!(
            run_with_limit(Duration::from_millis(50), move || {
                hung.wait();
                report.send(allowed_cores()).unwrap();
            }),
            None
        );
        assert_eq!(run_with_limit(Duration::from_secs(5), || 7), Some(7));
        assert!(started.elapsed() < Duration::from_secs(5));
        release.wait();
        let cores_after = reported.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(
            cores_after,
            allowed_cores(),
            "a worker given up on may run on the cores it started with"
        );
    }

    /// How many cores the calling thread may run on.
    fn allowed_cores() -> usize {
        #[cfg(target_os = "linux")]
        // SAFETY: a valid set to write, of its own size.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set);
            libc::CPU_COUNT(&set) as usize
        }
        #[cfg(not(target_os = "linux"))]
        1
    }
}
