//! `plugin-build inspect <file.so | file.plg>`: what a plugin file is and whether this
//! toolkit's host would load it.
//!
//! Nothing here loads a library: `dlopen` runs a library's initialisers, and inspect is meant
//! for files from strangers. For a shared object: its ELF facts (architecture, word size,
//! glibc floor, root symbol, stripped), size and SHA-256, the descriptor read from its
//! `.plugin_descriptor` section, and a verdict from plugin-host itself: the checks
//! [`plugrack_host::precheck`] makes before `dlopen` (plugrack-api version, host version,
//! target OS, architecture, ...), whose refusals name the fix. What only loading can check
//! (abi_stable's type layouts) is left to the host, and the verdict says so.
//! For a package: the archive and every checksum are verified as `deploy` does, the
//! descriptor comes from `plugin.toml`, each target's ELF facts are read, and the verdict is
//! the host's checks on this machine's target.
//!
//! Each object's needed libraries (`DT_NEEDED`) are listed with where each would come from:
//! for this machine's build, resolved as the host's preflight resolves them
//! ([`plugrack_host::needed`]: bundled `lib/` folder, run path, system library path), so a
//! missing one shows before a host refuses it; for another machine's build, whether the
//! package bundles it or it is a base system library.
//!
//! The host-defined extension points the plugin implements are listed from the section, with
//! the interface crate each was built against (the export macro writes the interface crate's
//! name and version there; the host refuses a library whose root module lists other
//! extensions than its section). With `--from` (a host's
//! `Cargo.lock` or folder), each is judged against the host's version of that interface crate
//! with the host's own rule (`plugrack_extension::check_version`): an extension built against
//! another semver line is an error with its own message, and `inspect` exits with
//! [`EXIT_REFUSED`] even though the plugin itself would load.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use plugrack_host::{manifest, HostConfig};
use serde::Serialize;

use crate::{
    build::check,
    cap::{host_lock_path, Lock},
    deploy, targets,
};

/// Exit code of `inspect`: the file was read, and this toolkit's host would refuse it.
pub const EXIT_REFUSED: u8 = 3;

/// Arguments of `plugin-build inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    /// A plugin (`.so`) or a package (`.plg`).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,

    /// The host application version to judge against (as `plugin-host --host-version`).
    #[arg(long, value_name = "SEMVER", default_value = "1.0.0")]
    pub host_version: semver::Version,

    /// The host's Cargo.lock (or its folder): judge each extension against the host's
    /// version of its interface crate.
    #[arg(long, value_name = "HOST")]
    pub from: Option<PathBuf>,

    /// Verify a package's signature with this public key (repeatable: any of them).
    #[arg(long, value_name = "FILE")]
    pub trusted_key: Vec<PathBuf>,
}

/// What `inspect` found.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The file inspected.
    pub file: PathBuf,
    /// `shared-object` or `package`.
    pub kind: &'static str,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// The descriptor, when it could be read.
    pub descriptor: Option<Descriptor>,
    /// One entry per shared object (one for a `.so`, one per target for a package).
    pub objects: Vec<Object>,
    /// The host-defined extension points it implements (from the descriptor section).
    pub extensions: Vec<InspectedExtension>,
    /// Who signed a package's `plugin.toml`, if anyone.
    pub signature: Option<Signature>,
    /// Where a package was built from (its `[source]`, `plugin-build from-git`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<manifest::ManifestSource>,
    /// Would this toolkit's host load it?
    pub verdict: Verdict,
}

/// The signature of a package's `plugin.toml`.
#[derive(Debug, Clone, Serialize)]
pub struct Signature {
    /// The signer's key id, as minisign shows it.
    pub key_id: plugrack_host::trust::KeyId,
    /// The signature's trusted comment.
    pub trusted_comment: String,
    /// Whether it was verified with a `--trusted-key` (false: no key given).
    pub verified: bool,
}

/// One extension point the plugin implements.
#[derive(Debug, Clone, Serialize)]
pub struct InspectedExtension {
    /// The extension point's id.
    pub id: String,
    /// The version the plugin implements.
    pub version: String,
    /// The interface crate it was built against.
    pub interface: String,
    /// That crate's version in the plugin.
    pub interface_version: String,
    /// With `--from`: the host's version(s) of the interface crate (empty when the host
    /// does not depend on it).
    pub host_versions: Option<Vec<String>>,
    /// With `--from`: why the host would refuse it, with the fix.
    pub problem: Option<String>,
}

impl Inspection {
    /// Whether the host would load the plugin and use every extension it was judged on.
    pub fn accepted(&self) -> bool {
        self.verdict.loads && self.extensions.iter().all(|e| e.problem.is_none())
    }
}

/// The descriptor's fields.
#[derive(Debug, Clone, Serialize)]
pub struct Descriptor {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Description.
    pub description: String,
    /// Host versions supported.
    pub host_version: String,
    /// Operating systems supported.
    pub target_os: Vec<String>,
    /// The plugrack-api version it was built against.
    pub api_version: String,
    /// Capabilities (from the descriptor section; unknown for a library without one).
    pub capabilities: Option<Vec<String>>,
}

/// The facts of one shared object.
#[derive(Debug, Clone, Serialize)]
pub struct Object {
    /// The file name (inside the package, for a package).
    pub file: String,
    /// The target it is built for, when it is one of the four.
    pub target: Option<&'static str>,
    /// `x86_64`, `aarch64`, ... or why it is not ELF.
    pub architecture: String,
    /// 32 or 64 (0 when not ELF).
    pub bits: u8,
    /// The highest `GLIBC_x.y` it needs.
    pub glibc: Option<String>,
    /// Whether it exports the plugin root symbol.
    pub root_symbol: bool,
    /// Whether the symbol table was stripped.
    pub stripped: bool,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: String,
    /// The libraries it needs (`DT_NEEDED`, and those of its bundled libraries).
    pub needed: Vec<NeededLibrary>,
}

/// One library an object needs, and where it would come from.
#[derive(Debug, Clone, Serialize)]
pub struct NeededLibrary {
    /// The name (`libgreet.so.1`).
    pub name: String,
    /// The bundled library that needs it, when not the plugin itself.
    pub needed_by: Option<String>,
    /// Where it comes from: `bundled: lib/libgreet.so.1`, `system: /lib/...`, `missing`, or for
    /// another machine's build `in the package: lib/arm64/...`, `base system`,
    /// `not bundled: the host must have it`.
    pub from: String,
    /// False when this machine's loader would not find it.
    pub found: bool,
}

/// The needed libraries of `bytes`: resolved from `origin` (its folder) when it is built for
/// this machine, else told apart by `bundled` (the package's libraries for its target).
fn needed_of(
    bytes: &[u8],
    origin: &Path,
    bundled: &[String],
    target: Option<&str>,
) -> Vec<NeededLibrary> {
    let native = target.is_some() && target == targets::host().map(|t| t.name);
    if native {
        return plugrack_host::needed::resolve(bytes, origin)
            .into_iter()
            .map(|n| NeededLibrary {
                found: n.source.is_some(),
                from: match &n.source {
                    Some(plugrack_host::needed::Source::Bundled(path)) => format!(
                        "bundled: {}",
                        path.strip_prefix(origin).unwrap_or(path).display()
                    ),
                    Some(source) => source.to_string(),
                    None => "missing: found neither bundled nor on this system".into(),
                },
                name: n.name,
                needed_by: n.needed_by,
            })
            .collect();
    }
    let names = plugrack_host::needed::dynamic(bytes)
        .map(|d| d.needed)
        .unwrap_or_default();
    names
        .into_iter()
        .map(|name| NeededLibrary {
            from: if bundled.contains(&name) {
                format!("in the package: lib/{}/{name}", target.unwrap_or("-"))
            } else if crate::package::bundle::is_base_system(&name) {
                "base system".into()
            } else {
                "not bundled: the host must have it".into()
            },
            found: true,
            name,
            needed_by: None,
        })
        .collect()
}

/// The host's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// True when this toolkit's host, on this machine, loads it.
    pub loads: bool,
    /// The host's words: what loaded, or the refusal with its fix.
    pub message: String,
}

/// Runs `inspect` from the command line.
pub fn run(args: &InspectArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let host_lock = match &args.from {
        Some(from) => Some(Lock::read(&host_lock_path(from)?)?),
        None => None,
    };
    let keys = args
        .trusted_key
        .iter()
        .map(|f| plugrack_host::trust::TrustedKey::from_file(f))
        .collect::<Result<Vec<_>, _>>()?;
    let policy = plugrack_host::trust::TrustPolicy::new(keys);
    let mut inspection = inspect_file(&args.file, &args.host_version, &policy)?;
    if let Some(lock) = host_lock.as_ref() {
        for extension in &mut inspection.extensions {
            judge(extension, lock);
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        print!("{}", render(&inspection));
    }
    Ok(if inspection.accepted() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REFUSED)
    })
}

/// Inspects a `.so` or `.plg` file (told apart by content, not by name).
pub fn inspect(
    file: &Path,
    host_version: &semver::Version,
) -> Result<Inspection, deploy::DeployError> {
    inspect_with(file, host_version, None)
}

/// [`inspect`], judging the plugin's extensions against the host's lock when one is given.
pub fn inspect_with(
    file: &Path,
    host_version: &semver::Version,
    host_lock: Option<&Lock>,
) -> Result<Inspection, deploy::DeployError> {
    let mut inspection = inspect_file(
        file,
        host_version,
        &plugrack_host::trust::TrustPolicy::default(),
    )?;
    if let Some(lock) = host_lock {
        for extension in &mut inspection.extensions {
            judge(extension, lock);
        }
    }
    Ok(inspection)
}

/// Judges `extension` against the host lock's versions of its interface crate.
fn judge(extension: &mut InspectedExtension, lock: &Lock) {
    let host: Vec<String> = lock
        .named(&extension.interface)
        .map(|p| p.version.to_string())
        .collect();
    let refusals: Vec<plugrack_extension::VersionMismatch> = host
        .iter()
        .filter_map(|h| plugrack_extension::check_version(h, &extension.interface_version).err())
        .collect();
    if !host.is_empty() && refusals.len() == host.len() {
        let line = semver::Version::parse(&host[0])
            .map(|v| crate::cap::line::Line::of(&v).requirement())
            .unwrap_or_default();
        extension.problem = Some(format!(
            "extension `{}`: built against `{}` {}; the host's lock has {}: the host refuses this extension\n  fix: build against the host's line: `{} = \"{line}\"`, then `plugin-build cap --from <host>/Cargo.lock`",
            extension.id,
            extension.interface,
            extension.interface_version,
            host.join(" and "),
            extension.interface,
        ));
    }
    extension.host_versions = Some(host);
}

fn extensions_of(section: &plugrack_host::section::Section) -> Vec<InspectedExtension> {
    section
        .extensions
        .iter()
        .map(|e| InspectedExtension {
            id: e.id.clone(),
            version: e.version.clone(),
            interface: e.interface.clone(),
            interface_version: e.interface_version.clone(),
            host_versions: None,
            problem: None,
        })
        .collect()
}

fn descriptor_of(section: &plugrack_host::section::Section) -> Descriptor {
    Descriptor {
        id: section.id.clone(),
        name: section.name.clone(),
        version: section.version.clone(),
        description: section.description.clone(),
        host_version: section.host_version.clone(),
        target_os: section.target_os.clone(),
        api_version: section.api_version.clone(),
        capabilities: Some(section.capabilities.clone()),
    }
}

/// The host's checks before `dlopen` on `library` (a file, never loaded), as a verdict, and
/// the library's descriptor section when it has one. A section is read even from a library
/// the host refuses (one for another architecture), so that inspect can say what it is.
fn judge_library(
    library: &Path,
    bytes: &[u8],
    host_version: &semver::Version,
) -> (Verdict, Option<plugrack_host::section::Section>) {
    let section = plugrack_descriptor::elf::read(bytes).ok().flatten();
    let config = HostConfig::new(host_version.clone());
    let verdict = match plugrack_host::precheck(library, &config) {
        Err(error) => Verdict {
            loads: false,
            message: error.to_string(),
        },
        Ok(checked) if checked.section.is_none() => Verdict {
            loads: true,
            message: format!(
                "passes this toolkit's checks before loading, but it has no descriptor section (built without plugrack-sdk): its plugrack-api version and descriptor are only checked when a host loads it (plugrack-api {}, host version {host_version}, {})",
                plugrack_host::API_VERSION,
                targets::host().map_or(std::env::consts::ARCH, |t| t.name)
            ),
        },
        Ok(_) => Verdict {
            loads: true,
            message: format!(
                "passes every check this toolkit's host makes before loading (plugrack-api {}, host version {host_version}, {}); type layouts are compared when a host loads it",
                plugrack_host::API_VERSION,
                targets::host().map_or(std::env::consts::ARCH, |t| t.name)
            ),
        },
    };
    (verdict, section)
}

fn inspect_file(
    file: &Path,
    host_version: &semver::Version,
    policy: &plugrack_host::trust::TrustPolicy,
) -> Result<Inspection, deploy::DeployError> {
    let bytes = std::fs::read(file).map_err(|source| deploy::DeployError::Io {
        action: "read",
        path: file.to_owned(),
        source,
    })?;
    let mut inspection = Inspection {
        file: file.to_owned(),
        kind: "shared-object",
        size: bytes.len() as u64,
        sha256: manifest::sha256_hex(&bytes),
        descriptor: None,
        objects: Vec::new(),
        extensions: Vec::new(),
        signature: None,
        source: None,
        verdict: Verdict {
            loads: false,
            message: String::new(),
        },
    };
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        let mut object = object_facts(file, &display_name(file), &bytes);
        let origin = file.parent().unwrap_or(Path::new("."));
        let origin = std::path::absolute(origin).unwrap_or_else(|_| origin.to_owned());
        object.needed = needed_of(&bytes, &origin, &[], object.target);
        inspection.objects.push(object);
        let (verdict, section) = judge_library(file, &bytes, host_version);
        inspection.verdict = verdict;
        if let Some(section) = section {
            inspection.extensions = extensions_of(&section);
            inspection.descriptor = Some(descriptor_of(&section));
        }
        return Ok(inspection);
    }

    inspection.kind = "package";
    let verified = match deploy::verify_with(file, &bytes, policy) {
        Ok(verified) => verified,
        Err(error) => {
            inspection.verdict.message = error.to_string();
            return Ok(inspection);
        }
    };
    inspection.signature = verified.signature.as_ref().map(|info| Signature {
        key_id: info.key_id,
        trusted_comment: info.trusted_comment.clone(),
        verified: verified.signer.is_some(),
    });
    inspection.source = verified.manifest.source.clone();
    let plugin = &verified.manifest.plugin;
    let mut descriptor = Descriptor {
        id: plugin.id.clone(),
        name: plugin.name.clone(),
        version: plugin.version.clone(),
        description: plugin.description.clone(),
        host_version: plugin.host_version.clone(),
        target_os: plugin.target_os.clone(),
        api_version: plugin.api_version.clone(),
        capabilities: None,
    };
    let unpacked = tempfile::tempdir().map_err(|source| deploy::DeployError::Io {
        action: "create a temporary folder for",
        path: file.to_owned(),
        source,
    })?;
    let write = |path: &Path, data: &[u8]| {
        std::fs::write(path, data).map_err(|source| deploy::DeployError::Io {
            action: "write",
            path: path.to_owned(),
            source,
        })
    };
    let host_name = targets::host().map(|t| t.name);
    for (name, entry) in &verified.manifest.targets {
        let path = unpacked.path().join(&entry.file);
        let data = verified.data(&entry.file);
        write(&path, data)?;
        // This machine's bundled libraries go where a deploy puts them, so that the host's
        // checks below find them through the plugin's `$ORIGIN/lib`.
        if Some(name.as_str()) == host_name && !entry.libs.is_empty() {
            let lib_dir = unpacked.path().join(manifest::LIB_DIR);
            std::fs::create_dir_all(&lib_dir).map_err(|source| deploy::DeployError::Io {
                action: "create",
                path: lib_dir.clone(),
                source,
            })?;
            for lib in &entry.libs {
                let packaged = manifest::package_lib_name(name, &lib.file);
                write(&lib_dir.join(&lib.file), verified.data(&packaged))?;
            }
        }
        let mut object = object_facts(&path, &entry.file, data);
        let bundled: Vec<String> = entry.libs.iter().map(|l| l.file.clone()).collect();
        object.needed = needed_of(data, unpacked.path(), &bundled, Some(name.as_str()));
        inspection.objects.push(object);
    }
    let host = targets::host();
    match host.and_then(|t| verified.manifest.targets.get(t.name).map(|e| (t, e))) {
        Some((_, entry)) => {
            let path = unpacked.path().join(&entry.file);
            let (mut verdict, section) =
                judge_library(&path, verified.data(&entry.file), host_version);
            // Name the file as the user knows it, not the temporary copy.
            let shown = format!("{}!{}", file.display(), entry.file);
            verdict.message = verdict.message.replace(&path.display().to_string(), &shown);
            inspection.verdict = verdict;
            if let Some(section) = section {
                inspection.extensions = extensions_of(&section);
                descriptor.capabilities = Some(section.capabilities);
            }
        }
        None => {
            let name = host.map_or(std::env::consts::ARCH, |t| t.name);
            inspection.verdict.message = format!(
                "the package has no build for this machine ({name}); it has: {}\n  fix: `plugin-build --target {name} && plugin-build package`",
                verified.manifest.targets.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    inspection.descriptor = Some(descriptor);
    Ok(inspection)
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn object_facts(path: &Path, file: &str, bytes: &[u8]) -> Object {
    let mut object = Object {
        file: file.to_owned(),
        target: None,
        architecture: String::new(),
        bits: 0,
        glibc: None,
        root_symbol: false,
        stripped: false,
        size: bytes.len() as u64,
        sha256: manifest::sha256_hex(bytes),
        needed: Vec::new(),
    };
    match check::inspect(path) {
        Ok(report) => {
            let target = targets::by_elf_machine(report.elf_machine)
                .filter(|t| t.elf_class.bits() == report.class_bits);
            object.target = target.map(|t| t.name);
            object.architecture = report
                .machine
                .map(str::to_owned)
                .unwrap_or_else(|| format!("ELF machine {}", report.elf_machine));
            object.bits = report.class_bits;
            object.glibc = report.glibc.map(|g| g.to_string());
            object.root_symbol = report.root_symbol;
            object.stripped = report.stripped;
        }
        Err(e) => {
            object.architecture = match e {
                check::InspectError::NotElf { reason, .. } => format!("not ELF ({reason})"),
                other => other.to_string(),
            }
        }
    }
    object
}

/// The human rendering.
pub fn render(inspection: &Inspection) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "file:        {} ({}, {} bytes)",
        inspection.file.display(),
        inspection.kind,
        inspection.size
    );
    let _ = writeln!(out, "sha256:      {}", inspection.sha256);
    match &inspection.signature {
        Some(s) => {
            let _ = writeln!(
                out,
                "signed by:   key {} ({}; trusted comment: {})",
                s.key_id,
                if s.verified {
                    "verified with a trusted key"
                } else {
                    "not verified: pass --trusted-key KEY.pub"
                },
                s.trusted_comment
            );
        }
        None if inspection.kind == "package" => {
            let _ = writeln!(out, "signed by:   - (unsigned)");
        }
        None => {}
    }
    match &inspection.descriptor {
        Some(d) => {
            let _ = writeln!(out, "plugin:      {} {} ({})", d.id, d.version, d.name);
            if !d.description.is_empty() {
                let _ = writeln!(out, "description: {}", d.description);
            }
            let _ = writeln!(out, "host:        {}", d.host_version);
            let _ = writeln!(out, "target-os:   {}", d.target_os.join(", "));
            let _ = writeln!(out, "plugrack-api:  {}", d.api_version);
            if let Some(caps) = &d.capabilities {
                let _ = writeln!(out, "capabilities: {}", caps.join(", "));
            }
        }
        None => {
            let _ = writeln!(out, "plugin:      - (descriptor not readable)");
        }
    }
    if let Some(source) = &inspection.source {
        let _ = writeln!(
            out,
            "source:      {} at {}{}",
            source.git,
            source.commit,
            source
                .subdir
                .as_ref()
                .map(|d| format!(" (in `{d}`)"))
                .unwrap_or_default()
        );
    }
    for o in &inspection.objects {
        let _ = writeln!(
            out,
            "object:      {}: {} {}-bit, glibc {}, {} bytes, root symbol {}, {}, sha256 {}",
            o.file,
            o.target.unwrap_or("-"),
            if o.bits == 0 {
                o.architecture.clone()
            } else {
                format!("{} {}", o.architecture, o.bits)
            },
            o.glibc.as_deref().unwrap_or("-"),
            o.size,
            if o.root_symbol { "yes" } else { "no" },
            if o.stripped {
                "stripped"
            } else {
                "not stripped"
            },
            &o.sha256[..16],
        );
        for n in &o.needed {
            let through = match &n.needed_by {
                Some(by) => format!(" (by {by})"),
                None => String::new(),
            };
            let _ = writeln!(out, "  needs:     {}{through} <- {}", n.name, n.from);
        }
    }
    for e in &inspection.extensions {
        let judged = match (&e.host_versions, &e.problem) {
            (_, Some(_)) => "refused by the host's lock".to_owned(),
            (Some(host), None) if host.is_empty() => "the host's lock does not have it".to_owned(),
            (Some(host), None) => format!("the host's lock has {}: ok", host.join(" and ")),
            (None, None) => "checked by the host when it loads".to_owned(),
        };
        let _ = writeln!(
            out,
            "extension:   {} {} ({} {}): {judged}",
            e.id, e.version, e.interface, e.interface_version
        );
    }
    for problem in inspection
        .extensions
        .iter()
        .filter_map(|e| e.problem.as_deref())
    {
        let _ = writeln!(
            out,
            "error:       {}",
            problem.replace('\n', "\n             ")
        );
    }
    if inspection.verdict.loads {
        let _ = writeln!(out, "verdict:     ok: {}", inspection.verdict.message);
    } else {
        let _ = writeln!(out, "verdict:     refused");
        for line in inspection.verdict.message.lines() {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}
