//! The workspace's example plugins, built once per test process with one real cargo
//! invocation into `target/e2e` (the pinned stable toolchain).
//!
//! This file uses only std, so that other crates' tests share it without depending on this
//! crate (`#[path = "../../tests/src/examples.rs"] mod examples;` in plugin-server's tests):
//! the same command into the same folder builds the plugins once for every suite.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::Instant,
};

/// The example plugins' shared libraries.
#[derive(Debug)]
pub struct ExamplePlugins {
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
}

/// The repository's root folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate sits at the top of the workspace")
        .to_owned()
}

/// Builds the example plugins once per process and returns where they are.
pub fn example_plugins() -> &'static ExamplePlugins {
    static EXAMPLES: OnceLock<ExamplePlugins> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let root = workspace_root();
        let target = root.join("target").join("e2e");
        let mut cmd = cargo(None);
        cmd.current_dir(&root)
            .args(["build", "--target-dir"])
            .arg(&target);
        for package in [
            "showcase",
            "panicky",
            "crashy",
            "plugin-template",
            "bench-plugin",
            "not-a-plugin",
        ] {
            cmd.args(["-p", package]);
        }
        cmd.arg("--lib");
        run(cmd, "the example plugins");
        let debug = target.join("debug");
        ExamplePlugins {
            showcase: debug.join("libshowcase.so"),
            panicky: debug.join("libpanicky.so"),
            crashy: debug.join("libcrashy.so"),
            template: debug.join("libplugin_template.so"),
            bench: debug.join("libbench_plugin.so"),
            not_a_plugin: debug.join("libnot_a_plugin.so"),
        }
    })
}

pub(crate) fn cargo(toolchain: Option<&str>) -> Command {
    let mut cmd = Command::new("cargo");
    if let Some(toolchain) = toolchain {
        cmd.arg(format!("+{toolchain}"));
    }
    // The outer `cargo test` exports variables that would pin the inner builds to its own
    // toolchain and flags; the inner builds choose their own.
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "RUSTC_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

pub(crate) fn run(mut cmd: Command, what: &str) {
    let started = Instant::now();
    let shown = format!("{cmd:?}");
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo for {what}: {e}\n  command: {shown}"));
    if !output.status.success() {
        panic!(
            "building {what} failed ({})\n  command: {shown}\n  hint: run `scripts/setup.sh` to install the toolchains, targets and linkers\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    eprintln!(
        "[plugin-tests] built {what} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
