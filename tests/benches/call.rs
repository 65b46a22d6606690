//! Call overhead through `plugin-host`, against its floor, in one run.
//!
//! Four ways to run the same no-op and the same 64-byte echo of the bench plugin:
//!
//! 1. a raw `extern "C"` function exported by the same shared library (the floor);
//! 2. `plugin-host`'s public API on the boundary types (`Instance::execute_raw`);
//! 3. `plugin-host`'s public API on std types (`Instance::execute`, with conversions);
//! 4. the plugin's own trait, called in process from its rlib (no boundary at all);
//!
//! and, for the no-op, a fifth: the bench plugin's `Noop` extension point through a typed
//! handle (`plugrack_host::Extension<NoopExt>`, the host-defined extension points' path).
//!
//! Samples of each case are interleaved, so a change in machine load hits all cases alike;
//! the median of the samples is reported, and the ratios to the floor are printed.
//! Run: `cargo bench -p plugin-tests --bench call`.

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use bench_plugin::{NoopCalls, NoopExt};
use plugrack_api::{abi_stable::library::RawLibrary, KeyValue, Value};
use plugrack_host::{HostConfig, PluginManager, User, Values};
use plugrack_sdk::Executor;

/// Interleaved samples per case; an unoptimised smoke run (`cargo test --all-targets`) takes few.
const SAMPLES: usize = if cfg!(debug_assertions) { 3 } else { 31 };

struct Case<'a> {
    name: &'a str,
    run: Box<dyn FnMut(u64) + 'a>,
    per_call_ns: Vec<f64>,
}

fn calibrate(run: &mut dyn FnMut(u64)) -> u64 {
    let mut iterations = 1_000;
    loop {
        let started = Instant::now();
        run(iterations);
        if started.elapsed() > Duration::from_millis(20) {
            return iterations;
        }
        iterations *= 2;
    }
}

fn measure(cases: &mut [Case<'_>]) {
    let iterations: Vec<u64> = cases.iter_mut().map(|c| calibrate(&mut c.run)).collect();
    for _ in 0..SAMPLES {
        for (case, &n) in cases.iter_mut().zip(&iterations) {
            let started = Instant::now();
            (case.run)(n);
            case.per_call_ns
                .push(started.elapsed().as_nanos() as f64 / n as f64);
        }
    }
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn report(title: &str, cases: &[Case<'_>]) -> Vec<f64> {
    let floor = median(&cases[0].per_call_ns);
    println!("\n{title}");
    println!("  {:<52} {:>12} {:>10}", "case", "ns/call", "vs floor");
    let mut medians = Vec::new();
    for case in cases {
        let m = median(&case.per_call_ns);
        println!("  {:<52} {:>12.2} {:>9.2}x", case.name, m, m / floor);
        medians.push(m);
    }
    medians
}

fn main() {
    if cfg!(debug_assertions) {
        println!(
            "(unoptimised build: a smoke run; `cargo bench -p plugin-tests --bench call` measures)"
        );
    }
    let library = plugin_tests::bench_plugin_for_benchmarks();
    let dir = plugin_tests::plugin_dir(&[("bench.so", &library)]);
    let plugin_path = dir.path().join("bench.so");
    // Profilers resolve symbols after the run; keep the private copy for them when asked.
    let _dir = if std::env::var_os("PLUGIN_BENCH_KEEP_COPY").is_some() {
        eprintln!("keeping {}", dir.keep().display());
        None
    } else {
        Some(dir)
    };

    let manager =
        PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()).extension_point::<NoopExt>());
    let report_line = manager.load_file(&plugin_path);
    assert!(
        report_line.error().is_none(),
        "{:?}",
        report_line.error().map(ToString::to_string)
    );
    let instance = manager
        .instance("bench-0000", &User::new(1, "bench"))
        .unwrap();
    let noop_handle = manager.extension::<NoopExt>("bench-0000").unwrap();

    // The same file is already mapped: dlopen hands back the same library.
    let raw = RawLibrary::load_at(&plugin_path).expect("open the bench plugin");
    // SAFETY: the symbols are the plugin's exported `extern "C"` functions with these types.
    let raw_noop = unsafe { *raw.get::<extern "C" fn()>(b"bench_raw_noop\0").unwrap() };
    let raw_echo = unsafe {
        *raw.get::<unsafe extern "C" fn(*const u8, usize, *mut u8)>(b"bench_raw_echo\0")
            .unwrap()
    };

    let direct = bench_plugin::BenchInstance;
    let payload: Vec<u8> = (0..64u8).collect();

    let mut noop = vec![
        Case {
            name: "raw extern \"C\" no-op (floor)",
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(raw_noop)()
                }
            }),
            per_call_ns: vec![],
        },
        Case {
            name: "plugin-host Instance::execute_raw(\"noop\")",
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(instance.execute_raw(black_box("noop"), &[]).unwrap());
                }
            }),
            per_call_ns: vec![],
        },
        Case {
            name: "plugin-host Instance::execute(\"noop\", Values)",
            run: Box::new(|n| {
                let empty = Values::new();
                for _ in 0..n {
                    black_box(instance.execute(black_box("noop"), &empty).unwrap());
                }
            }),
            per_call_ns: vec![],
        },
        Case {
            name: "in-process trait call (no boundary)",
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(
                        black_box(&direct)
                            .execute("noop", Default::default())
                            .unwrap(),
                    );
                }
            }),
            per_call_ns: vec![],
        },
        Case {
            name: "plugin-host Extension<NoopExt>::noop() (typed handle)",
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(&noop_handle).noop().unwrap();
                }
            }),
            per_call_ns: vec![],
        },
    ];
    measure(&mut noop);
    let noop_medians = report("no-op call", &noop);
    if std::env::var_os("PLUGIN_BENCH_NOOP_ONLY").is_some() {
        return; // for profiling the no-op path alone
    }

    let echo_input = [KeyValue {
        key: "data".into(),
        value: Value::Bytes(payload.clone().into()),
    }];
    let echo_values: Values = [("data".to_owned(), Value::Bytes(payload.clone().into()))].into();
    let mut echo = vec![
        Case {
            name: "raw extern \"C\" 64-byte copy (floor)",
            run: Box::new(|n| {
                let mut out = [0u8; 64];
                for _ in 0..n {
                    // SAFETY: both buffers hold 64 bytes and do not overlap.
                    unsafe {
                        black_box(raw_echo)(black_box(payload.as_ptr()), 64, out.as_mut_ptr())
                    };
                    black_box(&out);
                }
            }),
            per_call_ns: vec![],
        },
        Case {
            name: "plugin-host Instance::execute_raw(\"echo\", 64 B)",
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(
                        instance
                            .execute_raw("echo", black_box(&echo_input))
                            .unwrap(),
                    );
                }
            }),
            per_call_ns: vec![],
        },
        Case {
            name: "plugin-host Instance::execute(\"echo\", 64 B Values)",
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(instance.execute("echo", black_box(&echo_values)).unwrap());
                }
            }),
            per_call_ns: vec![],
        },
        Case {
            name: "in-process trait call (no boundary)",
            run: Box::new(|n| {
                for _ in 0..n {
                    let input: plugrack_sdk::Values = [(
                        "data".to_owned(),
                        plugrack_sdk::Value::Bytes(black_box(&payload).clone()),
                    )]
                    .into();
                    black_box(black_box(&direct).execute("echo", input).unwrap());
                }
            }),
            per_call_ns: vec![],
        },
    ];
    measure(&mut echo);
    let echo_medians = report("64-byte echo", &echo);

    let noop_ratio = noop_medians[1] / noop_medians[0];
    println!("\nratios (median of {SAMPLES} interleaved samples):");
    println!("  no-op  plugin-host execute_raw / raw extern \"C\" = {noop_ratio:.2}x  (target <= 1.5x: {})", if noop_ratio <= 1.5 { "met" } else { "not met" });
    println!(
        "  no-op  plugin-host execute_raw / in-process trait = {:.2}x",
        noop_medians[1] / noop_medians[3]
    );
    let handle_ratio = noop_medians[4] / noop_medians[0];
    println!(
        "  no-op  typed extension handle / raw extern \"C\" = {handle_ratio:.2}x  (target <= 1.5x: {})",
        if handle_ratio <= 1.5 { "met" } else { "not met" }
    );
    println!(
        "  echo   plugin-host execute_raw / raw extern \"C\" = {:.2}x",
        echo_medians[1] / echo_medians[0]
    );
    println!(
        "  echo   plugin-host execute     / raw extern \"C\" = {:.2}x",
        echo_medians[2] / echo_medians[0]
    );
    println!(
        "  echo   plugin-host execute_raw / in-process trait = {:.2}x",
        echo_medians[1] / echo_medians[3]
    );
}
