//! The same no-op through plugrack and through two wasm runtimes, in one run.
//!
//! Cases, their samples interleaved (see `plugin_tests::bench`):
//!
//! 1. a raw `extern "C"` function of the bench plugin's library (the floor);
//! 2. the bench plugin's trait called in process, no boundary;
//! 3. plugrack-host `Instance::execute_raw("noop")` (the bench plugin, loaded as a plugin);
//! 4. plugrack-host `Extension<NoopExt>::noop()`, the bench plugin's typed extension handle
//!    (the native counterpart of a typed wasm call);
//! 5. wasmtime: a module exporting `noop: [] -> []`, called through `TypedFunc::call`;
//! 6. extism: a module exporting `noop: [] -> [i32]`, called through `Plugin::call` with
//!    empty input and output.
//!
//! The wasm modules do nothing, like the plugin's no-op: each figure is the cost of the
//! runtime's call path. Run (once wasmtime is built; see `Cargo.toml`):
//! `cd benches/peers && CARGO_TARGET_DIR=/work/peers-target cargo bench --bench peers`.

use std::hint::black_box;

use bench_plugin::{NoopCalls, NoopExt};
use plugin_tests::bench::{ratio_line, Group, SMOKE};
use plugrack_api::abi_stable::library::RawLibrary;
use plugrack_host::{HostConfig, PluginManager, User};
use plugrack_sdk::Executor;

const SAMPLES: usize = if SMOKE { 3 } else { 31 };

const RAW: &str = "raw extern \"C\" no-op (floor)";
const IN_PROCESS: &str = "in-process trait call (no boundary)";
const EXECUTE_RAW: &str = "plugrack-host Instance::execute_raw(\"noop\")";
const TYPED_HANDLE: &str = "plugrack-host Extension<NoopExt>::noop() (typed handle)";
const WASMTIME: &str = "wasmtime 49 TypedFunc::call (no-op export)";
const EXTISM: &str = "extism 1.41 Plugin::call (no-op export)";

/// A wasm module with one export that does nothing.
const WASMTIME_NOOP: &str = r#"(module (func (export "noop")))"#;

/// The same for extism, whose exported functions answer a status code.
const EXTISM_NOOP: &str = r#"(module (func (export "noop") (result i32) i32.const 0))"#;

fn main() {
    let library = plugin_tests::bench_plugin_for_benchmarks();
    let dir = plugin_tests::plugin_dir(&[("bench.so", &library)]);
    let plugin_path = dir.path().join("bench.so");
    let manager =
        PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()).extension_point::<NoopExt>());
    let report = manager.load_file(&plugin_path);
    assert!(report.error().is_none(), "{:?}", report.error());
    let instance = manager
        .instance("bench-0000", &User::new(1, "bench"))
        .unwrap();
    let noop_handle = manager.extension::<NoopExt>("bench-0000").unwrap();
    let raw = RawLibrary::load_at(&plugin_path).expect("open the bench plugin");
    // SAFETY: the plugin exports `bench_raw_noop` as `extern "C" fn()`.
    let raw_noop = unsafe { *raw.get::<extern "C" fn()>(b"bench_raw_noop\0").unwrap() };
    let direct = bench_plugin::BenchInstance;

    let engine = wasmtime::Engine::default();
    let module = wasmtime::Module::new(&engine, WASMTIME_NOOP).expect("compile the wasm no-op");
    let mut store = wasmtime::Store::new(&engine, ());
    let wasm = wasmtime::Instance::new(&mut store, &module, &[]).expect("instantiate");
    let wasm_noop = wasm
        .get_typed_func::<(), ()>(&mut store, "noop")
        .expect("the typed export");

    // extism compiles through wasmtime, which reads the text format too.
    let manifest = extism::Manifest::new([extism::Wasm::data(EXTISM_NOOP.as_bytes())]);
    let mut extism_plugin =
        extism::Plugin::new(&manifest, [], false).expect("load the extism no-op");
    // A first call checks that the export is there and answers as expected.
    let answer: &[u8] = extism_plugin.call("noop", "").expect("the extism call");
    assert!(answer.is_empty());

    let mut group = Group::new("no-op call, native and wasm");
    group
        .case(RAW, |n| {
            for _ in 0..n {
                black_box(raw_noop)()
            }
        })
        .case(IN_PROCESS, |n| {
            for _ in 0..n {
                black_box(
                    black_box(&direct)
                        .execute(black_box("noop"), Default::default())
                        .unwrap(),
                );
            }
        })
        .case(EXECUTE_RAW, |n| {
            for _ in 0..n {
                black_box(instance.execute_raw(black_box("noop"), &[]).unwrap());
            }
        })
        .case(TYPED_HANDLE, |n| {
            for _ in 0..n {
                black_box(&noop_handle).noop().unwrap();
            }
        })
        .case(WASMTIME, move |n| {
            for _ in 0..n {
                wasm_noop.call(&mut store, ()).unwrap();
            }
        })
        .case(EXTISM, move |n| {
            for _ in 0..n {
                let out: &[u8] = extism_plugin.call(black_box("noop"), "").unwrap();
                black_box(out);
            }
        });
    let Some(measured) = group.measure(SAMPLES) else {
        return;
    };

    let floor = measured.ns(RAW);
    println!("\nratios (medians of this run):");
    for case in [IN_PROCESS, EXECUTE_RAW, TYPED_HANDLE, WASMTIME, EXTISM] {
        ratio_line(
            &format!("no-op {case} / raw extern \"C\""),
            measured.ns(case) / floor,
            None,
        );
    }
    for ours in [EXECUTE_RAW, TYPED_HANDLE] {
        for peer in [WASMTIME, EXTISM] {
            ratio_line(
                &format!("no-op {ours} / {peer}"),
                measured.ns(ours) / measured.ns(peer),
                None,
            );
        }
    }
}
