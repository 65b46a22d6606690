//! `plugin-host`: load a folder of plugins and list or call them, without writing a host.
//!
//! Exit codes: 0 success; 1 the plugin's call failed; 2 bad command line; 3 the plugin is
//! missing or not active.

use std::{
    io::Write,
    path::PathBuf,
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use clap::{CommandFactory, Parser, Subcommand};
use plugrack_host::{
    CallError, HostConfig, Isolation, LoadFrom, PluginEvent, PluginManager, PluginReport, User,
    Value, Values, WorkerSettings,
};

#[path = "plugin-host/shell.rs"]
mod shell;
#[path = "plugin-host/user.rs"]
mod user;

const EXIT_CALL_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_NOT_AVAILABLE: u8 = 3;

/// Load a folder of plugins and list or call them.
#[derive(Debug, Parser)]
#[command(name = "plugin-host", version, about)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug with abi_stable's full reports).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The folder of plugins (the external folder): `.so` files and deployed plugin folders.
    #[arg(long, value_name = "DIR", env = "PLUGINS_DIR")]
    plugins_dir: PathBuf,
    /// A folder of bundled plugins, loaded first; they win over external ones with the same id.
    #[arg(long, value_name = "DIR")]
    bundled_dir: Option<PathBuf>,
    /// Write each plugin's log to DIR/plugin-<id>.log (levels: PLUGIN_<ID>_LOG_LEVEL).
    #[arg(long, value_name = "DIR")]
    log_dir: Option<PathBuf>,
    /// How long a plugin's on_load may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    lifecycle_timeout_ms: u64,
    /// The host application version plugins are checked against.
    #[arg(long, value_name = "SEMVER", default_value = "1.0.0")]
    host_version: semver::Version,
    /// Persist plugin storage in this folder (default: in memory).
    #[arg(long, value_name = "DIR")]
    storage_dir: Option<PathBuf>,
    /// Load only plugins signed by this public key (repeatable: any of them). Without it,
    /// signatures are not required.
    #[arg(long, value_name = "FILE")]
    trusted_key: Vec<PathBuf>,
    /// Write JSON to stdout instead of text.
    #[arg(long)]
    json: bool,
    /// Where plugins run: in this process, or each in a worker process of its own (a crash
    /// is the worker's, unloading frees its memory; a call costs a round trip).
    #[arg(long, value_enum, value_name = "WHERE", default_value = "in-process")]
    isolation: IsolationArg,
    /// With `--isolation process`: how long one call may take before the worker is killed
    /// and restarted, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    call_timeout_ms: u64,
    /// With `--isolation process`: each worker's address-space limit in MiB (0: none).
    #[arg(long, value_name = "MIB", default_value_t = 4096)]
    memory_limit_mib: u64,
    /// Load plugin files where they are, without a private copy (faster, less memory). Only
    /// for a folder whose files are replaced by renames (plugin-build deploy, uploads, `mv`):
    /// a loaded file overwritten in place (`cp`) crashes the host.
    #[arg(long)]
    load_in_place: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum IsolationArg {
    /// In the host's process.
    InProcess,
    /// Each plugin in a worker process.
    Process,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load every plugin in the folder and show each one's status.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Call a plugin's execute capability: LABEL with KEY=VALUE (text) or KEY:=JSON inputs.
    /// Without a LABEL, describe the plugin. The instance is the user's: each user (by id,
    /// see --user-id) has its own instance, storage and configuration.
    Call {
        #[command(flatten)]
        common: Common,
        /// The plugin id.
        id: String,
        /// The operation.
        label: Option<String>,
        /// Inputs: KEY=TEXT or KEY:=JSON (numbers, true/false, null, objects).
        #[arg(value_name = "KEY=VALUE")]
        values: Vec<String>,
        #[command(flatten)]
        user: user::UserArgs,
        /// Before the call, give the user's instance this configuration (the plugin's JSON
        /// text) and store it for that user (with --storage-dir, for later runs too).
        #[arg(long, value_name = "JSON")]
        set_config: Option<String>,
    },
    /// Load the folders, then watch them: print every load, reload, refusal and unload as it
    /// happens (one JSON object per line with --json). Each version of a file or plugin folder
    /// is tried once: a refused one again only when it is written, replaced or touched.
    Watch {
        #[command(flatten)]
        common: Common,
        /// Stop after this many seconds (default: run until interrupted).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Write a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (to stdout, or one file per command with --out-dir).
    Man {
        /// Write plugin-host.1 and one plugin-host-<command>.1 per subcommand into DIR.
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
    },
}

struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!(
                "[{} {}] {}",
                record.level().as_str().to_lowercase(),
                record.target(),
                record.args()
            );
        }
    }
    fn flush(&self) {}
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = log::set_logger(&StderrLogger);
    log::set_max_level(match cli.verbose {
        0 => log::LevelFilter::Error,
        1 => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    });
    let result = match cli.command {
        Command::List { common } => list(&common),
        Command::Call {
            common,
            id,
            label,
            values,
            user,
            set_config,
        } => call(
            &common,
            &id,
            label.as_deref(),
            &values,
            &user.user(),
            set_config.as_deref(),
        ),
        Command::Watch { common, seconds } => watch(&common, seconds),
        Command::Completions { shell } => shell::completions(Cli::command(), shell),
        Command::Man { out_dir } => shell::man(Cli::command(), out_dir.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_CALL_FAILED)
        }
    }
}

fn manager(common: &Common) -> Result<PluginManager, plugrack_host::trust::KeyError> {
    let mut config = HostConfig::new(common.host_version.clone()).on_message(|event| {
        eprintln!(
            "message from `{}` (priority {}): {}: {}",
            event.plugin_id, event.priority, event.title, event.message
        );
    });
    config = config.external_dir(&common.plugins_dir).lifecycle_timeout(
        std::time::Duration::from_millis(common.lifecycle_timeout_ms),
    );
    if let Some(dir) = &common.storage_dir {
        config = config.storage_dir(dir);
    }
    if let Some(dir) = &common.bundled_dir {
        config = config.bundled_dir(dir);
    }
    if let Some(dir) = &common.log_dir {
        config = config.log_dir(dir);
    }
    for file in &common.trusted_key {
        config = config.trusted_key(plugrack_host::trust::TrustedKey::from_file(file)?);
    }
    if common.load_in_place {
        config = config.load_from(LoadFrom::InPlace);
    }
    if let IsolationArg::Process = common.isolation {
        let limit = (common.memory_limit_mib > 0).then_some(common.memory_limit_mib << 20);
        config = config.isolation(Isolation::Process(
            WorkerSettings::default()
                .call_timeout(Duration::from_millis(common.call_timeout_ms))
                .address_space(limit),
        ));
    }
    Ok(PluginManager::new(config))
}

/// The manager, or the exit code after printing why a trusted key cannot be used.
fn manager_or_exit(common: &Common) -> Result<PluginManager, ExitCode> {
    manager(common).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

fn report_json(report: &PluginReport) -> serde_json::Value {
    let info = report.info.as_ref();
    serde_json::json!({
        "path": report.path,
        "id": report.id(),
        "name": info.map(|i| &i.name),
        "version": info.map(|i| &i.version),
        "api_version": info.map(|i| &i.api_version),
        "capabilities": info.map(|i| &i.capabilities),
        "status": report.status.name(),
        "origin": report.origin,
        "messages": report.messages,
        "skipped": match &report.status { plugrack_host::PluginStatus::Skipped { reason } => Some(reason), _ => None },
        "load_time_ms": report.load_time.map(|d| d.as_secs_f64() * 1000.0),
        "load_phases_ms": report.load_phases.map(|p| {
            let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
            serde_json::json!({
                "checks": ms(p.checks),
                "open": ms(p.open),
                "layout_check": ms(p.layout_check),
                "on_load": ms(p.on_load),
                "extensions": ms(p.extensions),
            })
        }),
        "metrics": report.metrics,
        "extensions": report.extensions,
        "isolation": report.isolation,
        "worker": report.worker,
        "error": report.error().map(|e| serde_json::json!({
            "code": e.refusal.code(),
            "message": e.to_string(),
            "cause": e.refusal.to_string(),
            "fix": e.refusal.fix(),
        })),
    })
}

fn list(common: &Common) -> std::io::Result<ExitCode> {
    if !common.plugins_dir.is_dir() {
        eprintln!(
            "error: plugins folder `{}` does not exist or is not a folder",
            common.plugins_dir.display()
        );
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let manager = match manager_or_exit(common) {
        Ok(manager) => manager,
        Err(code) => return Ok(code),
    };
    let reports = manager.discover();
    let mut out = std::io::stdout().lock();
    if common.json {
        let doc = serde_json::json!({
            "host_api_version": manager.api_version(),
            "plugins_dir": common.plugins_dir,
            "plugins": reports.iter().map(report_json).collect::<Vec<_>>(),
        });
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).expect("JSON values serialise")
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 5]> = reports
        .iter()
        .map(|r| {
            let info = r.info.as_ref();
            [
                r.id().unwrap_or("-").to_owned(),
                info.map_or("-".into(), |i| i.version.clone()),
                info.map_or("-".into(), |i| i.api_version.clone()),
                r.status.name().to_owned(),
                r.path.display().to_string(),
            ]
        })
        .collect();
    let header = ["ID", "VERSION", "API", "STATUS", "FILE"].map(String::from);
    let widths: Vec<usize> = (0..5)
        .map(|c| {
            rows.iter()
                .chain([&header])
                .map(|r| r[c].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |row: &[String; 5]| {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        cells.join("  ").trim_end().to_owned()
    };
    writeln!(out, "{}", line(&header))?;
    for (row, report) in rows.iter().zip(&reports) {
        writeln!(out, "{}", line(row))?;
        if let Some(error) = report.error() {
            for text in error.to_string().lines() {
                writeln!(out, "    {text}")?;
            }
        }
        for extension in &report.extensions {
            writeln!(
                out,
                "    extension {} {} ({}): {}",
                extension.id, extension.version, extension.interface, extension.status
            )?;
            if let Some(error) = extension.error() {
                for text in error.to_string().lines() {
                    writeln!(out, "      {text}")?;
                }
            }
        }
    }
    let count = |status: &str| reports.iter().filter(|r| r.status.name() == status).count();
    writeln!(
        out,
        "{} active, {} invalid, {} skipped; host plugrack-api {}",
        count("active"),
        count("invalid"),
        count("skipped"),
        manager.api_version()
    )?;
    Ok(ExitCode::SUCCESS)
}

fn parse_value(arg: &str) -> Result<(String, Value), String> {
    if let Some((key, json)) = arg.split_once(":=") {
        let parsed: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| format!("`{arg}`: the text after `:=` is not JSON ({e})"))?;
        let value = match parsed {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s.into()),
            other => Value::Json(other.to_string().into()),
        };
        return Ok((key.to_owned(), value));
    }
    match arg.split_once('=') {
        Some((key, text)) if !key.is_empty() => Ok((key.to_owned(), Value::Str(text.into()))),
        _ => Err(format!("`{arg}` is not KEY=VALUE or KEY:=JSON")),
    }
}

fn value_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::Str(s) => s.as_str().into(),
        Value::Bytes(b) => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
            .into(),
        Value::Json(j) => serde_json::from_str(j).unwrap_or_else(|_| j.as_str().into()),
    }
}

fn call(
    common: &Common,
    id: &str,
    label: Option<&str>,
    args: &[String],
    user: &User,
    set_config: Option<&str>,
) -> std::io::Result<ExitCode> {
    let mut input = Values::new();
    for arg in args {
        match parse_value(arg) {
            Ok((k, v)) => {
                input.insert(k, v);
            }
            Err(message) => {
                eprintln!("error: {message}");
                return Ok(ExitCode::from(EXIT_USAGE));
            }
        }
    }
    let manager = match manager_or_exit(common) {
        Ok(manager) => manager,
        Err(code) => return Ok(code),
    };
    let reports = manager.discover();
    let Some(info) = manager.info(id) else {
        let refused = reports
            .iter()
            .find(|r| r.id().is_some_and(|rid| rid.eq_ignore_ascii_case(id)));
        match refused.and_then(PluginReport::error) {
            Some(error) => eprintln!("error: {error}"),
            None => eprintln!(
                "error: no plugin with id `{id}` in `{}`",
                common.plugins_dir.display()
            ),
        }
        return Ok(ExitCode::from(EXIT_NOT_AVAILABLE));
    };
    if let Some(text) = set_config {
        if let Err(e) = manager.set_config(id, user, text) {
            return Ok(failure(&e));
        }
    }
    let instance = match manager.instance(id, user) {
        Ok(instance) => instance,
        Err(e) => return Ok(failure(&e)),
    };
    let mut out = std::io::stdout().lock();
    let Some(label) = label else {
        writeln!(
            out,
            "{} {} ({}), plugrack-api {}",
            info.name, info.version, info.id, info.api_version
        )?;
        if !info.description.is_empty() {
            writeln!(out, "{}", info.description)?;
        }
        writeln!(out, "capabilities: {}", info.capabilities.join(", "))?;
        writeln!(
            out,
            "instance for user `{}` (id {}{})",
            user.name,
            user.id,
            if user.admin { ", admin" } else { "" }
        )?;
        if let Ok(routes) = instance.routes() {
            for r in routes {
                writeln!(out, "route: {} {} (label `{}`)", r.method, r.path, r.label)?;
            }
        }
        if let Ok(markdown) = instance.display("http://localhost") {
            writeln!(out, "\n{}", markdown.trim_end())?;
        }
        return Ok(ExitCode::SUCCESS);
    };
    match instance.execute(label, &input) {
        Ok(output) => {
            if common.json {
                let doc: serde_json::Map<String, serde_json::Value> = output
                    .iter()
                    .map(|(k, v)| (k.clone(), value_json(v)))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Object(doc))?;
            } else {
                for (key, value) in &output {
                    let shown = match value {
                        Value::Str(s) => s.to_string(),
                        other => value_json(other).to_string(),
                    };
                    writeln!(out, "{key} = {shown}")?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(failure(&e)),
    }
}

fn failure(error: &CallError) -> ExitCode {
    eprintln!("error: {error}");
    match error {
        CallError::NotFound { .. } | CallError::NotActive { .. } => {
            ExitCode::from(EXIT_NOT_AVAILABLE)
        }
        _ => ExitCode::from(EXIT_CALL_FAILED),
    }
}

fn event_json(event: &PluginEvent) -> serde_json::Value {
    match event {
        PluginEvent::Loaded { id, source } => {
            serde_json::json!({"event": "loaded", "id": id, "source": source})
        }
        PluginEvent::Refused { source, message } => {
            serde_json::json!({"event": "refused", "source": source, "message": message})
        }
        PluginEvent::Reloaded { id, source } => {
            serde_json::json!({"event": "reloaded", "id": id, "source": source})
        }
        PluginEvent::ReloadRefused { id, message } => {
            serde_json::json!({"event": "reload-refused", "id": id, "message": message})
        }
        PluginEvent::Unloaded { id } => serde_json::json!({"event": "unloaded", "id": id}),
        PluginEvent::Crashed { id, message } => {
            serde_json::json!({"event": "crashed", "id": id, "message": message})
        }
        other => serde_json::json!({"event": "other", "debug": format!("{other:?}")}),
    }
}

fn watch(common: &Common, seconds: Option<u64>) -> std::io::Result<ExitCode> {
    let manager = match manager_or_exit(common) {
        Ok(manager) => Arc::new(manager),
        Err(code) => return Ok(code),
    };
    let events = manager.subscribe();
    manager.discover();
    let _watcher = match plugrack_host::watch(&manager, Duration::from_millis(300)) {
        Ok(watcher) => watcher,
        Err(e) => {
            eprintln!(
                "error: cannot watch `{}`: {e}",
                common.plugins_dir.display()
            );
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let folders: Vec<String> = [&common.bundled_dir, &Some(common.plugins_dir.clone())]
        .into_iter()
        .flatten()
        .map(|d| format!("`{}`", d.display()))
        .collect();
    eprintln!("    Watching {}", folders.join(" and "));
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
    let mut out = std::io::stdout().lock();
    loop {
        let wait = match deadline {
            Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                Some(left) => left,
                None => break,
            },
            None => Duration::from_secs(3600),
        };
        let Ok(event) = events.recv_timeout(wait) else {
            continue;
        };
        if common.json {
            writeln!(out, "{}", event_json(&event))?;
        } else {
            match &event {
                PluginEvent::Loaded { id, source } => {
                    writeln!(out, "loaded    {id} from {}", source.display())?
                }
                PluginEvent::Reloaded { id, source } => {
                    writeln!(out, "reloaded  {id} from {}", source.display())?
                }
                PluginEvent::Unloaded { id } => writeln!(out, "unloaded  {id}")?,
                PluginEvent::Refused { message, .. } => writeln!(out, "refused   {message}")?,
                PluginEvent::ReloadRefused { id, message } => {
                    writeln!(out, "kept      {id}: {message}")?
                }
                PluginEvent::Crashed { id, message } => writeln!(out, "crashed   {id}: {message}")?,
                other => writeln!(out, "event     {other:?}")?,
            }
        }
        out.flush()?;
    }
    Ok(ExitCode::SUCCESS)
}
