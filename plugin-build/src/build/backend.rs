//! The three backends and the exact command each one runs.
//!
//! - `cargo`: `cargo build --target <triple>` with the rustup target and Debian's cross gcc as
//!   linker, given to cargo as `CARGO_TARGET_<TRIPLE>_LINKER` (unless already set).
//! - `zigbuild`: `cargo zigbuild --target <triple>[.<glibc>]`; zig links, and the target
//!   suffix pins the glibc floor.
//! - `cross`: `cross build --target <triple>` in a container from the target's build image;
//!   runs in the workspace root so cross finds `[workspace.metadata.cross]`, with the
//!   environment [`super::cross::plan`] prepared (engine, images, `CROSS_CONFIG`, mounts).
//!
//! Every backend builds only the library, asks cargo for JSON messages on stdout (to find the
//! artifact) while its diagnostics go to stderr, and strips the plugin's own shared object with
//! a per-package profile override, so the dependencies are the same units a plain
//! `cargo build` makes and are not rebuilt.
//!
//! A plugin that bundles native libraries (`[package.metadata.plugin] bundle`) is built with
//! the backend's `rustc` subcommand instead (`cargo rustc`, `cargo-zigbuild rustc`,
//! `cross rustc`) and `-- -C link-arg=-Wl,-rpath,$ORIGIN/lib`: the arguments after `--` reach
//! only the plugin's own unit, so the dependencies stay the units a plain build makes, and the
//! plugin is linked with a run path that names the `lib/` folder beside it, one target per run
//! (cargo passes extra `rustc` arguments for one target only). (`RUSTFLAGS` would rebuild every
//! dependency; a build script in the plugin would leave it to each author.)

use std::fmt;

use crate::{process::CommandLine, targets::Target};

use super::{
    probe::{self, Rustc},
    project::Project,
    request::GlibcVersion,
    MissingPiece,
};

/// A backend that builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// `cross build`, in a container.
    Cross,
    /// `cargo zigbuild`.
    Zigbuild,
    /// `cargo build` with a cross gcc.
    Cargo,
}

impl Backend {
    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Cross => "cross",
            Backend::Zigbuild => "zigbuild",
            Backend::Cargo => "cargo",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to build, apart from the backend and targets.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `--release` (the default) or the dev profile.
    pub release: bool,
    /// Strip the plugin's symbol table (the default).
    pub strip: bool,
    /// The glibc floor (zigbuild only).
    pub glibc: Option<GlibcVersion>,
    /// The environment of the cross command: engine, images, mounts (see [`super::cross`]).
    pub cross_env: Vec<(String, String)>,
}

impl BuildOptions {
    /// The cargo profile name.
    pub fn profile(&self) -> &'static str {
        if self.release {
            "release"
        } else {
            "dev"
        }
    }

    /// The folder of the profile under `target/<triple>/`.
    pub fn profile_dir(&self) -> &'static str {
        if self.release {
            "release"
        } else {
            "debug"
        }
    }
}

/// The `--target` value a backend passes for `target`: the triple, with the glibc suffix for
/// zigbuild.
pub fn target_arg(backend: Backend, target: &Target, options: &BuildOptions) -> String {
    match (backend, options.glibc) {
        (Backend::Zigbuild, Some(glibc)) => format!("{}.{glibc}", target.triple),
        _ => target.triple.to_owned(),
    }
}

/// The command that builds `targets` (one invocation; cargo schedules several targets in one
/// job graph).
pub fn command(
    backend: Backend,
    project: &Project,
    targets: &[Target],
    options: &BuildOptions,
) -> CommandLine {
    let bundles = !project.bundle.is_empty();
    let mut cmd = match (backend, bundles) {
        (Backend::Cargo, false) => CommandLine::new("cargo").arg("build"),
        (Backend::Cargo, true) => CommandLine::new("cargo").arg("rustc"),
        (Backend::Zigbuild, false) => CommandLine::new("cargo").arg("zigbuild"),
        (Backend::Zigbuild, true) => CommandLine::new("cargo-zigbuild").arg("rustc"),
        (Backend::Cross, false) => CommandLine::new("cross").arg("build"),
        (Backend::Cross, true) => CommandLine::new("cross").arg("rustc"),
    };
    // cross runs cargo in its container, where the workspace may be mounted at `/project`:
    // it gets the manifest relative to the workspace root it runs in.
    let manifest = match backend {
        Backend::Cross => project
            .manifest_path
            .strip_prefix(&project.workspace_root)
            .unwrap_or(&project.manifest_path),
        _ => &project.manifest_path,
    };
    cmd = cmd
        .arg("--manifest-path")
        .arg(manifest.to_string_lossy())
        .arg("--lib");
    if options.release {
        cmd = cmd.arg("--release");
    }
    for target in targets {
        cmd = cmd
            .arg("--target")
            .arg(target_arg(backend, target, options));
    }
    cmd = cmd.args(["--message-format", "json-render-diagnostics"]);
    if options.strip {
        // Only the plugin's own unit: the dependencies stay the units a plain build makes.
        cmd = cmd.arg("--config").arg(format!(
            "profile.{}.package.\"{}\".strip=\"symbols\"",
            options.profile(),
            project.name
        ));
    }
    if bundles {
        cmd = cmd.args(["--", "-C"]).arg(format!(
            "link-arg=-Wl,-rpath,{}",
            super::project::BUNDLE_RUN_PATH
        ));
    }
    match backend {
        Backend::Cargo => {
            for target in targets.iter().filter(|t| !t.is_host()) {
                let var = target.linker_env();
                if std::env::var_os(&var).is_none() {
                    cmd = cmd.env(var, target.linker);
                }
            }
            cmd.current_dir(&project.package_dir)
        }
        Backend::Zigbuild => cmd.current_dir(&project.package_dir),
        Backend::Cross => {
            for (key, value) in &options.cross_env {
                cmd = cmd.env(key, value);
            }
            cmd.current_dir(&project.workspace_root)
        }
    }
}

/// What `backend` certainly lacks, found without starting a process (a `PATH` lookup or a file
/// check each), so a build that has everything pays nothing for the check. The probes that
/// need a process (rustc's sysroot, `python3 -m ziglang`, `docker info`) run in [`missing`]:
/// before a dry run or `auto`, when this finds something, or after a failed build.
pub fn quick_missing(backend: Backend, targets: &[Target]) -> Vec<MissingPiece> {
    let mut out = Vec::new();
    match backend {
        Backend::Cargo => {
            for target in targets.iter().filter(|t| !t.is_host()) {
                if std::env::var_os(target.linker_env()).is_none() {
                    out.extend(probe::check_linker(target));
                }
            }
        }
        Backend::Zigbuild => {
            out.extend(probe::cargo_zigbuild().err());
            let zig_possible = std::env::var_os("CARGO_ZIGBUILD_ZIG_PATH").is_some()
                || probe::program("zig").is_some()
                || probe::program("python3").is_some();
            if !zig_possible {
                out.extend(probe::zig().err());
            }
        }
        Backend::Cross => {
            out.extend(probe::cross().err());
            let mut engines = vec!["docker".to_owned(), "podman".to_owned()];
            if let Ok(name) = std::env::var("CROSS_CONTAINER_ENGINE") {
                if !name.is_empty() {
                    engines = vec![name];
                }
            }
            if engines.iter().all(|e| probe::program(e).is_none()) {
                let problem = crate::engine::EngineError::NotFound { tried: engines };
                out.push(MissingPiece {
                    what: problem.to_string(),
                    fix: problem.fix(),
                });
            }
        }
    }
    out
}

/// What `backend` lacks on this machine to build `targets`, each with its install command.
pub fn missing(
    backend: Backend,
    targets: &[Target],
    rustc: &Result<Rustc, MissingPiece>,
) -> Vec<MissingPiece> {
    let mut out = Vec::new();
    let rust_targets = |out: &mut Vec<MissingPiece>| match rustc {
        Ok(rustc) => out.extend(targets.iter().filter_map(|t| rustc.check_target(t))),
        Err(piece) => out.push(piece.clone()),
    };
    match backend {
        Backend::Cargo => {
            rust_targets(&mut out);
            for target in targets.iter().filter(|t| !t.is_host()) {
                if std::env::var_os(target.linker_env()).is_none() {
                    out.extend(probe::check_linker(target));
                }
            }
        }
        Backend::Zigbuild => {
            rust_targets(&mut out);
            out.extend(probe::cargo_zigbuild().err());
            out.extend(probe::zig().err());
        }
        Backend::Cross => out.extend(super::cross::missing(targets, rustc)),
    }
    out
}
