//! The four Linux targets, defined once: short name (gotify's image names), Rust triple,
//! aliases, and everything the backends, the output checks, `doctor` and the qemu runs need
//! to know about each (cross linker, Debian packages, sysroot, ELF class and machine, qemu).
//!
//! Nothing else in the crate spells a triple or a package name: it asks a [`Target`].

use std::path::PathBuf;

/// The ELF class of a target's shared objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfClass {
    /// 32-bit (`ELFCLASS32`).
    Elf32,
    /// 64-bit (`ELFCLASS64`).
    Elf64,
}

impl ElfClass {
    /// `32` or `64`.
    pub fn bits(self) -> u8 {
        match self {
            ElfClass::Elf32 => 32,
            ElfClass::Elf64 => 64,
        }
    }
}

/// One build target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The short name used in file names (`build/<name>-<arch>.so`).
    pub name: &'static str,
    /// The Rust target triple.
    pub triple: &'static str,
    /// Other names accepted on the command line.
    pub aliases: &'static [&'static str],
    /// Debian's GNU triple: the prefix of the cross gcc and binutils, and the sysroot
    /// `/usr/<gnu_triple>` that qemu-user is pointed at with `-L`.
    pub gnu_triple: &'static str,
    /// The cross gcc used as linker by the `cargo` backend.
    pub linker: &'static str,
    /// The Debian package that provides [`Target::linker`].
    pub linker_package: &'static str,
    /// The Debian package with the target's C library for linking (only a Recommends of the
    /// gcc package, so it is named separately).
    pub libc_package: &'static str,
    /// The machine name as `uname -m` and the host's messages spell it.
    pub machine: &'static str,
    /// ELF class of the target's objects.
    pub elf_class: ElfClass,
    /// ELF `e_machine` of the target's objects.
    pub elf_machine: u16,
    /// The qemu-user binary that runs the target's programs.
    pub qemu: &'static str,
    /// Debian's name of the architecture (`dpkg --print-architecture` on such a machine):
    /// the architecture of a build image's root file system when this is the build machine.
    pub debian_arch: &'static str,
}

impl Target {
    /// `CARGO_TARGET_<TRIPLE>_LINKER`: the variable through which cargo takes the linker.
    pub fn linker_env(&self) -> String {
        format!(
            "CARGO_TARGET_{}_LINKER",
            self.triple.to_uppercase().replace(['-', '.'], "_")
        )
    }

    /// The sysroot of Debian's cross C library, `/usr/<gnu_triple>`.
    pub fn sysroot(&self) -> PathBuf {
        PathBuf::from("/usr").join(self.gnu_triple)
    }

    /// The file that proves the C library for linking is installed.
    pub fn libc_for_linking(&self) -> PathBuf {
        self.sysroot().join("lib/libc.so")
    }

    /// Whether this is the machine the tool runs on (no cross linker, no qemu needed).
    pub fn is_host(&self) -> bool {
        host() == Some(*self)
    }

    /// The output file name for a package: `<name>-<arch>.so`, the package name kept as is.
    pub fn file_name(&self, package: &str) -> String {
        format!("{package}-{}.so", self.name)
    }
}

/// Every target, in the order `all` builds them.
pub const TARGETS: [Target; 4] = [
    Target {
        name: "amd64",
        triple: "x86_64-unknown-linux-gnu",
        aliases: &["x86_64", "x86-64"],
        gnu_triple: "x86_64-linux-gnu",
        linker: "x86_64-linux-gnu-gcc",
        linker_package: "gcc-x86-64-linux-gnu",
        libc_package: "libc6-dev-amd64-cross",
        machine: "x86_64",
        elf_class: ElfClass::Elf64,
        elf_machine: object::elf::EM_X86_64,
        qemu: "qemu-x86_64",
        debian_arch: "amd64",
    },
    Target {
        name: "386",
        triple: "i686-unknown-linux-gnu",
        aliases: &["i686", "i386", "x86"],
        gnu_triple: "i686-linux-gnu",
        linker: "i686-linux-gnu-gcc",
        linker_package: "gcc-i686-linux-gnu",
        libc_package: "libc6-dev-i386-cross",
        machine: "x86",
        elf_class: ElfClass::Elf32,
        elf_machine: object::elf::EM_386,
        qemu: "qemu-i386",
        debian_arch: "i386",
    },
    Target {
        name: "arm-7",
        triple: "armv7-unknown-linux-gnueabihf",
        aliases: &["armv7", "arm7", "armhf"],
        gnu_triple: "arm-linux-gnueabihf",
        linker: "arm-linux-gnueabihf-gcc",
        linker_package: "gcc-arm-linux-gnueabihf",
        libc_package: "libc6-dev-armhf-cross",
        machine: "arm",
        elf_class: ElfClass::Elf32,
        elf_machine: object::elf::EM_ARM,
        qemu: "qemu-arm",
        debian_arch: "armhf",
    },
    Target {
        name: "arm64",
        triple: "aarch64-unknown-linux-gnu",
        aliases: &["aarch64", "arm64v8"],
        gnu_triple: "aarch64-linux-gnu",
        linker: "aarch64-linux-gnu-gcc",
        linker_package: "gcc-aarch64-linux-gnu",
        libc_package: "libc6-dev-arm64-cross",
        machine: "aarch64",
        elf_class: ElfClass::Elf64,
        elf_machine: object::elf::EM_AARCH64,
        qemu: "qemu-aarch64",
        debian_arch: "arm64",
    },
];

/// Finds a target by name, alias or triple (case-insensitive).
pub fn find(name: &str) -> Option<Target> {
    let name = name.trim().to_ascii_lowercase();
    TARGETS.into_iter().find(|t| {
        t.name == name || t.triple == name || t.aliases.iter().any(|alias| *alias == name)
    })
}

/// The target this tool runs on, if it is one of the four.
pub fn host() -> Option<Target> {
    TARGETS
        .into_iter()
        .find(|t| t.machine == std::env::consts::ARCH)
}

/// Finds the target of an ELF `e_machine` value.
pub fn by_elf_machine(machine: u16) -> Option<Target> {
    TARGETS.into_iter().find(|t| t.elf_machine == machine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_aliases_and_triples_resolve() {
        let table = [
            ("amd64", "amd64"),
            ("x86_64", "amd64"),
            ("x86_64-unknown-linux-gnu", "amd64"),
            ("386", "386"),
            ("i686", "386"),
            ("arm-7", "arm-7"),
            ("armv7", "arm-7"),
            ("ARMV7", "arm-7"),
            ("arm64", "arm64"),
            ("aarch64", "arm64"),
        ];
        for (input, expected) in table {
            assert_eq!(find(input).map(|t| t.name), Some(expected), "{input}");
        }
        assert_eq!(find("mips"), None);
        assert_eq!(find("all"), None, "`all` is resolved by the caller");
    }

    #[test]
    fn linker_variables_follow_cargo() {
        let arm = find("arm-7").unwrap();
        assert_eq!(
            arm.linker_env(),
            "CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER"
        );
        assert_eq!(arm.file_name("my-plugin"), "my-plugin-arm-7.so");
    }

    #[test]
    fn every_target_is_defined_consistently() {
        for t in TARGETS {
            assert!(t.linker.starts_with(t.gnu_triple), "{t:?}");
            assert!(t.triple.starts_with(t.machine) || t.name == "386" || t.name == "arm-7");
            assert_eq!(by_elf_machine(t.elf_machine), Some(t));
        }
    }
}
