//! A plugin that crashes on purpose, in ways no `catch_unwind` can contain, so tests can prove
//! that an out-of-process host keeps running, reports what happened, and restarts the worker.
//! Loaded in process, it would take its host down: it is only ever run in a worker.
//!
//! The faults, by name: `segfault` (a write through a null pointer), `abort`,
//! `stack-overflow` (unbounded recursion), `exit` (exit code 3), `hang` (sleeps for an hour),
//! `alloc` (allocates 8 GiB at once, past any sensible address-space limit).
//!
//! - execute: the label names the fault; `ok` answers `{"pid": <worker pid>, "greeting": ...}`,
//!   `sleep` sleeps for `ms` milliseconds first, `log` writes `message` to the plugin's log
//!   and `eprint` to its stderr; `read` and `write` try the file `path` (to show what the
//!   worker's confinement allows) and answer `{"ok": bool, "error": "..."}`;
//! - HTTP: `GET /crash/<fault>` (label `crash`) crashes the same way, `GET /ok` answers 200;
//! - `on_load` crashes when the plugin-wide storage holds `on_load=<fault>`;
//! - configuration: `{"greeting": "..."}`, to show that a restarted instance keeps it.

use std::sync::Mutex;

use plugrack_sdk::prelude::*;
use serde::{Deserialize, Serialize};

/// Crashes in the named way; returns normally only for an unknown name.
pub fn crash(fault: &str) {
    match fault {
        "segfault" => {
            let null = std::hint::black_box(std::ptr::null_mut::<u64>());
            // SAFETY: none; this crash is the point.
            unsafe { null.write_volatile(42) };
        }
        "abort" => std::process::abort(),
        "stack-overflow" => {
            std::hint::black_box(recurse(std::hint::black_box(1)));
        }
        "exit" => std::process::exit(3),
        "hang" => std::thread::sleep(std::time::Duration::from_secs(3600)),
        "alloc" => {
            let big: Vec<u8> = vec![1; 8 << 30];
            std::hint::black_box(&big);
        }
        _ => {}
    }
}

#[expect(unconditional_recursion, reason = "a stack overflow on purpose")]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + frame[0]
}

/// The faults [`crash`] knows.
pub const FAULTS: [&str; 6] = [
    "segfault",
    "abort",
    "stack-overflow",
    "exit",
    "hang",
    "alloc",
];

/// The plugin.
pub struct Crashy;

impl Plugin for Crashy {
    type Instance = CrashyInstance;

    fn load(services: &Services) -> Result<Self> {
        let stored = String::from_utf8(services.load()?).unwrap_or_default();
        if let Some(fault) = stored.trim().strip_prefix("on_load=") {
            eprintln!("crashy: crashing in on_load: {fault}");
            crash(fault);
        }
        log::info!("crashy loaded in process {}", std::process::id());
        Ok(Crashy)
    }

    fn new_instance(&self, _user: &User, _services: Services) -> Result<CrashyInstance> {
        Ok(CrashyInstance {
            config: Mutex::new(Config::default()),
        })
    }
}

/// The configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    /// Answered by `ok`.
    pub greeting: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            greeting: "hello".into(),
        }
    }
}

/// An instance.
pub struct CrashyInstance {
    config: Mutex<Config>,
}

impl Instance for CrashyInstance {}

impl Executor for CrashyInstance {
    fn execute(&self, label: &str, input: Values) -> Result<Values> {
        match label {
            "ok" => {
                let greeting = self.config.lock().unwrap().greeting.clone();
                Ok(Values::from([
                    ("pid".to_owned(), Value::Int(i64::from(std::process::id()))),
                    ("greeting".to_owned(), Value::Str(greeting)),
                ]))
            }
            "sleep" => {
                let ms = match input.get("ms") {
                    Some(Value::Int(ms)) => *ms as u64,
                    _ => 1000,
                };
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(Values::new())
            }
            "log" => {
                let message = match input.get("message") {
                    Some(Value::Str(m)) => m.clone(),
                    _ => "a line".into(),
                };
                log::warn!("{message}");
                Ok(Values::new())
            }
            "read" | "write" => {
                let path = match input.get("path") {
                    Some(Value::Str(p)) => p.clone(),
                    _ => return Err(Error::invalid_input("`path` is required")),
                };
                let result = if label == "read" {
                    std::fs::read(&path).map(drop)
                } else {
                    std::fs::write(&path, b"written by crashy")
                };
                Ok(Values::from([
                    ("ok".to_owned(), Value::Bool(result.is_ok())),
                    (
                        "error".to_owned(),
                        Value::Str(result.err().map(|e| e.to_string()).unwrap_or_default()),
                    ),
                ]))
            }
            "eprint" => {
                let message = match input.get("message") {
                    Some(Value::Str(m)) => m.clone(),
                    _ => "a line".into(),
                };
                eprintln!("{message}");
                Ok(Values::new())
            }
            fault => {
                eprintln!("crashy: crashing in execute: {fault}");
                crash(fault);
                Err(Error::not_found(format!("no fault named `{fault}`")))
            }
        }
    }
}

impl HttpHandler for CrashyInstance {
    fn routes(&self) -> Vec<Route> {
        vec![
            Route::new("GET", "/crash/:fault", "crash"),
            Route::new("GET", "/ok", "ok"),
        ]
    }

    fn handle(&self, request: Request) -> Result<Response> {
        if request.label == "crash" {
            let fault = request
                .path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            eprintln!("crashy: crashing in an HTTP handler: {fault}");
            crash(&fault);
        }
        Ok(Response::text("ok"))
    }
}

impl Configurer for CrashyInstance {
    type Config = Config;

    fn default_config(&self) -> Config {
        Config::default()
    }

    fn set_config(&self, config: Config) -> Result<()> {
        *self.config.lock().unwrap() = config;
        Ok(())
    }
}

plugrack_sdk::export_plugin!(Crashy);
