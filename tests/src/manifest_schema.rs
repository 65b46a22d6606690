//! Checks `plugin.toml` text that a test produced against the committed JSON Schema
//! (`docs/schema/plugin.toml.json`), so every manifest the tests make is also a test of the
//! schema: a field the types gained without regenerating the schema fails here too.
//!
//! Shared by several crates' tests without a dependency on this crate
//! (`#[path = ".../tests/src/manifest_schema.rs"] mod manifest_schema;`); it needs `jsonschema`,
//! `serde_json` and `toml` among the including crate's dev-dependencies.

use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

/// The committed schema file.
pub fn schema_path() -> PathBuf {
    // Every crate that includes this file sits one folder below the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema/plugin.toml.json")
}

fn validator() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let path = schema_path();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read the schema `{}`: {e}", path.display()));
        let schema: serde_json::Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("`{}` is not JSON: {e}", path.display()));
        jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("`{}` is not a usable schema: {e}", path.display()))
    })
}

/// Panics, naming every field, when `text` does not follow the schema.
pub fn assert_valid(text: &str) {
    let value: serde_json::Value =
        toml::from_str(text).unwrap_or_else(|e| panic!("plugin.toml is not TOML: {e}\n{text}"));
    let errors: Vec<String> = validator()
        .iter_errors(&value)
        .map(|e| format!("  {}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "a produced plugin.toml does not follow docs/schema/plugin.toml.json:\n{}\n  fix: if the \
         manifest types changed, regenerate the schema: `PLUGRACK_UPDATE_SCHEMA=1 cargo test -p \
         plugrack-descriptor --test schema`\n--- plugin.toml\n{text}",
        errors.join("\n")
    );
}
