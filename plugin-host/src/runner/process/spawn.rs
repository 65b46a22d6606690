//! Starting one worker: a socket pair and a stderr pipe, the program in a process group of
//! its own, the handshake within the start time limit, and the threads that read its stderr
//! and, between calls, its connection.
//!
//! The child end of the socket pair becomes the worker's standard input, so it is inherited
//! through `dup2` without a listening socket or anything on the file system, and the host
//! spawns with `posix_spawn` (no code runs between fork and exec). After the handshake the
//! host passes the worker the other end of a second socket pair, the doorbell (see
//! [`crate::wire::conn`]).
//! The worker sets its own parent-death signal and limits once running.

use std::{
    collections::VecDeque,
    fs,
    io::{BufRead, BufReader},
    os::{
        fd::{FromRawFd, OwnedFd},
        unix::{net::UnixStream, process::CommandExt},
    },
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, OnceLock},
    thread,
    time::{Duration, Instant},
};

use super::{host_side::HostSide, supervise::Shared};
use crate::{
    crash::Crash,
    error::Refusal,
    logfile::PluginLog,
    wire::{
        conn::Conn,
        frame::{self, ReadBuf, ReadError, HELLO},
        message::Ready,
        PROTOCOL,
    },
    worker::{PARENT_ENV, WORKER_FLAG},
};

/// How long the connection must be quiet before a host thread reads it between calls.
const QUIET: Duration = Duration::from_millis(10);

/// How many lines of a worker's stderr are kept for its crash report.
pub(crate) const TAIL: usize = 20;

/// Lines that say why a process is about to die, kept even when more output follows (a
/// backtrace after `memory allocation of N bytes failed` pushes it out of the tail).
const TELLING: &[&str] = &[
    "memory allocation of",
    "has overflowed its stack",
    "fatal runtime error",
    "panicked at",
];

/// The worker's stderr: every line goes to the plugin's log (once the log is known; lines
/// from before are kept until then) and the last ones are kept for a crash report.
#[derive(Default)]
pub(crate) struct Stderr {
    tail: Mutex<VecDeque<String>>,
    telling: Mutex<Vec<String>>,
    early: Mutex<Vec<String>>,
    log: OnceLock<Arc<PluginLog>>,
}

impl Stderr {
    fn line(&self, line: String) {
        match self.log.get() {
            Some(log) => log.stderr(&line),
            None => {
                let mut early = self.early.lock().unwrap_or_else(|e| e.into_inner());
                if early.len() < 1000 {
                    early.push(line.clone());
                }
            }
        }
        if TELLING.iter().any(|t| line.contains(t)) {
            let mut telling = self.telling.lock().unwrap_or_else(|e| e.into_inner());
            if telling.len() < 4 {
                telling.push(line.clone());
            }
        }
        let mut tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        if tail.len() == TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }

    /// From now on lines go to `log`; the ones seen before are written first.
    pub fn set_log(&self, log: Arc<PluginLog>) {
        if self.log.set(Arc::clone(&log)).is_ok() {
            for line in self
                .early
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .drain(..)
            {
                log.stderr(&line);
            }
        }
    }

    /// The lines that tell why the worker died, then the last `last` lines, oldest first.
    pub fn summary(&self, last: usize) -> Vec<String> {
        let mut lines = self
            .telling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let tail = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        for line in tail.iter().skip(tail.len().saturating_sub(last)) {
            if !lines.contains(line) {
                lines.push(line.clone());
            }
        }
        lines
    }

    /// Forgets what an earlier worker wrote (a new worker starts).
    pub fn clear(&self) {
        self.tail.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.telling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// A started worker, handshake done.
pub(crate) struct Started {
    pub child: Child,
    pub conn: Arc<Conn>,
    pub ready: Ready,
}

/// Kills the worker's whole process group (the worker and anything it started).
pub(crate) fn kill_group(pid: u32) {
    // SAFETY: a plain system call; the group is the worker's own (it leads it).
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
}

/// Starts a worker for `shared`'s plugin and performs the handshake.
pub(crate) fn start(shared: &Arc<Shared>) -> Result<Started, Refusal> {
    let failed = |reason: String| Refusal::WorkerFailed { reason };
    let (host_end, worker_end) =
        UnixStream::pair().map_err(|e| failed(format!("cannot create a socket pair: {e}")))?;
    let (ring, doorbell) =
        UnixStream::pair().map_err(|e| failed(format!("cannot create a socket pair: {e}")))?;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(failed(format!(
            "cannot create a pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: pipe2 just returned these two descriptors, owned by nobody else.
    let (stderr_read, stderr_write) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let stdout_write = stderr_write
        .try_clone()
        .map_err(|e| failed(format!("cannot duplicate the stderr pipe: {e}")))?;

    if let Some(dir) = &shared.hello.data_dir {
        fs::create_dir_all(dir.join("tmp")).map_err(|e| {
            failed(format!(
                "cannot create its data folder {}: {e}",
                dir.display()
            ))
        })?;
    }
    let mut command = Command::new(&shared.program);
    command
        .arg(WORKER_FLAG)
        .stdin(Stdio::from(OwnedFd::from(worker_end)))
        .stdout(Stdio::from(stdout_write))
        .stderr(Stdio::from(stderr_write))
        .env(PARENT_ENV, std::process::id().to_string())
        // Its own process group: a terminal's Ctrl-C goes to the host, which decides, and
        // the host can end the worker together with anything it started.
        .process_group(0);
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // glibc reserves 64 MiB of address space per arena; few arenas keep the
        // address-space limit about what the plugin allocates.
        command.env("MALLOC_ARENA_MAX", "2");
    }
    if let Some(dir) = &shared.hello.data_dir {
        command.current_dir(dir).env("TMPDIR", dir.join("tmp"));
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .map_err(|e| failed(format!("cannot start `{}`: {e}", shared.program.display())))?;
    // The command holds the child's ends of the pipes; without dropping it, the stderr pipe
    // would never reach its end.
    drop(command);
    shared.stderr.clear();
    let stderr = Arc::clone(&shared.stderr);
    let spawned = thread::Builder::new()
        .name("plugin-worker-stderr".into())
        .spawn(move || {
            let reader = BufReader::new(fs::File::from(stderr_read));
            for line in reader.split(b'\n') {
                match line {
                    Ok(line) => stderr.line(String::from_utf8_lossy(&line).trim_end().to_owned()),
                    Err(_) => break,
                }
            }
        });
    if let Err(e) = spawned {
        end(&mut child);
        return Err(failed(format!(
            "cannot start the thread reading its stderr: {e}"
        )));
    }

    let deadline = started + shared.settings.start_timeout;
    let socket = OwnedFd::from(host_end);
    let handshake = (|| {
        let mut out = Vec::new();
        frame::encode(&mut out, HELLO, u64::from(PROTOCOL), &shared.hello)
            .map_err(|e| failed(format!("cannot encode the handshake: {e}")))?;
        use std::os::fd::AsFd;
        frame::send_all(socket.as_fd(), &out)
            .map_err(|e| failed(format!("cannot send the handshake: {e}")))?;
        let mut read = ReadBuf::default();
        match read.next(socket.as_fd(), Some(deadline)) {
            Ok(reply) if reply.kind != HELLO => Err(failed(format!(
                "`{}` is not a plugrack worker (its first message is of kind {})",
                shared.program.display(),
                reply.kind
            ))),
            Ok(reply) if reply.id != u64::from(PROTOCOL) => Err(Refusal::WorkerProtocol {
                program: shared.program.clone(),
                found: reply.id as u32,
                expected: PROTOCOL,
            }),
            Ok(reply) => postcard::from_bytes::<Ready>(&reply.body)
                .map_err(|e| failed(format!("an unreadable handshake: {e}"))),
            Err(ReadError::TimedOut) => Err(Refusal::WorkerStartTimedOut {
                limit_ms: shared.settings.start_timeout.as_millis() as u64,
            }),
            Err(ReadError::Closed(_)) => Err(ended_early(&mut child, shared)),
        }
    })();
    let ready = match handshake {
        Ok(ready) => ready,
        Err(refusal) => {
            end(&mut child);
            return Err(refusal);
        }
    };
    if let Ready::Loaded { .. } = ready {
        use std::os::fd::AsFd;
        if let Err(e) = frame::send_fd(socket.as_fd(), doorbell.as_fd()) {
            end(&mut child);
            return Err(failed(format!("cannot hand the worker its doorbell: {e}")));
        }
    }
    drop(doorbell);
    let conn = Conn::new(
        socket,
        Arc::new(HostSide {
            shared: Arc::downgrade(shared),
        }),
        true,
    );
    conn.ring_on_overlap(OwnedFd::from(ring));
    let idle = Arc::clone(&conn);
    let spawned = thread::Builder::new()
        .name("plugin-worker-idle".into())
        .spawn(move || while idle.read_while_idle(QUIET).is_ok() {});
    if let Err(e) = spawned {
        end(&mut child);
        return Err(failed(format!(
            "cannot start the thread reading its connection: {e}"
        )));
    }
    log::debug!(
        target: "plugrack_host",
        "started worker {} for {} in {:.1} ms",
        child.id(),
        shared.hello.shown_path.display(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(Started { child, conn, ready })
}

/// The worker closed the connection during the handshake: how it ended, in a refusal.
fn ended_early(child: &mut Child, shared: &Shared) -> Refusal {
    let status = wait_at_most(child, Duration::from_secs(2));
    // Give the stderr thread a moment to read the last words.
    thread::sleep(Duration::from_millis(20));
    let tail = shared.stderr.summary(TAIL);
    match status {
        Some(status) => {
            let crash = Crash::from_exit(status, &tail, shared.hello.address_space);
            match crash {
                Crash::Exited { code } => Refusal::WorkerFailed {
                    reason: match tail.last() {
                        Some(last) => format!("it exited with code {code}: {last}"),
                        None => format!("it exited with code {code}"),
                    },
                },
                crash => Refusal::WorkerCrashed {
                    during: "start",
                    crash,
                },
            }
        }
        None => Refusal::WorkerFailed {
            reason: "it closed the connection during the handshake".into(),
        },
    }
}

/// Waits for `child` to end, for at most `limit`.
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let until = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < until => thread::sleep(Duration::from_millis(2)),
            _ => return None,
        }
    }
}

/// Kills and reaps a worker that failed to start.
fn end(child: &mut Child) {
    kill_group(child.id());
    let _ = child.kill();
    let _ = child.wait();
}
