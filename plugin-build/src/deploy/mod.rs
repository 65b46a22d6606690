//! `plugin-build deploy`: puts one target of a `.plg` package into a host's plugins folder
//! as `<DIR>/<id>/plugin.toml` plus the target's `.so`.
//!
//! Everything is checked before anything is written: the archive (plain top-level files
//! only, see [`crate::package::archive`]), the manifest (plugin-host's format, unknown fields
//! refused), every target's size and SHA-256, no entry the manifest does not name, and the
//! requested target (default: this machine's). Then [`swap`] writes the folder under a
//! hidden name and renames it into place, exchanging an older version atomically. On any
//! refusal the destination is untouched.

pub mod swap;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use plugrack_host::manifest::{self, Manifest, ManifestError};

use crate::{
    package::{self, archive, ArchiveError, PackageError},
    targets,
};

/// Arguments of `plugin-build deploy`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DeployArgs {
    /// The package (default: `build/<id>-<version>.plg` of the plugin in the current directory).
    #[arg(value_name = "PACKAGE.plg")]
    pub package: Option<PathBuf>,

    /// The host's plugins folder.
    #[arg(long, value_name = "DIR", env = "PLUGINS_DIR")]
    pub to: PathBuf,

    /// The target to deploy: amd64, 386, arm-7 or arm64 (default: this machine's).
    #[arg(long, value_name = "ARCH")]
    pub target: Option<String>,

    /// Check the package and say what would be written, but write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// The plugin's Cargo.toml, to find its package when PACKAGE is not given.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
}

/// Why `plugin-build deploy` refused or failed. Nothing is written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The default package could not be found (no plugin crate here).
    #[error("no PACKAGE given and no plugin crate found to take it from")]
    Locate(#[source] PackageError),
    /// The default package has not been made.
    #[error("no package `{}`\n  hint: make it first: `plugin-build package`, or name one: `plugin-build deploy PACKAGE.plg --to DIR`", .path.display())]
    NoPackage {
        /// Where it was expected.
        path: PathBuf,
    },
    /// A file could not be read or written.
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
    /// The archive itself is refused.
    #[error("refusing package `{}`: {problem}\n  hint: make the package again with `plugin-build package` and copy it whole", .path.display())]
    Archive {
        /// The package.
        path: PathBuf,
        /// Why (shown in the message, so not a `source`).
        problem: ArchiveError,
    },
    /// No `plugin.toml` in the archive.
    #[error("refusing package `{}`: it has no `{}`\n  hint: make packages with `plugin-build package`", .path.display(), manifest::FILE_NAME)]
    NoManifest {
        /// The package.
        path: PathBuf,
    },
    /// The manifest cannot be used.
    #[error("refusing package `{}`: {problem}", .path.display())]
    Manifest {
        /// The package.
        path: PathBuf,
        /// Why (shown in the message, so not a `source`).
        problem: ManifestError,
    },
    /// The plugin id cannot name a folder.
    #[error("refusing package `{}`: plugin id `{id}` is not valid (letters, digits, `.`, `_`, `-`)", .path.display())]
    BadId {
        /// The package.
        path: PathBuf,
        /// The id.
        id: String,
    },
    /// A target's file is not in the archive.
    #[error("refusing package `{}`: plugin.toml lists `{file}` for {target}, but the archive does not contain it", .path.display())]
    MissingFile {
        /// The package.
        path: PathBuf,
        /// The target.
        target: String,
        /// The file.
        file: String,
    },
    /// An entry the manifest does not name.
    #[error("refusing package `{}`: entry `{name}` is not listed in plugin.toml", .path.display())]
    UnexpectedEntry {
        /// The package.
        path: PathBuf,
        /// The entry.
        name: String,
    },
    /// A file's size or SHA-256 differs from the manifest.
    #[error("refusing package `{}`: `{file}` does not match plugin.toml\n  expected: {expected}\n     found: {found}\n  hint: the package was changed after `plugin-build package` made it; make it again", .path.display())]
    Checksum {
        /// The package.
        path: PathBuf,
        /// The file.
        file: String,
        /// What the manifest says.
        expected: String,
        /// What the file is.
        found: String,
    },
    /// `--target` names no known target.
    #[error("unknown target `{name}`; known targets: amd64, 386, arm-7, arm64")]
    UnknownTarget {
        /// What was given.
        name: String,
    },
    /// No `--target` and this machine is none of the four.
    #[error(
        "this machine ({}) is none of the four targets; choose one with `--target`",
        std::env::consts::ARCH
    )]
    NoHostTarget,
    /// The package lacks the requested target.
    #[error("package `{}` has no {wanted} build; it has: {available}\n  hint: build and package it: `plugin-build --target {wanted} && plugin-build package`", .path.display())]
    TargetMissing {
        /// The package.
        path: PathBuf,
        /// The requested target.
        wanted: &'static str,
        /// What it has.
        available: String,
    },
    /// `<DIR>/<id>` exists and is not a folder.
    #[error("`{}` exists and is not a folder; move it away, then deploy again", .path.display())]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
}

/// What a deploy did (or, for a dry run, would do).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Deployed {
    /// The plugin id.
    pub id: String,
    /// The version deployed.
    pub version: String,
    /// The target deployed.
    pub target: &'static str,
    /// The plugin folder, `<DIR>/<id>`.
    pub folder: PathBuf,
    /// The shared object's file name in that folder.
    pub file: String,
    /// The version found there before, if any.
    pub replaced: Option<String>,
    /// How the folder was put in place (`None` for a dry run).
    pub method: Option<swap::Method>,
}

/// Runs `deploy` from the command line.
pub fn run(args: &DeployArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let deployed = deploy(args)?;
    let before = match &deployed.replaced {
        Some(old) => format!(", replacing {old}"),
        None => String::new(),
    };
    let word = if args.dry_run {
        "Would deploy"
    } else {
        "Deployed"
    };
    eprintln!(
        "{word:>12} {} {} ({}) to {}{before}",
        deployed.id,
        deployed.version,
        deployed.target,
        deployed.folder.display(),
    );
    if args.dry_run {
        eprintln!("{:>12} nothing was written (--dry-run)", "Note");
    }
    println!("{}", deployed.folder.join(&deployed.file).display());
    Ok(ExitCode::SUCCESS)
}

/// Checks the package and deploys it as `args` say.
pub fn deploy(args: &DeployArgs) -> Result<Deployed, DeployError> {
    let path = match &args.package {
        Some(path) => path.clone(),
        None => default_package(args.manifest_path.as_deref())?,
    };
    let bytes = std::fs::read(&path).map_err(|source| DeployError::Io {
        action: "read",
        path: path.clone(),
        source,
    })?;
    let verified = verify(&path, &bytes)?;
    let manifest = &verified.manifest;

    let target = match &args.target {
        Some(name) => {
            targets::find(name).ok_or_else(|| DeployError::UnknownTarget { name: name.clone() })?
        }
        None => targets::host().ok_or(DeployError::NoHostTarget)?,
    };
    let entry = manifest
        .targets
        .get(target.name)
        .ok_or_else(|| DeployError::TargetMissing {
            path: path.clone(),
            wanted: target.name,
            available: manifest
                .targets
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    eprintln!(
        "{:>12} {} ({} files, every size and SHA-256 matches plugin.toml)",
        "Verified",
        path.display(),
        verified.entries.len()
    );

    let folder = args.to.join(&manifest.plugin.id);
    let replaced = existing_version(&folder)?;
    let mut deployed = Deployed {
        id: manifest.plugin.id.clone(),
        version: manifest.plugin.version.clone(),
        target: target.name,
        folder,
        file: entry.file.clone(),
        replaced,
        method: None,
    };
    if args.dry_run {
        return Ok(deployed);
    }

    // The deployed manifest lists only the target that is there.
    let mut single = manifest.clone();
    single.targets.retain(|name, _| name == target.name);
    let text = single.to_toml();
    let so = verified.data(&entry.file);
    std::fs::create_dir_all(&args.to).map_err(|source| DeployError::Io {
        action: "create",
        path: args.to.clone(),
        source,
    })?;
    let method = swap::install(
        &args.to,
        &manifest.plugin.id,
        &[(manifest::FILE_NAME, text.as_bytes()), (&entry.file, so)],
    )
    .map_err(|source| DeployError::Io {
        action: "write",
        path: deployed.folder.clone(),
        source,
    })?;
    deployed.method = Some(method);
    Ok(deployed)
}

/// A package whose every entry was checked against its manifest.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The manifest.
    pub manifest: Manifest,
    /// Every entry, `plugin.toml` included.
    pub entries: Vec<archive::Entry>,
}

impl Verified {
    /// The contents of a checked entry.
    pub fn data(&self, name: &str) -> &[u8] {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.data.as_slice())
            .unwrap_or_default()
    }
}

/// Reads a package's bytes and checks every entry against its manifest.
pub fn verify(path: &Path, bytes: &[u8]) -> Result<Verified, DeployError> {
    let entries = archive::read(bytes).map_err(|problem| DeployError::Archive {
        path: path.to_owned(),
        problem,
    })?;
    let text = entries
        .iter()
        .find(|e| e.name == manifest::FILE_NAME)
        .ok_or_else(|| DeployError::NoManifest {
            path: path.to_owned(),
        })?;
    let manifest = Manifest::parse(&String::from_utf8_lossy(&text.data)).map_err(|problem| {
        DeployError::Manifest {
            path: path.to_owned(),
            problem,
        }
    })?;
    let id = &manifest.plugin.id;
    if !manifest::is_plain_file_name(id)
        || id.starts_with('.')
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(DeployError::BadId {
            path: path.to_owned(),
            id: id.clone(),
        });
    }
    for entry in &entries {
        let listed = entry.name == manifest::FILE_NAME
            || manifest.targets.values().any(|t| t.file == entry.name);
        if !listed {
            return Err(DeployError::UnexpectedEntry {
                path: path.to_owned(),
                name: entry.name.clone(),
            });
        }
    }
    for (target, listed) in &manifest.targets {
        let entry = entries
            .iter()
            .find(|e| e.name == listed.file)
            .ok_or_else(|| DeployError::MissingFile {
                path: path.to_owned(),
                target: target.clone(),
                file: listed.file.clone(),
            })?;
        let sha256 = manifest::sha256_hex(&entry.data);
        let size = entry.data.len() as u64;
        if size != listed.size || sha256 != listed.sha256 {
            return Err(DeployError::Checksum {
                path: path.to_owned(),
                file: listed.file.clone(),
                expected: format!("{} bytes, sha256 {}", listed.size, listed.sha256),
                found: format!("{size} bytes, sha256 {sha256}"),
            });
        }
    }
    Ok(Verified { manifest, entries })
}

/// The version deployed in `folder`, if there is one; refuses a path that is not a folder.
fn existing_version(folder: &Path) -> Result<Option<String>, DeployError> {
    match std::fs::symlink_metadata(folder) {
        Err(_) => Ok(None),
        Ok(meta) if !meta.is_dir() => Err(DeployError::NotAFolder {
            path: folder.to_owned(),
        }),
        Ok(_) => Ok(std::fs::read_to_string(folder.join(manifest::FILE_NAME))
            .ok()
            .and_then(|text| Manifest::parse(&text).ok())
            .map(|m| m.plugin.version)
            .or_else(|| Some("an unversioned folder".into()))),
    }
}

/// `build/<id>-<version>.plg` of the plugin crate at `manifest_path` or the current directory.
fn default_package(manifest_path: Option<&Path>) -> Result<PathBuf, DeployError> {
    let krate = package::descriptor::read(manifest_path).map_err(DeployError::Locate)?;
    let path = krate.dir.join("build").join(format!(
        "{}-{}.plg",
        krate.descriptor.id, krate.descriptor.version
    ));
    if !path.is_file() {
        return Err(DeployError::NoPackage { path });
    }
    Ok(path)
}
