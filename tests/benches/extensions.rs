//! What the extension layout check costs at load, and what the cache saves, in one run.
//!
//! The text pipeline's `tp-title-case` (a `Formatter` and a `Linter`) is loaded in three ways,
//! samples interleaved:
//!
//! 1. checked: a fresh manager without a cache folder (abi_stable's check for each extension);
//! 2. cached in memory: the same content loaded again by the same manager (a reload of an
//!    unchanged file, or the same file under another name);
//! 3. cached in the file: a fresh manager whose cache folder already holds the results (a
//!    restart).
//!
//! Each sample loads a fresh private copy (a new library for the loader), so every case pays
//! the same copy, `dlopen` and `on_load`; the difference is the layout checks. The check's own
//! time is also read from the reports (`layout_check`).
//! Run: `cargo bench -p plugin-tests --bench extensions`.

use std::{fs, path::Path, time::Duration};

use plugrack_host::{HostConfig, LayoutCheck, PluginManager, PluginReport, PluginStatus};
use text_pipeline_api::{FormatterExt, LinterExt};

const SAMPLES: usize = if cfg!(debug_assertions) { 3 } else { 41 };

fn config() -> HostConfig {
    HostConfig::new("1.1.0".parse().unwrap())
        .extension_point::<FormatterExt>()
        .extension_point::<LinterExt>()
}

fn load_one(manager: &PluginManager, library: &Path, name: &str) -> PluginReport {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(name);
    fs::copy(library, &file).unwrap();
    let report = manager.load_file(&file);
    assert_eq!(report.status, PluginStatus::Active, "{:?}", report.error());
    report
}

fn check_micros(report: &PluginReport) -> u64 {
    let mut total = 0;
    for e in &report.extensions {
        match e.layout_check {
            LayoutCheck::Checked { micros } => total += micros,
            LayoutCheck::Cached => {}
            LayoutCheck::NotRun => panic!("{} was not judged: {:?}", e.id, e.status),
        }
    }
    total
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn millis(d: Option<Duration>) -> f64 {
    d.expect("a load time").as_secs_f64() * 1000.0
}

fn main() {
    if cfg!(debug_assertions) {
        println!("(unoptimised build: a smoke run; `cargo bench -p plugin-tests --bench extensions` measures)");
    }
    let library = plugin_tests::plugin_for_benchmarks("tp-title-case");
    let cache = tempfile::tempdir().unwrap();
    // Fill the cache folder once.
    load_one(
        &PluginManager::new(config().cache_dir(cache.path())),
        &library,
        "seed.so",
    );

    let warm = PluginManager::new(config());
    load_one(&warm, &library, "first.so");
    let (mut checked, mut checked_us, mut memory, mut file) = (vec![], vec![], vec![], vec![]);
    for n in 0..SAMPLES {
        let fresh = PluginManager::new(config());
        let report = load_one(&fresh, &library, "cold.so");
        checked.push(millis(report.load_time));
        checked_us.push(check_micros(&report) as f64);

        warm.unload("tp-title-case").unwrap();
        let report = load_one(&warm, &library, &format!("again-{n}.so"));
        assert!(report
            .extensions
            .iter()
            .all(|e| e.layout_check == LayoutCheck::Cached));
        memory.push(millis(report.load_time));

        let restarted = PluginManager::new(config().cache_dir(cache.path()));
        let report = load_one(&restarted, &library, "restart.so");
        assert!(report
            .extensions
            .iter()
            .all(|e| e.layout_check == LayoutCheck::Cached));
        file.push(millis(report.load_time));
    }
    let (checked, memory, file, check) = (
        median(checked),
        median(memory),
        median(file),
        median(checked_us),
    );
    println!("\nloading tp-title-case (2 extensions), median of {SAMPLES} interleaved samples");
    println!("  {:<44} {:>10}", "case", "load ms");
    println!("  {:<44} {:>10.3}", "checked (no cache)", checked);
    println!(
        "  {:<44} {:>10.3}",
        "cached in memory (reload, same content)", memory
    );
    println!(
        "  {:<44} {:>10.3}",
        "cached in the cache folder (restart)", file
    );
    println!(
        "\n  layout checks, both extensions, as the reports time them: {:.0} us",
        check
    );
    println!(
        "  saved by the cache: {:.3} ms per load (memory), {:.3} ms (file)",
        checked - memory,
        checked - file
    );
}
