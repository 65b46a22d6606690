//! The released-crate path, before any release. The workspace's published crates are packaged
//! with `cargo package` and served as a registry: a cargo directory source that replaces
//! crates.io and holds the unpacked `.crate` files next to the vendored third-party crates. So
//! a project sees exactly what crates.io would serve (the packaged files, the normalised
//! manifests), resolved by version, never by path. Against it:
//!
//! - `plugin-build new --sdk-version 1.1.0` writes the dependency lines that the real
//!   `cargo add plugrack-sdk@1.1.0` writes (whole files compared);
//! - that project builds with `plugin-build`, and the plugin loads in `plugin-host` and answers;
//! - the real `cargo generate --path plugin-build/template` renders the same project, which
//!   builds and loads the same way.
//!
//! Everything lives under `<target>/plugin-build-tests/published/`: the registry is made once
//! per run, the projects' target directory is kept between runs.

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};
use support::{shared_target_dir, workspace_root};

// One fixed folder, not a folder per process: the projects' builds find the packaged crates
// in a local registry there, and cargo reuses those builds across runs only while the
// registry's path stays the same.
fn base_dir() -> PathBuf {
    shared_target_dir().join("published")
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn succeeds(cmd: &mut Command, what: &str) -> Output {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(output.status.success(), "{what} failed\n{}", show(&output));
    output
}

/// The SDK version the template depends on (what the registry must serve).
fn sdk_version() -> String {
    let text = std::fs::read_to_string(workspace_root().join("plugin-sdk/Cargo.toml")).unwrap();
    let doc: toml::Table = text.parse().unwrap();
    doc["package"]["version"].as_str().unwrap().to_owned()
}

/// The registry: a folder that a `.cargo/config.toml` names as a directory source replacing
/// crates.io, and the folder that config sits in (projects are made inside it).
struct Registry {
    /// Where projects are made: `.cargo/config.toml` here points cargo at the registry.
    projects: PathBuf,
    /// The packaged crates' names and versions.
    crates: Vec<(String, String)>,
}

/// The workspace members that are published (no `publish = false`).
fn published_packages() -> Vec<(String, String)> {
    let output = succeeds(
        cargo().current_dir(workspace_root()).args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
        ]),
        "cargo metadata",
    );
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    doc["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["publish"].is_null())
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_owned(),
                p["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let base = base_dir();
        let sources = base.join("registry");
        let projects = base.join("projects");
        let _ = std::fs::remove_dir_all(&sources);
        let _ = std::fs::remove_dir_all(&projects);
        std::fs::create_dir_all(&sources).unwrap();

        // 1. `cargo package` every published crate (verification is the CI step's job; here
        //    the packaged files are what is tested).
        let crates = published_packages();
        assert!(
            crates.iter().any(|(name, _)| name == "plugrack-sdk"),
            "{crates:?}"
        );
        let package_dir = base.join("package-target");
        let mut cmd = cargo();
        cmd.current_dir(workspace_root())
            .args(["package", "--no-verify", "--allow-dirty", "--target-dir"])
            .arg(&package_dir);
        for (name, _) in &crates {
            cmd.args(["-p", name]);
        }
        succeeds(&mut cmd, "cargo package");

        // 2. Unpack them where a project, told they are on crates.io, finds them.
        let unpacked = base.join("unpacked");
        let _ = std::fs::remove_dir_all(&unpacked);
        std::fs::create_dir_all(&unpacked).unwrap();
        for (name, version) in &crates {
            let file = package_dir.join(format!("package/{name}-{version}.crate"));
            let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes.as_slice()));
            archive.unpack(&unpacked).unwrap();
            let dir = unpacked.join(format!("{name}-{version}"));
            assert!(
                dir.join("Cargo.toml.orig").is_file(),
                "{} is a packaged crate",
                dir.display()
            );
            let mut files = serde_json::Map::new();
            list_files(&dir, &dir, &mut files);
            let checksum = serde_json::json!({
                "files": files,
                "package": plugrack_host::manifest::sha256_hex(&bytes),
            });
            std::fs::write(dir.join(".cargo-checksum.json"), checksum.to_string()).unwrap();
        }

        // 3. Vendor the third-party crates a plugin needs, at the workspace's locked versions
        //    (already in cargo's cache after the workspace build): a seed project with the
        //    template's dependencies, the packaged crates patched in from `unpacked/`.
        let seed = base.join("seed");
        let _ = std::fs::remove_dir_all(&seed);
        succeeds(
            Command::new(env!("CARGO_BIN_EXE_plugin-build")).args([
                "new".as_ref(),
                "seed".as_ref(),
                "--sdk-version".as_ref(),
                sdk_version().as_str().as_ref(),
                "--path".as_ref(),
                seed.as_os_str(),
            ]),
            "plugin-build new (seed)",
        );
        let mut manifest = std::fs::read_to_string(seed.join("Cargo.toml")).unwrap();
        manifest.push_str("\n[patch.crates-io]\n");
        for (name, version) in &crates {
            let dir = unpacked.join(format!("{name}-{version}"));
            manifest.push_str(&format!(
                "{name} = {{ path = {:?} }}\n",
                dir.to_str().unwrap()
            ));
        }
        std::fs::write(seed.join("Cargo.toml"), manifest).unwrap();
        std::fs::copy(workspace_root().join("Cargo.lock"), seed.join("Cargo.lock")).unwrap();
        succeeds(
            cargo()
                .current_dir(&seed)
                .args(["vendor", "--versioned-dirs"])
                .arg(&sources),
            "cargo vendor",
        );
        for (name, version) in &crates {
            let from = unpacked.join(format!("{name}-{version}"));
            std::fs::rename(&from, sources.join(format!("{name}-{version}"))).unwrap();
        }

        std::fs::create_dir_all(projects.join(".cargo")).unwrap();
        std::fs::write(
            projects.join(".cargo/config.toml"),
            format!(
                "# The registry of the packaged plugrack crates, in place of crates.io.\n\
                 [source.crates-io]\nreplace-with = \"packaged\"\n\n\
                 [source.packaged]\ndirectory = {:?}\n\n\
                 [net]\noffline = true\n",
                sources.to_str().unwrap()
            ),
        )
        .unwrap();
        Registry { projects, crates }
    })
}

fn list_files(dir: &Path, base: &Path, out: &mut serde_json::Map<String, serde_json::Value>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            list_files(&path, base, out);
        } else {
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let sum = plugrack_host::manifest::sha256_hex(&std::fs::read(&path).unwrap());
            out.insert(rel, sum.into());
        }
    }
}

fn plugrack_build(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_plugin-build"));
    // cargo finds `.cargo/config.toml` from the folder it runs in: the project's.
    cmd.current_dir(dir)
        .env("CARGO_TARGET_DIR", base_dir().join("target"))
        .env_remove("PLUGINS_DIR")
        .args(args);
    cmd
}

/// The `plugin-host` tool, built into the shared target directory (the same command as the
/// other plugin-build tests use, so they share it).
fn host_binary() -> &'static Path {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        succeeds(
            cargo()
                .current_dir(workspace_root())
                .env("CARGO_TARGET_DIR", shared_target_dir())
                .args(["build", "-p", "plugrack-host", "--bin", "plugin-host"]),
            "building plugin-host",
        );
        shared_target_dir().join("debug/plugin-host")
    })
}

/// Builds the project in `dir` with `plugin-build` for this machine, deploys the shared
/// object into a fresh plugins folder, and checks that the host loads it and it answers.
/// The dev profile: what is tested here is where the crates come from; the template's
/// release profile is built by the workflow test.
fn build_and_call(dir: &Path, name: &str, id: &str) {
    let out = succeeds(
        &mut plugrack_build(dir, &["--target", "amd64", "--backend", "cargo", "--debug"]),
        "plugin-build (build)",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Finished amd64"), "{stderr}");
    let so = dir.join(format!("build/{name}-amd64.so"));
    assert!(so.is_file(), "no {}", so.display());

    // The lock says where every crate came from: plugrack's from the registry (a checksum,
    // no path), as a released plugin's would.
    let lock: toml::Table = std::fs::read_to_string(dir.join("Cargo.lock"))
        .unwrap()
        .parse()
        .unwrap();
    let sdk = lock["package"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"].as_str() == Some("plugrack-sdk"))
        .expect("plugrack-sdk in Cargo.lock");
    assert_eq!(
        sdk["source"].as_str(),
        Some("registry+https://github.com/rust-lang/crates.io-index")
    );
    assert!(sdk.get("checksum").is_some(), "{sdk}");

    let plugins = tempfile::tempdir().unwrap();
    std::fs::copy(&so, plugins.path().join(format!("{name}.so"))).unwrap();
    let dir_arg = plugins.path().to_str().unwrap();
    let call = succeeds(
        Command::new(host_binary()).args([
            "call",
            "--plugins-dir",
            dir_arg,
            id,
            "hello",
            "name=Ada",
        ]),
        "plugin-host call",
    );
    assert_eq!(
        String::from_utf8_lossy(&call.stdout).trim(),
        "message = Hello, Ada!"
    );
}

fn new_project(name: &str, extra: &[&str]) -> PathBuf {
    let reg = registry();
    let dir = reg.projects.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    let mut args = vec!["new", name];
    args.extend_from_slice(extra);
    succeeds(
        &mut plugrack_build(&reg.projects, &args),
        "plugin-build new",
    );
    dir
}

/// Removes the `plugrack-sdk` line from a project's manifest, runs the real `cargo add` with
/// `spec`, and returns the manifest as cargo wrote it.
fn cargo_add(dir: &Path, spec: &str) -> String {
    let path = dir.join("Cargo.toml");
    let original = std::fs::read_to_string(&path).unwrap();
    let mut doc: toml_edit::DocumentMut = original.parse().unwrap();
    doc["dependencies"]
        .as_table_like_mut()
        .unwrap()
        .remove("plugrack-sdk")
        .expect("the project depends on plugrack-sdk");
    std::fs::write(&path, doc.to_string()).unwrap();
    succeeds(
        cargo().current_dir(dir).args(["add", spec]),
        &format!("cargo add {spec}"),
    );
    std::fs::read_to_string(&path).unwrap()
}

#[test]
fn new_with_a_version_writes_what_cargo_add_writes() {
    let version = sdk_version();
    let reg = registry();
    assert!(reg
        .crates
        .iter()
        .any(|(n, v)| n == "plugrack-sdk" && *v == version));

    for (name, requirement) in [
        ("add-exact", version.clone()),
        ("add-major", version.split('.').next().unwrap().to_owned()),
    ] {
        let dir = new_project(name, &["--sdk-version", &requirement]);
        let written = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            written
                .lines()
                .any(|l| l == format!("plugrack-sdk = \"{requirement}\"")),
            "{written}"
        );
        let added = cargo_add(&dir, &format!("plugrack-sdk@{requirement}"));
        assert_eq!(
            added, written,
            "`cargo add plugrack-sdk@{requirement}` wrote another manifest than `plugin-build new`"
        );
    }

    // Without a version, `cargo add` takes the newest release: the template's own.
    let dir = new_project("add-latest", &["--sdk-version", &version]);
    let written = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert_eq!(cargo_add(&dir, "plugrack-sdk"), written);
}

#[test]
fn a_project_on_the_released_crates_builds_and_loads() {
    let dir = new_project(
        "released-hello",
        &[
            "--sdk-version",
            &sdk_version(),
            "--id",
            "org.example.released",
        ],
    );
    build_and_call(&dir, "released-hello", "org.example.released");
}

/// The template folder is a real cargo-generate template: the real `cargo generate` renders it
/// into the project `plugin-build new` makes for a release (file for file, but for the line
/// `new` puts on top of `Cargo.toml`), and the result builds and loads.
#[test]
fn cargo_generate_renders_the_template_into_a_plugin_that_loads() {
    let reg = registry();
    let name = "generated-hello";
    let dest = reg.projects.join(name);
    let _ = std::fs::remove_dir_all(&dest);
    let template = workspace_root().join("plugin-build/template");
    let output = cargo()
        .current_dir(&reg.projects)
        .arg("generate")
        .arg("--path")
        .arg(&template)
        .args([
            "--name",
            name,
            "--vcs",
            "none",
            "--silent",
            "--no-workspace",
        ])
        .arg("--destination")
        .arg(&reg.projects)
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "cargo generate failed (scripts/setup.sh installs cargo-generate)\n{}",
        show(&output)
    );

    let made = new_project("made-hello", &["--sdk-version", &sdk_version()]);
    let mut generated = Vec::new();
    list_relative(&dest, &dest, &mut generated);
    let mut ours = Vec::new();
    list_relative(&made, &made, &mut ours);
    assert_eq!(
        generated, ours,
        "cargo-generate and `new` make the same files"
    );
    for file in &generated {
        let theirs = std::fs::read_to_string(dest.join(file))
            .unwrap()
            .replace(name, "made-hello");
        let mine = std::fs::read_to_string(made.join(file)).unwrap();
        let mine = if file == "Cargo.toml" {
            let body = mine.find("[package]").unwrap();
            assert!(mine.starts_with("# Made by `plugin-build new`"), "{mine}");
            mine[body..].to_owned()
        } else {
            mine
        };
        assert_eq!(theirs, mine, "{file} differs");
    }

    build_and_call(&dest, name, name);
}

fn list_relative(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path
            .strip_prefix(base)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if ["target", "build", "Cargo.lock"].contains(&rel.as_str()) {
            continue;
        }
        if path.is_dir() {
            list_relative(&path, base, out);
        } else {
            out.push(rel);
        }
    }
    out.sort();
}
