//! `plugin-build cap`: pins every crate a plugin shares with its host to exactly the host's
//! version, so that both are built from the same sources (gotify's `gomod-cap`, without its
//! gaps).
//!
//! The work is split by topic: [`lockfile`] reads every `Cargo.lock` format, [`line`](mod@line) is the
//! semver-compatible line rule, [`interfaces`] finds the interface crates (host-defined
//! extension points) in the plugin's graph, [`plan`] matches the plugin's full resolved graph
//! (transitive packages too) against the host's, [`apply`] lets cargo move the versions and verifies the
//! result, [`workspace`] finds the plugin's files and restores them on failure, [`report`]
//! prints tables or JSON lines, and [`error`] holds [`CapError`]. This module ties them
//! together in [`cap`] (the library entry) and [`run`] (the subcommand).
//!
//! ```no_run
//! use plugrack_build::cap::{cap, CapOptions, Mode};
//!
//! let outcome = cap(&CapOptions {
//!     from: "../host/Cargo.lock".into(),
//!     manifest_path: Some("my-plugin/Cargo.toml".into()),
//!     mode: Mode::Check,
//!     offline: false,
//! })?;
//! for pin in &outcome.plan.pins {
//!     println!("{} {} -> {}", pin.name, pin.from, pin.to);
//! }
//! # Ok::<(), plugrack_build::cap::CapError>(())
//! ```

pub mod apply;
pub mod cargo;
pub mod error;
pub mod interfaces;
pub mod line;
pub mod lockfile;
pub mod plan;
pub mod report;
pub mod workspace;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

pub use apply::{Applied, Conflict, Moved};
pub use error::{AbiMismatch, CapError};
pub use lockfile::{Lock, LockedPackage, Source};
pub use plan::{Direction, Pin, Plan};
pub use report::MessageFormat;

use crate::{EXIT_FAILURE, EXIT_SUCCESS};
use plan::Unshareable;
use report::Reporter;
use workspace::{PluginWorkspace, Snapshot};

/// Arguments of `plugin-build cap`.
#[derive(Debug, Clone, clap::Args)]
pub struct CapArgs {
    /// The host's Cargo.lock, or the host's folder (which must hold a Cargo.lock).
    #[arg(long, value_name = "HOST")]
    pub from: PathBuf,

    /// The plugin's Cargo.toml (or its folder); the current folder when omitted.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,

    /// Change nothing; list every shared crate that differs from the host; exit 1 if any.
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,

    /// Change nothing; print what would be pinned.
    #[arg(long)]
    pub dry_run: bool,

    /// Run cargo with `--offline` (the registry index must be cached).
    #[arg(long)]
    pub offline: bool,

    /// How to print the result.
    #[arg(long, value_enum, default_value_t = MessageFormat::Human, value_name = "FMT")]
    pub message_format: MessageFormat,
}

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Pin the shared crates (the default).
    Apply,
    /// Change nothing; report every mismatch; fail if any.
    Check,
    /// Change nothing; report the plan.
    DryRun,
}

impl Mode {
    /// `apply`, `check` or `dry-run`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Mode::Apply => "apply",
            Mode::Check => "check",
            Mode::DryRun => "dry-run",
        }
    }
}

/// The library form of [`CapArgs`].
#[derive(Debug, Clone)]
pub struct CapOptions {
    /// The host's Cargo.lock or folder.
    pub from: PathBuf,
    /// The plugin's Cargo.toml or folder (`None`: the current folder).
    pub manifest_path: Option<PathBuf>,
    /// What to do.
    pub mode: Mode,
    /// Pass `--offline` to cargo.
    pub offline: bool,
}

impl From<&CapArgs> for CapOptions {
    fn from(args: &CapArgs) -> Self {
        CapOptions {
            from: args.from.clone(),
            manifest_path: args.manifest_path.clone(),
            mode: if args.check {
                Mode::Check
            } else if args.dry_run {
                Mode::DryRun
            } else {
                Mode::Apply
            },
            offline: args.offline,
        }
    }
}

/// What a run found and did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The mode it ran in.
    pub mode: Mode,
    /// The host's lock.
    pub host: Lock,
    /// The plugin's lock before anything was pinned.
    pub plugin: Lock,
    /// The interface crates found in the plugin's graph.
    pub interfaces: Vec<String>,
    /// Where the plugin is.
    pub workspace: PluginWorkspace,
    /// The matching.
    pub plan: Plan,
    /// What cargo did (apply mode only).
    pub applied: Option<Applied>,
    /// `--manifest-path` as given, for hints.
    pub manifest_path: Option<PathBuf>,
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Shared packages that differed from the host.
    pub differing: usize,
    /// Pins applied.
    pub pinned: usize,
    /// Differing packages below the host's version.
    pub up: usize,
    /// Differing packages above the host's version.
    pub down: usize,
    /// Pins refused by cargo.
    pub conflicts: usize,
    /// Shared packages already at the host's version.
    pub already: usize,
    /// Packages the host does not share.
    pub plugin_only: usize,
    /// Path and workspace packages.
    pub local: usize,
    /// Other changes cargo made.
    pub moved: usize,
}

impl Outcome {
    /// The counts.
    pub fn summary(&self) -> Summary {
        let up = self
            .plan
            .pins
            .iter()
            .filter(|p| p.direction() == Direction::Up)
            .count();
        Summary {
            differing: self.plan.pins.len(),
            pinned: self.applied.as_ref().map_or(0, |a| a.pinned.len()),
            up,
            down: self.plan.pins.len() - up,
            conflicts: self.applied.as_ref().map_or(0, |a| a.conflicts.len()),
            already: self.plan.already.len(),
            plugin_only: self.plan.plugin_only.len(),
            local: self.plan.local.len(),
            moved: self.applied.as_ref().map_or(0, |a| a.moved.len()),
        }
    }

    /// The error that makes this run exit non-zero, if any: an ABI mismatch (check and dry
    /// run list it with the rest), differing crates in check mode, conflicts in apply mode.
    pub fn failure(&self) -> Option<CapError> {
        if !self.plan.abi.is_empty() {
            return Some(CapError::AbiIncompatible {
                mismatches: self.plan.abi.clone(),
            });
        }
        if !self.plan.interfaces.is_empty() {
            return Some(CapError::InterfaceIncompatible {
                mismatches: self.plan.interfaces.clone(),
            });
        }
        match (self.mode, &self.applied) {
            (Mode::Check, _) if !self.plan.pins.is_empty() => Some(CapError::Mismatches {
                count: self.plan.pins.len(),
                host_lock: self.host.path.clone(),
                manifest_path: self.manifest_path.clone(),
            }),
            (Mode::Apply, Some(a)) if !a.conflicts.is_empty() => Some(CapError::Conflicts {
                count: a.conflicts.len(),
            }),
            _ => None,
        }
    }
}

/// The host's lock from `--from`: a lockfile, or a folder holding one.
pub fn host_lock_path(from: &Path) -> Result<PathBuf, CapError> {
    if from.is_dir() {
        let lock = from.join("Cargo.lock");
        if lock.is_file() {
            Ok(lock)
        } else if from.join("Cargo.toml").is_file() {
            Err(CapError::HostLockNotGenerated {
                folder: from.to_owned(),
            })
        } else {
            Err(CapError::HostLockMissing { path: lock })
        }
    } else if from.exists() {
        Ok(from.to_owned())
    } else {
        Err(CapError::HostLockMissing {
            path: from.to_owned(),
        })
    }
}

/// Runs `cap` without printing anything. The plugin's files are unchanged unless this returns
/// `Ok` in [`Mode::Apply`] (conflicts included: the other pins are kept).
pub fn cap(options: &CapOptions) -> Result<Outcome, CapError> {
    cap_with(options, &Reporter::new(MessageFormat::Json))
}

fn cap_with(options: &CapOptions, reporter: &Reporter) -> Result<Outcome, CapError> {
    let host_path = host_lock_path(&options.from)?;
    let host = Lock::read(&host_path)?;
    let cargo = cargo::Cargo::new(options.offline);
    let ws = PluginWorkspace::locate(options.manifest_path.as_deref(), &cargo)?;
    reporter.status(
        "Capping",
        &format!(
            "`{}` to `{}` (lockfile v{}, {} packages)",
            ws.name,
            host_path.display(),
            host.format,
            host.packages.len()
        ),
    );
    let mut snapshot = Snapshot::take(&[&ws.lock, &ws.seed_manifest])?;
    if options.mode == Mode::Apply || !ws.lock.exists() {
        apply::sync(&ws, &cargo)?;
    }
    let plugin = Lock::read(&ws.lock)?;
    let interfaces = interfaces::find(&ws, &cargo)?;
    let plan = Plan::with_interfaces(&host, &plugin, &interfaces);
    if !plan.unshareable.is_empty() {
        return Err(refusal(&plan, &host_path).expect("unshareable crates are a refusal"));
    }
    let mut outcome = Outcome {
        mode: options.mode,
        host,
        plugin,
        interfaces,
        workspace: ws,
        plan,
        applied: None,
        manifest_path: options.manifest_path.clone(),
    };
    if options.mode == Mode::Apply {
        if let Some(err) = refusal(&outcome.plan, &outcome.host.path) {
            return Err(err);
        }
        outcome.applied = Some(pin_until_settled(
            &mut outcome,
            &snapshot,
            &cargo,
            reporter,
        )?);
        snapshot.keep(&outcome.workspace.lock);
    }
    snapshot.restore_all()?;
    Ok(outcome)
}

/// How many times cap re-reads the lock and pins again. A pin can pull a crate into the graph
/// that the host also has (an older `serde_derive` needs `syn` 1, say); the next round pins that
/// one too. Real graphs settle in one or two rounds.
const MAX_ROUNDS: usize = 4;

/// Applies the plan, then re-plans on the new lock until no shared crate differs (or only
/// refused ones do). Later rounds' pins are appended to `outcome.plan.pins`.
fn pin_until_settled(
    outcome: &mut Outcome,
    snapshot: &Snapshot,
    cargo: &cargo::Cargo,
    reporter: &Reporter,
) -> Result<Applied, CapError> {
    let mut total = Applied::default();
    let mut current = outcome.plugin.clone();
    let mut plan = outcome.plan.clone();
    for round in 0..MAX_ROUNDS {
        plan.pins.retain(|p| {
            !total
                .conflicts
                .iter()
                .any(|c| c.pin.name == p.name && c.pin.to == p.to && c.pin.source == p.source)
        });
        if plan.pins.is_empty() {
            break;
        }
        if round > 0 {
            outcome.plan.pins.extend(plan.pins.iter().cloned());
        }
        reporter.status(
            "Resolving",
            &format!(
                "{} shared {} with cargo{}",
                plan.pins.len(),
                if plan.pins.len() == 1 {
                    "crate"
                } else {
                    "crates"
                },
                if round > 0 {
                    " (pulled in by the previous pins)"
                } else {
                    ""
                }
            ),
        );
        let applied = apply::apply(&outcome.workspace, snapshot, &plan, &current, cargo)?;
        total.pinned.extend(applied.pinned);
        total.conflicts.extend(applied.conflicts);
        current = Lock::read(&outcome.workspace.lock)?;
        plan = Plan::with_interfaces(&outcome.host, &current, &outcome.interfaces);
        if let Some(err) = refusal(&plan, &outcome.host.path) {
            return Err(err);
        }
    }
    outcome
        .plan
        .pins
        .sort_by(|a, b| (&a.name, &a.from).cmp(&(&b.name, &b.from)));
    total.moved = apply::moved(&outcome.plugin, &current, &total.pinned);
    Ok(total)
}

/// The errors a plan can carry by itself: ABI or interface crates on another line, shared
/// crates the host takes from git or a path.
fn refusal(plan: &Plan, host_lock: &Path) -> Option<CapError> {
    if !plan.unshareable.is_empty() {
        return Some(CapError::HostUnshareableSource {
            host_lock: host_lock.to_owned(),
            packages: plan
                .unshareable
                .iter()
                .map(|u: &Unshareable| {
                    (
                        u.name.clone(),
                        format!("{} {}", u.host_version, u.host_source),
                        u.plugin_version.to_string(),
                    )
                })
                .collect(),
        });
    }
    if !plan.abi.is_empty() {
        return Some(CapError::AbiIncompatible {
            mismatches: plan.abi.clone(),
        });
    }
    if !plan.interfaces.is_empty() {
        return Some(CapError::InterfaceIncompatible {
            mismatches: plan.interfaces.clone(),
        });
    }
    None
}

/// Runs `plugin-build cap` and prints the outcome; returns the exit code.
pub fn run(args: &CapArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let reporter = Reporter::new(args.message_format);
    let options = CapOptions::from(args);
    match cap_with(&options, &reporter) {
        Ok(outcome) => {
            let failure = outcome.failure();
            reporter.outcome(&outcome, failure.as_ref());
            Ok(ExitCode::from(if failure.is_some() {
                EXIT_FAILURE
            } else {
                EXIT_SUCCESS
            }))
        }
        Err(err) => {
            reporter.error(&err);
            Ok(ExitCode::from(EXIT_FAILURE))
        }
    }
}
