//! The committed JSON Schemas (`docs/schema/*.json`) are what the types generate, and they
//! accept what the parsers accept and refuse what the parsers refuse.
//!
//! When a type changes, this test fails and says how to write the files again:
//! `PLUGRACK_UPDATE_SCHEMA=1 cargo test -p plugrack-descriptor --test schema`.

use std::path::PathBuf;

use plugrack_descriptor::{
    manifest::{Manifest, ManifestLib, ManifestSource, ManifestTarget, FORMAT},
    schema, Descriptor,
};

const UPDATE: &str = "PLUGRACK_UPDATE_SCHEMA";

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schema")
}

#[test]
fn the_committed_schemas_are_what_the_types_generate() {
    let update = std::env::var_os(UPDATE).is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (name, generate) in schema::FILES {
        let path = schema_dir().join(name);
        let generated = schema::render(&generate());
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == generated {
            continue;
        }
        if update {
            std::fs::create_dir_all(schema_dir()).unwrap();
            std::fs::write(&path, &generated).unwrap();
            eprintln!("wrote {}", path.display());
        } else {
            stale.push(format!("docs/schema/{name}"));
        }
    }
    assert!(
        stale.is_empty(),
        "out of date: {} no longer match the Rust types they are generated from \
         (plugrack-descriptor's manifest.rs, descriptor.rs, metadata.rs)\n  fix: regenerate \
         and commit them: `{UPDATE}=1 cargo test -p plugrack-descriptor --test schema`",
        stale.join(" and ")
    );
}

fn validator(name: &str) -> jsonschema::Validator {
    let path = schema_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        jsonschema::meta::is_valid(&schema),
        "{name} is not a valid JSON Schema"
    );
    jsonschema::validator_for(&schema).unwrap()
}

fn errors(validator: &jsonschema::Validator, toml_text: &str) -> Vec<String> {
    let value: serde_json::Value = toml::from_str(toml_text).unwrap();
    validator
        .iter_errors(&value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn sample() -> Manifest {
    Manifest {
        format: FORMAT,
        plugin: Descriptor {
            id: "org.example.hello".into(),
            name: "Hello".into(),
            version: "0.1.0".into(),
            description: "Greets".into(),
            authors: vec!["A <a@example.org>".into()],
            homepage: String::new(),
            license: "MIT".into(),
            host_version: ">=1.0.0, <2.0.0".into(),
            target_os: vec!["linux".into()],
            api_version: "1.1.0".into(),
        },
        source: Some(ManifestSource {
            git: "https://example.org/hello.git".into(),
            commit: "4b825dc642cb6eb9a060e54bf8d69288fbee4904".into(),
            subdir: Some("plugins/hello".into()),
        }),
        targets: [(
            "amd64".to_owned(),
            ManifestTarget {
                file: "hello-amd64.so".into(),
                size: 3,
                sha256: plugrack_descriptor::manifest::sha256_hex(b"abc"),
                libs: vec![ManifestLib {
                    file: "libgreet.so.1".into(),
                    size: 4,
                    sha256: plugrack_descriptor::manifest::sha256_hex(b"abcd"),
                }],
            },
        )]
        .into(),
    }
}

/// What a host does with manifest text: parse it, check the descriptor's fields, run the
/// plugin only on a system its `target-os` names (an unknown name can never match), and
/// compare each file's SHA-256 (one that is not 64 hex digits can never match).
fn plugrack_accepts(text: &str) -> bool {
    Manifest::parse(text).is_ok_and(|m| {
        m.plugin.check().is_ok()
            && m.targets
                .values()
                .all(|t| t.sha256.len() == 64 && t.sha256.bytes().all(|b| b.is_ascii_hexdigit()))
            && m.plugin
                .target_os
                .iter()
                .all(|os| plugrack_descriptor::target_os::KNOWN.contains(&os.as_str()))
    })
}

#[test]
fn the_manifest_schema_accepts_what_the_parser_accepts_and_refuses_its_refusals() {
    let validator = validator("plugin.toml.json");
    let good = sample().to_toml();
    assert_eq!(errors(&validator, &good), Vec::<String>::new());
    assert!(plugrack_accepts(&good));
    let mut local = sample();
    local.source = None;
    local.plugin.target_os.clear();
    assert_eq!(
        errors(&validator, &local.to_toml()),
        Vec::<String>::new(),
        "no [source], any system"
    );

    // Each of these the parser refuses; the schema must too, naming the place.
    let line = |key: &str| {
        good.lines()
            .find(|l| l.starts_with(key))
            .unwrap()
            .to_owned()
    };
    let cases = [
        (
            "unknown key",
            good.replace("[plugin]\n", "[plugin]\ncolour = \"red\"\n"),
            "/plugin",
        ),
        (
            "newer format",
            good.replace("format = 1", "format = 2"),
            "/format",
        ),
        (
            "bad id",
            good.replace("id = \"org.example.hello\"", "id = \"no spaces\""),
            "/plugin/id",
        ),
        (
            "unknown os",
            good.replace("target-os = [\"linux\"]", "target-os = [\"plan9\"]"),
            "/plugin/target-os/0",
        ),
        (
            "short commit",
            good.replace(&line("commit"), "commit = \"4b825dc\""),
            "/source/commit",
        ),
        (
            "subdir climbs out",
            good.replace(&line("subdir"), "subdir = \"plugins/../..\""),
            "/source/subdir",
        ),
        (
            "absolute subdir",
            good.replace(&line("subdir"), "subdir = \"/etc\""),
            "/source/subdir",
        ),
        (
            "file with a slash",
            good.replace("file = \"hello-amd64.so\"", "file = \"../evil.so\""),
            "/targets/amd64/file",
        ),
        (
            "sha256 not hex",
            good.replace(&line("sha256"), "sha256 = \"xyz\""),
            "/targets/amd64/sha256",
        ),
        (
            "missing size",
            good.replace(&line("size"), ""),
            "/targets/amd64",
        ),
    ];
    for (what, text, place) in cases {
        let found = errors(&validator, &text);
        assert!(
            found.iter().any(|e| e.starts_with(&format!("{place}:"))),
            "{what}: the schema should refuse it at {place}; it said {found:?}\n{text}"
        );
        assert!(
            !plugrack_accepts(&text),
            "{what}: plugrack accepts it, so the schema should not refuse it"
        );
    }
}

#[test]
fn the_metadata_schema_describes_package_metadata_plugin() {
    let validator = validator("package-metadata-plugin.json");
    let good = "id = \"com.example.my-plugin\"\nname = \"My plugin\"\nhost-version = \">=1.0, <2\"\ntarget-os = [\"linux\"]\nbundle = [\"libgreet.so.1\"]\n";
    assert_eq!(errors(&validator, good), Vec::<String>::new());
    assert_eq!(
        errors(&validator, ""),
        Vec::<String>::new(),
        "every key is optional"
    );
    for (text, place) in [
        ("colour = \"red\"\n", ""),
        ("id = \"a b\"\n", "/id"),
        ("target-os = \"linux\"\n", "/target-os"),
        ("target-os = [\"plan9\"]\n", "/target-os/0"),
        ("bundle = [\"lib/libgreet.so.1\"]\n", "/bundle/0"),
        ("bundle = [\".hidden.so\"]\n", "/bundle/0"),
        ("bundle = \"libgreet.so.1\"\n", "/bundle"),
    ] {
        let found = errors(&validator, text);
        assert!(
            found.iter().any(|e| e.starts_with(&format!("{place}:"))),
            "`{}` should be refused at `{place}`: {found:?}",
            text.trim()
        );
    }
}

/// taplo (the engine of the Even Better TOML editor extension) reads the committed schema
/// through a `#:schema` line, as `docs/schema.md` tells authors to write it, and reports a
/// mistake at its place.
#[test]
fn taplo_checks_a_manifest_against_the_committed_schema() {
    let dir = tempfile_dir();
    let url = format!(
        "file://{}",
        schema_dir()
            .join("plugin.toml.json")
            .canonicalize()
            .unwrap()
            .display()
    );
    let good = format!("#:schema {url}\n{}", sample().to_toml());
    let bad = good.replace("target-os = [\"linux\"]", "target-os = [\"plan9\"]");
    for (name, text, ok) in [("good.toml", &good, true), ("bad.toml", &bad, false)] {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let output = std::process::Command::new("taplo")
            .args(["check", "--no-auto-config"])
            .arg(&path)
            .env("RUST_LOG", "error")
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run `taplo` ({e})\n  fix: run `scripts/setup.sh` (it installs taplo: `python3 -m pip install taplo`)")
            });
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.success(), ok, "taplo check {name}:\n{stderr}");
        if !ok {
            assert!(stderr.contains("\"plan9\" is not one of"), "{stderr}");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plugrack-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The id pattern in the schema is the rule of `plugrack_descriptor::id::is_valid`.
#[test]
fn the_schema_id_pattern_is_the_id_rule() {
    let validator = validator("package-metadata-plugin.json");
    for id in [
        "a",
        "com.example.x",
        "A_b-9",
        "x..",
        "-x",
        "",
        "a b",
        "ü",
        "x/y",
        ".hidden",
        "..",
        "a\\b",
    ] {
        let text = format!("id = {}\n", toml::Value::String(id.into()));
        assert_eq!(
            errors(&validator, &text).is_empty(),
            plugrack_descriptor::id::is_valid(id),
            "id `{id}`"
        );
    }
}

/// The whole-`Cargo.toml` schema checks `[package.metadata.plugin]` and nothing else: the
/// workspace's own plugin crates pass, a broken table is refused at its place.
#[test]
fn the_cargo_toml_schema_checks_the_plugin_table_of_real_manifests() {
    let validator = validator("cargo-toml.json");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    for crate_dir in ["plugin-template", "examples/showcase", "examples/panicky"] {
        let text = std::fs::read_to_string(root.join(crate_dir).join("Cargo.toml")).unwrap();
        assert!(text.contains("[package.metadata.plugin]"), "{crate_dir}");
        assert_eq!(
            errors(&validator, &text),
            Vec::<String>::new(),
            "{crate_dir}"
        );
        let broken = text.replace(
            "[package.metadata.plugin]\n",
            "[package.metadata.plugin]\ncolour = \"red\"\n",
        );
        let found = errors(&validator, &broken);
        assert!(
            found
                .iter()
                .any(|e| e.starts_with("/package/metadata/plugin:")),
            "{crate_dir}: {found:?}"
        );
    }
}
