//! `plugin-build images`: makes the `cross` backend's build images locally from Debian's
//! packages, one per target, so no image registry is needed (gotify's
//! `gotify/build:{GO_VERSION}-linux-{arch}`, for Rust).
//!
//! Each image is a minimal Debian root file system made by `debootstrap --variant=minbase`
//! with native gcc (build scripts run on the build machine) and the target's cross gcc and C
//! library, imported into the container engine's store with the environment cross expects and
//! labels that record its inputs ([`spec`]). An image whose labels match its inputs is left
//! alone. The Rust toolchain is not in the image: cross mounts the one rustup picks for the
//! plugin; the tag names it so that one name stands for the whole build environment.
//!
//! Every step (debootstrap, tar, import, the check that the image starts and has its linker)
//! runs through [`crate::process`].

pub mod spec;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

pub use spec::{image_name, toolchain_version, ImageSpec, DEFAULT_SUITE};

use crate::{
    build::{probe::Rustc, progress::Progress, report, request, MessageFormat},
    engine::{Engine, EngineError, EngineKind},
    process::{CommandLine, ProcessError},
    targets::{self, Target},
};

/// Arguments of `plugin-build images`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ImagesArgs {
    /// Targets to make images for: amd64, 386, arm-7, arm64 or all (the default);
    /// repeatable or comma-separated.
    #[arg(long, value_delimiter = ',', value_name = "TARGET")]
    pub target: Vec<String>,

    /// The container engine to import into (default: `CROSS_CONTAINER_ENGINE`, else docker,
    /// else podman, whichever answers).
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: Option<EngineKind>,

    /// Rebuild even the images whose inputs have not changed.
    #[arg(long)]
    pub rebuild: bool,

    /// The Debian suite of the root file systems (it sets the glibc the plugins link against).
    #[arg(long, default_value = DEFAULT_SUITE, value_name = "SUITE")]
    pub suite: String,

    /// The Debian mirror for debootstrap (default: debootstrap's own).
    #[arg(long, value_name = "URL")]
    pub mirror: Option<String>,

    /// A plugin's Cargo.toml: the toolchain rustup picks in its folder names the images
    /// (default: the current folder's).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,

    /// Output format: human, or json (one object per image on stdout).
    #[arg(long, value_enum, default_value_t, value_name = "FMT")]
    pub message_format: MessageFormat,

    /// Print what would be built and the commands, and run nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Print each command before it runs.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Why `plugin-build images` failed.
#[derive(Debug, thiserror::Error)]
pub enum ImagesError {
    /// A `--target` value names no known target.
    #[error("unknown target `{name}`; known targets: amd64, 386, arm-7, arm64 and all")]
    UnknownTarget {
        /// What was given.
        name: String,
    },
    /// No rustc to name the images after.
    #[error("cannot tell the Rust toolchain of `{}`: {what}\n  fix: {fix}", .dir.display())]
    NoToolchain {
        /// The folder asked.
        dir: PathBuf,
        /// What is wrong.
        what: String,
        /// How to fix it.
        fix: String,
    },
    /// The build machine is none of the four targets' architectures.
    #[error("this machine (`{arch}`) is none of amd64, 386, arm-7 and arm64; build images are made for the machine they run on")]
    UnknownMachine {
        /// `std::env::consts::ARCH`.
        arch: &'static str,
    },
    /// No usable container engine.
    #[error("{problem}\n  fix: {}", .problem.fix())]
    Engine {
        /// What is wrong with the engine.
        problem: EngineError,
    },
    /// debootstrap needs root.
    #[error("making a root file system with debootstrap needs root\n  fix: `sudo plugin-build images` (the images then live in root's image store, where `sudo` builds find them)")]
    NotRoot,
    /// debootstrap or tar is not installed.
    #[error("`{program}` is not installed\n  fix: `sudo apt-get install -y {package}`")]
    MissingProgram {
        /// The program.
        program: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// A step of making an image failed.
    #[error("making `{image}` failed at its {step} step{}", .log.as_ref().map(|l| format!(" (its log is kept: `{}`)", l.display())).unwrap_or_default())]
    Step {
        /// The image.
        image: String,
        /// What was being done.
        step: &'static str,
        /// debootstrap's own log, kept for reading.
        log: Option<PathBuf>,
        /// The failed command (with its stderr).
        #[source]
        source: Box<ProcessError>,
    },
    /// The new image does not start, or lacks its compilers.
    #[error("the new image `{image}` does not work: {problem}\n  fix: {}", .problem.fix())]
    Check {
        /// The image.
        image: String,
        /// What the trivial container said.
        problem: EngineError,
    },
    /// A file operation failed.
    #[error("cannot {action} `{}`", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl From<EngineError> for ImagesError {
    fn from(problem: EngineError) -> Self {
        ImagesError::Engine { problem }
    }
}

/// What happened to one image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageStatus {
    /// Its inputs had not changed: left alone.
    Fresh,
    /// There was none: built.
    Built,
    /// Its inputs changed (or `--rebuild`): built again.
    Rebuilt,
    /// `--dry-run`: would be built.
    Planned,
}

/// One image and what happened to it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImageOutcome {
    /// Always `image`.
    pub reason: &'static str,
    /// The target name.
    pub target: &'static str,
    /// The image name.
    pub image: String,
    /// What happened.
    pub status: ImageStatus,
    /// Why it was (re)built: the inputs that changed.
    pub changes: Vec<String>,
    /// Seconds it took (0 when fresh).
    pub seconds: f64,
    /// Seconds of each step (debootstrap, pack, import, check), when it was built.
    pub steps: BTreeMap<&'static str, f64>,
    /// The labels that record its inputs.
    pub labels: BTreeMap<String, String>,
}

/// Runs `images` from the command line.
pub fn run(args: &ImagesArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    build_images(args)?;
    Ok(ExitCode::SUCCESS)
}

/// The folder whose rustc names the images: the manifest's folder, else the current one.
fn toolchain_dir(manifest_path: Option<&Path>) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    match manifest_path.map(|m| cwd.join(m)) {
        Some(m) if m.is_dir() => m,
        Some(m) => m.parent().map(Path::to_owned).unwrap_or(cwd),
        None => cwd,
    }
}

/// The Rust toolchain version rustup picks in `dir` (`1.95.0`).
pub fn toolchain_in(dir: &Path) -> Result<String, ImagesError> {
    let rustc = Rustc::probe(dir).map_err(|piece| ImagesError::NoToolchain {
        dir: dir.to_owned(),
        what: piece.what,
        fix: piece.fix,
    })?;
    toolchain_version(&rustc.version).ok_or_else(|| ImagesError::NoToolchain {
        dir: dir.to_owned(),
        what: format!("`rustc -V` printed `{}`", rustc.version),
        fix: "check `rustc -V` in that folder".into(),
    })
}

/// The specs of the images for `targets`, for the toolchain of `dir`.
pub fn specs(
    targets: &[Target],
    toolchain: &str,
    suite: &str,
) -> Result<Vec<ImageSpec>, ImagesError> {
    let machine = targets::host().ok_or(ImagesError::UnknownMachine {
        arch: std::env::consts::ARCH,
    })?;
    Ok(targets
        .iter()
        .map(|t| ImageSpec::new(*t, toolchain, suite, machine))
        .collect())
}

/// Where the root file systems are made: `/var/tmp` (on disk; `/tmp` may be a small tmpfs)
/// unless `TMPDIR` says otherwise.
fn work_base() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ if Path::new("/var/tmp").is_dir() => PathBuf::from("/var/tmp"),
        _ => std::env::temp_dir(),
    }
}

/// The debootstrap command for `spec` into `root`.
pub fn debootstrap_command(
    spec: &ImageSpec,
    root: &Path,
    cache: Option<&Path>,
    mirror: Option<&str>,
) -> CommandLine {
    let mut cmd = CommandLine::new("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--arch={}", spec.arch))
        .arg(format!("--include={}", spec.packages.join(",")));
    if let Some(cache) = cache {
        cmd = cmd.arg(format!("--cache-dir={}", cache.display()));
    }
    cmd = cmd.arg(&spec.suite).arg(root.to_string_lossy());
    if let Some(mirror) = mirror {
        cmd = cmd.arg(mirror);
    }
    cmd
}

/// The import command: the packed root file system becomes `spec.name`.
pub fn import_command(engine: &Engine, spec: &ImageSpec, tarball: &Path) -> CommandLine {
    let mut cmd = CommandLine::new(engine.program.clone()).arg("import");
    for change in spec.import_changes() {
        cmd = cmd.arg("--change").arg(change);
    }
    cmd.arg(tarball.to_string_lossy()).arg(&spec.name)
}

/// The check of a new image: it starts, and its compilers run.
fn check_command(engine: &Engine, spec: &ImageSpec) -> CommandLine {
    let linker = spec
        .env
        .iter()
        .find(|(k, _)| *k == spec.target.linker_env())
        .map(|(_, v)| v.as_str())
        .unwrap_or("gcc");
    let script = format!("gcc --version >/dev/null && {linker} --version");
    engine.run_command(&spec.name, &["sh", "-c", &script])
}

/// Makes (or leaves alone) the images `args` ask for, and says what happened to each.
pub fn build_images(args: &ImagesArgs) -> Result<Vec<ImageOutcome>, ImagesError> {
    let json = args.message_format == MessageFormat::Json;
    let values = if args.target.is_empty() {
        vec!["all".to_owned()]
    } else {
        args.target.clone()
    };
    let targets = request::resolve_targets(&values).map_err(|e| match e {
        crate::build::BuildError::UnknownTarget { name } => ImagesError::UnknownTarget { name },
        other => ImagesError::UnknownTarget {
            name: other.to_string(),
        },
    })?;
    let toolchain = toolchain_in(&toolchain_dir(args.manifest_path.as_deref()))?;
    let specs = specs(&targets, &toolchain, &args.suite)?;
    let engine = Engine::find(args.engine)?;
    let progress = Progress::new(&targets, !json && !args.dry_run);
    progress.status(
        "Engine",
        &format!(
            "{} ({}); images for rustc {toolchain}, Debian {} {}",
            engine.program,
            match engine.source {
                crate::engine::EngineSource::Flag => "--engine",
                crate::engine::EngineSource::Environment => "CROSS_CONTAINER_ENGINE",
                crate::engine::EngineSource::Path => "found on PATH",
            },
            args.suite,
            specs.first().map(|s| s.arch).unwrap_or_default(),
        ),
    );

    // Which images need work.
    let mut plan = Vec::new();
    let mut outcomes = Vec::new();
    for spec in &specs {
        let existing = engine.inspect(&spec.name);
        let (status, changes, old_id) = match &existing {
            None => (ImageStatus::Built, Vec::new(), None),
            Some((id, labels)) => {
                let changes = spec.changes(labels);
                if changes.is_empty() && !args.rebuild {
                    (ImageStatus::Fresh, changes, Some(id.clone()))
                } else if changes.is_empty() {
                    (
                        ImageStatus::Rebuilt,
                        vec!["--rebuild".into()],
                        Some(id.clone()),
                    )
                } else {
                    (ImageStatus::Rebuilt, changes, Some(id.clone()))
                }
            }
        };
        if status == ImageStatus::Fresh {
            progress.finish_as(
                &spec.target,
                "Fresh",
                &format!("{} is fresh (inputs unchanged)", spec.name),
            );
            let outcome = ImageOutcome {
                reason: "image",
                target: spec.target.name,
                image: spec.name.clone(),
                status,
                changes,
                seconds: 0.0,
                steps: BTreeMap::new(),
                labels: spec.labels(),
            };
            if json {
                report::out_json(&outcome);
            }
            outcomes.push(outcome);
        } else {
            plan.push((spec, status, changes, old_id));
        }
    }

    if args.dry_run {
        let work = work_base().join("plugin-build-image-XXXX");
        for (spec, _, changes, _) in plan {
            let root = work.join("root");
            let tarball = work.join("root.tar");
            let commands = [
                debootstrap_command(spec, &root, None, args.mirror.as_deref()),
                tar_command(&root, &tarball),
                import_command(&engine, spec, &tarball),
                check_command(&engine, spec),
            ];
            let outcome = ImageOutcome {
                reason: "image",
                target: spec.target.name,
                image: spec.name.clone(),
                status: ImageStatus::Planned,
                changes,
                seconds: 0.0,
                steps: BTreeMap::new(),
                labels: spec.labels(),
            };
            if json {
                let mut value = serde_json::to_value(&outcome).unwrap_or_default();
                value["commands"] = commands.iter().map(|c| c.to_string()).collect();
                report::out_json(&value);
            } else {
                report::out(&format!("# {} ({})", spec.name, spec.target.name));
                for cmd in &commands {
                    report::out(&cmd.to_string());
                }
            }
            outcomes.push(outcome);
        }
        return Ok(outcomes);
    }
    if plan.is_empty() {
        progress.done();
        return Ok(outcomes);
    }

    // Real work: root, debootstrap and tar, and an engine that can start containers (checked
    // first with an image that is already there, so a broken engine fails in a second).
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(ImagesError::NotRoot);
    }
    for (program, package) in [("debootstrap", "debootstrap"), ("tar", "tar")] {
        if which::which(program).is_err() {
            return Err(ImagesError::MissingProgram { program, package });
        }
    }
    if let Some(image) = engine.images.first() {
        engine.try_run(image)?;
    }
    let base = work_base();
    let cache = tempfile::Builder::new()
        .prefix("plugin-build-debs-")
        .tempdir_in(&base)
        .map_err(|source| ImagesError::Io {
            action: "create a folder in",
            path: base.clone(),
            source,
        })?;
    let make = |(spec, status, changes, old_id): Planned| -> Result<ImageOutcome, ImagesError> {
        let started = Instant::now();
        let steps = build_one(&engine, spec, &base, cache.path(), args, &progress)
            .inspect_err(|_| progress.fail(std::slice::from_ref(&spec.target)))?;
        // The replaced image would only take space: remove it (unless a container uses it).
        if let Some(old) = old_id {
            if engine.inspect(&spec.name).is_some_and(|(id, _)| id != old) {
                let _ = CommandLine::new(engine.program.clone())
                    .args(["rmi", &old])
                    .output();
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        progress.finish(
            &spec.target,
            &format!(
                "{} {} in {seconds:.0}s",
                spec.name,
                if status == ImageStatus::Built {
                    "built"
                } else {
                    "rebuilt"
                }
            ),
        );
        let outcome = ImageOutcome {
            reason: "image",
            target: spec.target.name,
            image: spec.name.clone(),
            status,
            changes,
            seconds,
            steps,
            labels: spec.labels(),
        };
        if json {
            report::out_json(&outcome);
        }
        Ok(outcome)
    };
    // The first image alone: it fills the package cache with the packages every image shares
    // and proves the engine starts containers. The others then run side by side (dpkg waits on
    // the disk much of the time), each adding only its own cross packages to the cache.
    let mut plan = plan.into_iter();
    let result = plan.next().map(&make).transpose().and_then(|first| {
        outcomes.extend(first);
        let jobs = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let make = &make;
        loop {
            let batch: Vec<Planned> = plan.by_ref().take(jobs).collect();
            if batch.is_empty() {
                break;
            }
            let results: Vec<Result<ImageOutcome, ImagesError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = batch
                    .into_iter()
                    .map(|item| scope.spawn(move || make(item)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                    })
                    .collect()
            });
            for result in results {
                outcomes.push(result?);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        progress.done();
        return Err(e);
    }
    progress.done();
    Ok(outcomes)
}

/// The last `lines` lines of a failed command's stderr (debootstrap's runs to hundreds).
fn tail(err: ProcessError, lines: usize) -> ProcessError {
    match err {
        ProcessError::Failed {
            command,
            status,
            stderr,
        } => {
            let all: Vec<&str> = stderr.lines().collect();
            let start = all.len().saturating_sub(lines);
            let mut kept = all[start..].join("\n");
            if start > 0 {
                kept = format!("({start} earlier lines left out)\n{kept}");
            }
            ProcessError::Failed {
                command,
                status,
                stderr: kept,
            }
        }
        other => other,
    }
}

fn tar_command(root: &Path, tarball: &Path) -> CommandLine {
    CommandLine::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(root.to_string_lossy())
        .arg("-cf")
        .arg(tarball.to_string_lossy())
        .arg(".")
}

/// One image to make: its spec, what will happen, why, and the id of the image it replaces.
type Planned<'a> = (&'a ImageSpec, ImageStatus, Vec<String>, Option<String>);

/// Makes one image: debootstrap into a temporary folder, pack it, import it, check it.
/// Returns the seconds of each step.
fn build_one(
    engine: &Engine,
    spec: &ImageSpec,
    base: &Path,
    cache: &Path,
    args: &ImagesArgs,
    progress: &Progress,
) -> Result<BTreeMap<&'static str, f64>, ImagesError> {
    let times = std::sync::Mutex::new(BTreeMap::new());
    let work = tempfile::Builder::new()
        .prefix("plugin-build-image-")
        .tempdir_in(base)
        .map_err(|source| ImagesError::Io {
            action: "create a folder in",
            path: base.to_owned(),
            source,
        })?;
    let root = work.path().join("root");
    let tarball = work.path().join("root.tar");
    let step = |what: &'static str, word: &str, message: String, cmd: CommandLine| {
        progress.step(&spec.target, word, &message);
        if args.verbose {
            progress.status("Running", &format!("`{cmd}`"));
        }
        let started = Instant::now();
        let result = cmd
            .output()
            .map(|_| ())
            .map_err(|source| ImagesError::Step {
                image: spec.name.clone(),
                step: what,
                log: None,
                source: Box::new(tail(source, 20)),
            });
        if let Ok(mut times) = times.lock() {
            times.insert(what, started.elapsed().as_secs_f64());
        }
        result
    };
    progress.start(
        std::slice::from_ref(&spec.target),
        &format!("image {}", spec.name),
    );
    let bootstrapped = step(
        "debootstrap",
        "Bootstrapping",
        format!(
            "debootstrap {} {} with {}",
            spec.suite,
            spec.arch,
            spec.packages.join(", ")
        ),
        debootstrap_command(spec, &root, Some(cache), args.mirror.as_deref()),
    );
    if let Err(ImagesError::Step {
        image,
        step,
        source,
        ..
    }) = bootstrapped
    {
        // Keep the half-made root file system when it has a log: it says which package
        // failed and why.
        let log = root.join("debootstrap/debootstrap.log");
        let log = log.is_file().then(|| {
            let _ = work.keep();
            log
        });
        return Err(ImagesError::Step {
            image,
            step,
            log,
            source,
        });
    }
    step(
        "pack",
        "Packing",
        format!("packing the root file system for {}", spec.name),
        tar_command(&root, &tarball),
    )?;
    // The root file system is in the tarball now; free its space before the import copies it.
    let _ = std::fs::remove_dir_all(&root);
    step(
        "import",
        "Importing",
        format!("importing into {}", engine.program),
        import_command(engine, spec, &tarball),
    )?;
    let _ = std::fs::remove_file(&tarball);
    progress.step(
        &spec.target,
        "Checking",
        &format!("starting {} (gcc and the linker)", spec.name),
    );
    let started = Instant::now();
    engine
        .check_run(&check_command(engine, spec))
        .map_err(|problem| ImagesError::Check {
            image: spec.name.clone(),
            problem,
        })?;
    let mut times = times.into_inner().unwrap_or_default();
    times.insert("check", started.elapsed().as_secs_f64());
    Ok(times)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_errors_keep_their_last_lines() {
        let err = ProcessError::Failed {
            command: "debootstrap".into(),
            status: "exit status: 1".into(),
            stderr: (1..=30)
                .map(|i| format!("I: line {i}"))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        let ProcessError::Failed { stderr, .. } = tail(err, 3) else {
            unreachable!()
        };
        assert_eq!(
            stderr,
            "(27 earlier lines left out)\nI: line 28\nI: line 29\nI: line 30"
        );
    }

    #[test]
    fn the_debootstrap_command_names_suite_packages_cache_and_mirror() {
        let amd64 = targets::find("amd64").unwrap();
        let spec = ImageSpec::new(targets::find("386").unwrap(), "1.95.0", "bookworm", amd64);
        let cmd = debootstrap_command(
            &spec,
            Path::new("/w/root"),
            Some(Path::new("/w/debs")),
            Some("http://deb.example/debian"),
        );
        assert_eq!(
            cmd.to_string(),
            "debootstrap --variant=minbase --arch=amd64 \
             --include=gcc,libc6-dev,gcc-i686-linux-gnu,libc6-dev-i386-cross \
             --cache-dir=/w/debs bookworm /w/root http://deb.example/debian"
        );
    }
}
