//! The shapes of the messages, in the order the protocol uses them. Plain serde types with
//! std fields; [`super::convert`] maps them to and from the boundary's abi_stable types.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The host's handshake: what to load and how to confine the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Hello {
    /// The host application's version, which descriptors are checked against.
    pub host_version: String,
    /// The host's plugrack-api version (the worker refuses a host built against another).
    pub api_version: String,
    /// The private copy to open.
    pub library: PathBuf,
    /// The file or folder errors should name.
    pub shown_path: PathBuf,
    /// The address-space limit (`RLIMIT_AS`), in bytes.
    pub address_space: Option<u64>,
    /// Whether to apply `no_new_privs` and the Landlock rule set.
    pub confine: bool,
    /// The one folder the worker may write, when confined.
    pub data_dir: Option<PathBuf>,
}

/// The worker's answer to [`Hello`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Ready {
    /// The library passed every check; `on_load` has not run yet.
    Loaded {
        info: Info,
        capabilities: u32,
        /// What the worker could confine, in words (for the report and the docs' claims).
        confinement: String,
        /// The extensions the root module lists, (id, version): the host refuses those it
        /// declares, since their handles would call into this process.
        extensions: Vec<(String, String)>,
    },
    /// The library was refused.
    Refused(LoadFailure),
}

/// A plugin's descriptor as the worker read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Info {
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub authors: Vec<String>,
    pub homepage: String,
    pub license: String,
    pub host_version_req: String,
    pub target_os: Vec<String>,
    pub api_version: String,
}

/// A refused library, the loader's refusal carried across.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LoadFailure {
    pub id: Option<String>,
    pub refusal: Refusal,
    pub detail: Option<String>,
}

/// The refusals the loader can produce after `dlopen`, mirrored for the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Refusal {
    OpenFailed {
        reason: String,
    },
    NotAPlugin,
    ApiTooOld {
        plugin: String,
        host: String,
    },
    ApiTooNew {
        plugin: String,
        host: String,
    },
    LayoutMismatch {
        version: String,
    },
    InitFailed {
        message: String,
    },
    InitPanicked,
    AbiStableMismatch {
        found: String,
    },
    InvalidDescriptor {
        field: String,
        problem: String,
    },
    HostVersionMismatch {
        required: String,
        host: String,
    },
    UnsupportedOs {
        supported: Vec<String>,
        this: String,
    },
    /// The worker could not set up its limits or confinement.
    Confinement {
        message: String,
    },
    /// Anything else, rendered.
    Other {
        message: String,
    },
}

/// A request from the host to the worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Call {
    /// Run `on_load`; `log_level` is the highest level the plugin's log keeps.
    Start {
        log_level: u8,
    },
    /// Create the instance `instance` (its services are scope `instance`).
    NewInstance {
        instance: u64,
        user: User,
    },
    Enable {
        instance: u64,
    },
    Disable {
        instance: u64,
    },
    Execute {
        instance: u64,
        label: String,
        input: Vec<KeyValue>,
    },
    Routes {
        instance: u64,
    },
    HandleHttp {
        instance: u64,
        request: HttpRequest,
    },
    DefaultConfig {
        instance: u64,
    },
    SetConfig {
        instance: u64,
        text: String,
    },
    Display {
        instance: u64,
        location: String,
    },
    /// Run `on_unload`.
    Stop,
}

/// A message from the host that needs no answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum HostNotice {
    /// The host released the instance.
    DropInstance { instance: u64 },
}

/// A request from the worker to the host: a service call of the plugin. `scope` 0 is the
/// plugin as a whole, any other the instance of that number.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Service {
    StorageLoad { scope: u64 },
    StorageSave { scope: u64, data: Vec<u8> },
    SendMessage { scope: u64, message: Message },
}

/// A message from the worker that needs no answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum WorkerNotice {
    /// A record for the plugin's log.
    Log {
        scope: u64,
        level: u8,
        message: String,
    },
}

/// The answer to a [`Call`] or a [`Service`].
pub(crate) type Answer = Result<Value, Error>;

/// What a successful call returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Value {
    Unit,
    Values(Vec<KeyValue>),
    Routes(Vec<Route>),
    Response(HttpResponse),
    Text(String),
    Bytes(Vec<u8>),
}

/// A plugin's (or a service's) error.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Error {
    pub kind: u32,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct User {
    pub id: u64,
    pub name: String,
    pub admin: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum ValueKind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Json(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct KeyValue {
    pub key: String,
    pub value: ValueKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Route {
    pub method: String,
    pub path: String,
    pub label: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HttpRequest {
    pub label: String,
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Message {
    pub title: String,
    pub message: String,
    pub priority: i32,
    pub extras: String,
}
