//! The host's answers to a worker: the plugin's service calls (storage, messages) and its
//! log records, each for the scope it names (0 the plugin as a whole, any other number the
//! instance the host created under it). They run on whichever host thread reads the
//! connection, normally the caller waiting for the call that made the plugin ask.

use std::sync::{Arc, Weak};

use plugrack_api::{
    abi_stable::std_types::{RSlice, RStr},
    ErrorKind, HostServices, LogLevel,
};

use super::supervise::Shared;
use crate::wire::{
    conn::{Conn, Handler},
    convert,
    frame::{Frame, NOTICE, REQUEST},
    message::{self, Answer, Service, Value, WorkerNotice},
};

pub(crate) struct HostSide {
    pub shared: Weak<Shared>,
}

impl Handler for HostSide {
    fn handle(&self, conn: &Arc<Conn>, frame: Frame) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        match frame.kind {
            REQUEST => {
                let answer = match postcard::from_bytes::<Service>(&frame.body) {
                    Ok(service) => serve(&shared, service),
                    Err(e) => Err(message::Error {
                        kind: ErrorKind::FAILED.0,
                        message: format!("the host cannot read this service call: {e}"),
                    }),
                };
                let _ = conn.reply(frame.id, &answer);
            }
            NOTICE => {
                if let Ok(WorkerNotice::Log {
                    scope,
                    level,
                    message,
                }) = postcard::from_bytes(&frame.body)
                {
                    if let Some(services) = shared.scope(scope) {
                        HostServices::log(
                            &services,
                            LogLevel(level),
                            RStr::from_str(""),
                            RStr::from_str(&message),
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

fn serve(shared: &Shared, service: Service) -> Answer {
    let scope = match &service {
        Service::StorageLoad { scope }
        | Service::StorageSave { scope, .. }
        | Service::SendMessage { scope, .. } => *scope,
    };
    let Some(services) = shared.scope(scope) else {
        return Err(message::Error {
            kind: ErrorKind::UNAVAILABLE.0,
            message: "this instance was released by the host".into(),
        });
    };
    let result = match service {
        Service::StorageLoad { .. } => services
            .storage_load()
            .into_result()
            .map(|bytes| Value::Bytes(bytes.into_vec())),
        Service::StorageSave { data, .. } => services
            .storage_save(RSlice::from_slice(&data))
            .into_result()
            .map(|()| Value::Unit),
        Service::SendMessage { message, .. } => services
            .send_message(convert::message_from_wire(message))
            .into_result()
            .map(|()| Value::Unit),
    };
    result.map_err(convert::error_to_wire)
}
