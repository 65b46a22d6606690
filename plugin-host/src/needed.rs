//! The shared libraries a plugin needs (`DT_NEEDED`) and where the dynamic loader would find
//! each, decided from the files before `dlopen`.
//!
//! `dlopen` of a plugin whose library is missing fails with the loader's own words
//! ("libgreet.so.1: cannot open shared object file"), after mapping half of it. Here every
//! `DT_NEEDED` entry is looked up the way glibc's loader looks, in its order: the plugin's
//! `DT_RPATH` (when it has no `DT_RUNPATH`), `LD_LIBRARY_PATH`, its `DT_RUNPATH`, the
//! `/etc/ld.so.cache`, the default folders (`/lib/<multiarch>`, `/usr/lib/<multiarch>`,
//! `/lib64`, `/usr/lib64`, `/lib`, `/usr/lib`), and last the libraries already loaded in this
//! process (`dlopen(RTLD_NOLOAD)`, which loads nothing). A candidate of another ELF class or
//! machine is skipped, as the loader skips it. `$ORIGIN` in a run path is the plugin's folder:
//! a library found through it is *bundled* (`plugin-build package` ships it in `lib/`), and
//! its own `DT_NEEDED` entries are resolved too (the system's own libraries are the system's
//! business). What this cannot know: `LD_PRELOAD` and `dlopen` calls the plugin makes itself.

use std::{
    collections::HashMap,
    ffi::CString,
    fmt,
    io::Read,
    path::{Path, PathBuf},
    sync::Mutex,
    time::SystemTime,
};

use object::{
    elf,
    read::elf::{Dyn, FileHeader},
    Endianness,
};

/// How deep bundled libraries that need bundled libraries are followed.
const MAX_DEPTH: usize = 8;

/// What an ELF file says about its dynamic linking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dynamic {
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` entries (searched before `LD_LIBRARY_PATH`, and only without a run path).
    pub rpath: Vec<String>,
    /// `DT_RUNPATH` entries.
    pub runpath: Vec<String>,
    /// The ELF class (32 or 64) and `e_machine`, which a needed library must share.
    pub class_and_machine: (u8, u16),
}

/// Where a needed library comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Next to the plugin, through a `$ORIGIN`-relative run path (shipped with it).
    Bundled(PathBuf),
    /// Through an absolute `DT_RUNPATH`/`DT_RPATH` entry.
    RunPath(PathBuf),
    /// Through `LD_LIBRARY_PATH`.
    LibraryPath(PathBuf),
    /// The system: `/etc/ld.so.cache` or a default folder.
    System(PathBuf),
    /// Already loaded in this process (by the host or another plugin).
    Loaded,
}

impl Source {
    /// The file, where there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Bundled(p) | Self::RunPath(p) | Self::LibraryPath(p) | Self::System(p) => Some(p),
            Self::Loaded => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bundled(p) => write!(f, "bundled: {}", p.display()),
            Self::RunPath(p) => write!(f, "run path: {}", p.display()),
            Self::LibraryPath(p) => write!(f, "LD_LIBRARY_PATH: {}", p.display()),
            Self::System(p) => write!(f, "system: {}", p.display()),
            Self::Loaded => f.write_str("already loaded in this process"),
        }
    }
}

/// One needed library and where it would come from (`None`: nowhere, `dlopen` would fail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Needed {
    /// The `DT_NEEDED` name (`libgreet.so.1`).
    pub name: String,
    /// The library that needs it: `None` for the plugin itself, else a bundled library's name.
    pub needed_by: Option<String>,
    /// Where it was found.
    pub source: Option<Source>,
}

/// Reads the dynamic section of an ELF file's bytes: `None` for bytes that are not ELF (the
/// other preflight checks say what they are).
pub fn dynamic(bytes: &[u8]) -> Option<Dynamic> {
    match bytes.get(4) {
        Some(1) => read_dynamic::<elf::FileHeader32<Endianness>>(bytes, 32),
        Some(2) => read_dynamic::<elf::FileHeader64<Endianness>>(bytes, 64),
        _ => None,
    }
}

fn read_dynamic<Elf: FileHeader<Endian = Endianness>>(bytes: &[u8], bits: u8) -> Option<Dynamic> {
    let header = Elf::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    let sections = header.sections(endian, bytes).ok()?;
    let mut out = Dynamic {
        class_and_machine: (bits, header.e_machine(endian)),
        ..Dynamic::default()
    };
    let Some((entries, link)) = sections.dynamic(endian, bytes).ok()? else {
        return Some(out);
    };
    let strings = sections.strings(endian, bytes, link).ok()?;
    for entry in entries {
        let Some(tag) = entry.tag32(endian) else {
            continue;
        };
        if !matches!(tag, elf::DT_NEEDED | elf::DT_RPATH | elf::DT_RUNPATH) {
            continue;
        }
        let Ok(value) = entry.string(endian, strings) else {
            continue;
        };
        let value = String::from_utf8_lossy(value).into_owned();
        match tag {
            elf::DT_NEEDED => out.needed.push(value),
            elf::DT_RPATH => out.rpath.extend(split_path(&value)),
            _ => out.runpath.extend(split_path(&value)),
        }
    }
    Some(out)
}

fn split_path(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(':').filter(|p| !p.is_empty()).map(str::to_owned)
}

/// Resolves every library the plugin `bytes` needs, as the loader would for the plugin file
/// at `origin/<file>`, following bundled libraries' own needs.
pub fn resolve(bytes: &[u8], origin: &Path) -> Vec<Needed> {
    let Some(plugin) = dynamic(bytes) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    resolve_into(&plugin, origin, None, 0, &mut out);
    out
}

/// The first library in `needed` that is found nowhere.
pub fn first_missing(needed: &[Needed]) -> Option<&Needed> {
    needed.iter().find(|n| n.source.is_none())
}

fn resolve_into(
    object: &Dynamic,
    origin: &Path,
    needed_by: Option<&str>,
    depth: usize,
    out: &mut Vec<Needed>,
) {
    for name in &object.needed {
        if out.iter().any(|n| &n.name == name) {
            continue;
        }
        let source = find(name, object, origin);
        out.push(Needed {
            name: name.clone(),
            needed_by: needed_by.map(str::to_owned),
            source: source.clone(),
        });
        // A bundled (or run-path) library's own needs are the plugin's problem too.
        let follow = match &source {
            Some(Source::Bundled(path) | Source::RunPath(path)) => Some(path),
            _ => None,
        };
        if let (Some(path), true) = (follow, depth < MAX_DEPTH) {
            if let Some(lib) = std::fs::read(path).ok().and_then(|b| dynamic(&b)) {
                let lib_origin = path.parent().unwrap_or(Path::new("/"));
                resolve_into(&lib, lib_origin, Some(name), depth + 1, out);
            }
        }
    }
}

/// Finds one needed library in the loader's order.
fn find(name: &str, object: &Dynamic, origin: &Path) -> Option<Source> {
    let wanted = object.class_and_machine;
    if name.contains('/') {
        let path = expand(name, origin)?;
        return compatible(&path, wanted).then_some(Source::RunPath(path));
    }
    let in_dirs = |dirs: &[String]| -> Option<Source> {
        dirs.iter().find_map(|dir| {
            let bundled = dir.contains("$ORIGIN") || dir.contains("${ORIGIN}");
            let path = expand(dir, origin)?.join(name);
            compatible(&path, wanted).then_some(if bundled {
                Source::Bundled(path)
            } else {
                Source::RunPath(path)
            })
        })
    };
    if object.runpath.is_empty() {
        if let Some(found) = in_dirs(&object.rpath) {
            return Some(found);
        }
    }
    if let Some(list) = std::env::var_os("LD_LIBRARY_PATH") {
        let list = list.to_string_lossy();
        for dir in split_path(&list) {
            let path = Path::new(&dir).join(name);
            if compatible(&path, wanted) {
                return Some(Source::LibraryPath(path));
            }
        }
    }
    if let Some(found) = in_dirs(&object.runpath) {
        return Some(found);
    }
    if let Some(path) = system_lookup(name, wanted) {
        return Some(Source::System(path));
    }
    already_loaded(name).then_some(Source::Loaded)
}

/// The system's library of this name (the cache, then the default folders). A found one is
/// remembered until `/etc/ld.so.cache` changes (`ldconfig` runs when libraries are installed),
/// so loading many plugins looks libc up once: about 30 µs less per plugin load.
fn system_lookup(name: &str, wanted: (u8, u16)) -> Option<PathBuf> {
    type Found = HashMap<(String, (u8, u16)), PathBuf>;
    static FOUND: Mutex<Option<(Option<SystemTime>, Found)>> = Mutex::new(None);
    let modified = std::fs::metadata(CACHE_FILE)
        .and_then(|m| m.modified())
        .ok();
    let key = (name.to_owned(), wanted);
    {
        let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
        if found.as_ref().is_none_or(|(at, _)| *at != modified) {
            *found = Some((modified, Found::new()));
        }
        if let Some(path) = found.as_ref().and_then(|(_, f)| f.get(&key)) {
            return Some(path.clone());
        }
    }
    let path = cache_lookup(name, wanted, modified).or_else(|| {
        default_dirs()
            .iter()
            .map(|dir| Path::new(dir).join(name))
            .find(|path| compatible(path, wanted))
    })?;
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, f)) = found.as_mut() {
        f.insert(key, path.clone());
    }
    Some(path)
}

/// Finds `name` where the loader looks on this system after a plugin's own run path:
/// `LD_LIBRARY_PATH`, `/etc/ld.so.cache`, the default folders (not already-loaded libraries).
/// `class_and_machine` as in [`Dynamic`]: candidates of another machine are skipped.
pub fn find_on_system(name: &str, class_and_machine: (u8, u16)) -> Option<Source> {
    let none = Dynamic {
        class_and_machine,
        ..Dynamic::default()
    };
    match find(name, &none, Path::new("/")) {
        Some(Source::Loaded) | None => None,
        found => found,
    }
}

/// Whether `path` is an ELF file of this class and `e_machine` (the loader skips others).
pub fn is_compatible(path: &Path, class_and_machine: (u8, u16)) -> bool {
    compatible(path, class_and_machine)
}

/// A run path entry with `$ORIGIN` replaced; `None` for other tokens (`$LIB`, `$PLATFORM`),
/// which this does not expand.
fn expand(entry: &str, origin: &Path) -> Option<PathBuf> {
    let origin = origin.to_string_lossy();
    let expanded = entry
        .replace("${ORIGIN}", &origin)
        .replace("$ORIGIN", &origin);
    (!expanded.contains('$')).then(|| PathBuf::from(expanded))
}

/// Whether `path` is an ELF file of this class and machine (the loader skips others).
fn compatible(path: &Path, (bits, machine): (u8, u16)) -> bool {
    let mut head = [0u8; 20];
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    if file.read_exact(&mut head).is_err() || !head.starts_with(b"\x7fELF") {
        return false;
    }
    let class = match head[4] {
        1 => 32,
        2 => 64,
        _ => return false,
    };
    let e_machine = if head[5] == 1 {
        u16::from_le_bytes([head[18], head[19]])
    } else {
        u16::from_be_bytes([head[18], head[19]])
    };
    class == bits && e_machine == machine
}

/// The loader's default folders for this machine, after the cache.
fn default_dirs() -> &'static [&'static str] {
    match std::env::consts::ARCH {
        "x86_64" => &[
            "/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu",
            "/lib64",
            "/usr/lib64",
            "/lib",
            "/usr/lib",
        ],
        "aarch64" => &[
            "/lib/aarch64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/lib64",
            "/usr/lib64",
            "/lib",
            "/usr/lib",
        ],
        "arm" => &[
            "/lib/arm-linux-gnueabihf",
            "/usr/lib/arm-linux-gnueabihf",
            "/lib",
            "/usr/lib",
        ],
        "x86" => &[
            "/lib/i386-linux-gnu",
            "/usr/lib/i386-linux-gnu",
            "/lib",
            "/usr/lib",
        ],
        _ => &["/lib64", "/usr/lib64", "/lib", "/usr/lib"],
    }
}

/// Whether a library of this name is loaded in this process already (the loader would use it).
fn already_loaded(name: &str) -> bool {
    let Ok(name) = CString::new(name) else {
        return false;
    };
    // SAFETY: RTLD_NOLOAD loads nothing and runs no code; it returns a handle (with one more
    // reference, dropped right away) only for a library that is already mapped.
    unsafe {
        let handle = libc::dlopen(name.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD);
        if handle.is_null() {
            return false;
        }
        libc::dlclose(handle);
    }
    true
}

/// `/etc/ld.so.cache`, read again when it changes (`ldconfig` rewrites it).
const CACHE_FILE: &str = "/etc/ld.so.cache";

/// The cache's entries by name: every path it lists for that name (several machines may share
/// one cache, so the first compatible one wins, as in the loader).
type Cache = HashMap<String, Vec<PathBuf>>;

fn cache_lookup(name: &str, wanted: (u8, u16), modified: Option<SystemTime>) -> Option<PathBuf> {
    static CACHE: Mutex<Option<(Option<SystemTime>, Cache)>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if cache.as_ref().is_none_or(|(at, _)| *at != modified) {
        let entries = std::fs::read(CACHE_FILE)
            .map(|bytes| parse_cache(&bytes))
            .unwrap_or_default();
        *cache = Some((modified, entries));
    }
    let (_, entries) = cache.as_ref()?;
    entries
        .get(name)?
        .iter()
        .find(|path| compatible(path, wanted))
        .cloned()
}

/// Parses glibc's `ld.so.cache` (the `glibc-ld.so.cache1.1` format, alone or after the old
/// `ld.so-1.7.0` one); an unknown format gives an empty map (the default folders remain).
pub(crate) fn parse_cache(bytes: &[u8]) -> Cache {
    const NEW: &[u8] = b"glibc-ld.so.cache1.1";
    const OLD: &[u8] = b"ld.so-1.7.0";
    let start = if bytes.starts_with(NEW) {
        0
    } else if bytes.starts_with(OLD) {
        // Old header: magic (padded to 12) and nlibs, then 12-byte entries; the new format
        // follows, aligned to 8.
        let Some(n) = read_u32(bytes, 12) else {
            return Cache::new();
        };
        let end = 16 + n as usize * 12;
        let start = end.div_ceil(8) * 8;
        if !bytes.get(start..).is_some_and(|rest| rest.starts_with(NEW)) {
            return Cache::new();
        }
        start
    } else {
        return Cache::new();
    };
    let new = &bytes[start..];
    let Some(count) = read_u32(new, 20) else {
        return Cache::new();
    };
    // Header: magic+version (20), nlibs, len_strings, flags + 3 padding, extension offset,
    // 3 unused words = 48 bytes; entries are 24 bytes (flags, key, value, osversion, hwcap).
    // String offsets count from the start of the new header.
    let mut out = Cache::new();
    for i in 0..count.min(1 << 20) as usize {
        let at = 48 + i * 24;
        let (Some(key), Some(value)) = (read_u32(new, at + 4), read_u32(new, at + 8)) else {
            break;
        };
        let (Some(key), Some(value)) = (c_string(new, key), c_string(new, value)) else {
            continue;
        };
        out.entry(key).or_default().push(PathBuf::from(value));
    }
    out
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw = bytes.get(at..at + 4)?;
    Some(u32::from_ne_bytes(raw.try_into().ok()?))
}

fn c_string(bytes: &[u8], at: u32) -> Option<String> {
    let rest = bytes.get(at as usize..)?;
    let end = rest.iter().position(|b| *b == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_needs_libc_from_the_system() {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let facts = dynamic(&bytes).unwrap();
        assert!(facts.needed.iter().any(|n| n == "libc.so.6"), "{facts:?}");
        let needed = resolve(&bytes, Path::new("/nonexistent"));
        let libc = needed.iter().find(|n| n.name == "libc.so.6").unwrap();
        assert!(
            matches!(&libc.source, Some(Source::System(p)) if p.ends_with("libc.so.6")),
            "{libc:?}"
        );
        assert_eq!(first_missing(&needed), None);
    }

    #[test]
    fn cut_or_damaged_files_give_no_answer_rather_than_a_panic() {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        for len in [0, 4, 5, 20, 63, 64, 65, 1000, bytes.len() / 2] {
            let _ = dynamic(&bytes[..len.min(bytes.len())]);
        }
        let mut flipped = bytes[..bytes.len().min(1 << 16)].to_vec();
        for i in (0..flipped.len()).step_by(97) {
            flipped[i] ^= 0xff;
        }
        let _ = dynamic(&flipped);
        assert_eq!(dynamic(b"\x7fELF\x03"), None);
        assert_eq!(resolve(b"not elf", Path::new("/")), Vec::new());
    }

    #[test]
    fn the_system_cache_parses() {
        let Ok(bytes) = std::fs::read(CACHE_FILE) else {
            return;
        };
        let cache = parse_cache(&bytes);
        assert!(
            cache
                .get("libc.so.6")
                .is_some_and(|paths| !paths.is_empty()),
            "{} entries",
            cache.len()
        );
        assert!(parse_cache(b"not a cache").is_empty());
        assert!(parse_cache(&bytes[..30]).is_empty());
    }

    #[test]
    fn origin_is_expanded_and_other_tokens_are_not() {
        let origin = Path::new("/plugins/p");
        assert_eq!(
            expand("$ORIGIN/lib", origin),
            Some(PathBuf::from("/plugins/p/lib"))
        );
        assert_eq!(
            expand("${ORIGIN}/../x", origin),
            Some(PathBuf::from("/plugins/p/../x"))
        );
        assert_eq!(expand("$LIB/x", origin), None);
    }
}
