//! The JSON Schemas of `plugin.toml` ([`crate::manifest::Manifest`]) and of
//! `[package.metadata.plugin]` ([`crate::metadata::MetadataTable`]), generated from the types
//! with `schemars` (JSON Schema 2020-12), so that the schema says what the parser accepts;
//! and [`cargo_toml`], a schema for a plugin crate's whole `Cargo.toml` that checks only that
//! table (what an editor associates with a file).
//!
//! They are committed as [`FILES`] under `docs/schema/` in the repository, where editors find
//! them (taplo / Even Better TOML: `docs/schema.md`); the crate's `schema` test fails when the
//! types and the committed files differ, and `PLUGRACK_UPDATE_SCHEMA=1 cargo test -p
//! plugrack-descriptor --test schema` writes them again. What the schema cannot say (the
//! host-version requirement's grammar, that the descriptor of every library agrees) stays
//! with the parsers.
//!
//! ```
//! let schema = plugrack_descriptor::schema::manifest();
//! assert_eq!(schema["title"], "plugin.toml");
//! ```

use schemars::{generate::SchemaSettings, json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::Value;

use crate::{manifest::Manifest, metadata::MetadataTable, target_os};

/// Where the committed files are published: the repository's `docs/schema/` folder on `main`,
/// as raw files (each schema's `$id`).
pub const BASE_URL: &str = "https://raw.githubusercontent.com/plugrack/plugrack/main/docs/schema/";

/// A function that generates one schema.
pub type Generate = fn() -> Value;

/// The committed files: name under `docs/schema/` and the function that generates it.
pub const FILES: &[(&str, Generate)] = &[
    ("plugin.toml.json", manifest),
    ("package-metadata-plugin.json", package_metadata),
    ("cargo-toml.json", cargo_toml),
];

/// The schema of `plugin.toml`.
pub fn manifest() -> Value {
    generate::<Manifest>("plugin.toml.json")
}

/// The schema of the `[package.metadata.plugin]` table (the table itself, not the whole
/// `Cargo.toml`).
pub fn package_metadata() -> Value {
    generate::<MetadataTable>("package-metadata-plugin.json")
}

/// The schema of a plugin crate's whole `Cargo.toml` that checks `[package.metadata.plugin]`
/// and lets everything else through: editors apply a schema to a whole file (a taplo rule's
/// `keys` scopes formatting, not schemas), so this is the one to associate with `Cargo.toml`.
pub fn cargo_toml() -> Value {
    let mut table = package_metadata();
    if let Value::Object(object) = &mut table {
        object.remove("$schema");
        object.remove("$id");
    }
    let object =
        |properties: Value| serde_json::json!({ "type": "object", "properties": properties });
    let mut schema = object(serde_json::json!({
        "package": object(serde_json::json!({
            "metadata": object(serde_json::json!({ "plugin": { "$ref": "#/$defs/plugin" } })),
        })),
    }));
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema".into();
    schema["$id"] = format!("{BASE_URL}cargo-toml.json").into();
    schema["title"] = "Cargo.toml of a plugrack plugin".into();
    schema["description"] = "Checks `[package.metadata.plugin]` only; every other key of \
        Cargo.toml is let through."
        .into();
    schema["$defs"] = serde_json::json!({ "plugin": table });
    schema
}

/// A schema as the committed file holds it: pretty JSON with a final newline.
pub fn render(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).expect("a schema always serialises");
    text.push('\n');
    text
}

fn generate<T: JsonSchema>(file: &str) -> Value {
    let generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let mut schema = generator.into_root_schema_for::<T>();
    schema.insert("$id".into(), format!("{BASE_URL}{file}").into());
    let mut value = schema.to_value();
    drop_null(&mut value);
    value
}

/// Removes the `null` alternative schemars gives every `Option`: TOML has no null, so an
/// optional field is one that may be left out, and `null` in the schema would only mislead
/// an editor's completion.
fn drop_null(value: &mut Value) {
    let is_null = |v: &Value| v.get("type").and_then(Value::as_str) == Some("null");
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get_mut("type") {
                types.retain(|t| t != "null");
                if types.len() == 1 {
                    let only = types.remove(0);
                    object.insert("type".into(), only);
                }
            }
            let single = match object.get_mut("anyOf") {
                Some(Value::Array(alternatives)) => {
                    alternatives.retain(|a| !is_null(a));
                    (alternatives.len() == 1).then(|| alternatives.remove(0))
                }
                _ => None,
            };
            if let Some(Value::Object(only)) = single {
                object.remove("anyOf");
                for (key, item) in only {
                    object.entry(key).or_insert(item);
                }
            }
            object.values_mut().for_each(drop_null);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_null),
        _ => {}
    }
}

/// `target-os`: an array of the known system names ([`target_os::KNOWN`]).
pub(crate) fn target_os_list(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "enum": target_os::KNOWN },
    })
}

/// `target-os` where it may be left out (`[package.metadata.plugin]`).
pub(crate) fn optional_target_os_list(generator: &mut SchemaGenerator) -> Schema {
    target_os_list(generator)
}

/// `bundle`: library file names, plain (no folder) and not hidden, as
/// [`crate::metadata::bundle`] accepts them.
pub(crate) fn library_names(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": { "type": "string", "pattern": r"^[^./\\\x00][^/\\\x00]*$" },
    })
}
