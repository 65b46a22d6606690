//! `plugin-build deploy`: puts one target of a `.plg` package into a host's plugins folder
//! as `<DIR>/<id>/plugin.toml` plus the target's `.so` and its bundled native libraries in
//! `<DIR>/<id>/lib/` (where the plugin's `$ORIGIN/lib` run path finds them).
//!
//! Everything is checked before anything is written: the archive (plain top-level files
//! and `lib/<arch>/` libraries only), the manifest (plugin-host's format, unknown fields
//! refused), every target's and every bundled library's size and SHA-256, no entry the manifest does not name, and the requested target (default: this
//! machine's); with `--trusted-key KEY.pub` (repeatable), also that `plugin.toml` is signed by
//! one of those keys. Then the folder is written under a hidden name and renamed into place,
//! exchanging an older version atomically; the manifest is written byte for byte, with its
//! signature beside it, so a host with a trust policy verifies the deployed folder too. On any
//! refusal the destination is untouched.
//!
//! The checks and the atomic install are the host's ([`plugrack_host::package`]), so a host
//! application that accepts packages (plugin-server's upload) verifies them exactly as this
//! command does; this module adds the command line, the default package and the messages.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use plugrack_host::{
    package::{self as host_package, InstallError, Method, VerifyError},
    trust::{TrustPolicy, TrustedKey},
};

pub use plugrack_host::package::{verify, verify_with, Verified};

use crate::{
    package::{self, PackageError},
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

    /// Deploy only a package signed by this public key (repeatable: any of them).
    #[arg(long, value_name = "FILE")]
    pub trusted_key: Vec<PathBuf>,
}

/// Why `plugin-build deploy` refused or failed. Nothing is written in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The default package could not be found (no plugin crate here).
    #[error("no PACKAGE given and no plugin crate found to take it from")]
    Locate(#[source] Box<PackageError>),
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
    /// The package is refused (damaged, tampered, not made by `plugin-build package`, or
    /// without the requested target).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The verified package could not be installed.
    #[error(transparent)]
    Install(InstallError),
    /// A `--trusted-key` file cannot be used.
    #[error(transparent)]
    Key(#[from] plugrack_host::trust::KeyError),
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
    /// The bundled libraries installed beside it (`lib/libgreet.so.1`).
    pub libs: Vec<String>,
    /// The version found there before, if any.
    pub replaced: Option<String>,
    /// How the folder was put in place (`None` for a dry run).
    pub method: Option<Method>,
    /// The trusted key that signed it, with `--trusted-key`.
    pub signed_by: Option<String>,
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
    for lib in &deployed.libs {
        eprintln!("{:>12} {lib}", "Bundled");
    }
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
    let keys = args
        .trusted_key
        .iter()
        .map(|file| TrustedKey::from_file(file))
        .collect::<Result<Vec<_>, _>>()?;
    let verified = verify_with(&path, &bytes, &TrustPolicy::new(keys))?;
    // Read without loading: each library's descriptor section must say what plugin.toml says.
    host_package::check_descriptors(&verified)?;
    let manifest = &verified.manifest;
    let signed_by = verified.signer.as_ref().map(|s| s.key_id.to_string());

    let target = match &args.target {
        Some(name) => {
            targets::find(name).ok_or_else(|| DeployError::UnknownTarget { name: name.clone() })?
        }
        None => targets::host().ok_or(DeployError::NoHostTarget)?,
    };
    let entry = verified.target(target.name)?;
    eprintln!(
        "{:>12} {} ({} files, every size and SHA-256 matches plugin.toml{})",
        "Verified",
        path.display(),
        verified.entries.len(),
        match &signed_by {
            Some(key) => format!(", signed by trusted key {key}"),
            None => String::new(),
        }
    );

    let folder = args.to.join(&manifest.plugin.id);
    if args.dry_run {
        let replaced = host_package::installed_version(&folder).map_err(install_error)?;
        return Ok(Deployed {
            id: manifest.plugin.id.clone(),
            version: manifest.plugin.version.clone(),
            target: target.name,
            folder,
            file: entry.file.clone(),
            libs: entry
                .libs
                .iter()
                .map(|lib| format!("{}/{}", plugrack_host::manifest::LIB_DIR, lib.file))
                .collect(),
            replaced,
            method: None,
            signed_by,
        });
    }
    let installed =
        host_package::install(&verified, target.name, &args.to).map_err(install_error)?;
    Ok(Deployed {
        id: installed.id,
        version: installed.version,
        target: target.name,
        folder: installed.folder,
        file: installed.file,
        libs: installed.libs,
        replaced: installed.replaced,
        method: Some(installed.method),
        signed_by,
    })
}

/// A refusal of the package stays a refusal; anything else is an install failure.
fn install_error(error: InstallError) -> DeployError {
    match error {
        InstallError::Target(refusal) => DeployError::Verify(refusal),
        other => DeployError::Install(other),
    }
}

/// `build/<id>-<version>.plg` of the plugin crate at `manifest_path` or the current directory.
fn default_package(manifest_path: Option<&Path>) -> Result<PathBuf, DeployError> {
    let krate =
        package::descriptor::read(manifest_path).map_err(|e| DeployError::Locate(Box::new(e)))?;
    let path = krate.dir.join("build").join(format!(
        "{}-{}.plg",
        krate.descriptor.id, krate.descriptor.version
    ));
    if !path.is_file() {
        return Err(DeployError::NoPackage { path });
    }
    Ok(path)
}
