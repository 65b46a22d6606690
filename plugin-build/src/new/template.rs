//! The plugin template, embedded in the binary so that `plugin-build new` works offline and
//! from an installed `plugrack-build` (the files live in `plugin-build/template/`, inside this
//! package, so `cargo package` ships them).
//!
//! The same folder is a cargo-generate template (`cargo generate --path
//! plugin-build/template`): its manifest is `Cargo.toml.liquid`, standalone and on the
//! released crates, and both tools render the one placeholder, `{{project-name}}`. The
//! workspace member `plugin-template/` compiles the template's `src/lib.rs` in CI; the tests
//! below keep its manifest and this folder in step.

/// The template's files: path inside the new project, contents (before rendering).
pub const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../template/Cargo.toml.liquid"),
    ),
    ("src/lib.rs", include_str!("../../template/src/lib.rs")),
    (
        "rust-toolchain.toml",
        include_str!("../../template/rust-toolchain.toml"),
    ),
    ("README.md", include_str!("../../template/README.md")),
    (".gitignore", include_str!("../../template/.gitignore")),
];

/// Where each embedded file is in the template folder, when its name there differs.
pub const SOURCE_NAMES: &[(&str, &str)] = &[("Cargo.toml", "Cargo.toml.liquid")];

/// Files of the template folder that serve `cargo generate` only and are not copied.
pub const CARGO_GENERATE_ONLY: &[&str] = &["cargo-generate.toml"];

/// The placeholder both `plugin-build new` and cargo-generate replace with the package name.
pub const PROJECT_NAME: &str = "{{project-name}}";

/// The package name the workspace member `plugin-template/` builds the template under.
pub const TEMPLATE_NAME: &str = "plugin-template";

/// The manifest of the template, before rendering.
pub fn manifest() -> &'static str {
    FILES[0].1
}

/// Renders a template file for the package `name`.
pub fn render(text: &str, name: &str) -> String {
    text.replace(PROJECT_NAME, name)
}

/// The checkout this binary was built from, when it was built from one (it may since have
/// moved or gone): the parent of this package's folder, if that holds the toolkit's
/// workspace. An installed `plugrack-build` (from crates.io) has none.
pub fn checkout() -> std::path::PathBuf {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The template folder this binary was built from.
pub fn folder() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("template")
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

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

    fn source_name(path: &str) -> &str {
        SOURCE_NAMES
            .iter()
            .find(|(p, _)| *p == path)
            .map_or(path, |(_, s)| s)
    }

    /// The toolkit checkout, or `None` (with a visible line) when these tests run from an
    /// unpacked package, where only the template folder is there.
    fn checkout_or_skip(test: &str) -> Option<PathBuf> {
        let dir = checkout();
        if dir.join(TEMPLATE_NAME).join("Cargo.toml").is_file() {
            Some(dir)
        } else {
            eprintln!("skipped {test}: not in the toolkit checkout");
            None
        }
    }

    #[test]
    fn every_template_file_is_embedded_as_it_is_on_disk() {
        let folder = folder();
        let mut on_disk = Vec::new();
        files_on_disk(&folder, &folder, &mut on_disk);
        on_disk.retain(|f| !CARGO_GENERATE_ONLY.contains(&f.as_str()));
        on_disk.sort();
        let mut embedded: Vec<String> = FILES
            .iter()
            .map(|(p, _)| source_name(p).to_owned())
            .collect();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "plugin-build/template/ and the list in plugin-build/src/new/template.rs differ"
        );
        for (path, text) in FILES {
            let file = folder.join(source_name(path));
            assert_eq!(
                std::fs::read_to_string(&file).unwrap(),
                *text,
                "{}",
                file.display()
            );
        }
    }

    #[test]
    fn only_the_project_name_placeholder_is_used() {
        // cargo-generate renders every file with Liquid: any other `{{` or a `{%` would be
        // taken as a tag, and `plugin-build new` would leave it in the project.
        for (path, text) in FILES {
            let rendered = render(text, "hello");
            assert!(
                !rendered.contains("{{") && !rendered.contains("{%"),
                "{path} contains a Liquid marker other than {PROJECT_NAME}"
            );
        }
        assert!(
            !FILES[1].1.contains(PROJECT_NAME),
            "src/lib.rs is compiled as it is by the workspace member"
        );
    }

    #[test]
    fn the_template_pins_the_workspace_toolchain() {
        let Some(checkout) = checkout_or_skip("the_template_pins_the_workspace_toolchain") else {
            return;
        };
        let workspace = std::fs::read_to_string(checkout.join("rust-toolchain.toml")).unwrap();
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

    /// The workspace member builds the template's code under a manifest of its own; it must
    /// describe the same package as the template's, but for the SDK's source (the workspace's,
    /// whose version must be the one the template depends on), the library's path, and the
    /// tables only a workspace root may carry.
    #[test]
    fn the_workspace_member_describes_the_template_package() {
        let Some(checkout) =
            checkout_or_skip("the_workspace_member_describes_the_template_package")
        else {
            return;
        };
        let read = |path: PathBuf| -> toml::Table {
            std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .parse()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        };
        let mut member = read(checkout.join(TEMPLATE_NAME).join("Cargo.toml"));
        let workspace = read(checkout.join("Cargo.toml"));
        let mut template: toml::Table = render(manifest(), TEMPLATE_NAME).parse().unwrap();

        let lib = member["lib"].as_table_mut().unwrap();
        assert_eq!(
            lib.remove("path")
                .and_then(|p| p.as_str().map(str::to_owned)),
            Some("../plugin-build/template/src/lib.rs".to_owned())
        );
        assert!(
            template.remove("workspace").is_some(),
            "a standalone project"
        );
        template.remove("profile");

        let sdk_crates: Vec<String> = template["dependencies"]
            .as_table()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("plugrack-"))
            .cloned()
            .collect();
        assert!(sdk_crates.contains(&"plugrack-sdk".to_owned()));
        for name in sdk_crates {
            let wanted = template["dependencies"][&name].as_str().unwrap().to_owned();
            let shared = &workspace["workspace"]["dependencies"][&name];
            assert_eq!(
                shared["version"].as_str(),
                Some(wanted.as_str()),
                "the template depends on {name} {wanted}, the workspace has {shared}"
            );
            let folder = checkout.join(shared["path"].as_str().unwrap());
            let package = read(folder.join("Cargo.toml"));
            assert_eq!(
                package["package"]["version"].as_str(),
                Some(wanted.as_str())
            );
            assert_eq!(
                member["dependencies"][&name].get("workspace"),
                Some(&toml::Value::Boolean(true)),
                "the member takes {name} from the workspace"
            );
            template["dependencies"]
                .as_table_mut()
                .unwrap()
                .remove(&name);
            member["dependencies"].as_table_mut().unwrap().remove(&name);
        }
        assert_eq!(member, template);
    }
}
