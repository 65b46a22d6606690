//! Output checks, run on every built `.so` before it is reported: an ELF shared object
//! (`ET_DYN`) of the target's class and machine, exporting the plugin root symbol
//! (`abi_stable`'s root-module loader), and the highest `GLIBC_x.y` version it needs (its glibc
//! floor). Reads the file with `object`; it never loads it.

use std::path::Path;

use object::{
    elf,
    read::elf::{ElfFile, FileHeader},
    Endianness, FileKind, Object, ObjectSymbol,
};
use plugrack_api::abi_stable::library::ROOT_MODULE_LOADER_NAME;

use super::request::GlibcVersion;
use crate::targets::{self, ElfClass, Target};

/// What an ELF file is, as far as a plugin host cares.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ElfReport {
    /// 32 or 64.
    pub class_bits: u8,
    /// `e_machine`.
    pub elf_machine: u16,
    /// The machine's name, when it is one of the four targets' (`aarch64`).
    pub machine: Option<&'static str>,
    /// `e_type == ET_DYN`.
    pub shared_object: bool,
    /// Whether the dynamic symbol table defines the plugin root symbol.
    pub root_symbol: bool,
    /// The highest `GLIBC_` symbol version the file needs.
    pub glibc: Option<GlibcVersion>,
    /// Whether the static symbol table is gone (`.symtab`).
    pub stripped: bool,
    /// File size in bytes.
    pub size: u64,
}

/// Why a file could not be read as ELF at all.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The file could not be read.
    #[error("cannot read `{}`", .path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not an ELF file, or a damaged one.
    #[error("`{}` is not an ELF file: {reason}", .path.display())]
    NotElf {
        /// The file.
        path: std::path::PathBuf,
        /// What `object` said.
        reason: String,
    },
}

/// Reads `path` and describes it.
pub fn inspect(path: &Path) -> Result<ElfReport, InspectError> {
    let data = std::fs::read(path).map_err(|source| InspectError::Read {
        path: path.to_owned(),
        source,
    })?;
    inspect_bytes(&data, path)
}

/// Describes the file content `data` (read from `path`, named in errors).
pub fn inspect_bytes(data: &[u8], path: &Path) -> Result<ElfReport, InspectError> {
    let not_elf = |reason: String| InspectError::NotElf {
        path: path.to_owned(),
        reason,
    };
    let mut report = match FileKind::parse(data) {
        Ok(FileKind::Elf32) => inspect_elf::<elf::FileHeader32<Endianness>>(data),
        Ok(FileKind::Elf64) => inspect_elf::<elf::FileHeader64<Endianness>>(data),
        Ok(other) => Err(format!("it is {other:?}")),
        Err(e) => Err(e.to_string()),
    }
    .map_err(not_elf)?;
    report.size = data.len() as u64;
    Ok(report)
}

fn inspect_elf<Elf: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<ElfReport, String> {
    let file = ElfFile::<Elf>::parse(data).map_err(|e| e.to_string())?;
    let endian = file.endian();
    let header = file.elf_header();
    let elf_machine = header.e_machine(endian);
    let root_symbol = file.dynamic_symbols().any(|s| {
        s.is_definition() && s.name_bytes().ok() == Some(ROOT_MODULE_LOADER_NAME.as_bytes())
    });
    Ok(ElfReport {
        class_bits: if header.is_type_64() { 64 } else { 32 },
        elf_machine,
        machine: targets::by_elf_machine(elf_machine).map(|t| t.machine),
        shared_object: header.e_type(endian) == elf::ET_DYN,
        root_symbol,
        glibc: glibc_floor(&file).map_err(|e| e.to_string())?,
        stripped: file.section_by_name(".symtab").is_none(),
        size: 0,
    })
}

/// The highest `GLIBC_x.y` in the version-needs section (`.gnu.version_r`).
fn glibc_floor<Elf: FileHeader<Endian = Endianness>>(
    file: &ElfFile<'_, Elf>,
) -> object::Result<Option<GlibcVersion>> {
    let endian = file.endian();
    let sections = file.elf_section_table();
    let Some((mut needs, link)) = sections.gnu_verneed(endian, file.data())? else {
        return Ok(None);
    };
    let strings = sections.strings(endian, file.data(), link)?;
    let mut highest: Option<GlibcVersion> = None;
    while let Some((_need, mut auxes)) = needs.next()? {
        while let Some(aux) = auxes.next()? {
            let name = String::from_utf8_lossy(aux.name(endian, strings)?);
            if let Some(version) = name
                .strip_prefix("GLIBC_")
                .and_then(|v| GlibcVersion::parse(v).ok())
            {
                highest = highest.max(Some(version));
            }
        }
    }
    Ok(highest)
}

/// What is wrong with `report` as a plugin for `target` (empty when nothing is).
pub fn problems(report: &ElfReport, target: &Target) -> Vec<String> {
    let mut out = Vec::new();
    let expected_bits = target.elf_class.bits();
    if report.class_bits != expected_bits {
        out.push(format!(
            "it is a {}-bit ELF file; {} needs {expected_bits}-bit",
            report.class_bits, target.name
        ));
    }
    if report.elf_machine != target.elf_machine {
        out.push(format!(
            "it is built for {}; {} is {}",
            report.machine.unwrap_or("another machine"),
            target.name,
            target.machine
        ));
    }
    if !report.shared_object {
        out.push("it is not a shared object (ELF type is not ET_DYN)".into());
    }
    if !report.root_symbol {
        out.push(format!(
            "it does not export the plugin root symbol `{ROOT_MODULE_LOADER_NAME}` \
             (hint: call `plugrack_sdk::export_plugin!` in the crate root)"
        ));
    }
    out
}

/// Whether a target's ELF class matches a report (used by tests and `inspect`).
pub fn class_matches(report: &ElfReport, class: ElfClass) -> bool {
    report.class_bits == class.bits()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_running_test_binary_is_an_elf_of_this_machine() {
        let exe = std::env::current_exe().unwrap();
        let report = inspect(&exe).unwrap();
        let host = targets::host().unwrap();
        assert!(class_matches(&report, host.elf_class));
        assert_eq!(report.elf_machine, host.elf_machine);
        assert!(!report.root_symbol);
        assert!(report.glibc.is_some(), "{report:?}");
        let problems = problems(&report, &host);
        assert!(
            problems.iter().any(|p| p.contains("root symbol")),
            "{problems:?}"
        );
    }

    #[test]
    fn a_text_file_is_not_elf() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plugin.so");
        std::fs::write(&path, "not a plugin").unwrap();
        let err = inspect(&path).unwrap_err().to_string();
        assert!(err.contains("is not an ELF file"), "{err}");
    }
}
