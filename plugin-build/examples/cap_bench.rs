//! Benchmark of `plugin-build cap` against the naive way of pinning: one
//! `cargo update -p NAME@FROM --precise TO` per shared crate, in the same run, on the same
//! fixture (a host lock of about 400 packages, `benches/cap/host`, and a plugin sharing more
//! than 40 crates with it at other versions, `benches/cap/plugin`).
//!
//! Run: `cargo run --release -p plugrack-build --example cap_bench [-- --runs N]`
//!
//! It needs crates.io (the sparse index). Both contenders start from a copy of the same plugin
//! with a warm index cache (an untimed cap run first). It prints both times and the ratio
//! (cap / naive; the target is 0.2 or less), and checks that cap left nothing differing.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use plugrack_build::{
    cap::{cap, CapOptions, Lock, Mode, Plan},
    process::CommandLine,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let runs: usize = std::env::args()
        .skip_while(|a| a != "--runs")
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(3);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/cap");
    let host_lock = fixture.join("host/Cargo.lock");
    let host = Lock::read(&host_lock)?;
    let plugin = Lock::read(&fixture.join("plugin/Cargo.lock"))?;
    let plan = Plan::new(&host, &plugin);
    println!(
        "host lock: {} packages (v{}); plugin lock: {} packages; shared crates to pin: {}",
        host.packages.len(),
        host.format,
        plugin.packages.len(),
        plan.pins.len()
    );
    let tmp = tempfile::tempdir()?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    // Warm the index cache for both contenders.
    let warm = copy_plugin(&fixture, tmp.path(), "warm")?;
    let outcome = cap(&options(&host_lock, &warm))?;
    if let Some(err) = outcome.failure() {
        return Err(format!("warm-up cap failed: {err}").into());
    }

    // The naive loop.
    let naive = copy_plugin(&fixture, tmp.path(), "naive")?;
    let manifest = naive.join("Cargo.toml");
    let mut refused = 0;
    let start = Instant::now();
    for pin in &plan.pins {
        let run = CommandLine::new(cargo.clone())
            .args(["update", "--manifest-path"])
            .arg(manifest.to_string_lossy())
            .args(["-p", &format!("{}@{}", pin.name, pin.from)])
            .args(["--precise", &pin.to.to_string()])
            .output();
        if run.is_err() {
            refused += 1;
        }
    }
    let naive_time = start.elapsed();
    let naive_left = Plan::new(&host, &Lock::read(&naive.join("Cargo.lock"))?)
        .pins
        .len();

    // cap, `runs` times on fresh copies; the median counts.
    let mut times = Vec::new();
    let mut left = 0;
    let mut cargo_moved = 0;
    for i in 0..runs.max(1) {
        let dir = copy_plugin(&fixture, tmp.path(), &format!("cap-{i}"))?;
        let start = Instant::now();
        let outcome = cap(&options(&host_lock, &dir))?;
        times.push(start.elapsed());
        if let Some(err) = outcome.failure() {
            return Err(format!("cap failed: {err}").into());
        }
        left = Plan::new(&host, &Lock::read(&dir.join("Cargo.lock"))?)
            .pins
            .len();
        cargo_moved = outcome.applied.map_or(0, |a| a.moved.len());
    }
    times.sort();
    let cap_time = times[times.len() / 2];
    println!(
        "naive loop: {:>8.2?}  ({} cargo runs, {} refused, {} crates still differ after one pass)",
        naive_time,
        plan.pins.len(),
        refused,
        naive_left
    );
    println!(
        "cap:        {:>8.2?}  (median of {}: {}; {} crates still differ; cargo moved {} others)",
        cap_time,
        times.len(),
        times
            .iter()
            .map(|t| format!("{t:.2?}"))
            .collect::<Vec<_>>()
            .join(", "),
        left,
        cargo_moved
    );
    println!(
        "ratio cap / naive: {:.3} (target <= 0.2)",
        ratio(cap_time, naive_time)
    );
    if left > 0 {
        return Err(format!("cap left {left} shared crates differing").into());
    }
    Ok(())
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

fn options(host_lock: &Path, plugin: &Path) -> CapOptions {
    CapOptions {
        from: host_lock.to_owned(),
        manifest_path: Some(plugin.join("Cargo.toml")),
        mode: Mode::Apply,
        offline: false,
    }
}

fn copy_plugin(fixture: &Path, tmp: &Path, name: &str) -> std::io::Result<PathBuf> {
    let dir = tmp.join(name);
    std::fs::create_dir_all(dir.join("src"))?;
    for file in ["Cargo.toml", "Cargo.lock", "src/lib.rs"] {
        std::fs::copy(fixture.join("plugin").join(file), dir.join(file))?;
    }
    Ok(dir)
}
