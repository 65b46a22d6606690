//! Installing from a git source (`POST /api/plugins/install` with `git`): a real repository
//! made here with `plugin-build new`, reached through a `file://` URL of a bare clone; the
//! server runs the real `plugin-build from-git` (built once per run into the target folder
//! plugin-build's own tests share, where the plugin's dependencies are compiled already), and
//! installs the package through the same verification as an upload; a server that trusts only
//! signed plugins signs its own builds with `--git-sign-key`. Two real plugin builds (the signed
//! one, from another checkout, recompiles the plugin crate alone).

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use reqwest::Method;

use crate::support::{
    assert_start_refused, json, manifest_schema, refused, snapshot, SigningKey, TestServer,
};

const ID: &str = "org.example.served-from-git";

/// How long a request that builds may take: a real cargo build, which on a cold target folder
/// compiles the plugin's dependencies (the client's 60 s are for requests that do not build).
const BUILD: std::time::Duration = std::time::Duration::from_secs(900);

// plugin-build's tests' folders: the same target folder, and per-process fixture folders.
#[path = "../../../plugin-build/tests/support/mod.rs"]
mod build_support;
use build_support::{fixture_root, shared_target_dir, workspace_root};

/// The `plugin-build` program, built once per run.
fn plugin_build() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(workspace_root())
            .args([
                "build",
                "-p",
                "plugrack-build",
                "--bin",
                "plugin-build",
                "--target-dir",
            ])
            .arg(shared_target_dir())
            .output()
            .expect("run cargo");
        assert!(
            output.status.success(),
            "building plugin-build failed\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        shared_target_dir().join("debug/plugin-build")
    })
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.org"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A bare repository holding a plugin made by `plugin-build new`, one commit tagged `v0.1.0`:
/// its `file://` URL and the commit.
fn repository() -> &'static (String, String) {
    static REPO: OnceLock<(String, String)> = OnceLock::new();
    REPO.get_or_init(|| {
        // One folder per test process: processes running at once (`cargo nextest` runs each
        // test as one) must not remove each other's repository; ended processes' go.
        let root = fixture_root("server-from-git");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let new = Command::new(plugin_build())
            .current_dir(&root)
            .args(["new", "served-from-git", "--id", ID, "--path", "work"])
            .output()
            .expect("run plugin-build new");
        assert!(
            new.status.success(),
            "{}",
            String::from_utf8_lossy(&new.stderr)
        );
        let work = root.join("work");
        git(&work, &["init", "--quiet"]);
        git(&work, &["add", "."]);
        git(&work, &["commit", "--quiet", "-m", "a plugin"]);
        git(&work, &["tag", "v0.1.0"]);
        let commit = git(&work, &["rev-parse", "HEAD"]);
        git(&root, &["clone", "--quiet", "--bare", "work", "plugin.git"]);
        (
            format!("file://{}", root.join("plugin.git").display()),
            commit,
        )
    })
}

#[test]
fn an_administrator_installs_a_plugin_built_from_a_git_tag() {
    let (url, commit) = repository();
    let lock = workspace_root().join("Cargo.lock");
    let target = shared_target_dir();
    let server = TestServer::start_with_env(
        &[],
        &[
            "--git-builds",
            "--plugin-build",
            plugin_build().to_str().unwrap(),
            "--git-cap-from",
            lock.to_str().unwrap(),
        ],
        &[("CARGO_TARGET_DIR", target.to_str().unwrap())],
    );
    let install = |body: serde_json::Value| {
        server
            .admin(Method::POST, "/api/plugins/install")
            .json(&body)
            .timeout(BUILD)
            .send()
            .unwrap()
    };
    let before = snapshot(&server.plugins);

    // Refusals first: nothing is written for any of them.
    let token = server.user("ada");
    let forbidden = server
        .with_token(&token, Method::POST, "/api/plugins/install")
        .json(&serde_json::json!({"git": url, "tag": "v0.1.0"}))
        .send()
        .unwrap();
    assert_eq!(forbidden.status(), 403, "only administrators install");
    let missing = install(serde_json::json!({"git": url, "tag": "v9.9.9"}));
    assert_eq!(missing.status(), 400);
    let body = json(missing);
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("`{url}` has no tag `v9.9.9`; its tags: `v0.1.0`")),
        "{body}"
    );
    assert!(error.ends_with("nothing was installed"), "{body}");
    assert!(body["hint"].as_str().unwrap().contains("`--tag`"), "{body}");
    refused(
        install(serde_json::json!({"git": url, "tag": "v0.1.0", "branch": "main"})),
        400,
        "give one of `tag`, `branch` and `rev`, not tag and branch",
    );
    refused(
        install(serde_json::json!({"git": url, "subdir": "../elsewhere"})),
        400,
        "`--subdir` `../elsewhere` is not a folder inside the repository",
    );
    assert!(
        snapshot(&server.plugins) == before,
        "refusals write nothing"
    );

    let installed = install(serde_json::json!({"git": url, "tag": "v0.1.0"}));
    let status = installed.status();
    let body = json(installed);
    assert_eq!(status, 201, "{body}\n{}", server.stderr());
    assert_eq!(body["id"], ID);
    assert_eq!(body["status"], "active", "{body}");
    let text = std::fs::read_to_string(server.plugins.join(ID).join("plugin.toml")).unwrap();
    manifest_schema::assert_valid(&text);
    let manifest = plugrack_host::manifest::Manifest::parse(&text).unwrap();
    let source = manifest.source.expect("the package records its source");
    assert_eq!(&source.git, url);
    assert_eq!(&source.commit, commit);
    assert_eq!(source.subdir, None);
    // The server's own checkout cache holds the commit.
    assert!(server.data.join("git-cache/git").is_dir());
}

#[test]
fn a_server_that_trusts_only_signed_plugins_signs_its_own_builds_from_git() {
    let (url, _) = repository();
    let keys = tempfile::tempdir().unwrap();
    let key = SigningKey::new(keys.path(), "server");
    let secret = keys.path().join("server.key");
    key.write_secret(&secret);
    let lock = workspace_root().join("Cargo.lock");
    let target = shared_target_dir();
    let git_builds = [
        "--git-builds",
        "--plugin-build",
        plugin_build().to_str().unwrap(),
        "--git-cap-from",
        lock.to_str().unwrap(),
        "--trusted-key",
        key.public_file.to_str().unwrap(),
    ];
    let env = [("CARGO_TARGET_DIR", target.to_str().unwrap())];
    let body = serde_json::json!({"git": url, "tag": "v0.1.0"});

    // Without a key to sign with, refused before anything is built.
    let unsigned = TestServer::start_with_env(&[], &git_builds, &env);
    let before = snapshot(&unsigned.plugins);
    let refusal = unsigned
        .admin(Method::POST, "/api/plugins/install")
        .json(&body)
        .timeout(BUILD)
        .send()
        .unwrap();
    assert_eq!(refusal.status(), 409);
    let refusal = json(refusal);
    assert!(
        refusal["error"]
            .as_str()
            .unwrap()
            .contains("its builds from git are unsigned; nothing was built or installed"),
        "{refusal}"
    );
    assert!(
        refusal["hint"].as_str().unwrap().contains("--git-sign-key"),
        "{refusal}"
    );
    assert!(snapshot(&unsigned.plugins) == before, "nothing was written");
    assert!(
        !unsigned.data.join("git-cache/git").exists(),
        "nothing was fetched"
    );
    assert!(
        unsigned
            .stderr()
            .contains("installs from git will be refused"),
        "the start says so: {}",
        unsigned.stderr()
    );
    drop(unsigned);

    // With it, the server's own build is signed by a trusted key, installed and loaded.
    let signing = [
        &git_builds[..],
        &["--git-sign-key", secret.to_str().unwrap()],
    ]
    .concat();
    let server = TestServer::start_with_env(&[], &signing, &env);
    let installed = server
        .admin(Method::POST, "/api/plugins/install")
        .json(&body)
        .timeout(BUILD)
        .send()
        .unwrap();
    let status = installed.status();
    let installed = json(installed);
    assert_eq!(status, 201, "{installed}\n{}", server.stderr());
    assert_eq!(installed["status"], "active", "{installed}");
    let folder = server.plugins.join(ID);
    let signature =
        std::fs::read_to_string(folder.join("plugin.toml.minisig")).expect("the build is signed");
    let manifest = std::fs::read(folder.join("plugin.toml")).unwrap();
    let trusted = plugrack_host::trust::TrustedKey::from_file(&key.public_file).unwrap();
    plugrack_host::trust::TrustPolicy::new(vec![trusted])
        .check(&manifest, Some(&signature))
        .expect("signed by the server's key");
}

#[test]
fn a_git_sign_key_that_cannot_serve_stops_the_start_with_exit_2() {
    let root = tempfile::tempdir().unwrap();
    let trusted = SigningKey::new(root.path(), "trusted");
    let other = SigningKey::new(root.path(), "other");
    let other_secret = root.path().join("other.key");
    other.write_secret(&other_secret);
    let not_a_key = root.path().join("notes.key");
    std::fs::write(&not_a_key, "just some text\n").unwrap();
    for (key, expected) in [
        (
            &not_a_key,
            format!(
                "`{}` (--git-sign-key) is not a usable minisign secret key",
                not_a_key.display()
            ),
        ),
        (
            &other_secret,
            format!(
                "the key `{}` (--git-sign-key, key id",
                other_secret.display()
            ),
        ),
    ] {
        let stderr = assert_start_refused(
            root.path(),
            &[
                "--git-builds".as_ref(),
                "--trusted-key".as_ref(),
                trusted.public_file.as_os_str(),
                "--git-sign-key".as_ref(),
                key.as_os_str(),
            ],
            &expected,
        );
        assert!(stderr.contains("hint:"), "{stderr}");
    }
}

#[test]
fn installs_from_git_need_git_builds_and_one_source() {
    let server = TestServer::start(&[]);
    let install = |body: serde_json::Value| {
        server
            .admin(Method::POST, "/api/plugins/install")
            .json(&body)
            .timeout(BUILD)
            .send()
            .unwrap()
    };
    let off = install(serde_json::json!({"git": "https://example.org/a.git"}));
    assert_eq!(off.status(), 409);
    let body = json(off);
    assert_eq!(
        body["error"],
        "this server does not install plugins from git"
    );
    assert!(
        body["hint"].as_str().unwrap().contains("--git-builds"),
        "{body}"
    );
    refused(
        install(serde_json::json!({})),
        400,
        "the request names no package",
    );
    refused(
        install(
            serde_json::json!({"url": "https://example.org/a.plg", "git": "https://example.org/a.git"}),
        ),
        400,
        "names both `url` and `git`",
    );
    refused(
        install(serde_json::json!({"url": "https://example.org/a.plg"})),
        400,
        "`sha256` is missing",
    );
    refused(
        install(
            serde_json::json!({"url": "https://example.org/a.plg", "sha256": "0", "tag": "v1"}),
        ),
        400,
        "go with `git`, not with `url`",
    );
}
