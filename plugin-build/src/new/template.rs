//! The plugin template, embedded in the binary so that `plugin-build new` works offline: the
//! files of the workspace's `plugin-template/` folder (a real crate that CI builds and tests),
//! and the workspace manifest whose `[workspace.dependencies]` give the versions that the
//! template's `x.workspace = true` entries stand for.
//!
//! `Cargo.toml.liquid` and `cargo-generate.toml` in that folder serve `cargo generate` only
//! and are not part of a project made by `plugin-build new`.

/// The template's files: path inside the project, contents.
pub const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../plugin-template/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../plugin-template/src/lib.rs"),
    ),
    (
        "rust-toolchain.toml",
        include_str!("../../../plugin-template/rust-toolchain.toml"),
    ),
    (
        "README.md",
        include_str!("../../../plugin-template/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../../plugin-template/.gitignore"),
    ),
];

/// Files of the template folder that serve `cargo generate` and are not copied.
pub const CARGO_GENERATE_ONLY: &[&str] = &["Cargo.toml.liquid", "cargo-generate.toml"];

/// The workspace manifest this binary was built from.
pub const WORKSPACE_MANIFEST: &str = include_str!("../../../Cargo.toml");

/// The name and id the template uses, replaced in a new project.
pub const TEMPLATE_NAME: &str = "plugin-template";

/// The checkout this binary was built from (it may since have moved or gone).
pub fn checkout() -> std::path::PathBuf {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn files_on_disk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if rel == "target" || rel == "build" || rel == "Cargo.lock" {
                continue;
            }
            if path.is_dir() {
                files_on_disk(&path, base, out);
            } else {
                out.push(rel);
            }
        }
    }

    #[test]
    fn every_template_file_is_embedded() {
        let folder = checkout().join(TEMPLATE_NAME);
        let mut on_disk = Vec::new();
        files_on_disk(&folder, &folder, &mut on_disk);
        on_disk.retain(|f| !CARGO_GENERATE_ONLY.contains(&f.as_str()));
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "plugin-template/ and the embedded list in plugin-build/src/new/template.rs differ"
        );
    }

    #[test]
    fn the_template_pins_the_workspace_toolchain() {
        let workspace = std::fs::read_to_string(checkout().join("rust-toolchain.toml")).unwrap();
        let channel = |text: &str| {
            text.lines()
                .find(|l| l.starts_with("channel"))
                .map(str::to_owned)
        };
        let template = FILES
            .iter()
            .find(|(p, _)| *p == "rust-toolchain.toml")
            .unwrap()
            .1;
        assert_eq!(channel(template), channel(&workspace));
    }

    #[test]
    fn no_liquid_markers_in_copied_files() {
        // cargo-generate renders every file with Liquid; `{{` or `{%` would be taken as tags.
        for (path, text) in FILES {
            assert!(
                !text.contains("{{") && !text.contains("{%"),
                "{path} contains a Liquid marker"
            );
        }
    }
}
