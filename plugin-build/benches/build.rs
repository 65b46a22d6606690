//! Benchmarks of `plugin-build build`, run with
//! `cargo bench -p plugrack-build --bench build [-- noop|schedule|all]`. Under `cargo test
//! --all-targets` (no `--bench` argument) it only prints how to run it.
//!
//! - `noop`: plugin-build's overhead over the backend's own command on a no-op rebuild of the
//!   template for amd64, for the `cargo` and the `zigbuild` backends. The baseline is the exact
//!   command plugin-build runs (taken from its `--dry-run --message-format json` plan), so the
//!   difference is plugin-build's own work: reading the package, probing the machine, checking
//!   and copying the output. Runs alternate, and the medians are compared.
//! - `schedule`: wall time of `--target all --backend cargo` from an empty target directory,
//!   one cargo invocation per target (`--schedule sequential`) against one for all four
//!   (`--schedule concurrent`). Several minutes on two cores.
//!
//! Both use `<target>/plugin-build-bench` as cargo's target directory.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

const RUNS: usize = 31;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn bench_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("plugin-build-bench")
}

fn plugrack_build(target_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plugin-build"));
    cmd.env("CARGO_TARGET_DIR", target_dir)
        .arg("--manifest-path")
        .arg(workspace_root().join("plugin-template/Cargo.toml"))
        .args(args);
    cmd
}

fn run_ok(cmd: &mut Command) -> Duration {
    let started = Instant::now();
    let output = cmd.output().expect("start");
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{cmd:?} failed\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The exact command plugin-build would run, from its dry-run plan.
fn backend_command(target_dir: &Path, args: &[&str]) -> Command {
    let mut dry = plugrack_build(target_dir, args);
    dry.args(["--dry-run", "--message-format", "json"]);
    let output = dry.output().unwrap();
    let plan = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["reason"] == "build-plan")
        .expect("a plan");
    let mut cmd = Command::new(plan["program"].as_str().unwrap());
    for arg in plan["args"].as_array().unwrap() {
        cmd.arg(arg.as_str().unwrap());
    }
    for (k, v) in plan["env"].as_object().unwrap() {
        cmd.env(k, v.as_str().unwrap());
    }
    cmd.current_dir(plan["cwd"].as_str().unwrap())
        .env("CARGO_TARGET_DIR", target_dir);
    cmd
}

fn noop(backend: &str) {
    let target_dir = bench_dir().join("noop");
    let out = tempfile::tempdir().unwrap();
    let out_arg = out.path().to_str().unwrap();
    let args = [
        "--target",
        "amd64",
        "--backend",
        backend,
        "--out-dir",
        out_arg,
    ];
    // Warm up: the first build compiles; every later one is a no-op.
    run_ok(&mut plugrack_build(&target_dir, &args));
    let mut raw = backend_command(&target_dir, &args);
    run_ok(&mut raw);
    let (mut tool, mut base) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        base.push(run_ok(&mut backend_command(&target_dir, &args)));
        tool.push(run_ok(&mut plugrack_build(&target_dir, &args)));
    }
    let min = |v: &[Duration]| *v.iter().min().unwrap();
    for (what, t, b) in [
        ("median", median(tool.clone()), median(base.clone())),
        ("fastest", min(&tool), min(&base)),
    ] {
        println!(
            "no-op rebuild, {backend:8} backend, {what:7} of {RUNS}: backend alone {:>6.1} ms, \
             plugin-build {:>6.1} ms, overhead {:+5.1}% ({:+.1} ms)",
            b.as_secs_f64() * 1e3,
            t.as_secs_f64() * 1e3,
            (t.as_secs_f64() / b.as_secs_f64() - 1.0) * 100.0,
            (t.as_secs_f64() - b.as_secs_f64()) * 1e3,
        );
    }
}

fn schedule() {
    for schedule in ["sequential", "concurrent"] {
        let target_dir = bench_dir().join(format!("schedule-{schedule}"));
        let _ = std::fs::remove_dir_all(&target_dir);
        let out = tempfile::tempdir().unwrap();
        let elapsed = run_ok(&mut plugrack_build(
            &target_dir,
            &[
                "--target",
                "all",
                "--backend",
                "cargo",
                "--schedule",
                schedule,
                "--out-dir",
                out.path().to_str().unwrap(),
            ],
        ));
        println!(
            "--target all --backend cargo --schedule {schedule:10}: {:>6.1} s from an empty target directory",
            elapsed.as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&target_dir);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this binary without it,
    // and must not spend minutes here.
    if !std::env::args().any(|a| a == "--bench") {
        println!("plugin-build benchmarks: run with `cargo bench -p plugrack-build --bench build`");
        return;
    }
    // The first word that is not a flag picks the benchmark.
    let which = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "all".into());
    println!(
        "plugin-build benchmarks on {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if which == "noop" || which == "all" {
        noop("cargo");
        noop("zigbuild");
    }
    if which == "schedule" || which == "all" {
        schedule();
    }
}
