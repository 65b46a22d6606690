//! The plugin manager's rules, each on real built plugins: folders and their order, deployed
//! plugin folders, lifecycle limits, per-plugin logs, stored configurations, hot reload under
//! load, metrics and events.

use std::{
    fs,
    path::Path,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::Duration,
};

use plugin_tests::{artifacts, plugin_dir};

#[path = "../src/manifest_schema.rs"]
mod manifest_schema;
use plugrack_host::{
    host_target_name,
    manifest::{sha256_hex, Manifest, ManifestPlugin, ManifestTarget, FORMAT},
    CallError, HostConfig, LevelFilter, Origin, PluginEvent, PluginManager, PluginStatus, Refusal,
    User, Value, Values,
};

fn config() -> HostConfig {
    HostConfig::new("1.0.0".parse().unwrap())
}

fn greet(manager: &PluginManager, user: u64) -> Result<Values, CallError> {
    manager
        .instance("showcase", &User::new(user, "ada"))?
        .execute("greet", &Values::new())
}

/// Writes `<dir>/<id>/plugin.toml` and the library, as `plugin-build deploy` does.
fn deploy_folder(dir: &Path, folder: &str, library: &Path, edit: impl FnOnce(&mut Manifest)) {
    let bytes = fs::read(library).unwrap();
    let file = format!("{folder}-{}.so", host_target_name());
    let mut manifest = Manifest {
        format: FORMAT,
        plugin: ManifestPlugin {
            id: "showcase".into(),
            name: "Showcase".into(),
            version: "1.2.0".into(),
            description: String::new(),
            authors: vec![],
            homepage: String::new(),
            license: "MIT OR Apache-2.0".into(),
            host_version: ">=1.0.0, <2.0.0".into(),
            target_os: vec!["linux".into()],
            api_version: "1.0.0".into(),
        },
        source: None,
        targets: [(
            host_target_name().to_owned(),
            ManifestTarget {
                file: file.clone(),
                size: bytes.len() as u64,
                sha256: sha256_hex(&bytes),
                libs: Vec::new(),
            },
        )]
        .into(),
    };
    // What a deploy writes follows the schema (the edits below break it on purpose).
    manifest_schema::assert_valid(&manifest.to_toml());
    edit(&mut manifest);
    let target = dir.join(folder);
    fs::create_dir_all(&target).unwrap();
    fs::write(target.join("plugin.toml"), manifest.to_toml()).unwrap();
    fs::write(target.join(file), bytes).unwrap();
}

#[test]
fn bundled_plugins_load_first_and_win_over_external_ones() {
    let a = artifacts();
    let bundled = plugin_dir(&[("showcase.so", &a.showcase)]);
    let external = plugin_dir(&[("a-showcase.so", &a.showcase), ("bench.so", &a.bench)]);
    let manager = PluginManager::new(
        config()
            .bundled_dir(bundled.path())
            .external_dir(external.path()),
    );
    let reports = manager.discover();
    let summary: Vec<(String, Origin, &str)> = reports
        .iter()
        .map(|r| {
            (
                r.path.file_name().unwrap().to_string_lossy().into_owned(),
                r.origin,
                r.status.name(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("showcase.so".to_owned(), Origin::Bundled, "active"),
            ("a-showcase.so".to_owned(), Origin::External, "invalid"),
            ("bench.so".to_owned(), Origin::External, "active"),
        ]
    );
    match &reports[1].error().unwrap().refusal {
        Refusal::DuplicateId { id, loaded_from } => {
            assert_eq!(id, "showcase");
            assert!(
                loaded_from.starts_with(bundled.path()),
                "names the bundled file: {}",
                loaded_from.display()
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        manager.info("showcase").unwrap().path,
        bundled.path().join("showcase.so")
    );
}

#[test]
fn deployed_plugin_folders_are_verified_against_their_manifest() {
    let a = artifacts();
    let dir = tempfile::tempdir().unwrap();
    deploy_folder(dir.path(), "showcase", &a.showcase, |_| {});
    deploy_folder(dir.path(), "tampered", &a.showcase, |m| {
        m.targets
            .values_mut()
            .for_each(|t| t.sha256 = sha256_hex(b"something else"));
    });
    deploy_folder(dir.path(), "armonly", &a.showcase, |m| {
        let entry = m.targets.remove(host_target_name()).unwrap();
        m.targets.insert("arm64".into(), entry);
    });
    deploy_folder(dir.path(), "otherid", &a.showcase, |m| {
        m.plugin.id = "not-showcase".into()
    });
    deploy_folder(dir.path(), "newformat", &a.showcase, |m| {
        m.format = FORMAT + 1
    });
    fs::create_dir(dir.path().join("no-manifest")).unwrap();
    fs::copy(&a.bench, dir.path().join(".hidden.so")).unwrap();

    let manager = PluginManager::new(config());
    let reports = manager.load_dir(dir.path());
    let by_name = |name: &str| {
        reports
            .iter()
            .find(|r| r.path.file_name().unwrap() == name)
            .unwrap()
    };
    assert_eq!(by_name("showcase").status, PluginStatus::Active);
    assert!(matches!(
        by_name("tampered").error().unwrap().refusal,
        Refusal::ChecksumMismatch { .. }
    ));
    assert!(
        matches!(&by_name("armonly").error().unwrap().refusal, Refusal::NoTargetForHost { available, .. } if available == &["arm64"])
    );
    assert!(matches!(
        by_name("otherid").error().unwrap().refusal,
        Refusal::ManifestMismatch { field: "id", .. }
    ));
    assert!(matches!(
        by_name("newformat").error().unwrap().refusal,
        Refusal::BadManifest { .. }
    ));
    assert!(
        matches!(&by_name("no-manifest").status, PluginStatus::Skipped { reason } if reason.contains("plugin.toml"))
    );
    assert!(
        matches!(&by_name(".hidden.so").status, PluginStatus::Skipped { reason } if reason == "hidden file")
    );
    for name in ["tampered", "armonly", "otherid", "newformat"] {
        let text = by_name(name).error().unwrap().to_string();
        assert!(
            text.lines().count() <= 4 && text.contains("fix: "),
            "{text}"
        );
    }
    assert_eq!(
        greet(&manager, 1).unwrap()["greeting"],
        Value::Str("Hello, ada!".into())
    );
}

#[test]
fn a_hung_on_load_is_cut_off_by_the_time_limit() {
    let a = artifacts();
    let dir = plugin_dir(&[("panicky.so", &a.panicky), ("showcase.so", &a.showcase)]);
    let dir_arg = dir.path().to_str().unwrap();
    let started = std::time::Instant::now();
    let (code, stdout, stderr) = plugin_tests::run_plugin_host(
        &[
            "list",
            "--json",
            "--plugins-dir",
            dir_arg,
            "--lifecycle-timeout-ms",
            "300",
        ],
        &[("PANICKY_SLEEP_ON_LOAD_MS", "20000")],
    );
    // Not a timing measurement: the plugin sleeps 20 s in `on_load`, and a folder load that
    // waited for it (or a process that waited for its thread at exit) would take that long.
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(15),
        "the folder load gave up on the hung on_load: {took:?}"
    );
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let plugins = doc["plugins"].as_array().unwrap();
    let panicky = plugins
        .iter()
        .find(|p| p["path"].as_str().unwrap().ends_with("panicky.so"))
        .unwrap();
    assert_eq!(panicky["error"]["code"], "on-load-timed-out");
    assert!(panicky["error"]["cause"]
        .as_str()
        .unwrap()
        .contains("300 ms"));
    let showcase = plugins.iter().find(|p| p["id"] == "showcase").unwrap();
    assert_eq!(
        showcase["status"], "active",
        "the other plugins load regardless"
    );
}

#[test]
fn a_hung_on_load_that_returns_late_changes_nothing() {
    // The folder load gives up on the loader thread running the hung `on_load`; when the
    // plugin returns a second later, that thread must end without recording it as loaded.
    let a = artifacts();
    let dir = plugin_dir(&[("panicky.so", &a.panicky), ("showcase.so", &a.showcase)]);
    let (code, stdout, stderr) = plugin_tests::run_plugin_host(
        &[
            "watch",
            "--json",
            "--seconds",
            "3",
            "--plugins-dir",
            dir.path().to_str().unwrap(),
            "--lifecycle-timeout-ms",
            "300",
        ],
        &[("PANICKY_SLEEP_ON_LOAD_MS", "1000")],
    );
    assert_eq!(code, 0, "{stderr}");
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let about = |name: &str| -> Vec<&serde_json::Value> {
        events
            .iter()
            .filter(|e| e["source"].as_str().is_some_and(|s| s.ends_with(name)))
            .collect()
    };
    let panicky = about("panicky.so");
    assert_eq!(panicky.len(), 1, "one event for the hung plugin: {stdout}");
    assert_eq!(panicky[0]["event"], "refused");
    assert!(panicky[0]["message"]
        .as_str()
        .unwrap()
        .contains("did not return within 300 ms"));
    let showcase = about("showcase.so");
    assert!(
        showcase.iter().any(|e| e["event"] == "loaded"),
        "the plugin after it loads: {stdout}"
    );
}

#[test]
fn each_plugin_has_its_own_log_file_and_level() {
    let a = artifacts();
    let logs = tempfile::tempdir().unwrap();
    let plugins = plugin_dir(&[("showcase.so", &a.showcase), ("bench.so", &a.bench)]);
    let manager = PluginManager::new(
        config()
            .log_dir(logs.path())
            .log_level("showcase", LevelFilter::Debug),
    );
    manager.load_dir(plugins.path());
    let instance = manager.instance("showcase", &User::new(4, "dora")).unwrap();
    for level in ["debug", "trace"] {
        let input = Values::from([
            (
                "message".to_owned(),
                Value::Str(format!("a {level} line").into()),
            ),
            ("level".to_owned(), Value::Str(level.into())),
        ]);
        instance.execute("log", &input).unwrap();
    }
    let text = fs::read_to_string(logs.path().join("plugin-showcase.log")).unwrap();
    assert!(
        text.contains("showcase loaded"),
        "on_load's info line: {text}"
    );
    assert!(
        text.contains("DEBUG new instance for user 4"),
        "the configured debug level: {text}"
    );
    assert!(
        text.contains("a debug line") && !text.contains("a trace line"),
        "{text}"
    );
    assert!(
        logs.path().join("plugin-bench-0000.log").exists(),
        "one file per plugin"
    );

    // The environment variable overrides the host's configuration (GoCD's per-plugin level).
    let dir_arg = plugins.path().to_str().unwrap();
    let log_arg = logs.path().to_str().unwrap();
    let args = [
        "call",
        "--plugins-dir",
        dir_arg,
        "--log-dir",
        log_arg,
        "showcase",
        "log",
        "message=from-the-cli",
        "level=info",
    ];
    let (code, _, stderr) =
        plugin_tests::run_plugin_host(&args, &[("PLUGIN_SHOWCASE_LOG_LEVEL", "warn")]);
    assert_eq!(code, 0, "{stderr}");
    let text = fs::read_to_string(logs.path().join("plugin-showcase.log")).unwrap();
    assert!(
        !text.contains("from-the-cli"),
        "info is below the plugin's warn level"
    );
    let args = [
        "call",
        "--plugins-dir",
        dir_arg,
        "--log-dir",
        log_arg,
        "showcase",
        "log",
        "message=warned-from-the-cli",
        "level=warn",
    ];
    let (code, _, _) =
        plugin_tests::run_plugin_host(&args, &[("PLUGIN_SHOWCASE_LOG_LEVEL", "warn")]);
    assert_eq!(code, 0);
    assert!(fs::read_to_string(logs.path().join("plugin-showcase.log"))
        .unwrap()
        .contains("warned-from-the-cli"));
}

#[test]
fn a_stored_configuration_that_no_longer_validates_disables_the_instance_and_is_kept() {
    let a = artifacts();
    let storage = tempfile::tempdir().unwrap();
    let user = User::new(9, "ivy");
    {
        let plugins = plugin_dir(&[("showcase.so", &a.showcase)]);
        let manager = PluginManager::new(config().storage_dir(storage.path()));
        manager.load_dir(plugins.path());
        manager
            .set_config(
                "showcase",
                &user,
                r#"{"greeting": "Howdy", "max_count": 3}"#,
            )
            .unwrap();
    }
    let stored = storage.path().join("showcase/user-9.config");
    assert!(fs::read_to_string(&stored).unwrap().contains("Howdy"));
    {
        // A restart applies the stored configuration to the new instance.
        let plugins = plugin_dir(&[("showcase.so", &a.showcase)]);
        let manager = PluginManager::new(config().storage_dir(storage.path()));
        manager.load_dir(plugins.path());
        let out = manager
            .instance("showcase", &user)
            .unwrap()
            .execute("greet", &Values::new())
            .unwrap();
        assert_eq!(out["greeting"], Value::Str("Howdy, ivy!".into()));
    }
    // The plugin's rules changed (here: the stored text was edited to something it refuses).
    let refused = r#"{"greeting": "", "max_count": 3}"#;
    fs::write(&stored, refused).unwrap();
    let plugins = plugin_dir(&[("showcase.so", &a.showcase)]);
    let manager = PluginManager::new(config().storage_dir(storage.path()));
    manager.load_dir(plugins.path());
    match manager.instance("showcase", &user) {
        Err(CallError::NotActive { reason, .. }) => assert!(
            reason.contains("stored configuration no longer validates"),
            "{reason}"
        ),
        other => panic!("expected a disabled instance, got {other:?}"),
    }
    assert_eq!(
        fs::read_to_string(&stored).unwrap(),
        refused,
        "the stored configuration is never lost"
    );
    assert!(
        manager
            .instance("showcase", &User::new(10, "other"))
            .is_ok(),
        "other users are not affected"
    );

    manager
        .set_config("showcase", &user, r#"{"greeting": "Hi", "max_count": 3}"#)
        .unwrap();
    let out = manager
        .instance("showcase", &user)
        .unwrap()
        .execute("greet", &Values::new())
        .unwrap();
    assert_eq!(out["greeting"], Value::Str("Hi, ivy!".into()));
}

#[test]
fn a_failing_enable_leaves_the_instance_disabled_with_the_reason() {
    let dir = plugin_dir(&[("panicky.so", &artifacts().panicky)]);
    let manager = PluginManager::new(config());
    manager.load_dir(dir.path());
    let user = User::new(5, "panic-enable");
    assert!(manager.instance("panicky", &user).unwrap_err().is_panic());
    match manager.instance("panicky", &user) {
        Err(CallError::NotActive { reason, .. }) => {
            assert!(reason.contains("`enable` failed"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hot_reload_swaps_builds_under_concurrent_calls_without_a_failed_call() {
    let a = artifacts();
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("showcase.so");
    fs::copy(&a.showcase, &plugin).unwrap();
    let manager = Arc::new(PluginManager::new(config().external_dir(dir.path())));
    let events = manager.subscribe();
    assert_eq!(manager.discover()[0].status, PluginStatus::Active);
    assert!(matches!(
        events.recv_timeout(Duration::from_secs(5)).unwrap(),
        PluginEvent::Loaded { .. }
    ));
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
                    match greet(&manager, t) {
                        Ok(out) if out["greeting"] == Value::Str("Hello, ada!".into()) => {
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

    // Deploy a new build (the nightly-compiled one) the way deploy does: a new file renamed over.
    let staged = dir.path().join(".showcase.so.tmp");
    fs::copy(&a.showcase_nightly, &staged).unwrap();
    fs::rename(&staged, &plugin).unwrap();
    let reloaded = events
        .recv_timeout(Duration::from_secs(30))
        .expect("a reload event");
    assert!(
        matches!(reloaded, PluginEvent::Reloaded { ref id, .. } if id == "showcase"),
        "{reloaded:?}"
    );

    // A broken build is refused and the running one keeps answering.
    let whole = fs::read(&a.showcase).unwrap();
    fs::write(&staged, &whole[..whole.len() / 2]).unwrap();
    fs::rename(&staged, &plugin).unwrap();
    let refused = loop {
        match events
            .recv_timeout(Duration::from_secs(30))
            .expect("a refused reload")
        {
            PluginEvent::Reloaded { .. } => continue, // a late second event of the first deploy
            other => break other,
        }
    };
    assert!(
        matches!(refused, PluginEvent::ReloadRefused { ref message, .. } if message.contains("damaged ELF")),
        "{refused:?}"
    );
    thread::sleep(Duration::from_millis(200));

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
    let report = manager.report_for("showcase").unwrap();
    assert_eq!(report.status, PluginStatus::Active);
    assert!(
        report.messages.iter().any(|m| m.starts_with("reloaded")),
        "{:?}",
        report.messages
    );
    assert!(
        report
            .messages
            .iter()
            .any(|m| m.contains("running one is kept")),
        "{:?}",
        report.messages
    );

    // Removing the file unloads the plugin.
    fs::remove_file(&plugin).unwrap();
    let unloaded = events
        .recv_timeout(Duration::from_secs(30))
        .expect("an unload event");
    assert_eq!(
        unloaded,
        PluginEvent::Unloaded {
            id: "showcase".into()
        }
    );
    assert!(matches!(
        greet(&manager, 0),
        Err(CallError::NotFound { .. })
    ));
}

#[test]
fn metrics_count_calls_errors_panics_and_time_a_sample() {
    let a = artifacts();
    let dir = plugin_dir(&[("showcase.so", &a.showcase), ("panicky.so", &a.panicky)]);
    let manager = PluginManager::new(config());
    manager.load_dir(dir.path());
    let instance = manager.instance("showcase", &User::new(1, "m")).unwrap();
    for _ in 0..100 {
        instance.execute("greet", &Values::new()).unwrap();
    }
    instance
        .execute("no-such-label", &Values::new())
        .unwrap_err();
    let panicky = manager.instance("panicky", &User::new(1, "m")).unwrap();
    panicky.execute("x", &Values::new()).unwrap_err();

    let showcase = manager.report_for("showcase").unwrap();
    // 1 instance creation + 1 enable + 101 executes.
    assert_eq!(
        (
            showcase.metrics.calls,
            showcase.metrics.errors,
            showcase.metrics.panics
        ),
        (103, 1, 0)
    );
    // The first 64 calls are timed (new_instance is counted, not timed).
    assert_eq!(showcase.metrics.sampled_calls, 63);
    assert!(
        showcase.metrics.p50_ns.is_some() && showcase.metrics.p99_ns >= showcase.metrics.p50_ns
    );
    assert!(showcase.load_time.is_some() && showcase.loaded_at.is_some());
    // Where the load time went: every phase that ran in process took time, and the phases
    // are parts of the whole.
    let phases = showcase
        .load_phases
        .expect("an active plugin has its phases");
    assert!(
        !phases.checks.is_zero()
            && !phases.open.is_zero()
            && !phases.layout_check.is_zero()
            && !phases.on_load.is_zero(),
        "{phases:?}"
    );
    assert!(
        phases.total() <= showcase.load_time.unwrap(),
        "{phases:?} within {:?}",
        showcase.load_time
    );
    let panicky = manager.report_for("panicky").unwrap();
    assert_eq!((panicky.metrics.errors, panicky.metrics.panics), (1, 1));
}

/// A host killed by SIGKILL never removes its folder of private copies; the next manager
/// made on this machine removes it (its lock died with the process), and never a live one's.
#[test]
fn a_killed_hosts_private_folder_is_removed_by_the_next_manager() {
    let plugins = plugin_dir(&[("showcase.so", &artifacts().showcase)]);
    let mut child = std::process::Command::new(&artifacts().plugin_host_bin)
        .args(["watch", "--seconds", "120", "--plugins-dir"])
        .arg(plugins.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    plugin_tests::wait_until_watching(&mut child);
    // Its folder: the one whose lock file the process holds open.
    let folder = fs::read_dir(format!("/proc/{}/fd", child.id()))
        .unwrap()
        .filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .find(|target| target.ends_with(".owner.lock"))
        .and_then(|lock| lock.parent().map(Path::to_owned))
        .expect("plugin-host holds its private folder's lock");
    assert!(folder.is_dir());

    // While it runs, a new manager leaves its folder alone.
    drop(PluginManager::new(HostConfig::new(
        "1.4.0".parse().unwrap(),
    )));
    assert!(folder.is_dir(), "a live host's folder survives");

    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    assert!(folder.is_dir(), "a killed host leaves its folder behind");
    drop(PluginManager::new(HostConfig::new(
        "1.4.0".parse().unwrap(),
    )));
    assert!(
        !folder.exists(),
        "the next manager removed {}",
        folder.display()
    );
}

/// A restart does not read a settled plugin file to hash it: the cache knows the file's hash
/// by its identity (device, inode, size, times). Shown by giving the file's line another hash:
/// the restart then looks the root check up under that hash, does not find it, and checks.
/// A file changed since it was hashed has a new identity and is hashed again.
#[test]
fn a_restart_finds_a_settled_files_hash_by_its_identity() {
    use std::os::unix::fs::MetadataExt;
    let a = artifacts();
    let plugins = plugin_dir(&[("showcase.so", &a.showcase)]);
    let plugin = plugins.path().join("showcase.so");
    // The cache takes a file's times as its content only once it has been left alone for
    // two seconds.
    thread::sleep(Duration::from_millis(2_100));
    let cache = tempfile::tempdir().unwrap();
    let file = cache.path().join(plugrack_host::extension::CACHE_FILE);
    let start = || {
        let manager = PluginManager::new(config().cache_dir(cache.path()));
        let report = manager.load_dir(plugins.path()).remove(0);
        assert_eq!(report.status, PluginStatus::Active, "{report:?}");
        report.load_phases.unwrap().layout_cached
    };
    assert!(!start(), "the first start checks");
    let text = fs::read_to_string(&file).unwrap();
    let inode = fs::metadata(&plugin).unwrap().ino();
    let line = text
        .lines()
        .find(|l| l.starts_with("file ") && l.split(' ').nth(2) == Some(&inode.to_string()))
        .unwrap_or_else(|| panic!("no line for the plugin file:\n{text}"))
        .to_owned();
    assert!(start(), "the restart skips the check");

    let hash = line.rsplit(' ').next().unwrap();
    let other = format!("{:032x}", u128::from_str_radix(hash, 16).unwrap() ^ 1);
    fs::write(&file, text.replace(&line, &line.replace(hash, &other))).unwrap();
    assert!(
        !start(),
        "the hash came from the file's line, not from its bytes"
    );

    // Changed in place (same bytes, new times): hashed again, and its check is found.
    fs::write(&plugin, fs::read(&plugin).unwrap()).unwrap();
    assert!(
        start(),
        "a new identity is hashed: the content's check is known"
    );
}

/// The root module's layout check is kept by library content: a second manager with the same
/// cache folder (a restart) does not run it again for an unchanged plugin, and a refused
/// layout is never kept, so it is refused again.
#[test]
fn a_restart_with_a_cache_folder_skips_the_root_layout_check_of_an_unchanged_plugin() {
    let a = artifacts();
    let plugins = plugin_dir(&[
        ("api-layout.so", &a.raw_api_layout),
        ("showcase.so", &a.showcase),
    ]);
    let cache = tempfile::tempdir().unwrap();
    let load = || {
        let manager = PluginManager::new(config().cache_dir(cache.path()));
        let reports = manager.load_dir(plugins.path());
        let showcase = reports
            .iter()
            .find(|r| r.path.ends_with("showcase.so"))
            .unwrap();
        assert_eq!(showcase.status, PluginStatus::Active, "{showcase:?}");
        let refused = reports
            .iter()
            .find(|r| r.path.ends_with("api-layout.so"))
            .unwrap();
        assert!(
            matches!(
                refused.error().map(|e| &e.refusal),
                Some(Refusal::LayoutMismatch { .. })
            ),
            "{:?}",
            refused.error().map(ToString::to_string)
        );
        (manager, showcase.load_phases.unwrap().layout_cached)
    };

    let (first, cached) = load();
    assert!(!cached, "the first load checks");
    drop(first);
    let file = cache.path().join(plugrack_host::extension::CACHE_FILE);
    let text = fs::read_to_string(&file).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.contains(" :root-module "))
            .count(),
        1,
        "one passed root check, the refused one is not kept:\n{text}"
    );

    let (_second, cached) = load();
    assert!(cached, "the restart skips the showcase's check");

    // Without the file, the next manager checks again.
    fs::remove_file(&file).unwrap();
    let (_third, cached) = load();
    assert!(!cached);
}
