//! Looks at this machine: the rustc that would build the plugin (and which targets its
//! sysroot has), cross linkers and their C libraries, zig and cargo-zigbuild, cross, qemu-user
//! (the container engine is [`crate::engine`]'s). Each probe answers "here it is" or a
//! [`MissingPiece`] with the exact install command. Used by backend selection and `doctor`.

use std::path::{Path, PathBuf};

use crate::{process::CommandLine, targets::Target};

use super::MissingPiece;

/// The rustc that cargo will use in the plugin's folder.
#[derive(Debug, Clone)]
pub struct Rustc {
    /// `rustc --print sysroot`.
    pub sysroot: PathBuf,
    /// `rustc -V`.
    pub version: String,
    /// The rustup toolchain name, when the sysroot is a rustup toolchain.
    pub toolchain: Option<String>,
}

impl Rustc {
    /// Asks the rustc that cargo would run in `dir` (`$RUSTC`, or rustup's choice there).
    pub fn probe(dir: &Path) -> Result<Self, MissingPiece> {
        let program = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
        let run = |args: &[&str]| {
            CommandLine::new(program.clone())
                .args(args.iter().copied())
                .current_dir(dir)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let missing = |e: crate::process::ProcessError| MissingPiece {
            what: format!("a working rustc ({e})"),
            fix: "install rustup (https://rustup.rs), then `rustup show` in the plugin's folder"
                .into(),
        };
        let sysroot = PathBuf::from(run(&["--print", "sysroot"]).map_err(missing)?);
        let version = run(&["-V"]).map_err(missing)?;
        let toolchain = (sysroot.parent().and_then(Path::file_name) == Some("toolchains".as_ref()))
            .then(|| {
                sysroot
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .flatten();
        Ok(Self {
            sysroot,
            version,
            toolchain,
        })
    }

    /// Whether the standard library for `triple` is installed.
    pub fn has_target(&self, triple: &str) -> bool {
        self.sysroot
            .join("lib/rustlib")
            .join(triple)
            .join("lib")
            .is_dir()
    }

    /// The missing piece for a target whose standard library is not installed.
    pub fn check_target(&self, target: &Target) -> Option<MissingPiece> {
        if self.has_target(target.triple) {
            return None;
        }
        let toolchain = self
            .toolchain
            .as_deref()
            .map(|t| format!(" --toolchain {t}"))
            .unwrap_or_default();
        Some(MissingPiece {
            what: format!(
                "rustup target `{}` ({}) for {}",
                target.triple, target.name, self.version
            ),
            fix: format!("`rustup target add {}{toolchain}`", target.triple),
        })
    }
}

/// Finds a program on `PATH`.
pub fn program(name: &str) -> Option<PathBuf> {
    which::which(name).ok()
}

/// The cross linker of the `cargo` backend for `target`, and its C library.
pub fn check_linker(target: &Target) -> Vec<MissingPiece> {
    let mut missing = Vec::new();
    if program(target.linker).is_none() {
        missing.push(MissingPiece {
            what: format!("linker `{}` ({})", target.linker, target.name),
            fix: format!(
                "`sudo apt-get install -y {} {}`",
                target.linker_package, target.libc_package
            ),
        });
    } else if !target.libc_for_linking().is_file() {
        missing.push(MissingPiece {
            what: format!(
                "C library for linking `{}` ({})",
                target.libc_for_linking().display(),
                target.name
            ),
            fix: format!("`sudo apt-get install -y {}`", target.libc_package),
        });
    }
    missing
}

/// How zig is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Zig {
    /// `zig` on `PATH` (or `CARGO_ZIGBUILD_ZIG_PATH`).
    Program(PathBuf),
    /// `python3 -m ziglang` (the PyPI package), which cargo-zigbuild also finds.
    PythonModule,
}

/// Finds zig the way cargo-zigbuild does, with its version.
pub fn zig() -> Result<(Zig, String), MissingPiece> {
    let version = |cmd: CommandLine| {
        cmd.output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let explicit = std::env::var_os("CARGO_ZIGBUILD_ZIG_PATH").map(PathBuf::from);
    if let Some(path) = explicit.or_else(|| program("zig")) {
        if let Some(v) = version(CommandLine::new(path.to_string_lossy()).arg("version")) {
            return Ok((Zig::Program(path), v));
        }
    }
    if program("python3").is_some() {
        if let Some(v) = version(CommandLine::new("python3").args(["-m", "ziglang", "version"])) {
            return Ok((Zig::PythonModule, v));
        }
    }
    Err(MissingPiece {
        what: "zig (neither `zig` on PATH nor `python3 -m ziglang`)".into(),
        fix: "`pip install ziglang`".into(),
    })
}

/// Finds `cargo-zigbuild`.
pub fn cargo_zigbuild() -> Result<PathBuf, MissingPiece> {
    program("cargo-zigbuild").ok_or_else(|| MissingPiece {
        what: "`cargo-zigbuild`".into(),
        fix: "`pip install cargo-zigbuild` (or `cargo install --locked cargo-zigbuild`)".into(),
    })
}

/// Finds `cross`.
pub fn cross() -> Result<PathBuf, MissingPiece> {
    program("cross").ok_or_else(|| MissingPiece {
        what: "`cross`".into(),
        fix: "`cargo install --locked cross`".into(),
    })
}

/// Finds qemu-user for a foreign target.
pub fn qemu(target: &Target) -> Result<PathBuf, MissingPiece> {
    program(target.qemu).ok_or_else(|| MissingPiece {
        what: format!("`{}` ({})", target.qemu, target.name),
        fix: "`sudo apt-get install -y qemu-user`".into(),
    })
}
