//! Rendering an [`Outcome`] or a [`CapError`]: a table and a summary for people (stdout,
//! status words and errors on stderr), or one JSON object per line on stdout for CI
//! (`--message-format json`). The JSON fields are a stable surface; the human text is not.

use std::{
    io::{self, Write},
    path::Path,
};

use serde::Serialize;

use super::{
    apply::Conflict,
    error::CapError,
    plan::{Direction, Pin},
    Mode, Outcome,
};

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum MessageFormat {
    /// A table and a summary.
    #[default]
    Human,
    /// One JSON object per line on stdout.
    Json,
}

/// One line of `--message-format json`.
#[derive(Debug, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Event<'a> {
    /// First line: what is being compared.
    Start {
        /// `apply`, `check` or `dry-run`.
        mode: &'a str,
        /// The host lock.
        host_lock: &'a Path,
        /// Its format version.
        host_lock_version: u32,
        /// How many packages it has.
        host_packages: usize,
        /// The plugin package.
        plugin: &'a str,
        /// The plugin's lock.
        plugin_lock: &'a Path,
        /// How many packages it had.
        plugin_packages: usize,
    },
    /// A shared package whose version differs from the host's.
    Pin {
        /// The crate.
        package: &'a str,
        /// Its source.
        source: String,
        /// The plugin's version before.
        plugin_version: String,
        /// The host's version.
        host_version: String,
        /// `up` or `down`.
        direction: Direction,
        /// `pinned`, `conflict`, `planned` (dry run) or `mismatch` (check).
        status: &'a str,
    },
    /// A pin cargo refused.
    Conflict {
        /// The crate.
        package: &'a str,
        /// The plugin's version (kept).
        plugin_version: String,
        /// The host's version it could not move to.
        host_version: String,
        /// The requirement that excludes it.
        requirement: Option<&'a str>,
        /// Who has that requirement.
        required_by: Option<&'a str>,
        /// What to do.
        fix: String,
        /// Cargo's explanation.
        cargo: &'a str,
    },
    /// Something else cargo changed.
    Moved {
        /// The crate.
        package: &'a str,
        /// Version before (absent: added).
        from: Option<String>,
        /// Version after (absent: removed).
        to: Option<String>,
    },
    /// An ABI crate on another line than the host's.
    AbiMismatch {
        /// The crate.
        package: &'a str,
        /// The plugin's version.
        plugin_version: &'a str,
        /// The host's version(s).
        host_versions: &'a [String],
    },
    /// An interface crate on another semver line: the host refuses the plugin's extensions.
    InterfaceMismatch {
        /// The crate.
        package: &'a str,
        /// The plugin's version.
        plugin_version: &'a str,
        /// The host's version(s).
        host_versions: &'a [String],
    },
    /// Last line of a run that got this far.
    Summary {
        /// `apply`, `check` or `dry-run`.
        mode: &'a str,
        /// Shared packages on another version than the host's (before).
        differing: usize,
        /// Pins applied (apply mode).
        pinned: usize,
        /// Of the differing ones, how many go up.
        up: usize,
        /// Of the differing ones, how many go down.
        down: usize,
        /// Pins cargo refused.
        conflicts: usize,
        /// Shared packages already at the host's version.
        already: usize,
        /// Packages the host does not share.
        plugin_only: usize,
        /// Path and workspace packages.
        local: usize,
        /// Other packages cargo changed.
        moved: usize,
        /// ABI crates on another line.
        abi_mismatches: usize,
        /// Interface crates on another line.
        interface_mismatches: usize,
        /// Whether the exit code is 0.
        ok: bool,
    },
    /// The run failed.
    Error {
        /// The headline.
        message: String,
        /// The chain of causes.
        causes: Vec<String>,
        /// The fix.
        hint: String,
    },
}

/// Prints as asked.
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    format: MessageFormat,
}

impl Reporter {
    /// A reporter for `format`.
    pub fn new(format: MessageFormat) -> Self {
        Reporter { format }
    }

    /// A cargo-style status line on stderr (human format only).
    pub fn status(&self, word: &str, text: &str) {
        if self.format == MessageFormat::Human {
            eprintln!("{word:>12} {text}");
        }
    }

    /// Prints the outcome; `failure` is what makes the run exit non-zero, if anything.
    pub fn outcome(&self, outcome: &Outcome, failure: Option<&CapError>) {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        // A closed pipe (`| head`) is not an error worth reporting.
        let _ = match self.format {
            MessageFormat::Human => human(&mut out, outcome),
            MessageFormat::Json => json(&mut out, outcome, failure.is_none()),
        };
        if let Some(err) = failure {
            self.error(err);
        }
    }

    /// Prints an error: headline, causes and hint on stderr; in JSON also an `error` line on
    /// stdout.
    pub fn error(&self, err: &CapError) {
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        if self.format == MessageFormat::Json {
            let event = Event::Error {
                message: err.to_string(),
                causes: causes.clone(),
                hint: err.hint(),
            };
            let _ = writeln!(
                io::stdout(),
                "{}",
                serde_json::to_string(&event).unwrap_or_default()
            );
        }
        let mut text = format!("error: {err}\n");
        for cause in &causes {
            let mut lines = cause.lines();
            if let Some(first) = lines.next() {
                text.push_str(&format!("  caused by: {first}\n"));
            }
            for line in lines {
                text.push_str(&format!("    {line}\n"));
            }
        }
        text.push_str(&format!("  hint: {}\n", err.hint()));
        let _ = io::stderr().write_all(text.as_bytes());
    }
}

fn status_of<'a>(mode: Mode, pin: &Pin, conflicts: &[Conflict]) -> &'a str {
    match mode {
        Mode::Check => "mismatch",
        Mode::DryRun => "planned",
        Mode::Apply if conflicts.iter().any(|c| &c.pin == pin) => "conflict",
        Mode::Apply => "pinned",
    }
}

fn human(out: &mut impl Write, o: &Outcome) -> io::Result<()> {
    let conflicts: &[Conflict] = o.applied.as_ref().map_or(&[], |a| &a.conflicts);
    if !o.plan.pins.is_empty() {
        let width = o
            .plan
            .pins
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(7)
            .max(7);
        let vwidth = o
            .plan
            .pins
            .iter()
            .map(|p| p.from.to_string().len().max(p.to.to_string().len()))
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            out,
            "{:width$}  {:vwidth$}    {:vwidth$}  change",
            "package", "plugin", "host"
        )?;
        for pin in &o.plan.pins {
            let dir = match pin.direction() {
                Direction::Up => "up",
                Direction::Down => "down",
            };
            let status = match status_of(o.mode, pin, conflicts) {
                "conflict" => "  CONFLICT",
                _ => "",
            };
            writeln!(
                out,
                "{:width$}  {:vwidth$} -> {:vwidth$}  {dir}{status}",
                pin.name,
                pin.from.to_string(),
                pin.to.to_string()
            )?;
        }
    }
    for m in &o.plan.abi {
        writeln!(
            out,
            "abi mismatch: `{}` {} in the plugin, {} in the host (another semver line: cannot load)",
            m.name,
            m.plugin,
            m.host.join(" and ")
        )?;
    }
    for m in &o.plan.interfaces {
        writeln!(
            out,
            "interface mismatch: `{}` {} in the plugin, {} in the host (another semver line: the host refuses its extensions)",
            m.name,
            m.plugin,
            m.host.join(" and ")
        )?;
    }
    for c in conflicts {
        writeln!(out)?;
        writeln!(
            out,
            "conflict: `{}` cannot move from {} to the host's {}",
            c.pin.name, c.pin.from, c.pin.to
        )?;
        match (&c.requirement, &c.required_by) {
            (Some(req), Some(by)) => writeln!(
                out,
                "  blocked by `{} {req}`, required by `{by}`",
                c.pin.name
            )?,
            _ => {
                for line in c.cargo_says.lines().take(12) {
                    writeln!(out, "  | {line}")?;
                }
            }
        }
        let owner = c
            .required_by
            .as_deref()
            .map(|by| by.split(" v").next().unwrap_or(by));
        match conflicts
            .iter()
            .find(|o| Some(o.pin.name.as_str()) == owner)
        {
            Some(cause) => writeln!(
                out,
                "  fix: follows from the `{}` conflict; fixing that one fixes this one",
                cause.pin.name
            )?,
            None => writeln!(out, "  fix: {}", c.fix())?,
        }
    }
    if let Some(applied) = &o.applied {
        if !applied.moved.is_empty() {
            writeln!(out)?;
            writeln!(out, "cargo also moved:")?;
            for m in &applied.moved {
                match (&m.from, &m.to) {
                    (Some(f), Some(t)) => writeln!(out, "  {} {f} -> {t}", m.name)?,
                    (Some(f), None) => writeln!(out, "  {} {f} removed", m.name)?,
                    (None, Some(t)) => writeln!(out, "  {} {t} added", m.name)?,
                    (None, None) => {}
                }
            }
        }
    }
    let s = o.summary();
    let pins = |n: usize| if n == 1 { "crate" } else { "crates" };
    let head = match o.mode {
        Mode::Apply => format!(
            "{} of {} differing pinned to the host ({} up, {} down), {} conflict{}",
            s.pinned,
            s.differing,
            s.up,
            s.down,
            s.conflicts,
            if s.conflicts == 1 { "" } else { "s" }
        ),
        Mode::Check => format!(
            "{} shared {} differ from the host ({} up, {} down)",
            s.differing,
            pins(s.differing),
            s.up,
            s.down
        ),
        Mode::DryRun => format!(
            "{} shared {} would be pinned ({} up, {} down); nothing was changed",
            s.differing,
            pins(s.differing),
            s.up,
            s.down
        ),
    };
    if !o.plan.pins.is_empty()
        || !conflicts.is_empty()
        || !o.plan.abi.is_empty()
        || !o.plan.interfaces.is_empty()
    {
        writeln!(out)?;
    }
    writeln!(
        out,
        "summary: {head}; {} already at the host's version, {} plugin-only, {} local{}",
        s.already,
        s.plugin_only,
        s.local,
        if s.moved > 0 {
            format!("; cargo moved {} other", s.moved)
        } else {
            String::new()
        }
    )
}

fn json(out: &mut impl Write, o: &Outcome, ok: bool) -> io::Result<()> {
    let mode = o.mode.as_str();
    let mut line = |event: Event<'_>| -> io::Result<()> {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&event).map_err(io::Error::other)?
        )
    };
    line(Event::Start {
        mode,
        host_lock: &o.host.path,
        host_lock_version: o.host.format,
        host_packages: o.host.packages.len(),
        plugin: &o.workspace.name,
        plugin_lock: &o.workspace.lock,
        plugin_packages: o.plugin.packages.len(),
    })?;
    let conflicts: &[Conflict] = o.applied.as_ref().map_or(&[], |a| &a.conflicts);
    for m in &o.plan.abi {
        line(Event::AbiMismatch {
            package: &m.name,
            plugin_version: &m.plugin,
            host_versions: &m.host,
        })?;
    }
    for m in &o.plan.interfaces {
        line(Event::InterfaceMismatch {
            package: &m.name,
            plugin_version: &m.plugin,
            host_versions: &m.host,
        })?;
    }
    for pin in &o.plan.pins {
        line(Event::Pin {
            package: &pin.name,
            source: pin.source.to_string(),
            plugin_version: pin.from.to_string(),
            host_version: pin.to.to_string(),
            direction: pin.direction(),
            status: status_of(o.mode, pin, conflicts),
        })?;
    }
    for c in conflicts {
        line(Event::Conflict {
            package: &c.pin.name,
            plugin_version: c.pin.from.to_string(),
            host_version: c.pin.to.to_string(),
            requirement: c.requirement.as_deref(),
            required_by: c.required_by.as_deref(),
            fix: c.fix(),
            cargo: &c.cargo_says,
        })?;
    }
    if let Some(applied) = &o.applied {
        for m in &applied.moved {
            line(Event::Moved {
                package: &m.name,
                from: m.from.as_ref().map(ToString::to_string),
                to: m.to.as_ref().map(ToString::to_string),
            })?;
        }
    }
    let s = o.summary();
    line(Event::Summary {
        mode,
        differing: s.differing,
        pinned: s.pinned,
        up: s.up,
        down: s.down,
        conflicts: s.conflicts,
        already: s.already,
        plugin_only: s.plugin_only,
        local: s.local,
        moved: s.moved,
        abi_mismatches: o.plan.abi.len(),
        interface_mismatches: o.plan.interfaces.len(),
        ok,
    })
}
