//! Host-defined extension points end to end: the text-pipeline example's interface crate on
//! the host's side, its plugins built as real shared libraries (against interface 1.1, 1.0,
//! a copy changed under the same version and a copy claiming 2.0, with nightly), loaded by
//! the real manager and called through typed handles.

use std::{
    collections::BTreeSet,
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
    CallError, ErrorKind, ExtensionRefusal, ExtensionReport, ExtensionStatus, HostConfig,
    LayoutCheck, PluginEvent, PluginManager, PluginReport, PluginStatus, User, Value, Values,
};
use text_pipeline_api::{
    std_types::RStr, Finding, FormatterCalls, FormatterExt, LinterCalls, LinterExt,
};

const FORMATTER: &str = "text-pipeline.formatter";
const LINTER: &str = "text-pipeline.linter";

fn config() -> HostConfig {
    HostConfig::new("1.1.0".parse().unwrap())
        .extension_point::<FormatterExt>()
        .extension_point::<LinterExt>()
}

fn load(dir: &Path) -> (PluginManager, Vec<PluginReport>) {
    let manager = PluginManager::new(config());
    let reports = manager.load_dir(dir);
    (manager, reports)
}

fn extension<'a>(report: &'a PluginReport, id: &str) -> &'a ExtensionReport {
    report
        .extensions
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| {
            panic!(
                "{} lists no `{id}`: {:?}",
                report.path.display(),
                report.extensions
            )
        })
}

fn active(report: &PluginReport) {
    assert_eq!(
        report.status,
        PluginStatus::Active,
        "{}: {:?}",
        report.path.display(),
        report.error().map(ToString::to_string)
    );
}

#[test]
fn every_method_of_two_extension_points_of_one_plugin_round_trips_through_typed_handles() {
    let a = artifacts();
    let dir = plugin_dir(&[("title-case.so", &a.title_case)]);
    let (manager, reports) = load(dir.path());
    active(&reports[0]);
    for (id, version) in [(FORMATTER, "1.1.0"), (LINTER, "1.1.0")] {
        let e = extension(&reports[0], id);
        assert_eq!(e.status, ExtensionStatus::Active, "{id}");
        assert_eq!(e.version, version);
        assert_eq!(e.host_version.as_deref(), Some(version));
        assert_eq!(e.interface, "text-pipeline-api 1.1.0");
        assert!(
            matches!(e.layout_check, LayoutCheck::Checked { .. }),
            "{:?}",
            e.layout_check
        );
    }

    let formatters = manager.extensions::<FormatterExt>();
    assert_eq!(formatters.len(), 1);
    let formatter = &formatters[0];
    assert_eq!(formatter.plugin_id(), "tp-title-case");
    assert_eq!(formatter.version(), "1.1.0");
    assert_eq!(
        formatter.format("a quiet river".into()).unwrap(),
        "A Quiet River"
    );
    assert_eq!(formatter.name().unwrap(), "title-case");

    let linter = manager.extension::<LinterExt>("tp-title-case").unwrap();
    let long = "word ".repeat(14);
    let findings = linter
        .lint(RStr::from_str(&format!("short\n{long}")))
        .unwrap();
    assert_eq!(
        findings.into_vec(),
        [Finding {
            line: 2,
            message: "line is 70 characters long; keep it to 60".into()
        }]
    );
    // The plugin's own error, through the flattened `Result<_, PluginError>`.
    let error = linter.lint("".into()).unwrap_err();
    let plugin_error = error.plugin_error().expect("the plugin's error");
    assert_eq!(plugin_error.kind, ErrorKind::INVALID_INPUT);
    assert_eq!(plugin_error.message.as_str(), "there is no text to check");
    assert_eq!(
        error.to_string(),
        "plugin `tp-title-case` failed in `lint`: invalid input: there is no text to check"
    );
    assert_eq!(
        manager.report_for("tp-title-case").unwrap().metrics.errors,
        1
    );

    // Its own capability still works beside the extensions.
    let out = manager
        .instance("tp-title-case", &User::new(1, "ada"))
        .unwrap()
        .execute(
            "stats",
            &[("text".to_owned(), Value::Str("one two".into()))].into(),
        )
        .unwrap();
    assert_eq!(out, Values::from([("words".to_owned(), Value::Int(2))]));
}

#[test]
fn a_plugin_built_against_1_0_answers_the_appended_method_with_its_default() {
    let a = artifacts();
    let dir = plugin_dir(&[("shout.so", &a.text_pipeline.shout)]);
    let (manager, reports) = load(dir.path());
    active(&reports[0]);
    let e = extension(&reports[0], FORMATTER);
    assert_eq!(e.status, ExtensionStatus::Active);
    assert_eq!(e.version, "1.0.0");
    assert_eq!(e.interface, "text-pipeline-api 1.0.0");
    assert_eq!(e.host_version.as_deref(), Some("1.1.0"));

    let shout = manager.extension::<FormatterExt>("tp-shout").unwrap();
    assert_eq!(shout.version(), "1.0.0");
    assert_eq!(shout.format("quiet please".into()).unwrap(), "QUIET PLEASE");
    // `name` was appended in 1.1.0: the plugin's vtable ends before it, the host answers.
    assert_eq!(shout.name().unwrap(), "unnamed");
    // It has no capability of the toolkit's own, and no instances.
    assert!(reports[0].info.as_ref().unwrap().capabilities.is_empty());
    assert!(manager.extension::<LinterExt>("tp-shout").is_err());
}

#[test]
fn two_plugins_implement_one_extension_point_and_both_are_called_in_load_order() {
    let a = artifacts();
    let dir = plugin_dir(&[
        ("1-title-case.so", &a.title_case),
        ("2-shout.so", &a.text_pipeline.shout),
    ]);
    let (manager, reports) = load(dir.path());
    reports.iter().for_each(active);
    let formatters = manager.extensions::<FormatterExt>();
    let ids: Vec<&str> = formatters.iter().map(|f| f.plugin_id()).collect();
    assert_eq!(ids, ["tp-title-case", "tp-shout"]);
    let mut text = "mixed case words".to_owned();
    for f in &formatters {
        text = f.format(RStr::from_str(&text)).unwrap().into_string();
    }
    assert_eq!(text, "MIXED CASE WORDS");
    // Only one of them lints.
    assert_eq!(manager.extensions::<LinterExt>().len(), 1);
}

#[test]
fn another_major_version_is_refused_in_three_lines_and_the_plugin_still_loads() {
    let a = artifacts();
    let dir = plugin_dir(&[("v2.so", &a.text_pipeline.title_case_v2)]);
    let (manager, reports) = load(dir.path());
    active(&reports[0]);
    for id in [FORMATTER, LINTER] {
        let e = extension(&reports[0], id);
        let error = e.error().unwrap_or_else(|| panic!("{id}: {:?}", e.status));
        assert_eq!(
            error.refusal,
            ExtensionRefusal::OtherMajor {
                plugin: "2.0.0".into(),
                host: "1.1.0".into()
            }
        );
        let text = error.to_string();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.starts_with(&format!(
                "extension refused: `{id}` of plugin `tp-title-case-v2` ("
            )),
            "{text}"
        );
        assert!(
            text.contains(
                "the plugin implements 2.0.0; this host provides 1.1.0 (`text-pipeline-api`)"
            ),
            "{text}"
        );
        assert!(
            text.contains("fix: rebuild the plugin against `text-pipeline-api` 1.x"),
            "{text}"
        );
        assert_eq!(e.layout_check, LayoutCheck::NotRun);
    }
    assert!(manager.extensions::<FormatterExt>().is_empty());
    assert!(matches!(
        manager.extension::<FormatterExt>("tp-title-case-v2"),
        Err(CallError::Unsupported { .. })
    ));
    // The plugin's own capability is unaffected.
    let out = manager
        .instance("tp-title-case-v2", &User::new(1, "ada"))
        .unwrap()
        .execute(
            "stats",
            &[("text".to_owned(), Value::Str("a b c".into()))].into(),
        )
        .unwrap();
    assert_eq!(out["words"], Value::Int(3));
}

#[test]
fn a_layout_changed_under_the_same_version_is_refused_while_the_rest_of_the_plugin_loads() {
    let a = artifacts();
    let dir = plugin_dir(&[("layout.so", &a.text_pipeline.title_case_layout)]);
    let (manager, reports) = load(dir.path());
    active(&reports[0]);
    let formatter = extension(&reports[0], FORMATTER);
    let error = formatter.error().expect("the changed Formatter is refused");
    assert_eq!(
        error.refusal,
        ExtensionRefusal::LayoutMismatch {
            version: "1.1.0".into()
        }
    );
    let text = error.to_string();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.contains("its `text-pipeline-api` 1.1.0 interface differs from this host's 1.1.0: same version, another layout"),
        "{text}"
    );
    assert!(
        text.contains("fix: rebuild against the released `text-pipeline-api`"),
        "{text}"
    );
    // abi_stable's own report is kept for debugging.
    assert!(
        error.detail.as_deref().unwrap_or("").contains("width"),
        "{:?}",
        error.detail
    );
    assert!(matches!(
        formatter.layout_check,
        LayoutCheck::Checked { .. }
    ));

    // The Linter of the same plugin did not change: it loads and answers.
    assert_eq!(
        extension(&reports[0], LINTER).status,
        ExtensionStatus::Active
    );
    let linter = manager
        .extension::<LinterExt>("tp-title-case-layout")
        .unwrap();
    assert!(linter.lint("fine".into()).unwrap().is_empty());
    assert!(manager.extensions::<FormatterExt>().is_empty());
}

#[test]
fn panics_in_extension_methods_come_back_as_errors_and_the_host_keeps_going() {
    let a = artifacts();
    let dir = plugin_dir(&[("panicky.so", &a.panicky), ("title-case.so", &a.title_case)]);
    let (manager, reports) = load(dir.path());
    reports.iter().for_each(active);
    let panicky = manager.extension::<FormatterExt>("panicky").unwrap();
    let error = panicky.format("anything".into()).unwrap_err();
    assert!(error.is_panic(), "{error}");
    let message = &error.plugin_error().unwrap().message;
    assert!(
        message.contains("plugin panicked in `format` of extension `text-pipeline.formatter`")
            && message.contains("panicky: format panicked on purpose")
            && message.contains("examples/panicky/src/lib.rs:"),
        "{message}"
    );
    assert!(panicky.name().unwrap_err().is_panic());
    let lint = manager
        .extension::<LinterExt>("panicky")
        .unwrap()
        .lint("x".into())
        .unwrap_err();
    assert!(lint.is_panic(), "{lint}");
    let metrics = manager.report_for("panicky").unwrap().metrics;
    assert_eq!((metrics.errors, metrics.panics), (3, 3));
    // The other plugin is untouched, and so is panicky's entry.
    let title = manager.extension::<FormatterExt>("tp-title-case").unwrap();
    assert_eq!(title.format("still here".into()).unwrap(), "Still Here");
    assert_eq!(
        manager.report_for("panicky").unwrap().status,
        PluginStatus::Active
    );
}

#[test]
fn a_plugin_built_with_nightly_implementing_extensions_loads() {
    let a = artifacts();
    let bytes = fs::read(&a.title_case_nightly).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    let comment = object::Object::section_by_name(&file, ".comment")
        .and_then(|s| {
            object::ObjectSection::data(&s)
                .ok()
                .map(|d| String::from_utf8_lossy(d).into_owned())
        })
        .unwrap_or_default();
    assert!(comment.contains("nightly"), "built by nightly: {comment:?}");
    let dir = plugin_dir(&[("title-case-nightly.so", &a.title_case_nightly)]);
    let (manager, reports) = load(dir.path());
    active(&reports[0]);
    let formatter = manager.extension::<FormatterExt>("tp-title-case").unwrap();
    assert_eq!(formatter.name().unwrap(), "title-case+nightly");
    assert_eq!(
        formatter.format("made by nightly".into()).unwrap(),
        "Made By Nightly"
    );
    assert_eq!(
        extension(&reports[0], LINTER).status,
        ExtensionStatus::Active
    );
}

#[test]
fn extension_points_the_host_does_not_declare_are_reported_and_left_alone() {
    let a = artifacts();
    let dir = plugin_dir(&[("title-case.so", &a.title_case)]);
    let manager = PluginManager::new(
        HostConfig::new("1.1.0".parse().unwrap()).extension_point::<LinterExt>(),
    );
    let reports = manager.load_dir(dir.path());
    active(&reports[0]);
    let formatter = extension(&reports[0], FORMATTER);
    assert_eq!(formatter.status, ExtensionStatus::Undeclared);
    assert_eq!(formatter.host_version, None);
    assert_eq!(
        extension(&reports[0], LINTER).status,
        ExtensionStatus::Active
    );
    assert!(manager.extensions::<FormatterExt>().is_empty());
}

#[test]
fn layout_checks_are_cached_by_content_across_reloads_and_restarts() {
    let a = artifacts();
    let dir = plugin_dir(&[("title-case.so", &a.title_case)]);
    let cache = tempfile::tempdir().unwrap();
    let checks = |report: &PluginReport| -> Vec<&'static str> {
        report
            .extensions
            .iter()
            .map(|e| e.layout_check.name())
            .collect()
    };

    let manager = PluginManager::new(config().cache_dir(cache.path()));
    let first = manager.load_dir(dir.path());
    assert_eq!(checks(&first[0]), ["checked", "checked"]);
    let file = cache.path().join(plugrack_host::extension::CACHE_FILE);
    let lines = fs::read_to_string(&file).unwrap();
    assert_eq!(
        lines
            .lines()
            // Checks only: a `file` line (a settled file's hash) may be there too.
            .filter(|l| !l.starts_with('#') && !l.starts_with("file "))
            .filter(|l| !l.contains(" :root-module "))
            .count(),
        2,
        "{lines}"
    );
    assert_eq!(
        lines
            .lines()
            .filter(|l| l.contains(" :root-module "))
            .count(),
        1,
        "and the root module's: {lines}"
    );

    // The same content under another name, in the same manager: no check.
    let other = tempfile::tempdir().unwrap();
    fs::copy(&a.title_case, other.path().join("renamed.so")).unwrap();
    manager.unload("tp-title-case").unwrap();
    let again = manager.load_dir(other.path());
    active(&again[0]);
    assert_eq!(checks(&again[0]), ["cached", "cached"]);
    let root_cached = |report: &PluginReport| report.load_phases.unwrap().layout_cached;
    assert!(
        !root_cached(&first[0]) && root_cached(&again[0]),
        "the root module's too"
    );
    drop(manager);

    // A restart with the cache folder: no check either.
    let restarted = PluginManager::new(config().cache_dir(cache.path()));
    let reports = restarted.load_dir(dir.path());
    assert_eq!(checks(&reports[0]), ["cached", "cached"]);
    assert!(root_cached(&reports[0]));
    assert_eq!(
        restarted
            .extension::<FormatterExt>("tp-title-case")
            .unwrap()
            .format("cached".into())
            .unwrap(),
        "Cached"
    );

    // Without it, a new manager checks again; another build's content is checked too.
    let fresh = PluginManager::new(config());
    let fresh_reports = fresh.load_dir(dir.path());
    assert_eq!(checks(&fresh_reports[0]), ["checked", "checked"]);
    assert!(!root_cached(&fresh_reports[0]));
    let nightly = plugin_dir(&[("nightly.so", &a.title_case_nightly)]);
    let cached = PluginManager::new(config().cache_dir(cache.path()));
    assert_eq!(
        checks(&cached.load_dir(nightly.path())[0]),
        ["checked", "checked"]
    );
}

#[test]
fn reload_under_concurrent_extension_calls_fails_no_call() {
    let a = artifacts();
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("title-case.so");
    fs::copy(&a.title_case, &plugin).unwrap();
    let manager = Arc::new(PluginManager::new(config().external_dir(dir.path())));
    let events = manager.subscribe();
    active(&manager.discover()[0]);
    assert!(matches!(
        events.recv_timeout(Duration::from_secs(5)).unwrap(),
        PluginEvent::Loaded { .. }
    ));
    // A handle taken before the reload keeps calling the build it came from.
    let held = manager.extension::<FormatterExt>("tp-title-case").unwrap();
    let _watcher = plugrack_host::watch(&manager, Duration::from_millis(100)).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let (calls, failures) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let names = Arc::new(Mutex::new(BTreeSet::new()));
    let callers: Vec<_> = (0..4)
        .map(|_| {
            let (manager, stop, calls, failures, names) = (
                Arc::clone(&manager),
                Arc::clone(&stop),
                Arc::clone(&calls),
                Arc::clone(&failures),
                Arc::clone(&names),
            );
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let formatters = manager.extensions::<FormatterExt>();
                    if formatters.len() != 1 {
                        eprintln!("expected one formatter, got {}", formatters.len());
                        failures.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let f = &formatters[0];
                    match (f.format("under load".into()), f.name()) {
                        (Ok(text), Ok(name)) if text == "Under Load" => {
                            names.lock().unwrap().insert(name.into_string());
                            calls.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            eprintln!("failed call: {other:?}");
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();

    thread::sleep(Duration::from_millis(100));
    // Deploy the nightly build the way deploy does: a new file renamed over the old one.
    let staged = dir.path().join(".title-case.so.tmp");
    fs::copy(&a.title_case_nightly, &staged).unwrap();
    fs::rename(&staged, &plugin).unwrap();
    let reloaded = events
        .recv_timeout(Duration::from_secs(30))
        .expect("a reload event");
    assert!(
        matches!(reloaded, PluginEvent::Reloaded { ref id, .. } if id == "tp-title-case"),
        "{reloaded:?}"
    );
    // Calls keep going on the new build for a while.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !names.lock().unwrap().contains("title-case+nightly")
        && std::time::Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().unwrap();
    }
    assert_eq!(
        failures.load(Ordering::Relaxed),
        0,
        "no call failed during the reload"
    );
    assert!(
        calls.load(Ordering::Relaxed) > 100,
        "the callers really ran"
    );
    let seen = names.lock().unwrap().clone();
    assert!(
        seen.contains("title-case") && seen.contains("title-case+nightly"),
        "calls reached both builds: {seen:?}"
    );
    assert_eq!(
        held.name().unwrap(),
        "title-case",
        "the held handle is on the old build"
    );
    assert_eq!(
        manager.extensions::<FormatterExt>()[0].name().unwrap(),
        "title-case+nightly"
    );
    let report = manager.report_for("tp-title-case").unwrap();
    assert_eq!(
        extension(&report, FORMATTER).status,
        ExtensionStatus::Active
    );
}

fn run(bin: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(bin)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the binary");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_example_host_lists_extensions_and_runs_text_through_its_plugins() {
    let a = artifacts();
    let dir = plugin_dir(&[
        ("1-title-case.so", &a.title_case),
        ("2-shout.so", &a.text_pipeline.shout),
        ("3-layout.so", &a.text_pipeline.title_case_layout),
        ("4-v2.so", &a.text_pipeline.title_case_v2),
    ]);
    let plugins = dir.path().to_str().unwrap();
    let bin = &a.text_pipeline_bin;

    let (code, out, err) = run(bin, &["list", "--plugins-dir", plugins], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("tp-shout ("), "{out}");
    assert!(
        out.contains("  text-pipeline.formatter 1.0.0 (text-pipeline-api 1.0.0): active"),
        "{out}"
    );
    assert!(
        out.contains("  text-pipeline.formatter 1.1.0 (text-pipeline-api 1.1.0): refused"),
        "{out}"
    );
    assert!(
        out.contains("  text-pipeline.formatter 2.0.0 (text-pipeline-api 2.0.0): refused"),
        "{out}"
    );
    assert!(
        out.contains(
            "    extension refused: `text-pipeline.formatter` of plugin `tp-title-case-layout`"
        ),
        "{out}"
    );

    let (code, json, err) = run(bin, &["list", "--json", "--plugins-dir", plugins], "");
    assert_eq!(code, 0, "{err}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let plugins_json = doc["plugins"].as_array().unwrap();
    assert_eq!(plugins_json.len(), 4);
    let v2 = plugins_json
        .iter()
        .find(|p| p["id"] == "tp-title-case-v2")
        .unwrap();
    assert_eq!(v2["status"], "active");
    let formatter = &v2["extensions"][0];
    assert_eq!(formatter["id"], FORMATTER);
    assert_eq!(formatter["version"], "2.0.0");
    assert_eq!(formatter["host_version"], "1.1.0");
    assert_eq!(formatter["status"], "refused");
    assert_eq!(formatter["error"]["code"], "other-major");
    assert!(formatter["error"]["fix"]
        .as_str()
        .unwrap()
        .contains("plugin-build cap"));
    let title = plugins_json
        .iter()
        .find(|p| p["id"] == "tp-title-case")
        .unwrap();
    assert_eq!(title["extensions"][0]["layout_check"], "checked");

    // Title case, then shout (file-name order); the linters of title-case and of the
    // layout-changed build (whose Linter is fine) both run.
    let long = "w ".repeat(40);
    let input = format!("a short line\n{long}\n");
    let (code, out, err) = run(bin, &["run", "--plugins-dir", plugins], &input);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("A SHORT LINE\n"), "{out}");
    assert!(
        err.contains("formatted by `tp-title-case` (title-case 1.1.0)"),
        "{err}"
    );
    assert!(
        err.contains("formatted by `tp-shout` (unnamed 1.0.0)"),
        "{err}"
    );
    assert!(
        err.contains("line 2: line is 80 characters long; keep it to 60 (`tp-title-case`)"),
        "{err}"
    );
    assert!(err.contains("(`tp-title-case-layout`)"), "{err}");

    // The toolkit's own tool declares no extension points: it lists them as undeclared.
    let (code, out, err) = plugin_tests::run_plugin_host(&["list", "--plugins-dir", plugins], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("    extension text-pipeline.formatter 1.1.0 (text-pipeline-api 1.1.0): undeclared: this host has no such extension point"),
        "{out}"
    );
}

#[test]
fn inspect_lists_extensions_and_refuses_another_line_of_the_hosts_interface_crate() {
    use plugrack_build::{cap::Lock, inspect};
    let a = artifacts();
    // The workspace's lock is the text-pipeline host's: it has text-pipeline-api 1.1.0.
    let host_lock = Lock::read(&plugin_tests::workspace_root().join("Cargo.lock")).unwrap();
    let host_version: semver::Version = "1.1.0".parse().unwrap();

    let ok = inspect::inspect_with(&a.title_case, &host_version, Some(&host_lock)).unwrap();
    assert!(ok.accepted(), "{}", inspect::render(&ok));
    let ids: Vec<&str> = ok.extensions.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [FORMATTER, LINTER]);
    assert_eq!(ok.extensions[0].interface, "text-pipeline-api");
    assert_eq!(ok.extensions[0].interface_version, "1.1.0");
    assert_eq!(
        ok.extensions[0].host_versions.as_deref(),
        Some(&["1.1.0".to_owned()][..])
    );
    let text = inspect::render(&ok);
    assert!(
        text.contains("extension:   text-pipeline.formatter 1.1.0 (text-pipeline-api 1.1.0): the host's lock has 1.1.0: ok"),
        "{text}"
    );

    let old =
        inspect::inspect_with(&a.text_pipeline.shout, &host_version, Some(&host_lock)).unwrap();
    assert!(
        old.accepted(),
        "1.0 is on the host's line: {}",
        inspect::render(&old)
    );

    let v2 = inspect::inspect_with(
        &a.text_pipeline.title_case_v2,
        &host_version,
        Some(&host_lock),
    )
    .unwrap();
    assert!(v2.verdict.loads, "the plugin itself loads");
    assert!(!v2.accepted());
    let problem = v2.extensions[0].problem.as_deref().unwrap();
    assert!(
        problem.starts_with("extension `text-pipeline.formatter`: built against `text-pipeline-api` 2.0.0; the host's lock has 1.1.0: the host refuses this extension"),
        "{problem}"
    );
    assert!(
        problem.contains("fix: build against the host's line: `text-pipeline-api = \"1\"`"),
        "{problem}"
    );
    assert!(inspect::render(&v2).contains("error:       extension `text-pipeline.formatter`"));

    // Without a host lock, the extensions are listed and left to the host.
    let plain = inspect::inspect(&a.text_pipeline.title_case_v2, &host_version).unwrap();
    assert!(plain.accepted());
    assert!(inspect::render(&plain).contains("checked by the host when it loads"));
}
