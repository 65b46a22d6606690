//! `plugin-build package`: one archive, `build/<id>-<version>.plg`, holding a generated
//! `plugin.toml` (the descriptor from the crate's `Cargo.toml`, the plugrack-api version, and
//! per target the file name, size and SHA-256) and every built `build/<name>-<arch>.so`.
//!
//! [`descriptor`] reads the crate through cargo, [`archive`] writes and reads the
//! reproducible tar + gzip format (shared with `deploy` and `inspect`). The manifest type is
//! plugin-host's [`plugrack_host::manifest`], so what this writes is what the host reads.

pub mod archive;
pub mod descriptor;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::ExitCode,
};

use plugrack_host::manifest::{self, Manifest, ManifestTarget};

pub use archive::ArchiveError;
pub use descriptor::PluginCrate;

use crate::{build::check, process::ProcessError, targets::TARGETS};

/// Arguments of `plugin-build package`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PackageArgs {
    /// The plugin's Cargo.toml (default: the package of the current directory).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,

    /// Where the built `<name>-<arch>.so` files are and the `.plg` goes (default: `build/`
    /// next to the plugin's Cargo.toml).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Why `plugin-build package` failed.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// cargo could not describe the package.
    #[error("cannot read the plugin package through cargo")]
    Cargo(#[source] ProcessError),
    /// cargo's output was not what this tool expects.
    #[error("cannot understand `cargo metadata` output: {0}")]
    CargoOutput(String),
    /// The manifest is not among cargo's packages.
    #[error("no package found for `{}`", .manifest.display())]
    NoPackage {
        /// The manifest.
        manifest: PathBuf,
    },
    /// `[package.metadata.plugin]` breaks a descriptor rule.
    #[error("`{}`: {problem}", .manifest.display())]
    Descriptor {
        /// The plugin's Cargo.toml.
        manifest: PathBuf,
        /// The rule broken.
        problem: plugrack_descriptor::metadata::MetadataError,
    },
    /// The crate does not depend on plugrack-api.
    #[error("package `{package}` does not depend on plugrack-api (`{}`)\n  hint: a plugin depends on plugrack-sdk: `plugin-build new` makes one", .manifest.display())]
    NoPluginApi {
        /// The package.
        package: String,
        /// Its manifest.
        manifest: PathBuf,
    },
    /// No `build/<name>-<arch>.so` at all.
    #[error("no built plugin in `{}`: expected {expected}\n  hint: build it first: `plugin-build` (this machine) or `plugin-build --target all`", .dir.display())]
    NothingBuilt {
        /// The folder searched.
        dir: PathBuf,
        /// The names looked for.
        expected: String,
    },
    /// A built file is not a plugin for its target.
    #[error("`{}` is not a usable {target} plugin: {}\n  hint: rebuild it: `plugin-build --target {target}`", .path.display(), .problems.join("; "))]
    BadArtifact {
        /// The target its name claims.
        target: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problems: Vec<String>,
    },
    /// A file could not be read or written.
    #[error("cannot {action} `{}`", .path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// What `package` produced.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The `.plg` file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: String,
}

/// Runs `package` from the command line.
pub fn run(args: &PackageArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let packaged = package(args)?;
    let base = std::env::current_dir().unwrap_or_default();
    let shown = crate::build::report::display_path(&packaged.path, &base);
    for (target, entry) in &packaged.manifest.targets {
        eprintln!(
            "{:>12} {target}: {} ({} bytes, sha256 {})",
            "Adding",
            entry.file,
            entry.size,
            &entry.sha256[..16]
        );
    }
    eprintln!(
        "{:>12} {} {} (plugrack-api {}) into {shown}",
        "Packaged",
        packaged.manifest.plugin.id,
        packaged.manifest.plugin.version,
        packaged.manifest.plugin.api_version
    );
    println!("{shown}");
    Ok(ExitCode::SUCCESS)
}

/// Packages the plugin as `args` say.
pub fn package(args: &PackageArgs) -> Result<Packaged, PackageError> {
    let krate = descriptor::read(args.manifest_path.as_deref())?;
    let dir = match &args.out_dir {
        Some(dir) => std::path::absolute(dir).unwrap_or_else(|_| dir.clone()),
        None => krate.dir.join("build"),
    };
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| PackageError::Io {
            action,
            path,
            source,
        }
    };

    let mut targets = BTreeMap::new();
    let mut files = Vec::new();
    for target in TARGETS {
        let file = target.file_name(&krate.name);
        let path = dir.join(&file);
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io("read", &path)(e)),
        };
        let report = check::inspect(&path).map_err(|e| PackageError::BadArtifact {
            target: target.name,
            path: path.clone(),
            problems: vec![e.to_string()],
        })?;
        let problems = check::problems(&report, &target);
        if !problems.is_empty() {
            return Err(PackageError::BadArtifact {
                target: target.name,
                path,
                problems,
            });
        }
        targets.insert(
            target.name.to_owned(),
            ManifestTarget {
                file: file.clone(),
                size: data.len() as u64,
                sha256: manifest::sha256_hex(&data),
            },
        );
        files.push(archive::Entry { name: file, data });
    }
    if files.is_empty() {
        return Err(PackageError::NothingBuilt {
            expected: TARGETS
                .iter()
                .map(|t| format!("`{}`", t.file_name(&krate.name)))
                .collect::<Vec<_>>()
                .join(", "),
            dir,
        });
    }
    let manifest = Manifest {
        format: manifest::FORMAT,
        plugin: krate.descriptor.clone(),
        targets,
    };
    // plugin.toml first, so a reader meets the manifest before the files it describes;
    // then the shared objects in target-name order (the order of the manifest's table).
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut entries = vec![archive::Entry {
        name: manifest::FILE_NAME.into(),
        data: manifest.to_toml().into_bytes(),
    }];
    entries.extend(files);
    let path = dir.join(file_name(&manifest));
    let bytes = archive::write(&entries).map_err(io("write", &path))?;
    crate::fsutil::write_atomic(&path, &bytes).map_err(io("write", &path))?;
    Ok(Packaged {
        size: bytes.len() as u64,
        sha256: manifest::sha256_hex(&bytes),
        path,
        manifest,
    })
}

/// `<id>-<version>.plg`.
pub fn file_name(manifest: &Manifest) -> String {
    format!("{}-{}.plg", manifest.plugin.id, manifest.plugin.version)
}
