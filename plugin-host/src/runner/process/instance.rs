//! An instance in a worker process. It outlives the worker: after a restart its next call
//! creates it again in the new worker (same user, the configuration it last accepted, enabled
//! if it was), so a host's `Instance` keeps working across crashes.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Instant,
};

use plugrack_api::{
    abi_stable::std_types::{RString, RVec},
    HttpRequest, HttpResponse, KeyValue, RouteSpec,
};

use super::supervise::{Phase, Shared};
use crate::{
    runner::{Failure, InstanceCalls},
    values::User,
    wire::{
        conn::{Conn, ConnError},
        convert,
        message::{Call, HostNotice, Value},
    },
};

/// Whether a call cut off while recreating its instance should try again.
enum Retry {
    /// The worker was gone before the request left: try again on the next one.
    Again,
    /// Fail with this.
    No(Failure),
}

/// What an instance must restore in a new worker.
#[derive(Default)]
struct Restore {
    enabled: bool,
    config: Option<String>,
}

pub(crate) struct WorkerInstance {
    pub(super) shared: Arc<Shared>,
    /// Its number in the worker, and the scope of its services.
    pub(super) handle: u64,
    pub(super) user: User,
    /// The worker generation it exists in.
    pub(super) generation: AtomicU64,
    restore: Mutex<Restore>,
}

impl WorkerInstance {
    pub(super) fn new(shared: Arc<Shared>, handle: u64, user: User, generation: u64) -> Self {
        Self {
            shared,
            handle,
            user,
            generation: AtomicU64::new(generation),
            restore: Mutex::default(),
        }
    }

    /// Makes one call in the worker: waits for a restarting worker, creates the instance
    /// again in a new one, and turns a broken connection into the crash that broke it.
    fn call(&self, call: Call) -> Result<Value, Failure> {
        let limit = self.shared.settings.call_timeout;
        let deadline = Instant::now() + limit;
        loop {
            let (conn, generation) = self.shared.connection(deadline)?;
            if self.generation.load(Ordering::Acquire) != generation {
                match self.recreate(&conn, generation, deadline) {
                    Err(Retry::Again) => continue,
                    Err(Retry::No(failure)) => return Err(failure),
                    Ok(()) => {}
                }
            }
            return match Shared::ask(&conn, &call, deadline) {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(error)) => Err(Failure::Plugin(convert::error_from_wire(error))),
                Err(ConnError::TimedOut) => Err(Failure::Crashed(
                    self.shared.kill_for_deadline(generation, limit),
                )),
                Err(ConnError::Closed(_)) => {
                    Err(Failure::Crashed(self.shared.crash_of(generation)))
                }
                // The worker was already gone: this call never reached it, so it waits for
                // the new one instead of failing.
                Err(ConnError::Unsent(_)) => {
                    self.shared.wait_replaced(generation, deadline);
                    continue;
                }
            };
        }
    }

    /// Creates this instance in the worker of `generation` as it was in the last one.
    fn recreate(&self, conn: &Arc<Conn>, generation: u64, deadline: Instant) -> Result<(), Retry> {
        let restore = self.restore.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) == generation {
            return Ok(()); // another thread did it meanwhile
        }
        let mut calls = vec![Call::NewInstance {
            instance: self.handle,
            user: convert::user_to_wire(&self.user),
        }];
        if let Some(text) = &restore.config {
            calls.push(Call::SetConfig {
                instance: self.handle,
                text: text.clone(),
            });
        }
        if restore.enabled {
            calls.push(Call::Enable {
                instance: self.handle,
            });
        }
        for call in &calls {
            let failure = match Shared::ask(conn, call, deadline) {
                Ok(Ok(_)) => continue,
                Ok(Err(error)) => Failure::Plugin(convert::error_from_wire(error)),
                Err(ConnError::TimedOut) => {
                    let limit = self.shared.settings.call_timeout;
                    Failure::Crashed(self.shared.kill_for_deadline(generation, limit))
                }
                Err(ConnError::Closed(_)) => Failure::Crashed(self.shared.crash_of(generation)),
                Err(ConnError::Unsent(_)) => {
                    self.shared.wait_replaced(generation, deadline);
                    return Err(Retry::Again);
                }
            };
            return Err(Retry::No(failure));
        }
        self.generation.store(generation, Ordering::Release);
        Ok(())
    }

    fn unit(&self, call: Call) -> Result<(), Failure> {
        self.call(call).map(drop)
    }

    fn text(&self, call: Call) -> Result<RString, Failure> {
        match self.call(call)? {
            Value::Text(text) => Ok(text.into()),
            other => Err(unexpected(&other)),
        }
    }
}

#[cold]
fn unexpected(value: &Value) -> Failure {
    Failure::Plugin(plugrack_api::PluginError::new(
        plugrack_api::ErrorKind::FAILED,
        format!("the worker answered with an unexpected {value:?}"),
    ))
}

impl InstanceCalls for WorkerInstance {
    type Reply<T> = Result<T, Failure>;

    fn enable(&self) -> Result<(), Failure> {
        self.unit(Call::Enable {
            instance: self.handle,
        })?;
        self.restore
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .enabled = true;
        Ok(())
    }

    fn disable(&self) -> Result<(), Failure> {
        self.restore
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .enabled = false;
        self.unit(Call::Disable {
            instance: self.handle,
        })
    }

    fn execute(&self, label: &str, input: &[KeyValue]) -> Result<RVec<KeyValue>, Failure> {
        let call = Call::Execute {
            instance: self.handle,
            label: label.to_owned(),
            input: convert::values_to_wire(input),
        };
        match self.call(call)? {
            Value::Values(values) => Ok(convert::values_from_wire(values)),
            other => Err(unexpected(&other)),
        }
    }

    fn routes(&self) -> Result<RVec<RouteSpec>, Failure> {
        match self.call(Call::Routes {
            instance: self.handle,
        })? {
            Value::Routes(routes) => Ok(convert::routes_from_wire(routes)),
            other => Err(unexpected(&other)),
        }
    }

    fn handle_http(&self, request: HttpRequest) -> Result<HttpResponse, Failure> {
        let call = Call::HandleHttp {
            instance: self.handle,
            request: convert::request_to_wire(request),
        };
        match self.call(call)? {
            Value::Response(response) => Ok(convert::response_from_wire(response)),
            other => Err(unexpected(&other)),
        }
    }

    fn default_config(&self) -> Result<RString, Failure> {
        self.text(Call::DefaultConfig {
            instance: self.handle,
        })
    }

    fn set_config(&self, text: &str) -> Result<(), Failure> {
        self.unit(Call::SetConfig {
            instance: self.handle,
            text: text.to_owned(),
        })?;
        self.restore
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .config = Some(text.to_owned());
        Ok(())
    }

    fn display(&self, location: &str) -> Result<RString, Failure> {
        self.text(Call::Display {
            instance: self.handle,
            location: location.to_owned(),
        })
    }
}

impl Drop for WorkerInstance {
    fn drop(&mut self) {
        self.shared
            .scopes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.handle);
        let conn = {
            let live = self.shared.live();
            match &live.phase {
                Phase::Up(conn) if live.generation == self.generation.load(Ordering::Acquire) => {
                    Some(Arc::clone(conn))
                }
                _ => None,
            }
        };
        if let Some(conn) = conn {
            let _ = conn.notify(&HostNotice::DropInstance {
                instance: self.handle,
            });
        }
    }
}
