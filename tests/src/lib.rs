//! Shared machinery of the end-to-end tests: builds every plugin the tests load, once per
//! test binary, with real cargo invocations into dedicated target folders.
//!
//! - the workspace's example plugins ([`example_plugins`], also used by plugin-server's
//!   tests) and the `plugin-host` binary (pinned stable toolchain);
//! - the showcase plugin cross-built for aarch64, armv7 and i686 (plugins for the wrong
//!   architecture), and an x32 shared object (32-bit code for this 64-bit machine), from C;
//! - SDK plugins in several variants (`tests/fixtures/sdk-plugin`): another target OS, a
//!   host-version range this host is outside of, a panicking and a hanging `on_load`, and one
//!   plugin in two versions;
//! - the `plugin-build` binary (packaging, signing, deploying);
//! - the showcase plugin built with the installed nightly toolchain (another compiler);
//! - a plugin written without the SDK, built against each frozen release of `plugrack-api`
//!   under `tests/abi-freeze/`, and against doctored copies of today's `plugrack-api`: another
//!   major version, a newer minor version, and changed types under the same version;
//! - the text-pipeline example's plugins ([`text_pipeline`]): `tp-title-case` (stable and
//!   nightly), and builds against its interface crate as released at 1.0.0 and against doctored
//!   copies of today's (changed layout, 2.0.0); the example's host application.
//!
//! Nothing here is skipped when a tool is missing: the build fails with the command to run.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

mod examples;

pub use examples::{example_plugins, workspace_root, ExamplePlugins};
pub use plugrack_host;

pub mod bench;
pub mod text_pipeline;

pub(crate) use examples::{cargo, run};

/// Every file the tests need, built.
#[derive(Debug)]
pub struct Artifacts {
    /// `examples/showcase`: every capability and service.
    pub showcase: PathBuf,
    /// `examples/panicky`: panics in every entry point.
    pub panicky: PathBuf,
    /// `examples/crashy`: crashes on purpose (only ever loaded in a worker process).
    pub crashy: PathBuf,
    /// `plugin-template`.
    pub template: PathBuf,
    /// `examples/bench-plugin`.
    pub bench: PathBuf,
    /// `examples/not-a-plugin`: a shared library without a root module.
    pub not_a_plugin: PathBuf,
    /// The `plugin-host` command-line tool.
    pub plugin_host_bin: PathBuf,
    /// The `plugin-worker` program out-of-process plugins run in (beside `plugin-host`).
    pub plugin_worker_bin: PathBuf,
    /// The showcase plugin built for `aarch64-unknown-linux-gnu`.
    pub showcase_aarch64: PathBuf,
    /// The showcase plugin built for `armv7-unknown-linux-gnueabihf`.
    pub showcase_armv7: PathBuf,
    /// The showcase plugin built for `i686-unknown-linux-gnu`.
    pub showcase_i686: PathBuf,
    /// A shared object of x86-64 code for the 32-bit x32 ABI, exporting the root symbol.
    pub x32: PathBuf,
    /// The SDK fixture variants, by package name (see `tests/fixtures/sdk-plugin`).
    pub fx: std::collections::BTreeMap<&'static str, PathBuf>,
    /// The `plugin-build` tool.
    pub plugin_build_bin: PathBuf,
    /// The showcase plugin built with the nightly toolchain.
    pub showcase_nightly: PathBuf,
    /// The raw plugin built against each frozen release: (version, file).
    pub raw_frozen: Vec<(String, PathBuf)>,
    /// The raw plugin built against a copy of plugrack-api claiming version 2.0.0.
    pub raw_api_major: PathBuf,
    /// The raw plugin built against a copy of plugrack-api claiming the next minor version.
    pub raw_api_minor: PathBuf,
    /// The raw plugin built against a copy of plugrack-api whose types changed, same version.
    pub raw_api_layout: PathBuf,
    /// The text-pipeline example's host application (`examples/text-pipeline/host`).
    pub text_pipeline_bin: PathBuf,
    /// `examples/text-pipeline/plugins/title-case` (interface 1.1, both extension points).
    pub title_case: PathBuf,
    /// The same, built with the nightly toolchain.
    pub title_case_nightly: PathBuf,
    /// The text-pipeline plugins built outside the workspace.
    pub text_pipeline: text_pipeline::TextPipelineFixtures,
}

/// Builds everything once per process and returns where it is.
pub fn artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(build_all)
}

fn build_all() -> Artifacts {
    let root = workspace_root();
    let target = root.join("target").join("e2e");
    let examples = example_plugins();
    let mut cmd = cargo(None);
    cmd.current_dir(&root)
        .args([
            "build",
            "-p",
            "plugrack-host",
            "--bin",
            "plugin-host",
            "--bin",
            "plugin-worker",
            "-p",
            "text-pipeline",
            "--bin",
            "text-pipeline",
            "-p",
            "tp-title-case",
            "--lib",
            "-p",
            "plugrack-build",
            "--bin",
            "plugin-build",
            "--target-dir",
        ])
        .arg(&target);
    run(
        cmd,
        "the plugin-host and plugin-worker programs, plugin-build, the text-pipeline host and its title-case plugin",
    );
    let debug = target.join("debug");

    let mut cmd = cargo(None);
    cmd.current_dir(&root)
        .args([
            "build",
            "-p",
            "showcase",
            "--target",
            "aarch64-unknown-linux-gnu",
            "--target",
            "armv7-unknown-linux-gnueabihf",
            "--target",
            "i686-unknown-linux-gnu",
            "--target-dir",
        ])
        .arg(&target)
        .env(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER",
            "aarch64-linux-gnu-gcc",
        )
        .env(
            "CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER",
            "arm-linux-gnueabihf-gcc",
        )
        .env(
            "CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_LINKER",
            "i686-linux-gnu-gcc",
        );
    run(cmd, "the showcase plugin for aarch64, armv7 and i686");

    let nightly_target = root.join("target").join("e2e-nightly");
    let mut cmd = cargo(Some("nightly"));
    cmd.current_dir(&root)
        .args([
            "build",
            "-p",
            "showcase",
            "-p",
            "tp-title-case",
            "--target-dir",
        ])
        .arg(&nightly_target)
        // The title-case plugin names itself after this, so tests can tell the builds apart.
        .env("TP_TITLE_CASE_FLAVOUR", "nightly");
    run(
        cmd,
        "the showcase and title-case plugins with the nightly toolchain",
    );

    let fixtures = root.join("target").join("e2e-fixtures");
    let api_src = root.join("plugin-api");
    let mut raw_frozen = Vec::new();
    let mut frozen_dirs: Vec<PathBuf> = fs::read_dir(root.join("tests/abi-freeze"))
        .expect("tests/abi-freeze exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    frozen_dirs.sort();
    for dir in frozen_dirs {
        let version = dir
            .file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("plugrack-api-")
            .to_owned();
        let name = format!("raw_frozen_{}", version.replace('.', "_"));
        let file = build_raw_plugin(&root, &fixtures, &name, &dir, &version);
        raw_frozen.push((version, file));
    }

    let current = plugrack_api::compat::ApiVersion::current();
    let major_version = format!("{}.0.0", current.major + 1);
    let major = doctored_api(&api_src, &fixtures.join("api-major"), &major_version, None);
    let minor_version = format!("{}.{}.0", current.major, current.minor + 1);
    let minor = doctored_api(&api_src, &fixtures.join("api-minor"), &minor_version, None);
    let layout = doctored_api(
        &api_src,
        &fixtures.join("api-layout"),
        &current.to_string(),
        Some(("src/instance.rs", "    pub id: u64,", "    pub id: u32,")),
    );

    let fx = build_sdk_fixtures(&root, &fixtures, &target);
    let x32 = build_x32(&fixtures);

    Artifacts {
        showcase: examples.showcase.clone(),
        panicky: examples.panicky.clone(),
        crashy: examples.crashy.clone(),
        template: examples.template.clone(),
        bench: examples.bench.clone(),
        not_a_plugin: examples.not_a_plugin.clone(),
        plugin_host_bin: debug.join("plugin-host"),
        plugin_worker_bin: debug.join("plugin-worker"),
        showcase_aarch64: target.join("aarch64-unknown-linux-gnu/debug/libshowcase.so"),
        showcase_armv7: target.join("armv7-unknown-linux-gnueabihf/debug/libshowcase.so"),
        showcase_i686: target.join("i686-unknown-linux-gnu/debug/libshowcase.so"),
        x32,
        fx,
        plugin_build_bin: debug.join("plugin-build"),
        showcase_nightly: nightly_target.join("debug/libshowcase.so"),
        raw_frozen,
        raw_api_major: build_raw_plugin(&root, &fixtures, "raw_api_major", &major, &major_version),
        raw_api_minor: build_raw_plugin(&root, &fixtures, "raw_api_minor", &minor, &minor_version),
        raw_api_layout: build_raw_plugin(
            &root,
            &fixtures,
            "raw_api_layout",
            &layout,
            &current.to_string(),
        ),
        text_pipeline_bin: debug.join("text-pipeline"),
        title_case: debug.join("libtp_title_case.so"),
        title_case_nightly: nightly_target.join("debug/libtp_title_case.so"),
        text_pipeline: text_pipeline::build(&root, &fixtures),
    }
}

/// The SDK fixture variants: (package name, id, version, host-version, target-os).
const SDK_FIXTURES: &[(&str, &str, &str, &str, &str)] = &[
    ("fx-good", "fx-good", "1.0.0", "*", r#"["linux"]"#),
    ("fx-good-v2", "fx-good", "2.0.0", "*", r#"["linux"]"#),
    ("fx-windows", "fx-windows", "0.1.0", "*", r#"["windows"]"#),
    ("fx-host9", "fx-host9", "0.1.0", ">=9", r#"["linux"]"#),
    (
        "fx-panic-on-load",
        "fx-panic-on-load",
        "0.1.0",
        "*",
        r#"["linux"]"#,
    ),
    (
        "fx-hang-on-load",
        "fx-hang-on-load",
        "0.1.0",
        "*",
        r#"["linux"]"#,
    ),
];

/// Writes one workspace holding every SDK fixture variant and builds them with one cargo
/// invocation, in the examples' target folder so the SDK and its dependencies are shared.
fn build_sdk_fixtures(
    root: &Path,
    fixtures: &Path,
    target: &Path,
) -> std::collections::BTreeMap<&'static str, PathBuf> {
    let workspace = fixtures.join("sdk");
    fs::create_dir_all(&workspace).expect("create the SDK fixture workspace");
    let template = fs::read_to_string(root.join("tests/fixtures/sdk-plugin/Cargo.toml.in"))
        .expect("SDK fixture manifest template");
    let src = root.join("tests/fixtures/sdk-plugin/src/lib.rs");
    let mut members = Vec::new();
    for (name, id, version, host_version, target_os) in SDK_FIXTURES {
        let dir = workspace.join(name);
        fs::create_dir_all(&dir).expect("create fixture folder");
        let manifest = template
            .replace("@NAME@", name)
            .replace("@ID@", id)
            .replace("@VERSION@", version)
            .replace("@HOST_VERSION@", host_version)
            .replace("@TARGET_OS@", target_os)
            .replace("@SRC@", &src.to_string_lossy())
            .replace("@SDK@", &root.join("plugin-sdk").to_string_lossy());
        write_if_changed(&dir.join("Cargo.toml"), &manifest);
        members.push(format!("{name:?}"));
    }
    write_if_changed(
        &workspace.join("Cargo.toml"),
        &format!(
            "# Generated by the end-to-end tests.\n[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    );
    if !workspace.join("Cargo.lock").exists() {
        fs::copy(root.join("Cargo.lock"), workspace.join("Cargo.lock")).expect("copy Cargo.lock");
    }
    let mut cmd = cargo(None);
    cmd.current_dir(&workspace)
        .args(["build", "--workspace", "--target-dir"])
        .arg(target);
    run(cmd, "the SDK fixture plugins");
    SDK_FIXTURES
        .iter()
        .map(|(name, ..)| {
            let file = format!("lib{}.so", name.replace('-', "_"));
            (*name, target.join("debug").join(file))
        })
        .collect()
}

/// Writes `text` unless the file already holds it (an unchanged manifest keeps cargo's
/// fingerprint, so a second run builds nothing).
fn write_if_changed(path: &Path, text: &str) {
    if fs::read_to_string(path).ok().as_deref() != Some(text) {
        fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// A shared object of x86-64 code for the x32 ABI (32-bit pointers: ELF class 32, machine
/// x86-64), exporting abi_stable's root symbol: everything a plugin has but the word size.
fn build_x32(fixtures: &Path) -> PathBuf {
    fs::create_dir_all(fixtures).expect("create fixtures folder");
    let source = fixtures.join("x32.c");
    let symbol = plugrack_api::abi_stable::library::ROOT_MODULE_LOADER_NAME;
    fs::write(&source, format!("const char {symbol}[8] = {{0}};\n")).expect("write x32.c");
    let out = fixtures.join("libx32.so");
    let mut cmd = Command::new("cc");
    cmd.args(["-mx32", "-shared", "-nostdlib", "-fPIC", "-o"])
        .arg(&out)
        .arg(&source);
    let output = cmd.output().expect("run cc for the x32 fixture");
    assert!(
        output.status.success(),
        "cc -mx32 failed: {}\n  hint: the x32 fixture needs gcc with x32 support (Debian's gcc has it)",
        String::from_utf8_lossy(&output.stderr)
    );
    out
}

/// Runs the built `plugin-build` tool with `args` in `dir`; returns the exit code, stdout and
/// stderr.
pub fn run_plugin_build(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(&artifacts().plugin_build_bin)
        .current_dir(dir)
        .args(args)
        .env_remove("PLUGINS_DIR")
        .output()
        .expect("run plugin-build");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until a `plugin-host watch` child (stderr piped) says it is watching, then drains the
/// rest of its stderr on a thread, so that it never blocks on a full pipe. Bounded by the
/// child's `--seconds`: once it ends, the read returns 0 and the assertion fails.
pub fn wait_until_watching(child: &mut std::process::Child) {
    use std::io::BufRead;
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr piped"));
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 && !line.contains("Watching") {
        line.clear();
    }
    assert!(
        line.contains("Watching"),
        "plugin-host watch never started watching"
    );
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
}

/// Builds the bench plugin for the benchmarks: optimised when the benchmark itself is, and
/// unoptimised for the smoke run under `cargo test --all-targets`.
pub fn bench_plugin_for_benchmarks() -> PathBuf {
    plugin_for_benchmarks("bench-plugin")
}

/// Builds the workspace plugin `package` for the benchmarks, as [`bench_plugin_for_benchmarks`]
/// does the bench plugin.
pub fn plugin_for_benchmarks(package: &str) -> PathBuf {
    let root = workspace_root();
    let target = root.join("target").join("e2e");
    let (profile, flags): (&str, &[&str]) = if cfg!(debug_assertions) {
        ("debug", &[])
    } else {
        ("release", &["--release"])
    };
    let mut cmd = cargo(None);
    cmd.current_dir(&root)
        .args(["build", "-p", package, "--lib"])
        .args(flags)
        .arg("--target-dir")
        .arg(&target);
    run(cmd, &format!("`{package}` ({profile})"));
    target
        .join(profile)
        .join(format!("lib{}.so", package.replace('-', "_")))
}

/// The `plugin-worker` program for the benchmarks: an optimised build when the benchmark
/// itself is; for the smoke run under `cargo test --all-targets`, the one the end-to-end tests
/// build (building it alone with other packages selected would give other features and
/// overwrite it, and each would rebuild the other).
pub fn worker_for_benchmarks() -> PathBuf {
    if cfg!(debug_assertions) {
        return artifacts().plugin_worker_bin.clone();
    }
    let root = workspace_root();
    let target = root.join("target").join("e2e");
    let mut cmd = cargo(None);
    cmd.current_dir(&root)
        .args([
            "build",
            "-p",
            "plugrack-host",
            "--bin",
            "plugin-worker",
            "--release",
        ])
        .arg("--target-dir")
        .arg(&target);
    run(cmd, "the plugin-worker program (release)");
    target.join("release").join("plugin-worker")
}

/// Copies today's plugrack-api to `dest` under `version`, optionally replacing one line.
fn doctored_api(
    api_src: &Path,
    dest: &Path,
    version: &str,
    edit: Option<(&str, &str, &str)>,
) -> PathBuf {
    let _ = fs::remove_dir_all(dest);
    fs::create_dir_all(dest.join("src")).expect("create fixture folder");
    for entry in fs::read_dir(api_src.join("src")).expect("plugin-api/src") {
        let path = entry.expect("entry").path();
        fs::copy(&path, dest.join("src").join(path.file_name().unwrap()))
            .expect("copy plugrack-api source");
    }
    let manifest = format!(
        "[package]\nname = \"plugrack-api\"\nversion = \"{version}\"\nedition = \"2021\"\n\n[dependencies]\nabi_stable = \"=0.11.3\"\n"
    );
    fs::write(dest.join("Cargo.toml"), manifest).expect("write manifest");
    if let Some((file, from, to)) = edit {
        let path = dest.join(file);
        let text = fs::read_to_string(&path).expect("read source to doctor");
        assert!(
            text.contains(from),
            "the fixture expects `{from}` in plugin-api/{file}; update tests/src/lib.rs"
        );
        fs::write(&path, text.replacen(from, to, 1)).expect("write doctored source");
    }
    dest.to_owned()
}

/// Builds the SDK-less plugin of `tests/fixtures/raw-plugin` against the plugrack-api at `api`,
/// which is at `api_version` (from 1.1 on, the root module has the `extensions` field).
fn build_raw_plugin(
    root: &Path,
    fixtures: &Path,
    name: &str,
    api: &Path,
    api_version: &str,
) -> PathBuf {
    let project = fixtures.join(name);
    fs::create_dir_all(&project).expect("create fixture project");
    let manifest = fs::read_to_string(root.join("tests/fixtures/raw-plugin/Cargo.toml.in"))
        .expect("raw plugin manifest template")
        .replace("@NAME@", name)
        .replace(
            "@SRC@",
            &root
                .join("tests/fixtures/raw-plugin/src/lib.rs")
                .to_string_lossy(),
        )
        .replace("@API@", &api.to_string_lossy());
    fs::write(project.join("Cargo.toml"), manifest).expect("write fixture manifest");
    // Start from the workspace's lock so every fixture compiles the same dependency versions
    // and shares their build artifacts.
    if !project.join("Cargo.lock").exists() {
        fs::copy(root.join("Cargo.lock"), project.join("Cargo.lock")).expect("copy Cargo.lock");
    }
    let target = fixtures.join("target");
    let mut cmd = cargo(None);
    cmd.current_dir(&project)
        .args(["build", "--target-dir"])
        .arg(&target);
    let parsed = plugrack_api::compat::ApiVersion::parse(api_version).expect("a version");
    if (parsed.major, parsed.minor) >= (1, 1) {
        cmd.args(["--features", "extensions"]);
    }
    run(cmd, &format!("fixture plugin `{name}`"));
    target.join("debug").join(format!("lib{name}.so"))
}

/// A fresh folder with private copies of `files` (each under its given name). Every test
/// loads its own copies: the dynamic loader shares one library per file, and with it the
/// plugin's globals, so two tests loading the same path would share a plugin.
pub fn plugin_dir(files: &[(&str, &Path)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, source) in files {
        fs::copy(source, dir.path().join(name))
            .unwrap_or_else(|e| panic!("copy {} to {name}: {e}", source.display()));
    }
    dir
}

/// Runs the built `plugin-host` tool with `args` and extra environment variables; returns
/// the exit code, stdout and stderr.
pub fn run_plugin_host(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(&artifacts().plugin_host_bin);
    cmd.args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let out = cmd.output().expect("run plugin-host");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
