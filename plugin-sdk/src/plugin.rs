//! The traits a plugin author implements.

use serde::{de::DeserializeOwned, Serialize};

use crate::{Request, Response, Result, Route, Services, Values};

/// The user an instance is created for (gotify's per-user context).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The host's id for the user.
    pub id: u64,
    /// The user's name.
    pub name: String,
    /// Whether the user is an administrator.
    pub admin: bool,
}

impl User {
    /// A non-admin user.
    pub fn new(id: u64, name: &str) -> Self {
        Self {
            id,
            name: name.into(),
            admin: false,
        }
    }
}

/// The plugin as a whole: created once when the host loads the library.
///
/// ```
/// use plugrack_sdk::prelude::*;
///
/// struct Hello;
/// struct HelloInstance;
/// impl Instance for HelloInstance {}
///
/// impl Plugin for Hello {
///     type Instance = HelloInstance;
///     fn load(_services: &Services) -> Result<Self> {
///         Ok(Hello)
///     }
///     fn new_instance(&self, _user: &User, _services: Services) -> Result<HelloInstance> {
///         Ok(HelloInstance)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a plugin: it does not implement `plugrack_sdk::Plugin`",
    label = "the type given to `export_plugin!`",
    note = "implement `plugrack_sdk::Plugin` for `{Self}` (see the plugin author guide)"
)]
pub trait Plugin: Sized + Send + Sync + 'static {
    /// The per-user instance type.
    type Instance: Instance;

    /// Called once when the host loads the plugin (GoCD's `@Load`); an error makes the plugin
    /// invalid. `services` is bound to the whole plugin; its storage is plugin-wide.
    fn load(services: &Services) -> Result<Self>;

    /// Called once before the host forgets the plugin (GoCD's `@UnLoad`).
    fn unload(&self) -> Result<()> {
        Ok(())
    }

    /// Creates the instance for `user`; `services` is bound to that instance.
    ///
    /// A plugin that only implements host-defined extension points has no instances: it sets
    /// `type Instance = NoInstance` and keeps this default, which refuses.
    fn new_instance(&self, user: &User, services: Services) -> Result<Self::Instance> {
        let _ = (user, services);
        Err(crate::Error::unsupported(
            "this plugin has no instances: it only implements extension points",
        ))
    }
}

/// The instance type of a plugin without instances (one that only implements host-defined
/// extension points): no capability, never created.
#[derive(Debug)]
pub enum NoInstance {}

impl Instance for NoInstance {}

/// One instance of a plugin. Called from many threads at once: use interior mutability.
pub trait Instance: Send + Sync + 'static {
    /// Turns the instance on; an error leaves it disabled.
    fn enable(&self) -> Result<()> {
        Ok(())
    }

    /// Turns the instance off.
    fn disable(&self) -> Result<()> {
        Ok(())
    }
}

/// Capability `execute`: labelled operations over a value context (go-plugin's `Execute`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement the execute capability",
    label = "implement `plugrack_sdk::Executor` for `{Self}`"
)]
pub trait Executor: Instance {
    /// Runs the operation named `label` with `input`; returns the output values.
    fn execute(&self, label: &str, input: Values) -> Result<Values>;
}

/// Capability `http`: routes the host mounts and the handler for them.
pub trait HttpHandler: Instance {
    /// The routes to mount.
    fn routes(&self) -> Vec<Route>;
    /// Answers a request on one of the routes.
    fn handle(&self, request: Request) -> Result<Response>;
}

/// Capability `config`: a typed configuration, carried as JSON text, validated by the plugin.
pub trait Configurer: Instance {
    /// The configuration type.
    type Config: Serialize + DeserializeOwned;
    /// The configuration a new instance starts with.
    fn default_config(&self) -> Self::Config;
    /// Checks a configuration and, if valid, makes it current.
    fn set_config(&self, config: Self::Config) -> Result<()>;
}

/// Capability `display`: markdown the host shows to the user (gotify's `Displayer`).
pub trait Displayer: Instance {
    /// The markdown; `location` is the host's base URL.
    fn display(&self, location: &str) -> Result<String>;
}
