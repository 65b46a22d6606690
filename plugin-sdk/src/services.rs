//! The host's services as the plugin sees them: logging, storage and messages.

use std::sync::Arc;

use plugrack_api::{
    abi_stable::std_types::{RResult, RStr},
    HostServicesBox, LogLevel,
};

use crate::{Error, Result};

/// A message to send through the host (gotify's `Message`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Title.
    pub title: String,
    /// Body (markdown allowed).
    pub message: String,
    /// Priority; higher is more urgent.
    pub priority: i32,
    /// Extra data as a JSON object.
    pub extras: Option<serde_json::Value>,
}

impl Message {
    /// A message with a title and a body at priority 0.
    pub fn new(title: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            message: message.into(),
            ..Self::default()
        }
    }

    /// Sets the priority.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }
}

/// Handle to the host's services, bound to the plugin or to one instance. Cheap to clone.
#[derive(Clone)]
pub struct Services {
    inner: Arc<HostServicesBox>,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

fn into_result<T>(r: RResult<T, plugrack_api::PluginError>) -> Result<T> {
    r.into_result().map_err(Error::from)
}

impl Services {
    pub(crate) fn new(inner: HostServicesBox) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    pub(crate) fn log_enabled(&self, level: LogLevel, target: &str) -> bool {
        self.inner.log_enabled(level, RStr::from_str(target))
    }

    /// Writes a line to this plugin's log. Most plugins use the `log` macros instead, which
    /// reach the same place.
    pub fn log(&self, level: log::Level, message: &str) {
        self.inner.log(
            LogLevel(level as u8),
            RStr::from_str("plugin"),
            RStr::from_str(message),
        );
    }

    pub(crate) fn log_record(&self, level: LogLevel, target: &str, message: &str) {
        self.inner
            .log(level, RStr::from_str(target), RStr::from_str(message));
    }

    /// The bytes stored for this scope (empty if nothing was saved yet).
    pub fn load(&self) -> Result<Vec<u8>> {
        into_result(self.inner.storage_load()).map(Into::into)
    }

    /// Replaces the bytes stored for this scope.
    pub fn save(&self, data: &[u8]) -> Result<()> {
        into_result(self.inner.storage_save(data.into()))
    }

    /// Loads a JSON document from storage, or `None` if nothing was saved yet.
    pub fn load_json<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>> {
        let bytes = self.load()?;
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::failed(format!("stored data is not valid JSON: {e}")))
    }

    /// Saves a value as JSON.
    pub fn save_json<T: serde::Serialize>(&self, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| Error::failed(e.to_string()))?;
        self.save(&bytes)
    }

    /// Sends a message through the host.
    pub fn send(&self, message: Message) -> Result<()> {
        let extras = message.extras.map(|e| e.to_string()).unwrap_or_default();
        into_result(self.inner.send_message(plugrack_api::Message {
            title: message.title.into(),
            message: message.message.into(),
            priority: message.priority,
            extras: extras.into(),
        }))
    }

    /// The host application's version.
    pub fn host_version(&self) -> String {
        self.inner.host_version().into()
    }
}
