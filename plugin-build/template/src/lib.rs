//! A plugin made from the template. It shows the common capabilities, lightly:
//!
//! - `execute`: the operation `hello` greets `name` (or the calling user);
//! - `config`: the greeting word is configurable, and an empty one is refused;
//! - `display`: a line of markdown for the host's user interface;
//! - `http`: a webhook, `POST /webhook`, whose body becomes a message for the user (gotify's
//!   idiom; plugin-server mounts it at `/plugin/<id>/custom/<token>/webhook`);
//! - `log`: records go to the host's log for this plugin.
//!
//! Try it after deploying: `plugin-host call --plugins-dir DIR <id> hello name=Ada`.

use std::sync::Mutex;

use plugrack_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The plugin: one per loaded library.
pub struct TemplatePlugin;

/// The configuration of one instance, carried as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The word `hello` starts with.
    pub greeting: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            greeting: "Hello".into(),
        }
    }
}

/// One user's instance: the host may call it from many threads at once.
pub struct TemplateInstance {
    user: User,
    services: Services,
    config: Mutex<Config>,
}

impl TemplateInstance {
    fn greeting(&self) -> String {
        let config = self.config.lock().unwrap_or_else(|e| e.into_inner());
        config.greeting.clone()
    }
}

impl Plugin for TemplatePlugin {
    type Instance = TemplateInstance;

    fn load(services: &Services) -> Result<Self> {
        log::info!("loaded in host {}", services.host_version());
        Ok(TemplatePlugin)
    }

    fn new_instance(&self, user: &User, services: Services) -> Result<TemplateInstance> {
        Ok(TemplateInstance {
            user: user.clone(),
            services,
            config: Mutex::new(Config::default()),
        })
    }
}

impl Instance for TemplateInstance {}

impl Executor for TemplateInstance {
    fn execute(&self, label: &str, input: Values) -> Result<Values> {
        match label {
            "hello" => {
                let name = input
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(&self.user.name);
                let mut out = Values::new();
                out.insert(
                    "message".into(),
                    format!("{}, {name}!", self.greeting()).into(),
                );
                Ok(out)
            }
            other => Err(Error::not_found(format!(
                "no operation labelled `{other}`; try `hello`"
            ))),
        }
    }
}

impl HttpHandler for TemplateInstance {
    fn routes(&self) -> Vec<Route> {
        vec![Route::new("POST", "/webhook", "webhook")]
    }

    fn handle(&self, request: Request) -> Result<Response> {
        let text = String::from_utf8_lossy(&request.body);
        self.services.send(Message::new("Webhook", text.as_ref()))?;
        let answer = format!("{}, {}! Message sent.", self.greeting(), self.user.name);
        Ok(Response::text(answer))
    }
}

impl Configurer for TemplateInstance {
    type Config = Config;

    fn default_config(&self) -> Config {
        Config::default()
    }

    fn set_config(&self, config: Config) -> Result<()> {
        if config.greeting.trim().is_empty() {
            return Err(Error::invalid_config("`greeting` must not be empty"));
        }
        *self.config.lock().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }
}

impl Displayer for TemplateInstance {
    fn display(&self, _location: &str) -> Result<String> {
        Ok(format!(
            "Says **{}** to {}.",
            self.greeting(),
            self.user.name
        ))
    }
}

plugrack_sdk::export_plugin!(TemplatePlugin);

#[cfg(test)]
mod tests {
    use plugrack_sdk::testing::Harness;

    use super::*;

    #[test]
    fn hello_greets_by_name_or_as_the_user() {
        let harness = Harness::<TemplatePlugin>::load().unwrap();
        assert_eq!(
            harness.capabilities(),
            ["execute", "http", "config", "display"]
        );
        let ada = harness.instance(User::new(1, "Ada")).unwrap();

        let out = ada.execute("hello", Values::new()).unwrap();
        assert_eq!(out["message"], Value::from("Hello, Ada!"));

        let mut input = Values::new();
        input.insert("name".into(), "World".into());
        let out = ada.execute("hello", input).unwrap();
        assert_eq!(out["message"], Value::from("Hello, World!"));

        let err = ada.execute("bye", Values::new()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NOT_FOUND);
    }

    #[test]
    fn the_webhook_turns_its_body_into_a_message() {
        let harness = Harness::<TemplatePlugin>::load().unwrap();
        let ada = harness.instance(User::new(1, "Ada")).unwrap();
        let mut request = Request::new("POST", "/webhook", "webhook");
        request.body = b"backup done".to_vec();
        let response = ada.http(request).unwrap();
        assert_eq!(response.body, b"Hello, Ada! Message sent.");
        let (_, message) = &harness.messages()[0];
        assert_eq!(
            (message.title.as_str(), message.message.as_str()),
            ("Webhook", "backup done")
        );
    }

    #[test]
    fn the_greeting_is_configurable_and_never_empty() {
        let harness = Harness::<TemplatePlugin>::load().unwrap();
        let ada = harness.instance(User::new(1, "Ada")).unwrap();
        let default = ada.default_config().unwrap();
        assert!(default.contains(r#""greeting": "Hello""#), "{default}");

        ada.set_config(r#"{"greeting": "Howdy"}"#).unwrap();
        let out = ada.execute("hello", Values::new()).unwrap();
        assert_eq!(out["message"], Value::from("Howdy, Ada!"));
        assert_eq!(ada.display("").unwrap(), "Says **Howdy** to Ada.");

        let err = ada.set_config(r#"{"greeting": " "}"#).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::INVALID_CONFIG);
    }
}
