//! Running a lifecycle entry point (`on_load`, `on_unload`) with a time limit.
//!
//! The entry point runs on another thread, so that the caller can give up on one that hangs:
//! a thread cannot be stopped, only left to finish on its own. Those threads are kept and
//! reused. A fresh thread per call cost about 45 µs of CPU time per plugin loaded and, on a
//! busy machine, several times that in waiting for the new thread to be first scheduled
//! (see docs/benchmarks.md); an idle worker is woken instead. A worker still busy with a
//! call that was given up on is not idle, so a hung plugin never delays the next one: a new
//! worker is started then. Workers idle for [`IDLE_EXIT`] end.

use std::{
    sync::{mpsc, Mutex},
    thread,
    time::Duration,
};

/// A worker with nothing to do for this long ends.
const IDLE_EXIT: Duration = Duration::from_secs(30);

/// A call to run; it returns the delivery of its answer, which the worker makes only after
/// it is idle again, so that a caller that loads plugin after plugin finds it idle.
type Job = Box<dyn FnOnce() -> Delivery + Send>;
type Delivery = Box<dyn FnOnce() + Send>;

/// The idle workers, each waiting on its own channel; the most recently idle last.
static IDLE: Mutex<Vec<mpsc::Sender<Job>>> = Mutex::new(Vec::new());

/// Runs `f` on a lifecycle worker and waits at most `limit` for it. `None` when it did not
/// finish in time; it is then left to finish on its own.
pub(crate) fn run_with_limit<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (reply, answer) = mpsc::sync_channel(1);
    let mut job: Job = Box::new(move || {
        let answer = f();
        Box::new(move || {
            // The caller may have given up and gone: then nobody wants the answer.
            let _ = reply.send(answer);
        })
    });
    loop {
        let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let Some(worker) = idle else {
            if let Err(e) = start_worker(job) {
                log::warn!(target: "plugrack_host", "cannot start a lifecycle thread: {e}");
                return None;
            }
            break;
        };
        match worker.send(job) {
            Ok(()) => break,
            // That worker ended (idle too long): try the next one.
            Err(mpsc::SendError(returned)) => job = returned,
        }
    }
    answer.recv_timeout(limit).ok()
}

fn start_worker(first: Job) -> std::io::Result<()> {
    let (sender, jobs) = mpsc::channel::<Job>();
    thread::Builder::new()
        .name("plugin-lifecycle".into())
        .spawn(move || {
            let mut job = first;
            loop {
                let deliver = job();
                IDLE.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(sender.clone());
                deliver();
                job = match jobs.recv_timeout(IDLE_EXIT) {
                    Ok(job) => job,
                    // Its sender in the idle list now fails, and is dropped by the next caller.
                    Err(_) => return,
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
    fn answers_reuse_the_worker_and_a_hung_call_does_not_block_the_next() {
        let name = || thread::current().name().map(str::to_owned);
        assert_eq!(
            run_with_limit(Duration::from_secs(5), name),
            Some(Some("plugin-lifecycle".to_owned()))
        );
        let first = run_with_limit(Duration::from_secs(5), || thread::current().id());
        let second = run_with_limit(Duration::from_secs(5), || thread::current().id());
        assert!(first.is_some());
        assert_eq!(first, second, "the idle worker runs the next call");

        // A call that hangs past its limit is given up on; the next call runs at once on
        // another worker.
        let release = Arc::new(std::sync::Barrier::new(2));
        let hung = Arc::clone(&release);
        let started = Instant::now();
        assert_eq!(
            run_with_limit(Duration::from_millis(50), move || {
                hung.wait();
            }),
            None
        );
        assert_eq!(run_with_limit(Duration::from_secs(5), || 7), Some(7));
        assert!(started.elapsed() < Duration::from_secs(5));
        release.wait();
    }
}
