//! What happens, as it happens: the host's plugin events (loaded, refused, reloaded, a
//! reload refused, unloaded, a worker crashed) and the messages plugins send, on one broadcast channel that
//! `/api/events` streams to browsers and that installs wait on.
//!
//! The host publishes on a `std::sync::mpsc` channel; one thread forwards each event, first
//! dropping what the event makes stale (route tables, paused instances).

use std::{
    path::PathBuf,
    sync::{mpsc, Weak},
    thread,
};

use plugrack_host::PluginEvent;
use serde::Serialize;
use tokio::sync::broadcast;
use utoipa::ToSchema;

use crate::{
    db::{MessageRow, UserRow},
    state::AppState,
};

/// One event, as `/api/events` sends it (the SSE event name is `kind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ServerEvent {
    /// A plugin was loaded and is active.
    Loaded {
        /// Its id.
        id: String,
        /// Its file or folder.
        #[schema(value_type = String)]
        source: PathBuf,
    },
    /// A file was refused.
    Refused {
        /// The file or folder.
        #[schema(value_type = String)]
        source: PathBuf,
        /// The refusal (three lines: file, cause, fix).
        message: String,
    },
    /// A new build replaced a running plugin.
    Reloaded {
        /// Its id.
        id: String,
        /// Its file or folder.
        #[schema(value_type = String)]
        source: PathBuf,
    },
    /// A new build was refused and the running plugin kept.
    ReloadRefused {
        /// Its id.
        id: String,
        /// Why.
        message: String,
    },
    /// A plugin was unloaded.
    Unloaded {
        /// Its id.
        id: String,
    },
    /// An out-of-process plugin's worker crashed (it is restarted, or invalid after a crash
    /// loop).
    Crashed {
        /// Its id.
        id: String,
        /// What happened.
        message: String,
    },
    /// A plugin sent a message.
    Message {
        /// The stored message.
        message: MessageRow,
    },
}

impl ServerEvent {
    /// The SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Loaded { .. } => "loaded",
            Self::Refused { .. } => "refused",
            Self::Reloaded { .. } => "reloaded",
            Self::ReloadRefused { .. } => "reload-refused",
            Self::Unloaded { .. } => "unloaded",
            Self::Crashed { .. } => "crashed",
            Self::Message { .. } => "message",
        }
    }

    /// Whether `user` may see it: plugin events are for everyone, a message for its user
    /// (and plugin-wide messages for administrators).
    pub fn visible_to(&self, user: &UserRow) -> bool {
        match self {
            Self::Message { message } => match message.user_id {
                Some(id) => id == user.id,
                None => user.admin,
            },
            _ => true,
        }
    }

    /// The server's form of a host event; `None` for a kind this server does not know yet
    /// (the host's events are `#[non_exhaustive]`).
    fn from_host(event: PluginEvent) -> Option<Self> {
        Some(match event {
            PluginEvent::Loaded { id, source } => Self::Loaded { id, source },
            PluginEvent::Refused { source, message } => Self::Refused { source, message },
            PluginEvent::Reloaded { id, source } => Self::Reloaded { id, source },
            PluginEvent::ReloadRefused { id, message } => Self::ReloadRefused { id, message },
            PluginEvent::Unloaded { id } => Self::Unloaded { id },
            PluginEvent::Crashed { id, message } => Self::Crashed { id, message },
            other => {
                tracing::debug!("host event not forwarded: {other:?}");
                return None;
            }
        })
    }

    /// The plugin whose instances and routes the event makes stale.
    fn stale_plugin(&self) -> Option<&str> {
        match self {
            Self::Loaded { id, .. } | Self::Reloaded { id, .. } | Self::Unloaded { id } => Some(id),
            _ => None,
        }
    }
}

/// The broadcast channel.
pub struct EventHub {
    tx: broadcast::Sender<ServerEvent>,
}

impl Default for EventHub {
    fn default() -> Self {
        // A slow browser that falls this far behind misses events (and is told so).
        Self {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl EventHub {
    /// Sends an event to every subscriber.
    pub fn publish(&self, event: ServerEvent) {
        // No subscriber is not an error.
        let _ = self.tx.send(event);
    }

    /// Subscribes.
    pub fn subscribe(&self) -> broadcast::Receiver<ServerEvent> {
        self.tx.subscribe()
    }

    /// A sender for callbacks that live outside the state (the host's message callback).
    pub fn sender(&self) -> broadcast::Sender<ServerEvent> {
        self.tx.clone()
    }
}

/// Forwards the host's events until the manager goes away. Holds the state weakly, so the
/// forwarder never keeps the manager (and its plugins) alive.
pub fn forward(events: mpsc::Receiver<PluginEvent>, state: Weak<AppState>) -> std::io::Result<()> {
    thread::Builder::new()
        .name("plugin-events".into())
        .spawn(move || {
            for event in events {
                let Some(state) = state.upgrade() else { break };
                let Some(event) = ServerEvent::from_host(event) else {
                    continue;
                };
                if let Some(id) = event.stale_plugin() {
                    state.routes.forget_plugin(id);
                    state.instances.forget_plugin(id);
                }
                tracing::debug!(kind = event.kind(), "{}", describe(&event));
                state.events.publish(event);
            }
        })
        .map(drop)
}

fn describe(event: &ServerEvent) -> String {
    match event {
        ServerEvent::Loaded { id, source } => format!("loaded `{id}` from {}", source.display()),
        ServerEvent::Refused { message, .. } => message.clone(),
        ServerEvent::Reloaded { id, source } => {
            format!("reloaded `{id}` from {}", source.display())
        }
        ServerEvent::ReloadRefused { id, message } => format!("`{id}`: {message}"),
        ServerEvent::Unloaded { id } => format!("unloaded `{id}`"),
        ServerEvent::Crashed { id, message } => format!("`{id}` crashed: {message}"),
        ServerEvent::Message { message } => {
            format!("message from `{}`: {}", message.plugin_id, message.title)
        }
    }
}
