//! `plugin-build doctor` on this machine (set up by `scripts/setup.sh`, with the build images
//! made: every backend ready, a container started) and on a bare `PATH` (nothing but the
//! toolchain: every missing piece with its install command).

use std::{
    path::PathBuf,
    process::{Command, Output},
};

use serde_json::Value;

fn doctor() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plugin-build"));
    cmd.arg("doctor")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CROSS_CONTAINER_ENGINE")
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

/// The build images (a second when the machine's image store has them; `tests/build.rs` makes
/// them first in a full run).
fn images() {
    let output = Command::new(env!("CARGO_BIN_EXE_plugin-build"))
        .args(["images", "--target", "all"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CROSS_CONTAINER_ENGINE")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", show(&output));
}

#[test]
fn doctor_reports_each_target_and_backend_of_this_machine() {
    images();
    let output = doctor()
        .args(["--message-format", "json"])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e})\n{}", show(&output)));
    assert_eq!(report["reason"], "doctor");
    let checks = report["checks"].as_array().unwrap();
    for target in plugrack_build::targets::TARGETS {
        let rust_target = checks
            .iter()
            .find(|c| {
                c["section"] == target.name && c["what"].as_str().unwrap().contains(target.triple)
            })
            .unwrap_or_else(|| panic!("no rustup target check for {}", target.name));
        assert_eq!(
            rust_target["ok"], true,
            "{}: run `scripts/setup.sh`: {rust_target}",
            target.name
        );
        if !target.is_host() {
            let qemu = checks
                .iter()
                .find(|c| {
                    c["section"] == target.name && c["what"].as_str().unwrap().contains(target.qemu)
                })
                .unwrap();
            assert_eq!(qemu["ok"], true, "run `scripts/setup.sh`: {qemu}");
        }
    }
    let backends = report["backends"].as_array().unwrap();
    let ready = |name: &str| {
        backends
            .iter()
            .find(|b| b["backend"] == name)
            .map(|b| b["ready"] == true)
            .unwrap()
    };
    assert!(ready("cargo"), "run `scripts/setup.sh`: {report}");
    assert!(ready("zigbuild"), "run `scripts/setup.sh`: {report}");
    assert!(ready("cross"), "run `scripts/setup.sh`: {report}");
    assert_eq!(report["auto"], "cross", "{report}");
    // The engine counts only after a container started.
    let started = checks
        .iter()
        .find(|c| {
            c["section"] == "cross" && c["what"].as_str().unwrap().starts_with("containers start")
        })
        .unwrap_or_else(|| panic!("no started container: {report}"));
    assert!(
        started["what"]
            .as_str()
            .unwrap()
            .contains(" run --rm --network none localhost/plugin-build:"),
        "{started}"
    );
    assert_eq!(output.status.code(), Some(0), "{}", show(&output));

    // The same for people.
    let output = doctor().output().unwrap();
    assert!(output.status.success(), "{}", show(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for heading in [
        "toolchain",
        "amd64",
        "386",
        "arm-7",
        "arm64",
        "zigbuild",
        "cross",
    ] {
        assert!(
            text.lines().any(|l| l == heading),
            "no `{heading}` section\n{text}"
        );
    }
    assert!(text.contains("`--backend auto` builds with `"), "{text}");
}

#[test]
fn doctor_on_a_bare_path_names_every_install_command() {
    let cargo = PathBuf::from(std::env::var("CARGO").expect("cargo sets CARGO for tests"));
    let output = doctor()
        .env("PATH", cargo.parent().unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "MISSING  linker `aarch64-linux-gnu-gcc` (arm64)",
        "fix: `sudo apt-get install -y gcc-aarch64-linux-gnu libc6-dev-arm64-cross`",
        "fix: `sudo apt-get install -y gcc-i686-linux-gnu libc6-dev-i386-cross`",
        "MISSING  `qemu-arm` (arm-7)",
        "fix: `sudo apt-get install -y qemu-user`",
        "fix: `pip install ziglang`",
        "fix: `pip install cargo-zigbuild`",
        "fix: `cargo install --locked cross`",
        "MISSING  no container engine: docker or podman not found on PATH",
        "fix: `sudo apt-get install -y podman runc`",
        "MISSING  `debootstrap` (makes the build images)",
        "no backend is ready for all four targets",
    ] {
        assert!(text.contains(expected), "no `{expected}`\n{text}");
    }
}
