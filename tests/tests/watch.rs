//! The folder watcher on a real folder: a bad file or plugin folder is refused once per
//! version (the checks' own reads of it are no reason to look again), a changed version is
//! tried once, a removed one is forgotten, and a good plugin beside it is never reloaded by
//! any of this. Counted through `subscribe()` and through `plugin-host watch --json` run as a
//! real process.
//!
//! "Never again" is shown over a bounded wait after the expected event arrived (which may take
//! up to [`ARRIVAL`] on a busy machine): [`FIRST_WAIT`] after the first refusal (the issue's ten
//! seconds; the defect repeated the refusal about three times a second), and [`WAIT`] after each
//! later one, 30 debounce periods of the library tests (the defect repeated once per period plus
//! the time one check takes). No assertion is on speed.

use std::{
    fs,
    io::BufRead,
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use plugin_tests::{artifacts, plugin_dir};
use plugrack_host::{
    host_target_name, manifest::sha256_hex, HostConfig, PluginEvent, PluginManager, PluginStatus,
};

const DEBOUNCE: Duration = Duration::from_millis(100);
const FIRST_WAIT: Duration = Duration::from_secs(10);
const WAIT: Duration = Duration::from_secs(3);
const ARRIVAL: Duration = Duration::from_secs(60);

/// Every event received within `wait` of now.
fn events_within<T>(rx: &mpsc::Receiver<T>, wait: Duration) -> Vec<T> {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(event) => seen.push(event),
            Err(mpsc::RecvTimeoutError::Timeout) => break,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    seen
}

/// The next event (waiting up to [`ARRIVAL`] for it), and every event within `wait` after it.
fn next_and_within<T>(rx: &mpsc::Receiver<T>, wait: Duration) -> Vec<T> {
    match rx.recv_timeout(ARRIVAL) {
        Ok(first) => std::iter::once(first)
            .chain(events_within(rx, wait))
            .collect(),
        Err(_) => Vec::new(),
    }
}

// Every change below reaches the folder in one system call, so that the watcher can only see
// the version before it and the version after it. A change made of several calls (create then
// write, truncate then write, one file after another) shows intermediate versions whenever the
// test thread is descheduled for longer than a debounce period, and each of those is rightly
// tried once too.

/// Puts a new file with `bytes` at `path`, the way a deploy does: written under a hidden name
/// at the top of the plugins folder `plugins` (the watcher skips hidden entries), renamed over.
fn put(plugins: &Path, path: &Path, bytes: &[u8]) {
    let staged = plugins.join(format!(
        ".{}.tmp",
        path.file_name().unwrap().to_string_lossy()
    ));
    fs::write(&staged, bytes).unwrap();
    fs::rename(&staged, path).unwrap();
}

/// Rewrites the file at `path` in place (same inode) with `bytes`, at least as long as what it
/// holds, in one write: what an editor or `cat new > junk.so` leaves, without the truncation.
fn overwrite_in_place(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    assert!(bytes.len() as u64 >= fs::metadata(path).unwrap().len());
    let mut file = fs::OpenOptions::new().write(true).open(path).unwrap();
    assert_eq!(file.write(bytes).unwrap(), bytes.len(), "one write");
}

/// The first bytes of a real ELF shared object: bad in another way than text.
fn damaged_elf() -> Vec<u8> {
    fs::read(&artifacts().template).unwrap()[..200].to_vec()
}

/// A short description of an event, for assertions and failure messages.
fn describe(event: &PluginEvent) -> String {
    match event {
        PluginEvent::Loaded { id, source } => format!("loaded {id} {}", name(source)),
        PluginEvent::Refused { source, message } => {
            let cause = message.lines().nth(1).unwrap_or_default().trim();
            format!("refused {}: {cause}", name(source))
        }
        PluginEvent::Reloaded { id, .. } => format!("reloaded {id}"),
        PluginEvent::ReloadRefused { id, .. } => format!("reload-refused {id}"),
        PluginEvent::Unloaded { id } => format!("unloaded {id}"),
        PluginEvent::Crashed { id, .. } => format!("crashed {id}"),
        other => format!("{other:?}"),
    }
}

fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// Asserts `events` is exactly one event, and that it starts with `expected`.
fn exactly_one(events: &[String], expected: &str, after: &str) {
    assert!(
        events.len() == 1 && events[0].starts_with(expected),
        "after {after}: expected exactly one `{expected}...`, got {events:#?}"
    );
}

/// A manager watching a folder that holds the showcase plugin, and its events.
fn watched_folder() -> (
    tempfile::TempDir,
    std::sync::Arc<PluginManager>,
    plugrack_host::Watcher,
    mpsc::Receiver<PluginEvent>,
) {
    let dir = plugin_dir(&[("showcase.so", &artifacts().showcase)]);
    let manager = std::sync::Arc::new(PluginManager::new(
        HostConfig::new("1.0.0".parse().unwrap()).external_dir(dir.path()),
    ));
    let events = manager.subscribe();
    let reports = manager.discover();
    assert_eq!(reports[0].status, PluginStatus::Active);
    assert!(matches!(events.try_recv(), Ok(PluginEvent::Loaded { .. })));
    let watcher = plugrack_host::watch(&manager, DEBOUNCE).unwrap();
    (dir, manager, watcher, events)
}

#[test]
fn a_bad_file_is_refused_once_per_version_and_the_plugin_beside_it_is_left_alone() {
    let (dir, manager, _watcher, events) = watched_folder();
    let loaded_at = manager.report_for("showcase").unwrap().loaded_at;
    let junk = dir.path().join("junk.so");
    let seen = |wait| -> Vec<String> {
        next_and_within(&events, wait)
            .iter()
            .map(describe)
            .collect()
    };

    put(dir.path(), &junk, b"garbage\n");
    exactly_one(
        &seen(FIRST_WAIT),
        "refused junk.so: not an ELF shared object",
        "a bad file dropped in",
    );

    // Asked by hand, a refused entry is tried again though unchanged (a refusal may have had a
    // passing cause); the watcher does not take that read for a change.
    assert!(manager.reload(&junk).error().is_some());
    exactly_one(
        &seen(WAIT),
        "refused junk.so: not an ELF shared object",
        "a reload by hand",
    );

    overwrite_in_place(&junk, &damaged_elf());
    exactly_one(
        &seen(WAIT),
        "refused junk.so: a damaged ELF",
        "other bad bytes written in place",
    );

    put(dir.path(), &junk, &fs::read(&artifacts().template).unwrap());
    exactly_one(
        &seen(WAIT),
        "loaded plugin-template junk.so",
        "a good plugin renamed over it",
    );

    fs::remove_file(&junk).unwrap();
    exactly_one(&seen(WAIT), "unloaded plugin-template", "its removal");

    // Removal forgot it: the same bad bytes under the same name are tried again, once.
    put(dir.path(), &junk, b"garbage\n");
    exactly_one(
        &seen(WAIT),
        "refused junk.so: not an ELF shared object",
        "a bad file put back",
    );
    fs::remove_file(&junk).unwrap();
    let after_removal: Vec<String> = events_within(&events, WAIT).iter().map(describe).collect();
    assert_eq!(
        after_removal,
        Vec::<String>::new(),
        "a refused file's removal unloads nothing"
    );

    let showcase = manager.report_for("showcase").unwrap();
    assert_eq!(showcase.status, PluginStatus::Active);
    assert_eq!(
        showcase.loaded_at, loaded_at,
        "the showcase plugin was never reloaded"
    );
}

/// `plugin.toml` for the template plugin with `library` as its amd64 library.
fn manifest(library: &[u8], file: &str) -> String {
    format!(
        r#"format = 1

[plugin]
id = "plugin-template"
name = "Plugin template"
version = "0.1.0"
description = ""
authors = []
homepage = ""
license = "MIT OR Apache-2.0"
host-version = ">=1.0.0, <2.0.0"
target-os = ["linux"]
api-version = "1.0.0"

[targets.{target}]
file = "{file}"
size = {size}
sha256 = "{sha256}"
"#,
        target = host_target_name(),
        size = library.len(),
        sha256 = sha256_hex(library),
    )
}

#[test]
fn a_plugin_folder_with_a_bad_manifest_or_library_is_refused_once_per_version() {
    let (dir, manager, _watcher, events) = watched_folder();
    let loaded_at = manager.report_for("showcase").unwrap().loaded_at;
    let seen = |wait| -> Vec<String> {
        next_and_within(&events, wait)
            .iter()
            .map(describe)
            .collect()
    };
    let folder = dir.path().join("template");
    let library = fs::read(&artifacts().template).unwrap();
    let file = format!("template-{}.so", host_target_name());

    // Deployed whole (made under a hidden name, renamed in): a bad manifest, a bad library.
    let staged = dir.path().join(".template.tmp");
    fs::create_dir(&staged).unwrap();
    fs::write(staged.join("plugin.toml"), "format = 1\n[plugin\n").unwrap();
    fs::write(staged.join(&file), "garbage\n").unwrap();
    fs::rename(&staged, &folder).unwrap();
    exactly_one(
        &seen(FIRST_WAIT),
        "refused template: plugin.toml",
        "a folder with a bad manifest",
    );

    // A good manifest, listing a library that is not the one in the folder.
    put(
        dir.path(),
        &folder.join("plugin.toml"),
        manifest(&library, &file).as_bytes(),
    );
    exactly_one(
        &seen(WAIT),
        "refused template: not an ELF shared object",
        "a good manifest beside a bad library",
    );

    put(dir.path(), &folder.join(&file), &library);
    exactly_one(
        &seen(WAIT),
        "loaded plugin-template template",
        "the right library",
    );

    // Removed whole: moved out of sight, then deleted.
    let gone = dir.path().join(".template.gone");
    fs::rename(&folder, &gone).unwrap();
    fs::remove_dir_all(&gone).unwrap();
    exactly_one(
        &seen(WAIT),
        "unloaded plugin-template",
        "the folder's removal",
    );

    let showcase = manager.report_for("showcase").unwrap();
    assert_eq!(
        showcase.loaded_at, loaded_at,
        "the showcase plugin was never reloaded"
    );
}

/// `plugin-host watch --json` on `dir` (relative to `cwd`, as a person types it), once it says
/// it is watching, with its stdout lines sent to a channel. Ends within `--seconds` even if the
/// test fails first.
fn watch_process(cwd: &Path, dir: &str) -> (Child, mpsc::Receiver<serde_json::Value>) {
    let mut child = Command::new(&artifacts().plugin_host_bin)
        .current_dir(cwd)
        .args(["watch", "--json", "--seconds", "120", "--plugins-dir", dir])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    plugin_tests::wait_until_watching(&mut child);
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let event =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("`{line}` is not JSON: {e}"));
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// A JSON event as `<event> <id or source file name>`.
fn describe_json(event: &serde_json::Value) -> String {
    let subject = match (&event["id"], &event["source"]) {
        (serde_json::Value::String(id), _) => id.clone(),
        (_, serde_json::Value::String(source)) => name(Path::new(source)),
        _ => String::new(),
    };
    format!("{} {subject}", event["event"].as_str().unwrap_or("?"))
}

#[test]
fn plugin_host_watch_json_refuses_a_bad_file_once_per_version() {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    fs::create_dir(&plugins).unwrap();
    fs::copy(&artifacts().showcase, plugins.join("showcase.so")).unwrap();
    let (mut child, events) = watch_process(root.path(), "plugins");
    let seen = |wait| -> Vec<String> {
        next_and_within(&events, wait)
            .iter()
            .map(describe_json)
            .collect()
    };
    let first = events
        .recv_timeout(Duration::from_secs(60))
        .expect("the first load is printed");
    assert_eq!(describe_json(&first), "loaded showcase");

    let junk = plugins.join("junk.so");
    put(&plugins, &junk, b"garbage\n");
    let after_first = next_and_within(&events, FIRST_WAIT);
    exactly_one(
        &after_first.iter().map(describe_json).collect::<Vec<_>>(),
        "refused junk.so",
        "a bad file dropped in",
    );
    let message = after_first[0]["message"].as_str().unwrap();
    assert!(message.contains("not an ELF shared object"), "{message}");

    overwrite_in_place(&junk, &damaged_elf());
    exactly_one(
        &seen(WAIT),
        "refused junk.so",
        "other bad bytes written in place",
    );

    put(&plugins, &junk, &fs::read(&artifacts().template).unwrap());
    exactly_one(
        &seen(WAIT),
        "loaded plugin-template",
        "a good plugin renamed over it",
    );

    child.kill().unwrap();
    child.wait().unwrap();
    let rest: Vec<String> = events.try_iter().map(|e| describe_json(&e)).collect();
    assert_eq!(
        rest,
        Vec::<String>::new(),
        "nothing more, showcase never reloaded"
    );
}
