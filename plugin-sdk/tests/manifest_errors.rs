//! Compile errors of `export_plugin!` caused by the plugin's `Cargo.toml`: for each case, a
//! real plugin crate with that `[package.metadata.plugin]` is checked by cargo, and the
//! diagnostic (text and span at the `export_plugin!` line) must equal `manifest/<case>.stderr`.
//!
//! trybuild cannot do this part: it compiles every case inside one generated package whose
//! manifest it writes itself, so no case can carry its own `[package.metadata.plugin]`. The
//! cases share trybuild's target directory and flags, so the SDK's dependencies are checked
//! once for both test files. To accept changed diagnostics after reading them:
//! `TRYBUILD=overwrite cargo test -p plugrack-sdk --test manifest_errors`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// (case, the lines of `[package.metadata.plugin]`)
const CASES: &[(&str, &str)] = &[
    ("bad_id", "id = \"my plugin\""),
    ("bad_host_version", "host-version = \"one\""),
    ("unknown_key", "colour = \"red\""),
    ("unknown_os", "target-os = [\"linux\", \"amiga\"]"),
    ("target_os_not_a_list", "target-os = \"linux\""),
];

const LIB_RS: &str = "\
use plugrack_sdk::prelude::*;

pub struct Hello;

impl Plugin for Hello {
    type Instance = NoInstance;
    fn load(_services: &Services) -> Result<Self> {
        Ok(Hello)
    }
}

export_plugin!(Hello);
";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("plugin-sdk sits in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("-vV").output().expect("rustc -vV");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc -vV names the host")
}

/// Writes the plugin crate of one case; returns its folder.
fn write_case(root: &Path, case: &str, metadata: &str) -> PathBuf {
    let dir = root.join(case);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).display().to_string();
    let manifest = format!(
        "[package]\nname = \"my-plugin\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
         [dependencies]\nplugrack-sdk = {{ path = {sdk:?} }}\n\n\
         [package.metadata.plugin]\n{metadata}\n\n[workspace]\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/lib.rs"), LIB_RS).unwrap();
    // The workspace's lockfile, so that `--offline` resolves to the versions CI has.
    std::fs::copy(workspace_root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    dir
}

/// `cargo check` of the case; the rendered error diagnostics, with its folder as `$DIR`.
fn check(dir: &Path, triple: &str) -> String {
    // trybuild's flags (trybuild 1.0 `rustflags.rs`), so that the dependencies it checked are
    // reused rather than checked again.
    let flags =
        r#"["--cfg", "trybuild", "--verbose", "-A", "dead_code", "--diagnostic-width=140"]"#;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target_dir().join("tests/trybuild"))
        .env("CARGO_INCREMENTAL", "0")
        .env_remove("RUSTFLAGS")
        .args(["check", "--offline", "--quiet", "--color=never"])
        .args(["--message-format=json", "--target", triple])
        .arg(format!("--config=build.rustflags={flags}"))
        .arg(format!("--config=target.{triple}.rustflags={flags}"))
        .output()
        .expect("cargo runs");
    assert!(!out.status.success(), "{}: the check passed", dir.display());
    let mut rendered = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if message["reason"] == "compiler-message" && message["message"]["level"] == "error" {
            rendered.push_str(message["message"]["rendered"].as_str().unwrap_or_default());
        }
    }
    assert!(
        !rendered.is_empty(),
        "{}: no error diagnostic; cargo said:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    rendered.replace(&dir.display().to_string(), "$DIR")
}

#[test]
fn manifest_mistakes_are_compile_errors_at_the_export_line() {
    let root = target_dir().join("tests/manifest-errors");
    let triple = host_triple();
    let expected_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifest");
    let overwrite = std::env::var("TRYBUILD").is_ok_and(|v| v == "overwrite");
    let mut mismatches = Vec::new();
    for (case, metadata) in CASES {
        let actual = check(&write_case(&root, case, metadata), &triple);
        let path = expected_dir.join(format!("{case}.stderr"));
        if overwrite {
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if actual != expected {
            mismatches.push(format!(
                "{case}: expected ({}):\n{expected}\nfound:\n{actual}",
                path.display()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
