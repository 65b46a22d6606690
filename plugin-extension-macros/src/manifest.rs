//! Reads the interface crate's `Cargo.toml`: its version, the interface marker that
//! `plugin-build cap` relies on, and the direct `abi_stable` dependency the generated
//! `#[sabi_trait]` names.

use std::path::PathBuf;

use proc_macro2::Span;

/// What the attribute needs from the manifest.
pub struct Manifest {
    pub path: PathBuf,
    pub version: semver::Version,
}

/// Reads the manifest of the crate being compiled.
pub fn read() -> syn::Result<Manifest> {
    let err = |message: String| syn::Error::new(Span::call_site(), message);
    let dir = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| {
        err("`#[extension_point]` must be built by cargo (CARGO_MANIFEST_DIR is not set)".into())
    })?;
    let path = PathBuf::from(dir).join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| err(format!("cannot read `{}`: {e}", path.display())))?;
    let version_text = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    check(&path, &text, &version_text).map_err(err)
}

/// Checks manifest `text` (at `path`) of a crate at version `version_text`.
pub fn check(path: &std::path::Path, text: &str, version_text: &str) -> Result<Manifest, String> {
    let shown = path.display();
    let doc: toml::Table = text
        .parse()
        .map_err(|e| format!("`{shown}` is not valid TOML: {e}"))?;
    let marked = doc
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("plugrack"))
        .and_then(|p| p.get("interface"))
        .and_then(toml::Value::as_bool)
        == Some(true);
    if !marked {
        return Err(format!(
            "`#[extension_point]` belongs in an interface crate, and `{shown}` does not say it is one: add\n\
             [package.metadata.plugrack]\ninterface = true\n\
             so that `plugin-build cap` holds plugins to this crate's semver line like plugrack-api's"
        ));
    }
    let has_abi_stable = ["dependencies", "target"]
        .iter()
        .any(|table| match doc.get(*table) {
            Some(toml::Value::Table(t)) if *table == "dependencies" => t.contains_key("abi_stable"),
            // `[target.'cfg(..)'.dependencies]`
            Some(toml::Value::Table(targets)) => targets.values().any(|t| {
                t.get("dependencies")
                    .and_then(toml::Value::as_table)
                    .is_some_and(|d| d.contains_key("abi_stable"))
            }),
            _ => false,
        });
    if !has_abi_stable {
        return Err(format!(
            "the code `#[extension_point]` generates names `abi_stable` (through `#[sabi_trait]`): add `abi_stable = \"=0.11.3\"` \
             to `[dependencies]` in `{shown}`"
        ));
    }
    let version = semver::Version::parse(version_text)
        .map_err(|e| format!("the crate's version `{version_text}` is not semver ({e})"))?;
    Ok(Manifest {
        path: path.to_owned(),
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_text(text: &str) -> Result<(), String> {
        check(std::path::Path::new("/i/Cargo.toml"), text, "1.2.0").map(|_| ())
    }

    #[test]
    fn the_marker_and_abi_stable_are_required() {
        let good = "[package]\nname = \"i\"\n[package.metadata.plugrack]\ninterface = true\n[dependencies]\nabi_stable = \"=0.11.3\"\n";
        assert_eq!(check_text(good), Ok(()));
        let unmarked = good.replace("interface = true", "interface = false");
        assert!(check_text(&unmarked)
            .unwrap_err()
            .contains("interface = true"));
        let no_abi = good.replace("abi_stable = \"=0.11.3\"", "serde = \"1\"");
        assert!(check_text(&no_abi)
            .unwrap_err()
            .contains("abi_stable = \"=0.11.3\""));
        let workspace_dep = good.replace("abi_stable = \"=0.11.3\"", "abi_stable.workspace = true");
        assert_eq!(check_text(&workspace_dep), Ok(()));
        assert!(check_text("[package")
            .unwrap_err()
            .contains("not valid TOML"));
    }
}
