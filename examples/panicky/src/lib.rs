//! A plugin that panics on purpose in each entry point, so tests can prove that every panic
//! comes back to the host as an error and the host keeps running.
//!
//! - `on_load` panics when the environment variable `PANICKY_PANIC_ON_LOAD` is set, and
//!   first sleeps for `PANICKY_SLEEP_ON_LOAD_MS` milliseconds when that is set (a hung start);
//! - `new_instance` panics for a user named `panic-new`, `enable` for a user named
//!   `panic-enable`;
//! - every other entry point (`disable`, `execute`, `routes`, `handle`, `default_config`,
//!   `set_config`, `display`, `on_unload`) always panics;
//! - so do the methods of the text pipeline's extension points it implements (`Formatter`'s
//!   `format` and `name`, `Linter`'s `lint`).

use plugrack_sdk::prelude::*;
use text_pipeline_api::{
    std_types::{RStr, RString, RVec},
    Error as PluginError, Finding, Formatter, Linter,
};

/// The plugin.
pub struct Panicky;

impl Plugin for Panicky {
    type Instance = PanickyInstance;

    fn load(_services: &Services) -> Result<Self> {
        if let Some(ms) = std::env::var("PANICKY_SLEEP_ON_LOAD_MS")
            .ok()
            .and_then(|v| v.parse().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        if std::env::var_os("PANICKY_PANIC_ON_LOAD").is_some() {
            panic!("panicky: on_load panicked on purpose");
        }
        Ok(Panicky)
    }

    fn unload(&self) -> Result<()> {
        panic!("panicky: on_unload panicked on purpose")
    }

    fn new_instance(&self, user: &User, _services: Services) -> Result<PanickyInstance> {
        if user.name == "panic-new" {
            panic!("panicky: new_instance panicked on purpose");
        }
        Ok(PanickyInstance {
            user: user.name.clone(),
        })
    }
}

/// An instance.
pub struct PanickyInstance {
    user: String,
}

impl Instance for PanickyInstance {
    fn enable(&self) -> Result<()> {
        if self.user == "panic-enable" {
            panic!("panicky: enable panicked on purpose");
        }
        Ok(())
    }

    fn disable(&self) -> Result<()> {
        panic!("panicky: disable panicked on purpose")
    }
}

impl Executor for PanickyInstance {
    fn execute(&self, label: &str, _input: Values) -> Result<Values> {
        panic!("panicky: execute `{label}` panicked on purpose")
    }
}

impl HttpHandler for PanickyInstance {
    fn routes(&self) -> Vec<Route> {
        panic!("panicky: routes panicked on purpose")
    }

    fn handle(&self, _request: Request) -> Result<Response> {
        panic!("panicky: handle panicked on purpose")
    }
}

/// An empty configuration.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Nothing {}

impl Configurer for PanickyInstance {
    type Config = Nothing;

    fn default_config(&self) -> Nothing {
        panic!("panicky: default_config panicked on purpose")
    }

    fn set_config(&self, _config: Nothing) -> Result<()> {
        panic!("panicky: set_config panicked on purpose")
    }
}

impl Displayer for PanickyInstance {
    fn display(&self, _location: &str) -> Result<String> {
        panic!("panicky: display panicked on purpose")
    }
}

impl Formatter for Panicky {
    fn format(&self, _text: RStr<'_>) -> RString {
        panic!("panicky: format panicked on purpose")
    }

    fn name(&self) -> RString {
        panic!("panicky: name panicked on purpose")
    }
}

impl Linter for Panicky {
    fn lint(&self, _text: RStr<'_>) -> std::result::Result<RVec<Finding>, PluginError> {
        panic!("panicky: lint panicked on purpose")
    }
}

plugrack_sdk::export_plugin!(Panicky, extensions = [Formatter, Linter]);

#[cfg(test)]
mod tests {
    use plugrack_sdk::testing::Harness;

    use super::*;

    #[test]
    fn panics_come_back_as_errors_in_process() {
        let harness = Harness::<Panicky>::load().unwrap();
        let instance = harness.instance(User::new(1, "bob")).unwrap();
        let err = instance.execute("boom", Values::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PANICKED);
        assert!(
            err.message().contains("execute `boom` panicked on purpose"),
            "{err}"
        );
        let err = harness.instance(User::new(2, "panic-new")).err().unwrap();
        assert!(err.message().contains("new_instance"), "{err}");
    }
}
