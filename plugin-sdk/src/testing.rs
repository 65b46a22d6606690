//! An in-process test harness: drive a plugin through the same entry points the host uses,
//! without building or loading a shared library.
//!
//! ```ignore
//! use plugrack_sdk::{testing::Harness, User, Values};
//!
//! let harness = Harness::<MyPlugin>::load()?;
//! let alice = harness.instance(User::new(1, "alice"))?;
//! let out = alice.execute("greet", Values::new())?;
//! assert!(harness.logs().iter().any(|l| l.message.contains("loaded")));
//! ```
//!
//! Calls cross the same `abi_stable` types and `catch_unwind` guards as in a host, so a panic
//! comes back as an [`ErrorKind::PANICKED`](crate::ErrorKind::PANICKED) error here too.
//!
//! Extension points the plugin implements are reached the same way, through the object the
//! host would get, with the interface's `…Calls` trait:
//!
//! ```ignore
//! use text_pipeline_api::{FormatterCalls, FormatterExt};
//!
//! let harness = Harness::<MyPlugin>::load()?;
//! let formatter = harness.extension::<FormatterExt>()?;
//! assert_eq!(formatter.format("a b".into())?, "A B");
//! ```
//! Harnesses in one test process run one at a time, since a plugin's state is a global of its
//! library just as it is in a host.

use std::{
    collections::BTreeMap,
    marker::PhantomData,
    sync::{atomic::Ordering, Arc, Mutex, MutexGuard},
};

use plugrack_api::{
    abi_stable::{
        sabi_trait::TD_Opaque,
        std_types::{RResult, RSlice, RStr, RString, RVec},
    },
    HostServices, HostServices_TO, LogLevel, PluginError, PluginInstanceBox, PluginModuleRef,
    UserContext,
};

use plugrack_api::ExtensionSlot;
use plugrack_extension::{ExtensionHandle, ExtensionPoint};

use crate::{
    glue::ExportedPlugin, value, Error, Message, Request, Response, Result, Route, User, Values,
};

/// A log line the plugin wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// `log::Level` as a number (1 = error ... 5 = trace).
    pub level: u8,
    /// The record's target.
    pub target: String,
    /// The message.
    pub message: String,
}

#[derive(Default)]
struct Recorded {
    logs: Vec<LogLine>,
    messages: Vec<(String, Message)>,
    storage: BTreeMap<String, Vec<u8>>,
}

/// In-memory host services, recording what the plugin does.
#[derive(Clone)]
struct FakeHost {
    scope: String,
    recorded: Arc<Mutex<Recorded>>,
}

impl FakeHost {
    fn recorded(&self) -> MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl HostServices for FakeHost {
    fn log_enabled(&self, _level: LogLevel, _target: RStr<'_>) -> bool {
        true
    }

    fn log(&self, level: LogLevel, target: RStr<'_>, message: RStr<'_>) {
        self.recorded().logs.push(LogLine {
            level: level.0,
            target: target.into(),
            message: message.into(),
        });
    }

    fn storage_load(&self) -> RResult<RVec<u8>, PluginError> {
        RResult::ROk(
            self.recorded()
                .storage
                .get(&self.scope)
                .cloned()
                .unwrap_or_default()
                .into(),
        )
    }

    fn storage_save(&self, data: RSlice<'_, u8>) -> RResult<(), PluginError> {
        let scope = self.scope.clone();
        self.recorded().storage.insert(scope, data.to_vec());
        RResult::ROk(())
    }

    fn send_message(&self, message: plugrack_api::Message) -> RResult<(), PluginError> {
        let extras = (!message.extras.is_empty())
            .then(|| serde_json::from_str(&message.extras).ok())
            .flatten();
        let message = Message {
            title: message.title.into(),
            message: message.message.into(),
            priority: message.priority,
            extras,
        };
        let scope = self.scope.clone();
        self.recorded().messages.push((scope, message));
        RResult::ROk(())
    }

    fn host_version(&self) -> RString {
        "0.0.0-harness".into()
    }
}

static HARNESS_LOCK: Mutex<()> = Mutex::new(());

/// A loaded plugin in the test process. Dropping it unloads the plugin.
pub struct Harness<P: ExportedPlugin> {
    module: PluginModuleRef,
    host: FakeHost,
    _serial: MutexGuard<'static, ()>,
    _plugin: PhantomData<P>,
}

impl<P: ExportedPlugin> std::fmt::Debug for Harness<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("plugin", &std::any::type_name::<P>())
            .finish_non_exhaustive()
    }
}

impl<P: ExportedPlugin> Harness<P> {
    /// Builds the plugin's root module and calls its `on_load`, as a host would.
    pub fn load() -> Result<Self> {
        let serial = HARNESS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        crate::glue::IN_HARNESS.store(true, Ordering::SeqCst);
        let module = crate::glue::root_module::<P>();
        let host = FakeHost {
            scope: "plugin".into(),
            recorded: Arc::default(),
        };
        let on_load = module.on_load();
        on_load(HostServices_TO::from_value(host.clone(), TD_Opaque)).into_result()?;
        Ok(Self {
            module,
            host,
            _serial: serial,
            _plugin: PhantomData,
        })
    }

    /// The capability names the plugin declares, as the host sees them.
    pub fn capabilities(&self) -> Vec<&'static str> {
        self.module.capabilities().names()
    }

    /// The id from the descriptor.
    pub fn id(&self) -> String {
        self.module.descriptor().id().into()
    }

    /// Creates and enables an instance for `user`.
    pub fn instance(&self, user: User) -> Result<TestInstance> {
        let scope = format!("user-{}", user.id);
        let services = FakeHost {
            scope,
            recorded: Arc::clone(&self.host.recorded),
        };
        let context = UserContext {
            id: user.id,
            name: user.name.into(),
            admin: user.admin,
        };
        let new_instance = self.module.new_instance();
        let instance = new_instance(context, HostServices_TO::from_value(services, TD_Opaque))
            .into_result()?;
        instance.enable().into_result()?;
        Ok(TestInstance { instance })
    }

    /// The plugin's implementation of the extension point `E`, created as the host creates it
    /// (through the root module's declaration, into a slot of the interface's object type).
    /// The calls are the interface's `…Calls` methods, returning this crate's [`Error`].
    pub fn extension<E: ExtensionPoint>(&self) -> Result<TestExtension<E>> {
        let decls = self.module.extensions().unwrap_or_default();
        let decl = decls
            .iter()
            .find(|d| d.id().as_str() == E::ID && d.version().as_str() == E::VERSION)
            .ok_or_else(|| {
                Error::not_found(format!(
                    "the plugin does not list extension `{}` {} in `export_plugin!(.., extensions = [..])`",
                    E::ID,
                    E::VERSION
                ))
            })?;
        let mut place = std::mem::MaybeUninit::<E::Object>::uninit();
        (decl.construct())(ExtensionSlot::new(&mut place)).into_result()?;
        // SAFETY: the constructor succeeded, so it wrote an object of this very type (the
        // plugin and this test share one build of the interface crate).
        let object = unsafe { place.assume_init() };
        Ok(TestExtension { object })
    }

    /// Everything the plugin logged so far.
    pub fn logs(&self) -> Vec<LogLine> {
        self.host.recorded().logs.clone()
    }

    /// Every message the plugin sent, with the scope (`plugin` or `user-<id>`) that sent it.
    pub fn messages(&self) -> Vec<(String, Message)> {
        self.host.recorded().messages.clone()
    }

    /// The bytes stored for a scope (`plugin` or `user-<id>`).
    pub fn stored(&self, scope: &str) -> Option<Vec<u8>> {
        self.host.recorded().storage.get(scope).cloned()
    }
}

impl<P: ExportedPlugin> Drop for Harness<P> {
    fn drop(&mut self) {
        let on_unload = self.module.on_unload();
        if let Err(e) = on_unload().into_result() {
            eprintln!("plugrack-sdk harness: on_unload failed: {e}");
        }
        crate::glue::IN_HARNESS.store(false, Ordering::SeqCst);
    }
}

/// A plugin's extension object created by [`Harness::extension`].
pub struct TestExtension<E: ExtensionPoint> {
    object: E::Object,
}

impl<E: ExtensionPoint> std::fmt::Debug for TestExtension<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestExtension")
            .field("point", &std::any::type_name::<E>())
            .finish_non_exhaustive()
    }
}

impl<E: ExtensionPoint> ExtensionHandle<E> for TestExtension<E> {
    type Error = Error;

    fn object(&self) -> &E::Object {
        &self.object
    }

    fn failed(&self, _method: &'static str, error: PluginError) -> Error {
        Error::from(error)
    }
}

/// An instance created by a [`Harness`], called through the boundary's types.
pub struct TestInstance {
    instance: PluginInstanceBox,
}

impl std::fmt::Debug for TestInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestInstance").finish_non_exhaustive()
    }
}

impl TestInstance {
    /// Capability `execute`.
    pub fn execute(&self, label: &str, input: Values) -> Result<Values> {
        let input = value::values_to_abi(input);
        let output = self
            .instance
            .execute(label.into(), input.as_rslice())
            .into_result()?;
        value::values_from_abi(output.as_rslice())
    }

    /// Capability `http`: the declared routes.
    pub fn routes(&self) -> Result<Vec<Route>> {
        Ok(self
            .instance
            .routes()
            .into_result()?
            .into_iter()
            .map(Route::from)
            .collect())
    }

    /// Capability `http`: one request.
    pub fn http(&self, request: Request) -> Result<Response> {
        Ok(self
            .instance
            .handle_http(request.into())
            .into_result()?
            .into())
    }

    /// Capability `config`: the default configuration text.
    pub fn default_config(&self) -> Result<String> {
        Ok(self.instance.default_config().into_result()?.into())
    }

    /// Capability `config`: validate and apply a configuration.
    pub fn set_config(&self, text: &str) -> Result<()> {
        Ok(self.instance.set_config(text.into()).into_result()?)
    }

    /// Capability `display`.
    pub fn display(&self, location: &str) -> Result<String> {
        Ok(self.instance.display(location.into()).into_result()?.into())
    }

    /// Disables the instance.
    pub fn disable(&self) -> Result<()> {
        self.instance.disable().into_result().map_err(Error::from)
    }
}
