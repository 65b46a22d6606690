//! The cheap side of `plugin-build build`: which command lines are accepted, the exact command
//! and environment each backend would run (`--dry-run`), and the errors for what is missing (a
//! rustup target, a cross linker, zig, a container engine), each naming the command that
//! installs it. Nothing here compiles a plugin; the real builds (the `cross` backend's too, and
//! its refusals that need the build images) are in `tests/build.rs`.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use clap::Parser;
use plugrack_build::Cli;
use serde_json::Value;

fn plugrack_build() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plugin-build"));
    for t in plugrack_build::targets::TARGETS {
        cmd.env_remove(t.linker_env());
    }
    cmd.env_remove("CROSS_CONTAINER_ENGINE")
        .env_remove("CROSS_CONFIG")
        .env_remove("CARGO_ZIGBUILD_ZIG_PATH");
    cmd
}

fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// A minimal plugin package (no dependencies, so `cargo metadata` is instant), detached from
/// any workspace, with `extra` appended to its Cargo.toml.
fn fixture(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        format!(
            "[package]\nname = \"fixture-plugin\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
             [lib]\ncrate-type = [\"cdylib\"]\npath = \"lib.rs\"\n\n[workspace]\n{extra}"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("lib.rs"), "").unwrap();
    dir
}

/// The whole error the tool printed, as a reviewed snapshot (`snapshots/build_cli__NAME.snap`),
/// with the fixture's temp folder shown as `[fixture]`.
fn assert_stderr_snapshot(name: &str, output: &Output, fixture: &Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut settings = insta::Settings::clone_current();
    for dir in [canonical_or_same(fixture), fixture.to_owned()] {
        settings.add_filter(&literal(&dir.display().to_string()), "[fixture]");
    }
    settings.bind(|| insta::assert_snapshot!(name, stderr));
}

fn canonical_or_same(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_owned())
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

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap()
}

/// A `PATH` with only the toolchain's own folder (cargo, rustc): no cross gcc, no zig, no
/// python, no docker.
fn bare_path() -> PathBuf {
    let cargo = PathBuf::from(std::env::var("CARGO").expect("cargo sets CARGO for tests"));
    cargo.parent().unwrap().to_owned()
}

#[test]
fn command_lines_accepted_and_refused() {
    let accepted: &[&[&str]] = &[
        &["plugin-build", "--target", "arm64"],
        &["plugin-build", "--target", "arm64,arm-7", "--target", "386"],
        &[
            "plugin-build",
            "build",
            "--target",
            "all",
            "--backend",
            "zigbuild",
            "--glibc",
            "2.17",
        ],
        &[
            "plugin-build",
            "--backend",
            "cross",
            "--manifest-path",
            "x/Cargo.toml",
        ],
        &["plugin-build", "--release", "--message-format", "json"],
        &[
            "plugin-build",
            "--debug",
            "--no-strip",
            "--schedule",
            "concurrent",
        ],
        &["plugin-build", "doctor", "--message-format", "json"],
        &["plugin-build", "images"],
        &[
            "plugin-build",
            "images",
            "--target",
            "arm64,arm-7",
            "--engine",
            "podman",
            "--rebuild",
            "--suite",
            "bullseye",
        ],
        &["plugin-build", "images", "--engine", "docker", "--dry-run"],
    ];
    for line in accepted {
        if let Err(e) = Cli::try_parse_from(*line) {
            panic!("{line:?} refused: {e}");
        }
    }
    let refused: &[&[&str]] = &[
        &["plugin-build", "--backend", "docker"],
        &["plugin-build", "--release", "--debug"],
        &["plugin-build", "--message-format", "xml"],
        &["plugin-build", "--schedule", "parallel"],
        &["plugin-build", "--target"],
        &["plugin-build", "images", "--engine", "lxc"],
        &["plugin-build", "images", "--backend", "cargo"],
    ];
    for line in refused {
        assert!(Cli::try_parse_from(*line).is_err(), "{line:?} accepted");
    }
    let cli = Cli::try_parse_from(["plugin-build", "--target", "arm64,arm-7", "--target", "386"])
        .unwrap();
    assert!(cli.command.is_none(), "build is the default command");
    assert_eq!(cli.build.target, ["arm64", "arm-7", "386"]);
}

#[test]
fn the_cross_backend_runs_in_the_workspace_root_with_cross_toml_and_the_engine() {
    let dir = fixture("");
    std::fs::write(
        dir.path().join("Cross.toml"),
        "[target.aarch64-unknown-linux-gnu]\nimage = \"example/aarch64:1\"\n",
    )
    .unwrap();
    let manifest = canonical(&dir.path().join("Cargo.toml"));
    let output = plugrack_build()
        .args([
            "--backend",
            "cross",
            "--target",
            "arm64,arm-7",
            "--schedule",
            "concurrent",
        ])
        .args(["--dry-run", "--message-format", "json", "--manifest-path"])
        .arg(&manifest)
        .env("CROSS_CONTAINER_ENGINE", "podman")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let lines = json_lines(&output);
    let plans: Vec<&Value> = lines
        .iter()
        .filter(|l| l["reason"] == "build-plan")
        .collect();
    // cross takes one target per run (each in its own image), in the table's order.
    assert_eq!(plans.len(), 2, "{lines:?}");
    let toolchain = {
        let out = Command::new("rustc")
            .arg("-V")
            .current_dir(dir.path())
            .output()
            .unwrap();
        plugrack_build::images::toolchain_version(&String::from_utf8_lossy(&out.stdout)).unwrap()
    };
    // Relative to the workspace root cross runs in (inside the container it is `/project`).
    let manifest_arg = "Cargo.toml";
    let cross_toml = canonical(&dir.path().join("Cross.toml"));
    for (plan, triple) in plans
        .iter()
        .zip(["armv7-unknown-linux-gnueabihf", "aarch64-unknown-linux-gnu"])
    {
        assert_eq!(plan["program"], "cross");
        let args: Vec<&str> = plan["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "build",
                "--manifest-path",
                manifest_arg,
                "--lib",
                "--release",
                "--target",
                triple,
                "--message-format",
                "json-render-diagnostics",
                "--config",
                "profile.release.package.\"fixture-plugin\".strip=\"symbols\"",
            ]
        );
        // Our image for arm-7; the user's Cross.toml names arm64's, and it is kept.
        let env: BTreeMap<String, String> = serde_json::from_value(plan["env"].clone()).unwrap();
        assert_eq!(
            env,
            BTreeMap::from([
                (
                    "CROSS_CONFIG".to_owned(),
                    cross_toml.to_string_lossy().into_owned()
                ),
                ("CROSS_CONTAINER_ENGINE".to_owned(), "podman".to_owned()),
                (
                    "CROSS_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_IMAGE".to_owned(),
                    format!("localhost/plugin-build:{toolchain}-linux-arm-7")
                ),
            ])
        );
        assert_eq!(
            plan["cwd"].as_str().map(Path::new),
            Some(canonical(dir.path()).as_path())
        );
    }
    let infos: Vec<&str> = lines
        .iter()
        .filter(|l| l["reason"] == "info")
        .filter_map(|l| l["message"].as_str())
        .collect();
    assert!(
        infos
            .iter()
            .any(|m| m.starts_with("arm64: image `example/aarch64:1` from `")
                && m.contains("Cross.toml`")),
        "{infos:?}"
    );
    // The dry run says what a real run would lack instead of refusing: here at least the
    // arm-7 image for the stable toolchain of the fixture.
    let selected = lines
        .iter()
        .find(|l| l["reason"] == "backend-selected")
        .unwrap();
    assert_eq!(selected["backend"], "cross");
    if which::which("podman").is_err() {
        assert!(
            selected["missing"].to_string().contains("container engine"),
            "{selected}"
        );
    }
}

#[test]
fn the_cross_backend_honours_workspace_metadata_cross() {
    let dir = fixture(
        "[workspace.metadata.cross.target.aarch64-unknown-linux-gnu]\nimage = \"example/aarch64:1\"\n",
    );
    let output = plugrack_build()
        .args([
            "--backend",
            "cross",
            "--target",
            "arm64",
            "--dry-run",
            "--manifest-path",
        ])
        .arg(dir.path().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // cross reads the metadata itself: no CROSS_CONFIG, and it runs in the workspace root;
    // the image the metadata names is kept (no CROSS_TARGET_..._IMAGE of ours).
    assert!(
        stdout.contains("cross build --manifest-path Cargo.toml "),
        "{stdout}"
    );
    assert!(!stdout.contains("CROSS_CONFIG"), "{stdout}");
    assert!(!stdout.contains("_IMAGE="), "{stdout}");
    assert!(
        stderr.contains("arm64: image `example/aarch64:1` from `[workspace.metadata.cross]`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cross configuration: `[*.metadata.cross]`"),
        "{stderr}"
    );
}

#[test]
fn the_cross_backend_without_a_container_engine_names_the_fix() {
    // A PATH with cross and the toolchain, but neither podman nor docker.
    let cross = which::which("cross").expect("cross: run `scripts/setup.sh`");
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&cross, bin.path().join("cross")).unwrap();
    let path = std::env::join_paths([bin.path().to_owned(), bare_path()]).unwrap();
    let dir = fixture("");
    let output = plugrack_build()
        .args(["--backend", "cross", "--target", "arm64", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml"))
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: cannot build with the `cross` backend: 1 piece is missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("missing: no container engine: docker or podman not found on PATH"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fix: `sudo apt-get install -y podman runc`"),
        "{stderr}"
    );
}

#[test]
fn a_missing_rustup_target_is_named_with_its_install_command() {
    // The nightly toolchain on these machines has only the host's standard library.
    let nightly = Command::new("rustup")
        .args(["target", "list", "--installed", "--toolchain", "nightly"])
        .output()
        .expect("rustup");
    assert!(
        nightly.status.success(),
        "no nightly toolchain: run `scripts/setup.sh` (it says how to get one)"
    );
    assert!(
        !String::from_utf8_lossy(&nightly.stdout).contains("aarch64-unknown-linux-gnu"),
        "this test needs a toolchain without the aarch64 target; nightly has it here"
    );
    let dir = fixture("");
    let output = plugrack_build()
        .args(["--backend", "cargo", "--target", "arm64", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml"))
        .env("RUSTUP_TOOLCHAIN", "nightly")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: cannot build with the `cargo` backend: 1 piece is missing"),
        "{stderr}"
    );
    assert!(
        stderr.contains("missing: rustup target `aarch64-unknown-linux-gnu` (arm64)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("fix: `rustup target add aarch64-unknown-linux-gnu --toolchain nightly"),
        "{stderr}"
    );
}

#[test]
fn missing_linkers_are_listed_in_one_error() {
    let dir = fixture("");
    let output = plugrack_build()
        .args([
            "--backend",
            "cargo",
            "--target",
            "arm64,arm-7",
            "--manifest-path",
        ])
        .arg(dir.path().join("Cargo.toml"))
        .env("PATH", bare_path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert_stderr_snapshot("missing_linkers", &output, dir.path());
}

#[test]
fn missing_zig_and_cargo_zigbuild_are_listed_in_one_error() {
    let dir = fixture("");
    let output = plugrack_build()
        .args([
            "--backend",
            "zigbuild",
            "--target",
            "arm64",
            "--manifest-path",
        ])
        .arg(dir.path().join("Cargo.toml"))
        .env("PATH", bare_path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert_stderr_snapshot("missing_zig_and_cargo_zigbuild", &output, dir.path());
}

#[test]
fn auto_with_nothing_installed_lists_every_backend_s_missing_pieces() {
    let dir = fixture("");
    let output = plugrack_build()
        .args(["--target", "arm64", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml"))
        .env("PATH", bare_path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert_stderr_snapshot("auto_with_nothing_installed", &output, dir.path());
}

#[test]
fn auto_says_which_backend_it_took_and_why() {
    let dir = fixture("");
    let output = plugrack_build()
        .args([
            "--target",
            "all",
            "--schedule",
            "sequential",
            "--dry-run",
            "--message-format",
            "json",
            "--manifest-path",
        ])
        .arg(dir.path().join("Cargo.toml"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "no backend ready: run `scripts/setup.sh`\n{}",
        show(&output)
    );
    let lines = json_lines(&output);
    let selected = lines
        .iter()
        .find(|l| l["reason"] == "backend-selected")
        .unwrap();
    let why = selected["why"].as_str().unwrap();
    match selected["backend"].as_str().unwrap() {
        "cross" => assert!(
            why.contains("starts containers") && why.contains("build images"),
            "{why}"
        ),
        other => assert!(
            why.contains("`cross` lacks") && (other != "cargo" || why.contains("`zigbuild` lacks")),
            "{why}"
        ),
    }
    assert_eq!(
        lines.iter().filter(|l| l["reason"] == "build-plan").count(),
        4
    );
}

#[test]
fn the_cargo_backend_sets_each_foreign_linker_and_zigbuild_the_glibc_suffix() {
    let dir = fixture("");
    let manifest = dir.path().join("Cargo.toml");
    let output = plugrack_build()
        .args([
            "--backend",
            "cargo",
            "--target",
            "all",
            "--schedule",
            "concurrent",
        ])
        .args(["--dry-run", "--message-format", "json", "--manifest-path"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let plan = json_lines(&output)
        .into_iter()
        .find(|l| l["reason"] == "build-plan")
        .unwrap();
    let env: BTreeMap<String, String> = serde_json::from_value(plan["env"].clone()).unwrap();
    assert_eq!(
        env,
        BTreeMap::from([
            (
                "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER".into(),
                "aarch64-linux-gnu-gcc".into()
            ),
            (
                "CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER".into(),
                "arm-linux-gnueabihf-gcc".into()
            ),
            (
                "CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_LINKER".into(),
                "i686-linux-gnu-gcc".into()
            ),
        ])
    );
    assert_eq!(plan["program"], "cargo");
    assert_eq!(plan["args"][0], "build");

    let output = plugrack_build()
        .args([
            "--backend",
            "zigbuild",
            "--glibc",
            "2.17",
            "--target",
            "arm64",
            "--debug",
        ])
        .args(["--no-strip", "--dry-run", "--manifest-path"])
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        stdout.trim(),
        format!(
            "cargo zigbuild --manifest-path {} --lib --target aarch64-unknown-linux-gnu.2.17 \
             --message-format json-render-diagnostics",
            canonical(&manifest).display()
        )
    );
}

#[test]
fn refusals_before_any_build() {
    let dir = fixture("");
    let manifest = dir.path().join("Cargo.toml");
    let cases: &[(&str, &[&str])] = &[
        ("unknown_target", &["--target", "sparc"]),
        (
            "bad_glibc_version",
            &["--glibc", "2.x", "--backend", "zigbuild"],
        ),
        (
            "glibc_without_zigbuild",
            &["--glibc", "2.17", "--backend", "cargo"],
        ),
    ];
    for (name, args) in cases {
        let output = plugrack_build()
            .args(*args)
            .arg("--manifest-path")
            .arg(&manifest)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}\n{}", show(&output));
        assert_stderr_snapshot(name, &output, dir.path());
    }

    let not_cdylib = tempfile::tempdir().unwrap();
    std::fs::write(
        not_cdylib.path().join("Cargo.toml"),
        "[package]\nname = \"plain\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[lib]\npath = \"lib.rs\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(not_cdylib.path().join("lib.rs"), "").unwrap();
    let output = plugrack_build()
        .args(["--dry-run", "--manifest-path"])
        .arg(not_cdylib.path().join("Cargo.toml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert_stderr_snapshot("not_a_cdylib", &output, not_cdylib.path());
}

#[test]
fn images_refusals_name_their_fix() {
    let output = plugrack_build()
        .args(["images", "--target", "sparc"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("error: unknown target `sparc`"),
        "{}",
        show(&output)
    );

    // A rebuild with podman but without debootstrap stops before touching anything.
    let podman = which::which("podman").expect("podman: run `scripts/setup.sh`");
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&podman, bin.path().join("podman")).unwrap();
    let path = std::env::join_paths([bin.path().to_owned(), bare_path()]).unwrap();
    let output = plugrack_build()
        .args(["images", "--target", "arm64", "--rebuild"])
        .env("PATH", path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "error: `debootstrap` is not installed\n  fix: `sudo apt-get install -y debootstrap`"
        ),
        "{stderr}"
    );

    // No engine at all.
    let output = plugrack_build()
        .args(["images", "--target", "arm64"])
        .env("PATH", bare_path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    assert_stderr_snapshot(
        "images_without_an_engine",
        &output,
        Path::new("/nonexistent"),
    );
}

#[test]
fn images_dry_run_prints_each_step_s_command() {
    let output = plugrack_build()
        .args([
            "images",
            "--target",
            "arm-7",
            "--rebuild",
            "--dry-run",
            "--engine",
            "podman",
        ])
        .args(["--mirror", "http://mirror.invalid/debian"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with("# localhost/plugin-build:")
            && lines[0].ends_with("-linux-arm-7 (arm-7)"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with(
            "debootstrap --variant=minbase --arch=amd64 \
         --include=gcc,libc6-dev,gcc-arm-linux-gnueabihf,libc6-dev-armhf-cross bookworm "
        ),
        "{stdout}"
    );
    assert!(
        lines[1].ends_with(" http://mirror.invalid/debian"),
        "{stdout}"
    );
    assert!(lines[2].starts_with("tar --numeric-owner -C "), "{stdout}");
    assert!(
        lines[3].starts_with("podman import --change 'ENV PATH="),
        "{stdout}"
    );
    assert!(
        lines[3].contains("--change 'ENV CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc'"),
        "{stdout}"
    );
    assert!(
        lines[3].contains("--change 'LABEL org.plugrack.build.suite=\"bookworm\"'"),
        "{stdout}"
    );
    assert!(
        lines[4].starts_with("podman run --rm --network none localhost/plugin-build:")
            && lines[4].ends_with("arm-linux-gnueabihf-gcc --version'"),
        "{stdout}"
    );
}
