//! The four Linux targets, defined once: short name (gotify's image names), Rust triple,
//! aliases, ELF machine.

/// One build target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The short name used in file names (`build/<name>-<arch>.so`).
    pub name: &'static str,
    /// The Rust target triple.
    pub triple: &'static str,
    /// Other names accepted on the command line.
    pub aliases: &'static [&'static str],
}

/// Every target, in the order `all` builds them.
pub const TARGETS: [Target; 4] = [
    Target {
        name: "amd64",
        triple: "x86_64-unknown-linux-gnu",
        aliases: &["x86_64"],
    },
    Target {
        name: "386",
        triple: "i686-unknown-linux-gnu",
        aliases: &["i686"],
    },
    Target {
        name: "arm-7",
        triple: "armv7-unknown-linux-gnueabihf",
        aliases: &["armv7"],
    },
    Target {
        name: "arm64",
        triple: "aarch64-unknown-linux-gnu",
        aliases: &["aarch64"],
    },
];

/// Finds a target by name, alias or triple.
pub fn find(name: &str) -> Option<Target> {
    TARGETS
        .into_iter()
        .find(|t| t.name == name || t.triple == name || t.aliases.contains(&name))
}
