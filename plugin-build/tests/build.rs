//! The build-heavy tests, all in this one test binary so each artifact is built once per run:
//! the real `plugin-build` binary builds the real `plugin-template` for all four targets with
//! the `cargo` and the `zigbuild` backends, into one shared target directory
//! (`<target>/plugin-build-tests`), and with the `cross` backend in the build images that
//! `plugin-build images` makes (once per run; a machine that keeps its image store reuses
//! them); the outputs are checked as ELF files; a `plugin-host` binary built for each foreign
//! target loads its plugin under qemu-user and calls it; the x86-64 host refuses the arm64
//! plugin. The engine's refusals (a missing image, an engine that cannot start containers) are
//! here too, because they need the images.
//!
//! Needs what `scripts/setup.sh` installs (rustup targets, Debian's cross gcc and libc,
//! qemu-user, cargo-zigbuild and ziglang, podman with its settings, debootstrap, cross). A
//! missing piece fails the test with its name.

mod support;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{Mutex, OnceLock},
};
use support::{fixture_root, shared_target_dir, workspace_root};

use plugrack_build::{build::check, targets::TARGETS};
use serde_json::Value;

const SETUP: &str = "run `scripts/setup.sh` to install it";

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
    build_all_of(backend, &template_manifest(), &shared_target_dir(), extra)
}

/// `plugin-build --target all --backend <backend>` of the plugin at `manifest`, with cargo's
/// target directory `target_dir`.
fn build_all_of(backend: &str, manifest: &Path, target_dir: &Path, extra: &[&str]) -> Built {
    let out_dir = fixture_root(&format!("out-{backend}"));
    let _ = std::fs::remove_dir_all(&out_dir);
    let output = plugrack_build()
        .env("CARGO_TARGET_DIR", target_dir)
        .args([
            "--target",
            "all",
            "--backend",
            backend,
            "--message-format",
            "json",
        ])
        .arg("--manifest-path")
        .arg(manifest)
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
    assert_all_four_of(built, backend, "plugin-template")
}

fn assert_all_four_of(built: &Built, backend: &str, package: &str) {
    for target in TARGETS {
        let artifact = built
            .artifacts
            .get(target.name)
            .unwrap_or_else(|| panic!("no {} artifact: {:?}", target.name, built.messages));
        let path = artifact_path(built, target.name);
        assert_eq!(
            path.file_name().unwrap().to_str().unwrap(),
            format!("{package}-{}.so", target.name),
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
    call_hello_of(target, plugin, "plugin-template")
}

/// Calls `hello` in the plugin `id`.
fn call_hello_of(target: &plugrack_build::targets::Target, plugin: &Path, id: &str) -> String {
    let name = format!("qemu-{}", target.name);
    let output = run_host(
        target,
        plugin,
        &[
            "call",
            "--json",
            "--plugins-dir",
            "DIR",
            id,
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

// ---- the `cross` backend, in the build images ----------------------------------------------

/// The JSON lines of a `plugin-build images` run.
fn images_run(args: &[&str]) -> (Output, Vec<Value>) {
    images_run_with(args, &[])
}

/// `images_run` with extra environment variables.
fn images_run_with(args: &[&str], env: &[(&str, &Path)]) -> (Output, Vec<Value>) {
    let output = plugrack_build()
        .args(["images", "--message-format", "json"])
        .args(args)
        .envs(env.iter().copied())
        .current_dir(workspace_root())
        .output()
        .expect("run plugin-build images");
    let lines = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    (output, lines)
}

/// The four build images, made once per run (each test that needs them waits here). On a
/// machine that keeps its image store they are fresh and this takes a second; on a fresh one it
/// runs debootstrap four times. The time is printed for the CI log.
fn images_ready() -> &'static Vec<Value> {
    static IMAGES: OnceLock<Vec<Value>> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let started = std::time::Instant::now();
        let (output, lines) = images_run(&["--target", "all"]);
        assert!(
            output.status.success(),
            "plugin-build images failed ({SETUP})\n{}",
            show(&output)
        );
        eprintln!(
            "plugin-build images --target all: {:.1}s ({})",
            started.elapsed().as_secs_f64(),
            lines
                .iter()
                .map(|l| format!(
                    "{} {} {:.0}s",
                    l["target"],
                    l["status"],
                    l["seconds"].as_f64().unwrap_or(0.0)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert_eq!(lines.len(), 4, "{lines:?}");
        lines
    })
}

/// A plugin made by `plugin-build new` outside the workspace, whose plugrack-sdk is a path
/// dependency into this checkout: outside the plugin's folder, so cross must mount it.
fn cross_project() -> PathBuf {
    let parent = fixture_root("cross-plugin");
    let project = parent.join("crossed");
    let _ = std::fs::remove_dir_all(&project);
    std::fs::create_dir_all(&parent).unwrap();
    let output = plugrack_build()
        .args(["new", "crossed", "--sdk-path"])
        .arg(workspace_root())
        .current_dir(&parent)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    project.join("Cargo.toml")
}

/// The `new` plugin built with the `cross` backend for all four targets, in its own target
/// directory (the container's paths differ from the machine's, so sharing the other backends'
/// directory would rebuild both every time).
fn cross_built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        images_ready();
        let started = std::time::Instant::now();
        let built = build_all_of(
            "cross",
            &cross_project(),
            &shared_target_dir().join("cross"),
            &[],
        );
        eprintln!(
            "plugin-build --backend cross --target all: {:.1}s ({})",
            started.elapsed().as_secs_f64(),
            TARGETS
                .iter()
                .map(|t| format!(
                    "{} {:.0}s",
                    t.name,
                    built.artifacts[t.name]["seconds"].as_f64().unwrap_or(0.0)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        built
    })
}

fn toolchain() -> String {
    let output = Command::new("rustc")
        .arg("-V")
        .current_dir(workspace_root())
        .output()
        .unwrap();
    plugrack_build::images::toolchain_version(&String::from_utf8_lossy(&output.stdout)).unwrap()
}

#[test]
fn cross_backend_builds_all_four_targets_in_the_build_images() {
    let built = cross_built();
    assert_all_four_of(built, "cross", "crossed");
    let toolchain = toolchain();
    for target in TARGETS {
        let artifact = &built.artifacts[target.name];
        let command = artifact["command"].as_str().unwrap();
        // One cross run per target, in that target's image, with the engine that was found,
        // and the checkout the SDK lives in mounted at its own path.
        assert!(
            command.contains(&format!(
                "CROSS_TARGET_{}_IMAGE=localhost/plugin-build:{toolchain}-linux-{}",
                target.triple.to_uppercase().replace('-', "_"),
                target.name
            )),
            "{command}"
        );
        assert!(command.contains("CROSS_CONTAINER_ENGINE="), "{command}");
        let root = workspace_root().canonicalize().unwrap();
        assert!(
            command.contains(&format!("-v {}:{}:ro", root.display(), root.display())),
            "{command}"
        );
        assert!(
            command.contains("cross build --manifest-path "),
            "{command}"
        );
        assert!(
            command.contains(&format!("--target {} ", target.triple)),
            "{command}"
        );
        assert_eq!(command.matches("--target ").count(), 1, "{command}");
        // The images are Debian 12: the plugins need at most its glibc 2.36.
        let glibc = artifact["glibc"].as_str().expect("a glibc floor");
        let minor: u32 = glibc.strip_prefix("2.").unwrap().parse().unwrap();
        assert!(minor <= 36, "{}: glibc {glibc}", target.name);
    }
    let info: Vec<&str> = built
        .messages
        .iter()
        .filter(|m| m["reason"] == "info")
        .filter_map(|m| m["message"].as_str())
        .collect();
    assert!(
        info.iter()
            .any(|m| m.contains("mounting `") && m.contains("path dependencies outside")),
        "{info:?}"
    );
}

#[test]
fn cross_builds_load_and_answer_under_qemu() {
    let host = plugrack_build::targets::host().expect("a known host machine");
    let native = call_hello(&host, &artifact_path(cargo_built(), host.name));
    for target in TARGETS {
        let answer = call_hello_of(
            &target,
            &artifact_path(cross_built(), target.name),
            "crossed",
        );
        assert_eq!(
            answer, native,
            "{} (cross) answers like the native build",
            target.name
        );
    }
}

#[test]
fn an_image_whose_inputs_have_not_changed_is_not_rebuilt() {
    let first = images_ready();
    let arm64 = &first.iter().find(|l| l["target"] == "arm64").unwrap();
    let image = arm64["image"].as_str().unwrap();
    let id = |image: &str| {
        let out = Command::new("podman")
            .args(["image", "inspect", "--format", "{{.Id}}", image])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let before = id(image);
    let started = std::time::Instant::now();
    let (output, lines) = images_run(&["--target", "arm64"]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["status"], "fresh", "{lines:?}");
    assert_eq!(lines[0]["image"], image);
    assert_eq!(id(image), before, "the image was not replaced");
    let labels = &lines[0]["labels"];
    assert_eq!(labels["org.plugrack.build.suite"], "bookworm");
    assert_eq!(labels["org.plugrack.build.toolchain"], toolchain());
    assert_eq!(
        labels["org.plugrack.build.packages"],
        "gcc libc6-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
    );
    eprintln!(
        "fresh check of one image: {:.2}s",
        started.elapsed().as_secs_f64()
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is fresh (inputs unchanged)"), "{stderr}");

    // A changed input is seen (here shown with --dry-run, which builds nothing).
    let (output, lines) = images_run(&["--target", "arm64", "--suite", "bullseye", "--dry-run"]);
    assert!(output.status.success(), "{}", show(&output));
    assert_eq!(lines[0]["status"], "planned");
    assert_eq!(lines[0]["changes"][0], "suite: `bookworm` -> `bullseye`");
    let commands = lines[0]["commands"].as_array().unwrap();
    assert!(
        commands[0].as_str().unwrap().starts_with(
            "debootstrap --variant=minbase --arch=amd64 \
         --include=gcc,libc6-dev,gcc-aarch64-linux-gnu,libc6-dev-arm64-cross bullseye "
        ),
        "{commands:?}"
    );
    assert_eq!(id(image), before);
}

/// A `containers.conf` that asks for resource limits these machines cannot grant, so podman
/// answers but cannot start a container (what a fresh podman does here without the settings
/// `scripts/setup.sh` writes).
fn unstartable_conf() -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(
        &mut file,
        b"[containers]\ndefault_ulimits = [\"nofile=1048576:1048576\"]\n[engine]\nruntime = \"runc\"\n",
    )
    .unwrap();
    file
}

#[test]
fn an_engine_that_cannot_start_containers_is_named_with_its_fix() {
    images_ready();
    let conf = unstartable_conf();
    // doctor: the engine answers, but is not usable.
    let output = plugrack_build()
        .args(["doctor"])
        .env("CONTAINERS_CONF", conf.path())
        .env("CROSS_CONTAINER_ENGINE", "podman")
        .current_dir(workspace_root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("MISSING  container engine `podman` cannot start containers"),
        "{}",
        show(&output)
    );
    assert!(stdout.contains("rlimit"), "{stdout}");
    assert!(
        stdout.contains("default_ulimits = [\"nofile=8192:8192\", \"nproc=8192:8192\"]"),
        "{stdout}"
    );
    assert!(stdout.contains("not ready cross"), "{stdout}");

    // build: cross's container fails; the error says why and how to fix it.
    let output = plugrack_build()
        .args(["--backend", "cross", "--target", "arm64", "--manifest-path"])
        .arg(template_manifest())
        .env("CONTAINERS_CONF", conf.path())
        .env("CROSS_CONTAINER_ENGINE", "podman")
        .env("CARGO_TARGET_DIR", fixture_root("cross-refused"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: cannot build with the `cross` backend: container engine `podman` cannot start containers"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fix: containers cannot raise their resource limits here"),
        "{stderr}"
    );

    // images: checks the engine with an image that is there before any debootstrap.
    let (output, _) = images_run_with(
        &["--target", "arm64", "--rebuild"],
        &[("CONTAINERS_CONF", conf.path())],
    );
    let text = show(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("cannot start containers"), "{text}");
    assert!(
        !text.contains("Bootstrapping"),
        "it stopped before debootstrap: {text}"
    );
}

#[test]
fn a_missing_build_image_is_named_with_the_command_that_makes_it() {
    // The images are named after the toolchain; the nightly one has none.
    images_ready();
    let output = plugrack_build()
        .args([
            "--backend",
            "cross",
            "--target",
            "arm64,arm-7",
            "--manifest-path",
        ])
        .arg(template_manifest())
        .env("RUSTUP_TOOLCHAIN", "nightly")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "error: cannot build with the `cross` backend: no build image `localhost/plugin-build:"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("-nightly-linux-arm-7`, `localhost/plugin-build:"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fix: `plugin-build images --target arm-7,arm64`"),
        "{stderr}"
    );
}
