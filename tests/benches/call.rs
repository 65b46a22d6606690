//! Call overhead through `plugin-host`, against its floor and its baseline, in one run.
//!
//! Ways to run the same no-op and the same 64-byte echo of the bench plugin:
//!
//! 1. a raw `extern "C"` function exported by the same shared library (the floor);
//! 2. `plugin-host`'s public API on the boundary types (`Instance::execute_raw`);
//! 3. `plugin-host`'s public API on std types (`Instance::execute`, with conversions);
//! 4. the plugin's own trait, called in process from its rlib (no boundary at all: the
//!    baseline that measures what the boundary adds);
//!
//! and, for the no-op, a fifth: the bench plugin's `Noop` extension point through a typed
//! handle (`plugrack_host::Extension<NoopExt>`, the host-defined extension points' path).
//!
//! Then the same no-op from one thread and from two threads at once, beside the in-process
//! trait call (what the machine gives two threads at that moment) and the in-process call
//! plus one counter shared by the threads (what every call did before metrics were kept per
//! thread).
//!
//! Samples of each case are interleaved (see `plugin_tests::bench`); medians are reported,
//! and the ratios between medians of this run are printed. `PLUGIN_BENCH_INSTRUCTIONS=1`
//! adds callgrind's instructions per call.
//! Run: `cargo bench -p plugin-tests --bench call`. The wasm peers (wasmtime, extism) are
//! measured beside the same cases by `benches/peers` (a separate workspace).

use std::hint::black_box;

use bench_plugin::{NoopCalls, NoopExt};
use plugin_tests::bench::{self, ratio_line, Group, SMOKE};
use plugrack_api::{abi_stable::library::RawLibrary, KeyValue, Value};
use plugrack_host::{HostConfig, PluginManager, User, Values};
use plugrack_sdk::Executor;

/// Interleaved samples per case; the unoptimised smoke run (`cargo test --all-targets`)
/// takes few.
const SAMPLES: usize = if SMOKE { 3 } else { 31 };

const RAW: &str = "raw extern \"C\" no-op (floor)";
const EXECUTE_RAW: &str = "plugin-host Instance::execute_raw(\"noop\")";
const EXECUTE: &str = "plugin-host Instance::execute(\"noop\", Values)";
const IN_PROCESS: &str = "in-process trait call (no boundary)";
const TYPED_HANDLE: &str = "plugin-host Extension<NoopExt>::noop() (typed handle)";

fn main() {
    if SMOKE {
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

    // Every case gets its label through `black_box`, so that no case can fold the plugin's
    // `match label` away at compile time.
    let noop_raw_api = |n: u64| {
        for _ in 0..n {
            black_box(instance.execute_raw(black_box("noop"), &[]).unwrap());
        }
    };
    let noop_in_process = |n: u64| {
        for _ in 0..n {
            black_box(
                black_box(&direct)
                    .execute(black_box("noop"), Default::default())
                    .unwrap(),
            );
        }
    };

    let mut noop = Group::new("no-op call");
    noop.case(RAW, |n| {
        for _ in 0..n {
            black_box(raw_noop)()
        }
    })
    .case(EXECUTE_RAW, noop_raw_api)
    .case(EXECUTE, |n| {
        let empty = Values::new();
        for _ in 0..n {
            black_box(instance.execute(black_box("noop"), &empty).unwrap());
        }
    })
    .case(IN_PROCESS, noop_in_process)
    .case(TYPED_HANDLE, |n| {
        for _ in 0..n {
            black_box(&noop_handle).noop().unwrap();
        }
    });
    let noop = noop.measure(SAMPLES);
    if std::env::var_os("PLUGIN_BENCH_NOOP_ONLY").is_some() {
        return; // for profiling the no-op path alone
    }

    let echo_input = [KeyValue {
        key: "data".into(),
        value: Value::Bytes(payload.clone().into()),
    }];
    let echo_values: Values = [("data".to_owned(), Value::Bytes(payload.clone().into()))].into();
    let mut echo = Group::new("64-byte echo");
    echo.case("raw extern \"C\" 64-byte copy (floor)", |n| {
        let mut out = [0u8; 64];
        for _ in 0..n {
            // SAFETY: both buffers hold 64 bytes and do not overlap.
            unsafe { black_box(raw_echo)(black_box(payload.as_ptr()), 64, out.as_mut_ptr()) };
            black_box(&out);
        }
    })
    .case("plugin-host Instance::execute_raw(\"echo\", 64 B)", |n| {
        for _ in 0..n {
            black_box(
                instance
                    .execute_raw(black_box("echo"), black_box(&echo_input))
                    .unwrap(),
            );
        }
    })
    .case(
        "plugin-host Instance::execute(\"echo\", 64 B Values)",
        |n| {
            for _ in 0..n {
                black_box(
                    instance
                        .execute(black_box("echo"), black_box(&echo_values))
                        .unwrap(),
                );
            }
        },
    )
    .case("in-process trait call (no boundary)", |n| {
        for _ in 0..n {
            let input: plugrack_sdk::Values = [(
                "data".to_owned(),
                plugrack_sdk::Value::Bytes(black_box(&payload).clone()),
            )]
            .into();
            black_box(
                black_box(&direct)
                    .execute(black_box("echo"), input)
                    .unwrap(),
            );
        }
    });
    let echo = echo.measure(SAMPLES);

    // What every call did before metrics were kept per thread: add one to a counter that
    // all threads share. Beside the in-process call, it shows what such a write costs two
    // threads on this machine, in the same run.
    let shared_counter = std::sync::atomic::AtomicU64::new(0);
    let noop_in_process_shared = |n: u64| {
        for _ in 0..n {
            shared_counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            black_box(
                black_box(&direct)
                    .execute(black_box("noop"), Default::default())
                    .unwrap(),
            );
        }
    };
    // Threads are not measured in a callgrind child (it runs one case and exits above).
    let scaling = (!bench::is_instruction_child()).then(|| {
        bench::measure_scaling(
            2,
            if SMOKE { 2 } else { 15 },
            &[
                ("plugin-host Instance::execute_raw(\"noop\")", &noop_raw_api),
                ("in-process trait call (no boundary)", &noop_in_process),
                (
                    "in-process trait call + one shared counter",
                    &noop_in_process_shared,
                ),
            ],
        )
    });

    let (Some(noop), Some(echo), Some(scaling)) = (noop, echo, scaling) else {
        return;
    };
    let raw_ns = noop.ns(RAW);
    println!("\nratios (medians of this run):");
    for case in [EXECUTE_RAW, EXECUTE, IN_PROCESS, TYPED_HANDLE] {
        let short = case.trim_start_matches("plugin-host ");
        ratio_line(
            &format!("no-op {short} / raw extern \"C\""),
            noop.ns(case) / raw_ns,
            None,
        );
    }
    let handle = noop.ns(TYPED_HANDLE) / raw_ns;
    ratio_line(
        "no-op typed extension handle / raw extern \"C\"",
        handle,
        Some(("<= 1.5x", handle <= 1.5)),
    );
    let boundary = noop.ns(EXECUTE_RAW) / noop.ns(IN_PROCESS);
    ratio_line(
        "no-op Instance::execute_raw / in-process trait",
        boundary,
        Some(("<= 1.3x", boundary <= 1.3)),
    );
    if let (Some(api), Some(baseline)) = (
        noop.instructions(EXECUTE_RAW),
        noop.instructions(IN_PROCESS),
    ) {
        ratio_line(
            "no-op Instance::execute_raw / in-process trait, instructions",
            api / baseline,
            None,
        );
    }
    let echo_floor = echo.median_ns[0];
    ratio_line(
        "echo  Instance::execute_raw / raw extern \"C\"",
        echo.median_ns[1] / echo_floor,
        None,
    );
    ratio_line(
        "echo  Instance::execute     / raw extern \"C\"",
        echo.median_ns[2] / echo_floor,
        None,
    );
    ratio_line(
        "echo  Instance::execute_raw / in-process trait",
        echo.median_ns[1] / echo.median_ns[3],
        None,
    );
    let (api, baseline, shared) = (scaling[0], scaling[1], scaling[2]);
    ratio_line(
        "2 threads / 1 thread, calls per second, Instance::execute_raw",
        api.throughput_ratio(),
        Some((">= 1.8x", api.throughput_ratio() >= 1.8)),
    );
    ratio_line(
        "2 threads / 1 thread, calls per second, in-process trait (what the machine gave)",
        baseline.throughput_ratio(),
        None,
    );
    for (name, s) in [
        ("Instance::execute_raw", api),
        ("in-process trait", baseline),
        ("in-process trait + shared counter", shared),
    ] {
        ratio_line(
            &format!("2 threads / 1 thread, CPU time per call, {name}"),
            s.many_cpu_ns / s.one_cpu_ns,
            None,
        );
    }
}
