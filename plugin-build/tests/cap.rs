//! End-to-end tests of `plugin-build cap`: the real binary, real cargo, the real crates.io
//! index (sparse protocol). Each test copies a fixture plugin to a fresh temp dir. Nothing is
//! compiled: cap only asks cargo to resolve.
//!
//! Host fixtures (`tests/fixtures/cap/hosts/*/Cargo.lock`) are lockfiles cargo wrote for host
//! manifests pinned to the releases of 2019, 2020, 2022 and 2024, in lockfile formats v1, v2,
//! v3 and v4. Plugin fixtures have a committed lock resolved fresh (newer than every host),
//! with a few crates set back so that some pins go up.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use plugrack_build::cap::{Lock, Plan, Source};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cap")
}

fn host(name: &str) -> PathBuf {
    fixtures().join("hosts").join(name)
}

/// A fresh copy of a plugin fixture.
fn plugin(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join(name);
    copy_dir(&fixtures().join("plugins").join(name), &dest);
    (dir, dest)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn cap(dir: &Path, args: &[&str]) -> Output {
    cap_env(dir, args, &[])
}

fn cap_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plugin-build"));
    cmd.arg("cap").args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run plugin-build");
    eprintln!(
        "$ plugin-build cap {}\n--- stdout\n{}--- stderr\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                all.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    all
}

/// `name -> versions` of a lockfile.
fn versions(lock: &Path) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in Lock::read(lock).unwrap().packages {
        map.entry(p.name).or_default().push(p.version.to_string());
    }
    map
}

fn version(lock: &Path, name: &str) -> String {
    let v = &versions(lock)[name];
    assert_eq!(v.len(), 1, "{name}: {v:?}");
    v[0].clone()
}

/// Every package of `plugin_lock` that the host has from the same source on the same line is
/// at exactly the host's version; returns how many were checked.
fn assert_capped(host_lock: &Path, plugin_lock: &Path) -> usize {
    let host = Lock::read(host_lock).unwrap();
    let plugin = Lock::read(plugin_lock).unwrap();
    let plan = Plan::new(&host, &plugin);
    assert!(
        plan.pins.is_empty(),
        "still differing from {}: {:?}",
        host_lock.display(),
        plan.pins
    );
    // And package by package, from the host's side.
    let mut checked = 0;
    for p in &plugin.packages {
        if p.source != Source::CratesIo {
            continue;
        }
        let same_line = host.named(&p.name).find(|h| {
            h.source == p.source
                && plugrack_build::cap::line::Line::of(&h.version)
                    == plugrack_build::cap::line::Line::of(&p.version)
        });
        if let Some(h) = same_line {
            assert_eq!(h.version, p.version, "{}", p.name);
            checked += 1;
        }
    }
    checked
}

fn run_against(host_name: &str, expect_up: &[&str]) {
    let (_tmp, dir) = plugin("basic");
    let lock = dir.join("Cargo.lock");
    let before = versions(&lock);
    let host_lock = host(host_name).join("Cargo.lock");
    let out = cap(&dir, &["--from", host_lock.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let checked = assert_capped(&host_lock, &lock);
    assert!(checked >= 10, "only {checked} shared crates");
    let host_versions = versions(&host_lock);
    for name in [
        "serde",
        "serde_derive",
        "serde_json",
        "regex",
        "memchr",
        "log",
    ] {
        assert_eq!(
            version(&lock, name),
            host_versions[name][0],
            "{name} in {host_name}"
        );
    }
    let text = stdout(&out);
    for name in expect_up {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row for {name}:\n{text}"));
        assert!(row.trim_end().ends_with("up"), "{row}");
        assert_ne!(before[*name], versions(&lock)[*name]);
    }
    // Path packages are left alone.
    let after = versions(&lock);
    assert_eq!(after["basic-plugin"], ["0.1.0"]);
    assert_eq!(after["basic-util"], ["0.2.0"]);
    assert!(text.contains("summary: "), "{text}");
    // The manifests are exactly as they were.
    for manifest in ["Cargo.toml", "util/Cargo.toml"] {
        assert_eq!(
            std::fs::read(dir.join(manifest)).unwrap(),
            std::fs::read(fixtures().join("plugins/basic").join(manifest)).unwrap()
        );
    }
}

#[test]
fn pins_to_a_v1_lock_of_2019() {
    run_against("v1-2019", &[]);
}

#[test]
fn pins_to_a_v2_lock_of_2020() {
    run_against("v2-2020", &[]);
}

#[test]
fn pins_to_a_v3_lock_of_2022_up_and_down() {
    run_against("v3-2022", &["anyhow", "log"]);
}

#[test]
fn pins_to_a_v4_lock_of_2024_up_and_down() {
    run_against("v4-2024", &["anyhow", "log"]);
}

#[test]
fn second_run_changes_nothing_and_check_passes() {
    let (_tmp, dir) = plugin("basic");
    let from = host("v3-2022");
    let first = cap(&dir, &["--from", from.to_str().unwrap()]);
    assert!(first.status.success());
    let after_first = files(&dir);
    let second = cap(&dir, &["--from", from.to_str().unwrap()]);
    assert!(second.status.success());
    assert!(
        stdout(&second).contains("summary: 0 of 0 differing pinned"),
        "{}",
        stdout(&second)
    );
    assert_eq!(after_first, files(&dir), "the second run changed files");
    let check = cap(&dir, &["--from", from.to_str().unwrap(), "--check"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

#[test]
fn check_lists_every_mismatch_and_changes_nothing() {
    let (_tmp, dir) = plugin("basic");
    let before = files(&dir);
    let host_lock = host("v3-2022").join("Cargo.lock");
    let out = cap(&dir, &["--from", host_lock.to_str().unwrap(), "--check"]);
    assert_eq!(out.status.code(), Some(1));
    let expected = Plan::new(
        &Lock::read(&host_lock).unwrap(),
        &Lock::read(&dir.join("Cargo.lock")).unwrap(),
    );
    assert!(expected.pins.len() >= 10);
    let text = stdout(&out);
    for pin in &expected.pins {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{} ", pin.name))
                    && l.contains(&pin.from.to_string())
                    && l.contains(&pin.to.to_string())),
            "{} missing from:\n{text}",
            pin.name
        );
    }
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "error: {} shared crates differ",
            expected.pins.len()
        )),
        "{err}"
    );
    assert!(err.contains("hint: run `plugin-build cap --from"), "{err}");
    assert_eq!(before, files(&dir));
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let (_tmp, dir) = plugin("basic");
    let before = files(&dir);
    let out = cap(
        &dir,
        &["--from", host("v4-2024").to_str().unwrap(), "--dry-run"],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("would be pinned"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("serde ") && l.contains("1.0.210")),
        "{text}"
    );
    assert_eq!(before, files(&dir));
}

#[test]
fn a_missing_plugin_lock_is_created_only_when_pinning() {
    let (_tmp, dir) = plugin("basic");
    let lock = dir.join("Cargo.lock");
    std::fs::remove_file(&lock).unwrap();
    let from = host("v4-2024");
    let check = cap(&dir, &["--from", from.to_str().unwrap(), "--check"]);
    assert_eq!(
        check.status.code(),
        Some(1),
        "a fresh resolution is newer than 2024"
    );
    assert!(!lock.exists(), "--check left a Cargo.lock behind");
    let out = cap(&dir, &["--from", from.to_str().unwrap()]);
    assert!(out.status.success());
    assert_capped(&from.join("Cargo.lock"), &lock);
}

#[test]
fn a_conflict_names_the_requirement_and_the_other_pins_still_apply() {
    let (_tmp, dir) = plugin("conflict");
    let lock = dir.join("Cargo.lock");
    let serde_before = version(&lock, "serde");
    let host_lock = host("v3-2022").join("Cargo.lock");
    let out = cap(&dir, &["--from", host_lock.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("conflict: `serde` cannot move from"),
        "{text}"
    );
    assert!(
        text.contains("blocked by `serde ^1.0.200`, required by `conflict-plugin v0.1.0`"),
        "{text}"
    );
    assert!(
        text.contains("fix: change the requirement in `conflict-plugin`'s Cargo.toml"),
        "{text}"
    );
    let err = stderr(&out);
    assert!(
        err.contains("could not be pinned to the host's version"),
        "{err}"
    );
    // The rest was pinned; serde kept its version.
    assert_eq!(version(&lock, "serde"), serde_before);
    for name in ["regex", "log", "memchr"] {
        assert_eq!(
            version(&lock, name),
            versions(&host_lock)[name][0],
            "{name}"
        );
    }
    // The JSON form carries the same facts.
    let json = cap(
        &dir,
        &[
            "--from",
            host_lock.to_str().unwrap(),
            "--message-format",
            "json",
        ],
    );
    assert_eq!(json.status.code(), Some(1));
    let events: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let conflict = events
        .iter()
        .find(|e| e["reason"] == "conflict" && e["package"] == "serde")
        .expect("a conflict event for serde");
    assert_eq!(conflict["requirement"], "^1.0.200");
    assert_eq!(conflict["required_by"], "conflict-plugin v0.1.0");
    assert_eq!(conflict["host_version"], "1.0.150");
}

#[test]
fn a_crate_on_two_lines_is_matched_line_by_line() {
    let (_tmp, dir) = plugin("multi");
    let lock = dir.join("Cargo.lock");
    assert_eq!(versions(&lock)["syn"], ["1.0.100", "2.0.119"]);
    let host_lock = host("v4-2024").join("Cargo.lock");
    let out = cap(&dir, &["--from", host_lock.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(versions(&lock)["syn"], ["1.0.109", "2.0.79"]);
    let text = stdout(&out);
    assert!(
        text.lines().any(|l| l.starts_with("syn ")
            && l.contains("1.0.100")
            && l.trim_end().ends_with("up")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("syn ")
            && l.contains("2.0.119")
            && l.trim_end().ends_with("down")),
        "{text}"
    );
    assert_capped(&host_lock, &lock);
}

#[test]
fn abi_stable_on_another_line_is_refused_and_nothing_changes() {
    let (_tmp, dir) = plugin("abi-old");
    let before = files(&dir);
    let from = host("v4-2024");
    let out = cap(&dir, &["--from", from.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("plugin uses `abi_stable` 0.10.5, the host 0.11.3: this plugin cannot load"),
        "{err}"
    );
    assert!(err.contains("abi_stable = \"0.11\""), "{err}");
    assert_eq!(before, files(&dir));
    // --check lists it among the rest.
    let check = cap(&dir, &["--from", from.to_str().unwrap(), "--check"]);
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stdout(&check).contains("abi mismatch: `abi_stable` 0.10.5"),
        "{}",
        stdout(&check)
    );
    assert_eq!(before, files(&dir));
}

#[test]
fn json_is_one_object_per_line() {
    let (_tmp, dir) = plugin("basic");
    let out = cap(
        &dir,
        &[
            "--from",
            host("v4-2024").to_str().unwrap(),
            "--message-format",
            "json",
        ],
    );
    assert!(out.status.success());
    assert!(
        stderr(&out).is_empty(),
        "json mode prints no status lines: {}",
        stderr(&out)
    );
    let events: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(events[0]["reason"], "start");
    assert_eq!(events[0]["host_lock_version"], 4);
    let last = events.last().unwrap();
    assert_eq!(last["reason"], "summary");
    assert_eq!(last["ok"], true);
    let pins: Vec<_> = events.iter().filter(|e| e["reason"] == "pin").collect();
    assert_eq!(last["pinned"], pins.len());
    let serde = pins.iter().find(|e| e["package"] == "serde").unwrap();
    assert_eq!(serde["host_version"], "1.0.210");
    assert_eq!(serde["direction"], "down");
    assert_eq!(serde["status"], "pinned");
    assert_eq!(serde["source"], "crates.io");
    assert!(events.iter().any(|e| e["reason"] == "moved"));
}

#[test]
fn host_folder_and_current_folder_defaults() {
    let (_tmp, dir) = plugin("basic");
    // No --manifest-path: the current folder is the plugin; --from is the host's folder.
    let out = cap(&dir, &["--from", host("v2-2020").to_str().unwrap()]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("lockfile v2"), "{}", stderr(&out));
    assert_capped(&host("v2-2020").join("Cargo.lock"), &dir.join("Cargo.lock"));
}

#[test]
fn bad_inputs_name_the_file_and_the_fix_and_change_nothing() {
    let (tmp, dir) = plugin("basic");
    let before = files(&dir);
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(scratch.join("host-without-lock")).unwrap();
    std::fs::write(
        scratch.join("host-without-lock/Cargo.toml"),
        "[package]\nname = \"h\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(scratch.join("empty-plugin")).unwrap();
    let bad = host("bad");
    let manifest = host("v3-2022").join("Cargo.toml");
    let plugin_dir = dir.to_str().unwrap().to_owned();
    // (--from, --manifest-path, what stderr must say)
    let cases: Vec<(PathBuf, String, Vec<&str>)> = vec![
        (
            scratch.join("nowhere/Cargo.lock"),
            plugin_dir.clone(),
            vec![
                "error: host lockfile `",
                "nowhere/Cargo.lock` not found",
                "hint: pass the host's `Cargo.lock`",
            ],
        ),
        (
            scratch.join("host-without-lock"),
            plugin_dir.clone(),
            vec![
                "host-without-lock` has no `Cargo.lock`",
                "hint: generate it in the host first: `cargo generate-lockfile",
            ],
        ),
        (
            bad.join("not-toml.lock"),
            plugin_dir.clone(),
            vec![
                "not-toml.lock` is not a TOML file",
                "caused by: TOML parse error",
                "hint: pass the host's `Cargo.lock`",
            ],
        ),
        (
            manifest.clone(),
            plugin_dir.clone(),
            vec![
                "v3-2022/Cargo.toml` is not a Cargo.lock: it has a `[package]` table",
                "hint:",
            ],
        ),
        (
            host("v3-2022"),
            scratch.join("empty-plugin").to_str().unwrap().to_owned(),
            vec![
                "plugin manifest `",
                "empty-plugin/Cargo.toml` not found",
                "hint: point `--manifest-path` at the plugin's `Cargo.toml`",
            ],
        ),
        (
            bad.join("git-source.lock"),
            plugin_dir.clone(),
            vec![
                "git-source.lock` takes `regex` (1.7.0 git+https://github.com/rust-lang/regex",
                "hint: build the host with the registry release of `regex`",
            ],
        ),
        (
            bad.join("path-source.lock"),
            plugin_dir.clone(),
            vec![
                "path-source.lock` takes `serde` (1.0.150 path) from git or a local path",
                "[patch.crates-io]",
            ],
        ),
    ];
    for (from, manifest_path, expected) in cases {
        for mode in [None, Some("--check")] {
            let mut args = vec![
                "--from",
                from.to_str().unwrap(),
                "--manifest-path",
                manifest_path.as_str(),
            ];
            args.extend(mode);
            let out = cap(tmp.path(), &args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            let err = stderr(&out);
            for e in &expected {
                assert!(err.contains(e), "{args:?}: expected {e:?} in:\n{err}");
            }
            assert_eq!(before, files(&dir), "{args:?} changed the plugin");
        }
    }
}

#[test]
fn an_unreachable_registry_is_reported_and_the_plugin_is_restored() {
    let (_tmp, dir) = plugin("basic");
    // Send crates.io through a registry nobody answers for. No lock: cargo must ask it.
    std::fs::remove_file(dir.join("Cargo.lock")).unwrap();
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        "[source.crates-io]\nreplace-with = \"unreachable\"\n\n[source.unreachable]\nregistry = \"sparse+http://127.0.0.1:9/index/\"\n",
    )
    .unwrap();
    let before = files(&dir);
    let out = cap_env(
        &dir,
        &["--from", host("v4-2024").to_str().unwrap()],
        &[("CARGO_NET_RETRY", "0"), ("CARGO_HTTP_TIMEOUT", "10")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("error: cannot reach the package registry while resolving `"),
        "{err}"
    );
    assert!(
        err.contains("caused by: `"),
        "the cargo command line is shown: {err}"
    );
    assert!(
        err.contains("hint: check the network and proxy settings"),
        "{err}"
    );
    assert_eq!(before, files(&dir));
}

#[test]
fn usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_plugin-build"))
        .args(["cap", "--check", "--dry-run", "--from", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_plugin-build"))
        .args(["cap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "--from is required");
    let out = Command::new(env!("CARGO_BIN_EXE_plugin-build"))
        .args(["cap", "--from", "x", "--message-format", "xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_virtual_workspace_is_pinned_through_its_member() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("ws");
    std::fs::create_dir_all(ws.join("member/src")).unwrap();
    std::fs::write(
        ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"member\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    let member = "[package]\nname = \"member-plugin\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nlog = \"0.4\"\nregex = \"1\"\n";
    std::fs::write(ws.join("member/Cargo.toml"), member).unwrap();
    std::fs::write(ws.join("member/src/lib.rs"), "").unwrap();
    let host_lock = host("v3-2022").join("Cargo.lock");
    let out = cap(
        tmp.path(),
        &[
            "--from",
            host_lock.to_str().unwrap(),
            "--manifest-path",
            ws.join("Cargo.toml").to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let lock = ws.join("Cargo.lock");
    assert_eq!(version(&lock, "log"), "0.4.17");
    assert_eq!(version(&lock, "regex"), "1.7.0");
    assert_capped(&host_lock, &lock);
    assert_eq!(
        std::fs::read_to_string(ws.join("member/Cargo.toml")).unwrap(),
        member
    );
}

#[test]
fn offline_uses_the_cached_index() {
    let from = host("v4-2024");
    // Online once, so the index entries this needs are cached.
    let (_warm_tmp, warm) = plugin("multi");
    assert!(cap(&warm, &["--from", from.to_str().unwrap()])
        .status
        .success());
    // Offline, cargo only picks versions whose crates are downloaded: fetch the capped graph.
    let (_cold_tmp, cold) = plugin("multi");
    let before = files(&cold);
    let out = cap(&cold, &["--from", from.to_str().unwrap(), "--offline"]);
    if !out.status.success() {
        // Not downloaded yet on this machine: a clear error, and nothing changed.
        assert!(
            stderr(&out).contains("cannot reach the package registry"),
            "{}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("cargo fetch"), "{}", stderr(&out));
        assert_eq!(before, files(&cold));
    }
    let fetch = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["fetch", "--manifest-path"])
        .arg(warm.join("Cargo.toml"))
        .status()
        .unwrap();
    assert!(fetch.success());
    let (_tmp, dir) = plugin("multi");
    let out = cap(&dir, &["--from", from.to_str().unwrap(), "--offline"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        versions(&dir.join("Cargo.lock"))["syn"],
        ["1.0.109", "2.0.79"]
    );
}

/// Writes a crate at `dir` (its `Cargo.toml` from `manifest`, an empty `src/lib.rs`).
fn write_crate(dir: &Path, manifest: &str) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
}

fn interface_crate(dir: &Path, version: &str) {
    write_crate(
        dir,
        &format!(
            "[package]\nname = \"text-pipeline-api\"\nversion = \"{version}\"\nedition = \"2021\"\n\n\
             [package.metadata.plugrack]\ninterface = true\n"
        ),
    );
}

fn generate_lockfile(manifest: &Path) {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["generate-lockfile", "--offline", "--manifest-path"])
        .arg(manifest)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo generate-lockfile {}",
        manifest.display()
    );
}

#[test]
fn an_interface_crate_on_another_line_is_its_own_error() {
    // A host at text-pipeline-api 1.1 and a plugin built against 2.0, both from paths (real
    // cargo, offline: nothing here comes from a registry).
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    interface_crate(&root.join("api-1.1"), "1.1.0");
    interface_crate(&root.join("api-2.0"), "2.0.0");
    interface_crate(&root.join("api-1.0"), "1.0.0");
    write_crate(
        &root.join("host"),
        "[package]\nname = \"host\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ntext-pipeline-api = { path = \"../api-1.1\" }\n",
    );
    generate_lockfile(&root.join("host/Cargo.toml"));
    let plugin = |api: &str| {
        let dir = root.join(format!("plugin-{api}"));
        write_crate(
            &dir,
            &format!("[package]\nname = \"plugin\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\ntext-pipeline-api = {{ path = \"../{api}\" }}\n"),
        );
        generate_lockfile(&dir.join("Cargo.toml"));
        dir
    };
    let from = root.join("host/Cargo.lock");

    let two = plugin("api-2.0");
    let before = files(&two);
    let out = cap(&two, &["--offline", "--from", from.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("plugin uses interface crate `text-pipeline-api` 2.0.0, the host 1.1.0: the host will refuse the plugin's extensions of it"),
        "{err}"
    );
    assert!(err.contains("text-pipeline-api = \"1\""), "{err}");
    assert_eq!(before, files(&two), "nothing changed");
    let check = cap(
        &two,
        &[
            "--offline",
            "--from",
            from.to_str().unwrap(),
            "--check",
            "--message-format",
            "json",
        ],
    );
    assert_eq!(check.status.code(), Some(1));
    let events: Vec<serde_json::Value> = stdout(&check)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mismatch = events
        .iter()
        .find(|e| e["reason"] == "interface-mismatch")
        .expect("an interface-mismatch event");
    assert_eq!(mismatch["package"], "text-pipeline-api");
    assert_eq!(mismatch["plugin_version"], "2.0.0");
    let summary = events
        .iter()
        .find(|e| e["reason"] == "summary")
        .expect("a summary");
    assert_eq!(summary["interface_mismatches"], 1);
    assert_eq!(events.last().unwrap()["reason"], "error");

    // The same line (1.0 against the host's 1.1) is fine: the host uses it.
    let one = plugin("api-1.0");
    let out = cap(
        &one,
        &["--offline", "--from", from.to_str().unwrap(), "--check"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
}
