//! Out-of-process plugins that behave: the same `PluginManager` API, instances, statuses,
//! events, metrics, logs, storage, configuration and messages as in process (one scenario
//! run both ways and compared); choosing the isolation per plugin id; finding the worker
//! program; the command line; what the worker's confinement allows; unloading and reloading.

use std::{
    fs,
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex,
    },
    thread,
    time::Duration,
};

use plugin_tests::{artifacts, plugin_dir};
use plugrack_host::{
    CallError, HostConfig, Isolation, LevelFilter, MessageEvent, PluginEvent, PluginManager,
    PluginStatus, Refusal, Request, User, Value, Values, WorkerSettings,
};

fn config() -> HostConfig {
    HostConfig::new("1.0.0".parse().unwrap()).worker_program(&artifacts().plugin_worker_bin)
}

fn process() -> Isolation {
    Isolation::Process(WorkerSettings::default().call_timeout(Duration::from_secs(20)))
}

fn text(s: &str) -> Value {
    Value::Str(s.into())
}

fn values(pairs: &[(&str, Value)]) -> Values {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// Runs one scenario over every capability and service and returns what the host saw.
fn observe(isolation: Isolation) -> Vec<String> {
    let a = artifacts();
    let dir = plugin_dir(&[
        ("showcase.so", &a.showcase),
        ("panicky.so", &a.panicky),
        ("bench.so", &a.bench),
    ]);
    let storage = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let received: Arc<Mutex<Vec<MessageEvent>>> = Arc::default();
    let sink = Arc::clone(&received);
    let manager = PluginManager::new(
        config()
            .isolation(isolation)
            .storage_dir(storage.path())
            .log_dir(logs.path())
            .log_level("showcase", LevelFilter::Debug)
            .on_message(move |m| sink.lock().unwrap().push(m)),
    );
    let events = manager.subscribe();
    let mut seen = Vec::new();
    let mut see = |what: &str, value: String| seen.push(format!("{what}: {value}"));
    for report in manager.load_dir(dir.path()) {
        see("loaded", format!("{:?} {}", report.id(), report.status));
    }
    let alice = manager
        .instance("showcase", &User::new(1, "alice"))
        .unwrap();
    let every_type = values(&[
        ("null", Value::Null),
        ("bool", Value::Bool(true)),
        ("int", Value::Int(-42)),
        ("float", Value::Float(2.5)),
        ("text", text("héllo")),
        ("bytes", Value::Bytes(vec![0, 159, 255].into())),
        ("json", Value::Json(r#"{"a":[1,2]}"#.into())),
    ]);
    let echoed = alice.execute("echo", &every_type).unwrap();
    see("echo round trip", (echoed == every_type).to_string());
    see(
        "greet",
        format!(
            "{:?}",
            alice.execute("greet", &values(&[("name", text("Bob"))]))
        ),
    );
    see(
        "unknown label",
        format!("{:?}", alice.execute("nope", &Values::new())),
    );
    see(
        "bad input",
        format!("{:?}", alice.execute("notify", &Values::new())),
    );
    see("routes", format!("{:?}", alice.routes()));
    let echo = alice.handle_http(Request {
        label: "echo".into(),
        method: "POST".into(),
        path: "/echo".into(),
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: b"{\"x\":1}".to_vec(),
        ..Request::default()
    });
    see("http echo", format!("{echo:?}"));
    see("default config", format!("{:?}", alice.default_config()));
    see(
        "good config",
        format!(
            "{:?}",
            manager.set_config(
                "showcase",
                &User::new(1, "alice"),
                r#"{"greeting": "Howdy", "max_count": 5}"#
            )
        ),
    );
    see(
        "bad config",
        format!("{:?}", alice.set_config(r#"{"greeting": ""}"#)),
    );
    see(
        "config now",
        format!("{:?}", alice.execute("config", &Values::new())),
    );
    see(
        "display",
        format!("{:?}", alice.display("https://host.example")),
    );
    for _ in 0..3 {
        see(
            "count",
            format!("{:?}", alice.execute("count", &Values::new())),
        );
    }
    let dave = manager.instance("showcase", &User::new(2, "dave")).unwrap();
    see(
        "dave count",
        format!("{:?}", dave.execute("count", &Values::new())),
    );
    see(
        "notify",
        format!(
            "{:?}",
            alice.execute(
                "notify",
                &values(&[
                    ("title", text("Backup")),
                    ("message", text("done")),
                    ("priority", Value::Int(8))
                ])
            )
        ),
    );
    see(
        "host",
        format!("{:?}", alice.execute("host", &Values::new())),
    );
    alice
        .execute(
            "log",
            &values(&[("message", text("a debug line")), ("level", text("debug"))]),
        )
        .unwrap();
    alice
        .execute(
            "log",
            &values(&[("message", text("a trace line")), ("level", text("trace"))]),
        )
        .unwrap();
    // Many threads on one instance.
    thread::scope(|scope| {
        for t in 0..4 {
            let alice = alice.clone();
            scope.spawn(move || {
                for i in 0..50 {
                    let name = format!("t{t}-{i}");
                    let out = alice
                        .execute("greet", &values(&[("name", text(&name))]))
                        .unwrap();
                    assert_eq!(
                        out["greeting"],
                        Value::Str(format!("Howdy, {name}!").into())
                    );
                }
            });
        }
    });
    let template = manager
        .instance("bench-0000", &User::new(1, "alice"))
        .unwrap();
    see("unsupported", format!("{:?}", template.display("x")));
    let panicky = manager.instance("panicky", &User::new(3, "ok")).unwrap();
    see(
        "panic execute",
        format!("{:?}", panicky.execute("x", &Values::new())),
    );
    see(
        "panic http",
        format!("{:?}", panicky.handle_http(Request::default())),
    );
    see(
        "panic new",
        format!(
            "{:?}",
            manager.instance("panicky", &User::new(4, "panic-new"))
        ),
    );
    see(
        "panic enable",
        format!(
            "{:?}",
            manager.instance("panicky", &User::new(5, "panic-enable"))
        ),
    );
    see(
        "enable failed",
        format!(
            "{:?}",
            manager.instance("panicky", &User::new(5, "panic-enable"))
        ),
    );
    see(
        "disable",
        format!("{:?}", manager.set_enabled("showcase", false)),
    );
    see(
        "disabled",
        format!("{:?}", manager.instance("showcase", &User::new(1, "alice"))),
    );
    manager.set_enabled("showcase", true).unwrap();
    see(
        "enabled again",
        format!(
            "{:?}",
            manager
                .instance("SHOWCASE", &User::new(1, "alice"))
                .map(|i| i.plugin_id().to_owned())
        ),
    );
    for id in ["showcase", "panicky"] {
        let m = manager.report_for(id).unwrap().metrics;
        see(
            "metrics",
            format!(
                "{id} calls {} errors {} panics {}",
                m.calls, m.errors, m.panics
            ),
        );
    }
    see("unload panicky", format!("{:?}", manager.unload("panicky")));
    see(
        "statuses",
        format!(
            "{:?}",
            manager
                .reports()
                .iter()
                .map(|r| (r.id().map(str::to_owned), r.status.to_string()))
                .collect::<Vec<_>>()
        ),
    );
    let log = fs::read_to_string(logs.path().join("plugin-showcase.log")).unwrap();
    for needle in [
        "showcase loaded",
        "DEBUG new instance for user 1",
        "a debug line",
        "a trace line",
    ] {
        see("log has", format!("{needle}: {}", log.contains(needle)));
    }
    drop(manager);
    see(
        "events",
        format!(
            "{:?}",
            events
                .try_iter()
                .map(|e| match e {
                    PluginEvent::Loaded { id, .. } => format!("loaded {id}"),
                    PluginEvent::Unloaded { id } => format!("unloaded {id}"),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
        ),
    );
    see("messages", format!("{:?}", received.lock().unwrap()));
    let mut stored: Vec<String> = fs::read_dir(storage.path().join("showcase"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    stored.sort();
    see("stored files", format!("{stored:?}"));
    see(
        "user 1 count",
        String::from_utf8_lossy(&fs::read(storage.path().join("showcase/user-1.bin")).unwrap())
            .into_owned(),
    );
    seen
}

#[test]
fn the_same_api_answers_the_same_in_a_worker_as_in_process() {
    let in_process = observe(Isolation::InProcess);
    let in_worker = observe(process());
    for (a, b) in in_process.iter().zip(&in_worker) {
        assert_eq!(a, b, "in process vs in a worker");
    }
    assert_eq!(in_process.len(), in_worker.len());
    assert!(
        in_process.iter().any(|l| l == "echo round trip: true")
            && in_process.iter().any(|l| l.contains("Howdy"))
            && in_process.iter().any(|l| l.contains("Backup")),
        "the scenario really ran: {in_process:#?}"
    );
}

#[test]
fn isolation_is_chosen_per_plugin_id_before_anything_of_the_plugin_runs() {
    let a = artifacts();
    let (_, raw) = a.raw_frozen.last().unwrap();
    let raw_id = raw
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("lib")
        .to_owned();
    let dir = plugin_dir(&[
        ("crashy.so", &a.crashy),
        ("showcase.so", &a.showcase),
        ("raw.so", raw),
    ]);
    let manager = PluginManager::new(
        config()
            .plugin_isolation("crashy", process())
            // A library without a descriptor section: its id is learned in a worker.
            .plugin_isolation(&raw_id, process()),
    );
    let reports = manager.load_dir(dir.path());
    let by_id = |id: &str| reports.iter().find(|r| r.id() == Some(id)).unwrap();
    assert_eq!(by_id("crashy").isolation, "process");
    assert_eq!(by_id(&raw_id).isolation, "process");
    assert_eq!(by_id("showcase").isolation, "in-process");
    assert!(by_id("showcase").worker.is_none());
    let worker = by_id("crashy").worker.clone().unwrap();
    let pid = worker.pid.unwrap();
    assert_ne!(pid, std::process::id());
    assert!(
        worker.confinement.contains("no_new_privs") && worker.confinement.contains("landlock"),
        "{}",
        worker.confinement
    );
    let out = manager
        .instance("crashy", &User::new(1, "ada"))
        .unwrap()
        .execute("ok", &Values::new())
        .unwrap();
    assert_eq!(
        out["pid"],
        Value::Int(i64::from(pid)),
        "the call ran in the worker"
    );
    let out = manager
        .instance(&raw_id, &User::new(1, "ada"))
        .unwrap()
        .execute("hi", &Values::new())
        .unwrap();
    assert_eq!(out["label"], text("hi"));

    // The other way round: everything in workers except one plugin.
    let dir = plugin_dir(&[("crashy.so", &a.crashy), ("showcase.so", &a.showcase)]);
    let manager = PluginManager::new(
        config()
            .isolation(process())
            .plugin_isolation("showcase", Isolation::InProcess),
    );
    let reports = manager.load_dir(dir.path());
    let isolations: Vec<(Option<&str>, &str)> =
        reports.iter().map(|r| (r.id(), r.isolation)).collect();
    assert_eq!(
        isolations,
        [
            (Some("crashy"), "process"),
            (Some("showcase"), "in-process")
        ]
    );
}

#[test]
fn a_missing_worker_program_is_refused_with_where_the_host_looked() {
    let dir = plugin_dir(&[("crashy.so", &artifacts().crashy)]);
    let manager = PluginManager::new(
        HostConfig::new("1.0.0".parse().unwrap())
            .isolation(process())
            .worker_program("/nonexistent/plugin-worker"),
    );
    let report = &manager.load_dir(dir.path())[0];
    let error = report.error().unwrap();
    assert!(
        matches!(&error.refusal, Refusal::WorkerNotFound { searched } if searched == &[Path::new("/nonexistent/plugin-worker")]),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.lines().count() == 3
            && text.contains("`/nonexistent/plugin-worker`")
            && text.contains("fix: install `plugin-worker`"),
        "{text}"
    );
    // Started by hand, the program says what it is for.
    let out = std::process::Command::new(&artifacts().plugin_worker_bin)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("it is not run by hand"));
}

#[test]
fn the_command_line_runs_plugins_in_workers_and_survives_their_crashes() {
    let a = artifacts();
    let dir = plugin_dir(&[("crashy.so", &a.crashy), ("showcase.so", &a.showcase)]);
    let dir_arg = dir.path().to_str().unwrap();
    let (code, stdout, stderr) = plugin_tests::run_plugin_host(
        &[
            "call",
            "--isolation",
            "process",
            "--plugins-dir",
            dir_arg,
            "showcase",
            "greet",
            "name=World",
        ],
        &[],
    );
    assert_eq!(
        (code, stdout.trim(), stderr.as_str()),
        (0, "greeting = Hello, World!", "")
    );
    let (code, _, stderr) = plugin_tests::run_plugin_host(
        &[
            "call",
            "--isolation",
            "process",
            "--plugins-dir",
            dir_arg,
            "crashy",
            "segfault",
        ],
        &[],
    );
    assert_eq!(code, 1, "a crash is a failed call: {stderr}");
    assert!(
        stderr
            .contains("error: plugin `crashy` crashed in `execute`: killed by signal 11 (SIGSEGV)"),
        "{stderr}"
    );
    let (code, _, stderr) = plugin_tests::run_plugin_host(
        &[
            "call",
            "--isolation",
            "process",
            "--call-timeout-ms",
            "300",
            "--plugins-dir",
            dir_arg,
            "crashy",
            "hang",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(stderr.contains("did not answer within 300 ms"), "{stderr}");
    let (code, _, stderr) = plugin_tests::run_plugin_host(
        &[
            "call",
            "--isolation",
            "process",
            "--memory-limit-mib",
            "512",
            "--plugins-dir",
            dir_arg,
            "crashy",
            "alloc",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("ran out of memory at its address-space limit of 512 MiB"),
        "{stderr}"
    );
    let (code, stdout, _) = plugin_tests::run_plugin_host(
        &[
            "list",
            "--json",
            "--isolation",
            "process",
            "--plugins-dir",
            dir_arg,
        ],
        &[],
    );
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for plugin in doc["plugins"].as_array().unwrap() {
        assert_eq!(plugin["isolation"], "process", "{plugin}");
        assert!(plugin["worker"]["pid"].as_u64().is_some(), "{plugin}");
        if plugin["status"] == "active" {
            // A worker's checks after dlopen are part of its opening, as seen from the host.
            assert_eq!(plugin["load_phases_ms"]["layout_check"], 0.0, "{plugin}");
            assert!(
                plugin["load_phases_ms"]["open"].as_f64().unwrap() > 0.0,
                "{plugin}"
            );
        }
    }
    let (code, _, stderr) = plugin_tests::run_plugin_host(
        &["list", "--isolation", "sideways", "--plugins-dir", dir_arg],
        &[],
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("in-process") && stderr.contains("process"),
        "{stderr}"
    );
}

#[test]
fn the_worker_reads_its_plugin_and_writes_only_its_data_folder() {
    let a = artifacts();
    let dir = plugin_dir(&[("crashy.so", &a.crashy)]);
    let storage = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), "not for plugins").unwrap();
    let logs = tempfile::tempdir().unwrap();
    let manager = PluginManager::new(
        config()
            .isolation(process())
            .storage_dir(storage.path())
            .log_dir(logs.path()),
    );
    manager.load_dir(dir.path());
    let crashy = manager.instance("crashy", &User::new(1, "ada")).unwrap();
    let data = storage.path().join(".workers/crashy");
    let try_file = |label: &str, path: &Path| {
        let out = crashy
            .execute(label, &values(&[("path", text(path.to_str().unwrap()))]))
            .unwrap();
        (
            out["ok"] == Value::Bool(true),
            format!("{:?}", out["error"]),
        )
    };
    let (ok, error) = try_file("write", &data.join("notes"));
    assert!(ok, "its data folder: {error}");
    let (ok, error) = try_file("read", &data.join("notes"));
    assert!(ok, "{error}");
    let (ok, error) = try_file("write", Path::new("relative-file"));
    assert!(ok, "the working folder is the data folder: {error}");
    assert!(data.join("relative-file").exists());
    let confinement = manager
        .report_for("crashy")
        .unwrap()
        .worker
        .unwrap()
        .confinement;
    // A kernel without Landlock (or with it turned off) runs the worker unconfined, and the
    // report says so; the refusals below are then not expected.
    let enforced = !confinement.contains("landlock not available");
    if !enforced {
        eprintln!("note: {confinement}: the file-system refusals are not checked here");
    }
    for (label, path) in [
        ("read", outside.path().join("secret")),
        ("write", outside.path().join("new")),
        ("read", "/etc/hostname".into()),
        ("write", storage.path().join("forged.config")),
        ("write", "/tmp/crashy-was-here".into()),
    ] {
        if !enforced {
            continue;
        }
        let (ok, error) = try_file(label, &path);
        assert!(
            !ok && error.contains("ermission denied"),
            "{label} {}: {error}",
            path.display()
        );
    }
    assert!(!enforced || !outside.path().join("new").exists());
    // The plugin's stderr reaches its log file.
    crashy
        .execute("eprint", &values(&[("message", text("to stderr"))]))
        .unwrap();
    let log_file = logs.path().join("plugin-crashy.log");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !fs::read_to_string(&log_file)
        .unwrap()
        .contains("STDERR to stderr")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "stderr reached the log"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn unloading_ends_the_worker_and_dropping_the_manager_ends_them_all() {
    let a = artifacts();
    let dir = plugin_dir(&[("crashy.so", &a.crashy), ("showcase.so", &a.showcase)]);
    let manager = PluginManager::new(config().isolation(process()));
    manager.load_dir(dir.path());
    let pid = |id: &str| manager.report_for(id).unwrap().worker.unwrap().pid.unwrap();
    let (crashy, showcase) = (pid("crashy"), pid("showcase"));
    let instance = manager.instance("crashy", &User::new(1, "ada")).unwrap();
    manager.unload("crashy").unwrap();
    assert!(
        !Path::new(&format!("/proc/{crashy}")).exists(),
        "ended and reaped"
    );
    assert!(matches!(
        instance.execute("ok", &Values::new()),
        Err(CallError::NotActive { .. })
    ));
    drop(manager);
    assert!(!Path::new(&format!("/proc/{showcase}")).exists());
}

fn rss_kib() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").unwrap();
    statm
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 4
}

#[test]
fn two_hundred_reloads_in_workers_leave_the_host_s_memory_flat() {
    let a = artifacts();
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("bench.so");
    let template = fs::read(&a.bench).unwrap();
    fs::write(&plugin, &template).unwrap();
    let manager = PluginManager::new(config().isolation(process()));
    assert_eq!(manager.load_file(&plugin).status, PluginStatus::Active);
    let mut pids = Vec::new();
    let mut reload = || {
        // A deploy: a new file renamed over the old one.
        let staged = dir.path().join(".staged");
        fs::write(&staged, &template).unwrap();
        fs::rename(&staged, &plugin).unwrap();
        let report = manager.reload(&plugin);
        assert!(
            report
                .messages
                .last()
                .is_some_and(|m| m.starts_with("reloaded")),
            "{:?}",
            report.messages
        );
        let instance = manager.instance("bench-0000", &User::new(1, "b")).unwrap();
        instance.execute("noop", &Values::new()).unwrap();
        pids.push(report.worker.unwrap().pid.unwrap());
    };
    for _ in 0..20 {
        reload(); // warm up: allocator pools, thread stacks reused
    }
    let before = rss_kib();
    for _ in 0..200 {
        reload();
    }
    thread::sleep(Duration::from_millis(300)); // the replaced builds retire
    let after = rss_kib();
    let per_reload = after.saturating_sub(before) as f64 / 200.0;
    eprintln!(
        "host RSS {before} KiB -> {after} KiB over 200 reloads: {per_reload:.1} KiB per reload"
    );
    assert!(
        per_reload < 40.0,
        "in process a reload leaves ~470 KiB mapped; in a worker it must not: {per_reload:.1} KiB"
    );
    let running = pids
        .iter()
        .filter(|p| Path::new(&format!("/proc/{p}")).exists())
        .count();
    assert_eq!(running, 1, "only the current worker is left");
}

#[test]
fn hot_reload_in_workers_swaps_builds_under_four_calling_threads_without_a_failed_call() {
    let a = artifacts();
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("showcase.so");
    fs::copy(&a.showcase, &plugin).unwrap();
    let manager = Arc::new(PluginManager::new(
        config().isolation(process()).external_dir(dir.path()),
    ));
    let events = manager.subscribe();
    assert_eq!(manager.discover()[0].status, PluginStatus::Active);
    let _watcher = plugrack_host::watch(&manager, Duration::from_millis(100)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (calls, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let callers: Vec<_> = (0..4)
        .map(|t| {
            let (manager, stop, calls, failures) = (
                Arc::clone(&manager),
                Arc::clone(&stop),
                Arc::clone(&calls),
                Arc::clone(&failures),
            );
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let result = manager
                        .instance("showcase", &User::new(t, "ada"))
                        .and_then(|i| i.execute("greet", &Values::new()));
                    match result {
                        Ok(out) if out["greeting"] == text("Hello, ada!") => {
                            calls.fetch_add(1, Ordering::Relaxed)
                        }
                        other => {
                            eprintln!("failed call: {other:?}");
                            failures.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                }
            })
        })
        .collect();
    let first_pid = manager
        .report_for("showcase")
        .unwrap()
        .worker
        .unwrap()
        .pid
        .unwrap();
    let staged = dir.path().join(".showcase.so.tmp");
    for build in [&a.showcase_nightly, &a.showcase] {
        fs::copy(build, &staged).unwrap();
        fs::rename(&staged, &plugin).unwrap();
        let event = loop {
            match events
                .recv_timeout(Duration::from_secs(30))
                .expect("a reload event")
            {
                PluginEvent::Loaded { .. } => continue,
                other => break other,
            }
        };
        assert!(matches!(event, PluginEvent::Reloaded { .. }), "{event:?}");
        thread::sleep(Duration::from_millis(300));
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().unwrap();
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no call failed during the reloads"
    );
    assert!(
        calls.load(Ordering::Relaxed) > 100,
        "the callers really ran"
    );
    let pid = manager
        .report_for("showcase")
        .unwrap()
        .worker
        .unwrap()
        .pid
        .unwrap();
    assert_ne!(pid, first_pid, "a reload is a new worker");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while Path::new(&format!("/proc/{first_pid}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the replaced worker ended once its callers let go"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

/// A typed extension handle calls through the library's own vtables, so it needs the library
/// in the host: a plugin in a worker keeps its id, status and report, and every extension the
/// host declares is refused with the reason and the fix (the undeclared ones stay undeclared).
#[test]
fn extension_handles_of_a_plugin_in_a_worker_are_refused_with_the_way_out() {
    use plugrack_host::{ExtensionRefusal, ExtensionStatus};
    use text_pipeline_api::{FormatterExt, LinterExt};

    let dir = plugin_dir(&[("title-case.so", &artifacts().title_case)]);
    let manager = PluginManager::new(
        HostConfig::new("1.1.0".parse().unwrap())
            .worker_program(&artifacts().plugin_worker_bin)
            .extension_point::<FormatterExt>()
            .isolation(process()),
    );
    let reports = manager.load_dir(dir.path());
    let report = &reports[0];
    assert_eq!(
        report.status,
        PluginStatus::Active,
        "{:?}",
        report.error().map(ToString::to_string)
    );
    assert_eq!(report.isolation, "process");
    let formatter = report
        .extensions
        .iter()
        .find(|e| e.id == "text-pipeline.formatter")
        .unwrap_or_else(|| panic!("the section lists the formatter: {:?}", report.extensions));
    let error = formatter.error().expect("refused");
    assert_eq!(error.refusal, ExtensionRefusal::OutOfProcess);
    let shown = error.to_string();
    assert_eq!(shown.lines().count(), 3, "{shown}");
    assert!(shown.contains("worker process"), "{shown}");
    assert!(
        shown.contains("plugin_isolation(\"tp-title-case\", Isolation::InProcess)"),
        "{shown}"
    );
    let linter = report
        .extensions
        .iter()
        .find(|e| e.id == "text-pipeline.linter")
        .expect("the section lists the linter");
    assert_eq!(linter.status, ExtensionStatus::Undeclared);
    assert!(matches!(
        manager.extension::<FormatterExt>("tp-title-case"),
        Err(CallError::Unsupported { .. })
    ));
    assert!(manager.extensions::<LinterExt>().is_empty());

    // The same plugin, in process by its id, hands out the handle.
    let manager = PluginManager::new(
        HostConfig::new("1.1.0".parse().unwrap())
            .worker_program(&artifacts().plugin_worker_bin)
            .extension_point::<FormatterExt>()
            .isolation(process())
            .plugin_isolation("tp-title-case", Isolation::InProcess),
    );
    let reports = manager.load_dir(dir.path());
    assert_eq!(reports[0].isolation, "in-process");
    assert!(manager.extension::<FormatterExt>("tp-title-case").is_ok());
}
