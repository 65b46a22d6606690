//! How the async server makes plugin calls, which are synchronous and may block.
//!
//! A plugin call runs on the thread that makes it, for as long as the plugin takes: a
//! webhook that waits on a slow service would hold a tokio worker and stall every other
//! request on it. The choices, measured by the load benchmark (`docs/server.md`):
//!
//! - [`CallMode::BlockInPlace`] (the default): `tokio::task::block_in_place` tells the
//!   runtime this worker is about to block, so the runtime hands its other tasks to another
//!   thread; the call itself stays on the current thread (no hand-off, no queue).
//! - [`CallMode::SpawnBlocking`]: the call is sent to tokio's blocking pool and awaited.
//!   Always safe, but every call pays a hand-off to another thread and back.
//! - [`CallMode::Inline`]: a plain call on the worker. The cheapest, and only safe for
//!   plugins known to answer quickly.
//!
//! Every call is also timed into the `plugin_call_duration_seconds` histogram.

use std::{str::FromStr, time::Instant};

use crate::{error::ApiError, metrics::Metrics};

/// How plugin calls are made from async handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallMode {
    /// On the worker thread, after telling the runtime it will block.
    #[default]
    BlockInPlace,
    /// On tokio's blocking pool.
    SpawnBlocking,
    /// On the worker thread, as a plain call.
    Inline,
}

impl CallMode {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::BlockInPlace => "block-in-place",
            Self::SpawnBlocking => "spawn-blocking",
            Self::Inline => "inline",
        }
    }
}

impl FromStr for CallMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::BlockInPlace, Self::SpawnBlocking, Self::Inline]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("`{s}` is not a call mode; use block-in-place, spawn-blocking or inline")
            })
    }
}

/// Runs one plugin call `f` (of plugin `plugin`, entry point `operation`) as `mode` says,
/// timing it.
pub async fn run<T: Send + 'static>(
    mode: CallMode,
    metrics: &Metrics,
    plugin: &str,
    operation: &'static str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let started = Instant::now();
    let out = match mode {
        CallMode::Inline => f(),
        CallMode::BlockInPlace => tokio::task::block_in_place(f),
        CallMode::SpawnBlocking => tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ApiError::Internal(format!("a plugin call's thread failed: {e}")))?,
    };
    metrics.observe_call(plugin, operation, started.elapsed());
    Ok(out)
}
