//! The benchmarks' harness: cases measured against a baseline in the same run, with their
//! samples interleaved, and per-call instruction counts under callgrind.
//!
//! Why not criterion or divan: both measure one benchmark after another. On a machine shared
//! with other builds the load changes from one minute to the next, so a ratio between two
//! benchmarks measured a minute apart says more about the machine than about the code. Here
//! every sample round runs every case once, in turn, so a change in load hits all cases
//! alike; the median of the rounds is reported, and ratios are taken between medians of the
//! same run.
//!
//! Wall-clock figures on a loaded machine are noisy; instruction counts are not. With
//! `PLUGIN_BENCH_INSTRUCTIONS=1` the harness runs each case again in two child processes
//! under `valgrind --tool=callgrind`, with two iteration counts, and reports the difference
//! in instructions divided by the difference in iterations: the instructions one call
//! executes, the same on any machine load (not its time: a cache miss or an atomic
//! instruction costs far more than an `add`).

use std::{
    process::Command,
    time::{Duration, Instant},
};

/// Whether this is the unoptimised smoke run of `cargo test --all-targets`.
pub const SMOKE: bool = cfg!(debug_assertions);

/// The environment variable that selects one case in a child process: `group:case:iterations`.
const CHILD: &str = "PLUGIN_BENCH_CHILD";

/// Iteration counts of the two callgrind runs per case.
const INSTRUCTION_RUNS: (u64, u64) = (2_000, 22_000);

/// One measured case: a closure that runs the operation `n` times.
pub struct Case<'a> {
    name: String,
    run: Box<dyn FnMut(u64) + 'a>,
    /// Per sample: CPU time of this thread per call.
    cpu_ns: Vec<f64>,
    /// Per sample: wall-clock time per call.
    wall_ns: Vec<f64>,
}

/// A group of cases measured together; the first case is the group's floor.
pub struct Group<'a> {
    title: String,
    cases: Vec<Case<'a>>,
}

/// What a group measured: per case, its name, median time per call and, when asked for,
/// instructions per call.
///
/// The time is the CPU time of the measuring thread (`CLOCK_THREAD_CPUTIME_ID`): on a machine
/// shared with other work, the wall clock also counts the time the thread waited for a core,
/// which has nothing to do with the call. The wall-clock medians are reported beside it.
pub struct Measured {
    /// Case names, in order.
    pub names: Vec<String>,
    /// Median CPU nanoseconds per call, in order.
    pub median_ns: Vec<f64>,
    /// Median wall-clock nanoseconds per call, in order.
    pub median_wall_ns: Vec<f64>,
    /// Instructions per call (callgrind), when `PLUGIN_BENCH_INSTRUCTIONS` is set.
    pub instructions: Option<Vec<f64>>,
}

impl Measured {
    /// The median of the case named `name`.
    pub fn ns(&self, name: &str) -> f64 {
        self.median_ns[self.index(name)]
    }

    /// Instructions per call of the case named `name`, when counted.
    pub fn instructions(&self, name: &str) -> Option<f64> {
        self.instructions.as_ref().map(|i| i[self.index(name)])
    }

    fn index(&self, name: &str) -> usize {
        self.names
            .iter()
            .position(|n| n == name)
            .unwrap_or_else(|| panic!("no case named `{name}`"))
    }
}

impl<'a> Group<'a> {
    /// An empty group.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            cases: Vec::new(),
        }
    }

    /// Adds a case; `run(n)` performs the operation `n` times.
    pub fn case(&mut self, name: &str, run: impl FnMut(u64) + 'a) -> &mut Self {
        self.cases.push(Case {
            name: name.to_owned(),
            run: Box::new(run),
            cpu_ns: Vec::new(),
            wall_ns: Vec::new(),
        });
        self
    }

    /// Measures every case (`samples` interleaved rounds) and prints the table. In a child
    /// process started for instruction counting, runs the selected case and exits, or
    /// returns `None` when another group is selected.
    pub fn measure(mut self, samples: usize) -> Option<Measured> {
        if let Some((group, case, iterations)) = child_selection() {
            if group == self.title {
                (self.cases[case].run)(iterations);
                std::process::exit(0);
            }
            return None;
        }
        let iterations: Vec<u64> = self
            .cases
            .iter_mut()
            .map(|c| calibrate(&mut c.run))
            .collect();
        for _ in 0..samples {
            for (case, &n) in self.cases.iter_mut().zip(&iterations) {
                let (started, cpu) = (Instant::now(), thread_cpu_ns());
                (case.run)(n);
                case.cpu_ns.push((thread_cpu_ns() - cpu) / n as f64);
                case.wall_ns
                    .push(started.elapsed().as_nanos() as f64 / n as f64);
            }
        }
        let names: Vec<String> = self.cases.iter().map(|c| c.name.clone()).collect();
        let median_ns: Vec<f64> = self.cases.iter().map(|c| median(&c.cpu_ns)).collect();
        let median_wall_ns: Vec<f64> = self.cases.iter().map(|c| median(&c.wall_ns)).collect();
        let instructions = std::env::var_os("PLUGIN_BENCH_INSTRUCTIONS").map(|_| {
            (0..self.cases.len())
                .map(|case| instructions_per_call(&self.title, case))
                .collect::<Vec<f64>>()
        });
        let measured = Measured {
            names,
            median_ns,
            median_wall_ns,
            instructions,
        };
        print_table(&self.title, samples, &measured);
        Some(measured)
    }
}

fn child_selection() -> Option<(String, usize, u64)> {
    let value = std::env::var(CHILD).ok()?;
    let mut parts = value.rsplitn(3, ':');
    let iterations = parts.next()?.parse().ok()?;
    let case = parts.next()?.parse().ok()?;
    Some((parts.next()?.to_owned(), case, iterations))
}

/// Whether this process is a child started to count one case's instructions.
pub fn is_instruction_child() -> bool {
    std::env::var_os(CHILD).is_some()
}

fn calibrate(run: &mut dyn FnMut(u64)) -> u64 {
    let target = if SMOKE {
        Duration::from_millis(2)
    } else {
        Duration::from_millis(20)
    };
    let mut iterations = 1_000;
    loop {
        let started = Instant::now();
        run(iterations);
        if started.elapsed() > target {
            return iterations;
        }
        iterations *= 2;
    }
}

/// The median of `samples`.
pub fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn instructions_per_call(group: &str, case: usize) -> f64 {
    let (few, many) = INSTRUCTION_RUNS;
    let count = |iterations: u64| -> u64 {
        let exe = std::env::current_exe().expect("the benchmark's own path");
        let output = Command::new("valgrind")
            .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
            .arg(&exe)
            .env(CHILD, format!("{group}:{case}:{iterations}"))
            .env_remove("PLUGIN_BENCH_INSTRUCTIONS")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run valgrind (install it: `apt-get install valgrind`): {e}")
            });
        let stderr = String::from_utf8_lossy(&output.stderr);
        stderr
            .lines()
            .find_map(|line| line.split("Collected : ").nth(1))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no instruction count in valgrind's output:\n{stderr}"))
    };
    let (a, b) = (count(few), count(many));
    b.saturating_sub(a) as f64 / (many - few) as f64
}

fn print_table(title: &str, samples: usize, measured: &Measured) {
    let floor = measured.median_ns[0];
    println!("\n{title} (median of {samples} interleaved samples; ns/call is thread CPU time)");
    print!(
        "  {:<56} {:>10} {:>9} {:>10}",
        "case", "ns/call", "vs floor", "wall ns"
    );
    if measured.instructions.is_some() {
        print!(" {:>11}", "instr/call");
    }
    println!();
    for (i, name) in measured.names.iter().enumerate() {
        let ns = measured.median_ns[i];
        print!(
            "  {name:<56} {ns:>10.2} {:>8.2}x {:>10.2}",
            ns / floor,
            measured.median_wall_ns[i]
        );
        if let Some(instructions) = &measured.instructions {
            print!(" {:>11.1}", instructions[i]);
        }
        println!();
    }
}

/// Prints one ratio line in the form the docs quote: `no-op <case> / <baseline> = N.NNx`,
/// with the target when there is one.
pub fn ratio_line(label: &str, ratio: f64, target: Option<(&str, bool)>) {
    match target {
        Some((target, met)) => println!(
            "  {label} = {ratio:.2}x  (target {target}: {})",
            if met { "met" } else { "not met" }
        ),
        None => println!("  {label} = {ratio:.2}x"),
    }
}

/// Calls per second of one thread and of `threads` threads running the same operation at
/// once, with the CPU time each call cost its thread.
#[derive(Debug, Clone, Copy)]
pub struct Scaling {
    /// Calls per second (wall clock), one thread.
    pub one_per_second: f64,
    /// Calls per second (wall clock), all threads together.
    pub many_per_second: f64,
    /// CPU nanoseconds per call of one thread alone.
    pub one_cpu_ns: f64,
    /// CPU nanoseconds per call of each thread when they run together.
    pub many_cpu_ns: f64,
}

impl Scaling {
    /// How many times the calls per second of one thread the threads get together.
    pub fn throughput_ratio(&self) -> f64 {
        self.many_per_second / self.one_per_second
    }
}

fn thread_cpu_ns() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec to write to.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e9 + t.tv_nsec as f64
}

/// One round: `threads` threads each run `op(calls)` at once; returns (wall seconds, mean
/// CPU nanoseconds per call).
///
/// The wall time runs from the first thread's start to the last thread's end, each read by
/// the thread itself: on a loaded machine the coordinating thread can wake long after the
/// workers started (a clock read there once made a round look 0.07 times as long as it was).
fn run_threads(threads: usize, calls: u64, op: &(dyn Fn(u64) + Sync)) -> (f64, f64) {
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    op(1_000); // warm: the thread's first calls set up its per-thread state
                    barrier.wait();
                    let (started, cpu) = (Instant::now(), thread_cpu_ns());
                    op(calls);
                    (started, Instant::now(), thread_cpu_ns() - cpu)
                })
            })
            .collect();
        let spans: Vec<(Instant, Instant, f64)> = workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect();
        let first_start = spans.iter().map(|s| s.0).min().expect("a thread");
        let last_end = spans.iter().map(|s| s.1).max().expect("a thread");
        let cpu: f64 = spans.iter().map(|s| s.2).sum();
        (
            (last_end - first_start).as_secs_f64(),
            cpu / (threads as f64 * calls as f64),
        )
    })
}

/// Measures the scaling of each operation from one thread to `threads` threads, in
/// `samples` interleaved rounds (every operation, one thread then all threads, per round).
/// Returns the medians per operation.
pub fn measure_scaling(
    threads: usize,
    samples: usize,
    ops: &[(&str, &(dyn Fn(u64) + Sync))],
) -> Vec<Scaling> {
    let calls: Vec<u64> = ops
        .iter()
        .map(|(_, op)| {
            let mut once = |n: u64| op(n);
            calibrate(&mut once)
        })
        .collect();
    let mut rounds: Vec<Vec<(f64, f64, f64, f64)>> = vec![Vec::new(); ops.len()];
    for _ in 0..samples {
        for (i, (_, op)) in ops.iter().enumerate() {
            let (one_wall, one_cpu) = run_threads(1, calls[i], *op);
            let (many_wall, many_cpu) = run_threads(threads, calls[i], *op);
            rounds[i].push((
                calls[i] as f64 / one_wall,
                (threads as u64 * calls[i]) as f64 / many_wall,
                one_cpu,
                many_cpu,
            ));
        }
    }
    let results: Vec<Scaling> = rounds
        .iter()
        .map(|r| {
            let column = |f: fn(&(f64, f64, f64, f64)) -> f64| {
                median(&r.iter().map(f).collect::<Vec<f64>>())
            };
            Scaling {
                one_per_second: column(|s| s.0),
                many_per_second: column(|s| s.1),
                one_cpu_ns: column(|s| s.2),
                many_cpu_ns: column(|s| s.3),
            }
        })
        .collect();
    println!("\n1 thread against {threads} threads (median of {samples} interleaved rounds)");
    println!(
        "  {:<44} {:>12} {:>12} {:>8} {:>10} {:>10}",
        "case",
        "1 thr Mc/s",
        format!("{threads} thr Mc/s"),
        "ratio",
        "1 thr cpu",
        format!("{threads} thr cpu")
    );
    for ((name, _), s) in ops.iter().zip(&results) {
        println!(
            "  {name:<44} {:>12.2} {:>12.2} {:>7.2}x {:>8.2}ns {:>8.2}ns",
            s.one_per_second / 1e6,
            s.many_per_second / 1e6,
            s.throughput_ratio(),
            s.one_cpu_ns,
            s.many_cpu_ns
        );
    }
    results
}
