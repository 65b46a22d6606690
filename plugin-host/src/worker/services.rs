//! The host services a plugin gets in a worker: the same `HostServices` trait, each call
//! sent to the host over the worker's connection. Log records are filtered here by the level
//! the host announced and sent without waiting; storage and messages wait for the host's
//! answer.

use std::sync::{
    atomic::{AtomicU8, Ordering},
    Arc,
};

use plugrack_api::{
    abi_stable::{
        sabi_trait::TD_Opaque,
        std_types::{RResult, RSlice, RStr, RString, RVec},
    },
    ErrorKind, HostServices, HostServicesBox, HostServices_TO, LogLevel, Message, PluginError,
};

use crate::wire::{
    conn::{Conn, ConnError},
    convert,
    message::{Answer, Service, Value, WorkerNotice},
};

#[derive(Clone)]
pub(super) struct RemoteServices {
    pub conn: Arc<Conn>,
    /// 0 for the plugin as a whole, else the instance's number.
    pub scope: u64,
    /// The highest level the host keeps for this plugin (`log` crate numbering).
    pub level: Arc<AtomicU8>,
    pub host_version: Arc<str>,
}

impl RemoteServices {
    pub fn into_abi(self) -> HostServicesBox {
        HostServices_TO::from_value(self, TD_Opaque)
    }

    fn ask(&self, service: &Service) -> Result<Value, PluginError> {
        let body = self.conn.call(service, None).map_err(|e| {
            let reason = match e {
                ConnError::TimedOut => "the host did not answer".to_owned(),
                ConnError::Closed(reason) | ConnError::Unsent(reason) => reason,
            };
            PluginError::new(
                ErrorKind::UNAVAILABLE,
                format!("the host is gone: {reason}"),
            )
        })?;
        let answer: Answer = postcard::from_bytes(&body).map_err(|e| {
            PluginError::new(
                ErrorKind::FAILED,
                format!("an unreadable answer from the host: {e}"),
            )
        })?;
        answer.map_err(convert::error_from_wire)
    }
}

impl HostServices for RemoteServices {
    fn log_enabled(&self, level: LogLevel, _target: RStr<'_>) -> bool {
        level.0 <= self.level.load(Ordering::Relaxed)
    }

    fn log(&self, level: LogLevel, target: RStr<'_>, message: RStr<'_>) {
        if self.log_enabled(level, target) {
            let _ = self.conn.notify(&WorkerNotice::Log {
                scope: self.scope,
                level: level.0,
                message: message.as_str().to_owned(),
            });
        }
    }

    fn storage_load(&self) -> RResult<RVec<u8>, PluginError> {
        match self.ask(&Service::StorageLoad { scope: self.scope }) {
            Ok(Value::Bytes(bytes)) => RResult::ROk(bytes.into()),
            Ok(_) => RResult::RErr(PluginError::new(ErrorKind::FAILED, "an unexpected answer")),
            Err(e) => RResult::RErr(e),
        }
    }

    fn storage_save(&self, data: RSlice<'_, u8>) -> RResult<(), PluginError> {
        let service = Service::StorageSave {
            scope: self.scope,
            data: data.to_vec(),
        };
        self.ask(&service).map(drop).into()
    }

    fn send_message(&self, message: Message) -> RResult<(), PluginError> {
        let service = Service::SendMessage {
            scope: self.scope,
            message: convert::message_to_wire(message),
        };
        self.ask(&service).map(drop).into()
    }

    fn host_version(&self) -> RString {
        self.host_version.as_ref().into()
    }
}
