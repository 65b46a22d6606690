//! `plugin-build new <name>`: a new plugin project from the embedded [`template`].
//!
//! The template's `Cargo.toml` is rewritten with `toml_edit` (comments kept): the package
//! name, the plugin id and display name, and every `x.workspace = true` dependency replaced
//! by what the toolkit's workspace says, with `plugrack-sdk` / `plugrack-api` pointed either at
//! this checkout (absolute paths, for developing the toolkit and its plugins together) or
//! at released versions. The project gets a `[workspace]` table of its own, so it builds
//! standalone wherever it is created. The project is written under a hidden temporary name
//! and renamed into place, so a refused or failed `new` leaves nothing behind.

pub mod template;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use toml_edit::{value, DocumentMut, Item, Table};

/// Arguments of `plugin-build new`.
#[derive(Debug, Clone, clap::Args)]
pub struct NewArgs {
    /// The package name (letters, digits, `-`, `_`; not starting with a digit).
    #[arg(value_name = "NAME")]
    pub name: String,

    /// Where to create the project (default: `./NAME`). Must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub path: Option<PathBuf>,

    /// The plugin id (default: NAME): unique in a host; letters, digits, `.`, `_`, `-`.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,

    /// Depend on released plugrack-sdk / plugrack-api of this version instead of this checkout.
    #[arg(long, value_name = "VERSION", conflicts_with = "sdk_path")]
    pub sdk_version: Option<String>,

    /// Depend on plugrack-sdk / plugrack-api in this toolkit checkout (default: the checkout this
    /// binary was built from, when it still exists).
    #[arg(long, value_name = "DIR")]
    pub sdk_path: Option<PathBuf>,
}

/// Where the new project's plugrack-sdk and plugrack-api come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// Path dependencies into a toolkit checkout.
    Checkout(PathBuf),
    /// Released versions.
    Version(String),
}

/// Why `plugin-build new` refused or failed. Nothing is left behind in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// Not a valid cargo package name.
    #[error("`{name}` is not a valid package name: use letters, digits, `-` and `_`, starting with a letter")]
    BadName {
        /// The name.
        name: String,
    },
    /// Not a valid plugin id.
    #[error("`{id}` is not a valid plugin id: use letters, digits, `.`, `_` and `-`")]
    BadId {
        /// The id.
        id: String,
    },
    /// The destination has files.
    #[error("`{}` is not empty (it holds {found}); nothing was written\n  hint: choose another folder with `--path DIR`", .path.display())]
    NotEmpty {
        /// The destination.
        path: PathBuf,
        /// Some of what is there.
        found: String,
    },
    /// The destination is a file.
    #[error("`{}` exists and is not a folder; nothing was written", .path.display())]
    NotAFolder {
        /// The destination.
        path: PathBuf,
    },
    /// `--sdk-path` (or the built-in checkout) is not a toolkit checkout.
    #[error("`{}` is not a plugin toolkit checkout (no `plugin-sdk/Cargo.toml` there)\n  hint: pass `--sdk-path` to a checkout, or `--sdk-version {version}` for the released crates", .path.display())]
    NoCheckout {
        /// The folder.
        path: PathBuf,
        /// The SDK version this tool knows.
        version: String,
    },
    /// `--sdk-version` is not a version.
    #[error("`--sdk-version {version}` is not a version requirement ({reason})")]
    BadVersion {
        /// What was given.
        version: String,
        /// Why.
        reason: String,
    },
    /// The embedded template is broken (a bug in this tool's build).
    #[error("the embedded template is broken: {0}")]
    Template(String),
    /// A file could not be written.
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

/// What `new` created.
#[derive(Debug, Clone)]
pub struct Created {
    /// The project folder.
    pub path: PathBuf,
    /// The plugin id.
    pub id: String,
    /// Where the SDK comes from.
    pub sdk: SdkSource,
}

/// Runs `new` from the command line.
pub fn run(args: &NewArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let created = new(args)?;
    let sdk = match &created.sdk {
        SdkSource::Checkout(dir) => format!("plugrack-sdk from the checkout at {}", dir.display()),
        SdkSource::Version(v) => format!("plugrack-sdk {v} from the registry"),
    };
    eprintln!(
        "{:>12} plugin `{}` (id `{}`) in {}, with {sdk}",
        "Created",
        args.name,
        created.id,
        created.path.display()
    );
    eprintln!(
        "{:>12} cd {} && cargo test && plugin-build && plugin-build package && plugin-build deploy --to PLUGINS_DIR",
        "Next",
        created.path.display()
    );
    println!("{}", created.path.display());
    Ok(ExitCode::SUCCESS)
}

/// Creates the project as `args` say.
pub fn new(args: &NewArgs) -> Result<Created, NewError> {
    if !valid_package_name(&args.name) {
        return Err(NewError::BadName {
            name: args.name.clone(),
        });
    }
    let id = args.id.clone().unwrap_or_else(|| args.name.clone());
    if !valid_id(&id) {
        return Err(NewError::BadId { id });
    }
    let workspace: DocumentMut = template::WORKSPACE_MANIFEST
        .parse()
        .map_err(|e| NewError::Template(format!("workspace Cargo.toml: {e}")))?;
    let released = workspace["workspace"]["dependencies"]["plugrack-sdk"]["version"]
        .as_str()
        .unwrap_or("1")
        .to_owned();
    let sdk = match (&args.sdk_version, &args.sdk_path) {
        (Some(version), _) => {
            semver::VersionReq::parse(version).map_err(|e| NewError::BadVersion {
                version: version.clone(),
                reason: e.to_string(),
            })?;
            SdkSource::Version(version.clone())
        }
        (None, Some(dir)) => {
            let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
            if !dir.join("plugin-sdk/Cargo.toml").is_file() {
                return Err(NewError::NoCheckout {
                    path: dir,
                    version: released,
                });
            }
            SdkSource::Checkout(dir)
        }
        (None, None) => {
            let dir = template::checkout();
            if dir.join("plugin-sdk/Cargo.toml").is_file() {
                SdkSource::Checkout(dir)
            } else {
                SdkSource::Version(released)
            }
        }
    };

    let dest = args
        .path
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    let dest = std::path::absolute(&dest).unwrap_or(dest);
    check_destination(&dest)?;

    let mut files = Vec::new();
    for (path, text) in template::FILES {
        let text = match *path {
            "Cargo.toml" => cargo_toml(text, &workspace, &args.name, &id, &sdk)?,
            "README.md" => text
                .replace("`plugin-template`", &format!("`{id}`"))
                .replace(template::TEMPLATE_NAME, &args.name),
            _ => (*text).to_owned(),
        };
        files.push((*path, text));
    }
    write_project(&dest, &files)?;
    Ok(Created {
        path: dest,
        id,
        sdk,
    })
}

/// Cargo's rule, kept simple: ASCII letters, digits, `-`, `_`, starting with a letter.
fn valid_package_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The descriptor's rule (as `export_plugin!` checks it), and usable as a folder name.
fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn check_destination(dest: &Path) -> Result<(), NewError> {
    match std::fs::symlink_metadata(dest) {
        Err(_) => Ok(()),
        Ok(meta) if !meta.is_dir() => Err(NewError::NotAFolder {
            path: dest.to_owned(),
        }),
        Ok(_) => {
            let mut names: Vec<String> = std::fs::read_dir(dest)
                .map_err(|source| NewError::Io {
                    action: "read",
                    path: dest.to_owned(),
                    source,
                })?
                .filter_map(|e| e.ok())
                .map(|e| format!("`{}`", e.file_name().to_string_lossy()))
                .collect();
            if names.is_empty() {
                return Ok(());
            }
            names.sort();
            let more = names.len().saturating_sub(3);
            names.truncate(3);
            let mut found = names.join(", ");
            if more > 0 {
                found.push_str(&format!(" and {more} more"));
            }
            Err(NewError::NotEmpty {
                path: dest.to_owned(),
                found,
            })
        }
    }
}

/// The new project's `Cargo.toml`, from the template's.
pub fn cargo_toml(
    template_text: &str,
    workspace: &DocumentMut,
    name: &str,
    id: &str,
    sdk: &SdkSource,
) -> Result<String, NewError> {
    let broken = |what: &str| NewError::Template(format!("template Cargo.toml: {what}"));
    // The template's opening comment speaks about the template; the project gets its own.
    let body = template_text
        .find("[package]")
        .map(|at| &template_text[at..])
        .ok_or_else(|| broken("no [package]"))?;
    let mut doc: DocumentMut = body.parse().map_err(|e| broken(&format!("{e}")))?;
    let package = doc["package"]
        .as_table_like_mut()
        .ok_or_else(|| broken("no [package]"))?;
    set_keeping_comment(package, "name", name);
    let plugin = doc["package"]["metadata"]["plugin"]
        .as_table_like_mut()
        .ok_or_else(|| broken("no [package.metadata.plugin]"))?;
    set_keeping_comment(plugin, "id", id);
    set_keeping_comment(plugin, "name", name);

    let deps = doc["dependencies"]
        .as_table_like_mut()
        .ok_or_else(|| broken("no [dependencies]"))?;
    let names: Vec<String> = deps.iter().map(|(k, _)| k.to_owned()).collect();
    for dep in names {
        let inherits = deps
            .get(&dep)
            .and_then(|item| item.get("workspace"))
            .and_then(|w| w.as_bool())
            == Some(true);
        if !inherits {
            continue;
        }
        let shared = &workspace["workspace"]["dependencies"][dep.as_str()];
        let mut spec = toml_edit::InlineTable::new();
        let sdk_crate = dep == "plugrack-sdk" || dep == "plugrack-api";
        match (sdk_crate, sdk) {
            (true, SdkSource::Checkout(dir)) => {
                // The package's folder in the checkout, as the workspace names it (folders
                // keep their short names: `plugrack-sdk` lives in `plugin-sdk/`).
                let folder = shared.get("path").and_then(|p| p.as_str()).ok_or_else(|| {
                    broken(&format!("`{dep}` has no path in [workspace.dependencies]"))
                })?;
                spec.insert("path", dir.join(folder).to_string_lossy().as_ref().into());
            }
            (true, SdkSource::Version(version)) => {
                spec.insert("version", version.as_str().into());
            }
            (false, _) => match shared {
                Item::Value(toml_edit::Value::String(v)) => {
                    spec.insert("version", v.value().as_str().into());
                }
                other => {
                    let table = other.as_table_like().ok_or_else(|| {
                        broken(&format!("`{dep}` is not in [workspace.dependencies]"))
                    })?;
                    for (key, item) in table.iter() {
                        if key != "path" {
                            if let Some(v) = item.as_value() {
                                spec.insert(key, v.clone());
                            }
                        }
                    }
                }
            },
        }
        let simple = spec.len() == 1 && spec.contains_key("version");
        let item = if simple {
            value(spec.get("version").and_then(|v| v.as_str()).unwrap_or("*"))
        } else {
            value(spec)
        };
        deps.insert(&dep, item);
    }

    let mut workspace_table = Table::new();
    workspace_table.decor_mut().set_prefix(
        "\n# A project of its own, even when created inside another cargo workspace.\n",
    );
    doc.insert("workspace", Item::Table(workspace_table));

    let source = match sdk {
        SdkSource::Checkout(dir) => {
            format!(
                "plugrack-sdk from the toolkit checkout at {}",
                dir.display()
            )
        }
        SdkSource::Version(v) => format!("plugrack-sdk {v}"),
    };
    Ok(format!(
        "# Made by `plugin-build new` from the plugin toolkit's template, with {source}.\n\n{doc}"
    ))
}

/// Sets a string value, keeping the comment that follows the old one on its line.
fn set_keeping_comment(table: &mut dyn toml_edit::TableLike, key: &str, text: &str) {
    if let Some(old) = table.get_mut(key).and_then(Item::as_value_mut) {
        let decor = old.decor().clone();
        *old = text.into();
        *old.decor_mut() = decor;
    } else {
        table.insert(key, value(text));
    }
}

fn write_project(dest: &Path, files: &[(&str, String)]) -> Result<(), NewError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| NewError::Io {
            action,
            path,
            source,
        }
    };
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".plugin-build-new-")
        .tempdir_in(parent)
        .map_err(io("create a temporary folder in", parent))?;
    for (path, text) in files {
        let file = staging.path().join(path);
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(io("create", dir))?;
        }
        std::fs::write(&file, text).map_err(io("write", &file))?;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))
        .map_err(io("set permissions of", staging.path()))?;
    // Renaming onto an empty folder replaces it; onto a non-empty one it fails.
    std::fs::rename(staging.path(), dest).map_err(io("create", dest))?;
    let _ = staging.keep();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> DocumentMut {
        template::WORKSPACE_MANIFEST.parse().unwrap()
    }

    fn template_toml() -> &'static str {
        template::FILES[0].1
    }

    #[test]
    fn names_and_ids() {
        for ok in ["hello", "my-plugin", "my_plugin2"] {
            assert!(valid_package_name(ok), "{ok}");
        }
        for bad in ["", "2fast", "a b", "a/b", "..", "é"] {
            assert!(!valid_package_name(bad), "{bad}");
        }
        for ok in ["org.example.hello", "a-b_c"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", ".hidden", "a/b", "a b"] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn cargo_toml_for_a_checkout_and_for_a_release() {
        let checkout = SdkSource::Checkout(PathBuf::from("/src/toolkit"));
        let text = cargo_toml(
            template_toml(),
            &workspace(),
            "hello",
            "org.hello",
            &checkout,
        )
        .unwrap();
        let doc: toml::Table = text.parse().unwrap();
        assert_eq!(doc["package"]["name"].as_str(), Some("hello"));
        let plugin = &doc["package"]["metadata"]["plugin"];
        assert_eq!(plugin["id"].as_str(), Some("org.hello"));
        assert_eq!(
            doc["dependencies"]["plugrack-sdk"]["path"].as_str(),
            Some("/src/toolkit/plugin-sdk")
        );
        assert_eq!(doc["dependencies"]["log"]["version"].as_str(), Some("0.4"));
        assert!(doc["workspace"].is_table());
        assert!(!text.contains("workspace = true"), "{text}");
        assert!(
            text.contains("# The descriptor"),
            "comments are kept:\n{text}"
        );
        assert!(
            text.contains("id = \"org.hello\"            # unique in a host"),
            "the comment after a replaced value is kept:\n{text}"
        );

        let release = SdkSource::Version("1.0.0".into());
        let text = cargo_toml(template_toml(), &workspace(), "hello", "hello", &release).unwrap();
        let doc: toml::Table = text.parse().unwrap();
        assert_eq!(doc["dependencies"]["plugrack-sdk"].as_str(), Some("1.0.0"));
    }

    /// `cargo generate` renders `Cargo.toml.liquid`; with the template's own name it must
    /// describe the same package as `plugin-build new` does for a release.
    #[test]
    fn the_cargo_generate_manifest_matches() {
        let liquid =
            std::fs::read_to_string(template::checkout().join("plugin-template/Cargo.toml.liquid"))
                .unwrap();
        let rendered = liquid.replace("{{project-name}}", "hello");
        let from_liquid: toml::Table = rendered.parse().unwrap();
        let release = SdkSource::Version("1.0.0".into());
        let ours: toml::Table =
            cargo_toml(template_toml(), &workspace(), "hello", "hello", &release)
                .unwrap()
                .parse()
                .unwrap();
        assert_eq!(from_liquid, ours);
    }

    #[test]
    fn refuses_a_non_empty_destination_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("taken");
        std::fs::create_dir(&dest).unwrap();
        std::fs::write(dest.join("notes.txt"), "mine").unwrap();
        let args = NewArgs {
            name: "hello".into(),
            path: Some(dest.clone()),
            id: None,
            sdk_version: Some("1.0.0".into()),
            sdk_path: None,
        };
        let err = new(&args).unwrap_err();
        assert!(matches!(err, NewError::NotEmpty { .. }), "{err}");
        assert!(err.to_string().contains("`notes.txt`"), "{err}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only the folder that was there");
        assert_eq!(std::fs::read_dir(&dest).unwrap().count(), 1);

        // An empty folder is fine.
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let created = new(&NewArgs {
            path: Some(empty.clone()),
            ..args
        })
        .unwrap();
        assert_eq!(created.path, empty);
        assert!(empty.join("src/lib.rs").is_file());
        assert!(empty.join(".gitignore").is_file());
    }
}
