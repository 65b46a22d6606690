//! Where each plugin runs, as the host application chooses it: in the host's process (the
//! default: a call is a vtable call, nanoseconds) or in a worker process of its own (a crash
//! is the worker's, unloading frees the memory, calls cost a round trip between processes).
//! See `docs/isolation.md` for when to choose which.
//!
//! ```no_run
//! use std::time::Duration;
//! use plugrack_host::{HostConfig, Isolation, WorkerSettings};
//!
//! let config = HostConfig::new("1.0.0".parse()?)
//!     .isolation(Isolation::process())                          // every plugin in a worker
//!     .plugin_isolation("trusted-fast", Isolation::InProcess)   // except this one
//!     .plugin_isolation(
//!         "hungry",
//!         Isolation::Process(
//!             WorkerSettings::default()
//!                 .call_timeout(Duration::from_secs(5))
//!                 .address_space(Some(512 << 20)),
//!         ),
//!     );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

/// Where a plugin runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Isolation {
    /// In the host's process (the default).
    #[default]
    InProcess,
    /// In a worker process of its own, with these limits.
    Process(WorkerSettings),
}

impl Isolation {
    /// A worker process with the default [`WorkerSettings`].
    pub fn process() -> Self {
        Self::Process(WorkerSettings::default())
    }

    /// `in-process` or `process`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::InProcess => "in-process",
            Self::Process(_) => "process",
        }
    }
}

/// The limits of one plugin's worker process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerSettings {
    /// How long one call may take before the worker is killed and restarted (default 30 s).
    pub call_timeout: Duration,
    /// How long starting a worker may take: spawn, handshake, opening the library and its
    /// checks, before `on_load` (default 5 s; `on_load` has the lifecycle time limit).
    pub start_timeout: Duration,
    /// The worker's address-space limit (`RLIMIT_AS`) in bytes; `None` for none
    /// (default 4 GiB). An allocation past it fails and the worker ends (`out of memory`).
    pub address_space: Option<u64>,
    /// Whether the worker confines itself (`no_new_privs` and, where the kernel has it, a
    /// Landlock rule set: read its plugin file and system libraries, write only its data
    /// folder, no signals to processes outside). Default on.
    pub confine: bool,
    /// When a crashed worker is started again, and when the host gives up.
    pub restart: RestartPolicy,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_secs(30),
            start_timeout: Duration::from_secs(5),
            address_space: Some(4 << 30),
            confine: true,
            restart: RestartPolicy::default(),
        }
    }
}

impl WorkerSettings {
    /// See [`WorkerSettings::call_timeout`].
    pub fn call_timeout(mut self, limit: Duration) -> Self {
        self.call_timeout = limit;
        self
    }

    /// See [`WorkerSettings::start_timeout`].
    pub fn start_timeout(mut self, limit: Duration) -> Self {
        self.start_timeout = limit;
        self
    }

    /// See [`WorkerSettings::address_space`].
    pub fn address_space(mut self, bytes: Option<u64>) -> Self {
        self.address_space = bytes;
        self
    }

    /// See [`WorkerSettings::confine`].
    pub fn confine(mut self, on: bool) -> Self {
        self.confine = on;
        self
    }

    /// See [`WorkerSettings::restart`].
    pub fn restart(mut self, policy: RestartPolicy) -> Self {
        self.restart = policy;
        self
    }
}

/// Restarts after a crash: the first after `first_delay`, each next one after twice the
/// previous delay (at most `max_delay`); `max_crashes` crashes within `window` leave the
/// plugin invalid instead (a crash loop).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RestartPolicy {
    /// The delay before the first restart (default 100 ms).
    pub first_delay: Duration,
    /// The longest delay (default 10 s).
    pub max_delay: Duration,
    /// How many crashes within `window` make a crash loop (default 5).
    pub max_crashes: u32,
    /// The window (default 60 s).
    pub window: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            max_crashes: 5,
            window: Duration::from_secs(60),
        }
    }
}

impl RestartPolicy {
    /// A policy with these delays and this crash-loop rule.
    pub fn new(
        first_delay: Duration,
        max_delay: Duration,
        max_crashes: u32,
        window: Duration,
    ) -> Self {
        Self {
            first_delay,
            max_delay,
            max_crashes,
            window,
        }
    }

    /// The delay before restart number `n` (1-based).
    pub fn delay(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(30));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_delays_double_up_to_the_maximum() {
        let policy = RestartPolicy::new(
            Duration::from_millis(100),
            Duration::from_millis(700),
            5,
            Duration::from_secs(60),
        );
        let delays: Vec<u128> = (1..=5).map(|n| policy.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 700, 700]);
    }
}
