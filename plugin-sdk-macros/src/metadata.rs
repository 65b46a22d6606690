//! Reads and checks the plugin's descriptor from `Cargo.toml` at compile time.
//!
//! `[package]` fields come from the `CARGO_PKG_*` variables cargo sets (so workspace
//! inheritance is already resolved); `[package.metadata.plugin]` is read from the file.

use std::path::PathBuf;

use proc_macro2::Span;

/// The descriptor's data, checked.
#[derive(Debug)]
pub struct Metadata {
    pub manifest_path: PathBuf,
    pub id: String,
    pub name: String,
    pub version: String,
    pub description: String,
    pub authors: Vec<String>,
    pub homepage: String,
    pub license: String,
    pub host_version: String,
    pub target_os: Vec<String>,
}

const KNOWN_KEYS: &[&str] = &["id", "name", "host-version", "target-os"];
const KNOWN_OS: &[&str] = &[
    "linux", "macos", "windows", "freebsd", "netbsd", "openbsd", "android", "ios",
];

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
    let err = |message: String| syn::Error::new(span, message);
    let shown = manifest_path.display().to_string();
    let doc: toml::Table = text
        .parse()
        .map_err(|e| err(format!("`{shown}` is not valid TOML: {e}")))?;

    let section = doc
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("plugin"));
    let empty = toml::Table::new();
    let plugin = match section {
        None => &empty,
        Some(toml::Value::Table(t)) => t,
        Some(other) => {
            return Err(err(format!(
                "`[package.metadata.plugin]` in `{shown}` must be a table, found a {}",
                other.type_str()
            )))
        }
    };
    for key in plugin.keys() {
        if !KNOWN_KEYS.contains(&key.as_str()) {
            return Err(err(format!(
                "unknown key `{key}` in `[package.metadata.plugin]` of `{shown}`; expected one of: {}",
                KNOWN_KEYS.join(", ")
            )));
        }
    }
    let string = |key: &str| -> syn::Result<Option<String>> {
        match plugin.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(err(format!(
                "`{key}` in `[package.metadata.plugin]` of `{shown}` must be a string, found a {}",
                other.type_str()
            ))),
        }
    };

    let package_name = env("CARGO_PKG_NAME");
    let id = string("id")?.unwrap_or_else(|| package_name.clone());
    if id.is_empty()
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(err(format!(
            "plugin id `{id}` in `{shown}` is not valid: use letters, digits, `.`, `_` and `-` only \
             (set `id` in `[package.metadata.plugin]`)"
        )));
    }
    let host_version = string("host-version")?.unwrap_or_else(|| "*".into());
    if let Err(e) = semver::VersionReq::parse(&host_version) {
        return Err(err(format!(
            "`host-version = \"{host_version}\"` in `{shown}` is not a semver requirement ({e}); \
             write it like `>=1.0, <2`"
        )));
    }
    let target_os = match plugin.get("target-os") {
        None => vec!["linux".to_owned()],
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|v| match v.as_str() {
                Some(os) if KNOWN_OS.contains(&os) => Ok(os.to_owned()),
                _ => Err(err(format!(
                    "`target-os` in `{shown}` holds `{v}`; expected names among: {}",
                    KNOWN_OS.join(", ")
                ))),
            })
            .collect::<syn::Result<_>>()?,
        Some(other) => {
            return Err(err(format!(
                "`target-os` in `{shown}` must be an array of strings like [\"linux\"], found a {}",
                other.type_str()
            )))
        }
    };

    Ok(Metadata {
        id,
        name: string("name")?.unwrap_or_else(|| package_name.clone()),
        version: env("CARGO_PKG_VERSION"),
        description: env("CARGO_PKG_DESCRIPTION"),
        authors: env("CARGO_PKG_AUTHORS")
            .split(':')
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect(),
        homepage: match env("CARGO_PKG_HOMEPAGE") {
            h if h.is_empty() => env("CARGO_PKG_REPOSITORY"),
            h => h,
        },
        license: env("CARGO_PKG_LICENSE"),
        host_version,
        target_os,
        manifest_path,
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
        let m = check("[package]\nname = \"my-plugin\"\n").unwrap();
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
                "plugin id `my plugin` in `/p/Cargo.toml` is not valid",
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
        assert!(check("[package\n")
            .unwrap_err()
            .contains("is not valid TOML"));
    }
}
