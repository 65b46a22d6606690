//! What the `cross` backend needs before cross runs: the container engine (handed over as
//! `CROSS_CONTAINER_ENGINE`), the build image of each target (ours,
//! `localhost/plugin-build:<toolchain>-linux-<arch>`, passed as `CROSS_TARGET_<TRIPLE>_IMAGE`
//! unless the user's Cross.toml, `[*.metadata.cross]` or environment already names one), and
//! the folders outside the plugin's workspace that its path dependencies need (mounted with
//! `CROSS_CONTAINER_OPTS`, added to the user's own options).
//!
//! Nothing is written into the user's files: every setting is passed in the environment of
//! the one cross command, and `--dry-run` shows it.

use std::path::{Path, PathBuf};

use crate::{
    engine::{Engine, EngineError},
    images,
    process::CommandLine,
    targets::Target,
};

use super::{
    probe::{self, Rustc},
    project::{self, CrossConfig, Project},
    request::names,
    BuildError, MissingPiece,
};

/// Where a target's image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// Ours, made by `plugin-build images`.
    Ours,
    /// The user's: the file or variable that names it.
    User(String),
}

/// One target's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetImage {
    /// The target.
    pub target: Target,
    /// The image name (for a user's `dockerfile`, what that setting says).
    pub image: String,
    /// Where it comes from.
    pub source: ImageSource,
}

/// Everything cross is given, found before the build.
#[derive(Debug, Clone, Default)]
pub struct CrossPlan {
    /// The engine, when one answers.
    pub engine: Option<Engine>,
    /// The image of each target.
    pub images: Vec<TargetImage>,
    /// Folders outside the workspace that are mounted into the container at the same path.
    pub mounts: Vec<PathBuf>,
    /// The environment of the cross command.
    pub env: Vec<(String, String)>,
    /// What a real build would lack (a dry run reports it instead of stopping).
    pub missing: Vec<MissingPiece>,
}

/// `CROSS_TARGET_<TRIPLE>_IMAGE`: cross's own variable for a target's image.
pub fn image_env(target: &Target) -> String {
    format!(
        "CROSS_TARGET_{}_IMAGE",
        target.triple.to_uppercase().replace(['-', '.'], "_")
    )
}

/// The image (or Dockerfile) the user's configuration names for `target`, and where.
fn user_image(project: &Project, target: &Target) -> Option<(String, String)> {
    if let Ok(image) = std::env::var(image_env(target)) {
        if !image.is_empty() {
            return Some((image, format!("`{}`", image_env(target))));
        }
    }
    let lookup = |table: Option<&toml::Value>, place: String| {
        let entry = table?.get("target")?.get(target.triple)?;
        if let Some(image) = entry.get("image").and_then(|i| i.as_str()) {
            return Some((image.to_owned(), place));
        }
        entry.get("dockerfile").map(|d| {
            let file = d
                .as_str()
                .or_else(|| d.get("file").and_then(|f| f.as_str()))
                .unwrap_or("(dockerfile)");
            (format!("built from `{file}`"), place)
        })
    };
    if let Some(CrossConfig::File(file)) = &project.cross_config {
        let doc = project::read_manifest(file).ok();
        if let Some(found) = lookup(doc.as_ref(), format!("`{}`", file.display())) {
            return Some(found);
        }
    }
    // cross also reads the metadata of the workspace root's Cargo.toml, and we honour the
    // package's own too.
    for manifest in [
        project.manifest_path.clone(),
        project.workspace_root.join("Cargo.toml"),
    ] {
        let Ok(doc) = project::read_manifest(&manifest) else {
            continue;
        };
        for (section, table) in [
            (
                "package",
                doc.get("package").and_then(|p| p.get("metadata")),
            ),
            (
                "workspace",
                doc.get("workspace").and_then(|p| p.get("metadata")),
            ),
        ] {
            let place = format!("`[{section}.metadata.cross]` in `{}`", manifest.display());
            if let Some(found) = lookup(table.and_then(|m| m.get("cross")), place) {
                return Some(found);
            }
        }
    }
    None
}

/// The folders outside `project`'s workspace that its path dependencies live in: for each,
/// the root of its own workspace (its manifest may inherit from there), else its folder.
/// Asks `cargo metadata`; an error here only means nothing extra is mounted.
pub fn outside_folders(project: &Project) -> Vec<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let Ok(output) = CommandLine::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(project.manifest_path.to_string_lossy())
        .current_dir(&project.package_dir)
        .output()
    else {
        return Vec::new();
    };
    let Ok(metadata) = serde_json::from_slice::<cargo_metadata::Metadata>(&output.stdout) else {
        return Vec::new();
    };
    let root = project
        .workspace_root
        .canonicalize()
        .unwrap_or_else(|_| project.workspace_root.clone());
    let mut folders: Vec<PathBuf> = metadata
        .packages
        .iter()
        .filter(|p| p.source.is_none())
        .filter_map(|p| p.manifest_path.parent().map(|d| d.as_std_path().to_owned()))
        .filter(|dir| !dir.starts_with(&root))
        .map(|dir| {
            let manifest = dir.join("Cargo.toml");
            match project::read_manifest(&manifest) {
                Ok(doc) => project::find_workspace_root(&dir, &doc),
                Err(_) => dir,
            }
        })
        .collect();
    folders.sort();
    folders.dedup();
    // A folder inside another one is mounted with it.
    let all = folders.clone();
    folders.retain(|f| !all.iter().any(|other| other != f && f.starts_with(other)));
    folders
}

/// `CROSS_CONTAINER_OPTS` with a same-path mount for each of `mounts`, after the user's own.
fn container_opts(mounts: &[PathBuf]) -> Option<String> {
    let user = std::env::var("CROSS_CONTAINER_OPTS").unwrap_or_default();
    if mounts.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = Vec::new();
    if !user.trim().is_empty() {
        parts.push(user.trim().to_owned());
    }
    for dir in mounts {
        let dir = dir.to_string_lossy();
        // Read-only: the build only reads them (its outputs go to the target directory).
        parts.push(format!("-v {}", shell_word(&format!("{dir}:{dir}:ro"))));
    }
    Some(parts.join(" "))
}

fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The toolchain version that names the images for the plugin in `dir`.
fn toolchain(rustc: &Result<Rustc, MissingPiece>) -> Result<String, MissingPiece> {
    let rustc = rustc.as_ref().map_err(Clone::clone)?;
    images::toolchain_version(&rustc.version).ok_or_else(|| MissingPiece {
        what: format!(
            "a Rust toolchain version (`rustc -V` printed `{}`)",
            rustc.version
        ),
        fix: "check `rustc -V` in the plugin's folder".into(),
    })
}

fn engine_piece(e: &EngineError) -> MissingPiece {
    MissingPiece {
        what: e.to_string(),
        fix: e.fix(),
    }
}

/// The missing-image piece for `targets`.
fn images_piece(missing: &[TargetImage], toolchain: &str) -> MissingPiece {
    let targets: Vec<Target> = missing.iter().map(|m| m.target).collect();
    let list: Vec<&str> = missing.iter().map(|m| m.image.as_str()).collect();
    MissingPiece {
        what: format!(
            "build image{} {} (rustc {toolchain})",
            if list.len() == 1 { "" } else { "s" },
            list.iter()
                .map(|i| format!("`{i}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        fix: format!(
            "`plugin-build images --target {}`",
            names(&targets).replace(", ", ",")
        ),
    }
}

/// What this machine has for the `cross` backend with our images: cross, an engine that
/// answers, the build images, and a trivial container that started. Used by `auto` and
/// `doctor`.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// `cross` on `PATH`.
    pub cross: Result<PathBuf, MissingPiece>,
    /// The engine.
    pub engine: Result<Engine, EngineError>,
    /// The toolchain version that names the images.
    pub toolchain: Result<String, MissingPiece>,
    /// Each target's image name and whether the store has it (empty without an engine).
    pub images: Vec<(Target, String, bool)>,
    /// The trivial container: its command line and how it went (`None`: no image to start).
    pub started: Option<(String, Result<(), EngineError>)>,
}

impl Readiness {
    /// Looks (starting one trivial container when an image is there).
    pub fn probe(targets: &[Target], rustc: &Result<Rustc, MissingPiece>) -> Self {
        let engine = Engine::find(None);
        let toolchain = toolchain(rustc);
        let mut images = Vec::new();
        let mut started = None;
        if let (Ok(engine), Ok(toolchain)) = (&engine, &toolchain) {
            for target in targets {
                let image = images::image_name(toolchain, target);
                let present = engine.images.contains(&image);
                images.push((*target, image, present));
            }
            let first = images
                .iter()
                .find(|(_, _, present)| *present)
                .map(|(_, image, _)| image)
                .or(engine.images.first());
            if let Some(image) = first {
                let cmd = engine.run_command(image, &["true"]).to_string();
                started = Some((cmd, engine.try_run(image)));
            }
        }
        Self {
            cross: probe::cross(),
            engine,
            toolchain,
            images,
            started,
        }
    }

    /// Each missing piece with its fix (empty: `cross` can build).
    pub fn missing(&self) -> Vec<MissingPiece> {
        let mut out = Vec::new();
        out.extend(self.cross.clone().err());
        if let Err(e) = &self.engine {
            out.push(engine_piece(e));
            return out;
        }
        let toolchain = match &self.toolchain {
            Ok(t) => t,
            Err(piece) => {
                out.push(piece.clone());
                return out;
            }
        };
        let absent: Vec<TargetImage> = self
            .images
            .iter()
            .filter(|(_, _, present)| !present)
            .map(|(target, image, _)| TargetImage {
                target: *target,
                image: image.clone(),
                source: ImageSource::Ours,
            })
            .collect();
        if !absent.is_empty() {
            out.push(images_piece(&absent, toolchain));
        }
        if let Some((_, Err(e))) = &self.started {
            out.push(engine_piece(e));
        }
        out
    }
}

/// What the `cross` backend lacks on this machine for `targets` with our images.
pub fn missing(targets: &[Target], rustc: &Result<Rustc, MissingPiece>) -> Vec<MissingPiece> {
    Readiness::probe(targets, rustc).missing()
}

/// Finds the engine, the images and the mounts for building `targets` of `project`.
/// A real build stops at the first problem with its own error; a dry run collects them.
pub fn plan(
    project: &Project,
    targets: &[Target],
    rustc: &Result<Rustc, MissingPiece>,
    dry_run: bool,
) -> Result<CrossPlan, BuildError> {
    let mut plan = CrossPlan::default();
    match Engine::find(None) {
        Ok(engine) => {
            plan.env
                .push(("CROSS_CONTAINER_ENGINE".into(), engine.program.clone()));
            plan.engine = Some(engine);
        }
        Err(problem) if dry_run => {
            if let Ok(name) = std::env::var("CROSS_CONTAINER_ENGINE") {
                plan.env.push(("CROSS_CONTAINER_ENGINE".into(), name));
            }
            plan.missing.push(engine_piece(&problem));
        }
        Err(problem) => return Err(BuildError::Engine { problem }),
    }
    let toolchain = match toolchain(rustc) {
        Ok(t) => t,
        Err(piece) if dry_run => {
            plan.missing.push(piece);
            "unknown".into()
        }
        Err(piece) => {
            return Err(BuildError::Missing {
                backend: "cross",
                missing: vec![piece],
            })
        }
    };
    for target in targets {
        plan.images.push(match user_image(project, target) {
            Some((image, place)) => TargetImage {
                target: *target,
                image,
                source: ImageSource::User(place),
            },
            None => {
                let image = images::image_name(&toolchain, target);
                plan.env.push((image_env(target), image.clone()));
                TargetImage {
                    target: *target,
                    image,
                    source: ImageSource::Ours,
                }
            }
        });
    }
    if let Some(engine) = &plan.engine {
        let absent: Vec<TargetImage> = plan
            .images
            .iter()
            .filter(|i| i.source == ImageSource::Ours && !engine.images.contains(&i.image))
            .cloned()
            .collect();
        if !absent.is_empty() {
            if !dry_run {
                return Err(BuildError::MissingImage {
                    images: absent.iter().map(|i| i.image.clone()).collect(),
                    toolchain,
                    fix: images_piece(&absent, "").fix,
                });
            }
            plan.missing.push(images_piece(&absent, &toolchain));
        }
    }
    if let Some(CrossConfig::File(file)) = &project.cross_config {
        plan.env
            .push(("CROSS_CONFIG".into(), file.to_string_lossy().into_owned()));
    }
    plan.mounts = outside_folders(project);
    if let Some(opts) = container_opts(&plan.mounts) {
        plan.env.push(("CROSS_CONTAINER_OPTS".into(), opts));
    }
    Ok(plan)
}

/// Maps a path from cross's messages to the machine's: cross mounts the workspace at
/// `/project` and the target directory at `/target` (unless it mounted them at their own paths,
/// which it does when path dependencies lie outside the workspace).
pub fn host_path(project: &Project, path: &Path) -> PathBuf {
    if path.exists() {
        return path.to_owned();
    }
    for (inside, outside) in [
        ("/target", &project.target_directory),
        ("/project", &project.workspace_root),
    ] {
        if let Ok(rest) = path.strip_prefix(inside) {
            return outside.join(rest);
        }
    }
    path.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_variables_follow_cross() {
        let arm = crate::targets::find("arm-7").unwrap();
        assert_eq!(
            image_env(&arm),
            "CROSS_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_IMAGE"
        );
    }

    #[test]
    fn mounts_are_added_after_the_user_s_options() {
        assert_eq!(container_opts(&[]), None);
        let opts = container_opts(&[PathBuf::from("/src/sdk"), PathBuf::from("/a b")]).unwrap();
        assert!(
            opts.ends_with("-v /src/sdk:/src/sdk:ro -v '/a b:/a b:ro'"),
            "{opts}"
        );
    }
}
