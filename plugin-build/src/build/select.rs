//! Backend selection: an explicit `--backend` is checked for what it lacks; `auto` tries
//! `cross` (where a container engine starts containers and the build images exist: the
//! documented default), then `zigbuild`, then `cargo`, and says why it took the one it took. With `--glibc` only `zigbuild` can serve.

use std::path::Path;

use crate::targets::Target;

use super::{
    backend::{self, Backend},
    probe::{self, Rustc},
    request::names,
    BuildError, MissingPiece,
};

/// The `--backend` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BackendChoice {
    /// Pick what works on this machine, and say why.
    #[default]
    Auto,
    /// `cross build` in a container (docker or podman).
    Cross,
    /// `cargo zigbuild` (zig as linker; pins the glibc floor with `--glibc`).
    Zigbuild,
    /// `cargo build` with the rustup target and a cross gcc as linker.
    Cargo,
}

/// The chosen backend and why.
#[derive(Debug, Clone)]
pub struct Selection {
    /// The backend.
    pub backend: Backend,
    /// Why it was chosen, for the person reading.
    pub reason: String,
    /// For an explicit backend in a dry run: what it lacks (a real build refuses instead).
    pub missing: Vec<MissingPiece>,
}

/// Chooses the backend.
///
/// `dir` is the plugin's folder: rustup picks the toolchain (and so the installed targets) by
/// it. An explicit backend in a real build is only checked with [`backend::quick_missing`]; the
/// slower probes run when that finds something, and after a failed build.
pub fn select(
    choice: BackendChoice,
    targets: &[Target],
    dir: &Path,
    glibc_given: bool,
    dry_run: bool,
) -> Result<Selection, BuildError> {
    let explicit = match choice {
        BackendChoice::Auto => None,
        BackendChoice::Cross => Some(Backend::Cross),
        BackendChoice::Zigbuild => Some(Backend::Zigbuild),
        BackendChoice::Cargo => Some(Backend::Cargo),
    };
    if let Some(backend) = explicit {
        let quick = backend::quick_missing(backend, targets);
        let missing = if dry_run || !quick.is_empty() {
            backend::missing(backend, targets, &Rustc::probe(dir))
        } else {
            Vec::new()
        };
        if !missing.is_empty() && !dry_run {
            return Err(BuildError::Missing {
                backend: backend.name(),
                missing,
            });
        }
        return Ok(Selection {
            backend,
            reason: "chosen with `--backend`".into(),
            missing,
        });
    }
    let rustc = &Rustc::probe(dir);

    let order: &[Backend] = if glibc_given {
        &[Backend::Zigbuild]
    } else {
        &[Backend::Cross, Backend::Zigbuild, Backend::Cargo]
    };
    let mut tried: Vec<(&'static str, Vec<MissingPiece>)> = Vec::new();
    for &backend in order {
        let missing = backend::missing(backend, targets, rustc);
        if missing.is_empty() {
            let mut reason = match backend {
                Backend::Cross => format!(
                    "`cross` is installed, `{}` starts containers and the build images for {} \
                     are in its store",
                    crate::engine::Engine::find(None)
                        .map(|e| e.program)
                        .unwrap_or_default(),
                    names(targets)
                ),
                Backend::Zigbuild => format!(
                    "cargo-zigbuild and zig {} are installed{}",
                    probe::zig().map(|(_, v)| v).unwrap_or_default(),
                    if glibc_given {
                        " (the only backend that pins a glibc floor)"
                    } else {
                        ""
                    }
                ),
                Backend::Cargo => format!(
                    "the rustup targets and cross linkers for {} are installed",
                    names(targets)
                ),
            };
            if !tried.is_empty() {
                let skipped: Vec<String> = tried
                    .iter()
                    .map(|(name, missing)| {
                        let whats: Vec<&str> = missing.iter().map(|m| m.what.as_str()).collect();
                        format!("`{name}` lacks {}", whats.join(", "))
                    })
                    .collect();
                reason = format!("{reason}; {}", skipped.join("; "));
            }
            return Ok(Selection {
                backend,
                reason,
                missing: Vec::new(),
            });
        }
        tried.push((backend.name(), missing));
    }
    Err(BuildError::NoBackend {
        targets: names(targets),
        tried,
    })
}
