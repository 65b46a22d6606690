//! Calling loaded plugins: every capability and host service round-trips through a real
//! shared library, and a panic in any entry point comes back as an error.

use std::{
    fs,
    sync::{Arc, Mutex, OnceLock},
    thread,
};

use plugin_tests::{artifacts, plugin_dir};
use plugrack_host::{
    CallError, ErrorKind, HostConfig, MessageEvent, PluginManager, PluginStatus, Request, User,
    Value, Values,
};

/// Collects every log record in this test process, so tests can see what plugins logged.
struct Capture(Mutex<Vec<(String, log::Level, String)>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        self.0.lock().unwrap().push((
            record.target().to_owned(),
            record.level(),
            record.args().to_string(),
        ));
    }
    fn flush(&self) {}
}

fn captured() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::default())));
        log::set_logger(capture).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

fn values(pairs: &[(&str, Value)]) -> Values {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn text(s: &str) -> Value {
    Value::Str(s.into())
}

#[test]
fn execute_round_trips_every_value_type() {
    let dir = plugin_dir(&[("showcase.so", &artifacts().showcase)]);
    let manager = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
    manager.load_dir(dir.path());
    let alice = manager
        .instance("showcase", &User::new(1, "alice"))
        .unwrap();
    let input = values(&[
        ("null", Value::Null),
        ("bool", Value::Bool(true)),
        ("int", Value::Int(-42)),
        ("float", Value::Float(2.5)),
        ("text", text("héllo")),
        ("bytes", Value::Bytes(vec![0, 159, 255].into())),
        ("json", Value::Json(r#"{"a":[1,2]}"#.into())),
    ]);
    assert_eq!(alice.execute("echo", &input).unwrap(), input);
    let greeting = alice
        .execute("greet", &values(&[("name", text("Bob"))]))
        .unwrap();
    assert_eq!(greeting["greeting"], text("Hello, Bob!"));

    let err = alice.execute("no-such-label", &Values::new()).unwrap_err();
    assert_eq!(err.plugin_error().unwrap().kind, ErrorKind::NOT_FOUND);
    let err = alice.execute("notify", &Values::new()).unwrap_err();
    assert_eq!(err.plugin_error().unwrap().kind, ErrorKind::INVALID_INPUT);
}

#[test]
fn http_config_and_display_round_trip() {
    let dir = plugin_dir(&[
        ("showcase.so", &artifacts().showcase),
        ("bench.so", &artifacts().bench),
    ]);
    let manager = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
    manager.load_dir(dir.path());
    let bob = manager.instance("showcase", &User::new(2, "bob")).unwrap();

    let routes = bob.routes().unwrap();
    assert_eq!(
        routes
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str()))
            .collect::<Vec<_>>(),
        [
            ("GET", "/hello"),
            ("POST", "/echo"),
            ("POST", "/notify"),
            ("GET", "/items/:id"),
            ("POST", "/count")
        ]
    );
    let echo = bob
        .handle_http(Request {
            label: "echo".into(),
            method: "POST".into(),
            path: "/echo".into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: b"{\"x\":1}".to_vec(),
            ..Request::default()
        })
        .unwrap();
    assert_eq!(
        (echo.status, echo.body.as_slice()),
        (200, b"{\"x\":1}".as_slice())
    );
    assert!(echo
        .headers
        .contains(&("content-type".into(), "application/json".into())));

    let default: serde_json::Value = serde_json::from_str(&bob.default_config().unwrap()).unwrap();
    assert_eq!(
        default,
        serde_json::json!({"greeting": "Hello", "max_count": 1000})
    );
    bob.set_config(r#"{"greeting": "Howdy", "max_count": 5}"#)
        .unwrap();
    let hello = bob
        .handle_http(Request {
            label: "hello".into(),
            method: "GET".into(),
            path: "/hello".into(),
            ..Request::default()
        })
        .unwrap();
    assert_eq!(hello.body, b"Howdy, bob!");
    let refused = bob.set_config(r#"{"greeting": ""}"#).unwrap_err();
    assert_eq!(
        refused.plugin_error().unwrap().kind,
        ErrorKind::INVALID_CONFIG
    );
    let refused = bob.set_config("not json").unwrap_err();
    assert_eq!(
        refused.plugin_error().unwrap().kind,
        ErrorKind::INVALID_CONFIG
    );
    assert_eq!(
        bob.execute("config", &Values::new()).unwrap()["config"],
        Value::Json(r#"{"greeting":"Howdy","max_count":5}"#.into()),
        "a refused configuration leaves the current one in place"
    );

    let markdown = bob.display("https://host.example").unwrap();
    assert!(
        markdown.contains("Hello **bob**")
            && markdown.contains("https://host.example/plugin/showcase/hello"),
        "{markdown}"
    );

    // A plugin without a capability is refused by the host before any call crosses over.
    let template = manager
        .instance("bench-0000", &User::new(2, "bob"))
        .unwrap();
    assert!(matches!(
        template.display("x"),
        Err(CallError::Unsupported {
            capability: "display",
            ..
        })
    ));
    assert!(matches!(
        template.routes(),
        Err(CallError::Unsupported {
            capability: "http",
            ..
        })
    ));
}

#[test]
fn storage_is_per_instance_persisted_atomically_and_survives_a_restart() {
    let plugins = plugin_dir(&[("showcase.so", &artifacts().showcase)]);
    let storage = tempfile::tempdir().unwrap();
    let config = HostConfig::new("1.0.0".parse().unwrap()).storage_dir(storage.path());
    {
        let manager = PluginManager::new(config.clone());
        manager.load_dir(plugins.path());
        let carol = manager
            .instance("showcase", &User::new(7, "carol"))
            .unwrap();
        let dave = manager.instance("showcase", &User::new(8, "dave")).unwrap();
        for expected in 1..=3 {
            assert_eq!(
                carol.execute("count", &Values::new()).unwrap()["count"],
                Value::Int(expected)
            );
        }
        assert_eq!(
            dave.execute("count", &Values::new()).unwrap()["count"],
            Value::Int(1)
        );
    }
    assert_eq!(
        fs::read(storage.path().join("showcase/user-7.bin")).unwrap(),
        b"3"
    );
    assert_eq!(
        fs::read(storage.path().join("showcase/user-8.bin")).unwrap(),
        b"1"
    );
    assert_eq!(
        fs::read(storage.path().join("showcase/plugin.bin")).unwrap(),
        b"1",
        "plugin-wide storage: one load"
    );
    let leftovers: Vec<_> = fs::read_dir(storage.path().join("showcase"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        3,
        "no temporary files left behind: {leftovers:?}"
    );

    // A new host process (here: a new manager over a fresh copy) continues where it stopped.
    let plugins = plugin_dir(&[("showcase.so", &artifacts().showcase)]);
    let manager = PluginManager::new(config);
    manager.load_dir(plugins.path());
    let carol = manager
        .instance("showcase", &User::new(7, "carol"))
        .unwrap();
    assert_eq!(
        carol.execute("count", &Values::new()).unwrap()["count"],
        Value::Int(4)
    );
    assert_eq!(
        fs::read(storage.path().join("showcase/plugin.bin")).unwrap(),
        b"2"
    );
}

#[test]
fn messages_reach_the_host_callback_and_logs_reach_the_host_logger() {
    let capture = captured();
    let received: Arc<Mutex<Vec<MessageEvent>>> = Arc::default();
    let sink = Arc::clone(&received);
    let dir = plugin_dir(&[("showcase.so", &artifacts().showcase)]);
    let manager = PluginManager::new(
        HostConfig::new("3.1.4".parse().unwrap())
            .on_message(move |event| sink.lock().unwrap().push(event)),
    );
    // The showcase accepts hosts >=1.0.0, <2.0.0.
    assert!(
        matches!(&manager.load_dir(dir.path())[0].status, PluginStatus::Invalid(e) if e.to_string().contains("requires host version"))
    );
    let manager = {
        drop(manager);
        let sink = Arc::clone(&received);
        PluginManager::new(
            HostConfig::new("1.9.0".parse().unwrap())
                .on_message(move |event| sink.lock().unwrap().push(event)),
        )
    };
    let dir = plugin_dir(&[("showcase.so", &artifacts().showcase)]);
    manager.load_dir(dir.path());
    let erin = manager.instance("showcase", &User::new(5, "erin")).unwrap();
    let input = values(&[
        ("title", text("Backup")),
        ("message", text("done")),
        ("priority", Value::Int(8)),
    ]);
    erin.execute("notify", &input).unwrap();
    let events = received.lock().unwrap().clone();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (
            events[0].plugin_id.as_str(),
            events[0].user_id,
            events[0].title.as_str(),
            events[0].message.as_str(),
            events[0].priority
        ),
        ("showcase", Some(5), "Backup", "done", 8)
    );

    assert_eq!(
        erin.execute("host", &Values::new()).unwrap()["host_version"],
        text("1.9.0")
    );

    erin.execute(
        "log",
        &values(&[
            ("message", text("unique-log-line-4711")),
            ("level", text("warn")),
        ]),
    )
    .unwrap();
    let records = capture.0.lock().unwrap().clone();
    let line = records
        .iter()
        .find(|(_, _, m)| m == "unique-log-line-4711")
        .expect("the plugin's log line reached the host");
    assert_eq!(
        (line.0.as_str(), line.1),
        ("plugin::showcase", log::Level::Warn)
    );
    assert!(
        records
            .iter()
            .any(|(t, _, m)| t == "plugin::showcase" && m.contains("showcase loaded")),
        "on_load logged through the host"
    );
}

#[test]
fn a_panic_in_any_entry_point_comes_back_as_an_error_and_the_host_goes_on() {
    let _ = captured();
    let a = artifacts();
    let dir = plugin_dir(&[("panicky.so", &a.panicky), ("showcase.so", &a.showcase)]);
    let manager = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
    manager.load_dir(dir.path());

    let assert_panic = |result: Result<(), CallError>, entry: &str| {
        let err = result.expect_err(entry);
        assert!(err.is_panic(), "{entry}: {err}");
        let message = &err.plugin_error().unwrap().message;
        assert!(
            message.contains(&format!("`{entry}`")) && message.contains("on purpose"),
            "{entry}: {message}"
        );
        assert!(
            message.contains("examples/panicky/src/lib.rs:"),
            "{entry}: the location is reported: {message}"
        );
    };
    assert_panic(
        manager
            .instance("panicky", &User::new(1, "panic-new"))
            .map(drop),
        "new_instance",
    );
    assert_panic(
        manager
            .instance("panicky", &User::new(2, "panic-enable"))
            .map(drop),
        "enable",
    );

    let instance = manager.instance("panicky", &User::new(3, "ok")).unwrap();
    assert_panic(instance.execute("x", &Values::new()).map(drop), "execute");
    assert_panic(instance.routes().map(drop), "routes");
    assert_panic(
        instance.handle_http(Request::default()).map(drop),
        "handle_http",
    );
    assert_panic(instance.default_config().map(drop), "default_config");
    assert_panic(instance.set_config("{}"), "set_config");
    assert_panic(instance.display("x").map(drop), "display");
    assert_panic(instance.disable(), "disable");
    let err = manager.unload("panicky").unwrap_err();
    assert!(
        err.is_panic() && err.to_string().contains("on_unload"),
        "{err}"
    );

    let report = manager
        .reports()
        .into_iter()
        .find(|r| r.id() == Some("showcase"))
        .unwrap();
    assert_eq!(report.status, PluginStatus::Active);
    let out = manager
        .instance("showcase", &User::new(3, "ok"))
        .unwrap()
        .execute("greet", &Values::new())
        .unwrap();
    assert_eq!(
        out["greeting"],
        text("Hello, ok!"),
        "the host and its other plugins carry on"
    );
}

#[test]
fn instances_are_per_user_and_callable_from_many_threads() {
    let dir = plugin_dir(&[("showcase.so", &artifacts().showcase)]);
    let manager = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
    manager.load_dir(dir.path());
    let instance = manager
        .instance("showcase", &User::new(11, "frank"))
        .unwrap();
    thread::scope(|scope| {
        for t in 0..8 {
            let instance = instance.clone();
            scope.spawn(move || {
                for i in 0..200 {
                    let name = format!("t{t}-{i}");
                    let out = instance
                        .execute("greet", &values(&[("name", text(&name))]))
                        .unwrap();
                    assert_eq!(
                        out["greeting"],
                        Value::Str(format!("Hello, {name}!").into())
                    );
                }
            });
        }
    });
    for _ in 0..5 {
        instance.execute("count", &Values::new()).unwrap();
    }
    let again = manager
        .instance("showcase", &User::new(11, "frank"))
        .unwrap();
    assert_eq!(
        again.execute("count", &Values::new()).unwrap()["count"],
        Value::Int(6),
        "the same user gets the same instance"
    );
    let other = manager
        .instance("showcase", &User::new(12, "grace"))
        .unwrap();
    assert_eq!(
        other.execute("count", &Values::new()).unwrap()["count"],
        Value::Int(1),
        "another user has its own"
    );

    manager.set_enabled("showcase", false).unwrap();
    assert!(matches!(
        manager.instance("showcase", &User::new(11, "frank")),
        Err(CallError::NotActive { .. })
    ));
    manager.set_enabled("showcase", true).unwrap();
    assert!(
        manager
            .instance("SHOWCASE", &User::new(11, "frank"))
            .is_ok(),
        "ids compare case-insensitively"
    );
}
