//! Reads the plugin's descriptor from `Cargo.toml` at compile time.
//!
//! `[package]` fields come from the `CARGO_PKG_*` variables cargo sets (so workspace
//! inheritance is already resolved); `[package.metadata.plugin]` is read from the file. The
//! rules and defaults are `plugrack-descriptor`'s, the same that `plugin-build` applies.

use std::path::PathBuf;

use plugrack_descriptor::metadata::{self, PackageFields};
use proc_macro2::Span;

/// The descriptor's data, checked, and the manifest it came from.
#[derive(Debug)]
pub struct Metadata {
    pub manifest_path: PathBuf,
    pub descriptor: metadata::Metadata,
}

fn cargo_env(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

/// Reads and checks the manifest of the crate being compiled.
pub fn read(span: Span) -> syn::Result<Metadata> {
    let err = |message: String| syn::Error::new(span, message);
    let dir = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| {
        err("`export_plugin!` must be built by cargo (CARGO_MANIFEST_DIR is not set)".into())
    })?;
    let manifest_path = PathBuf::from(dir).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest_path)
        .map_err(|e| err(format!("cannot read `{}`: {e}", manifest_path.display())))?;
    parse(span, manifest_path, &text, &cargo_env)
}

/// Checks the manifest `text`; `env` reads the `CARGO_PKG_*` variables.
pub fn parse(
    span: Span,
    manifest_path: PathBuf,
    text: &str,
    env: &dyn Fn(&str) -> String,
) -> syn::Result<Metadata> {
    let optional = |name: &str| Some(env(name)).filter(|v| !v.is_empty());
    let package = PackageFields {
        name: env("CARGO_PKG_NAME"),
        version: env("CARGO_PKG_VERSION"),
        description: env("CARGO_PKG_DESCRIPTION"),
        authors: env("CARGO_PKG_AUTHORS")
            .split(':')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        homepage: optional("CARGO_PKG_HOMEPAGE"),
        repository: optional("CARGO_PKG_REPOSITORY"),
        license: env("CARGO_PKG_LICENSE"),
    };
    let descriptor = metadata::read_manifest_text(&package, text)
        .map_err(|e| syn::Error::new(span, format!("`{}`: {e}", manifest_path.display())))?;
    Ok(Metadata {
        manifest_path,
        descriptor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(manifest: &str) -> Result<Metadata, String> {
        let env = |name: &str| match name {
            "CARGO_PKG_NAME" => "my-plugin".to_owned(),
            "CARGO_PKG_VERSION" => "1.2.3".to_owned(),
            "CARGO_PKG_AUTHORS" => "A <a@x>:B <b@x>".to_owned(),
            _ => String::new(),
        };
        parse(
            Span::call_site(),
            PathBuf::from("/p/Cargo.toml"),
            manifest,
            &env,
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_come_from_the_package() {
        let m = check("[package]\nname = \"my-plugin\"\n")
            .unwrap()
            .descriptor;
        assert_eq!(
            (
                m.id.as_str(),
                m.name.as_str(),
                m.version.as_str(),
                m.host_version.as_str()
            ),
            ("my-plugin", "my-plugin", "1.2.3", "*")
        );
        assert_eq!(m.authors, ["A <a@x>", "B <b@x>"]);
        assert_eq!(m.target_os, ["linux"]);
    }

    #[test]
    fn every_mistake_is_refused_with_the_file_and_the_fix() {
        let cases = [
            (
                "id = \"my plugin\"",
                "`/p/Cargo.toml`: plugin id `my plugin` is not valid",
            ),
            ("host-version = \"one\"", "is not a semver requirement"),
            ("target-os = [\"amiga\"]", "expected names among"),
            ("target-os = \"linux\"", "must be an array of strings"),
            ("colour = \"red\"", "unknown key `colour`"),
            ("id = 7", "must be a string"),
        ];
        for (line, expected) in cases {
            let manifest = format!("[package]\nname = \"x\"\n[package.metadata.plugin]\n{line}\n");
            let err = check(&manifest).expect_err(line);
            assert!(err.contains(expected), "{line}: {err}");
        }
        assert!(check("[package\n").unwrap_err().contains("not valid TOML"));
    }
}
