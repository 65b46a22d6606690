//! The host services handed to plugins: each plugin's log, its storage and the message sink.

use std::{
    collections::HashMap,
    fs,
    io::Write,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use plugrack_api::{
    abi_stable::{
        sabi_trait::TD_Opaque,
        std_types::{RResult, RSlice, RStr, RString, RVec},
    },
    ErrorKind, HostServices, HostServicesBox, HostServices_TO, LogLevel, Message, PluginError,
};

use crate::{events::MessageEvent, logfile::PluginLog};

/// Where storage lives.
pub(crate) enum Storage {
    /// In memory, for hosts that do not persist.
    Memory(Mutex<HashMap<(String, String), Vec<u8>>>),
    /// One file per plugin and scope under a folder, written atomically.
    Dir(PathBuf),
}

/// What all services of one manager share.
pub(crate) struct Shared {
    pub host_version: String,
    pub storage: Storage,
    pub on_message: Option<Arc<dyn Fn(MessageEvent) + Send + Sync>>,
}

/// The services bound to one plugin, and to one user of it or to the plugin as a whole.
#[derive(Clone)]
pub(crate) struct BoundServices {
    plugin_id: String,
    user: Option<u64>,
    shared: Arc<Shared>,
    log: Arc<PluginLog>,
}

impl BoundServices {
    pub fn new(
        plugin_id: &str,
        user: Option<u64>,
        shared: Arc<Shared>,
        log: Arc<PluginLog>,
    ) -> Self {
        Self {
            plugin_id: plugin_id.into(),
            user,
            shared,
            log,
        }
    }

    /// The plugin's log.
    pub fn log(&self) -> &Arc<PluginLog> {
        &self.log
    }

    pub fn into_abi(self) -> HostServicesBox {
        HostServices_TO::from_value(self, TD_Opaque)
    }

    fn scope(&self) -> String {
        match self.user {
            Some(id) => format!("user-{id}"),
            None => "plugin".into(),
        }
    }
}

fn to_log_level(level: LogLevel) -> log::Level {
    match level.0 {
        0 | 1 => log::Level::Error,
        2 => log::Level::Warn,
        3 => log::Level::Info,
        4 => log::Level::Debug,
        _ => log::Level::Trace,
    }
}

fn storage_error(action: &str, path: &Path, e: std::io::Error) -> PluginError {
    PluginError::new(
        ErrorKind::UNAVAILABLE,
        format!("cannot {action} {}: {e}", path.display()),
    )
}

/// Writes `data` to `path` through a temporary file and a rename, so readers never see half.
pub(crate) fn write_atomically(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(data)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

impl HostServices for BoundServices {
    fn log_enabled(&self, level: LogLevel, _target: RStr<'_>) -> bool {
        self.log.enabled(to_log_level(level))
    }

    fn log(&self, level: LogLevel, _target: RStr<'_>, message: RStr<'_>) {
        self.log.log(to_log_level(level), message.as_str());
    }

    fn storage_load(&self) -> RResult<RVec<u8>, PluginError> {
        match &self.shared.storage {
            Storage::Memory(map) => {
                let map = map.lock().unwrap_or_else(|e| e.into_inner());
                RResult::ROk(
                    map.get(&(self.plugin_id.clone(), self.scope()))
                        .cloned()
                        .unwrap_or_default()
                        .into(),
                )
            }
            Storage::Dir(dir) => {
                let path = dir
                    .join(&self.plugin_id)
                    .join(format!("{}.bin", self.scope()));
                match fs::read(&path) {
                    Ok(bytes) => RResult::ROk(bytes.into()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => RResult::ROk(RVec::new()),
                    Err(e) => RResult::RErr(storage_error("read", &path, e)),
                }
            }
        }
    }

    fn storage_save(&self, data: RSlice<'_, u8>) -> RResult<(), PluginError> {
        match &self.shared.storage {
            Storage::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
                map.insert((self.plugin_id.clone(), self.scope()), data.to_vec());
                RResult::ROk(())
            }
            Storage::Dir(dir) => {
                let path = dir
                    .join(&self.plugin_id)
                    .join(format!("{}.bin", self.scope()));
                match write_atomically(&path, data.as_slice()) {
                    Ok(()) => RResult::ROk(()),
                    Err(e) => RResult::RErr(storage_error("write", &path, e)),
                }
            }
        }
    }

    fn send_message(&self, message: Message) -> RResult<(), PluginError> {
        let event = MessageEvent {
            plugin_id: self.plugin_id.clone(),
            user_id: self.user,
            title: message.title.into(),
            message: message.message.into(),
            priority: message.priority,
            extras: message.extras.into(),
        };
        match &self.shared.on_message {
            Some(callback) => {
                // This runs inside an `extern "C"` call from the plugin; a panic in the host's
                // callback must not unwind through it.
                let delivered =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(event)));
                if delivered.is_err() {
                    return RResult::RErr(PluginError::new(
                        ErrorKind::FAILED,
                        "the host's message handler panicked",
                    ));
                }
            }
            None => {
                let text = format!("message `{}`: {}", event.title, event.message);
                self.log.log(log::Level::Info, &text)
            }
        }
        RResult::ROk(())
    }

    fn host_version(&self) -> RString {
        self.shared.host_version.as_str().into()
    }
}
