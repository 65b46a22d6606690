//! The native libraries a package carries: `[package.metadata.plugin] bundle = [...]`.
//!
//! For each built library, its `DT_NEEDED` entries are read from the file (with the `object`
//! crate, through `plugrack_host::needed`) and sorted into three kinds: bundled (named in
//! `bundle`), the base system (glibc's libraries, the loader and `libgcc_s`, which every
//! Linux host has), and others, which a host without them refuses: `package` warns about
//! those. Each bundled library is looked up for the target: in the `--lib-dir` folders
//! (`DIR/<target>/`, then `DIR/`), then the target's library path (for this machine, where
//! the loader looks; for a foreign target, its Debian sysroot and multiarch folders). Only a
//! file of the target's ELF class and machine counts. A bundled library must be needed (by the
//! plugin or by another bundled library), and the plugin must carry the `$ORIGIN/lib` run path
//! that `plugin-build` links bundling plugins with, or the loader would not look beside it.

use std::path::{Path, PathBuf};

use plugrack_host::needed::{self, Dynamic};

use super::PackageError;
use crate::{build::project::BUNDLE_RUN_PATH, targets::Target};

/// Libraries every glibc Linux system has: never bundled, never warned about.
const BASE_SYSTEM: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "libutil.so.1",
    "libresolv.so.2",
    "libgcc_s.so.1",
];

/// What kind of library a `DT_NEEDED` entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Carried in the package.
    Bundled,
    /// Part of every glibc system.
    System,
    /// Neither: a host without it refuses the plugin.
    Other,
}

/// Whether `name` is a base system library (glibc's, the loader, `libgcc_s`).
pub fn is_base_system(name: &str) -> bool {
    BASE_SYSTEM.contains(&name) || name.starts_with("ld-linux")
}

/// One library found for a target.
#[derive(Debug, Clone)]
pub struct Found {
    /// The name the plugin needs it by.
    pub name: String,
    /// Where it was found.
    pub path: PathBuf,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// What the bundling found for one target.
#[derive(Debug, Clone, Default)]
pub struct TargetLibs {
    /// The bundled libraries, in `bundle`'s order.
    pub bundled: Vec<Found>,
    /// Every library the plugin needs and its kind.
    pub needed: Vec<(String, Kind)>,
}

/// Finds `bundle`'s libraries for the library `so` of `target` and checks that they are needed
/// and that `so` carries the `$ORIGIN/lib` run path.
pub fn collect(
    target: &Target,
    so: &Path,
    bytes: &[u8],
    bundle: &[String],
    lib_dirs: &[PathBuf],
) -> Result<TargetLibs, PackageError> {
    let dynamic = needed::dynamic(bytes).unwrap_or_default();
    let kind = |name: &str| {
        if bundle.iter().any(|b| b == name) {
            Kind::Bundled
        } else if is_base_system(name) {
            Kind::System
        } else {
            Kind::Other
        }
    };
    let mut out = TargetLibs {
        needed: dynamic
            .needed
            .iter()
            .map(|n| (n.clone(), kind(n)))
            .collect(),
        ..TargetLibs::default()
    };
    if bundle.is_empty() {
        return Ok(out);
    }
    let has_run_path = dynamic
        .runpath
        .iter()
        .chain(&dynamic.rpath)
        .any(|p| p == BUNDLE_RUN_PATH || p == "${ORIGIN}/lib");
    if !has_run_path {
        return Err(PackageError::NoRunPath {
            target: target.name,
            path: so.to_owned(),
            found: shown_run_path(&dynamic),
        });
    }
    let wanted = (target.elf_class.bits(), target.elf_machine);
    // Needed by the plugin or by a bundled library found so far.
    let mut needed_names = dynamic.needed.clone();
    for name in bundle {
        let path =
            find(name, target, wanted, lib_dirs).ok_or_else(|| PackageError::BundleNotFound {
                library: name.clone(),
                target: target.name,
                searched: search_dirs(target, lib_dirs)
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let data = std::fs::read(&path).map_err(|source| PackageError::Io {
            action: "read",
            path: path.clone(),
            source,
        })?;
        if let Some(lib) = needed::dynamic(&data) {
            needed_names.extend(lib.needed);
        }
        out.bundled.push(Found {
            name: name.clone(),
            path,
            data,
        });
    }
    for name in bundle {
        if !needed_names.contains(name) {
            return Err(PackageError::BundleNotNeeded {
                library: name.clone(),
                target: target.name,
                path: so.to_owned(),
                needed: dynamic.needed.join(", "),
            });
        }
    }
    Ok(out)
}

fn shown_run_path(dynamic: &Dynamic) -> String {
    let all: Vec<&str> = dynamic
        .runpath
        .iter()
        .chain(&dynamic.rpath)
        .map(String::as_str)
        .collect();
    if all.is_empty() {
        "none".into()
    } else {
        format!("`{}`", all.join(":"))
    }
}

/// Finds one library of the target's class and machine.
fn find(name: &str, target: &Target, wanted: (u8, u16), lib_dirs: &[PathBuf]) -> Option<PathBuf> {
    let listed = search_dirs(target, lib_dirs)
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|path| needed::is_compatible(path, wanted));
    if listed.is_some() || !target.is_host() {
        return listed;
    }
    // This machine's target: where the loader would find it here.
    needed::find_on_system(name, wanted).and_then(|s| s.path().map(Path::to_owned))
}

/// The folders searched for a target's library, in order (this machine's loader path comes
/// after them for its own target).
fn search_dirs(target: &Target, lib_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for dir in lib_dirs {
        dirs.push(dir.join(target.name));
        dirs.push(dir.clone());
    }
    if !target.is_host() {
        let multiarch = match target.name {
            "386" => "i386-linux-gnu",
            _ => target.gnu_triple,
        };
        dirs.push(target.sysroot().join("lib"));
        dirs.push(Path::new("/usr/lib").join(multiarch));
        dirs.push(Path::new("/lib").join(multiarch));
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_and_the_loader_are_the_base_system() {
        for name in [
            "libc.so.6",
            "libgcc_s.so.1",
            "ld-linux-x86-64.so.2",
            "ld-linux-aarch64.so.1",
        ] {
            assert!(is_base_system(name), "{name}");
        }
        for name in ["libgreet.so.1", "libsqlite3.so.0", "libstdc++.so.6"] {
            assert!(!is_base_system(name), "{name}");
        }
    }

    #[test]
    fn a_foreign_target_searches_its_sysroot_after_the_given_folders() {
        let arm64 = crate::targets::find("arm64").unwrap();
        let dirs = search_dirs(&arm64, &[PathBuf::from("/vendor")]);
        assert_eq!(
            dirs,
            [
                "/vendor/arm64",
                "/vendor",
                "/usr/aarch64-linux-gnu/lib",
                "/usr/lib/aarch64-linux-gnu",
                "/lib/aarch64-linux-gnu"
            ]
            .map(PathBuf::from)
        );
    }
}
