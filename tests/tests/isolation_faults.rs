//! Out-of-process plugins that crash, each fault on the real `crashy` plugin in a real
//! worker process: a segfault, an abort, a stack overflow, `exit`, a hang past the deadline
//! and an allocation past the address-space limit, in `execute`, in an HTTP handler and in
//! `on_load`; a crash loop; the worker killed with SIGKILL mid-call; the host killed with
//! SIGKILL; a worker of another protocol version. The host keeps running and the other
//! plugins keep answering every time.

use std::{
    fs,
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use plugin_tests::{artifacts, plugin_dir};
use plugrack_host::{
    CallError, Crash, HostConfig, Isolation, PluginEvent, PluginManager, PluginStatus, Refusal,
    Request, RestartPolicy, User, Value, Values, WorkerSettings,
};

const CALL_TIMEOUT: Duration = Duration::from_millis(1500);
/// `on_load`'s limit: the showcase loads in process beside crashy, and on a loaded machine
/// its `on_load` (a thread of the host's lifecycle pool) can be slow to be scheduled.
const LIFECYCLE_TIMEOUT: Duration = Duration::from_secs(5);
const MEMORY_LIMIT: u64 = 1 << 30;

fn settings() -> WorkerSettings {
    WorkerSettings::default()
        .call_timeout(CALL_TIMEOUT)
        .address_space(Some(MEMORY_LIMIT))
        // Long enough to see the plugin `crashed` right after a failed call, short enough
        // for the next call to wait for the restart within its deadline.
        .restart(RestartPolicy::new(
            Duration::from_millis(300),
            Duration::from_millis(400),
            100,
            Duration::from_secs(60),
        ))
}

/// crashy in a worker, everything else (the showcase) in process.
fn config() -> HostConfig {
    HostConfig::new("1.0.0".parse().unwrap())
        .worker_program(&artifacts().plugin_worker_bin)
        .plugin_isolation("crashy", Isolation::Process(settings()))
        .lifecycle_timeout(LIFECYCLE_TIMEOUT)
}

/// Every fault and the crash it must be reported as.
fn faults() -> Vec<(&'static str, Crash)> {
    vec![
        (
            "segfault",
            Crash::Signal {
                signal: libc::SIGSEGV,
            },
        ),
        (
            "abort",
            Crash::Signal {
                signal: libc::SIGABRT,
            },
        ),
        ("stack-overflow", Crash::StackOverflow),
        ("exit", Crash::Exited { code: 3 }),
        (
            "hang",
            Crash::DeadlineExceeded {
                limit_ms: CALL_TIMEOUT.as_millis() as u64,
            },
        ),
        (
            "alloc",
            Crash::OutOfMemory {
                limit_bytes: Some(MEMORY_LIMIT),
            },
        ),
    ]
}

fn text(s: &str) -> Value {
    Value::Str(s.into())
}

fn worker_pid(manager: &PluginManager) -> u32 {
    manager
        .report_for("crashy")
        .and_then(|r| r.worker)
        .and_then(|w| w.pid)
        .expect("crashy runs in a worker")
}

fn greet_showcase(manager: &PluginManager) {
    let out = manager
        .instance("showcase", &User::new(9, "other"))
        .unwrap_or_else(|e| {
            let reports: Vec<_> = manager
                .reports()
                .into_iter()
                .map(|r| (r.path, r.status, r.messages))
                .collect();
            panic!("{e}: {reports:#?}")
        })
        .execute("greet", &Values::new())
        .unwrap();
    assert_eq!(
        out["greeting"],
        text("Hello, other!"),
        "other plugins keep answering"
    );
}

/// Calls `fail` for every fault and checks what the host says and does each time.
fn crash_every_way(place: &str, fail: impl Fn(&plugrack_host::Instance, &str) -> CallError) {
    let a = artifacts();
    let dir = plugin_dir(&[("crashy.so", &a.crashy), ("showcase.so", &a.showcase)]);
    let logs = tempfile::tempdir().unwrap();
    let manager = PluginManager::new(config().log_dir(logs.path()));
    let events = manager.subscribe();
    assert!(manager
        .load_dir(dir.path())
        .iter()
        .all(|r| r.status == PluginStatus::Active));
    let user = User::new(1, "ada");
    let crashy = manager.instance("crashy", &user).unwrap();
    crashy.set_config(r#"{"greeting": "configured"}"#).unwrap();
    for (count, (fault, expected)) in faults().into_iter().enumerate() {
        let before = worker_pid(&manager);
        let error = fail(&crashy, fault);
        assert_eq!(error.crash(), Some(&expected), "{place} {fault}: {error}");
        assert!(
            error.to_string().contains(&expected.to_string()),
            "{place} {fault}: the error names what happened: {error}"
        );
        // The status says so right away, with the worker's last words.
        let report = manager.report_for("crashy").unwrap();
        match &report.status {
            // Its last words: what it printed, or (after a long backtrace, when the
            // environment asks for one) the telling line.
            PluginStatus::Crashed { reason } => assert!(
                reason.contains(&expected.to_string())
                    && (reason.contains(&format!("crashing in {place}: {fault}"))
                        || reason.contains("memory allocation of")),
                "{place} {fault}: {reason}"
            ),
            other => panic!("{place} {fault}: expected crashed, got {other}"),
        }
        let crashed = events
            .iter()
            .find(|e| !matches!(e, PluginEvent::Loaded { .. }));
        assert!(
            matches!(&crashed, Some(PluginEvent::Crashed { id, message }) if id == "crashy" && message.contains(&expected.to_string())),
            "{place} {fault}: a crashed event, got {crashed:?}"
        );
        greet_showcase(&manager);
        // The next call waits for the restarted worker and finds the instance as it was.
        let out = crashy.execute("ok", &Values::new()).unwrap();
        assert_eq!(out["greeting"], text("configured"), "{place} {fault}");
        let after = worker_pid(&manager);
        assert_ne!(before, after, "{place} {fault}: a new worker");
        assert_eq!(out["pid"], Value::Int(i64::from(after)));
        assert!(
            !Path::new(&format!("/proc/{before}")).exists(),
            "{place} {fault}: the crashed worker {before} was reaped, no zombie left"
        );
        let report = manager.report_for("crashy").unwrap();
        assert_eq!(report.status, PluginStatus::Active);
        assert_eq!(report.worker.unwrap().restarts, count as u32 + 1);
    }
    let log = fs::read_to_string(logs.path().join("plugin-crashy.log")).unwrap();
    assert!(
        log.contains(&format!("STDERR crashy: crashing in {place}: segfault"))
            && log.contains("memory allocation of"),
        "the worker's stderr is in the plugin's log:\n{log}"
    );
    let report = manager.report_for("crashy").unwrap();
    assert!(
        report
            .messages
            .iter()
            .filter(|m| m.contains("restarted"))
            .count()
            >= 6,
        "{:?}",
        report.messages
    );
}

#[test]
fn every_crash_in_execute_fails_only_that_call_and_the_worker_comes_back() {
    crash_every_way("execute", |crashy, fault| {
        crashy.execute(fault, &Values::new()).unwrap_err()
    });
}

#[test]
fn every_crash_in_an_http_handler_fails_only_that_request_and_the_worker_comes_back() {
    crash_every_way("an HTTP handler", |crashy, fault| {
        crashy
            .handle_http(Request {
                label: "crash".into(),
                method: "GET".into(),
                path: format!("/crash/{fault}"),
                ..Request::default()
            })
            .unwrap_err()
    });
}

#[test]
fn every_crash_in_on_load_refuses_only_that_plugin_with_its_last_words() {
    let a = artifacts();
    for (fault, expected) in faults() {
        let dir = plugin_dir(&[("crashy.so", &a.crashy), ("showcase.so", &a.showcase)]);
        let storage = tempfile::tempdir().unwrap();
        fs::create_dir_all(storage.path().join("crashy")).unwrap();
        fs::write(
            storage.path().join("crashy/plugin.bin"),
            format!("on_load={fault}"),
        )
        .unwrap();
        let manager = PluginManager::new(config().storage_dir(storage.path()));
        let reports = manager.load_dir(dir.path());
        let crashy = reports.iter().find(|r| r.id() == Some("crashy")).unwrap();
        let refusal = &crashy.error().unwrap().refusal;
        match (fault, refusal) {
            ("hang", Refusal::OnLoadTimedOut { limit_ms }) => {
                assert_eq!(*limit_ms, LIFECYCLE_TIMEOUT.as_millis() as u64)
            }
            (_, Refusal::WorkerCrashed { during, crash }) => {
                assert_eq!((*during, crash), ("on_load", &expected), "{fault}")
            }
            (_, other) => panic!("{fault}: {other:?}"),
        }
        let text = crashy.error().unwrap().to_string();
        assert!(
            text.lines().count() <= 3 && text.contains("fix: "),
            "{text}"
        );
        if fault != "hang" {
            // Its last words: what it printed, or (after a long backtrace) the telling line.
            let said = |needle: &str| crashy.messages.iter().any(|m| m.contains(needle));
            assert!(
                said(&format!("crashing in on_load: {fault}")) || said("memory allocation of"),
                "{fault}: its last words are in the report: {:?}",
                crashy.messages
            );
        }
        greet_showcase(&manager);
    }
}

#[test]
fn a_crash_loop_leaves_the_plugin_invalid_instead_of_restarting_forever() {
    let a = artifacts();
    let dir = plugin_dir(&[("crashy.so", &a.crashy), ("showcase.so", &a.showcase)]);
    let storage = tempfile::tempdir().unwrap();
    let fast = settings().restart(RestartPolicy::new(
        Duration::from_millis(20),
        Duration::from_millis(200),
        3,
        Duration::from_secs(60),
    ));
    let manager = PluginManager::new(
        config()
            .storage_dir(storage.path())
            .plugin_isolation("crashy", Isolation::Process(fast)),
    );
    let events = manager.subscribe();
    manager.load_dir(dir.path());
    // From now on every start crashes: the first crash's restart, and each one after it.
    fs::create_dir_all(storage.path().join("crashy")).unwrap();
    fs::write(storage.path().join("crashy/plugin.bin"), "on_load=abort").unwrap();
    let crashy = manager.instance("crashy", &User::new(1, "ada")).unwrap();
    let error = crashy.execute("segfault", &Values::new()).unwrap_err();
    assert!(error.crash().is_some(), "{error}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let invalid = loop {
        let report = manager.report_for("crashy").unwrap();
        if let PluginStatus::Invalid(error) = report.status {
            break error;
        }
        assert!(Instant::now() < deadline, "still {}", report.status);
        thread::sleep(Duration::from_millis(20));
    };
    match &invalid.refusal {
        Refusal::CrashLoop {
            crashes, window_s, ..
        } => assert_eq!((*crashes, *window_s), (3, 60)),
        other => panic!("{other:?}"),
    }
    assert!(
        invalid.to_string().contains("not restarted again"),
        "{invalid}"
    );
    let crashed_events = events
        .try_iter()
        .filter(|e| matches!(e, PluginEvent::Crashed { .. }))
        .count();
    assert_eq!(crashed_events, 3, "one event per crash");
    match crashy.execute("ok", &Values::new()) {
        Err(CallError::NotActive { reason, .. }) => {
            assert!(reason.contains("crashed 3 times"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        manager.instance("crashy", &User::new(2, "bob")),
        Err(CallError::NotActive { .. })
    ));
    assert_eq!(
        manager.report_for("crashy").unwrap().worker.unwrap().pid,
        None
    );
    greet_showcase(&manager);
}

#[test]
fn a_worker_killed_mid_call_fails_that_call_and_the_next_one_succeeds() {
    let a = artifacts();
    let dir = plugin_dir(&[("crashy.so", &a.crashy)]);
    let manager = PluginManager::new(config());
    manager.load_dir(dir.path());
    let crashy = manager.instance("crashy", &User::new(1, "ada")).unwrap();
    let pid = worker_pid(&manager);
    let sleeper = {
        let crashy = crashy.clone();
        thread::spawn(move || {
            crashy.execute(
                "sleep",
                &Values::from([("ms".to_owned(), Value::Int(10_000))]),
            )
        })
    };
    thread::sleep(Duration::from_millis(300));
    // SAFETY: a plain system call on our own child.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    let error = sleeper.join().unwrap().unwrap_err();
    assert_eq!(
        error.crash(),
        Some(&Crash::Signal {
            signal: libc::SIGKILL
        }),
        "{error}"
    );
    let out = crashy.execute("ok", &Values::new()).unwrap();
    assert_ne!(out["pid"], Value::Int(i64::from(pid)));
}

/// The processes whose parent is `parent`, with their command lines.
fn children_of(parent: u32) -> Vec<(u32, String)> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let ppid: u32 = status
                .lines()
                .find_map(|l| l.strip_prefix("PPid:"))?
                .trim()
                .parse()
                .ok()?;
            let cmdline = fs::read_to_string(format!("/proc/{pid}/cmdline")).ok()?;
            (ppid == parent).then(|| (pid, cmdline.replace('\0', " ")))
        })
        .collect()
}

/// Whether `pid` is still a running process (a zombie is dead, only not yet collected).
fn is_running(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .next();
            state != Some("Z") && state != Some("X")
        }
    }
}

#[test]
fn a_host_killed_with_sigkill_leaves_no_worker_running() {
    let a = artifacts();
    let dir = plugin_dir(&[("crashy.so", &a.crashy), ("showcase.so", &a.showcase)]);
    let mut host = Command::new(&a.plugin_host_bin)
        .args([
            "watch",
            "--isolation",
            "process",
            "--seconds",
            "60",
            "--plugins-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let workers = loop {
        let workers: Vec<u32> = children_of(host.id())
            .into_iter()
            .filter(|(_, cmdline)| cmdline.contains("plugin-worker --plugrack-worker"))
            .map(|(pid, _)| pid)
            .collect();
        if workers.len() == 2 {
            break workers;
        }
        assert!(
            Instant::now() < deadline,
            "the host started its two workers"
        );
        thread::sleep(Duration::from_millis(20));
    };
    host.kill().unwrap(); // SIGKILL: no destructor, no cleanup in the host runs
    host.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while workers.iter().any(|pid| is_running(*pid)) {
        assert!(
            Instant::now() < deadline,
            "workers {workers:?} outlived their host"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_worker_speaking_another_protocol_version_is_refused_in_a_few_words() {
    let a = artifacts();
    let dir = plugin_dir(&[("crashy.so", &a.crashy)]);
    let (code, stdout, stderr) = plugin_tests::run_plugin_host(
        &[
            "list",
            "--json",
            "--isolation",
            "process",
            "--plugins-dir",
            dir.path().to_str().unwrap(),
        ],
        &[("PLUGRACK_WORKER_TEST_PROTOCOL", "999")],
    );
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let error = &doc["plugins"][0]["error"];
    assert_eq!(error["code"], "worker-protocol", "{doc}");
    let cause = error["cause"].as_str().unwrap();
    assert!(
        cause.ends_with("plugin-worker` speaks worker protocol 999; this host speaks 1"),
        "{cause}"
    );
    let message = error["message"].as_str().unwrap();
    assert_eq!(message.lines().count(), 3, "{message}");
    assert!(
        message.contains("fix: use the plugin-worker built with this host"),
        "{message}"
    );
}
