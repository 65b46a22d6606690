//! Loading and refusing real plugin files: every example is Active, every bad file is
//! Invalid with its own short message, and the host keeps going.

use std::{fs, path::Path};

use plugin_tests::{artifacts, plugin_dir};
use plugrack_host::{
    HostConfig, PluginManager, PluginReport, PluginStatus, Refusal, User, Value, Values,
};

fn manager() -> PluginManager {
    PluginManager::new(HostConfig::new("1.4.0".parse().unwrap()))
}

/// The version the doctored "newer minor" copy of plugrack-api claims.
fn next_minor() -> String {
    let current = plugrack_api::compat::ApiVersion::current();
    format!("{}.{}.0", current.major, current.minor + 1)
}

fn refusal(report: &PluginReport) -> &Refusal {
    &report
        .error()
        .unwrap_or_else(|| {
            panic!(
                "expected {} to be invalid, got {:?}",
                report.path.display(),
                report.status
            )
        })
        .refusal
}

fn report_for<'a>(reports: &'a [PluginReport], name: &str) -> &'a PluginReport {
    reports
        .iter()
        .find(|r| r.path.file_name().unwrap() == name)
        .unwrap_or_else(|| panic!("no report for {name}"))
}

/// The folder the `Done when` of the foundation issue describes: every example and every
/// kind of bad file.
fn mixed_folder() -> tempfile::TempDir {
    let a = artifacts();
    let dir = plugin_dir(&[
        ("showcase.so", &a.showcase),
        ("panicky.so", &a.panicky),
        ("bench.so", &a.bench),
        ("not-a-plugin.so", &a.not_a_plugin),
        ("showcase-arm64.so", &a.showcase_aarch64),
        ("api-major.so", &a.raw_api_major),
        ("api-minor.so", &a.raw_api_minor),
        ("api-layout.so", &a.raw_api_layout),
    ]);
    fs::write(dir.path().join("empty.so"), b"").unwrap();
    let random: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(dir.path().join("random.so"), random).unwrap();
    fs::write(dir.path().join("README.txt"), "plugins go here\n").unwrap();
    fs::write(
        dir.path().join("notes.so"),
        "these are notes, not a plugin\n",
    )
    .unwrap();
    let whole = fs::read(&a.showcase).unwrap();
    fs::write(dir.path().join("truncated.so"), &whole[..whole.len() / 3]).unwrap();
    dir
}

#[test]
fn examples_load_and_every_bad_file_is_refused_with_its_own_reason() {
    let dir = mixed_folder();
    let manager = manager();
    let reports = manager.load_dir(dir.path());
    assert_eq!(reports.len(), 13, "one report per entry");

    for active in ["showcase.so", "panicky.so", "bench.so"] {
        let report = report_for(&reports, active);
        assert_eq!(
            report.status,
            PluginStatus::Active,
            "{active}: {:?}",
            report.error().map(ToString::to_string)
        );
    }

    type Expectation = (&'static str, fn(&Refusal) -> bool);
    let expectations: &[Expectation] = &[
        ("empty.so", |r| matches!(r, Refusal::Empty)),
        (
            "random.so",
            |r| matches!(r, Refusal::NotElf { found } if found.contains("unknown bytes")),
        ),
        (
            "notes.so",
            |r| matches!(r, Refusal::NotElf { found } if found == "text"),
        ),
        ("truncated.so", |r| matches!(r, Refusal::Malformed { .. })),
        ("not-a-plugin.so", |r| matches!(r, Refusal::NotAPlugin)),
        (
            "showcase-arm64.so",
            |r| matches!(r, Refusal::WrongArchitecture { found, .. } if found.starts_with("aarch64")),
        ),
        (
            "api-major.so",
            |r| matches!(r, Refusal::ApiTooNew { plugin, .. } if plugin == "2.0.0"),
        ),
        (
            "api-minor.so",
            |r| matches!(r, Refusal::ApiTooNew { plugin, .. } if *plugin == next_minor()),
        ),
        (
            "api-layout.so",
            |r| matches!(r, Refusal::LayoutMismatch { version } if version == plugrack_api::API_VERSION),
        ),
    ];
    for (name, check) in expectations {
        let report = report_for(&reports, name);
        let refusal = refusal(report);
        assert!(check(refusal), "{name}: unexpected refusal {refusal:?}");
        let text = report.error().unwrap().to_string();
        assert!(
            text.lines().count() <= 4,
            "{name}: message longer than four lines:\n{text}"
        );
        assert!(
            text.contains(&format!("plugin rejected: {}", "")) && text.contains("fix: "),
            "{name}: {text}"
        );
        assert!(
            text.contains(name),
            "{name}: the message names the file:\n{text}"
        );
    }

    let readme = report_for(&reports, "README.txt");
    assert!(
        matches!(&readme.status, PluginStatus::Skipped { reason } if reason.contains("not a `.so` file")),
        "{:?}",
        readme.status
    );

    // The host goes on: a valid plugin in the same folder still answers.
    let out = manager
        .instance("showcase", &User::new(1, "ada"))
        .unwrap()
        .execute("greet", &Values::new())
        .unwrap();
    assert_eq!(out["greeting"], Value::Str("Hello, ada!".into()));
}

/// A literal for an insta filter (a regex).
fn literal(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = "\\.+*?()|[]{}^$#&-~".contains(c);
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// What a person reads for each bad file of the mixed folder, as one reviewed snapshot
/// (`snapshots/loading__refusals_of_real_files.snap`): the temp folder and the versions this
/// checkout builds are redacted, so the snapshot holds across releases.
#[test]
fn refusal_messages_name_the_fix() {
    let dir = mixed_folder();
    let reports = manager().load_dir(dir.path());
    let mut refused: Vec<_> = reports.iter().filter_map(|r| r.error()).collect();
    refused.sort_by(|a, b| a.path.cmp(&b.path));
    let text: String = refused.iter().map(|e| format!("{e}\n\n")).collect();
    let api = plugrack_api::API_VERSION;
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&literal(&dir.path().display().to_string()), "[plugins]");
    settings.add_filter(&literal(&next_minor()), "[api-next-minor]");
    settings.add_filter(&literal(api), "[api]");
    // The cut-short copy's sizes follow the showcase build's size.
    settings.add_filter(
        r"\d+ of at least \d+ bytes",
        "[size] of at least [size] bytes",
    );
    settings.bind(|| insta::assert_snapshot!("refusals_of_real_files", text));
}

#[test]
fn layout_mismatch_keeps_abi_stables_report_for_debugging() {
    let dir = mixed_folder();
    let reports = manager().load_dir(dir.path());
    let error = report_for(&reports, "api-layout.so").error().unwrap();
    let detail = error.detail.as_deref().expect("the full report is kept");
    assert!(
        detail.lines().count() > 10,
        "abi_stable's report is long; only the short form is shown"
    );
    assert!(error.to_string().lines().count() <= 4);
}

#[test]
fn two_plugins_with_the_same_root_module_type_stay_two_plugins() {
    let a = artifacts();
    let dir = plugin_dir(&[("a-showcase.so", &a.showcase), ("b-bench.so", &a.bench)]);
    let manager = manager();
    let reports = manager.load_dir(dir.path());
    assert!(
        reports.iter().all(|r| r.status == PluginStatus::Active),
        "{reports:?}"
    );
    let user = User::new(1, "ada");
    let showcase = manager
        .instance("showcase", &user)
        .unwrap()
        .execute("greet", &Values::new())
        .unwrap();
    let input = Values::from([("x".to_owned(), Value::Int(7))]);
    let bench = manager
        .instance("bench-0000", &user)
        .unwrap()
        .execute("echo", &input)
        .unwrap();
    assert_eq!(showcase["greeting"], Value::Str("Hello, ada!".into()));
    assert_eq!(bench, input, "each id reaches its own library");
}

#[test]
fn the_same_plugin_twice_is_a_duplicate_naming_both_files() {
    let a = artifacts();
    let dir = plugin_dir(&[("one.so", &a.showcase), ("two.so", &a.showcase)]);
    let reports = manager().load_dir(dir.path());
    assert_eq!(reports[0].status, PluginStatus::Active);
    match refusal(&reports[1]) {
        Refusal::DuplicateId { id, loaded_from } => {
            assert_eq!(id, "showcase");
            assert_eq!(loaded_from.file_name().unwrap(), "one.so");
        }
        other => panic!("expected a duplicate id, got {other:?}"),
    }
    assert!(reports[1].error().unwrap().to_string().contains("two.so"));
}

#[test]
fn a_plugin_built_with_nightly_loads_in_a_host_built_with_the_pinned_stable() {
    let a = artifacts();
    let bytes = fs::read(&a.showcase_nightly).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    let comment = object::Object::section_by_name(&file, ".comment")
        .and_then(|s| {
            object::ObjectSection::data(&s)
                .ok()
                .map(|d| String::from_utf8_lossy(d).into_owned())
        })
        .unwrap_or_default();
    assert!(
        comment.contains("nightly"),
        "the plugin really was built by nightly: {comment:?}"
    );
    let host_rustc = env!("PLUGIN_TESTS_RUSTC_VERSION");
    assert!(
        !host_rustc.contains("nightly"),
        "this host was built by {host_rustc}"
    );

    let dir = plugin_dir(&[("showcase-nightly.so", &a.showcase_nightly)]);
    let manager = manager();
    let reports = manager.load_dir(dir.path());
    assert_eq!(
        reports[0].status,
        PluginStatus::Active,
        "{:?}",
        reports[0].error().map(ToString::to_string)
    );
    let out = manager
        .instance("showcase", &User::new(3, "eve"))
        .unwrap()
        .execute("greet", &Values::new())
        .unwrap();
    assert_eq!(out["greeting"], Value::Str("Hello, eve!".into()));
}

#[test]
fn every_frozen_release_of_the_api_still_loads() {
    let a = artifacts();
    assert!(
        !a.raw_frozen.is_empty(),
        "tests/abi-freeze holds at least the 1.0.0 contract"
    );
    for (version, file) in &a.raw_frozen {
        let dir = plugin_dir(&[("frozen.so", file)]);
        let manager = manager();
        let reports = manager.load_dir(dir.path());
        assert_eq!(
            reports[0].status,
            PluginStatus::Active,
            "frozen {version}: {:?}",
            reports[0].error().map(ToString::to_string)
        );
        let id = reports[0].id().unwrap().to_owned();
        let out = manager
            .instance(&id, &User::new(1, "ada"))
            .unwrap()
            .execute("ping", &Values::new())
            .unwrap();
        assert_eq!(out["built_against"], Value::Str(version.as_str().into()));
        assert_eq!(out["label"], Value::Str("ping".into()));
    }
}

#[test]
fn released_versions_are_never_edited_in_place() {
    // While plugrack-api's version equals a frozen one, its sources must equal the frozen
    // sources: changing a released contract without a version bump breaks every plugin.
    let root = plugin_tests::workspace_root();
    let frozen = root.join(format!(
        "tests/abi-freeze/plugrack-api-{}",
        plugrack_api::API_VERSION
    ));
    if !frozen.exists() {
        return; // an unreleased version in development: nothing frozen to compare with yet
    }
    for entry in fs::read_dir(frozen.join("src")).unwrap() {
        let path = entry.unwrap().path();
        let current = root.join("plugin-api/src").join(path.file_name().unwrap());
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            fs::read_to_string(&current).unwrap_or_default(),
            "plugin-api/src/{} differs from the frozen {} release: bump the version (appending only) \
             and freeze the new release as tests/abi-freeze/plugrack-api-<version>",
            path.file_name().unwrap().to_string_lossy(),
            plugrack_api::API_VERSION
        );
    }
}

fn run_cli(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = dir.to_str().expect("a UTF-8 temporary path");
    let args: Vec<&str> = args.iter().copied().chain(["--plugins-dir", dir]).collect();
    plugin_tests::run_plugin_host(&args, env)
}

#[test]
fn cli_list_shows_examples_active_and_bad_files_invalid() {
    let dir = mixed_folder();
    let (code, stdout, stderr) = run_cli(&["list"], dir.path(), &[]);
    assert_eq!(code, 0, "{stdout}");
    // Quiet where nothing is wrong: the panicky example's `on_unload` panic is a warning,
    // which the default level does not print.
    assert_eq!(stderr, "", "plugin-host list wrote to stderr");
    // The whole table as a person reads it (`snapshots/loading__cli_list.snap`): the temp
    // folder and plugrack-api's version redacted where they are plugrack-api's (a plugin's own
    // version or an interface crate's may be the same digits).
    let api = literal(plugrack_api::API_VERSION);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&literal(&dir.path().display().to_string()), "[plugins]");
    settings.add_filter(
        &format!("plugrack-api {}", literal(&next_minor())),
        "plugrack-api [api-next-minor]",
    );
    settings.add_filter(&format!("(plugrack-api|provides) {api}"), "$1 [api]");
    settings.add_filter(&format!(r"(?m)^(\S+ +\S+ +){api} "), "${1}[api] ");
    settings.add_filter(
        r"\d+ of at least \d+ bytes",
        "[size] of at least [size] bytes",
    );
    settings.bind(|| insta::assert_snapshot!("cli_list", stdout));
    for id in ["showcase", "panicky", "bench-0000"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(id) && l.contains("active")),
            "{id} active in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("3 active, 9 invalid, 1 skipped"),
        "{stdout}"
    );

    let (code, stdout, _) = run_cli(&["list", "--json"], dir.path(), &[]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let plugins = doc["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 13);
    for plugin in plugins.iter().filter(|p| p["status"] == "active") {
        let phases = &plugin["load_phases_ms"];
        let total: f64 = ["checks", "open", "layout_check", "on_load", "extensions"]
            .iter()
            .map(|phase| phases[phase].as_f64().expect("every phase, in ms"))
            .sum();
        assert!(
            total > 0.0 && total <= plugin["load_time_ms"].as_f64().unwrap(),
            "{plugin}"
        );
    }
    for plugin in plugins.iter().filter(|p| p["status"] == "invalid") {
        assert!(plugin["load_phases_ms"].is_null(), "{plugin}");
        let message = plugin["error"]["message"].as_str().unwrap();
        assert!(
            message.lines().count() <= 4 && message.contains("fix: "),
            "{message}"
        );
        assert!(!plugin["error"]["fix"].as_str().unwrap().is_empty());
    }
    // Loaded in place (no private copy): the same outcome for every entry.
    let (code, in_place, _) = run_cli(&["list", "--json", "--load-in-place"], dir.path(), &[]);
    assert_eq!(code, 0);
    let in_place: serde_json::Value = serde_json::from_str(&in_place).unwrap();
    let outcome = |p: &serde_json::Value| {
        (
            p["source"].clone(),
            p["status"].clone(),
            p["error"]["code"].clone(),
        )
    };
    assert_eq!(
        in_place["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(outcome)
            .collect::<Vec<_>>(),
        plugins.iter().map(outcome).collect::<Vec<_>>()
    );
    let codes: Vec<&str> = plugins
        .iter()
        .filter_map(|p| p["error"]["code"].as_str())
        .collect();
    for code in [
        "empty",
        "not-elf",
        "malformed",
        "not-a-plugin",
        "wrong-architecture",
        "api-too-new",
        "layout-mismatch",
    ] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
}

#[test]
fn cli_call_runs_an_operation_and_reports_failures_with_exit_codes() {
    let a = artifacts();
    let dir = plugin_dir(&[("showcase.so", &a.showcase), ("panicky.so", &a.panicky)]);
    let (code, stdout, stderr) = run_cli(
        &["call", "showcase", "greet", "name=World"],
        dir.path(),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.trim(), "greeting = Hello, World!");
    assert_eq!(
        stderr, "",
        "nothing went wrong in this call: quiet, though panicky's on_unload panics at exit"
    );
    let (code, _, stderr) = run_cli(
        &["call", "-v", "showcase", "greet", "name=World"],
        dir.path(),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let unload_lines: Vec<&str> = stderr.lines().filter(|l| l.contains("on_unload")).collect();
    assert!(
        unload_lines.len() == 1 && unload_lines[0].starts_with("[warn plugrack_host]"),
        "the unload panic is one warning: {stderr}"
    );

    let (code, stdout, _) = run_cli(
        &["call", "showcase", "echo", "n:=42", "flag:=true", "--json"],
        dir.path(),
        &[],
    );
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap(),
        serde_json::json!({"flag": true, "n": 42})
    );

    let (code, _, stderr) = run_cli(&["call", "panicky", "boom"], dir.path(), &[]);
    assert_eq!(code, 1, "a panicking call is a failed call, not a crash");
    assert!(stderr.contains("panicked in `execute`"), "{stderr}");

    let (code, _, stderr) = run_cli(&["call", "missing", "x"], dir.path(), &[]);
    assert_eq!(code, 3);
    assert!(stderr.contains("no plugin with id `missing`"), "{stderr}");

    let (code, _, stderr) = run_cli(&["call", "showcase", "greet", "novalue"], dir.path(), &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("KEY=VALUE"), "{stderr}");
}

/// The ids `plugin-host call` derives from user names without `--user-id` (pinned by the
/// command's own unit test).
const CLI_ID: u64 = 11_077_597_517_297_386_638;
const BO_ID: u64 = 13_621_591_236_042_267_915;

#[test]
fn cli_call_keeps_each_users_storage_and_configuration_apart() {
    let dir = plugin_dir(&[("showcase.so", &artifacts().showcase)]);
    let storage = tempfile::tempdir().unwrap();
    let storage_dir = storage.path().to_str().unwrap();
    let call = |args: &[&str]| -> serde_json::Value {
        let args: Vec<&str> = ["call", "showcase"]
            .into_iter()
            .chain(args.iter().copied())
            .chain(["--storage-dir", storage_dir, "--json"])
            .collect();
        let (code, stdout, stderr) = run_cli(&args, dir.path(), &[]);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    };
    let count = |args: &[&str]| call(&[&["count"], args].concat())["count"].clone();

    // The issue's steps: three calls, then the same with `--user bo`, who starts at one.
    for n in 1..=3 {
        assert_eq!(count(&[]), n);
    }
    assert_eq!(count(&["--user", "bo"]), 1, "bo is another user");
    assert_eq!(count(&["--user", "cli"]), 4, "the default user is `cli`");

    // An id given: that user, whatever the name; with a configuration of its own.
    let howdy = r#"{"greeting": "Howdy", "max_count": 100}"#;
    assert_eq!(
        count(&["--user-id", "7", "--user", "ann", "--set-config", howdy]),
        1
    );
    assert_eq!(count(&["--user-id", "7", "--user", "ann (renamed)"]), 2);
    assert_eq!(
        call(&["greet", "--user-id", "7", "--user", "ann"])["greeting"],
        "Howdy, ann!",
        "user 7's stored configuration applies in a later run"
    );
    assert_eq!(
        call(&["greet", "--user", "bo"])["greeting"],
        "Hello, bo!",
        "bo's configuration is untouched"
    );

    let mut files: Vec<String> = fs::read_dir(storage.path().join("showcase"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("user-"))
        .collect();
    files.sort();
    let mut expected = vec![
        format!("user-{CLI_ID}.bin"),
        format!("user-{BO_ID}.bin"),
        "user-7.bin".to_owned(),
        "user-7.config".to_owned(),
    ];
    expected.sort();
    assert_eq!(
        files, expected,
        "one storage file per user, a configuration for user 7"
    );

    // Without a label the description names the user the instance is for.
    let (code, stdout, stderr) = run_cli(
        &[
            "call",
            "showcase",
            "--user",
            "eve",
            "--user-id",
            "9",
            "--admin",
        ],
        dir.path(),
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("instance for user `eve` (id 9, admin)"),
        "{stdout}"
    );
    let (code, _, stderr) = run_cli(
        &["call", "showcase", "count", "--user-id", "x"],
        dir.path(),
        &[],
    );
    assert_eq!(
        code, 2,
        "a user id that is not a number is a bad command line"
    );
    assert!(stderr.contains("--user-id"), "{stderr}");
}

#[test]
fn a_panic_in_on_load_makes_only_that_plugin_invalid() {
    let a = artifacts();
    let dir = plugin_dir(&[("showcase.so", &a.showcase), ("panicky.so", &a.panicky)]);
    let (code, stdout, _) = run_cli(
        &["list", "--json"],
        dir.path(),
        &[("PANICKY_PANIC_ON_LOAD", "1")],
    );
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let by_id = |id: &str| {
        doc["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_id("showcase")["status"], "active");
    let panicky = by_id("panicky");
    assert_eq!(panicky["status"], "invalid");
    assert_eq!(panicky["error"]["code"], "on-load-panicked");
    assert!(panicky["error"]["cause"]
        .as_str()
        .unwrap()
        .contains("on_load panicked on purpose"));
}

/// The files mapped into this process whose path starts with `dir` ("(deleted)" kept).
fn mapped_under(dir: &Path) -> Vec<String> {
    let maps = fs::read_to_string("/proc/self/maps").unwrap();
    let mut files: Vec<String> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5).map(|_| line))
        .map(|line| {
            line.splitn(6, char::is_whitespace)
                .last()
                .unwrap()
                .trim()
                .to_owned()
        })
        .filter(|file| file.starts_with(&*dir.to_string_lossy()))
        .collect();
    files.sort();
    files.dedup();
    files
}

fn greet(manager: &PluginManager, name: &str) -> Value {
    let out = manager
        .instance("showcase", &User::new(1, name))
        .unwrap()
        .execute("greet", &Values::new())
        .unwrap();
    out["greeting"].clone()
}

/// `LoadFrom::InPlace` maps the plugin file itself (no copy), a deploy renamed over it
/// reloads in place too, and a file this manager already loaded in place once is copied (the
/// loader would hand back the library it has); the default maps only a private copy.
#[test]
fn in_place_maps_the_file_itself_and_a_file_loaded_before_gets_a_copy() {
    let a = artifacts();
    let (plugins, private) = (
        plugin_dir(&[("showcase.so", &a.showcase)]),
        tempfile::tempdir().unwrap(),
    );
    let file = plugins.path().join("showcase.so");
    let config = HostConfig::new("1.4.0".parse().unwrap())
        .private_dir(private.path())
        .load_from(plugrack_host::LoadFrom::InPlace);
    let manager = PluginManager::new(config);
    let reports = manager.load_dir(plugins.path());
    assert_eq!(
        reports[0].status,
        PluginStatus::Active,
        "{:?}",
        reports[0].error()
    );
    assert_eq!(greet(&manager, "ada"), Value::Str("Hello, ada!".into()));
    assert_eq!(mapped_under(plugins.path()), [file.display().to_string()]);
    assert!(mapped_under(private.path()).is_empty());
    let leftovers = || fs::read_dir(private.path()).unwrap().count();
    assert_eq!(leftovers(), 0, "the private link is removed once loaded");

    // A deploy: a new file renamed over the loaded one. Loaded in place again.
    let staged = plugins.path().join(".staged");
    fs::copy(&a.showcase, &staged).unwrap();
    fs::rename(&staged, &file).unwrap();
    let report = manager.reload(&file);
    assert_eq!(report.status, PluginStatus::Active, "{:?}", report.messages);
    assert_eq!(greet(&manager, "bo"), Value::Str("Hello, bo!".into()));
    let mapped = mapped_under(plugins.path());
    assert!(
        mapped.contains(&format!("{} (deleted)", file.display())),
        "{mapped:?}"
    );
    assert!(mapped.contains(&file.display().to_string()), "{mapped:?}");
    assert!(mapped_under(private.path()).is_empty());

    // The same file again (only its time changed): this time a private copy.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(later)
        .unwrap();
    let report = manager.reload(&file);
    assert_eq!(report.status, PluginStatus::Active, "{:?}", report.messages);
    assert_eq!(greet(&manager, "cy"), Value::Str("Hello, cy!".into()));
    let copies = mapped_under(private.path());
    assert_eq!(copies.len(), 1, "{copies:?}");
    assert!(copies[0].ends_with("-showcase.so (deleted)"), "{copies:?}");
    assert_eq!(leftovers(), 0);

    // The default: only a private copy is ever mapped.
    let (plugins, private) = (
        plugin_dir(&[("showcase.so", &a.showcase)]),
        tempfile::tempdir().unwrap(),
    );
    let manager =
        PluginManager::new(HostConfig::new("1.4.0".parse().unwrap()).private_dir(private.path()));
    assert_eq!(
        manager.load_dir(plugins.path())[0].status,
        PluginStatus::Active
    );
    assert_eq!(greet(&manager, "di"), Value::Str("Hello, di!".into()));
    assert!(mapped_under(plugins.path()).is_empty());
    assert_eq!(mapped_under(private.path()).len(), 1);
}
