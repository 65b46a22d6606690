//! `plugin-build doctor`: what this machine has for building plugins for each target: the
//! toolchain, the rustup targets, the cross linkers and their C libraries, zig and
//! cargo-zigbuild, cross, the container engine (usable only once a trivial container started),
//! the build images and debootstrap, qemu-user. Each piece is present or
//! missing with the exact command that installs it; then which backend is ready and which one
//! `--backend auto` would take.
//!
//! It only looks (through [`crate::build::probe`]); it installs nothing.

use std::{path::PathBuf, process::ExitCode};

use serde::Serialize;

use crate::{
    build::{
        backend::{self, Backend},
        probe::{self, Rustc},
        report, toolchain, MessageFormat, MissingPiece,
    },
    targets::TARGETS,
    EXIT_FAILURE,
};

/// Arguments of `plugin-build doctor`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DoctorArgs {
    /// The plugin's Cargo.toml: its folder decides which toolchain rustup picks
    /// (default: the current directory).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,

    /// Output format: human, or json (one object on stdout).
    #[arg(long, value_enum, default_value_t, value_name = "FMT")]
    pub message_format: MessageFormat,
}

/// One thing looked at.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The group: `toolchain`, a target name, `zigbuild`, `cross`.
    pub section: String,
    /// What it is.
    pub what: String,
    /// Whether it is here.
    pub ok: bool,
    /// The command that installs it, when missing.
    pub fix: Option<String>,
}

/// What `doctor` found.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Each backend and what it lacks for all four targets.
    pub backends: Vec<(Backend, Vec<MissingPiece>)>,
    /// What `--backend auto` would take for all four targets, if anything.
    pub auto: Option<Backend>,
}

impl Diagnosis {
    /// Looks at this machine, from the folder `dir` (rustup's toolchain choice depends on it).
    pub fn run(dir: &std::path::Path) -> Self {
        let mut checks = Vec::new();
        let mut push = |section: &str, what: String, missing: Option<MissingPiece>| {
            checks.push(Check {
                section: section.to_owned(),
                ok: missing.is_none(),
                what: missing.as_ref().map(|m| m.what.clone()).unwrap_or(what),
                fix: missing.map(|m| m.fix),
            })
        };

        let rustc = Rustc::probe(dir);
        match &rustc {
            Ok(r) => push(
                "toolchain",
                format!(
                    "{}{}",
                    r.version,
                    r.toolchain
                        .as_deref()
                        .map(|t| format!(" (rustup toolchain `{t}`)"))
                        .unwrap_or_default()
                ),
                None,
            ),
            Err(m) => push("toolchain", String::new(), Some(m.clone())),
        }
        if let Some(pin) = toolchain::find_pin(dir) {
            push(
                "toolchain",
                format!("pinned to `{}` by {}", pin.channel, pin.file.display()),
                None,
            );
        }

        for target in TARGETS {
            let section = target.name;
            match &rustc {
                Ok(r) => push(
                    section,
                    format!("rustup target `{}`", target.triple),
                    r.check_target(&target),
                ),
                Err(_) => push(
                    section,
                    String::new(),
                    Some(MissingPiece {
                        what: format!("rustup target `{}` (no rustc to ask)", target.triple),
                        fix: format!("`rustup target add {}`", target.triple),
                    }),
                ),
            }
            if target.is_host() {
                push(
                    section,
                    "native: no cross linker or qemu needed".into(),
                    None,
                );
                continue;
            }
            let linker = probe::check_linker(&target);
            if linker.is_empty() {
                push(
                    section,
                    format!(
                        "linker `{}` and `{}` (cargo backend)",
                        target.linker,
                        target.libc_for_linking().display()
                    ),
                    None,
                );
            }
            for piece in linker {
                push(section, String::new(), Some(piece));
            }
            push(
                section,
                format!("`{}` (runs its programs; tests)", target.qemu),
                probe::qemu(&target).err(),
            );
        }

        match probe::cargo_zigbuild() {
            Ok(path) => push(
                "zigbuild",
                format!("cargo-zigbuild ({})", path.display()),
                None,
            ),
            Err(m) => push("zigbuild", String::new(), Some(m)),
        }
        match probe::zig() {
            Ok((how, version)) => push(
                "zigbuild",
                match how {
                    probe::Zig::Program(path) => format!("zig {version} ({})", path.display()),
                    probe::Zig::PythonModule => format!("zig {version} (`python3 -m ziglang`)"),
                },
                None,
            ),
            Err(m) => push("zigbuild", String::new(), Some(m)),
        }
        // cross: the tool, the engine, the build images, and a container that really starts.
        let cross = crate::build::cross::Readiness::probe(&TARGETS, &rustc);
        match &cross.cross {
            Ok(path) => push("cross", format!("cross ({})", path.display()), None),
            Err(m) => push("cross", String::new(), Some(m.clone())),
        }
        match &cross.engine {
            Ok(engine) => push(
                "cross",
                format!(
                    "container engine `{}` answers ({} build image{} in its store)",
                    engine.program,
                    engine.images.len(),
                    if engine.images.len() == 1 { "" } else { "s" }
                ),
                None,
            ),
            Err(e) => push(
                "cross",
                String::new(),
                Some(MissingPiece {
                    what: e.to_string(),
                    fix: e.fix(),
                }),
            ),
        }
        match &cross.started {
            Some((command, Ok(()))) => {
                push("cross", format!("containers start (`{command}`)"), None)
            }
            Some((_, Err(e))) => push(
                "cross",
                String::new(),
                Some(MissingPiece {
                    what: e.to_string(),
                    fix: e.fix(),
                }),
            ),
            None if cross.engine.is_ok() => push(
                "cross",
                String::new(),
                Some(MissingPiece {
                    what: "a started container (no build image yet to start one from)".into(),
                    fix: "`plugin-build images` makes them; this check then starts one".into(),
                }),
            ),
            None => {}
        }
        for (target, image, present) in &cross.images {
            push(
                "cross",
                format!("build image `{image}`"),
                (!present).then(|| MissingPiece {
                    what: format!("build image `{image}`"),
                    fix: format!("`plugin-build images --target {}`", target.name),
                }),
            );
        }
        push(
            "cross",
            "debootstrap (makes the build images)".into(),
            probe::program("debootstrap")
                .is_none()
                .then(|| MissingPiece {
                    what: "`debootstrap` (makes the build images)".into(),
                    fix: "`sudo apt-get install -y debootstrap`".into(),
                }),
        );

        let backends: Vec<(Backend, Vec<MissingPiece>)> =
            [Backend::Cross, Backend::Zigbuild, Backend::Cargo]
                .into_iter()
                .map(|b| match b {
                    Backend::Cross => (b, cross.missing()),
                    _ => (b, backend::missing(b, &TARGETS, &rustc)),
                })
                .collect();
        // The order `auto` tries them in.
        let auto = backends
            .iter()
            .find(|(_, missing)| missing.is_empty())
            .map(|(b, _)| *b);
        Self {
            checks,
            backends,
            auto,
        }
    }

    /// The report for people.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        for check in &self.checks {
            if check.section != section {
                section = &check.section;
                out.push_str(&format!("{section}\n"));
            }
            if check.ok {
                out.push_str(&format!("  ok       {}\n", check.what));
            } else {
                out.push_str(&format!("  MISSING  {}\n", check.what));
                if let Some(fix) = &check.fix {
                    out.push_str(&format!("           fix: {fix}\n"));
                }
            }
        }
        out.push_str("backends (all four targets)\n");
        for (backend, missing) in &self.backends {
            if missing.is_empty() {
                out.push_str(&format!("  ready    {backend}\n"));
            } else {
                out.push_str(&format!(
                    "  not ready {backend}: {} missing\n",
                    missing.len()
                ));
            }
        }
        match self.auto {
            Some(b) => out.push_str(&format!("`--backend auto` builds with `{b}` here\n")),
            None => out.push_str(
                "no backend is ready for all four targets: install the missing pieces above \
                 (or run the project's `scripts/setup.sh`)\n",
            ),
        }
        out
    }
}

/// Runs `doctor`: exit 0 when some backend can build all four targets, 1 otherwise.
pub fn run(args: &DoctorArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let dir = match &args.manifest_path {
        Some(path) => path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_owned()
                }
            })
            .unwrap_or_else(|| PathBuf::from(".")),
        None => std::env::current_dir()?,
    };
    let diagnosis = Diagnosis::run(&dir);
    match args.message_format {
        MessageFormat::Json => report::out_json(&serde_json::json!({
            "reason": "doctor",
            "checks": diagnosis.checks,
            "backends": diagnosis.backends.iter().map(|(b, m)| serde_json::json!({
                "backend": b, "ready": m.is_empty(), "missing": m,
            })).collect::<Vec<_>>(),
            "auto": diagnosis.auto,
        })),
        MessageFormat::Human => {
            for line in diagnosis.render().lines() {
                report::out(line);
            }
        }
    }
    Ok(if diagnosis.auto.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}
