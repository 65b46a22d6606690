//! What one build image is made of: its name (gotify's tag scheme with the Rust toolchain,
//! `localhost/plugin-build:1.95.0-linux-arm64`), the Debian suite and architecture of its root
//! file system, the packages in it (native gcc for build scripts, the target's cross gcc and C
//! library), the environment cross expects, and the labels that record all of it. An image
//! whose labels match its spec is fresh and is not rebuilt.

use std::collections::BTreeMap;

use crate::{engine::IMAGE_REPOSITORY, targets::Target};

/// The prefix of every label this tool writes.
pub const LABEL_PREFIX: &str = "org.plugrack.build.";

/// How the root file system is made; part of the inputs, so a change of recipe rebuilds.
pub const RECIPE: &str = "debootstrap --variant=minbase";

/// The Debian suite of the images when `--suite` is not given (Debian 12, glibc 2.36).
pub const DEFAULT_SUITE: &str = "bookworm";

/// The name of the build image for `target` and the Rust toolchain version `toolchain`.
///
/// ```
/// let arm64 = plugrack_build::targets::find("arm64").unwrap();
/// assert_eq!(
///     plugrack_build::images::image_name("1.95.0", &arm64),
///     "localhost/plugin-build:1.95.0-linux-arm64"
/// );
/// ```
pub fn image_name(toolchain: &str, target: &Target) -> String {
    format!("{IMAGE_REPOSITORY}:{toolchain}-linux-{}", target.name)
}

/// The toolchain version in a `rustc -V` line: `rustc 1.95.0 (59807616e 2026-04-14)` gives
/// `1.95.0`, a nightly `1.97.0-nightly`.
pub fn toolchain_version(rustc_version: &str) -> Option<String> {
    let version = rustc_version.split_whitespace().nth(1)?;
    let ok = !version.is_empty()
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c));
    ok.then(|| version.to_owned())
}

/// The inputs of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// The target it builds for.
    pub target: Target,
    /// `localhost/plugin-build:<toolchain>-linux-<arch>`.
    pub name: String,
    /// The Rust toolchain version cross mounts into it (in the tag).
    pub toolchain: String,
    /// The Debian suite of its root file system.
    pub suite: String,
    /// Debian's architecture of its root file system: the build machine's.
    pub arch: &'static str,
    /// The packages debootstrap adds to the minimal base.
    pub packages: Vec<String>,
    /// The environment variables set in the image.
    pub env: Vec<(String, String)>,
}

impl ImageSpec {
    /// The image for `target`, to run on the build machine `machine`.
    pub fn new(target: Target, toolchain: &str, suite: &str, machine: Target) -> Self {
        // Native gcc and libc: build scripts and proc-macros are built for the build machine.
        let mut packages = vec!["gcc".to_owned(), "libc6-dev".to_owned()];
        let linker = if target == machine {
            "gcc".to_owned()
        } else {
            packages.push(target.linker_package.to_owned());
            packages.push(target.libc_package.to_owned());
            target.linker.to_owned()
        };
        let triple_var = target.triple.replace('-', "_");
        let mut env = vec![
            (
                "PATH".to_owned(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ),
            (target.linker_env(), linker.clone()),
            (format!("CC_{triple_var}"), linker),
        ];
        if target != machine {
            let sysroot = target.sysroot().display().to_string();
            env.extend([
                (
                    format!("AR_{triple_var}"),
                    format!("{}-ar", target.gnu_triple),
                ),
                (
                    format!("BINDGEN_EXTRA_CLANG_ARGS_{triple_var}"),
                    format!("--sysroot={sysroot}"),
                ),
                ("CROSS_SYSROOT".to_owned(), sysroot),
            ]);
        }
        Self {
            target,
            name: image_name(toolchain, &target),
            toolchain: toolchain.to_owned(),
            suite: suite.to_owned(),
            arch: machine.debian_arch,
            packages,
            env,
        }
    }

    /// The labels that record the inputs (and the target, for people reading them).
    pub fn labels(&self) -> BTreeMap<String, String> {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        [
            ("target", self.target.name.to_owned()),
            ("triple", self.target.triple.to_owned()),
            ("toolchain", self.toolchain.clone()),
            ("suite", self.suite.clone()),
            ("arch", self.arch.to_owned()),
            ("packages", self.packages.join(" ")),
            ("env", env.join(" ")),
            ("recipe", RECIPE.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{LABEL_PREFIX}{k}"), v))
        .collect()
    }

    /// What differs between this spec and the labels of an existing image (empty: fresh).
    pub fn changes(&self, found: &BTreeMap<String, String>) -> Vec<String> {
        self.labels()
            .into_iter()
            .filter_map(|(key, wanted)| {
                let short = key.trim_start_matches(LABEL_PREFIX).to_owned();
                match found.get(&key) {
                    Some(have) if *have == wanted => None,
                    Some(have) => Some(format!("{short}: `{have}` -> `{wanted}`")),
                    None => Some(format!("{short}: not recorded -> `{wanted}`")),
                }
            })
            .collect()
    }

    /// The `--change` instructions of `import`: environment, labels, default command.
    pub fn import_changes(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("ENV {k}={v}"))
            .collect();
        out.extend(
            self.labels()
                .into_iter()
                .map(|(k, v)| format!("LABEL {k}={}", quote_label(&v))),
        );
        out.push("WORKDIR /".into());
        out.push(r#"CMD ["/bin/bash"]"#.into());
        out
    }
}

/// A label value as the Dockerfile syntax of `--change` takes it: in double quotes.
fn quote_label(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::find;

    #[test]
    fn specs_name_their_packages_and_environment() {
        let amd64 = find("amd64").unwrap();
        let arm64 = find("arm64").unwrap();
        let spec = ImageSpec::new(arm64, "1.95.0", "bookworm", amd64);
        assert_eq!(spec.name, "localhost/plugin-build:1.95.0-linux-arm64");
        assert_eq!(
            spec.packages,
            [
                "gcc",
                "libc6-dev",
                "gcc-aarch64-linux-gnu",
                "libc6-dev-arm64-cross"
            ]
        );
        assert!(spec.env.contains(&(
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER".into(),
            "aarch64-linux-gnu-gcc".into()
        )));
        assert!(spec
            .env
            .contains(&("CROSS_SYSROOT".into(), "/usr/aarch64-linux-gnu".into())));
        assert_eq!(spec.arch, "amd64");

        let native = ImageSpec::new(amd64, "1.95.0", "bookworm", amd64);
        assert_eq!(native.packages, ["gcc", "libc6-dev"]);
        assert!(native.env.contains(&(
            "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER".into(),
            "gcc".into()
        )));
    }

    #[test]
    fn an_image_is_fresh_only_when_every_input_matches() {
        let amd64 = find("amd64").unwrap();
        let spec = ImageSpec::new(find("arm-7").unwrap(), "1.95.0", "bookworm", amd64);
        let labels = spec.labels();
        assert!(spec.changes(&labels).is_empty());
        let older = ImageSpec::new(find("arm-7").unwrap(), "1.95.0", "bullseye", amd64);
        assert_eq!(older.changes(&labels), ["suite: `bookworm` -> `bullseye`"]);
        assert_eq!(spec.changes(&BTreeMap::new()).len(), labels.len());
        let changes = spec.import_changes();
        assert!(changes.contains(&format!(
            "LABEL {LABEL_PREFIX}packages=\"gcc libc6-dev gcc-arm-linux-gnueabihf libc6-dev-armhf-cross\""
        )));
    }

    #[test]
    fn toolchain_versions_come_from_rustc() {
        let table = [
            ("rustc 1.95.0 (59807616e 2026-04-14)", Some("1.95.0")),
            (
                "rustc 1.97.0-nightly (abcdef 2026-05-01)",
                Some("1.97.0-nightly"),
            ),
            ("rustc", None),
            ("rustc 1.95.0/../x", None),
        ];
        for (line, expected) in table {
            assert_eq!(toolchain_version(line).as_deref(), expected, "{line}");
        }
    }
}
