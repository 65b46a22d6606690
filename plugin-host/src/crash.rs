//! How a worker process ended when nobody asked it to: the signal, the exit code, the
//! deadline it missed, or what its last words on stderr say (out of memory, stack overflow).

use std::{fmt, time::Duration};

/// How a plugin's worker process crashed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Crash {
    /// Killed by a signal (a segfault is `SIGSEGV`, an `abort` is `SIGABRT`).
    Signal {
        /// The signal number.
        signal: i32,
    },
    /// It exited by itself (the plugin called `exit`).
    Exited {
        /// The exit code.
        code: i32,
    },
    /// A call did not return within the call deadline; the host killed the worker.
    DeadlineExceeded {
        /// The deadline, in milliseconds.
        limit_ms: u64,
    },
    /// An allocation failed at the worker's address-space limit and the worker aborted.
    OutOfMemory {
        /// The limit, in bytes, when one was set.
        limit_bytes: Option<u64>,
    },
    /// A thread overflowed its stack.
    StackOverflow,
    /// The connection broke and the worker's end could not be told.
    Lost {
        /// What was seen.
        reason: String,
    },
}

impl Crash {
    /// Describes an ended worker from its wait status and the last lines of its stderr.
    pub(crate) fn from_exit(
        status: std::process::ExitStatus,
        stderr_tail: &[String],
        limit_bytes: Option<u64>,
    ) -> Self {
        use std::os::unix::process::ExitStatusExt;
        let said = |needle: &str| stderr_tail.iter().any(|line| line.contains(needle));
        if said("has overflowed its stack") {
            return Self::StackOverflow;
        }
        if said("memory allocation of") && said("failed") {
            return Self::OutOfMemory { limit_bytes };
        }
        match (status.signal(), status.code()) {
            (Some(signal), _) => Self::Signal { signal },
            (None, Some(code)) => Self::Exited { code },
            (None, None) => Self::Lost {
                reason: format!("the worker ended with status {status}"),
            },
        }
    }

    /// A deadline crash.
    pub(crate) fn deadline(limit: Duration) -> Self {
        Self::DeadlineExceeded {
            limit_ms: limit.as_millis() as u64,
        }
    }
}

/// The conventional name of a signal.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGSYS => "SIGSYS",
        _ => "a signal",
    }
}

impl fmt::Display for Crash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signal { signal } => {
                write!(f, "killed by signal {signal} ({})", signal_name(*signal))
            }
            Self::Exited { code } => write!(f, "exited with code {code}"),
            Self::DeadlineExceeded { limit_ms } => {
                write!(
                    f,
                    "did not answer within {limit_ms} ms, so the worker was killed"
                )
            }
            Self::OutOfMemory {
                limit_bytes: Some(limit),
            } => write!(
                f,
                "ran out of memory at its address-space limit of {} MiB",
                limit >> 20
            ),
            Self::OutOfMemory { limit_bytes: None } => f.write_str("ran out of memory"),
            Self::StackOverflow => f.write_str("overflowed its stack"),
            Self::Lost { reason } => write!(f, "the worker was lost: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use super::*;

    #[test]
    fn statuses_and_last_words_name_the_crash() {
        let segv = ExitStatus::from_raw(libc::SIGSEGV);
        assert_eq!(
            Crash::from_exit(segv, &[], None).to_string(),
            "killed by signal 11 (SIGSEGV)"
        );
        let exit3 = ExitStatus::from_raw(3 << 8);
        assert_eq!(
            Crash::from_exit(exit3, &[], None),
            Crash::Exited { code: 3 }
        );
        let abrt = ExitStatus::from_raw(libc::SIGABRT);
        let oom = ["memory allocation of 1073741824 bytes failed".to_owned()];
        assert_eq!(
            Crash::from_exit(abrt, &oom, Some(512 << 20)).to_string(),
            "ran out of memory at its address-space limit of 512 MiB"
        );
        let overflow = ["thread 'w' has overflowed its stack".to_owned()];
        assert_eq!(
            Crash::from_exit(abrt, &overflow, None),
            Crash::StackOverflow
        );
    }
}
