//! `plugin-build from-git` against real git repositories made here: a work repository with a
//! plugin crate in `plugins/hello` (made by `plugin-build new`), a tag, a branch and three
//! commits, cloned into a bare repository that the tests reach through a `file://` URL.
//!
//! One real build (a tag, capped against the workspace's lock, into the target directory the
//! build tests share) and its rebuild from the cache; every other case stops before building
//! (resolution and checkout through the library, refusals through the binary), so the file
//! costs one plugin build.

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};
use support::{fixture_root, shared_target_dir, workspace_root};

use plugrack_build::git::{self, source::check_url, Revision};
use plugrack_build::package::archive;
use plugrack_host::manifest::{Manifest, FILE_NAME};

#[path = "../../tests/src/manifest_schema.rs"]
mod manifest_schema;

const ID: &str = "org.example.from-git";

fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn plugin_build(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plugin-build"))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env_remove("PLUGIN_BUILD_CACHE_DIR")
        .env_remove("PLUGIN_BUILD_SIGNING_KEY")
        .args(args)
        .output()
        .expect("run plugin-build")
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
    assert!(output.status.success(), "git {args:?}\n{}", show(&output));
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The repositories: `bare.git` (three commits: `first` tagged `v0.1.0`, `second` on `main`,
/// `third` on `next`), `empty.git`, and `library.git` (a crate that is not a plugin).
struct Repos {
    root: PathBuf,
    url: String,
    first: String,
    second: String,
    third: String,
}

fn repos() -> &'static Repos {
    static REPOS: OnceLock<Repos> = OnceLock::new();
    REPOS.get_or_init(|| {
        let root = fixture_root("from-git");
        let _ = std::fs::remove_dir_all(&root);
        let work = root.join("work");
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "--quiet"]);
        std::fs::write(work.join("README.md"), "A repository with a plugin in plugins/hello.\n")
            .unwrap();
        let new = plugin_build(
            &work,
            &["new", "hello-git", "--id", ID, "--path", "plugins/hello"],
        );
        assert!(new.status.success(), "{}", show(&new));
        git(&work, &["add", "."]);
        git(&work, &["commit", "--quiet", "-m", "first"]);
        git(&work, &["tag", "-a", "v0.1.0", "-m", "the first release"]);
        let first = git(&work, &["rev-parse", "HEAD"]);
        std::fs::write(work.join("CHANGES.md"), "second\n").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "--quiet", "-m", "second"]);
        let second = git(&work, &["rev-parse", "HEAD"]);
        git(&work, &["checkout", "--quiet", "-b", "next"]);
        std::fs::write(work.join("NEXT.md"), "third\n").unwrap();
        git(&work, &["add", "."]);
        git(&work, &["commit", "--quiet", "-m", "third"]);
        let third = git(&work, &["rev-parse", "HEAD"]);
        git(&work, &["checkout", "--quiet", "main"]);
        git(&root, &["clone", "--quiet", "--bare", "work", "bare.git"]);
        git(&root, &["init", "--quiet", "--bare", "empty.git"]);

        // A crate, but a library: not a plugin.
        let library = root.join("library");
        std::fs::create_dir_all(library.join("src")).unwrap();
        std::fs::write(
            library.join("Cargo.toml"),
            "[package]\nname = \"just-a-library\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
        )
        .unwrap();
        std::fs::write(library.join("src/lib.rs"), "pub fn f() {}\n").unwrap();
        git(&library, &["init", "--quiet"]);
        git(&library, &["add", "."]);
        git(&library, &["commit", "--quiet", "-m", "a library"]);
        git(&root, &["clone", "--quiet", "--bare", "library", "library.git"]);

        Repos {
            url: format!("file://{}", root.join("bare.git").display()),
            root,
            first,
            second,
            third,
        }
    })
}

#[test]
fn a_tag_is_built_packaged_with_its_source_and_rebuilt_from_the_cache() {
    let repos = repos();
    let out = tempfile::tempdir().unwrap();
    let cache = repos.root.join("cache");
    let lock = workspace_root().join("Cargo.lock");
    let args = [
        "from-git",
        &repos.url,
        "--tag",
        "v0.1.0",
        "--subdir",
        "plugins/hello",
        "--cap-from",
        lock.to_str().unwrap(),
        "--target",
        "amd64",
        "--backend",
        "cargo",
        "--out-dir",
        out.path().to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ];
    let first = plugin_build(out.path(), &args);
    assert!(first.status.success(), "{}", show(&first));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains("Resolving tag `v0.1.0` of file://"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("Fetched {}", repos.first)),
        "{stderr}"
    );
    assert!(stderr.contains("Capped"), "{stderr}");
    let package = out.path().join(format!("{ID}-0.1.0.plg"));
    assert_eq!(
        String::from_utf8_lossy(&first.stdout).trim(),
        format!("{ID}-0.1.0.plg")
    );
    let bytes = std::fs::read(&package).unwrap();
    let entries = archive::read(&bytes).unwrap();
    assert_eq!(entries[0].name, FILE_NAME);
    let text = String::from_utf8_lossy(&entries[0].data).into_owned();
    manifest_schema::assert_valid(&text);
    let manifest = Manifest::parse(&text).unwrap();
    let source = manifest.source.expect("a [source] table");
    assert_eq!(source.git, repos.url);
    assert_eq!(source.commit, repos.first);
    assert_eq!(source.subdir.as_deref(), Some("plugins/hello"));
    assert_eq!(manifest.plugin.id, ID);
    assert!(manifest.targets.contains_key("amd64"));
    // A real plugin that this toolkit's host would load.
    let inspect = plugin_build(out.path(), &["inspect", package.to_str().unwrap()]);
    assert!(inspect.status.success(), "{}", show(&inspect));
    assert!(
        String::from_utf8_lossy(&inspect.stdout).contains(&format!(
            "source:      {} at {} (in `plugins/hello`)",
            repos.url, repos.first
        )),
        "{}",
        show(&inspect)
    );

    // The checkout is the tag's commit, exactly: no CHANGES.md of the later commit.
    let checkout =
        git::checkout::repository_dir(&cache, &check_url(&repos.url).unwrap()).join(&repos.first);
    assert!(checkout.join("plugins/hello/Cargo.toml").is_file());
    assert!(!checkout.join("CHANGES.md").exists());

    // Again: the cached checkout is put back to the commit and reused, and the package comes
    // out byte for byte the same.
    std::fs::remove_file(&package).unwrap();
    let second = plugin_build(out.path(), &args);
    assert!(second.status.success(), "{}", show(&second));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&format!("Reusing {}", repos.first)),
        "{stderr}"
    );
    assert!(
        std::fs::read(&package).unwrap() == bytes,
        "the rebuilt package differs"
    );
}

#[test]
fn each_kind_of_revision_checks_out_its_commit() {
    let repos = repos();
    let cache = tempfile::tempdir().unwrap();
    let url = check_url(&repos.url).unwrap();
    let cases = [
        (Revision::Default, &repos.second),
        (Revision::Tag("v0.1.0".into()), &repos.first),
        (Revision::Branch("next".into()), &repos.third),
        (Revision::Rev("next".into()), &repos.third),
        (Revision::Rev(repos.first.clone()), &repos.first),
        (
            Revision::Rev(repos.third[..10].to_uppercase()),
            &repos.third,
        ),
    ];
    for (revision, commit) in cases {
        let what = format!("{revision}");
        let checkout = git::fetch(&url, &revision, Some(cache.path()))
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(&checkout.commit, commit, "{what}");
        assert_eq!(
            git(&checkout.dir, &["rev-parse", "HEAD"]),
            *commit,
            "{what}"
        );
        assert_eq!(
            checkout.dir.join("NEXT.md").exists(),
            commit == &repos.third,
            "{what}: only the third commit has NEXT.md"
        );
        // Shallow, except where an abbreviated id needed the history.
        let depth = git(&checkout.dir, &["rev-list", "--count", "HEAD"]);
        if !matches!(&revision, Revision::Rev(r) if r.len() < 40 && r != "next") {
            assert_eq!(depth, "1", "{what}: a shallow checkout");
        }
    }
    // The same commit twice is the same folder, reused.
    let again = git::fetch(&url, &Revision::Branch("next".into()), Some(cache.path())).unwrap();
    assert!(again.reused);
}

#[test]
fn refusals_name_the_repository_what_was_expected_and_the_fix() {
    let repos = repos();
    let out = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let bare = &repos.url;
    let missing_repo = format!("file://{}", repos.root.join("no-such.git").display());
    let empty = format!("file://{}", repos.root.join("empty.git").display());
    let library = format!("file://{}", repos.root.join("library.git").display());
    let zeros = "0".repeat(40);
    let cases: Vec<(&str, Vec<&str>, Vec<String>)> = vec![
        (
            "a missing tag",
            vec![bare, "--tag", "v9.9.9", "--subdir", "plugins/hello"],
            vec![
                format!("`{bare}` has no tag `v9.9.9`; its tags: `v0.1.0`"),
                "hint: use one of those with `--tag`".into(),
            ],
        ),
        (
            "a missing branch",
            vec![bare, "--branch", "nope"],
            vec![
                format!("`{bare}` has no branch `nope`; its branches: `main`, `next`"),
                "hint:".into(),
            ],
        ),
        (
            "a missing commit",
            vec![bare, "--rev", &zeros],
            vec![
                format!("`{bare}` has no commit `{zeros}`"),
                "hint: check the id".into(),
            ],
        ),
        (
            "a rev that names nothing",
            vec![bare, "--rev", "release-1"],
            vec![
                format!("`{bare}` has no rev `release-1`; its branches and tags: `main`, `next`, `v0.1.0`"),
            ],
        ),
        (
            "no plugin crate at the root",
            vec![bare, "--tag", "v0.1.0"],
            vec![
                format!("`{bare}` at {} has no plugin crate at its root: expected a Cargo.toml there, found `plugins/hello/Cargo.toml`", &repos.first[..12]),
                "hint: point at the crate's folder: `--subdir plugins/hello`".into(),
            ],
        ),
        (
            "a subdir without a crate",
            vec![bare, "--subdir", "docs"],
            vec!["has no plugin crate in `docs`".into()],
        ),
        (
            "a crate that is not a plugin",
            vec![&library],
            vec![
                format!("cannot build `{library}` at"),
                "just-a-library".into(),
            ],
        ),
        (
            "an empty repository",
            vec![&empty],
            vec![format!("`{empty}` has no commits")],
        ),
        (
            "not a repository",
            vec![&missing_repo],
            vec![
                format!("`{missing_repo}` is not a git repository, or cannot be reached: fatal:"),
                format!("hint: check the URL and your access to it: `git ls-remote {missing_repo}`"),
            ],
        ),
        (
            "a remote helper",
            vec!["ext::sh -c touch% /tmp/plugrack-pwned"],
            vec!["is not a git repository URL: it names a git remote helper".into()],
        ),
        (
            "a subdir climbing out",
            vec![bare, "--subdir", "../outside"],
            vec!["`--subdir` `../outside` is not a folder inside the repository: expected a relative path without `.` or `..`".into()],
        ),
    ];
    for (what, args, expected) in cases {
        let mut full = vec!["from-git"];
        full.extend(args);
        full.extend([
            "--out-dir",
            out.path().to_str().unwrap(),
            "--cache-dir",
            cache.path().to_str().unwrap(),
        ]);
        let output = plugin_build(out.path(), &full);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{what}\n{}", show(&output));
        for text in expected {
            assert!(
                stderr.contains(&text),
                "{what}: expected `{text}` in\n{stderr}"
            );
        }
        assert_eq!(
            std::fs::read_dir(out.path()).unwrap().count(),
            0,
            "{what}: nothing is written"
        );
    }
    assert!(!Path::new("/tmp/plugrack-pwned").exists());
    // Failed fetches leave no half-made checkout behind.
    for entry in walk(cache.path()) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(!name.contains(".tmp-"), "left behind: {}", entry.display());
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() && path.file_name().is_some_and(|n| n != ".git") {
            found.extend(walk(&path));
        }
        found.push(path);
    }
    found
}
