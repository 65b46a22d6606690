//! `text-pipeline`: list the pipeline's plugins and their extensions, or run text through it.
//!
//! Exit codes: 0 success; 1 a step failed (the others ran); 2 bad command line.

use std::{io::Read, path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};
use text_pipeline::Pipeline;

/// A text pipeline whose formatters and linters are plugins.
#[derive(Debug, Parser)]
#[command(name = "text-pipeline", version, about)]
struct Cli {
    /// The plugins folder.
    #[arg(
        long,
        value_name = "DIR",
        env = "TEXT_PIPELINE_PLUGINS",
        global = true,
        default_value = "plugins"
    )]
    plugins_dir: PathBuf,
    /// Keep layout-check results here across runs.
    #[arg(long, value_name = "DIR", global = true)]
    cache_dir: Option<PathBuf>,
    /// Write JSON to stdout instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load the plugins and show each one's extensions with their versions and status.
    List,
    /// Run the text of FILE (or standard input) through every formatter, then every linter.
    Run {
        /// The input file; standard input when omitted.
        file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.plugins_dir.is_dir() {
        eprintln!(
            "error: plugins folder `{}` does not exist\n  fix: pass `--plugins-dir DIR` (or set TEXT_PIPELINE_PLUGINS)",
            cli.plugins_dir.display()
        );
        return ExitCode::from(2);
    }
    let pipeline = Pipeline::new(&cli.plugins_dir, cli.cache_dir.as_deref());
    let reports = pipeline.load();
    match cli.command {
        Command::List => {
            if cli.json {
                let plugins: Vec<serde_json::Value> = reports
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "path": r.path,
                            "id": r.id(),
                            "status": r.status.name(),
                            "error": r.error().map(ToString::to_string),
                            "extensions": r.extensions,
                        })
                    })
                    .collect();
                println!("{}", serde_json::json!({ "plugins": plugins }));
                return ExitCode::SUCCESS;
            }
            for r in &reports {
                println!(
                    "{} ({}): {}",
                    r.id().unwrap_or("-"),
                    r.path.display(),
                    r.status.name()
                );
                if let Some(error) = r.error() {
                    for line in error.to_string().lines() {
                        println!("    {line}");
                    }
                }
                for e in &r.extensions {
                    println!(
                        "  {} {} ({}): {}",
                        e.id,
                        e.version,
                        e.interface,
                        e.status.name()
                    );
                    if let Some(error) = e.error() {
                        for line in error.to_string().lines() {
                            println!("    {line}");
                        }
                    }
                }
            }
            ExitCode::SUCCESS
        }
        Command::Run { file } => {
            let mut text = String::new();
            let read = match &file {
                Some(path) => std::fs::read_to_string(path).map(|t| text = t),
                None => std::io::stdin().read_to_string(&mut text).map(|_| ()),
            };
            if let Err(e) = read {
                eprintln!("error: cannot read the input: {e}");
                return ExitCode::from(2);
            }
            let outcome = pipeline.run(&text);
            if cli.json {
                let doc = serde_json::json!({
                    "text": outcome.text,
                    "steps": outcome.steps.iter().map(|s| serde_json::json!({"plugin": s.plugin, "name": s.name, "version": s.version})).collect::<Vec<_>>(),
                    "findings": outcome.findings.iter().map(|(p, f)| serde_json::json!({"plugin": p, "line": f.line, "message": f.message.as_str()})).collect::<Vec<_>>(),
                    "failures": outcome.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
                });
                println!("{doc}");
            } else {
                print!("{}", outcome.text);
                if !outcome.text.ends_with('\n') {
                    println!();
                }
                for step in &outcome.steps {
                    eprintln!(
                        "formatted by `{}` ({} {})",
                        step.plugin, step.name, step.version
                    );
                }
                for (plugin, finding) in &outcome.findings {
                    eprintln!("line {}: {} (`{plugin}`)", finding.line, finding.message);
                }
                for failure in &outcome.failures {
                    eprintln!("skipped: {failure}");
                }
            }
            if outcome.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
