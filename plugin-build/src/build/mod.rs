//! `plugin-build build` (the default command): cross-builds the plugin for amd64, 386, arm-7
//! and arm64, checks every output, and writes `build/<name>-<arch>.so`.
//!
//! The parts: [`request`] resolves targets and the glibc floor, [`project`] reads the package
//! through cargo, [`probe`] looks at the machine, [`select`] picks the backend and says why,
//! [`backend`] builds each backend's exact command (run through [`crate::process`]),
//! [`cross`] prepares the `cross` backend (engine, build images, mounts),
//! [`check`] verifies the ELF output, [`toolchain`] compares the pinned rustc of plugin and
//! host, [`progress`] and [`report`] show what happens and what came out.

pub mod backend;
pub mod check;
pub mod cross;
mod error;
pub mod probe;
pub mod progress;
pub mod project;
pub mod report;
pub mod request;
pub mod select;
pub mod toolchain;

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

pub use backend::{Backend, BuildOptions};
pub use error::{BuildError, MissingPiece};
use progress::Progress;
pub use project::Project;
use report::Artifact;
pub use request::GlibcVersion;
pub use select::BackendChoice;

use crate::{process::CommandLine, targets::Target};

/// `--message-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MessageFormat {
    /// Status lines on stderr and a summary table on stdout.
    #[default]
    Human,
    /// One JSON object per line on stdout.
    Json,
}

/// How several targets are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Schedule {
    /// One backend invocation per target, one after the other.
    Sequential,
    /// One backend invocation for all targets: cargo interleaves their crates in one job graph
    /// (measured faster on 2 cores: see `docs/building-and-deploying.md`).
    #[default]
    Concurrent,
}

/// Arguments of `plugin-build build`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BuildArgs {
    /// Targets to build: amd64, 386, arm-7, arm64 or all (aliases x86_64, i686, armv7,
    /// aarch64, or the triple); repeatable or comma-separated. Default: this machine's.
    #[arg(long, value_delimiter = ',', value_name = "TARGET")]
    pub target: Vec<String>,

    /// How to build: cross (container), zigbuild (zig as linker), cargo (cross gcc), or auto.
    #[arg(long, value_enum, default_value_t, value_name = "BACKEND")]
    pub backend: BackendChoice,

    /// The glibc floor, e.g. 2.17 (zigbuild only; it becomes the target suffix `.2.17`).
    #[arg(long, value_name = "VERSION")]
    pub glibc: Option<String>,

    /// Build with the release profile (the default).
    #[arg(long, conflicts_with = "debug")]
    pub release: bool,

    /// Build with the dev profile instead of release.
    #[arg(long)]
    pub debug: bool,

    /// The plugin's Cargo.toml (default: the package of the current directory).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,

    /// Where to write `<name>-<arch>.so` (default: `build/` next to the plugin's Cargo.toml).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// Keep the symbol table (by default the plugin is stripped, like gotify's `-ldflags "-w -s"`).
    #[arg(long)]
    pub no_strip: bool,

    /// The host's folder or rust-toolchain.toml, to compare its pinned rustc with the plugin's.
    #[arg(long, value_name = "PATH")]
    pub host: Option<PathBuf>,

    /// Several targets: in one backend invocation (concurrent, the default) or one per target.
    #[arg(long, value_enum, default_value_t, value_name = "HOW")]
    pub schedule: Schedule,

    /// Output format: human, or json (one object per line on stdout).
    #[arg(long, value_enum, default_value_t, value_name = "FMT")]
    pub message_format: MessageFormat,

    /// Print the commands that would run (with their environment) and run nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print each command before it runs.
    #[arg(long, short)]
    pub verbose: bool,

    /// Write the summary table to stderr instead of stdout (no flag: `from-git` keeps stdout
    /// for the package's path).
    #[arg(skip)]
    pub table_on_stderr: bool,
}

/// What a successful build produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The backend used.
    pub backend: Backend,
    /// One entry per target (empty for a dry run).
    pub artifacts: Vec<Artifact>,
}

/// Runs `build` from the command line.
pub fn run(args: &BuildArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match build(args) {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            if args.message_format == MessageFormat::Json {
                report::out_json(&serde_json::json!({
                    "reason": "build-finished",
                    "success": false,
                    "error": err.to_string(),
                }));
            }
            Err(Box::new(err))
        }
    }
}

/// Builds the plugin as `args` say and returns what came out.
pub fn build(args: &BuildArgs) -> Result<Outcome, BuildError> {
    let started = Instant::now();
    let json = args.message_format == MessageFormat::Json;
    let targets = request::resolve_targets(&args.target)?;
    let glibc = args.glibc.as_deref().map(GlibcVersion::parse).transpose()?;
    if let Some(version) = glibc {
        let refused = match args.backend {
            BackendChoice::Cargo => Some(("cargo", "cross C library (Debian's libc6-dev-*-cross)")),
            BackendChoice::Cross => Some(("cross", "container image (set it in Cross.toml)")),
            _ => None,
        };
        if let Some((backend, what)) = refused {
            return Err(BuildError::GlibcNeedsZigbuild {
                backend,
                what,
                version: version.to_string(),
            });
        }
    }
    let project = Project::load(args.manifest_path.as_deref())?;
    let progress = Progress::new(&targets, !json);
    let info = |message: &str| {
        if json {
            report::out_json(&serde_json::json!({"reason": "info", "message": message}));
        }
        progress.status("Info", message);
    };

    let mut selection = select::select(
        args.backend,
        &targets,
        &project.package_dir,
        glibc.is_some(),
        args.dry_run,
    )?;
    let backend = selection.backend;
    let cross_plan = match backend {
        Backend::Cross => {
            let rustc = probe::Rustc::probe(&project.package_dir);
            let plan = cross::plan(&project, &targets, &rustc, args.dry_run)?;
            for piece in &plan.missing {
                if !selection.missing.contains(piece) {
                    selection.missing.push(piece.clone());
                }
            }
            Some(plan)
        }
        _ => None,
    };
    if json {
        report::out_json(&serde_json::json!({
            "reason": "backend-selected",
            "backend": backend,
            "why": selection.reason,
            "missing": selection.missing,
        }));
    }
    progress.status("Backend", &format!("{backend}: {}", selection.reason));
    for piece in &selection.missing {
        progress.status("Warning", &format!("missing {}: {}", piece.what, piece.fix));
    }

    // The toolchain pins of plugin and host (information only).
    let host_pin = args.host.as_deref().map(|path| {
        let pin = toolchain::read_pin(path);
        if pin.is_none() {
            info(&format!(
                "no rust-toolchain.toml found for the host at `{}`",
                path.display()
            ));
        }
        pin
    });
    let plugin_pin = toolchain::find_pin(&project.package_dir);
    for line in toolchain::compare(plugin_pin.as_ref(), host_pin.flatten().as_ref()) {
        info(&line);
    }
    if let Some(plan) = &cross_plan {
        for image in &plan.images {
            info(&match &image.source {
                cross::ImageSource::Ours => {
                    format!("{}: build image `{}`", image.target.name, image.image)
                }
                cross::ImageSource::User(place) => format!(
                    "{}: image `{}` from {place} (the user's setting is kept)",
                    image.target.name, image.image
                ),
            });
        }
        for dir in &plan.mounts {
            info(&format!(
                "mounting `{}` into the container (path dependencies outside the workspace)",
                dir.display()
            ));
        }
        if targets.len() > 1 {
            info("cross builds one target per run (each in its own image)");
        }
    }
    if backend == Backend::Cross {
        match &project.cross_config {
            Some(project::CrossConfig::File(file)) => {
                info(&format!("cross configuration: `{}`", file.display()))
            }
            Some(project::CrossConfig::Metadata(file)) => info(&format!(
                "cross configuration: `[*.metadata.cross]` in `{}`",
                file.display()
            )),
            None => {}
        }
    }

    let options = BuildOptions {
        release: !args.debug,
        strip: !args.no_strip,
        glibc,
        cross_env: cross_plan
            .as_ref()
            .map(|p| p.env.clone())
            .unwrap_or_default(),
    };
    // cross takes the image of the first `--target` only, so it gets one target per run; a
    // plugin that bundles libraries is built with `rustc` and extra arguments, which cargo
    // takes for one target per run only.
    let one_per_run = backend == Backend::Cross || !project.bundle.is_empty();
    let groups: Vec<Vec<Target>> = match (one_per_run, args.schedule) {
        (true, _) | (_, Schedule::Sequential) => targets.iter().map(|t| vec![*t]).collect(),
        (_, Schedule::Concurrent) => vec![targets.clone()],
    };

    if args.dry_run {
        for group in &groups {
            let cmd = backend::command(backend, &project, group, &options);
            if json {
                report::out_json(&plan_json(backend, group, &cmd));
            } else {
                report::out(&cmd.to_string());
            }
        }
        return Ok(Outcome {
            backend,
            artifacts: Vec::new(),
        });
    }

    let out_dir = match &args.out_dir {
        Some(dir) => std::path::absolute(dir).unwrap_or_else(|_| dir.clone()),
        None => project.package_dir.join("build"),
    };
    std::fs::create_dir_all(&out_dir).map_err(|source| BuildError::Io {
        action: "create",
        path: out_dir.clone(),
        source,
    })?;

    let mut artifacts = Vec::new();
    for group in &groups {
        let cmd = backend::command(backend, &project, group, &options);
        if args.verbose {
            progress.status("Running", &format!("`{cmd}`"));
        }
        let what = group
            .iter()
            .map(|t| format!("{} ({})", t.name, backend::target_arg(backend, t, &options)))
            .collect::<Vec<_>>()
            .join(", ");
        progress.start(
            group,
            &format!("{} for {what} with {backend}", project.name),
        );
        let group_started = Instant::now();
        let result = if progress.captures_stderr() {
            cmd.output()
        } else {
            cmd.run_passthrough()
        };
        let output = result.map_err(|source| {
            progress.fail(group);
            progress.done();
            // A container that cannot start (cross's output above shows the engine's error)?
            if let Some(engine) = cross_plan.as_ref().and_then(|p| p.engine.as_ref()) {
                let image = cross_plan
                    .as_ref()
                    .and_then(|p| p.images.iter().find(|i| i.target == group[0]))
                    .map(|i| i.image.clone())
                    .unwrap_or_default();
                if let Err(problem) = engine.try_run(&image) {
                    return BuildError::Engine { problem };
                }
            }
            // A piece the quick check could not see (a rustup target, zig)? Name it and its fix.
            let missing =
                backend::missing(backend, group, &probe::Rustc::probe(&project.package_dir));
            if missing.is_empty() {
                BuildError::Backend {
                    package: project.name.clone(),
                    target: request::names(group),
                    source,
                }
            } else {
                BuildError::Missing {
                    backend: backend.name(),
                    missing,
                }
            }
        })?;
        let seconds = group_started.elapsed().as_secs_f64();
        let found = artifacts_from_messages(&output.stdout, &project, backend);
        for target in group {
            let built = found
                .get(target.triple)
                .cloned()
                .unwrap_or_else(|| project.artifact_path(target.triple, options.profile_dir()));
            let artifact = deliver(&project, target, &built, &out_dir, backend, seconds, &cmd)
                .inspect_err(|_| {
                    progress.fail(std::slice::from_ref(target));
                    progress.done();
                })?;
            progress.finish(
                target,
                &format!(
                    "{} ({}, glibc {})",
                    report::display_path(&artifact.file, &project.package_dir),
                    report::human_size(artifact.size),
                    artifact.glibc.as_deref().unwrap_or("-"),
                ),
            );
            if json {
                report::out_json(&artifact);
            }
            artifacts.push(artifact);
        }
    }

    progress.done();
    if json {
        report::out_json(&serde_json::json!({
            "reason": "build-finished",
            "success": true,
            "backend": backend,
            "targets": targets.iter().map(|t| t.name).collect::<Vec<_>>(),
            "seconds": started.elapsed().as_secs_f64(),
        }));
    } else {
        let base = std::env::current_dir().unwrap_or_default();
        for line in report::table(&artifacts, &base).lines() {
            if args.table_on_stderr {
                eprintln!("{line}");
            } else {
                report::out(line);
            }
        }
    }
    Ok(Outcome { backend, artifacts })
}

/// The plan of one invocation, for `--dry-run --message-format json`.
fn plan_json(backend: Backend, targets: &[Target], cmd: &CommandLine) -> serde_json::Value {
    serde_json::json!({
        "reason": "build-plan",
        "backend": backend,
        "targets": targets.iter().map(|t| t.name).collect::<Vec<_>>(),
        "program": cmd.program(),
        "args": cmd.arguments(),
        "env": cmd.environment().iter().cloned().collect::<HashMap<_, _>>(),
        "cwd": cmd.dir(),
        "command": cmd.to_string(),
    })
}

/// The shared objects of the plugin package in cargo's JSON messages, by target triple (the
/// folder below the target directory; zigbuild's glibc suffix is not part of it).
fn artifacts_from_messages(
    stdout: &[u8],
    project: &Project,
    backend: Backend,
) -> HashMap<String, PathBuf> {
    // cross reports the paths inside its container.
    let map = |path: &Path| match backend {
        Backend::Cross => cross::host_path(project, path),
        _ => path.to_owned(),
    };
    let manifest = &project.manifest_path;
    let mut found = HashMap::new();
    for line in stdout.split(|b| *b == b'\n') {
        let Ok(message) = serde_json::from_slice::<serde_json::Value>(line) else {
            continue;
        };
        let same_package = message["manifest_path"].as_str().is_some_and(|m| {
            let m = map(Path::new(m));
            m == *manifest || m.canonicalize().is_ok_and(|m| m == *manifest)
        });
        if message["reason"] != "compiler-artifact" || !same_package {
            continue;
        }
        let files = message["filenames"].as_array().into_iter().flatten();
        for file in files.filter_map(|f| f.as_str()).map(|f| map(Path::new(f))) {
            if file.extension().is_some_and(|e| e == "so") {
                let triple = crate::targets::TARGETS
                    .iter()
                    .find(|t| file.components().any(|c| c.as_os_str() == t.triple));
                if let Some(t) = triple {
                    found.insert(t.triple.to_owned(), file);
                }
            }
        }
    }
    found
}

/// Checks the built library and writes it to `out_dir/<name>-<arch>.so` (temp file + rename,
/// so a watcher never sees half a file). A file that fails the checks is not written; an output
/// that is already the same build (same size, not older) is left alone.
fn deliver(
    project: &Project,
    target: &Target,
    built: &Path,
    out_dir: &Path,
    backend: Backend,
    seconds: f64,
    cmd: &CommandLine,
) -> Result<Artifact, BuildError> {
    if !built.is_file() {
        return Err(BuildError::NoArtifact {
            target: target.name,
            path: built.to_owned(),
        });
    }
    let io = |action, path: &Path| {
        let path = path.to_owned();
        move |source| BuildError::Io {
            action,
            path,
            source,
        }
    };
    let data = std::fs::read(built).map_err(io("read", built))?;
    let report = check::inspect_bytes(&data, built).map_err(|e| BuildError::Check {
        target: target.name,
        path: built.to_owned(),
        problems: vec![e.to_string()],
    })?;
    let problems = check::problems(&report, target);
    if !problems.is_empty() {
        return Err(BuildError::Check {
            target: target.name,
            path: built.to_owned(),
            problems,
        });
    }

    let dest = out_dir.join(target.file_name(&project.name));
    let up_to_date = (|| -> Option<bool> {
        let (new, old) = (built.metadata().ok()?, dest.metadata().ok()?);
        Some(new.len() == old.len() && old.modified().ok()? >= new.modified().ok()?)
    })()
    .unwrap_or(false);
    if !up_to_date {
        let temp = out_dir.join(format!(".{}.tmp", target.file_name(&project.name)));
        std::fs::write(&temp, &data).map_err(io("write", &temp))?;
        std::fs::rename(&temp, &dest).map_err(io("rename to", &dest))?;
    }
    Ok(Artifact {
        reason: "plugin-artifact",
        target: target.name,
        triple: target.triple,
        backend,
        file: dest,
        size: report.size,
        glibc: report.glibc.map(|g| g.to_string()),
        elf_class: report.class_bits,
        machine: target.machine,
        root_symbol: report.root_symbol,
        stripped: report.stripped,
        seconds,
        command: cmd.to_string(),
    })
}
