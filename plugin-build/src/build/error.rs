//! The errors of `plugin-build build`: one enum, each variant carrying the data a person
//! needs to act, and the missing-piece list that names the install command of each piece.

use std::{fmt, path::PathBuf};

use crate::{engine::EngineError, process::ProcessError};

/// One thing a backend needs that is not on this machine, with the command that installs it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingPiece {
    /// What is missing, e.g. "rustup target `aarch64-unknown-linux-gnu`".
    pub what: String,
    /// The exact command (or step) that provides it.
    pub fix: String,
}

impl fmt::Display for MissingPiece {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.fix)
    }
}

/// Formats a list of missing pieces, one per line, each with its fix.
pub(crate) struct PieceList<'a>(pub &'a [MissingPiece]);

impl fmt::Display for PieceList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for piece in self.0 {
            write!(f, "\n  missing: {}\n     fix: {}", piece.what, piece.fix)?;
        }
        Ok(())
    }
}

/// Why `plugin-build build` failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A `--target` value names no known target.
    #[error("unknown target `{name}`; known targets: amd64, 386, arm-7, arm64 and all (or their triples: x86_64, i686, armv7, aarch64)")]
    UnknownTarget {
        /// What was given.
        name: String,
    },
    /// `--glibc` is not a `MAJOR.MINOR` version.
    #[error(
        "`--glibc {value}` is not a glibc version; write it as MAJOR.MINOR, e.g. `--glibc 2.17`"
    )]
    BadGlibc {
        /// What was given.
        value: String,
    },
    /// `--glibc` with a backend that cannot pin the glibc floor.
    #[error("`--glibc` needs the `zigbuild` backend; the `{backend}` backend links against the glibc of its {what}\n  hint: `--backend zigbuild --glibc {version}`")]
    GlibcNeedsZigbuild {
        /// The chosen backend.
        backend: &'static str,
        /// What fixes the glibc for that backend.
        what: &'static str,
        /// The requested version.
        version: String,
    },
    /// No Cargo.toml in the current folder or above it.
    #[error("no Cargo.toml in `{}` or any folder above it\n  hint: run in the plugin's folder or pass `--manifest-path`", .dir.display())]
    NoManifest {
        /// Where the search started.
        dir: PathBuf,
    },
    /// A Cargo.toml that is not valid TOML.
    #[error("cannot parse `{}`: {reason}", .path.display())]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What the TOML parser said.
        reason: String,
    },
    /// The manifest is a virtual workspace or names no package.
    #[error("`{manifest}` is not a plugin package (no `[package]` there)\n  hint: point `--manifest-path` at the plugin's own Cargo.toml")]
    NoPackage {
        /// The manifest that was read.
        manifest: PathBuf,
    },
    /// The package does not build a shared library.
    #[error("package `{package}` does not build a shared library\n  hint: add `[lib] crate-type = [\"cdylib\"]` to `{manifest}`")]
    NotCdylib {
        /// The package name.
        package: String,
        /// Its manifest.
        manifest: PathBuf,
    },
    /// The chosen backend (or, for `auto`, every backend) lacks something.
    #[error("cannot build with the `{backend}` backend: {} missing{}", count(.missing.len()), PieceList(.missing))]
    Missing {
        /// The backend that was chosen or tried.
        backend: &'static str,
        /// Each missing piece with its install command.
        missing: Vec<MissingPiece>,
    },
    /// The `cross` backend has no container engine that works.
    #[error("cannot build with the `cross` backend: {problem}\n  fix: {}", .problem.fix())]
    Engine {
        /// What is wrong with the engine.
        problem: EngineError,
    },
    /// The `cross` backend's build images are not in the engine's store.
    #[error("cannot build with the `cross` backend: no build image {} for rustc {toolchain} in the engine's store\n  fix: {fix}", .images.iter().map(|i| format!("`{i}`")).collect::<Vec<_>>().join(", "))]
    MissingImage {
        /// The images looked for.
        images: Vec<String>,
        /// The toolchain version that names them.
        toolchain: String,
        /// The command that makes them.
        fix: String,
    },
    /// `--backend auto` found no backend that works on this machine.
    #[error("no backend can build {targets} on this machine{}\n  hint: install the pieces of one backend (or run `scripts/setup.sh`), then check with `plugin-build doctor`", reasons(.tried))]
    NoBackend {
        /// The targets asked for.
        targets: String,
        /// Each backend tried, with its missing pieces.
        tried: Vec<(&'static str, Vec<MissingPiece>)>,
    },
    /// The backend's build failed (its diagnostics were shown, or are in the cause).
    #[error("building `{package}` for {target} failed")]
    Backend {
        /// The package.
        package: String,
        /// The target name(s).
        target: String,
        /// The failed command.
        #[source]
        source: ProcessError,
    },
    /// The build succeeded but the shared object is not where cargo said.
    #[error("the build of {target} produced no shared object (looked for `{}`)", .path.display())]
    NoArtifact {
        /// The target name.
        target: &'static str,
        /// Where it was expected.
        path: PathBuf,
    },
    /// An output failed its checks.
    #[error("`{}` is not a loadable plugin for {target}:{}", .path.display(), problem_lines(.problems))]
    Check {
        /// The target name.
        target: &'static str,
        /// The output.
        path: PathBuf,
        /// What is wrong.
        problems: Vec<String>,
    },
    /// A file operation failed.
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
}

fn count(n: usize) -> String {
    if n == 1 {
        "1 piece is".into()
    } else {
        format!("{n} pieces are")
    }
}

fn reasons(tried: &[(&'static str, Vec<MissingPiece>)]) -> String {
    let mut out = String::new();
    for (backend, missing) in tried {
        out.push_str(&format!("\n  backend `{backend}`:"));
        for piece in missing {
            out.push_str(&format!(
                "\n    missing: {}\n       fix: {}",
                piece.what, piece.fix
            ));
        }
    }
    out
}

fn problem_lines(problems: &[String]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_pieces_are_listed_with_their_fix() {
        let err = BuildError::Missing {
            backend: "cargo",
            missing: vec![
                MissingPiece {
                    what: "rustup target `aarch64-unknown-linux-gnu`".into(),
                    fix: "`rustup target add aarch64-unknown-linux-gnu`".into(),
                },
                MissingPiece {
                    what: "linker `aarch64-linux-gnu-gcc`".into(),
                    fix: "`apt-get install gcc-aarch64-linux-gnu`".into(),
                },
            ],
        };
        assert_eq!(
            err.to_string(),
            "cannot build with the `cargo` backend: 2 pieces are missing\n  \
             missing: rustup target `aarch64-unknown-linux-gnu`\n     \
             fix: `rustup target add aarch64-unknown-linux-gnu`\n  \
             missing: linker `aarch64-linux-gnu-gcc`\n     \
             fix: `apt-get install gcc-aarch64-linux-gnu`"
        );
    }
}
