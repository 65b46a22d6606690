//! Requests per second and latency of a plugin route against a plain axum route returning
//! the same body, in the same server and the same run, over HTTP on 127.0.0.1.
//!
//! The plugin route is the showcase's `GET /hello` webhook (`/plugin/showcase/custom/TOKEN/hello`:
//! token look-up, route table, the instance, the call across the boundary, metrics); the
//! baseline is `GET /bench/plain`, an axum handler answering the same `Hello, admin!` text,
//! mounted beside the server's own routes; a second baseline, `GET
//! /shaped/showcase/custom/TOKEN/hello`, is a plain handler behind a route of the webhook's
//! shape (same URL length for the client to parse, the same path parameters extracted), so
//! that what is left between it and the plugin route is the server's plugin work and the
//! call. Each way the server can make plugin calls
//! ([`CallMode`]) gets its own server; within one server the two routes run in interleaved
//! rounds (alternating which goes first), so machine load hits both alike; the ratio is also
//! given as the median of the rounds' ratios. Clients and server share the machine (2 cores
//! here): the ratio is the point, not the absolute rate.
//!
//! Run: `cargo bench -p plugrack-server --bench load` (release plugin, 20 000 requests per
//! route and mode). Under `cargo test --all-targets` it is a smoke run: debug plugin, a few
//! hundred requests.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use plugrack_server::{CallMode, Server, ServerConfig};

#[expect(
    dead_code,
    reason = "the benchmark uses only the cargo runner of the shared file"
)]
#[path = "../../tests/src/examples.rs"]
mod examples;

const SMOKE: bool = cfg!(debug_assertions);
/// Requests per route and mode.
const REQUESTS: usize = if SMOKE { 300 } else { 20_000 };
/// Interleaved rounds the requests are split into.
const ROUNDS: usize = if SMOKE { 3 } else { 20 };
/// Connections kept open at once.
const CONCURRENCY: usize = 8;
const PASSWORD: &str = "bench-password";

/// The showcase plugin, optimised unless this is the smoke run.
fn showcase() -> PathBuf {
    let root = examples::workspace_root();
    let target = root.join("target").join("e2e");
    let mut cmd = examples::cargo(None);
    cmd.current_dir(&root)
        .args(["build", "-p", "showcase", "--lib", "--target-dir"])
        .arg(&target);
    let profile = if SMOKE { "debug" } else { "release" };
    if !SMOKE {
        cmd.arg("--release");
    }
    examples::run(cmd, &format!("the showcase plugin ({profile})"));
    target.join(profile).join("libshowcase.so")
}

#[derive(Default)]
struct Run {
    latencies: Vec<Duration>,
    elapsed: Duration,
    /// CPU time this process used (server and clients), user + system.
    cpu: Duration,
    /// Requests per second of each round.
    rounds: Vec<f64>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// CPU time per request, server and client together.
    fn cpu_per_request(&self) -> Duration {
        self.cpu / self.latencies.len() as u32
    }

    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
    }
}

/// Sends `count` GETs to `url` over `CONCURRENCY` keep-alive connections; every answer
/// must be `expected`.
async fn load(client: &reqwest::Client, url: &str, count: usize, expected: &str, into: &mut Run) {
    let started = Instant::now();
    let cpu_started = cpu_time();
    let per_task = count / CONCURRENCY;
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, url, expected) = (client.clone(), url.to_owned(), expected.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let sent = Instant::now();
                let response = client.get(&url).send().await.expect("a response");
                assert_eq!(response.status(), 200, "{url}");
                let body = response.text().await.expect("a body");
                assert_eq!(body, expected, "{url}");
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    for task in tasks {
        into.latencies.extend(task.await.expect("a client task"));
    }
    let elapsed = started.elapsed();
    into.elapsed += elapsed;
    into.cpu += cpu_time().saturating_sub(cpu_started);
    into.rounds
        .push((per_task * CONCURRENCY) as f64 / elapsed.as_secs_f64());
}

/// The CPU time this process has used so far (every thread, user + system). Unlike wall
/// time it barely moves when other processes load the machine.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// The runs of one call mode: the plain route, the plain route of the webhook's shape, the
/// plugin route.
struct Measured {
    plain: Run,
    shaped: Run,
    plugin: Run,
}

async fn measure(mode: CallMode, plugin: &std::path::Path) -> Measured {
    let root = tempfile::tempdir().unwrap();
    let plugins = root.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::copy(plugin, plugins.join("showcase.so")).unwrap();
    let mut config = ServerConfig::new(&plugins, root.path().join("data"));
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.calls = mode;
    config.admin_password = Some(PASSWORD.into());
    let server = Server::start(config).await.expect("the server starts");
    let base = format!("http://{}", server.local_addr());
    let router = plugrack_server::api::router(Arc::clone(server.state()))
        .route(
            "/bench/plain",
            axum::routing::get(|| async { "Hello, admin!" }),
        )
        .route(
            "/shaped/{id}/custom/{token}/{*path}",
            axum::routing::get(
                |axum::extract::Path(params): axum::extract::Path<Vec<(String, String)>>| async move {
                    assert_eq!(params.len(), 3);
                    "Hello, admin!"
                },
            ),
        );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve_router(router, async move {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let enabled: serde_json::Value = client
        .post(format!("{base}/api/plugins/showcase/enable"))
        .basic_auth("admin", Some(PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook = format!(
        "{}hello",
        enabled["webhook_url"].as_str().expect("a webhook URL")
    );
    let plain = format!("{base}/bench/plain");
    let shaped = hook.replacen("/plugin/", "/shaped/", 1);
    assert_eq!(shaped.len(), hook.len());
    let expected = "Hello, admin!";
    // Warm up every path (connections, route table, first-call costs).
    let mut warm = Run::default();
    for url in [&plain, &shaped, &hook] {
        load(&client, url, CONCURRENCY * 10, expected, &mut warm).await;
    }

    let mut runs = [Run::default(), Run::default(), Run::default()];
    let urls = [&plain, &shaped, &hook];
    let per_round = REQUESTS / ROUNDS;
    for round in 0..ROUNDS {
        // Rotate which route goes first, so none always follows another.
        for k in 0..urls.len() {
            let i = (round + k) % urls.len();
            load(&client, urls[i], per_round, expected, &mut runs[i]).await;
        }
    }
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    let [plain, shaped, plugin] = runs;
    Measured {
        plain,
        shaped,
        plugin,
    }
}

fn main() {
    let plugin = showcase();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "{} requests per route and mode, {CONCURRENCY} connections, {ROUNDS} interleaved rounds{}",
        REQUESTS / ROUNDS * ROUNDS,
        if SMOKE {
            " (smoke run: debug build)"
        } else {
            ""
        }
    );
    println!(
        "{:<15} {:>11} {:>11} {:>7} {:>10} {:>10} {:>10} {:>7} {:>7} {:>17} {:>17}",
        "calls",
        "plain req/s",
        "plugin",
        "ratio",
        "plain CPU",
        "shaped CPU",
        "plugin CPU",
        "ratio",
        "shaped",
        "p50 plain/plugin",
        "p99 plain/plugin"
    );
    for mode in [
        CallMode::BlockInPlace,
        CallMode::SpawnBlocking,
        CallMode::Inline,
    ] {
        let Measured {
            plain,
            shaped,
            plugin: plugin_run,
        } = runtime.block_on(measure(mode, &plugin));
        // Round by round (the routes ran back to back): robust to bursts of load.
        let mut per_round: Vec<f64> = plugin_run
            .rounds
            .iter()
            .zip(&plain.rounds)
            .map(|(p, b)| p / b)
            .collect();
        per_round.sort_by(f64::total_cmp);
        let wall_ratio = per_round[per_round.len() / 2];
        let cpu = |run: &Run| run.cpu_per_request().as_secs_f64();
        println!(
            "{:<15} {:>11.0} {:>11.0} {:>6.1}% {:>7.1} µs {:>7.1} µs {:>7.1} µs {:>6.1}% {:>6.1}% {:>17} {:>17}",
            mode.name(),
            plain.rate(),
            plugin_run.rate(),
            wall_ratio * 100.0,
            cpu(&plain) * 1e6,
            cpu(&shaped) * 1e6,
            cpu(&plugin_run) * 1e6,
            cpu(&plain) / cpu(&plugin_run) * 100.0,
            cpu(&shaped) / cpu(&plugin_run) * 100.0,
            format!(
                "{}/{}",
                micros(plain.percentile(0.50)),
                micros(plugin_run.percentile(0.50))
            ),
            format!(
                "{}/{}",
                micros(plain.percentile(0.99)),
                micros(plugin_run.percentile(0.99))
            ),
        );
    }
    println!(
        "req/s: wall-clock rate of each route; ratio: plugin/plain, the median over the rounds"
    );
    println!(
        "CPU: CPU time per request of this process (server and clients); ratio: plain/plugin, i.e."
    );
    println!("  requests per CPU-second through the plugin as a share of the plain route's (100% = no cost);");
    println!("  shaped: the same against the plain route of the webhook's URL shape");
}
