//! Checks that run before `dlopen`.
//!
//! `dlopen` runs a library's constructors and reports foreign or damaged files with messages
//! that mislead ("invalid ELF header", "cannot open shared object file"). Everything that can
//! be decided from the bytes is decided here first: that the path is a regular, non-empty
//! file, that it is ELF, of this host's class and machine, a shared object, structurally
//! sound, and that it exports abi_stable's root-module symbol. Then the descriptor that
//! `export_plugin!` wrote into the `.plugin_descriptor` section ([`inspect_with_section`]) is
//! checked against this host ([`check_section`]): the plugrack-api version, the host-version
//! requirement and the target OS, so an incompatible plugin is refused without running any of
//! its code. A library without the section (built against plugrack-api 1.0.0 without the SDK)
//! passes on to the checks after `dlopen`, as before the section existed.

use std::{fs, path::Path};

use object::{Object, ObjectKind, ObjectSymbol};
use plugrack_api::compat::{self, ApiIncompatibility, ApiVersion};
use plugrack_descriptor::{host_version, section::Section, target_os, Descriptor};

use crate::error::Refusal;

/// What the ELF header says about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElfFacts {
    /// 32 or 64.
    pub bits: u8,
    /// The machine, in the names Rust targets use (`x86_64`, `aarch64`, `arm`, `x86`).
    pub machine: String,
    /// Size of the file in bytes.
    pub size: u64,
}

/// The symbol every plugin exports: abi_stable's library header.
pub fn root_symbol() -> &'static str {
    plugrack_api::abi_stable::library::ROOT_MODULE_LOADER_NAME
}

/// The machine name of this host process.
pub fn host_machine() -> &'static str {
    match std::env::consts::ARCH {
        "x86" => "x86",
        other => other,
    }
}

fn machine_name(e_machine: u16) -> String {
    match e_machine {
        3 => "x86".into(),
        40 => "arm".into(),
        62 => "x86_64".into(),
        183 => "aarch64".into(),
        243 => "riscv".into(),
        8 => "mips".into(),
        20 => "powerpc".into(),
        21 => "powerpc64".into(),
        22 => "s390x".into(),
        other => format!("machine {other}"),
    }
}

fn describe_start(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(64)];
    if head.starts_with(b"#!") {
        return "a script (starts with `#!`)".into();
    }
    if head.starts_with(b"!<arch>") {
        return "a static library archive (`.a`), not a shared object".into();
    }
    if head.starts_with(&[0x1f, 0x8b]) {
        return "a gzip archive (a `.plg` package? deploy it with `plugin-build deploy`)".into();
    }
    if head.starts_with(&[0xcf, 0xfa, 0xed, 0xfe]) || head.starts_with(&[0xca, 0xfe, 0xba, 0xbe]) {
        return "a Mach-O file (built for macOS)".into();
    }
    if head.starts_with(b"MZ") {
        return "a PE file (built for Windows)".into();
    }
    let printable = head
        .iter()
        .filter(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
        .count();
    if !head.is_empty() && printable == head.len() {
        return "text".into();
    }
    let hex: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("unknown bytes starting `{}`", hex.join(" "))
}

/// Says how a file is cut short, when its ELF header names tables past its end (an
/// interrupted copy): the header itself, the program headers or the section headers.
fn cut_short(bytes: &[u8], bits: u8, little_endian: bool) -> Option<String> {
    let len = bytes.len() as u64;
    let header_size = if bits == 64 { 64 } else { 52 };
    if len < header_size {
        return Some(format!(
            "the file is cut short: {len} bytes, its ELF header alone is {header_size}"
        ));
    }
    let read = |at: usize, size: usize| -> u64 {
        let field = &bytes[at..at + size];
        let mut value = 0u64;
        for i in 0..size {
            let byte = if little_endian {
                field[size - 1 - i]
            } else {
                field[i]
            };
            value = (value << 8) | u64::from(byte);
        }
        value
    };
    // e_phoff, e_shoff, e_phentsize, e_phnum, e_shentsize, e_shnum (ELF spec offsets).
    let (phoff, shoff, entries) = if bits == 64 {
        (read(32, 8), read(40, 8), 54)
    } else {
        (read(28, 4), read(32, 4), 42)
    };
    let (phentsize, phnum) = (read(entries, 2), read(entries + 2, 2));
    let (shentsize, shnum) = (read(entries + 4, 2), read(entries + 6, 2));
    let needed = [
        ("program headers", phoff.saturating_add(phentsize * phnum)),
        ("section headers", shoff.saturating_add(shentsize * shnum)),
    ];
    needed
        .into_iter()
        .filter(|(_, end)| *end > len)
        .max_by_key(|(_, end)| *end)
        .map(|(what, end)| {
            format!("the file is cut short: {len} of at least {end} bytes (its {what} lie past the end)")
        })
}

/// Checks the file at `path` without loading it.
pub fn check(path: &Path) -> Result<ElfFacts, Refusal> {
    let meta = fs::metadata(path).map_err(|e| Refusal::Unreadable {
        reason: e.to_string(),
    })?;
    if !meta.is_file() {
        return Err(Refusal::NotAFile);
    }
    if meta.len() == 0 {
        return Err(Refusal::Empty);
    }
    let bytes = fs::read(path).map_err(|e| Refusal::Unreadable {
        reason: e.to_string(),
    })?;
    inspect_bytes(&bytes)
}

/// Checks a plugin's bytes, as [`check`] does for a file.
pub fn inspect_bytes(bytes: &[u8]) -> Result<ElfFacts, Refusal> {
    inspect_with_section(bytes).map(|(facts, _)| facts)
}

/// [`inspect_bytes`], and the descriptor section when the library has one. A section that is
/// there but cannot be read is [`Refusal::BadSection`].
pub fn inspect_with_section(bytes: &[u8]) -> Result<(ElfFacts, Option<Section>), Refusal> {
    if bytes.is_empty() {
        return Err(Refusal::Empty);
    }
    if bytes.len() < 20 || !bytes.starts_with(b"\x7fELF") {
        return Err(Refusal::NotElf {
            found: describe_start(bytes),
        });
    }
    let bits = match bytes[4] {
        1 => 32,
        2 => 64,
        other => {
            return Err(Refusal::Malformed {
                detail: format!("unknown ELF class {other}"),
            })
        }
    };
    let little_endian = bytes[5] == 1;
    let e_machine = if little_endian {
        u16::from_le_bytes([bytes[18], bytes[19]])
    } else {
        u16::from_be_bytes([bytes[18], bytes[19]])
    };
    let facts = ElfFacts {
        bits,
        machine: machine_name(e_machine),
        size: bytes.len() as u64,
    };

    let host_bits = (usize::BITS) as u8;
    if facts.machine != host_machine() || bits != host_bits {
        return Err(Refusal::WrongArchitecture {
            found: format!("{} ({bits}-bit)", facts.machine),
            expected: format!("{} ({host_bits}-bit)", host_machine()),
        });
    }

    if let Some(detail) = cut_short(bytes, bits, little_endian) {
        return Err(Refusal::Malformed { detail });
    }
    let file = object::File::parse(bytes).map_err(|e| Refusal::Malformed {
        detail: e.to_string(),
    })?;
    match file.kind() {
        // A position-independent executable is ET_DYN too; it names a program interpreter,
        // which a shared library does not.
        ObjectKind::Dynamic if file.section_by_name(".interp").is_some() => {
            return Err(Refusal::NotSharedObject {
                found: "an executable (position-independent)".into(),
            })
        }
        ObjectKind::Dynamic => {}
        ObjectKind::Executable => {
            return Err(Refusal::NotSharedObject {
                found: "an executable".into(),
            })
        }
        ObjectKind::Relocatable => {
            return Err(Refusal::NotSharedObject {
                found: "a relocatable object (`.o`)".into(),
            })
        }
        other => {
            return Err(Refusal::NotSharedObject {
                found: format!("{other:?}").to_lowercase(),
            })
        }
    }
    // Section data must lie inside the file: a cut-short copy fails here, not in dlopen.
    for section in file.sections() {
        if let Err(e) = object::ObjectSection::data(&section) {
            return Err(Refusal::Malformed {
                detail: e.to_string(),
            });
        }
    }
    let exports_root = file.dynamic_symbols().any(|symbol| {
        symbol.is_definition()
            && symbol
                .name()
                .map(|name| name == root_symbol())
                .unwrap_or(false)
    });
    if !exports_root {
        return Err(Refusal::NotAPlugin);
    }
    let section = plugrack_descriptor::elf::read_from(&file).map_err(|e| Refusal::BadSection {
        problem: e.to_string(),
    })?;
    Ok((facts, section))
}

/// Checks a descriptor section against this host: the plugrack-api version (the rule of
/// `plugrack_api::compat`), the host-version requirement and the target OS.
pub fn check_section(section: &Section, host: &semver::Version) -> Result<(), Refusal> {
    check_descriptor(&section.descriptor(), host)
}

/// Checks a descriptor against this host: its fields' syntax (`plugrack-descriptor`'s rules),
/// then the plugrack-api version, the host-version requirement and the target OS. The same
/// checks run on the section before loading and on the root module's descriptor after.
pub fn check_descriptor(descriptor: &Descriptor, host: &semver::Version) -> Result<(), Refusal> {
    descriptor
        .check()
        .map_err(|problem| Refusal::InvalidDescriptor {
            field: problem.field,
            problem: problem.problem,
        })?;
    match compat::check_api_compatibility(ApiVersion::current(), &descriptor.api_version) {
        Ok(()) => {}
        Err(ApiIncompatibility::Unparseable { found }) => {
            return Err(Refusal::InvalidDescriptor {
                field: "api_version",
                problem: format!("`{found}` is not a version"),
            })
        }
        Err(ApiIncompatibility::PluginTooNew { plugin, host }) => {
            return Err(Refusal::ApiTooNew {
                plugin: plugin.to_string(),
                host: host.to_string(),
            })
        }
        Err(ApiIncompatibility::PluginTooOld { plugin, host }) => {
            return Err(Refusal::ApiTooOld {
                plugin: plugin.to_string(),
                host: host.to_string(),
            })
        }
    }
    // The syntax was checked above, so only the match can fail here.
    if !host_version::accepts(&descriptor.host_version, host).unwrap_or(false) {
        return Err(Refusal::HostVersionMismatch {
            required: descriptor.host_version.clone(),
            host: host.to_string(),
        });
    }
    if !target_os::supports(&descriptor.target_os, target_os::this()) {
        return Err(Refusal::UnsupportedOs {
            supported: descriptor.target_os.clone(),
            this: target_os::this().into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_non_elf_inputs() {
        let cases: &[(&[u8], &str)] = &[
            (b"#!/bin/sh\necho hi\n", "script"),
            (
                b"hello, this is just some text that is long enough\n",
                "text",
            ),
            (
                &[
                    0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                ],
                "gzip",
            ),
            (
                &[
                    0x00, 0x13, 0x37, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90,
                    0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x01, 0x02,
                ],
                "unknown bytes starting `00 13 37 ff`",
            ),
            (
                b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00\x00",
                "Windows",
            ),
        ];
        for (bytes, expected) in cases {
            match inspect_bytes(bytes) {
                Err(Refusal::NotElf { found }) => {
                    assert!(found.contains(expected), "{found} vs {expected}")
                }
                other => panic!("expected NotElf for {expected}, got {other:?}"),
            }
        }
    }

    #[test]
    fn this_test_binary_is_elf_but_not_a_shared_plugin() {
        let exe = std::env::current_exe().unwrap();
        let err = check(&exe).unwrap_err();
        assert!(matches!(err, Refusal::NotSharedObject { .. }), "{err:?}");
    }

    #[test]
    fn foreign_machine_is_refused_from_the_header_alone() {
        let mut header = vec![0u8; 64];
        header[..4].copy_from_slice(b"\x7fELF");
        header[4] = 2;
        header[5] = 1;
        header[18..20].copy_from_slice(&183u16.to_le_bytes());
        if host_machine() != "aarch64" {
            assert!(matches!(
                inspect_bytes(&header),
                Err(Refusal::WrongArchitecture { .. })
            ));
        }
    }
}
