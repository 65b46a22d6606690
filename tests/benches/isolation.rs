//! What running a plugin in a worker process costs, against its floor and a baseline, in one
//! run on the same plugin (the bench plugin's no-op and 64-byte echo):
//!
//! 1. the floor: a bare 1-byte ping-pong over a socket pair with a child process (two
//!    cross-process wake-ups, nothing else);
//! 2. out of process: `Instance::execute_raw` on a plugin in a worker;
//! 3. the baseline: a child process that loads the same plugin and speaks newline-delimited
//!    JSON over pipes (the shape of nushell's and xi-editor's plugin protocols);
//! 4. in process: `Instance::execute_raw` on the plugin loaded in this process.
//!
//! Round trips are timed one by one (medians and 99th percentiles), cases interleaved in
//! rounds so a change in machine load hits them alike; the in-process case, a few
//! nanoseconds, is timed in batches. Then the worker's start time (spawn, handshake, open,
//! `on_load`) and the host's resident memory over many reloads in each mode.
//! Run: `cargo bench -p plugin-tests --bench isolation`.

use std::{
    fs,
    io::{BufRead, BufReader, Read, Write},
    os::{fd::OwnedFd, unix::net::UnixStream},
    path::Path,
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    time::{Duration, Instant},
};

use plugrack_api::{KeyValue, Value};
use plugrack_host::{HostConfig, Instance, Isolation, PluginManager, PluginStatus, User, Values};

const SMOKE: bool = cfg!(debug_assertions);
/// Rounds of interleaved cases, and round trips per case in each round.
const ROUNDS: usize = if SMOKE { 2 } else { 20 };
const PER_ROUND: usize = if SMOKE { 50 } else { 1000 };
/// In-process samples per round, each the mean of a batch of 1000 calls.
const BATCHES: usize = if SMOKE { 2 } else { 10 };

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("--child") {
        return child(args.next().as_deref(), args.next());
    }
    if SMOKE {
        println!("(unoptimised build: a smoke run; `cargo bench -p plugin-tests --bench isolation` measures)");
    }
    let library = plugin_tests::bench_plugin_for_benchmarks();
    let worker = plugin_tests::worker_for_benchmarks();
    let dir = plugin_tests::plugin_dir(&[("bench.so", &library)]);
    let plugin = dir.path().join("bench.so");

    let in_process = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
    let out_of_process = PluginManager::new(
        HostConfig::new("1.0.0".parse().unwrap())
            .worker_program(&worker)
            .isolation(Isolation::process()),
    );
    for manager in [&in_process, &out_of_process] {
        let report = manager.load_file(&plugin);
        assert_eq!(
            report.status,
            PluginStatus::Active,
            "{:?}",
            report.error().map(ToString::to_string)
        );
    }
    let user = User::new(1, "bench");
    let local = in_process.instance("bench-0000", &user).unwrap();
    let remote = out_of_process.instance("bench-0000", &user).unwrap();
    let confinement = out_of_process
        .report_for("bench-0000")
        .unwrap()
        .worker
        .unwrap()
        .confinement;
    println!("worker: {} ({confinement})", worker.display());

    let mut floor = PingPong::start();
    let mut json = JsonChild::start(&plugin);
    let payload: Vec<u8> = (0..64u8).collect();
    let echo_input = [KeyValue {
        key: "data".into(),
        value: Value::Bytes(payload.clone().into()),
    }];

    for (title, label, input, json_input) in [
        ("no-op", "noop", &[][..], "{}".to_owned()),
        (
            "64-byte echo",
            "echo",
            &echo_input[..],
            serde_json::json!({ "data": payload }).to_string(),
        ),
    ] {
        let mut cases: Vec<(&str, Vec<f64>)> = vec![
            ("socket-pair 1-byte ping-pong with a child (floor)", vec![]),
            ("out of process: Instance::execute_raw", vec![]),
            ("JSON lines over pipes to a child (baseline)", vec![]),
            ("in process: Instance::execute_raw", vec![]),
        ];
        // Warm up each path (caches, the worker's threads, the child's allocator).
        for _ in 0..PER_ROUND / 10 {
            floor.round_trip();
            call(&remote, label, input);
            json.round_trip(label, &json_input);
        }
        for _ in 0..ROUNDS {
            for _ in 0..PER_ROUND {
                let started = Instant::now();
                floor.round_trip();
                cases[0].1.push(started.elapsed().as_nanos() as f64);
            }
            for _ in 0..PER_ROUND {
                let started = Instant::now();
                call(&remote, label, input);
                cases[1].1.push(started.elapsed().as_nanos() as f64);
            }
            for _ in 0..PER_ROUND {
                let started = Instant::now();
                json.round_trip(label, &json_input);
                cases[2].1.push(started.elapsed().as_nanos() as f64);
            }
            // Nanoseconds: timed in batches of 1000, each sample the mean of its batch.
            for _ in 0..BATCHES {
                let started = Instant::now();
                for _ in 0..1000 {
                    call(&local, label, input);
                }
                cases[3]
                    .1
                    .push(started.elapsed().as_nanos() as f64 / 1000.0);
            }
        }
        report(title, &cases);
    }

    switches(&mut floor, &mut json, &remote, &out_of_process);
    worker_start(&worker, &plugin);
    memory_per_reload(&worker, &library);
}

fn call(instance: &Instance, label: &str, input: &[KeyValue]) {
    std::hint::black_box(instance.execute_raw(label, input).unwrap());
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(title: &str, cases: &[(&str, Vec<f64>)]) {
    let stats: Vec<(f64, f64)> = cases
        .iter()
        .map(|(_, samples)| {
            let mut sorted = samples.clone();
            sorted.sort_by(f64::total_cmp);
            (percentile(&sorted, 0.5), percentile(&sorted, 0.99))
        })
        .collect();
    let floor = stats[0].0;
    println!("\n{title} (round trips: {} per case)", cases[0].1.len());
    println!(
        "  {:<52} {:>12} {:>12} {:>9}",
        "case", "median µs", "p99 µs", "vs floor"
    );
    for ((name, _), (median, p99)) in cases.iter().zip(&stats) {
        println!(
            "  {name:<52} {:>12.3} {:>12.3} {:>8.2}x",
            median / 1000.0,
            p99 / 1000.0,
            median / floor
        );
    }
    let (oop, json) = (stats[1].0, stats[2].0);
    println!(
        "  out of process / floor = {:.2}x (target <= 1.5x: {}); out of process / JSON baseline = {:.2}x (target < 1: {}); out of process / in process = {:.0}x",
        oop / floor,
        if oop / floor <= 1.5 { "met" } else { "not met" },
        oop / json,
        if oop < json { "met" } else { "not met" },
        oop / stats[3].0
    );
}

/// Context switches of all threads of process `pid` (voluntary: the thread went to sleep).
fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .filter_map(|t| fs::read_to_string(t.ok()?.path().join("status")).ok())
        .flat_map(|status| {
            status
                .lines()
                .filter(|l| {
                    l.starts_with("voluntary_ctxt_switches")
                        || l.starts_with("nonvoluntary_ctxt_switches")
                })
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// How many times each side's threads sleep and wake per round trip: two wake-ups (one per
/// side) is the floor; each one more is a cross-process or cross-thread wake-up the call
/// pays for. Independent of how busy the machine is, unlike the timings.
fn switches(
    floor: &mut PingPong,
    json: &mut JsonChild,
    remote: &Instance,
    manager: &PluginManager,
) {
    let n = PER_ROUND as u64 * 5;
    let me = std::process::id();
    let worker = manager
        .report_for("bench-0000")
        .unwrap()
        .worker
        .unwrap()
        .pid
        .unwrap();
    let measure = |name: &str, peer: u32, run: &mut dyn FnMut()| {
        let (host0, peer0) = (context_switches(me), context_switches(peer));
        for _ in 0..n {
            run();
        }
        let (host1, peer1) = (context_switches(me), context_switches(peer));
        println!(
            "  {name:<52} host {:>5.2}  peer {:>5.2}",
            (host1 - host0) as f64 / n as f64,
            (peer1 - peer0) as f64 / n as f64
        );
    };
    println!(
        "
context switches per no-op round trip (all threads of each process)"
    );
    let (floor_pid, json_pid) = (floor.child.id(), json.child.id());
    measure("socket-pair ping-pong (floor)", floor_pid, &mut || {
        floor.round_trip()
    });
    measure("out of process: Instance::execute_raw", worker, &mut || {
        call(remote, "noop", &[])
    });
    measure("JSON lines over pipes", json_pid, &mut || {
        json.round_trip("noop", "{}")
    });
}

/// Spawn, handshake, open and `on_load`, measured as the whole `load_file`, against the same
/// load in process.
fn worker_start(worker: &Path, plugin: &Path) {
    let loads = if SMOKE { 3 } else { 30 };
    let mut times = [Vec::new(), Vec::new()];
    for _ in 0..loads {
        for (slot, isolation) in [(0, Isolation::InProcess), (1, Isolation::process())] {
            let manager = PluginManager::new(
                HostConfig::new("1.0.0".parse().unwrap())
                    .worker_program(worker)
                    .isolation(isolation),
            );
            let started = Instant::now();
            let report = manager.load_file(plugin);
            times[slot].push(started.elapsed());
            assert_eq!(report.status, PluginStatus::Active);
        }
    }
    for t in &mut times {
        t.sort();
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("\nload (copy, checks, open, on_load), {loads} loads each");
    println!(
        "  in process: median {:.2} ms, max {:.2} ms",
        ms(times[0][loads / 2]),
        ms(times[0][loads - 1])
    );
    let median = times[1][loads / 2];
    println!(
        "  in a worker (+ spawn, handshake): median {:.2} ms, max {:.2} ms (target <= 20 ms: {})",
        ms(median),
        ms(times[1][loads - 1]),
        if median <= Duration::from_millis(20) {
            "met"
        } else {
            "not met"
        }
    );
}

fn rss_kib() -> u64 {
    let statm = fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0)
        * 4
}

/// The host's resident memory over many reloads, in process (libraries are never unmapped)
/// and in a worker (a reload is a new process).
fn memory_per_reload(worker: &Path, library: &Path) {
    let reloads = if SMOKE { 5 } else { 200 };
    let template = fs::read(library).unwrap();
    println!("\nhost resident memory over {reloads} reloads");
    for isolation in [Isolation::InProcess, Isolation::process()] {
        let name = isolation.name();
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("bench.so");
        fs::write(&source, &template).unwrap();
        let manager = PluginManager::new(
            HostConfig::new("1.0.0".parse().unwrap())
                .worker_program(worker)
                .isolation(isolation),
        );
        assert_eq!(manager.load_file(&source).status, PluginStatus::Active);
        let reload = || {
            let staged = dir.path().join(".staged");
            fs::write(&staged, &template).unwrap();
            fs::rename(&staged, &source).unwrap();
            let report = manager.reload(&source);
            assert!(report
                .messages
                .last()
                .is_some_and(|m| m.starts_with("reloaded")));
        };
        for _ in 0..5 {
            reload();
        }
        std::thread::sleep(Duration::from_millis(200));
        let before = rss_kib();
        let started = Instant::now();
        for _ in 0..reloads {
            reload();
        }
        let took = started.elapsed();
        std::thread::sleep(Duration::from_millis(500)); // the replaced builds retire
        let after = rss_kib();
        println!(
            "  {name:<11} {before} KiB -> {after} KiB: {:+.1} KiB per reload ({:.2} ms per reload)",
            (after as f64 - before as f64) / reloads as f64,
            took.as_secs_f64() * 1000.0 / reloads as f64
        );
    }
}

/// The floor: a child that echoes one byte on a socket pair.
struct PingPong {
    child: Child,
    socket: UnixStream,
}

impl PingPong {
    fn start() -> Self {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--child", "pingpong"])
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .spawn()
            .unwrap();
        Self {
            child,
            socket: ours,
        }
    }

    fn round_trip(&mut self) {
        let mut byte = [1u8];
        self.socket.write_all(&byte).unwrap();
        self.socket.read_exact(&mut byte).unwrap();
    }
}

impl Drop for PingPong {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The baseline: a child that loads the plugin and answers JSON lines.
struct JsonChild {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    line: String,
}

impl JsonChild {
    fn start(plugin: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--child")
            .arg("json")
            .arg(plugin)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            input,
            output,
            line: String::new(),
        }
    }

    fn round_trip(&mut self, label: &str, input_json: &str) {
        writeln!(self.input, r#"{{"label":"{label}","input":{input_json}}}"#).unwrap();
        self.input.flush().unwrap();
        self.line.clear();
        self.output.read_line(&mut self.line).unwrap();
        let answer: serde_json::Value = serde_json::from_str(&self.line).unwrap();
        std::hint::black_box(answer);
    }
}

impl Drop for JsonChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The children: `pingpong` echoes bytes on standard input (a socket); `json PLUGIN` loads
/// the plugin and answers `{"label", "input"}` lines with `{"output"}` lines.
fn child(kind: Option<&str>, plugin: Option<String>) {
    match kind {
        Some("pingpong") => {
            // Standard input is the socket; read and answer on that one descriptor.
            let mut byte = [0u8];
            loop {
                // SAFETY: one byte into and out of a valid buffer, on our own descriptor 0.
                let ok = unsafe {
                    libc::read(0, byte.as_mut_ptr().cast(), 1) == 1
                        && libc::write(0, byte.as_ptr().cast(), 1) == 1
                };
                if !ok {
                    break;
                }
            }
        }
        Some("json") => {
            let manager = PluginManager::new(HostConfig::new("1.0.0".parse().unwrap()));
            let plugin = plugin.expect("the plugin's path");
            assert_eq!(
                manager.load_file(Path::new(&plugin)).status,
                PluginStatus::Active
            );
            let instance = manager
                .instance("bench-0000", &User::new(1, "json"))
                .unwrap();
            let stdin = std::io::stdin().lock();
            let mut stdout = std::io::stdout().lock();
            for line in stdin.lines() {
                let Ok(line) = line else { break };
                let request: serde_json::Value = serde_json::from_str(&line).unwrap();
                let label = request["label"].as_str().unwrap_or_default();
                let input: Values = request["input"]
                    .as_object()
                    .map(|o| o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect())
                    .unwrap_or_default();
                let output = instance.execute(label, &input).unwrap();
                let output: serde_json::Map<String, serde_json::Value> = output
                    .iter()
                    .map(|(k, v)| (k.clone(), to_json(v)))
                    .collect();
                let answer = serde_json::json!({ "output": output });
                if writeln!(stdout, "{answer}")
                    .and_then(|()| stdout.flush())
                    .is_err()
                {
                    break;
                }
            }
        }
        other => panic!("unknown child {other:?}"),
    }
}

fn from_json(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Array(items) => Value::Bytes(
            items
                .iter()
                .map(|b| b.as_u64().unwrap_or(0) as u8)
                .collect::<Vec<_>>()
                .into(),
        ),
        serde_json::Value::String(s) => Value::Str(s.as_str().into()),
        serde_json::Value::Number(n) => Value::Int(n.as_i64().unwrap_or(0)),
        serde_json::Value::Bool(b) => Value::Bool(*b),
        _ => Value::Null,
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Bytes(bytes) => bytes.iter().copied().collect::<Vec<u8>>().into(),
        Value::Str(s) => s.as_str().into(),
        Value::Int(i) => (*i).into(),
        Value::Bool(b) => (*b).into(),
        _ => serde_json::Value::Null,
    }
}
