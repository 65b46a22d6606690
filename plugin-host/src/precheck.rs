//! Everything the host decides about a plugin before any of its code runs.
//!
//! `dlopen` runs a library's constructors, so a file refused here never runs a line of its
//! code. In order:
//!
//! 1. a plugin folder's `plugin.toml` is read and, under a trust policy, its exact bytes must
//!    carry a signature by a trusted key ([`crate::trust`]); then it must parse and list a
//!    build for this host;
//! 2. the library is taken once, whole: read into memory ([`precheck`], for tools), or, when the
//!    manager loads it, copied by the kernel into the manager's private copy and checked
//!    through a read-only map of that copy; a file that changes while it is taken (a copy in
//!    progress) is refused, so what is checked is exactly what is loaded;
//! 3. the ELF checks of [`crate::preflight`] (file type, class, machine, structure, root
//!    symbol) and, for a plugin folder, the size and SHA-256 that `plugin.toml` lists;
//! 4. under a trust policy, a bare `.so` is refused as unsigned (only a plugin folder carries a
//!    signature);
//! 5. the descriptor section: its plugrack-api version, host-version requirement and target OS
//!    against this host, and its id and version against `plugin.toml`;
//! 6. the libraries it needs ([`crate::needed`]): the bundled ones `plugin.toml` lists must be
//!    in the folder's `lib/` with their size and SHA-256, and every `DT_NEEDED` entry must be
//!    found where the dynamic loader looks, or the plugin is refused naming the library.
//!
//! A library without a descriptor section (built against plugrack-api 1.0.0 without the SDK)
//! passes step 5 untouched: the host then learns its descriptor only after `dlopen`, as before
//! sections existed; under a trust policy the signature over its SHA-256 is what admits it.
//! The manager adds the one check that needs the other plugins, a duplicate id, and after
//! loading, that the root module's descriptor agrees with the section ([`agree`]).

use std::{
    fs,
    io::Read,
    ops::Deref,
    path::{Path, PathBuf},
};

use plugrack_descriptor::{
    compare::{DescriptorFields, Field},
    section::Section,
};

use crate::{
    config::HostConfig,
    discovery,
    error::{LoadError, Refusal},
    extension::FileIdentity,
    manifest::Manifest,
    needed::{self, Needed, Source},
    preflight::{self, ElfFacts},
    runner::PrivateCopy,
    trust::{Signer, TrustError},
    PluginInfo,
};

/// A plugin that passed every check that can run before `dlopen`.
#[derive(Debug, Clone)]
pub struct Prechecked {
    /// The library file (inside the plugin folder for a folder).
    pub library: PathBuf,
    /// Its bytes, read once: what was checked is what must be loaded.
    pub bytes: Vec<u8>,
    /// What its ELF header says.
    pub facts: ElfFacts,
    /// The plugin folder's manifest.
    pub manifest: Option<Manifest>,
    /// The descriptor section, when the library has one.
    pub section: Option<Section>,
    /// The trusted key that signed the manifest, under a trust policy.
    pub signer: Option<Signer>,
    /// Every library it needs and where each comes from.
    pub needed: Vec<Needed>,
    /// The libraries found through its `$ORIGIN` run path, read once like the library: paths
    /// relative to its folder (`lib/libgreet.so.1`) and bytes, copied beside its private copy.
    pub bundled: Vec<(PathBuf, Vec<u8>)>,
}

/// Runs every check that can run before `dlopen` on the plugin file or plugin folder `path`,
/// with `config`'s host version and trust policy.
///
/// ```no_run
/// use plugrack_host::{precheck, HostConfig};
///
/// let config = HostConfig::new("1.0.0".parse().unwrap());
/// match precheck(std::path::Path::new("plugins/notify"), &config) {
///     Ok(checked) => println!("{:?} passes every check before loading", checked.section.map(|s| s.id)),
///     Err(refusal) => eprintln!("{refusal}"),
/// }
/// ```
pub fn precheck(path: &Path, config: &HostConfig) -> Result<Prechecked, Box<LoadError>> {
    let checked = check(path, config, Take::Read)?;
    Ok(Prechecked {
        library: checked.library,
        bytes: match checked.bytes {
            LibraryBytes::Read(bytes) => bytes,
            mapped => mapped.to_vec(),
        },
        facts: checked.facts,
        manifest: checked.manifest,
        section: checked.section,
        signer: checked.signer,
        needed: checked.needed,
        bundled: checked.bundled,
    })
}

/// How the library's bytes are taken from the plugins folder.
pub(crate) enum Take<'a> {
    /// Read into memory.
    Read,
    /// Copied to the private file this names (from the library's path), then mapped.
    CopyTo(&'a dyn Fn(&Path) -> PathBuf),
    /// Mapped where it is, and given the private name `name` names, a link to the open file
    /// ([`crate::LoadFrom::InPlace`]); copied as by `CopyTo` when `allowed` says no for the
    /// open file's metadata.
    InPlace {
        name: &'a dyn Fn(&Path) -> PathBuf,
        allowed: &'a dyn Fn(&fs::Metadata) -> bool,
    },
}

/// A library's bytes as the checks see them.
pub(crate) enum LibraryBytes {
    /// Read into memory.
    Read(Vec<u8>),
    /// A read-only map of the private copy; `copy` is the copy's name, until the manager
    /// takes it to load (the map keeps the data after the name is removed).
    Copied {
        map: memmap2::Mmap,
        copy: Option<PrivateCopy>,
    },
    /// A read-only map of the file itself; `link` is a private name for the open `file`
    /// (a symbolic link to `/proc/self/fd/N`), until the manager takes it to load. The file
    /// stays open, so the link keeps naming what was checked, until this is dropped.
    InPlace {
        map: memmap2::Mmap,
        link: Option<PrivateCopy>,
        #[expect(
            dead_code,
            reason = "held open: the link names it until the library is loaded"
        )]
        file: fs::File,
    },
}

impl LibraryBytes {
    /// The private copy (or, in place, the private link), once: the manager loads it.
    pub(crate) fn take_copy(&mut self) -> Option<PrivateCopy> {
        match self {
            LibraryBytes::Read(_) => None,
            LibraryBytes::Copied { copy, .. } => copy.take(),
            LibraryBytes::InPlace { link, .. } => link.take(),
        }
    }

    /// Whether these are the file itself rather than a copy.
    pub(crate) fn is_in_place(&self) -> bool {
        matches!(self, LibraryBytes::InPlace { .. })
    }
}

impl Deref for LibraryBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            LibraryBytes::Read(bytes) => bytes,
            LibraryBytes::Copied { map, .. } | LibraryBytes::InPlace { map, .. } => map,
        }
    }
}

/// [`Prechecked`] with the bytes as taken.
pub(crate) struct Checked {
    pub library: PathBuf,
    pub bytes: LibraryBytes,
    /// The library file's identity as it was taken (what the layout-check cache remembers
    /// its hash by).
    pub identity: FileIdentity,
    pub facts: ElfFacts,
    pub manifest: Option<Manifest>,
    pub section: Option<Section>,
    pub signer: Option<Signer>,
    pub needed: Vec<Needed>,
    pub bundled: Vec<(PathBuf, Vec<u8>)>,
}

/// [`precheck`], taking the library's bytes as `take` says.
pub(crate) fn check(
    path: &Path,
    config: &HostConfig,
    take: Take<'_>,
) -> Result<Checked, Box<LoadError>> {
    let fail = |refusal: Refusal| Box::new(LoadError::new(path, refusal));
    let policy = config.trust_policy();
    let (library, bytes, identity, manifest, signer) = if path.is_dir() {
        let snapshot = folder_snapshot(path, &take).map_err(fail)?;
        let signer = policy
            .check(
                &snapshot.folder.manifest_bytes,
                snapshot.folder.signature.as_deref(),
            )
            .map_err(|e| fail(Refusal::Trust(e)))?;
        let (library, manifest) =
            discovery::library_of(path, snapshot.folder.manifest).map_err(fail)?;
        let (bytes, identity) = snapshot.library.map_err(fail)?;
        (library, bytes, identity, Some(manifest), signer)
    } else {
        let file = fs::File::open(path).map_err(|e| {
            fail(Refusal::Unreadable {
                reason: e.to_string(),
            })
        })?;
        let (bytes, identity) = take_whole(file, path, &take).map_err(fail)?;
        (path.to_owned(), bytes, identity, None, None)
    };
    let (facts, section) = preflight::inspect_with_section(&bytes).map_err(fail)?;
    let with_id = |refusal: Refusal, id: &str| Box::new(LoadError::new(path, refusal).with_id(id));
    if let Some(manifest) = &manifest {
        discovery::verify(manifest, &bytes).map_err(|r| with_id(r, &manifest.plugin.id))?;
    } else if policy.is_enforced() {
        return Err(fail(Refusal::Trust(TrustError::Unsigned)));
    }
    if let Some(section) = &section {
        preflight::check_section(section, &config.host_version)
            .map_err(|r| with_id(r, &section.id))?;
        if let Some(manifest) = &manifest {
            let plugin = manifest.plugin.fields();
            if let Some(d) = plugin.first_difference_among(&section.fields(), &Field::RELEASE) {
                return Err(with_id(
                    Refusal::ManifestMismatch {
                        field: d.field,
                        manifest: d.this,
                        library: d.other,
                    },
                    &section.id,
                ));
            }
        }
    }
    let id = manifest
        .as_ref()
        .map(|m| m.plugin.id.clone())
        .or_else(|| section.as_ref().map(|s| s.id.clone()));
    let refuse = |refusal: Refusal| match &id {
        Some(id) => with_id(refusal, id),
        None => fail(refusal),
    };
    let origin = library.parent().unwrap_or(Path::new("."));
    let mut bundled = listed_libraries(origin, manifest.as_ref()).map_err(refuse)?;
    let needed = needed::resolve(&bytes, origin);
    if let Some(missing) = needed::first_missing(&needed) {
        return Err(refuse(Refusal::MissingLibrary {
            library: missing.name.clone(),
            needed_by: missing.needed_by.clone(),
        }));
    }
    // Libraries found through `$ORIGIN` that plugin.toml does not list (a bare file's
    // neighbours) are copied along too, read once here.
    for found in &needed {
        let Some(Source::Bundled(file)) = &found.source else {
            continue;
        };
        let Some(relative) = file.strip_prefix(origin).ok().filter(|r| is_below(r)) else {
            continue;
        };
        if bundled.iter().any(|(r, _)| r == relative) {
            continue;
        }
        let data = fs::read(file).map_err(|e| {
            refuse(Refusal::Unreadable {
                reason: format!("cannot read `{}`: {e}", file.display()),
            })
        })?;
        bundled.push((relative.to_owned(), data));
    }
    Ok(Checked {
        library,
        bytes,
        identity,
        facts,
        manifest,
        section,
        signer,
        needed,
        bundled,
    })
}

/// The bundled libraries `plugin.toml` lists for this host, read from the folder's `lib/` and
/// checked against their size and SHA-256.
fn listed_libraries(
    folder: &Path,
    manifest: Option<&Manifest>,
) -> Result<Vec<(PathBuf, Vec<u8>)>, Refusal> {
    let Some(target) = manifest.and_then(|m| m.targets.get(crate::host_target_name())) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for lib in &target.libs {
        let relative = Path::new(crate::manifest::LIB_DIR).join(&lib.file);
        let shown = relative.to_string_lossy().into_owned();
        let data = match fs::File::open(folder.join(&relative)) {
            Ok(file) => read_whole(file)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Refusal::BundledLibraryMissing { file: shown })
            }
            Err(e) => {
                return Err(Refusal::Unreadable {
                    reason: format!("cannot read `{shown}`: {e}"),
                })
            }
        };
        let sha256 = crate::manifest::sha256_hex(&data);
        if data.len() as u64 != lib.size || sha256 != lib.sha256 {
            return Err(Refusal::ChecksumMismatch {
                file: shown,
                expected: lib.sha256.clone(),
                found: sha256,
            });
        }
        out.push((relative, data));
    }
    Ok(out)
}

/// True for a relative path that stays below its folder (no `..`, not absolute).
fn is_below(path: &Path) -> bool {
    path.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// A plugin folder read as one: the manifest, its signature and the library, all from the
/// same folder.
struct Snapshot {
    folder: discovery::Folder,
    library: Result<(LibraryBytes, FileIdentity), Refusal>,
}

/// Reads a plugin folder's files through one handle on the folder, so that a deploy that swaps
/// the folder meanwhile cannot pair one version's manifest with another's library. A deploy
/// that removes the old folder while it is being read makes a file vanish: then the folder
/// is read again (at most three times), and the new one is what is checked.
fn folder_snapshot(folder: &Path, take: &Take<'_>) -> Result<Snapshot, Refusal> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match try_snapshot(folder, take) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && attempt < 3 => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => {
                return Err(Refusal::Unreadable {
                    reason: e.to_string(),
                })
            }
            Ok(snapshot) => return Ok(snapshot),
        }
    }
}

fn try_snapshot(folder: &Path, take: &Take<'_>) -> std::io::Result<Snapshot> {
    let handle = fs::File::open(folder)?;
    let folder_read = discovery::read_folder_in(&handle)?;
    let library = match &folder_read.manifest {
        Ok(manifest) => match manifest.targets.get(crate::host_target_name()) {
            Some(target) => match discovery::open_in(&handle, &target.file) {
                Ok(file) => take_whole(file, &folder.join(&target.file), take),
                // Vanished with a replaced folder: read again. A file that was never there is
                // reported by `library_of` (no build for this host) or below.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    if discovery::open_in(&handle, crate::manifest::FILE_NAME).is_err() {
                        return Err(e);
                    }
                    Err(Refusal::Unreadable {
                        reason: e.to_string(),
                    })
                }
                Err(e) => Err(Refusal::Unreadable {
                    reason: e.to_string(),
                }),
            },
            None => Err(Refusal::NotAFile),
        },
        Err(refusal) => Err(refusal.clone()),
    };
    Ok(Snapshot {
        folder: folder_read,
        library,
    })
}

/// Takes the open library file `file` (at `library`) whole, as `take` says; with the bytes,
/// the file's identity before they were taken (a copy or a read also checks that the file
/// did not change meanwhile).
fn take_whole(
    file: fs::File,
    library: &Path,
    take: &Take<'_>,
) -> Result<(LibraryBytes, FileIdentity), Refusal> {
    let before = before_taking(&file)?;
    let bytes = match take {
        Take::Read => read_taken(file, &before).map(LibraryBytes::Read)?,
        Take::CopyTo(name) => copy_whole(file, &before, name(library))?,
        Take::InPlace { name, allowed } if !allowed(&before) => {
            copy_whole(file, &before, name(library))?
        }
        Take::InPlace { name, .. } => match map_in_place(&file, name(library)) {
            Ok((map, link)) => LibraryBytes::InPlace {
                map,
                link: Some(link),
                file,
            },
            // No `/proc` (or no map): a copy works everywhere.
            Err(e) => {
                log::debug!(target: "plugrack_host", "loading a copy of {}: {e}", library.display());
                copy_whole(file, &before, name(library))?
            }
        },
    };
    Ok((bytes, FileIdentity::of(&before)))
}

/// Maps the open file read-only where it is and links the private name `link` to it.
///
/// Why a link: the dynamic loader hands back the library it already has for a name it has
/// seen, so every load needs a name of its own; and a link to `/proc/self/fd/N` names this
/// open file, not whatever the plugin's path names by the time the loader opens it.
fn map_in_place(file: &fs::File, link: PathBuf) -> std::io::Result<(memmap2::Mmap, PrivateCopy)> {
    use std::os::fd::AsRawFd;
    // SAFETY: `LoadFrom::InPlace` is the host's promise that nothing writes a plugin file in
    // place; the checks read the map before the library is loaded from the same file.
    let map = unsafe { memmap2::Mmap::map(file) }?;
    std::os::unix::fs::symlink(format!("/proc/self/fd/{}", file.as_raw_fd()), &link)?;
    Ok((map, PrivateCopy(link)))
}

fn unreadable(e: std::io::Error) -> Refusal {
    Refusal::Unreadable {
        reason: e.to_string(),
    }
}

/// The open file's metadata before it is taken: a regular file, not empty.
fn before_taking(file: &fs::File) -> Result<fs::Metadata, Refusal> {
    let before = file.metadata().map_err(unreadable)?;
    if !before.is_file() {
        return Err(Refusal::NotAFile);
    }
    if before.len() == 0 {
        return Err(Refusal::Empty);
    }
    Ok(before)
}

/// Refuses a file that changed while `taken` bytes of it were taken: its size or modification
/// time differs between before and after (checked on the open file, so a file renamed into
/// place meanwhile is not a change: the old one was taken whole).
fn unchanged(file: &fs::File, before: &fs::Metadata, taken: u64) -> Result<(), Refusal> {
    let after = file.metadata().map_err(unreadable)?;
    let changed = taken != before.len()
        || after.len() != before.len()
        || after.modified().ok() != before.modified().ok();
    if changed {
        return Err(Refusal::ChangedWhileReading);
    }
    Ok(())
}

/// Reads an open file whole, refusing one that changes while it is read.
fn read_whole(file: fs::File) -> Result<Vec<u8>, Refusal> {
    let before = before_taking(&file)?;
    read_taken(file, &before)
}

/// [`read_whole`] for a file whose metadata `before` was taken.
fn read_taken(mut file: fs::File, before: &fs::Metadata) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::with_capacity(before.len() as usize);
    file.read_to_end(&mut bytes).map_err(unreadable)?;
    unchanged(&file, before, bytes.len() as u64)?;
    Ok(bytes)
}

/// Copies an open file whole to the new file `to`, refusing one that changes meanwhile, and
/// maps the copy read-only for the checks.
///
/// Why: the manager loads a private copy anyway (see `manager/open.rs`). Reading the file
/// into memory and writing the copy from there passed every byte through fresh pages of this
/// process twice; a file-to-file copy stays in the kernel (`copy_file_range`, else
/// `sendfile`), and the checks touch only the pages they read (headers, the section, the root
/// symbol), from the copy that is then loaded.
fn copy_whole(
    mut file: fs::File,
    before: &fs::Metadata,
    to: PathBuf,
) -> Result<LibraryBytes, Refusal> {
    let cannot_copy = |e: std::io::Error, to: &Path| Refusal::Unreadable {
        reason: format!("cannot copy it to {}: {e}", to.display()),
    };
    let mut out = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&to)
        .map_err(|e| cannot_copy(e, &to))?;
    // From here on an error removes the copy.
    let copy = PrivateCopy(to);
    let copied = std::io::copy(&mut file, &mut out).map_err(|e| cannot_copy(e, &copy.0))?;
    unchanged(&file, before, copied)?;
    // SAFETY: the copy is the manager's own file in its private folder, written above and
    // never written again, so the map's bytes cannot change or shrink under it.
    let map = unsafe { memmap2::Mmap::map(&out) }.map_err(|e| cannot_copy(e, &copy.0))?;
    Ok(LibraryBytes::Copied {
        map,
        copy: Some(copy),
    })
}

/// Checks, after loading, that the root module's descriptor says what the section said: the
/// host decided on the section before loading and trusts the root module after, so the two
/// must be one descriptor.
pub(crate) fn agree(section: &Section, info: &PluginInfo) -> Result<(), Refusal> {
    match section.first_difference(&module_fields(info), &info.capabilities) {
        None => Ok(()),
        Some(d) => Err(Refusal::SectionMismatch {
            field: d.field,
            section: d.this,
            module: d.other,
        }),
    }
}

/// Checks, after loading, that the root module is the release `plugin.toml` names (its id and
/// version), as the section was checked before loading.
pub(crate) fn agree_with_manifest(manifest: &Manifest, info: &PluginInfo) -> Result<(), Refusal> {
    let plugin = manifest.plugin.fields();
    match plugin.first_difference_among(&module_fields(info), &Field::RELEASE) {
        None => Ok(()),
        Some(d) => Err(Refusal::ManifestMismatch {
            field: d.field,
            manifest: d.this,
            library: d.other,
        }),
    }
}

/// The descriptor of a loaded root module, as fields to compare.
fn module_fields(info: &PluginInfo) -> DescriptorFields<'_> {
    DescriptorFields {
        id: &info.id,
        name: &info.name,
        version: &info.version,
        description: &info.description,
        authors: &info.authors,
        homepage: &info.homepage,
        license: &info.license,
        host_version: &info.host_version_req,
        target_os: &info.target_os,
        api_version: &info.api_version,
    }
}

/// Checks, after loading, that the root module lists the extension points (id and version)
/// the section lists, in the same order: tools judge a plugin's extensions from the section
/// alone, so a library whose code declares others is refused like any other disagreement.
pub(crate) fn agree_extensions(
    section: &Section,
    module: plugrack_api::PluginModuleRef,
) -> Result<(), Refusal> {
    // `None`: built against plugrack-api 1.0, which has no extensions.
    let in_module: Vec<(String, String)> = module
        .extensions()
        .map(|list| {
            list.iter()
                .map(|decl| (decl.id().to_string(), decl.version().to_string()))
                .collect()
        })
        .unwrap_or_default();
    agree_listed_extensions(section, &in_module)
}

/// [`agree_extensions`] for a root module in a worker process, whose list of (id, version)
/// the worker sent.
pub(crate) fn agree_listed_extensions(
    section: &Section,
    in_module: &[(String, String)],
) -> Result<(), Refusal> {
    let in_section: Vec<String> = section
        .extensions
        .iter()
        .map(|e| format!("{} {}", e.id, e.version))
        .collect();
    let in_module: Vec<String> = in_module
        .iter()
        .map(|(id, version)| format!("{id} {version}"))
        .collect();
    if in_section != in_module {
        return Err(Refusal::SectionMismatch {
            field: "extensions",
            section: in_section.join(", "),
            module: in_module.join(", "),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agree_names_the_first_field_where_section_and_root_module_differ() {
        let section = Section {
            format: plugrack_descriptor::section::FORMAT,
            id: "p".into(),
            name: "P".into(),
            version: "1.0.0".into(),
            description: String::new(),
            authors: vec!["A".into()],
            homepage: String::new(),
            license: "MIT".into(),
            host_version: ">=1.0, <2".into(),
            target_os: vec!["linux".into()],
            api_version: "1.0.0".into(),
            capabilities: vec!["execute".into(), "http".into()],
            extensions: vec![],
        };
        let info = PluginInfo {
            id: "p".into(),
            name: "P".into(),
            version: "1.0.0".into(),
            description: String::new(),
            authors: vec!["A".into()],
            homepage: String::new(),
            license: "MIT".into(),
            host_version_req: ">=1.0, <2".into(),
            target_os: vec!["linux".into()],
            api_version: "1.0.0".into(),
            capabilities: vec!["execute", "http"],
            path: PathBuf::from("p.so"),
        };
        assert_eq!(agree(&section, &info), Ok(()));
        let mismatch = |field, section: &str, module: &str| {
            Err(Refusal::SectionMismatch {
                field,
                section: section.into(),
                module: module.into(),
            })
        };
        let mut edited = info.clone();
        edited.host_version_req = "*".into();
        assert_eq!(
            agree(&section, &edited),
            mismatch("host-version", ">=1.0, <2", "*")
        );
        let mut edited = info.clone();
        edited.capabilities.pop();
        assert_eq!(
            agree(&section, &edited),
            mismatch("capabilities", "execute, http", "execute")
        );
        // The descriptor fields come before the capabilities.
        edited.version = "1.0.1".into();
        assert_eq!(
            agree(&section, &edited),
            mismatch("version", "1.0.0", "1.0.1")
        );
    }

    #[test]
    fn a_file_read_whole_is_returned_and_special_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.so");
        let open = |path: &Path| fs::File::open(path).unwrap();
        fs::write(&file, b"bytes").unwrap();
        assert_eq!(read_whole(open(&file)).unwrap(), b"bytes");
        fs::write(&file, b"").unwrap();
        assert_eq!(read_whole(open(&file)), Err(Refusal::Empty));
        assert_eq!(read_whole(open(dir.path())), Err(Refusal::NotAFile));
    }

    /// The library at `from`, taken by a copy to `to`.
    fn copy_to(from: &Path, to: &Path) -> Result<LibraryBytes, Refusal> {
        let name = |_: &Path| to.to_owned();
        take_whole(fs::File::open(from).unwrap(), from, &Take::CopyTo(&name))
            .map(|(bytes, _)| bytes)
    }

    #[test]
    fn a_copied_file_is_mapped_whole_and_its_copy_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let (file, to) = (dir.path().join("x.so"), dir.path().join("copy-x.so"));
        let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        fs::write(&file, &content).unwrap();
        let mut taken = copy_to(&file, &to).unwrap();
        assert_eq!(&*taken, &content[..]);
        assert_eq!(fs::read(&to).unwrap(), content);
        let copy = taken.take_copy().expect("the copy's name");
        assert!(taken.take_copy().is_none(), "taken once");
        drop(copy);
        assert!(!to.exists(), "dropping the name removes the copy");
        assert_eq!(&*taken, &content[..], "the map keeps the data");

        // A copy that cannot be written is refused and leaves nothing behind.
        let refusal = copy_to(&file, &dir.path().join("no/such/dir"));
        assert!(matches!(refusal, Err(Refusal::Unreadable { .. })));
        fs::write(&file, b"").unwrap();
        let empty = copy_to(&file, &to);
        assert!(matches!(empty, Err(Refusal::Empty)));
        assert!(!to.exists());
    }
}
