//! Which of the plugin's packages are *interface crates*: crates in which a host application
//! declares its own extension points (`#[extension_point]`). Like `plugrack-api`, an interface
//! crate's semver line decides whether the host can use what the plugin built against it, so
//! [`super::plan`] checks its line instead of pinning it.
//!
//! An interface crate says so in its `Cargo.toml`, which `#[extension_point]` requires:
//!
//! ```toml
//! [package.metadata.plugrack]
//! interface = true
//! ```
//!
//! The marker is read from `cargo metadata` of the plugin (its resolved graph, dependencies
//! included), so it is found wherever the crate comes from: a registry, git or a path.

use serde::Deserialize;

use super::{cargo::Cargo, error::CapError, workspace::PluginWorkspace};

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

/// Whether a package's `metadata` (as `cargo metadata` prints it) marks an interface crate.
pub fn is_marked(metadata: Option<&serde_json::Value>) -> bool {
    metadata
        .and_then(|m| m.get("plugrack"))
        .and_then(|p| p.get("interface"))
        .and_then(serde_json::Value::as_bool)
        == Some(true)
}

/// The names of the interface crates in the plugin's graph, sorted and without repeats.
pub fn find(ws: &PluginWorkspace, cargo: &Cargo) -> Result<Vec<String>, CapError> {
    let output = cargo
        .command(["metadata", "--format-version", "1"])
        .arg("--manifest-path")
        .arg(ws.manifest.to_string_lossy())
        .output()
        .map_err(|source| cargo.classify(&ws.manifest, source))?;
    let meta: Metadata = serde_json::from_slice(&output.stdout).map_err(|e| CapError::Cargo {
        manifest: ws.manifest.clone(),
        source: crate::process::ProcessError::Failed {
            command: "cargo metadata".into(),
            status: "unreadable output".into(),
            stderr: e.to_string(),
        },
    })?;
    let mut names: Vec<String> = meta
        .packages
        .into_iter()
        .filter(|p| is_marked(p.metadata.as_ref()))
        .map(|p| p.name)
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_marker_counts() {
        let marked = serde_json::json!({"plugrack": {"interface": true}});
        assert!(is_marked(Some(&marked)));
        for other in [
            serde_json::json!({"plugrack": {"interface": false}}),
            serde_json::json!({"plugrack": {"interface": "yes"}}),
            serde_json::json!({"plugin": {"interface": true}}),
            serde_json::Value::Null,
        ] {
            assert!(!is_marked(Some(&other)), "{other}");
        }
        assert!(!is_marked(None));
    }
}
