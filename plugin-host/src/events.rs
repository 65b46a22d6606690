//! Events a host application can subscribe to, and messages plugins send.

use std::{
    path::PathBuf,
    sync::{mpsc, Mutex},
};

use serde::Serialize;

/// A message a plugin sent through the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageEvent {
    /// The sending plugin.
    pub plugin_id: String,
    /// The user whose instance sent it; `None` for the plugin as a whole.
    pub user_id: Option<u64>,
    /// Title.
    pub title: String,
    /// Body.
    pub message: String,
    /// Priority.
    pub priority: i32,
    /// Extra data as JSON text, or empty.
    pub extras: String,
}

/// Something that happened to a plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PluginEvent {
    /// A plugin was loaded and is active.
    Loaded {
        /// Its id.
        id: String,
        /// Its file or folder.
        source: PathBuf,
    },
    /// A file was refused; `message` is the short rendered error.
    Refused {
        /// Its file or folder.
        source: PathBuf,
        /// The error, as shown to people.
        message: String,
    },
    /// A new build replaced a running plugin.
    Reloaded {
        /// Its id.
        id: String,
        /// Its file or folder.
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
    /// An out-of-process plugin's worker crashed; `message` says how and whether it is
    /// restarted or given up (a crash loop leaves the plugin invalid).
    Crashed {
        /// Its id.
        id: String,
        /// What happened.
        message: String,
    },
}

#[derive(Default)]
pub(crate) struct Subscribers {
    senders: Mutex<Vec<mpsc::Sender<PluginEvent>>>,
}

impl Subscribers {
    pub fn subscribe(&self) -> mpsc::Receiver<PluginEvent> {
        let (tx, rx) = mpsc::channel();
        self.senders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }

    pub fn publish(&self, event: PluginEvent) {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        // A dropped receiver unsubscribes.
        senders.retain(|tx| tx.send(event.clone()).is_ok());
    }
}
