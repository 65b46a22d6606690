//! The worker's life: take the socket, arrange to die with the host, answer the handshake,
//! confine itself, open the plugin, then serve the host's calls on a pool of threads until
//! the host closes the connection.

use std::{
    collections::HashMap,
    os::fd::{AsFd, FromRawFd, OwnedFd},
    sync::{
        atomic::{AtomicU8, AtomicUsize, Ordering},
        Arc, RwLock,
    },
    thread,
};

use plugrack_api::{
    abi_stable::std_types::{RSlice, RStr},
    ErrorKind, PluginError, PluginInstanceBox, PluginModuleRef,
};

use super::{confine, services::RemoteServices};
use crate::{
    loader::{self, HostFacts},
    wire::{
        conn::{Conn, Handler},
        convert,
        frame::{self, Frame, ReadBuf, HELLO, NOTICE, REQUEST},
        message::{self, Answer, Call, Hello, HostNotice, Ready, Value},
        PROTOCOL,
    },
};

/// The most threads serving calls at once; beyond, calls wait for a free thread.
const MAX_THREADS: usize = 64;

/// The worker, from start to exit. Never returns.
pub(super) fn run() -> ! {
    let socket = take_socket();
    confine::die_with_parent();
    let code = match handshake(&socket) {
        // After the handshake the host sends the doorbell, the connection's second socket.
        Some(server) => match frame::recv_fd(socket.as_fd()) {
            Ok(doorbell) => serve(socket, doorbell, server),
            Err(e) => {
                eprintln!("plugin-worker: no doorbell from the host: {e}");
                2
            }
        },
        None => 0,
    };
    // Leave at once: the plugin's destructors and atexit handlers have nothing to save
    // (the host owns storage), and running them is one more place to crash.
    // SAFETY: ending the process.
    unsafe { libc::_exit(code) }
}

/// Moves the socket off standard input (to a descriptor not inherited by anything the plugin
/// starts) and puts `/dev/null` there instead.
fn take_socket() -> OwnedFd {
    // SAFETY: duplicating descriptor 0, which the host set up as the socket.
    let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        eprintln!(
            "plugin-worker: no connection on standard input; it is started by a plugrack host"
        );
        // SAFETY: ending the process.
        unsafe { libc::_exit(2) };
    }
    // SAFETY: opening /dev/null and moving it onto descriptor 0, which we just copied.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn send_hello(socket: &OwnedFd, protocol: u32, ready: &Ready) {
    let mut out = Vec::new();
    if frame::encode(&mut out, HELLO, u64::from(protocol), ready).is_ok() {
        let _ = frame::send_all(socket.as_fd(), &out);
    }
}

/// Reads the host's hello, checks versions, confines the worker and opens the plugin; the
/// server for its calls, or `None` when the host was told why not.
fn handshake(socket: &OwnedFd) -> Option<Server> {
    let mut read = ReadBuf::default();
    let hello = read.next(socket.as_fd(), None).ok()?;
    // The protocol this worker speaks; a test can make it claim another one.
    let ours = std::env::var("PLUGRACK_WORKER_TEST_PROTOCOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PROTOCOL);
    let refuse = |refusal: message::Refusal| {
        send_hello(
            socket,
            ours,
            &Ready::Refused(message::LoadFailure {
                id: None,
                refusal,
                detail: None,
            }),
        );
        None
    };
    if hello.kind != HELLO || hello.id != u64::from(ours) || ours != PROTOCOL {
        return refuse(message::Refusal::Other {
            message: format!("this worker speaks protocol {ours}"),
        });
    }
    let hello: Hello = match postcard::from_bytes(&hello.body) {
        Ok(hello) => hello,
        Err(e) => {
            return refuse(message::Refusal::Other {
                message: format!("an unreadable handshake: {e}"),
            })
        }
    };
    if hello.api_version != plugrack_api::API_VERSION {
        return refuse(message::Refusal::Other {
            message: format!(
                "the worker was built with plugrack-api {}, the host with {}: use the worker built with the host",
                plugrack_api::API_VERSION,
                hello.api_version
            ),
        });
    }
    let confinement = match confine::apply(&hello) {
        Ok(confinement) => confinement,
        Err(message) => return refuse(message::Refusal::Confinement { message }),
    };
    let host_version = match semver::Version::parse(&hello.host_version) {
        Ok(version) => version,
        Err(e) => {
            return refuse(message::Refusal::Other {
                message: format!(
                    "the host version `{}` is not semver: {e}",
                    hello.host_version
                ),
            })
        }
    };
    let opened = loader::open(
        &hello.library,
        &hello.shown_path,
        &HostFacts {
            host_version: &host_version,
            layout_cache: None,
        },
    );
    match opened {
        Err(error) => {
            send_hello(
                socket,
                ours,
                &Ready::Refused(convert::load_error_to_wire(*error)),
            );
            None
        }
        Ok(opened) => {
            send_hello(
                socket,
                ours,
                &Ready::Loaded {
                    info: convert::info_to_wire(&opened.info),
                    capabilities: opened.module.capabilities().0,
                    confinement,
                    extensions: opened
                        .module
                        .extensions()
                        .map(|list| {
                            list.iter()
                                .map(|decl| (decl.id().to_string(), decl.version().to_string()))
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            );
            Some(Server {
                module: opened.module,
                instances: RwLock::default(),
                level: Arc::new(AtomicU8::new(3)),
                host_version: hello.host_version.into(),
                threads: AtomicUsize::new(1),
            })
        }
    }
}

/// Serves until the host closes the connection; the exit code.
fn serve(socket: OwnedFd, doorbell: OwnedFd, server: Server) -> i32 {
    let conn = Conn::new(socket, Arc::new(server), false);
    // A serving thread lets go of the socket without waking another; the host rings when
    // its calls overlap, and only then does a second thread read.
    if let Err(e) = conn.use_doorbell(doorbell) {
        eprintln!("plugin-worker: no doorbell thread ({e}); overlapping calls wait for each other");
    }
    // One thread reads while another serves from the start.
    let spare = Arc::clone(&conn);
    let _ = thread::Builder::new()
        .name("plugin-worker".into())
        .spawn(move || spare.serve());
    conn.serve();
    0
}

/// The plugin and its instances.
struct Server {
    module: PluginModuleRef,
    instances: RwLock<HashMap<u64, Arc<PluginInstanceBox>>>,
    level: Arc<AtomicU8>,
    host_version: Arc<str>,
    threads: AtomicUsize,
}

impl Handler for Server {
    fn handle(&self, conn: &Arc<Conn>, frame: Frame) {
        match frame.kind {
            REQUEST => {
                let answer = match postcard::from_bytes::<Call>(&frame.body) {
                    Ok(call) => self.call(conn, call),
                    Err(e) => Err(message::Error {
                        kind: ErrorKind::FAILED.0,
                        message: format!("the worker cannot read this call: {e}"),
                    }),
                };
                conn.reclaim();
                let _ = conn.reply(frame.id, &answer);
            }
            NOTICE => {
                if let Ok(HostNotice::DropInstance { instance }) = postcard::from_bytes(&frame.body)
                {
                    let dropped = self
                        .instances
                        .write()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&instance);
                    drop(dropped);
                }
            }
            _ => {}
        }
    }

    fn need_reader(&self, conn: &Arc<Conn>) {
        if self.threads.fetch_add(1, Ordering::Relaxed) >= MAX_THREADS {
            self.threads.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        let conn = Arc::clone(conn);
        if thread::Builder::new()
            .name("plugin-worker".into())
            .spawn(move || conn.serve())
            .is_err()
        {
            self.threads.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn plugin_error(error: PluginError) -> message::Error {
    convert::error_to_wire(error)
}

impl Server {
    fn services(&self, conn: &Arc<Conn>, scope: u64) -> RemoteServices {
        RemoteServices {
            conn: Arc::clone(conn),
            scope,
            level: Arc::clone(&self.level),
            host_version: Arc::clone(&self.host_version),
        }
    }

    fn instance(&self, instance: u64) -> Result<Arc<PluginInstanceBox>, message::Error> {
        self.instances
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&instance)
            .cloned()
            .ok_or_else(|| message::Error {
                kind: ErrorKind::NOT_FOUND.0,
                message: format!("the worker has no instance {instance}"),
            })
    }

    fn call(&self, conn: &Arc<Conn>, call: Call) -> Answer {
        let unit = |r: plugrack_api::abi_stable::std_types::RResult<(), PluginError>| {
            r.into_result().map(|()| Value::Unit).map_err(plugin_error)
        };
        match call {
            Call::Start { log_level } => {
                self.level.store(log_level, Ordering::Relaxed);
                let services = self.services(conn, 0).into_abi();
                unit((self.module.on_load())(services))
            }
            Call::NewInstance { instance, user } => {
                let services = self.services(conn, instance).into_abi();
                let created = (self.module.new_instance())(convert::user_from_wire(user), services)
                    .into_result()
                    .map_err(plugin_error)?;
                self.instances
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(instance, Arc::new(created));
                Ok(Value::Unit)
            }
            Call::Enable { instance } => unit(self.instance(instance)?.enable()),
            Call::Disable { instance } => unit(self.instance(instance)?.disable()),
            Call::Execute {
                instance,
                label,
                input,
            } => {
                let input = convert::values_from_wire(input);
                self.instance(instance)?
                    .execute(RStr::from_str(&label), RSlice::from_slice(&input))
                    .into_result()
                    .map(|out| Value::Values(convert::values_to_wire(&out)))
                    .map_err(plugin_error)
            }
            Call::Routes { instance } => self
                .instance(instance)?
                .routes()
                .into_result()
                .map(|routes| Value::Routes(convert::routes_to_wire(routes)))
                .map_err(plugin_error),
            Call::HandleHttp { instance, request } => self
                .instance(instance)?
                .handle_http(convert::request_from_wire(request))
                .into_result()
                .map(|response| Value::Response(convert::response_to_wire(response)))
                .map_err(plugin_error),
            Call::DefaultConfig { instance } => self
                .instance(instance)?
                .default_config()
                .into_result()
                .map(|text| Value::Text(text.into_string()))
                .map_err(plugin_error),
            Call::SetConfig { instance, text } => {
                unit(self.instance(instance)?.set_config(RStr::from_str(&text)))
            }
            Call::Display { instance, location } => self
                .instance(instance)?
                .display(RStr::from_str(&location))
                .into_result()
                .map(|text| Value::Text(text.into_string()))
                .map_err(plugin_error),
            Call::Stop => {
                self.instances
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .clear();
                unit((self.module.on_unload())())
            }
        }
    }
}
