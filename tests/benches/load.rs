//! Discover, check and load 10, 100 and 500 plugins with distinct ids; reload latency; the
//! memory each reload leaves behind.
//!
//! The plugins are copies of the release-built bench plugin whose id (`bench-0000`, stamped
//! into the binary once) is rewritten in each copy to `bench-0001`, `bench-0002`, ...: the
//! same code, distinct plugins, each its own file and so its own library for the loader.
//! The baseline, measured in the same run, is a bare `dlopen` of the same number of fresh
//! copies (what any native plugin system pays).
//! Run: `cargo bench -p plugin-tests --bench load`. For a profiler, `PLUGIN_BENCH_MODE=in-place`
//! (or `copy`) measures one mode and `PLUGIN_BENCH_COUNTS=100` (a comma-separated list) those
//! counts only. Beside each table, where each plugin's load time went, by phase.

use std::{
    fs,
    path::Path,
    time::{Duration, Instant},
};

use plugrack_api::abi_stable::library::RawLibrary;
use plugrack_host::{HostConfig, LoadFrom, PluginManager, PluginStatus};

const MARKER: &[u8] = b"bench-0000";

/// Writes `id` over every copy of the marker: the root module's descriptor and the
/// `.plugin_descriptor` section each hold one, and they must agree.
fn stamp(bytes: &mut [u8], offsets: &[usize], id: &[u8]) {
    for &offset in offsets {
        bytes[offset..offset + MARKER.len()].copy_from_slice(id);
    }
}

fn write_copies(template: &[u8], offsets: &[usize], dir: &Path, count: usize, first_id: usize) {
    for n in 0..count {
        let mut bytes = template.to_vec();
        let id = format!("bench-{:04}", first_id + n);
        stamp(&mut bytes, offsets, id.as_bytes());
        fs::write(dir.join(format!("{id}.so")), bytes).unwrap();
    }
}

/// The baseline: a bare `dlopen` of every file in `dir`, in file-name order, left mapped.
fn bare_dlopen(dir: &Path) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in &entries {
        std::mem::forget(RawLibrary::load_at(path).expect("dlopen"));
    }
}

/// CPU time of the whole process (every thread: the lifecycle workers run `on_load`).
fn process_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn rss_kib() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

/// A host start in a process of its own (set by the parent for its restart rows): the
/// plugins folder, the cache folder, and a folder of fresh copies for the bare `dlopen`.
const START_PLUGINS: &str = "PLUGIN_BENCH_START_PLUGINS";
const START_CACHE: &str = "PLUGIN_BENCH_START_CACHE";
const START_BARE: &str = "PLUGIN_BENCH_START_BARE";

/// One start: the bare `dlopen` of the fresh copies, then a manager with the cache folder (none
/// when it is empty) loading the plugins in place; prints `start <load ns> <layout check ns>
/// <root cached> <bare dlopen ns> <checks ns> <dlopen ns> <on_load ns>`.
fn start_in_this_process(plugins: &Path) {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(std::path::PathBuf::from)
            .unwrap()
    };
    let started = Instant::now();
    bare_dlopen(&var(START_BARE));
    let bare = started.elapsed();
    let mut config = HostConfig::new("1.0.0".parse().unwrap()).load_from(LoadFrom::InPlace);
    let cache = var(START_CACHE);
    if !cache.as_os_str().is_empty() {
        config = config.cache_dir(cache);
    }
    let manager = PluginManager::new(config);
    let started = Instant::now();
    let reports = manager.load_dir(plugins);
    let elapsed = started.elapsed();
    assert!(
        reports.iter().all(|r| r.status == PluginStatus::Active),
        "{:?}",
        reports
            .iter()
            .find_map(|r| r.error().map(ToString::to_string))
    );
    let cached = reports
        .iter()
        .filter(|r| r.load_phases.is_some_and(|p| p.layout_cached))
        .count();
    let sum = |phase: fn(&plugrack_host::LoadPhases) -> Duration| -> u128 {
        reports
            .iter()
            .filter_map(|r| r.load_phases.as_ref().map(phase))
            .sum::<Duration>()
            .as_nanos()
    };
    println!(
        "start {} {} {cached} {} {} {} {}",
        elapsed.as_nanos(),
        sum(|p| p.layout_check),
        bare.as_nanos(),
        sum(|p| p.checks),
        sum(|p| p.open),
        sum(|p| p.on_load),
    );
}

fn main() {
    if let Some(plugins) = std::env::var_os(START_PLUGINS) {
        start_in_this_process(Path::new(&plugins));
        return;
    }
    let library = plugin_tests::bench_plugin_for_benchmarks();
    let template = fs::read(&library).unwrap();
    let offsets: Vec<usize> = template
        .windows(MARKER.len())
        .enumerate()
        .filter(|(_, w)| *w == MARKER)
        .map(|(i, _)| i)
        .collect();
    assert!(
        (1..=2).contains(&offsets.len()),
        "the id marker must appear in the descriptor (and its ELF section) only: found {}",
        offsets.len()
    );
    println!(
        "plugin: {} ({} KiB)",
        library.display(),
        template.len() / 1024
    );

    // The first plugin a process loads pays one-time costs (abi_stable checks the contract's
    // layout once per process, the first thread and log setup); measured apart.
    let warm_up = tempfile::tempdir().unwrap();
    write_copies(&template, &offsets, warm_up.path(), 1, 9999);
    let first = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
    let started = Instant::now();
    assert_eq!(
        first.load_dir(warm_up.path())[0].status,
        PluginStatus::Active
    );
    println!(
        "first plugin in this process: {:.3} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );

    // Under `cargo test --all-targets` this runs unoptimised as a smoke test: fewer plugins.
    // `PLUGIN_BENCH_COUNTS=100` (a comma-separated list) measures those counts alone.
    let counts: Option<Vec<usize>> = std::env::var("PLUGIN_BENCH_COUNTS").ok().map(|list| {
        list.split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect()
    });
    let sizes: &[usize] = if let Some(counts) = &counts {
        counts
    } else if cfg!(debug_assertions) {
        &[10]
    } else {
        &[10, 100, 500]
    };
    if cfg!(debug_assertions) {
        println!(
            "(unoptimised build: a smoke run; `cargo bench -p plugin-tests --bench load` measures)"
        );
    }
    let mut next_id = 1;
    // Each mode loads fresh copies of its own (the loader shares one library per file).
    let modes = [
        ("private copy (default)", LoadFrom::PrivateCopy),
        ("in place (LoadFrom::InPlace)", LoadFrom::InPlace),
    ];
    // `PLUGIN_BENCH_MODE=in-place` (or `copy`) measures one mode alone, e.g. under `perf`.
    let only = std::env::var("PLUGIN_BENCH_MODE").ok();
    let modes: Vec<_> = modes
        .into_iter()
        .filter(|(_, mode)| match only.as_deref() {
            Some("in-place") => *mode == LoadFrom::InPlace,
            Some("copy") => *mode == LoadFrom::PrivateCopy,
            _ => true,
        })
        .collect();
    let mut rows: Vec<Vec<String>> = vec![Vec::new(); modes.len()];
    let mut phase_rows: Vec<Vec<String>> = vec![Vec::new(); modes.len()];
    for &count in sizes {
        for ((row, phase_row), &(_, load_from)) in rows.iter_mut().zip(&mut phase_rows).zip(&modes)
        {
            let plugins = tempfile::tempdir().unwrap();
            write_copies(&template, &offsets, plugins.path(), count, next_id);
            next_id += count;
            let bare = tempfile::tempdir().unwrap();
            write_copies(&template, &offsets, bare.path(), count, next_id);
            next_id += count;

            let mut config = HostConfig::new("1.0.0".parse().unwrap()).load_from(load_from);
            if let Ok(dir) = std::env::var("PLUGIN_BENCH_PRIVATE_DIR") {
                config = config.private_dir(dir);
            }
            let manager = PluginManager::new(config);
            let (started, cpu) = (Instant::now(), process_cpu());
            let reports = manager.load_dir(plugins.path());
            let (load_all, load_cpu) = (started.elapsed(), process_cpu() - cpu);
            assert_eq!(reports.len(), count);
            assert!(
                reports.iter().all(|r| r.status == PluginStatus::Active),
                "{:?}",
                reports.iter().find_map(|r| r.error())
            );

            // Where each plugin's load time went (the manager's own phases), summed.
            let phases = reports.iter().filter_map(|r| r.load_phases).fold(
                [Duration::ZERO; 6],
                |mut sum, p| {
                    for (total, phase) in sum.iter_mut().zip([
                        p.checks,
                        p.open,
                        p.layout_check,
                        p.on_load,
                        p.extensions,
                    ]) {
                        *total += phase;
                    }
                    sum
                },
            );
            let loads: Duration = reports.iter().filter_map(|r| r.load_time).sum();
            let mut phases = phases;
            phases[5] = loads.saturating_sub(phases[..5].iter().sum());

            let (started, cpu) = (Instant::now(), process_cpu());
            bare_dlopen(bare.path());
            let (bare_all, bare_cpu) = (started.elapsed(), process_cpu() - cpu);
            let per_plugin = |d: Duration| d.as_secs_f64() * 1000.0 / count as f64;
            let (per, bare_per) = (per_plugin(load_all), per_plugin(bare_all));
            let (cpu_per, bare_cpu_per) = (per_plugin(load_cpu), per_plugin(bare_cpu));
            let ms = |d: &Duration| format!("{:>12.3}", per_plugin(*d));
            phase_row.push(format!(
                "{count:>6} {} {:>17.3}",
                phases.iter().map(ms).collect::<Vec<_>>().join(" "),
                bare_per
            ));
            row.push(format!(
                "{count:>6} {:>14.1} {per:>16.3} {bare_per:>18.3} {:>7.1}x {cpu_per:>14.3} {bare_cpu_per:>15.3} {:>9.1}x",
                load_all.as_secs_f64() * 1000.0,
                per / bare_per,
                cpu_per / bare_cpu_per
            ));
        }
    }
    for ((name, _), (row, phase_row)) in modes.iter().zip(rows.iter().zip(&phase_rows)) {
        println!("\n{name}:");
        println!(
            "{:>6} {:>14} {:>16} {:>18} {:>8} {:>14} {:>15} {:>10}",
            "count",
            "load all (ms)",
            "per plugin (ms)",
            "bare dlopen (ms)",
            "ratio",
            "cpu/plugin ms",
            "cpu/dlopen ms",
            "cpu ratio"
        );
        for line in row {
            println!("{line}");
        }
        // The same loads, per plugin, by phase (`PluginReport::load_phases`). In a folder
        // load the checks run ahead on another thread, so these add up to more than the
        // wall-clock time per plugin above.
        println!("  where each plugin's load time went, per plugin (ms):");
        println!(
            "{:>6} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12} {:>17}",
            "count",
            "checks",
            "dlopen",
            "layout chk",
            "on_load",
            "extensions",
            "rest",
            "bare dlopen"
        );
        for line in phase_row {
            println!("{line}");
        }
    }

    // A start without a cache folder, then a start and a restart with one, each in a process
    // of its own as a real restart is: the same plugin files every time, the restart finding
    // the root layout checks (by the library's hash) and the hashes (by the file's identity)
    // the first start wrote. The files are left to settle first, as installed plugins have: the cache does not
    // trust the times of a file changed within the last two seconds.
    let count = if cfg!(debug_assertions) { 10 } else { 100 };
    let cache = tempfile::tempdir().unwrap();
    let plugins = tempfile::tempdir().unwrap();
    write_copies(&template, &offsets, plugins.path(), count, next_id);
    next_id += count;
    let mut bares = Vec::new();
    for _ in 0..4 {
        let bare = tempfile::tempdir().unwrap();
        write_copies(&template, &offsets, bare.path(), count, next_id);
        next_id += count;
        bares.push(bare);
    }
    std::thread::sleep(Duration::from_millis(2_200));
    let mut per_start = Vec::new();
    // "restart, hashing" is a restart given the first start's checks but not its hashes (a
    // copy of the cache without the `file` lines): what a restart cost before the hashes
    // were kept.
    let hashing = tempfile::tempdir().unwrap();
    let starts = [
        ("no cache folder", None),
        ("first start", Some(cache.path())),
        ("restart, hashing", Some(hashing.path())),
        ("restart", Some(cache.path())),
    ];
    for ((start, cache_dir), bare) in starts.into_iter().zip(&bares) {
        if start == "restart, hashing" {
            let file = plugrack_host::extension::CACHE_FILE;
            let text = fs::read_to_string(cache.path().join(file)).unwrap();
            let checks: String = text
                .lines()
                .filter(|l| !l.starts_with("file "))
                .map(|l| format!("{l}\n"))
                .collect();
            fs::write(hashing.path().join(file), checks).unwrap();
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--bench")
            .env(START_PLUGINS, plugins.path())
            .env(START_CACHE, cache_dir.unwrap_or(Path::new("")))
            .env(START_BARE, bare.path())
            .output()
            .expect("run a start in a process of its own");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().find_map(|l| l.strip_prefix("start "));
        let Some(line) = line.filter(|_| output.status.success()) else {
            panic!(
                "the {start} failed: {}\n{stdout}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        };
        let figures: Vec<u64> = line.split(' ').map(|f| f.parse().unwrap()).collect();
        let [elapsed, check, cached, bare, checks, open, on_load] = figures[..] else {
            panic!("unexpected start line: {line}");
        };
        let ns = Duration::from_nanos;
        per_start.push((
            start,
            ns(elapsed),
            ns(check),
            cached,
            ns(bare),
            [ns(checks), ns(open), ns(check), ns(on_load)],
        ));
    }
    println!("\nin place with a cache folder (HostConfig::cache_dir), {count} plugins, each start a new process:");
    println!(
        "{:>15} {:>16} {:>18} {:>8} {:>20} {:>14}",
        "start",
        "per plugin (ms)",
        "bare dlopen (ms)",
        "ratio",
        "layout chk/plugin ms",
        "root cached"
    );
    for (start, elapsed, check, cached, bare, _) in &per_start {
        let per = elapsed.as_secs_f64() * 1000.0 / count as f64;
        let bare_per = bare.as_secs_f64() * 1000.0 / count as f64;
        println!(
            "{start:>15} {per:>16.3} {bare_per:>18.3} {:>7.1}x {:>20.3} {cached:>10}/{count}",
            per / bare_per,
            check.as_secs_f64() * 1000.0 / count as f64
        );
    }
    println!("  where each start's time went, per plugin (ms; checks on their own thread):");
    println!(
        "{:>15} {:>12} {:>12} {:>12} {:>12}",
        "start", "checks", "dlopen", "layout chk", "on_load"
    );
    for (start, _, _, _, _, phases) in &per_start {
        let ms = |d: &Duration| format!("{:>12.3}", d.as_secs_f64() * 1000.0 / count as f64);
        let phases: Vec<String> = phases.iter().map(ms).collect();
        println!("{start:>15} {}", phases.join(" "));
    }

    // Reload latency and the memory each reload leaves mapped.
    let dir = tempfile::tempdir().unwrap();
    write_copies(&template, &offsets, dir.path(), 1, 9000);
    let source = dir.path().join("bench-9000.so");
    let manager = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
    assert_eq!(manager.load_file(&source).status, PluginStatus::Active);
    let mut latencies: Vec<Duration> = Vec::new();
    let reloads = if cfg!(debug_assertions) { 5 } else { 30 };
    let rss_before = rss_kib();
    for _ in 0..reloads {
        // A deploy: a new file renamed over the old one.
        let staged = dir.path().join(".staged");
        fs::write(&staged, &template).unwrap();
        let mut bytes = fs::read(&staged).unwrap();
        stamp(&mut bytes, &offsets, b"bench-9000");
        fs::write(&staged, bytes).unwrap();
        fs::rename(&staged, &source).unwrap();
        let started = Instant::now();
        let report = manager.reload(&source);
        latencies.push(started.elapsed());
        assert!(
            report
                .messages
                .last()
                .is_some_and(|m| m.starts_with("reloaded")),
            "{:?}",
            report.messages
        );
    }
    std::thread::sleep(Duration::from_millis(300)); // let the replaced builds retire
    let rss_after = rss_kib();
    latencies.sort();
    println!(
        "\nreload: median {:.3} ms, max {:.3} ms over {reloads} reloads",
        latencies[reloads / 2].as_secs_f64() * 1000.0,
        latencies[reloads - 1].as_secs_f64() * 1000.0
    );
    println!(
        "memory left behind per reload (resident, libraries are never unmapped): {} KiB (plugin file {} KiB)",
        rss_after.saturating_sub(rss_before) / reloads as u64,
        template.len() / 1024
    );
}
