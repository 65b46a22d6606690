//! `plugin-build package`: one archive, `build/<id>-<version>.plg`, holding a generated
//! `plugin.toml` (the descriptor, the plugrack-api version, and per target the file name, size
//! and SHA-256), with `--sign KEY` its signature `plugin.toml.minisig`, every built
//! `build/<name>-<arch>.so`, and the native libraries `[package.metadata.plugin] bundle`
//! names, per target as `lib/<arch>/<file>` with their size and SHA-256 in `plugin.toml`
//! ([`bundle`] finds them and checks the plugin needs them).
//!
//! The descriptor comes from the libraries themselves: each one's `.plugin_descriptor` section
//! (read from the file, never by loading it), which must agree between targets and with the
//! crate's `Cargo.toml` as [`descriptor`] reads it through cargo (a difference means a stale
//! build). A library without the section (built without plugrack-sdk) is described by
//! `Cargo.toml` alone. [`archive`] writes and reads the reproducible tar + gzip format (shared
//! with `deploy` and `inspect`); the manifest type is `plugrack-descriptor`'s, so what this
//! writes is what the host reads. Without `--sign` the archive is byte-for-byte reproducible;
//! a signature differs between runs (minisign adds random noise to each).

pub mod archive;
pub mod bundle;
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

    /// Sign `plugin.toml` with this secret key (`plugin-build keygen`); hosts that trust its
    /// public key then accept the package.
    #[arg(long, value_name = "FILE", env = "PLUGIN_BUILD_SIGNING_KEY")]
    pub sign: Option<PathBuf>,

    /// A folder holding the libraries `bundle` names, as `DIR/<arch>/<file>` or `DIR/<file>`
    /// (repeatable; searched before the target's library path).
    #[arg(long, value_name = "DIR")]
    pub lib_dir: Vec<PathBuf>,

    /// The git source to record in `plugin.toml` (`plugin-build from-git` sets it; no flag).
    #[arg(skip)]
    pub source: Option<manifest::ManifestSource>,
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
    /// A built library's descriptor section differs from `Cargo.toml` or from another target's.
    #[error("`{}` was built from another descriptor: {difference}\n  hint: rebuild it: `plugin-build --target {target}`", .path.display())]
    StaleBuild {
        /// The target.
        target: &'static str,
        /// The library.
        path: PathBuf,
        /// The field that differs and the two values (`its version is `0.1.0`, ... says ...`).
        difference: String,
    },
    /// A built library's descriptor section cannot be read.
    #[error("`{}` has a damaged descriptor section: {problem}\n  hint: rebuild it: `plugin-build --target {target}`", .path.display())]
    BadSection {
        /// The target.
        target: &'static str,
        /// The library.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// A library `bundle` names is nowhere for this target.
    #[error("cannot find `{library}` for {target} to bundle (looked in {searched}{})\n  hint: give its folder with `--lib-dir DIR` (as DIR/{target}/{library} or DIR/{library}), or remove it from `bundle`", if *.target == crate::targets::host().map_or("", |t| t.name) { ", then where this machine's loader looks" } else { "" })]
    BundleNotFound {
        /// The library.
        library: String,
        /// The target.
        target: &'static str,
        /// The folders searched, comma-separated.
        searched: String,
    },
    /// A library `bundle` names is needed by neither the plugin nor another bundled library.
    #[error("`bundle` names `{library}`, but the {target} plugin `{}` does not need it (it needs: {needed})\n  hint: bundle the names the plugin links (`plugin-build inspect` lists them), or remove it from `bundle`", .path.display())]
    BundleNotNeeded {
        /// The library.
        library: String,
        /// The target.
        target: &'static str,
        /// The plugin file.
        path: PathBuf,
        /// Its `DT_NEEDED` entries, comma-separated.
        needed: String,
    },
    /// The plugin bundles libraries but was linked without the `$ORIGIN/lib` run path.
    #[error("`{}` bundles libraries but lacks the `$ORIGIN/lib` run path (run path: {found}), so the loader would not find them\n  hint: build it with `plugin-build --target {target}`, which links plugins that set `bundle` with it", .path.display())]
    NoRunPath {
        /// The target.
        target: &'static str,
        /// The plugin file.
        path: PathBuf,
        /// Its run path, as shown.
        found: String,
    },
    /// Signing failed.
    #[error(transparent)]
    Sign(#[from] crate::sign::SignError),
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
    /// The key id it was signed with, with `--sign`.
    pub signed_by: Option<String>,
    /// Per target, every library the plugin needs and of which kind.
    pub needed: BTreeMap<String, Vec<(String, bundle::Kind)>>,
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
        for lib in &entry.libs {
            eprintln!(
                "{:>12} {target}: lib/{target}/{} ({} bytes, sha256 {})",
                "Bundling",
                lib.file,
                lib.size,
                &lib.sha256[..16]
            );
        }
        for (name, kind) in packaged.needed.get(target).into_iter().flatten() {
            if *kind == bundle::Kind::Other {
                eprintln!(
                    "{:>12} {target}: needs `{name}`, which is neither bundled nor part of the base system: hosts without it refuse the plugin (add it to `bundle` in [package.metadata.plugin] to ship it)",
                    "Warning"
                );
            }
        }
    }
    if let Some(key_id) = &packaged.signed_by {
        eprintln!("{:>12} plugin.toml with key {key_id}", "Signed");
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
    // Read the key first: a missing or locked key should fail before any work.
    let signing_key = match &args.sign {
        Some(path) => Some(crate::sign::load_secret_key(path)?),
        None => None,
    };
    // The descriptor the libraries carry; the first library's, checked against Cargo.toml and
    // then every other library against it.
    let mut descriptor: Option<(plugrack_host::manifest::ManifestPlugin, String)> = None;
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
    let mut libs = Vec::new();
    let mut needed = BTreeMap::new();
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
        let built = match plugrack_descriptor::elf::read(&data) {
            Ok(Some(section)) => section.descriptor(),
            Ok(None) => krate.descriptor.clone(),
            Err(e) => {
                return Err(PackageError::BadSection {
                    target: target.name,
                    path,
                    problem: e.to_string(),
                })
            }
        };
        let (expected, other_place) = match &descriptor {
            Some((first, place)) => (first.clone(), place.clone()),
            None => (
                krate.descriptor.clone(),
                format!("`{}`", krate.manifest_path.display()),
            ),
        };
        if let Some(d) = built.fields().first_difference(&expected.fields()) {
            return Err(PackageError::StaleBuild {
                target: target.name,
                path,
                difference: format!(
                    "its {} is `{}`, {other_place} says `{}`",
                    d.field, d.this, d.other
                ),
            });
        }
        if descriptor.is_none() {
            descriptor = Some((built, format!("`{file}`")));
        }
        let found = bundle::collect(&target, &path, &data, &krate.bundle, &args.lib_dir)?;
        let mut listed = Vec::new();
        for lib in found.bundled {
            listed.push(manifest::ManifestLib {
                file: lib.name.clone(),
                size: lib.data.len() as u64,
                sha256: manifest::sha256_hex(&lib.data),
            });
            libs.push(archive::Entry {
                name: manifest::package_lib_name(target.name, &lib.name),
                data: lib.data,
            });
        }
        needed.insert(target.name.to_owned(), found.needed);
        targets.insert(
            target.name.to_owned(),
            ManifestTarget {
                file: file.clone(),
                size: data.len() as u64,
                sha256: manifest::sha256_hex(&data),
                libs: listed,
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
        plugin: descriptor.map_or_else(|| krate.descriptor.clone(), |(d, _)| d),
        source: args.source.clone(),
        targets,
    };
    // plugin.toml first, so a reader meets the manifest before the files it describes;
    // then the shared objects in target-name order (the order of the manifest's table).
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let manifest_bytes = manifest.to_toml().into_bytes();
    let mut signed_by = None;
    let mut entries = Vec::new();
    if let Some(key) = &signing_key {
        let signature = crate::sign::sign_manifest(
            key,
            &manifest_bytes,
            &manifest.plugin.id,
            &manifest.plugin.version,
        )?;
        signed_by = Some(key.key_id.clone());
        entries.push(archive::Entry {
            name: manifest::FILE_NAME.into(),
            data: manifest_bytes,
        });
        entries.push(archive::Entry {
            name: manifest::SIGNATURE_FILE_NAME.into(),
            data: signature.into_bytes(),
        });
    } else {
        entries.push(archive::Entry {
            name: manifest::FILE_NAME.into(),
            data: manifest_bytes,
        });
    }
    entries.extend(files);
    // The bundled libraries last, by target then name (`lib/<arch>/<file>`).
    libs.sort_by(|a, b| a.name.cmp(&b.name));
    entries.extend(libs);
    let path = dir.join(file_name(&manifest));
    let bytes = archive::write(&entries).map_err(io("write", &path))?;
    crate::fsutil::write_atomic(&path, &bytes).map_err(io("write", &path))?;
    Ok(Packaged {
        size: bytes.len() as u64,
        sha256: manifest::sha256_hex(&bytes),
        path,
        manifest,
        signed_by,
        needed,
    })
}

/// `<id>-<version>.plg`.
pub fn file_name(manifest: &Manifest) -> String {
    format!("{}-{}.plg", manifest.plugin.id, manifest.plugin.version)
}
