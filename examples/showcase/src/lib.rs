//! An example plugin that uses every capability and every host service of `plugrack-api`.
//!
//! Tests load its shared library in a real host and check each round trip; authors can read
//! it as a tour of the SDK.
//!
//! - execute labels: `greet`, `echo`, `count` (per-user counter in storage), `notify`
//!   (messenger), `log` (logger), `config` (current configuration), `host` (host version);
//! - HTTP: `GET /hello` (`?delay_ms=N`, at most 5000, answers slowly, for tests of a host
//!   that must not stall), `POST /echo`, `POST /notify` (gotify's webhook: the body becomes
//!   a message for the instance's user), `GET /items/:id` (a route with a parameter),
//!   `POST /count` (the `count` operation, over HTTP);
//! - configuration: `{"greeting": "...", "max_count": N}`, refusing an empty greeting;
//! - display: a markdown summary for the user.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Mutex,
};

use plugrack_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// The plugin as a whole.
pub struct Showcase {
    /// How many times the host has loaded this plugin, kept in plugin-wide storage.
    loads: u64,
}

impl Plugin for Showcase {
    type Instance = ShowcaseInstance;

    fn load(services: &Services) -> Result<Self> {
        let loads = services.load_json::<u64>()?.unwrap_or(0) + 1;
        services.save_json(&loads)?;
        log::info!(
            "showcase loaded (load number {loads}, host {})",
            services.host_version()
        );
        Ok(Self { loads })
    }

    fn unload(&self) -> Result<()> {
        log::info!("showcase unloading after {} loads", self.loads);
        Ok(())
    }

    fn new_instance(&self, user: &User, services: Services) -> Result<ShowcaseInstance> {
        log::debug!("new instance for user {} ({})", user.id, user.name);
        Ok(ShowcaseInstance {
            user: user.clone(),
            services,
            enabled: AtomicBool::new(false),
            config: Mutex::new(Config::default()),
        })
    }
}

/// The configuration of one instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How `greet` starts.
    pub greeting: String,
    /// The highest value `count` reaches before it refuses.
    pub max_count: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            greeting: "Hello".into(),
            max_count: 1000,
        }
    }
}

/// One user's instance.
pub struct ShowcaseInstance {
    user: User,
    services: Services,
    enabled: AtomicBool,
    config: Mutex<Config>,
}

impl ShowcaseInstance {
    fn config(&self) -> Config {
        self.config
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn greeting(&self, name: &str) -> String {
        format!("{}, {name}!", self.config().greeting)
    }
}

impl Instance for ShowcaseInstance {
    fn enable(&self) -> Result<()> {
        self.enabled.store(true, Ordering::SeqCst);
        log::info!("enabled for {}", self.user.name);
        Ok(())
    }

    fn disable(&self) -> Result<()> {
        self.enabled.store(false, Ordering::SeqCst);
        log::info!("disabled for {}", self.user.name);
        Ok(())
    }
}

fn required<'a>(input: &'a Values, key: &str) -> Result<&'a str> {
    input
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_input(format!("missing text value `{key}`")))
}

impl Executor for ShowcaseInstance {
    fn execute(&self, label: &str, input: Values) -> Result<Values> {
        let mut out = Values::new();
        match label {
            "greet" => {
                let name = input
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or(&self.user.name);
                out.insert("greeting".into(), self.greeting(name).into());
            }
            "echo" => return Ok(input),
            "count" => {
                let count = self.services.load_json::<u64>()?.unwrap_or(0) + 1;
                if count > self.config().max_count {
                    return Err(Error::failed(format!(
                        "count would exceed max_count {}",
                        count - 1
                    )));
                }
                self.services.save_json(&count)?;
                out.insert("count".into(), Value::Int(count as i64));
            }
            "notify" => {
                let priority = input.get("priority").and_then(Value::as_int).unwrap_or(0);
                let message =
                    Message::new(required(&input, "title")?, required(&input, "message")?)
                        .priority(priority as i32);
                self.services.send(message)?;
                out.insert("sent".into(), true.into());
            }
            "log" => {
                let text = required(&input, "message")?;
                match input.get("level").and_then(Value::as_str).unwrap_or("info") {
                    "error" => log::error!("{text}"),
                    "warn" => log::warn!("{text}"),
                    "debug" => log::debug!("{text}"),
                    "trace" => log::trace!("{text}"),
                    _ => log::info!("{text}"),
                }
                out.insert("logged".into(), true.into());
            }
            "config" => {
                let config = serde_json::to_value(self.config())
                    .map_err(|e| Error::failed(e.to_string()))?;
                out.insert("config".into(), Value::Json(config));
            }
            "host" => {
                out.insert("host_version".into(), self.services.host_version().into());
            }
            other => return Err(Error::not_found(format!("no operation labelled `{other}`"))),
        }
        Ok(out)
    }
}

impl HttpHandler for ShowcaseInstance {
    fn routes(&self) -> Vec<Route> {
        vec![
            Route::new("GET", "/hello", "hello"),
            Route::new("POST", "/echo", "echo"),
            Route::new("POST", "/notify", "notify"),
            Route::new("GET", "/items/:id", "item"),
            Route::new("POST", "/count", "count"),
        ]
    }

    fn handle(&self, request: Request) -> Result<Response> {
        match request.label.as_str() {
            "hello" => {
                let delay = query_value(&request.query, "delay_ms")
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
                    .min(5000);
                std::thread::sleep(std::time::Duration::from_millis(delay));
                Ok(Response::text(self.greeting(&self.user.name)))
            }
            "notify" => {
                let text = String::from_utf8_lossy(&request.body).into_owned();
                let title = query_value(&request.query, "title").unwrap_or("Webhook");
                self.services.send(Message::new(title, text))?;
                Ok(Response::status(202).with_body(b"sent".to_vec()))
            }
            "count" => {
                let out = self.execute("count", Values::new())?;
                let count = out.get("count").and_then(Value::as_int).unwrap_or(0);
                Ok(Response::json(&serde_json::json!({ "count": count })))
            }
            "item" => {
                let id = request.path.rsplit('/').next().unwrap_or_default();
                Ok(Response::json(&serde_json::json!({ "item": id })))
            }
            "echo" => {
                let content_type = request
                    .header("content-type")
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                Ok(Response::status(200)
                    .with_header("content-type", &content_type)
                    .with_body(request.body))
            }
            other => Ok(Response::status(404)
                .with_body(format!("no route labelled `{other}`").into_bytes())),
        }
    }
}

/// The value of `key` in a query string (no percent-decoding: the tests send plain words).
fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

impl Configurer for ShowcaseInstance {
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

impl Displayer for ShowcaseInstance {
    fn display(&self, location: &str) -> Result<String> {
        let config = self.config();
        Ok(format!(
            "## Showcase\n\nHello **{}**. Greeting: {}. Try `{location}/plugin/showcase/hello`.\n",
            self.user.name, config.greeting
        ))
    }
}

plugrack_sdk::export_plugin!(Showcase);

#[cfg(test)]
mod tests {
    use plugrack_sdk::testing::Harness;

    use super::*;

    #[test]
    fn every_capability_through_the_harness() {
        let harness = Harness::<Showcase>::load().unwrap();
        assert_eq!(
            harness.capabilities(),
            ["execute", "http", "config", "display"]
        );
        let alice = harness.instance(User::new(7, "alice")).unwrap();

        let out = alice.execute("greet", Values::new()).unwrap();
        assert_eq!(out["greeting"], Value::from("Hello, alice!"));

        alice
            .set_config(r#"{"greeting": "Howdy", "max_count": 2}"#)
            .unwrap();
        let hello = alice.http(Request::new("GET", "/hello", "hello")).unwrap();
        assert_eq!(hello.body, b"Howdy, alice!");
        let item = alice
            .http(Request::new("GET", "/items/42", "item"))
            .unwrap();
        assert_eq!(item.body, br#"{"item":"42"}"#);

        let err = alice
            .set_config(r#"{"greeting": " ", "max_count": 2}"#)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::INVALID_CONFIG);

        for expected in 1..=2 {
            let out = alice.execute("count", Values::new()).unwrap();
            assert_eq!(out["count"], Value::Int(expected));
        }
        assert!(
            alice.execute("count", Values::new()).is_err(),
            "max_count is 2"
        );
        assert_eq!(harness.stored("user-7").unwrap(), b"2");

        let mut input = Values::new();
        input.insert("title".into(), "t".into());
        input.insert("message".into(), "m".into());
        alice.execute("notify", input).unwrap();
        assert_eq!(harness.messages()[0].1.title, "t");

        assert!(alice.display("http://host").unwrap().contains("**alice**"));
        assert!(harness
            .logs()
            .iter()
            .any(|l| l.message.contains("showcase loaded")));
    }
}
