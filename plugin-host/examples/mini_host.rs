//! A complete small host application: loads bundled and external plugins, reports every
//! plugin's status, logs events, reloads deployed builds while it runs, and calls each
//! plugin's `execute` capability once a second on behalf of a user.
//!
//! ```sh
//! cargo run -p plugrack-host --example mini_host -- plugins/bundled plugins/external 30
//! ```

use std::{
    path::PathBuf,
    sync::Arc,
    thread,
    time::{Duration, Instant},
};

use plugrack_host::{HostConfig, PluginEvent, PluginManager, PluginStatus, User, Values};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let bundled = PathBuf::from(args.next().unwrap_or_else(|| "plugins/bundled".into()));
    let external = PathBuf::from(args.next().unwrap_or_else(|| "plugins/external".into()));
    let seconds: u64 = args.next().map_or(Ok(10), |s| s.parse())?;
    std::fs::create_dir_all(&bundled)?;
    std::fs::create_dir_all(&external)?;

    // 1. Configure: this application's version, its folders, where plugin data and logs go,
    //    and what to do with the messages plugins send.
    let config = HostConfig::new("1.4.0".parse()?)
        .bundled_dir(&bundled)
        .external_dir(&external)
        .storage_dir("plugin-data")
        .log_dir("logs")
        .on_message(|m| {
            println!(
                "[message] {} (from {}): {}",
                m.title, m.plugin_id, m.message
            )
        });
    let manager = Arc::new(PluginManager::new(config));

    // 2. Subscribe before loading, so no event is missed.
    let events = manager.subscribe();
    thread::spawn(move || {
        for event in events {
            match event {
                PluginEvent::Loaded { id, .. } => println!("[event] loaded {id}"),
                PluginEvent::Reloaded { id, .. } => println!("[event] reloaded {id}"),
                PluginEvent::Unloaded { id } => println!("[event] unloaded {id}"),
                PluginEvent::Refused { message, .. } => println!("[event] refused:\n{message}"),
                PluginEvent::ReloadRefused { id, message } => {
                    println!("[event] kept {id}: {message}")
                }
                PluginEvent::Crashed { id, message } => println!("[event] {id} crashed: {message}"),
                // Events are `#[non_exhaustive]`: a newer plugrack-host may add kinds.
                other => println!("[event] {other:?}"),
            }
        }
    });

    // 3. Load everything; a bad plugin is reported, never fatal.
    for report in manager.discover() {
        match &report.status {
            PluginStatus::Active => println!("{:>8}  {}", "active", report.id().unwrap_or("?")),
            PluginStatus::Invalid(error) => println!("{:>8}  {error}", "invalid"),
            other => println!(
                "{:>8}  {}: {other}",
                report.status.name(),
                report.path.display()
            ),
        }
    }

    // 4. Pick up deployed builds while running.
    let _watcher = plugrack_host::watch(&manager, Duration::from_millis(300))?;

    // 5. Serve: call every active plugin that offers `execute`, once a second.
    let user = User::new(1, "alice");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < deadline {
        for report in manager.reports() {
            let Some(info) = report.info.filter(|i| i.capabilities.contains(&"execute")) else {
                continue;
            };
            match manager
                .instance(&info.id, &user)
                .and_then(|i| i.execute("greet", &Values::new()))
            {
                Ok(out) => println!("{}: {out:?}", info.id),
                Err(e) => println!("{}: {e}", info.id),
            }
        }
        thread::sleep(Duration::from_secs(1));
    }

    // 6. Report what happened; dropping the manager unloads every plugin.
    for report in manager.reports().into_iter().filter(|r| r.info.is_some()) {
        let m = &report.metrics;
        println!(
            "{}: {} calls, {} errors, {} panics, p50 {:?} ns, p99 {:?} ns",
            report.id().unwrap_or("?"),
            m.calls,
            m.errors,
            m.panics,
            m.p50_ns,
            m.p99_ns
        );
    }
    Ok(())
}
