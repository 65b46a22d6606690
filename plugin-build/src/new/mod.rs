//! `plugin-build new <name>`: a new plugin project from the embedded [`template`].
//!
//! The template's manifest (`Cargo.toml.liquid`, the file cargo-generate renders too) is
//! rendered for the package name and edited with `toml_edit` (comments kept): the plugin id,
//! and the source of every `plugrack-*` dependency, either a released version written exactly
//! as `cargo add plugrack-sdk@VERSION` writes it, or this checkout's folders (absolute paths,
//! for developing the toolkit and its plugins together). The project has a `[workspace]` table
//! of its own, so it builds standalone wherever it is created. It is written under a hidden
//! temporary name and renamed into place, so a refused or failed `new` leaves nothing behind.

pub mod template;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use toml_edit::{value, DocumentMut, Item};

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
    #[error(
        "`{id}` is not a valid plugin id: use {}",
        plugrack_descriptor::id::RULE
    )]
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
    #[error("`{}` is not a plugrack checkout (its `Cargo.toml` names no `plugrack-sdk` folder in `[workspace.dependencies]`)\n  hint: pass `--sdk-path` to a checkout, or `--sdk-version {version}` for the released crates", .path.display())]
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
    let released = released_sdk_version()?;
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
            if checkout_folders(&dir).is_none() {
                return Err(NewError::NoCheckout {
                    path: dir,
                    version: released,
                });
            }
            SdkSource::Checkout(dir)
        }
        (None, None) => {
            let dir = template::checkout();
            if checkout_folders(&dir).is_some() {
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
            "Cargo.toml" => cargo_toml(text, &args.name, &id, &sdk)?,
            // The README calls the plugin by its id, which cargo-generate's projects take
            // from the name.
            "README.md" => template::render(
                &text.replace(
                    &format!(
                        "call --plugins-dir /path/to/plugins {}",
                        template::PROJECT_NAME
                    ),
                    &format!("call --plugins-dir /path/to/plugins {id}"),
                ),
                &args.name,
            ),
            _ => template::render(text, &args.name),
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

/// The plugrack-sdk version the embedded template depends on: the release this tool belongs
/// with, and what `new` uses when there is no checkout.
pub fn released_sdk_version() -> Result<String, NewError> {
    let doc: DocumentMut = template::manifest()
        .parse()
        .map_err(|e| NewError::Template(format!("Cargo.toml.liquid: {e}")))?;
    doc["dependencies"]["plugrack-sdk"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| {
            NewError::Template("Cargo.toml.liquid: `plugrack-sdk` is not a plain version".into())
        })
}

/// The folder of each `plugrack-*` package in a toolkit checkout, as its workspace manifest
/// names them in `[workspace.dependencies]` (folders keep their short names: `plugrack-sdk`
/// lives in `plugin-sdk/`). Fails unless `plugrack-sdk` is among them and its folder holds a
/// manifest.
fn checkout_folders(dir: &Path) -> Option<Vec<(String, PathBuf)>> {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let doc: toml::Table = text.parse().ok()?;
    let shared = doc.get("workspace")?.get("dependencies")?.as_table()?;
    let folders: Vec<(String, PathBuf)> = shared
        .iter()
        .filter(|(name, _)| name.starts_with("plugrack-"))
        .filter_map(|(name, spec)| {
            let path = spec.get("path")?.as_str()?;
            Some((name.clone(), dir.join(path)))
        })
        .collect();
    let sdk = folders.iter().find(|(name, _)| name == "plugrack-sdk")?;
    sdk.1.join("Cargo.toml").is_file().then_some(folders)
}

/// Cargo's rule, kept simple: ASCII letters, digits, `-`, `_`, starting with a letter.
fn valid_package_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The descriptor's rule, the one `export_plugin!` and the host check.
fn valid_id(id: &str) -> bool {
    plugrack_descriptor::id::is_valid(id)
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

/// The new project's `Cargo.toml`, from the template's `Cargo.toml.liquid`.
pub fn cargo_toml(
    template_text: &str,
    name: &str,
    id: &str,
    sdk: &SdkSource,
) -> Result<String, NewError> {
    let broken = |what: &str| NewError::Template(format!("Cargo.toml.liquid: {what}"));
    let rendered = template::render(template_text, name);
    let mut doc: DocumentMut = rendered.parse().map_err(|e| broken(&format!("{e}")))?;
    let plugin = doc["package"]["metadata"]["plugin"]
        .as_table_like_mut()
        .ok_or_else(|| broken("no [package.metadata.plugin]"))?;
    set_keeping_comment(plugin, "id", id);

    let folders = match sdk {
        SdkSource::Checkout(dir) => checkout_folders(dir).ok_or_else(|| NewError::NoCheckout {
            path: dir.clone(),
            version: released_sdk_version().unwrap_or_default(),
        })?,
        SdkSource::Version(_) => Vec::new(),
    };
    let deps = doc["dependencies"]
        .as_table_like_mut()
        .ok_or_else(|| broken("no [dependencies]"))?;
    let ours: Vec<String> = deps
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| k.starts_with("plugrack-"))
        .collect();
    for dep in ours {
        let item = match sdk {
            // What `cargo add plugrack-sdk@VERSION` writes: a plain version string.
            SdkSource::Version(version) => value(version.as_str()),
            SdkSource::Checkout(dir) => {
                let folder = folders
                    .iter()
                    .find(|(name, _)| *name == dep)
                    .map(|(_, folder)| folder)
                    .ok_or_else(|| NewError::NoCheckout {
                        path: dir.clone(),
                        version: released_sdk_version().unwrap_or_default(),
                    })?;
                let mut spec = toml_edit::InlineTable::new();
                spec.insert("path", folder.to_string_lossy().as_ref().into());
                value(spec)
            }
        };
        let decor = deps
            .get(&dep)
            .and_then(Item::as_value)
            .map(|v| v.decor().clone());
        deps.insert(&dep, item);
        if let (Some(decor), Some(v)) = (decor, deps.get_mut(&dep).and_then(Item::as_value_mut)) {
            *v.decor_mut() = decor;
        }
    }

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
        "# Made by `plugin-build new` from the plugrack template, with {source}.\n\n{doc}"
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

    /// A folder laid out like a toolkit checkout: a workspace manifest naming the SDK's folders.
    fn fake_checkout() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[workspace]\n[workspace.dependencies]\n\
             plugrack-sdk = { path = \"plugin-sdk\", version = \"1.0.0\" }\n\
             plugrack-api = { path = \"plugin-api\", version = \"1.0.0\" }\n\
             serde = \"1\"\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("plugin-sdk")).unwrap();
        std::fs::write(dir.path().join("plugin-sdk/Cargo.toml"), "[package]\n").unwrap();
        dir
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
    fn cargo_toml_for_a_checkout() {
        let checkout = fake_checkout();
        let sdk = SdkSource::Checkout(checkout.path().to_owned());
        let text = cargo_toml(template::manifest(), "hello", "org.hello", &sdk).unwrap();
        let doc: toml::Table = text.parse().unwrap();
        assert_eq!(doc["package"]["name"].as_str(), Some("hello"));
        let plugin = &doc["package"]["metadata"]["plugin"];
        assert_eq!(plugin["id"].as_str(), Some("org.hello"));
        assert_eq!(plugin["name"].as_str(), Some("hello"));
        let sdk_path = checkout.path().join("plugin-sdk");
        assert_eq!(
            doc["dependencies"]["plugrack-sdk"]["path"].as_str(),
            sdk_path.to_str()
        );
        assert!(doc["workspace"].is_table());
        assert!(!text.contains("{{"), "{text}");
        assert!(
            text.contains("# The descriptor"),
            "comments are kept:\n{text}"
        );
        assert!(
            text.lines().any(|l| l.starts_with("id = \"org.hello\" ")
                && l.ends_with("# unique in a host: letters, digits, `.`, `_`, `-`")),
            "the comment after a replaced value is kept:\n{text}"
        );
    }

    /// With a version, every `plugrack-*` line is what `cargo add plugrack-sdk@VERSION` writes
    /// (the released-crates test runs the real `cargo add` and compares whole files).
    #[test]
    fn cargo_toml_for_a_release() {
        for version in ["1.0.0", "1", "=1.0.0", "^1.0"] {
            let sdk = SdkSource::Version(version.into());
            let text = cargo_toml(template::manifest(), "hello", "hello", &sdk).unwrap();
            let line = format!("plugrack-sdk = \"{version}\"");
            assert!(text.lines().any(|l| l == line), "{line}:\n{text}");
        }
    }

    #[test]
    fn the_released_version_is_the_templates() {
        let version = released_sdk_version().unwrap();
        semver::Version::parse(&version).unwrap();
        let sdk = SdkSource::Version(version.clone());
        let text = cargo_toml(
            template::manifest(),
            "plugin-template",
            "plugin-template",
            &sdk,
        )
        .unwrap();
        let header_end = text.find("[package]").unwrap();
        assert_eq!(
            &text[header_end..],
            template::render(template::manifest(), "plugin-template"),
            "for the template's own version and name, `new` writes the template as it is"
        );
    }

    #[test]
    fn a_folder_that_is_no_checkout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = new(&NewArgs {
            name: "hello".into(),
            path: Some(dir.path().join("hello")),
            id: None,
            sdk_version: None,
            sdk_path: Some(dir.path().to_owned()),
        })
        .unwrap_err();
        assert!(matches!(err, NewError::NoCheckout { .. }), "{err}");
        let released = released_sdk_version().unwrap();
        assert!(
            err.to_string()
                .contains(&format!("--sdk-version {released}")),
            "{err}"
        );
        assert!(!dir.path().join("hello").exists());
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
            id: Some("org.example.hello".into()),
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
        let readme = std::fs::read_to_string(empty.join("README.md")).unwrap();
        assert!(readme.starts_with("# hello\n"), "{readme}");
        assert!(
            readme.contains("call --plugins-dir /path/to/plugins org.example.hello hello"),
            "the README calls the plugin by its id:\n{readme}"
        );
        assert!(!readme.contains("{{"), "{readme}");
    }
}
