//! The bridge between a plugin author's traits and the boundary's root module.
//!
//! The export macro implements [`ExportedPlugin`] for the author's plugin type and exports a
//! root module built by [`root_module`]. Everything here is generic, so the macro's expansion
//! stays small and this code is tested once for every plugin.

use std::{
    marker::PhantomData,
    mem::ManuallyDrop,
    panic::{self, AssertUnwindSafe},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, RwLock,
    },
};

use plugrack_api::{
    abi_stable::{
        prefix_type::PrefixTypeTrait,
        sabi_trait::TD_Opaque,
        std_types::{RResult, RSlice, RStr, RString, RVec},
    },
    Capabilities, Descriptor, ErrorKind, ExtensionDecl, ExtensionDeclRef, ExtensionSlot,
    HostServicesBox, HttpRequest, HttpResponse, KeyValue, PluginError, PluginInstance,
    PluginInstanceBox, PluginInstance_TO, PluginModule, PluginModuleRef, RouteSpec, UserContext,
};
pub use plugrack_extension::{ExtensionPoint, ExtensionTrait, ImplementedBy};

use crate::{
    logging,
    panic::{guard, guard_lifecycle},
    value, Configurer, Displayer, Error, Executor, HttpHandler, Instance, Plugin, Request,
    Response, Result, Route, Services, User, Values,
};

/// Implemented by the export macro for the plugin type.
pub trait ExportedPlugin: Plugin {
    /// Where the loaded plugin lives between `on_load` and `on_unload`.
    fn state() -> &'static PluginState<Self>;
    /// Which capabilities the instance type implements, detected at compile time (see
    /// [`CapFns`]). The macro's body is a constant and always inlined, so that each entry
    /// point calls the author's method directly (and can inline it) instead of through a
    /// function pointer. (A function, not an associated constant: a constant's type naming
    /// `Self::Instance` adds a confusing second error when the type is not a plugin.)
    fn capabilities() -> CapTable<Self::Instance>;
    /// The descriptor, from `Cargo.toml`.
    fn descriptor() -> Descriptor;
    /// The extensions listed in `export_plugin!(P, extensions = [...])`.
    fn extensions() -> &'static [ExtensionDeclRef] {
        &[]
    }
}

/// The loaded plugin, if any.
pub struct PluginState<P> {
    plugin: RwLock<Option<Arc<P>>>,
}

impl<P> PluginState<P> {
    /// An empty state.
    #[expect(clippy::new_without_default, reason = "must be const for a static")]
    pub const fn new() -> Self {
        Self {
            plugin: RwLock::new(None),
        }
    }

    fn get(&self) -> Option<Arc<P>> {
        self.plugin
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn replace(&self, plugin: Option<Arc<P>>) -> Option<Arc<P>> {
        std::mem::replace(
            &mut *self.plugin.write().unwrap_or_else(|e| e.into_inner()),
            plugin,
        )
    }
}

type ExecuteFn<I> = fn(&I, &str, Values) -> Result<Values>;
type RoutesFn<I> = fn(&I) -> Vec<Route>;
type HandleFn<I> = fn(&I, Request) -> Result<Response>;
type DefaultConfigFn<I> = fn(&I) -> Result<String>;
type SetConfigFn<I> = fn(&I, &str) -> Result<()>;
type DisplayFn<I> = fn(&I, &str) -> Result<String>;

/// The capability methods of one instance type; `None` where it lacks the capability.
pub struct CapTable<I> {
    /// `execute`.
    pub execute: Option<ExecuteFn<I>>,
    /// `routes` and `handle`.
    pub http: Option<(RoutesFn<I>, HandleFn<I>)>,
    /// `default_config` and `set_config`.
    pub config: Option<(DefaultConfigFn<I>, SetConfigFn<I>)>,
    /// `display`.
    pub display: Option<DisplayFn<I>>,
}

impl<I> CapTable<I> {
    /// The capability flags the host sees.
    pub fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::NONE;
        let flags = [
            (self.execute.is_some(), Capabilities::EXECUTE),
            (self.http.is_some(), Capabilities::HTTP),
            (self.config.is_some(), Capabilities::CONFIG),
            (self.display.is_some(), Capabilities::DISPLAY),
        ];
        for (present, flag) in flags {
            if present {
                caps |= flag;
            }
        }
        caps
    }
}

/// The capability functions of `I` as constants, chosen by the traits it implements.
///
/// `<CapFns<I>>::EXECUTE` resolves to the inherent constant (`Some`) when `I: Executor` holds
/// and to the trait constant of [`ExecuteFnAbsent`] (`None`) otherwise: inherent items win,
/// and an inherent item whose bounds fail is not a candidate (the same rule as
/// [`crate::__private::CapConst`]). It only works where `I` is concrete, which is why the
/// export macro, not generic code, asks.
pub struct CapFns<I>(PhantomData<I>);

macro_rules! cap_fns {
    ($absent:ident, $name:ident, $trait:path, $ty:ty, $found:expr) => {
        impl<I: $trait> CapFns<I> {
            /// `Some`: `I` implements the trait.
            pub const $name: Option<$ty> = Some($found);
        }
        #[doc(hidden)]
        pub trait $absent<I> {
            /// `None`: the type lacks the trait.
            const $name: Option<$ty> = None;
        }
        impl<I> $absent<I> for CapFns<I> {}
    };
}

cap_fns!(
    ExecuteFnAbsent,
    EXECUTE,
    Executor,
    ExecuteFn<I>,
    |i: &I, label: &str, input: Values| i.execute(label, input)
);
cap_fns!(
    HttpFnsAbsent,
    HTTP,
    HttpHandler,
    (RoutesFn<I>, HandleFn<I>),
    (|i: &I| i.routes(), |i: &I, r: Request| i.handle(r))
);
cap_fns!(
    ConfigFnsAbsent,
    CONFIG,
    Configurer,
    (DefaultConfigFn<I>, SetConfigFn<I>),
    (default_config_text::<I>, set_config_text::<I>)
);
cap_fns!(
    DisplayFnAbsent,
    DISPLAY,
    Displayer,
    DisplayFn<I>,
    |i: &I, location: &str| i.display(location)
);

fn default_config_text<I: Configurer>(instance: &I) -> Result<String> {
    serde_json::to_string_pretty(&instance.default_config())
        .map_err(|e| Error::failed(format!("cannot serialise the default configuration: {e}")))
}

fn set_config_text<I: Configurer>(instance: &I, text: &str) -> Result<()> {
    let config: I::Config = serde_json::from_str(text)
        .map_err(|e| Error::invalid_config(format!("configuration is not valid: {e}")))?;
    instance.set_config(config).map_err(|e| match e.kind() {
        ErrorKind::FAILED | ErrorKind::INVALID_INPUT => Error::invalid_config(e.message()),
        _ => e,
    })
}

/// Set while the in-process harness drives a plugin: the process's panic hook then belongs to
/// the test runner and must not be replaced.
pub(crate) static IN_HARNESS: AtomicBool = AtomicBool::new(false);

fn unsupported(capability: &str) -> PluginError {
    PluginError::new(
        ErrorKind::UNSUPPORTED,
        format!("this plugin does not offer the `{capability}` capability"),
    )
}

/// Builds the root module for `P`. Called once per library by abi_stable's loader.
pub fn root_module<P: ExportedPlugin>() -> PluginModuleRef {
    let descriptor = P::descriptor().leak_into_prefix();
    let module = PluginModule {
        descriptor,
        capabilities: P::capabilities().capabilities(),
        on_load: on_load::<P>,
        on_unload: on_unload::<P>,
        new_instance: new_instance::<P>,
        extensions: RSlice::from_slice(P::extensions()),
    };
    // Leaked on purpose: the module lives as long as the library, which is never unloaded.
    module.leak_into_prefix()
}

/// The declaration of `P`'s implementation of the extension point `E`, for the root module.
pub fn extension_decl<E, P>() -> ExtensionDeclRef
where
    E: ImplementedBy<P>,
    P: ExportedPlugin,
{
    ExtensionDecl {
        id: RStr::from_str(E::ID),
        version: RStr::from_str(E::VERSION),
        layout: E::LAYOUT,
        construct: construct_extension::<E, P>,
    }
    .leak_into_prefix()
}

/// Leaks the list of declarations: it lives as long as the library, which is never unloaded.
pub fn leak_extensions(list: Vec<ExtensionDeclRef>) -> &'static [ExtensionDeclRef] {
    list.leak()
}

extern "C" fn construct_extension<E, P>(slot: ExtensionSlot) -> RResult<(), PluginError>
where
    E: ImplementedBy<P>,
    P: ExportedPlugin,
{
    guard_lifecycle("construct extension", || {
        let plugin = P::state().get().ok_or_else(|| {
            PluginError::new(
                ErrorKind::UNAVAILABLE,
                format!(
                    "the host asked for extension `{}` before `on_load` succeeded",
                    E::ID
                ),
            )
        })?;
        // SAFETY: the host made the slot for its own `E::Object`, whose layout it checked
        // against this plugin's (`E::LAYOUT`) before calling; `write` checks size and alignment.
        unsafe { slot.write(E::object(plugin)) }
    })
}

extern "C" fn on_load<P: ExportedPlugin>(services: HostServicesBox) -> RResult<(), PluginError> {
    if !IN_HARNESS.load(Ordering::SeqCst) {
        crate::panic::install_hook();
    }
    let services = Services::new(services);
    logging::forward_to(Some(services.clone()));
    guard_lifecycle("on_load", || {
        let plugin = P::load(&services)?;
        P::state().replace(Some(Arc::new(plugin)));
        Ok(())
    })
}

extern "C" fn on_unload<P: ExportedPlugin>() -> RResult<(), PluginError> {
    let result = guard_lifecycle("on_unload", || match P::state().replace(None) {
        Some(plugin) => Ok(plugin.unload()?),
        None => Ok(()),
    });
    logging::forward_to(None);
    result
}

extern "C" fn new_instance<P: ExportedPlugin>(
    user: UserContext,
    services: HostServicesBox,
) -> RResult<PluginInstanceBox, PluginError> {
    guard_lifecycle("new_instance", || {
        let plugin = P::state().get().ok_or_else(|| {
            PluginError::new(
                ErrorKind::UNAVAILABLE,
                "the host asked for an instance before `on_load` succeeded",
            )
        })?;
        let user = User {
            id: user.id,
            name: user.name.into_string(),
            admin: user.admin,
        };
        let instance = plugin.new_instance(&user, Services::new(services))?;
        let adapter = InstanceAdapter::<P> {
            inner: ManuallyDrop::new(instance),
        };
        Ok(PluginInstance_TO::from_value(adapter, TD_Opaque))
    })
}

/// An author's instance behind the boundary's `PluginInstance` trait.
struct InstanceAdapter<P: ExportedPlugin> {
    inner: ManuallyDrop<P::Instance>,
}

impl<P: ExportedPlugin> Drop for InstanceAdapter<P> {
    fn drop(&mut self) {
        // The host drops instances through an `extern "C"` vtable entry, where a panic
        // would abort the host; a panicking `Drop` is logged and swallowed instead.
        let inner = &mut self.inner;
        // SAFETY: `inner` is dropped exactly once, here, and never used again.
        let result = panic::catch_unwind(AssertUnwindSafe(|| unsafe { ManuallyDrop::drop(inner) }));
        if result.is_err() {
            log::error!("an instance panicked while being dropped");
        }
    }
}

// The entry points are `#[inline]` so that each vtable entry (abi_stable's `extern "C"`
// shim) holds the whole call: the guard, the conversions and the author's method.
impl<P: ExportedPlugin> PluginInstance for InstanceAdapter<P> {
    #[inline]
    fn enable(&self) -> RResult<(), PluginError> {
        guard("enable", || Ok(self.inner.enable()?))
    }

    #[inline]
    fn disable(&self) -> RResult<(), PluginError> {
        guard("disable", || Ok(self.inner.disable()?))
    }

    #[inline]
    fn execute(
        &self,
        label: RStr<'_>,
        input: RSlice<'_, KeyValue>,
    ) -> RResult<RVec<KeyValue>, PluginError> {
        guard("execute", || {
            let execute = P::capabilities()
                .execute
                .ok_or_else(|| unsupported("execute"))?;
            let input = value::values_from_abi(input)?;
            Ok(value::values_to_abi(execute(
                &self.inner,
                label.as_str(),
                input,
            )?))
        })
    }

    #[inline]
    fn routes(&self) -> RResult<RVec<RouteSpec>, PluginError> {
        guard("routes", || {
            let (routes, _) = P::capabilities().http.ok_or_else(|| unsupported("http"))?;
            Ok(routes(&self.inner)
                .into_iter()
                .map(RouteSpec::from)
                .collect())
        })
    }

    #[inline]
    fn handle_http(&self, request: HttpRequest) -> RResult<HttpResponse, PluginError> {
        guard("handle_http", || {
            let (_, handle) = P::capabilities().http.ok_or_else(|| unsupported("http"))?;
            Ok(handle(&self.inner, Request::from(request))?.into())
        })
    }

    #[inline]
    fn default_config(&self) -> RResult<RString, PluginError> {
        guard("default_config", || {
            let (default_config, _) = P::capabilities()
                .config
                .ok_or_else(|| unsupported("config"))?;
            Ok(default_config(&self.inner)?.into())
        })
    }

    #[inline]
    fn set_config(&self, config: RStr<'_>) -> RResult<(), PluginError> {
        guard("set_config", || {
            let (_, set_config) = P::capabilities()
                .config
                .ok_or_else(|| unsupported("config"))?;
            Ok(set_config(&self.inner, config.as_str())?)
        })
    }

    #[inline]
    fn display(&self, location: RStr<'_>) -> RResult<RString, PluginError> {
        guard("display", || {
            let display = P::capabilities()
                .display
                .ok_or_else(|| unsupported("display"))?;
            Ok(display(&self.inner, location.as_str())?.into())
        })
    }
}
