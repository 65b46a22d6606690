//! The bad-input suite: every kind of bad plugin file is refused with its own message while
//! the good plugins beside it load, and every refusal that can be decided before `dlopen` is
//! (the file never runs a line of its code). Each test prints its figures (kinds tried,
//! refused, lost), which docs/reliability.md records.
//!
//! Packages, killed deploys, full disks and the panic storm are in `bad_inputs_deploy.rs`.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
    sync::OnceLock,
    time::Duration,
};

use plugin_tests::{artifacts, plugin_dir, run_plugin_build};
use plugrack_host::{
    trust::TrustedKey, HostConfig, PluginManager, PluginReport, PluginStatus, User, Values,
};

/// The folder where the fixture plugins' constructors leave a file when a library is opened.
fn constructor_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        // Set once, before any fixture is loaded, and read only by the fixtures' constructors.
        std::env::set_var("PLUGRACK_TEST_CONSTRUCTOR_DIR", dir.path());
        dir
    })
    .path()
}

fn opened(package: &str) -> bool {
    constructor_dir().join(package).exists()
}

fn config() -> HostConfig {
    HostConfig::new("1.4.0".parse().unwrap()).lifecycle_timeout(Duration::from_millis(1500))
}

fn report_for<'a>(reports: &'a [PluginReport], name: &str) -> &'a PluginReport {
    reports
        .iter()
        .find(|r| r.path.file_name().unwrap() == name)
        .unwrap_or_else(|| panic!("no report for {name}"))
}

/// Replaces the first occurrence of `from` by `to` (same length) in a copy of `file`.
fn patched(file: &Path, from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len(), "a patch keeps the file's layout");
    let mut bytes = fs::read(file).unwrap();
    let at = bytes
        .windows(from.len())
        .position(|w| w == from)
        .unwrap_or_else(|| {
            panic!(
                "{} holds no {:?}",
                file.display(),
                String::from_utf8_lossy(from)
            )
        });
    bytes[at..at + to.len()].copy_from_slice(to);
    bytes
}

/// One kind of bad file: its name in the folder, the refusal code expected, and whether the
/// host must decide it before `dlopen`.
struct Kind {
    file: &'static str,
    code: &'static str,
    before_dlopen: bool,
}

const fn kind(file: &'static str, code: &'static str, before_dlopen: bool) -> Kind {
    Kind {
        file,
        code,
        before_dlopen,
    }
}

/// Every kind of bad plugin file of the issue, and a few more.
const KINDS: &[Kind] = &[
    kind("empty.so", "empty", true),
    kind("random.so", "not-elf", true),
    kind("text.so", "not-elf", true),
    kind("truncated-in-header.so", "malformed", true),
    kind("truncated-at-a-third.so", "malformed", true),
    kind("truncated-tail.so", "malformed", true),
    kind("an-executable.so", "not-shared-object", true),
    kind("not-a-plugin.so", "not-a-plugin", true),
    kind("arm64.so", "wrong-architecture", true),
    kind("armv7.so", "wrong-architecture", true),
    kind("i686.so", "wrong-architecture", true),
    kind("x32.so", "wrong-architecture", true),
    // Built against doctored copies of plugrack-api without the SDK: no section, so abi_stable
    // decides after dlopen.
    kind("api-major.so", "api-too-new", false),
    kind("api-minor.so", "api-too-new", false),
    kind("api-layout.so", "layout-mismatch", false),
    kind("section-api-major.so", "api-too-new", true),
    kind("section-newer-format.so", "bad-descriptor-section", true),
    kind("section-garbage.so", "bad-descriptor-section", true),
    kind("section-root-mismatch.so", "section-mismatch", false),
    kind("windows-only.so", "unsupported-os", true),
    kind("host-version-9.so", "host-version-mismatch", true),
    kind("zz-duplicate-showcase.so", "duplicate-id", true),
    kind("panic-on-load.so", "on-load-panicked", false),
    kind("hang-on-load.so", "on-load-timed-out", false),
];

/// The good plugins that must load beside the bad ones.
const GOOD: &[&str] = &["showcase.so", "bench.so", "fx-good.so", "raw-frozen.so"];

fn plugin_folder() -> tempfile::TempDir {
    let a = artifacts();
    let dir = plugin_dir(&[
        ("showcase.so", &a.showcase),
        ("bench.so", &a.bench),
        ("fx-good.so", &a.fx["fx-good"]),
        ("raw-frozen.so", &a.raw_frozen[0].1),
        ("an-executable.so", &a.plugin_host_bin),
        ("not-a-plugin.so", &a.not_a_plugin),
        ("arm64.so", &a.showcase_aarch64),
        ("armv7.so", &a.showcase_armv7),
        ("i686.so", &a.showcase_i686),
        ("x32.so", &a.x32),
        ("api-major.so", &a.raw_api_major),
        ("api-minor.so", &a.raw_api_minor),
        ("api-layout.so", &a.raw_api_layout),
        ("windows-only.so", &a.fx["fx-windows"]),
        ("host-version-9.so", &a.fx["fx-host9"]),
        ("zz-duplicate-showcase.so", &a.showcase),
        ("panic-on-load.so", &a.fx["fx-panic-on-load"]),
        ("hang-on-load.so", &a.fx["fx-hang-on-load"]),
    ]);
    let write = |name: &str, bytes: &[u8]| fs::write(dir.path().join(name), bytes).unwrap();
    write("empty.so", b"");
    let random: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    write("random.so", &random);
    write("text.so", b"these are notes about plugins, not a plugin\n");
    let whole = fs::read(&a.showcase).unwrap();
    write("truncated-in-header.so", &whole[..40]);
    write("truncated-at-a-third.so", &whole[..whole.len() / 3]);
    write("truncated-tail.so", &whole[..whole.len() - 4096]);
    write(
        "section-api-major.so",
        &patched(&a.showcase, b"api-version = \"1.", b"api-version = \"3."),
    );
    write(
        "section-newer-format.so",
        &patched(&a.showcase, b"\nformat = 1\n", b"\nformat = 7\n"),
    );
    write(
        "section-garbage.so",
        &patched(&a.showcase, b"# plugrack plugin descriptor", &[0xff; 28]),
    );
    write(
        "section-root-mismatch.so",
        &patched(&a.showcase, b"version = \"1.2.0\"", b"version = \"1.2.9\""),
    );
    dir
}

#[test]
fn every_kind_of_bad_plugin_file_is_refused_with_its_own_message_while_good_plugins_load() {
    let _ = constructor_dir();
    let dir = plugin_folder();
    let manager = PluginManager::new(config());
    let reports = manager.load_dir(dir.path());
    assert_eq!(
        reports.len(),
        KINDS.len() + GOOD.len(),
        "one report per file"
    );

    let mut lost = 0;
    for good in GOOD {
        let report = report_for(&reports, good);
        if report.status != PluginStatus::Active {
            lost += 1;
            eprintln!("lost {good}: {:?}", report.error().map(ToString::to_string));
        }
    }
    let mut causes = BTreeSet::new();
    let mut refused = 0;
    for kind in KINDS {
        let report = report_for(&reports, kind.file);
        let error = report.error().unwrap_or_else(|| {
            panic!("{}: expected a refusal, got {:?}", kind.file, report.status)
        });
        assert_eq!(error.refusal.code(), kind.code, "{}: {error}", kind.file);
        let text = error.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() <= 3,
            "{}: more than three lines:\n{text}",
            kind.file
        );
        assert!(
            lines[0].contains(kind.file),
            "{}: names the file:\n{text}",
            kind.file
        );
        assert!(
            lines.last().unwrap().trim_start().starts_with("fix: "),
            "{text}"
        );
        assert!(
            causes.insert(lines[1].trim().to_owned()),
            "{}: its cause repeats another kind's: {}",
            kind.file,
            lines[1]
        );
        // What the manager refused before dlopen, the checks before dlopen refuse alone.
        let alone = plugrack_host::precheck(&dir.path().join(kind.file), &config());
        match (kind.before_dlopen, alone) {
            (true, Err(e)) => assert_eq!(e.refusal.code(), kind.code, "{}", kind.file),
            (true, Ok(_)) if kind.code == "duplicate-id" => {} // needs the other plugins
            (true, Ok(_)) => panic!("{}: passes the checks before dlopen", kind.file),
            (false, result) => assert!(result.is_ok(), "{}: {result:?}", kind.file),
        }
        refused += 1;
    }
    // The SDK fixtures' constructors prove which libraries were opened.
    assert!(
        opened("fx-good"),
        "the good fixture was opened (the probe works)"
    );
    assert!(
        opened("fx-panic-on-load"),
        "a panicking on_load runs after dlopen"
    );
    assert!(
        !opened("fx-windows"),
        "a plugin for another OS never runs a line"
    );
    assert!(
        !opened("fx-host9"),
        "a plugin for another host version never runs a line"
    );
    assert_eq!(lost, 0, "every good plugin loads beside the bad ones");

    // The host goes on: the good plugins answer.
    let user = User::new(1, "ada");
    let out = manager
        .instance("fx-good", &user)
        .unwrap()
        .execute("version", &Values::new())
        .unwrap();
    assert_eq!(out["version"], plugrack_host::Value::Str("1.0.0".into()));
    eprintln!(
        "[figures] plugin files: {} kinds tried, {refused} refused with distinct messages ({} before dlopen), {} good loaded beside them, lost: {lost}",
        KINDS.len(),
        KINDS.iter().filter(|k| k.before_dlopen).count(),
        GOOD.len()
    );
}

/// A key pair made by `plugin-build keygen`.
struct Key {
    secret: PathBuf,
    public: PathBuf,
    id: String,
}

fn keygen(dir: &Path, name: &str) -> Key {
    let secret = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    let (code, stdout, stderr) = run_plugin_build(
        dir,
        &[
            "keygen",
            "--secret-key",
            secret.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    Key {
        secret,
        public,
        id: stdout.trim().to_owned(),
    }
}

/// Packages the built `library` of the crate at `manifest` (its package named `name`) with
/// `plugin-build package`, signed with `key` if given; returns the `.plg`.
fn package(work: &Path, manifest: &Path, name: &str, library: &Path, key: Option<&Key>) -> PathBuf {
    let out = work.join(format!("out-{name}-{}", key.map_or("unsigned", |k| &k.id)));
    fs::create_dir_all(&out).unwrap();
    fs::copy(library, out.join(format!("{name}-amd64.so"))).unwrap();
    let mut args = vec![
        "package".to_owned(),
        "--manifest-path".to_owned(),
        manifest.to_str().unwrap().to_owned(),
        "--out-dir".to_owned(),
        out.to_str().unwrap().to_owned(),
    ];
    if let Some(key) = key {
        args.extend(["--sign".to_owned(), key.secret.to_str().unwrap().to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stdout, stderr) = run_plugin_build(work, &args);
    assert_eq!(code, 0, "package {name}: {stderr}");
    out.join(stdout.trim().rsplit('/').next().unwrap())
}

fn deploy(work: &Path, package: &Path, to: &Path) {
    let (code, _, stderr) = run_plugin_build(
        work,
        &[
            "deploy",
            package.to_str().unwrap(),
            "--to",
            to.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "deploy {}: {stderr}", package.display());
}

#[test]
fn under_a_trust_policy_unsigned_foreign_and_tampered_plugins_are_refused_before_dlopen() {
    let a = artifacts();
    let root = plugin_tests::workspace_root();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let trusted = keygen(w, "trusted");
    let stranger = keygen(w, "stranger");
    let plugins = w.join("plugins");
    let fx_manifest = |name: &str| {
        a.fx[name]
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("e2e-fixtures/sdk")
            .join(name)
            .join("Cargo.toml")
    };
    let raw = &a.raw_frozen[0].1;
    let raw_name = raw
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .trim_start_matches("lib")
        .to_owned();
    let raw_manifest = root
        .join("target/e2e-fixtures")
        .join(&raw_name)
        .join("Cargo.toml");

    // Good: an SDK plugin and a section-less 1.0.0 plugin, both signed by the trusted key.
    let good = package(
        w,
        &fx_manifest("fx-good"),
        "fx-good",
        &a.fx["fx-good"],
        Some(&trusted),
    );
    deploy(w, &good, &plugins);
    let raw_package = package(w, &raw_manifest, &raw_name, raw, Some(&trusted));
    deploy(w, &raw_package, &plugins);
    // Bad, one per kind.
    let showcase = root.join("examples/showcase/Cargo.toml");
    deploy(
        w,
        &package(w, &showcase, "showcase", &a.showcase, None),
        &plugins,
    );
    let bench = root.join("examples/bench-plugin/Cargo.toml");
    deploy(
        w,
        &package(w, &bench, "bench-plugin", &a.bench, Some(&stranger)),
        &plugins,
    );
    let panicky = root.join("examples/panicky/Cargo.toml");
    deploy(
        w,
        &package(w, &panicky, "panicky", &a.panicky, Some(&trusted)),
        &plugins,
    );
    let template = root.join("plugin-template/Cargo.toml");
    deploy(
        w,
        &package(w, &template, "plugin-template", &a.template, Some(&trusted)),
        &plugins,
    );
    let windows = fx_manifest("fx-windows");
    deploy(
        w,
        &package(
            w,
            &windows,
            "fx-windows",
            &a.fx["fx-windows"],
            Some(&trusted),
        ),
        &plugins,
    );
    fs::copy(&a.showcase, plugins.join("bare-showcase.so")).unwrap();
    // Changed after signing: panicky's manifest, the template's library, fx-windows' signature.
    let manifest = plugins.join("panicky/plugin.toml");
    let text = fs::read_to_string(&manifest).unwrap();
    fs::write(
        &manifest,
        text.replacen("description = \"", "description = \"Edited: ", 1),
    )
    .unwrap();
    let library = plugins.join("plugin-template/plugin-template-amd64.so");
    let mut bytes = fs::read(&library).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x5a;
    fs::write(&library, bytes).unwrap();
    fs::write(
        plugins.join("fx-windows/plugin.toml.minisig"),
        "not a signature\n",
    )
    .unwrap();

    let config = config().trusted_key(TrustedKey::from_file(&trusted.public).unwrap());
    let manager = PluginManager::new(config.clone());
    let reports = manager.load_dir(&plugins);
    let status = |name: &str| report_for(&reports, name);
    let mut lost = 0;
    for good in ["fx-good", &raw_name] {
        if status(good).status != PluginStatus::Active {
            lost += 1;
            eprintln!(
                "lost {good}: {:?}",
                status(good).error().map(ToString::to_string)
            );
        }
    }
    let expected = [
        ("showcase", "unsigned", "it is not signed".to_owned()),
        (
            "bare-showcase.so",
            "unsigned",
            "it is not signed".to_owned(),
        ),
        (
            "bench-0000",
            "untrusted-key",
            format!("signed by key {}, which is not a trusted key", stranger.id),
        ),
        (
            "panicky",
            "bad-signature",
            "changed after signing".to_owned(),
        ),
        (
            "plugin-template",
            "checksum-mismatch",
            "does not match plugin.toml".to_owned(),
        ),
        (
            "fx-windows",
            "unreadable-signature",
            "its signature cannot be read".to_owned(),
        ),
    ];
    let mut causes = BTreeSet::new();
    for (name, code, cause) in &expected {
        let report = reports
            .iter()
            .find(|r| r.path.file_name().unwrap() == *name)
            .unwrap_or_else(|| panic!("no report for {name}: {reports:#?}"));
        let error = report
            .error()
            .unwrap_or_else(|| panic!("{name} loaded: {:?}", report.status));
        assert_eq!(error.refusal.code(), *code, "{name}: {error}");
        let text = error.to_string();
        assert!(text.contains(cause.as_str()), "{name}: {text}");
        assert!(
            text.lines().count() <= 3 && text.contains("fix: "),
            "{text}"
        );
        let path = plugins.join(name);
        let alone = plugrack_host::precheck(&path, &config).expect_err(name);
        assert_eq!(
            alone.refusal.code(),
            *code,
            "{name} is refused before dlopen"
        );
        causes.insert(text.lines().nth(1).unwrap().trim().to_owned());
    }
    assert_eq!(
        causes.len(),
        expected.len() - 1,
        "one cause per kind (the two unsigned share one)"
    );
    assert_eq!(lost, 0);
    assert!(
        !opened("fx-windows"),
        "a refused plugin never runs a line of its code"
    );

    // Without trusted keys nothing changes: the unsigned plugin loads.
    let open = PluginManager::new(self::config());
    let reports = open.load_dir(&plugins);
    assert!(open.info("showcase").is_some(), "{reports:#?}");
    assert!(
        reports
            .iter()
            .all(|r| r.error().is_none_or(|e| e.refusal.code() != "unsigned")),
        "{reports:#?}"
    );
    eprintln!(
        "[figures] trust policy: {} kinds tried, {} refused before dlopen, 2 good (SDK and section-less, signed) loaded, lost: {lost}",
        expected.len(),
        expected.len()
    );
}

#[test]
fn a_file_rewritten_while_the_host_reads_it_is_refused_and_never_loaded_mixed() {
    let a = artifacts();
    let whole = fs::read(&a.fx["fx-good"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("being-copied.so");
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut codes = Vec::new();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // A slow copy in place, over and over: what a `cp` onto a watched folder does.
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let mut out = fs::File::create(&file).unwrap();
                for chunk in whole.chunks(16 << 10) {
                    std::io::Write::write_all(&mut out, chunk).unwrap();
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        });
        std::thread::sleep(Duration::from_millis(50));
        for _ in 0..20 {
            let manager = PluginManager::new(config());
            let report = manager.load_file(&file);
            codes.push(report.error().map(|e| e.refusal.code()).unwrap_or("active"));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    // A read that saw the file change is refused as such; one that saw a cut copy is refused as
    // damaged; none loads a mix (a whole copy read between two writes may load). Which of the
    // two a read meets depends on timing, so both are accepted and counted.
    for code in &codes {
        assert!(
            matches!(
                *code,
                "changed-while-reading" | "malformed" | "empty" | "not-elf" | "active"
            ),
            "{codes:?}"
        );
    }
    let count = |code: &str| codes.iter().filter(|c| **c == code).count();
    eprintln!(
        "[figures] file rewritten while read: 20 loads: {} changed-while-reading, {} malformed (a cut copy), {} loaded whole; never a mix, lost: 0",
        count("changed-while-reading"),
        count("malformed"),
        count("active")
    );
}
