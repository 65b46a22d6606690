//! The build-heavy tests, all in this one test binary so each artifact is built once per run:
//! the real `plugin-build` binary builds the real `plugin-template` for all four targets with
//! the `cargo` and the `zigbuild` backends, into one shared target directory
//! (`<target>/plugin-build-tests`); the outputs are checked as ELF files; a `plugin-host`
//! binary built for each foreign target loads its plugin under qemu-user and calls it; the
//! x86-64 host refuses the arm64 plugin.
//!
//! Needs what `scripts/setup.sh` installs (rustup targets, Debian's cross gcc and libc,
//! qemu-user, cargo-zigbuild and ziglang). A missing piece fails the test with its name.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{Mutex, OnceLock},
};

use plugrack_build::{build::check, targets::TARGETS};
use serde_json::Value;

const SETUP: &str = "run `scripts/setup.sh` to install it";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("plugin-build sits in the workspace")
        .to_owned()
}

/// One target directory for every build these tests make (the plugin for each backend and
/// target, the host binaries), next to the workspace's own builds.
fn shared_target_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    base.join("plugin-build-tests")
}

fn template_manifest() -> PathBuf {
    workspace_root().join("plugin-template/Cargo.toml")
}

fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn plugrack_build() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plugin-build"));
    cmd.env("CARGO_TARGET_DIR", shared_target_dir());
    cmd
}

/// What one `plugin-build --target all` run produced.
struct Built {
    /// The JSON `plugin-artifact` objects, by target name.
    artifacts: HashMap<String, Value>,
    /// Every JSON line.
    messages: Vec<Value>,
}

fn build_all(backend: &str, extra: &[&str]) -> Built {
    let out_dir = shared_target_dir().join(format!("out-{backend}"));
    let _ = std::fs::remove_dir_all(&out_dir);
    let output = plugrack_build()
        .args([
            "--target",
            "all",
            "--backend",
            backend,
            "--message-format",
            "json",
        ])
        .arg("--manifest-path")
        .arg(template_manifest())
        .arg("--out-dir")
        .arg(&out_dir)
        .args(extra)
        .output()
        .expect("run plugin-build");
    assert!(
        output.status.success(),
        "plugin-build --backend {backend} failed ({SETUP} if a piece is missing)\n{}",
        show(&output)
    );
    let messages: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let artifacts = messages
        .iter()
        .filter(|m| m["reason"] == "plugin-artifact")
        .map(|m| (m["target"].as_str().unwrap().to_owned(), m.clone()))
        .collect();
    Built {
        artifacts,
        messages,
    }
}

/// The template built with the `cargo` backend, all targets in one cargo invocation.
fn cargo_built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| build_all("cargo", &["--schedule", "concurrent"]))
}

/// The template built with the `zigbuild` backend and a glibc 2.17 floor, one target after
/// the other.
fn zigbuild_built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| build_all("zigbuild", &["--glibc", "2.17", "--schedule", "sequential"]))
}

fn artifact_path(built: &Built, target: &str) -> PathBuf {
    PathBuf::from(
        built.artifacts[target]["file"]
            .as_str()
            .expect("artifact has a file"),
    )
}

/// The ELF identification bytes, read without the crate's own checker: class (1 = 32-bit,
/// 2 = 64-bit), type (3 = ET_DYN) and machine (little-endian on all four targets).
fn elf_header(path: &Path) -> (u8, u16, u16) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..4], b"\x7fELF", "{} is not ELF", path.display());
    assert_eq!(bytes[5], 1, "little-endian");
    let e_type = u16::from_le_bytes([bytes[16], bytes[17]]);
    let e_machine = u16::from_le_bytes([bytes[18], bytes[19]]);
    (bytes[4], e_type, e_machine)
}

fn assert_all_four(built: &Built, backend: &str) {
    for target in TARGETS {
        let artifact = built
            .artifacts
            .get(target.name)
            .unwrap_or_else(|| panic!("no {} artifact: {:?}", target.name, built.messages));
        let path = artifact_path(built, target.name);
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("plugin-template-{}.so", target.name),
            "gotify-style name"
        );
        assert_eq!(artifact["backend"], backend);
        assert_eq!(artifact["triple"], target.triple);

        let (class, e_type, machine) = elf_header(&path);
        assert_eq!(
            class,
            if target.elf_class.bits() == 64 { 2 } else { 1 },
            "{}",
            target.name
        );
        assert_eq!(e_type, 3, "{} is a shared object", target.name);
        assert_eq!(machine, target.elf_machine, "{}", target.name);

        let report = check::inspect(&path).unwrap();
        assert!(
            report.root_symbol,
            "{} exports the root module",
            target.name
        );
        assert!(report.stripped, "{} is stripped by default", target.name);
        assert!(check::problems(&report, &target).is_empty());
        assert_eq!(artifact["size"], std::fs::metadata(&path).unwrap().len());
        assert_eq!(
            artifact["glibc"].as_str(),
            report.glibc.map(|g| g.to_string()).as_deref()
        );
    }
    let finished = built.messages.last().unwrap();
    assert_eq!(finished["reason"], "build-finished");
    assert_eq!(finished["success"], true);
}

#[test]
fn cargo_backend_builds_the_template_for_all_four_targets() {
    let built = cargo_built();
    assert_all_four(built, "cargo");
    // One cargo invocation built the four: each artifact names the same command.
    let command = built.artifacts["arm64"]["command"].as_str().unwrap();
    assert!(command.contains("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc"));
    assert!(
        command.contains("--target i686-unknown-linux-gnu --target armv7-unknown-linux-gnueabihf")
    );
    assert_eq!(built.artifacts["386"]["command"].as_str(), Some(command));
}

#[test]
fn zigbuild_backend_builds_all_four_targets_with_a_glibc_2_17_floor() {
    let built = zigbuild_built();
    assert_all_four(built, "zigbuild");
    for target in TARGETS {
        let artifact = &built.artifacts[target.name];
        let glibc = artifact["glibc"].as_str().expect("needs some glibc");
        let (major, minor) = glibc.split_once('.').unwrap();
        assert!(
            major == "2" && minor.parse::<u32>().unwrap() <= 17,
            "{}: glibc floor {glibc} is above 2.17",
            target.name
        );
        assert!(artifact["command"]
            .as_str()
            .unwrap()
            .contains("cargo zigbuild "));
        assert!(artifact["command"]
            .as_str()
            .unwrap()
            .contains(&format!("--target {}.2.17", target.triple)));
    }
}

/// Builds the `plugin-host` binary for `triple` (once per run) with the cross gcc as linker.
fn host_binary(target: &plugrack_build::targets::Target) -> PathBuf {
    static HOSTS: Mutex<Vec<(&'static str, PathBuf)>> = Mutex::new(Vec::new());
    let mut hosts = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = hosts.iter().find(|(t, _)| *t == target.triple) {
        return path.clone();
    }
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .args(["build", "-p", "plugrack-host", "--bin", "plugin-host"]);
    let path = if target.is_host() {
        shared_target_dir().join("debug/plugin-host")
    } else {
        cmd.args(["--target", target.triple])
            .env(target.linker_env(), target.linker);
        shared_target_dir()
            .join(target.triple)
            .join("debug/plugin-host")
    };
    let output = cmd.output().expect("run cargo");
    assert!(
        output.status.success(),
        "building plugin-host for {} failed ({SETUP})\n{}",
        target.triple,
        show(&output)
    );
    hosts.push((target.triple, path.clone()));
    path
}

/// Runs `plugin-host` for `target` (under qemu-user when foreign) on a folder holding `plugin`.
fn run_host(target: &plugrack_build::targets::Target, plugin: &Path, args: &[&str]) -> Output {
    let host = host_binary(target);
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(plugin, dir.path().join(plugin.file_name().unwrap())).unwrap();
    let mut cmd = if target.is_host() {
        Command::new(&host)
    } else {
        let qemu = which::which(target.qemu)
            .unwrap_or_else(|_| panic!("`{}` is missing: {SETUP}", target.qemu));
        let mut cmd = Command::new(qemu);
        cmd.arg("-L").arg(target.sysroot()).arg(&host);
        cmd
    };
    let mut args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    let dir_pos = args.iter().position(|a| a == "DIR").unwrap();
    args[dir_pos] = dir.path().into();
    cmd.args(args).output().expect("run plugin-host")
}

/// Calls `hello` in `target`'s plugin on a host of the same architecture; returns the answer.
fn call_hello(target: &plugrack_build::targets::Target, plugin: &Path) -> String {
    let name = format!("qemu-{}", target.name);
    let output = run_host(
        target,
        plugin,
        &[
            "call",
            "--json",
            "--plugins-dir",
            "DIR",
            "plugin-template",
            "hello",
            &format!("name={name}"),
        ],
    );
    assert!(
        output.status.success(),
        "{} plugin did not answer on {}\n{}",
        target.name,
        target.machine,
        show(&output)
    );
    let answer: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e})\n{}", show(&output)));
    let message = answer["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message.contains(&name),
        "{}: the greeting names its input: {answer}",
        target.name
    );
    // The same words on every CPU: compare with the machine-independent part.
    message.replace(&name, "NAME")
}

#[test]
fn each_target_s_plugin_loads_and_answers_on_its_own_cpu() {
    // The foreign ones run in a plugin-host built for their target, under qemu-user; amd64
    // runs natively. Both backends' outputs are loaded, and all give the native answer.
    let host = plugrack_build::targets::host().expect("a known host machine");
    let native = call_hello(&host, &artifact_path(cargo_built(), host.name));
    for target in TARGETS {
        for built in [cargo_built(), zigbuild_built()] {
            let answer = call_hello(&target, &artifact_path(built, target.name));
            assert_eq!(
                answer, native,
                "{} answers like the native build",
                target.name
            );
        }
    }
}

#[test]
fn the_arm64_plugin_is_refused_by_the_x86_64_host() {
    let host = plugrack_build::targets::host().expect("a known host machine");
    assert_eq!(host.name, "amd64", "this test expects an x86-64 machine");
    let arm64 = artifact_path(cargo_built(), "arm64");
    let output = run_host(&host, &arm64, &["list", "--plugins-dir", "DIR"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("plugin rejected"), "{}", show(&output));
    assert!(text.contains("built for aarch64"), "{}", show(&output));
    assert!(text.contains("this host is x86_64"), "{}", show(&output));
    assert!(
        text.contains("`plugin-build --target amd64`"),
        "{}",
        show(&output)
    );
}

#[test]
fn a_rebuild_prints_the_summary_table_and_the_toolchain_information() {
    // Same flags as the cargo build above for amd64, so this is a no-op rebuild.
    let _ = cargo_built();
    let host_dir = tempfile::tempdir().unwrap();
    std::fs::write(
        host_dir.path().join("rust-toolchain.toml"),
        "[toolchain]\nchannel = \"nightly\"\n",
    )
    .unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let output = plugrack_build()
        .args(["--target", "x86_64", "--backend", "cargo"])
        .arg("--manifest-path")
        .arg(template_manifest())
        .arg("--out-dir")
        .arg(out_dir.path())
        .arg("--host")
        .arg(host_dir.path())
        .current_dir(out_dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["target", "file", "size", "glibc", "time"]);
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(row[0], "amd64");
    assert_eq!(row[1], "plugin-template-amd64.so");
    assert!(row.last().unwrap().ends_with('s'), "{row:?}");
    assert!(out_dir.path().join("plugin-template-amd64.so").is_file());
    // Plain status lines (stderr is not a terminal), the backend and why, and the rustc pins
    // compared as information.
    assert!(
        stderr.contains("Backend cargo: chosen with `--backend`"),
        "{stderr}"
    );
    assert!(stderr.contains("Finished amd64"), "{stderr}");
    let pinned =
        plugrack_build::build::toolchain::find_pin(template_manifest().parent().unwrap()).unwrap();
    assert!(
        stderr.contains(&format!("pinned to rustc `{}`", pinned.channel))
            && stderr.contains("host to `nightly`"),
        "{stderr}"
    );
    assert!(!stderr.contains("error"), "{stderr}");
}
