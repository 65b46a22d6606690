//! The author's workflow, end to end, with the real binaries, real cargo and real files:
//! `plugin-build new` -> `cap` -> build -> `package` -> `deploy` -> `plugin-host list` shows
//! the plugin active -> `plugin-host call` gives the template's answer. Then every refusal
//! of `deploy` (destination untouched), deploying twice, packaging twice, `new` into a
//! non-empty folder, and `inspect`.
//!
//! The plugin is made and built once per run (see [`fixture`]), in the target directory the
//! build tests share (`<target>/plugin-build-tests`), so its dependencies are compiled once.

mod support;

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};
use support::{fixture_root, shared_target_dir, workspace_root};

use plugrack_build::package::archive;
use plugrack_host::manifest::{Manifest, FILE_NAME};

#[path = "../../tests/src/manifest_schema.rs"]
mod manifest_schema;

const ID: &str = "org.example.hello";
const NAME: &str = "hello-plugin";

fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn plugrack_build(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plugin-build"))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env_remove("PLUGINS_DIR")
        .args(args)
        .output()
        .expect("run plugin-build")
}

fn succeeds(output: Output, what: &str) -> Output {
    assert!(output.status.success(), "{what} failed\n{}", show(&output));
    output
}

/// The `plugin-host` tool, built once per run into the shared target directory (the same
/// command as the build tests use, so the two test binaries share it).
fn host_binary() -> &'static Path {
    static HOST: OnceLock<PathBuf> = OnceLock::new();
    HOST.get_or_init(|| {
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(workspace_root())
            .env("CARGO_TARGET_DIR", shared_target_dir())
            .args(["build", "-p", "plugrack-host", "--bin", "plugin-host"])
            .output()
            .expect("run cargo");
        succeeds(output, "building plugin-host");
        shared_target_dir().join("debug/plugin-host")
    })
}

fn plugrack_host(args: &[&str]) -> Output {
    Command::new(host_binary())
        .args(args)
        .output()
        .expect("run plugin-host")
}

/// The plugin made by `plugin-build new`, capped, built for this machine and packaged.
struct Fixture {
    project: PathBuf,
    package: PathBuf,
    package_bytes: Vec<u8>,
    so: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = fixture_root("workflow");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let project = root.join(NAME);

        let new = succeeds(
            plugrack_build(&root, &["new", NAME, "--id", ID]),
            "plugin-build new",
        );
        let stderr = String::from_utf8_lossy(&new.stderr);
        assert!(stderr.contains("Created"), "{}", show(&new));
        assert!(project.join("src/lib.rs").is_file());

        let lock = workspace_root().join("Cargo.lock");
        succeeds(
            plugrack_build(&project, &["cap", "--from", lock.to_str().unwrap()]),
            "plugin-build cap",
        );
        succeeds(
            plugrack_build(&project, &["--target", "amd64", "--backend", "cargo"]),
            "plugin-build (build)",
        );
        let so = project.join(format!("build/{NAME}-amd64.so"));
        assert!(so.is_file(), "no {}", so.display());

        let packaged = succeeds(
            plugrack_build(&project, &["package"]),
            "plugin-build package",
        );
        let package = project.join(format!("build/{ID}-0.1.0.plg"));
        assert_eq!(
            String::from_utf8_lossy(&packaged.stdout).trim(),
            format!("build/{ID}-0.1.0.plg")
        );
        let package_bytes = std::fs::read(&package).unwrap();
        let entries = archive::read(&package_bytes).unwrap();
        assert_eq!(entries[0].name, FILE_NAME);
        manifest_schema::assert_valid(&String::from_utf8_lossy(&entries[0].data));
        Fixture {
            project,
            package,
            package_bytes,
            so,
        }
    })
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Every file under `dir` with its contents: what "untouched" is checked against.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.insert(path.clone(), Vec::new());
                stack.push(path);
            } else {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

fn deploy(package: &Path, to: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "deploy",
        package.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    plugrack_build(to.parent().unwrap(), &args)
}

#[test]
fn new_build_package_deploy_then_the_host_lists_and_calls_it() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");

    let out = succeeds(deploy(&fx.package, &plugins, &[]), "plugin-build deploy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Verified"), "{stderr}");
    assert!(
        stderr.contains(&format!("Deployed {ID} 0.1.0 (amd64)")),
        "{stderr}"
    );
    let folder = plugins.join(ID);
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, [format!("{NAME}-amd64.so"), FILE_NAME.to_owned()]);
    let deployed_text = std::fs::read(folder.join(FILE_NAME)).unwrap();
    let deployed = Manifest::parse(&String::from_utf8_lossy(&deployed_text)).unwrap();
    assert_eq!(deployed.plugin.id, ID);
    let packaged = archive::read(&fx.package_bytes).unwrap();
    assert_eq!(
        deployed_text, packaged[0].data,
        "plugin.toml is deployed byte for byte (a signature must stay valid)"
    );

    let dir_arg = plugins.to_str().unwrap();
    let list = plugrack_host(&["list", "--plugins-dir", dir_arg, "--json"]);
    assert!(list.status.success(), "{}", show(&list));
    let json: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let entry = json["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == ID)
        .unwrap_or_else(|| panic!("{ID} not listed\n{}", show(&list)));
    assert_eq!(entry["status"], "active", "{}", show(&list));
    assert_eq!(entry["version"], "0.1.0");

    let call = plugrack_host(&["call", "--plugins-dir", dir_arg, ID, "hello", "name=Ada"]);
    assert!(call.status.success(), "{}", show(&call));
    assert_eq!(
        String::from_utf8_lossy(&call.stdout).trim(),
        "message = Hello, Ada!"
    );
}

#[test]
fn packaging_twice_gives_identical_bytes() {
    let fx = fixture();
    // A newer modification time on the input must not change the archive.
    let file = std::fs::File::options().write(true).open(&fx.so).unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    drop(file);
    succeeds(
        plugrack_build(&fx.project, &["package"]),
        "plugin-build package",
    );
    let again = std::fs::read(&fx.package).unwrap();
    assert!(again == fx.package_bytes, "the second package differs");
    let entries = archive::read(&again).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, [FILE_NAME, &format!("{NAME}-amd64.so")]);
}

#[test]
fn deploying_twice_replaces_the_folder_and_a_reader_always_sees_a_whole_one() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    succeeds(deploy(&fx.package, &plugins, &[]), "first deploy");

    // A second version of the same plugin: the version bumped in plugin.toml and in the
    // library's descriptor section (deploy checks that the two agree; nothing here loads it).
    let v2 = dir.path().join(format!("{ID}-0.2.0.plg"));
    let mut entries = archive::read(&fx.package_bytes).unwrap();
    let mut manifest = Manifest::parse(&String::from_utf8_lossy(&entries[0].data)).unwrap();
    manifest.plugin.version = "0.2.0".into();
    let so = &mut entries[1].data;
    let at = find(so, b"version = \"0.1.0\"").expect("the section names the version");
    so[at..at + 17].copy_from_slice(b"version = \"0.2.0\"");
    let target = manifest.targets.get_mut("amd64").unwrap();
    target.sha256 = plugrack_host::manifest::sha256_hex(so);
    entries[0].data = manifest.to_toml().into_bytes();
    std::fs::write(&v2, archive::write(&entries).unwrap()).unwrap();

    let out = succeeds(deploy(&v2, &plugins, &[]), "second deploy");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("replacing 0.1.0"), "{stderr}");
    let text = std::fs::read_to_string(plugins.join(ID).join(FILE_NAME)).unwrap();
    assert_eq!(Manifest::parse(&text).unwrap().plugin.version, "0.2.0");

    // While deploys alternate, a reader never finds the folder missing or half-written.
    let folder = plugins.join(ID);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let text = std::fs::read_to_string(folder.join(FILE_NAME))
                    .expect("plugin.toml is always there");
                let manifest = Manifest::parse(&text).expect("plugin.toml is always whole");
                let so = folder.join(&manifest.targets["amd64"].file);
                assert!(so.is_file(), "the .so is always next to plugin.toml");
                reads += 1;
            }
            reads
        });
        for round in 0..20 {
            let package = if round % 2 == 0 { &fx.package } else { &v2 };
            let args = plugrack_build::deploy::DeployArgs {
                package: Some(package.clone()),
                to: plugins.clone(),
                ..Default::default()
            };
            let deployed = plugrack_build::deploy::deploy(&args).unwrap();
            assert!(deployed.replaced.is_some());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0);
    });
    let left: Vec<String> = std::fs::read_dir(&plugins)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [ID], "no temporary folder stays behind");
}

/// A `.plg` with one hand-written tar header, for names and types the `tar` crate refuses
/// to write.
/// A literal for an insta filter (a regex).
fn regex_literal(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escape = "\\.+*?()|[]{}^$#&-~".contains(c);
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

fn raw_package(first: &[archive::Entry], name: &str, kind: tar::EntryType, link: &str) -> Vec<u8> {
    let mut tar_bytes = Vec::new();
    {
        let mut builder = tar::Builder::new(&mut tar_bytes);
        for entry in first {
            let mut header = tar::Header::new_gnu();
            header.set_path(&entry.name).unwrap();
            header.set_size(entry.data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append(&header, entry.data.as_slice()).unwrap();
        }
        let mut header = tar::Header::new_gnu();
        let gnu = header.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        let data: &[u8] = if kind == tar::EntryType::Regular {
            b"evil"
        } else {
            b""
        };
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append(&header, data).unwrap();
        builder.finish().unwrap();
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_bytes).unwrap();
    gz.finish().unwrap()
}

#[test]
fn bad_packages_are_refused_and_the_destination_is_untouched() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let plugins = dir.path().join("plugins");
    succeeds(deploy(&fx.package, &plugins, &[]), "first deploy");
    let before = snapshot(&plugins);
    let good = &fx.package_bytes;
    let entries = archive::read(good).unwrap();

    let mut changed_in_stream = good.clone();
    let middle = changed_in_stream.len() / 2;
    changed_in_stream[middle] ^= 0x20;

    let mut changed_in_so = entries.clone();
    let so = &mut changed_in_so[1].data;
    let at = so.len() / 2;
    so[at] ^= 0x01;

    let cases: Vec<(&str, Vec<u8>, Vec<&str>, &str)> = vec![
        ("changed-byte", changed_in_stream, vec![], "damaged"),
        (
            "changed-so",
            archive::write(&changed_in_so).unwrap(),
            vec![],
            "does not match plugin.toml",
        ),
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            vec![],
            "damaged or truncated",
        ),
        (
            "dot-dot",
            raw_package(&entries, "../evil.so", tar::EntryType::Regular, ""),
            vec![],
            "climbs out of the folder",
        ),
        (
            "absolute",
            raw_package(&entries, "/tmp/evil.so", tar::EntryType::Regular, ""),
            vec![],
            "absolute path",
        ),
        (
            "symlink",
            raw_package(&entries, "link.so", tar::EntryType::Symlink, "/etc/passwd"),
            vec![],
            "is a link",
        ),
        (
            "extra-entry",
            raw_package(&entries, "extra.so", tar::EntryType::Regular, ""),
            vec![],
            "not listed in plugin.toml",
        ),
        (
            "missing-target",
            good.clone(),
            vec!["--target", "arm64"],
            "has no arm64 build; it has: amd64",
        ),
    ];
    let mut rendered = String::new();
    for (name, bytes, extra, expected) in cases {
        let package = dir.path().join(format!("{name}.plg"));
        std::fs::write(&package, &bytes).unwrap();
        let out = deploy(&package, &plugins, &extra);
        assert_eq!(out.status.code(), Some(1), "{name}\n{}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(expected),
            "{name}: expected `{expected}`\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("{name}.plg")),
            "{name}: the file is named\n{stderr}"
        );
        assert!(
            !stderr.contains("caused by"),
            "{name}: the cause is said once\n{stderr}"
        );
        assert!(
            snapshot(&plugins) == before,
            "{name}: the destination changed"
        );
        rendered.push_str(&format!("[{name}]\n{stderr}\n"));
    }
    // What a person reads for each refusal, reviewed as one snapshot
    // (`snapshots/workflow__deploy_refusals.snap`), with the temp folder, the digests and the
    // decompressor's detail redacted.
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_literal(&dir.path().display().to_string()), "[dir]");
    settings.add_filter(r"\b[0-9a-f]{12,64}\b", "[sha256]");
    // Which complaint the decompressor has depends on where in the stream the flipped byte of
    // this build's package lands.
    settings.add_filter(
        r"damaged or truncated \([^)]*\)",
        "damaged or truncated ([gzip's reason])",
    );
    settings.bind(|| insta::assert_snapshot!("deploy_refusals", rendered));

    // --dry-run checks and writes nothing.
    let empty = dir.path().join("empty");
    let out = succeeds(
        deploy(&fx.package, &empty, &["--dry-run"]),
        "deploy --dry-run",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("Would deploy"));
    assert!(!empty.exists(), "a dry run creates nothing");
}

#[test]
fn deploy_without_a_package_takes_the_one_in_build() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("plugins");
    let out = succeeds(
        plugrack_build(&fx.project, &["deploy", "--to", to.to_str().unwrap()]),
        "deploy from the crate folder",
    );
    assert!(to.join(ID).join(FILE_NAME).is_file(), "{}", show(&out));
}

#[test]
fn new_refuses_a_non_empty_folder_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let taken = dir.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("notes.txt"), "mine").unwrap();
    let before = snapshot(dir.path());
    let out = plugrack_build(dir.path(), &["new", "hello", "--path", "taken"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not empty (it holds `notes.txt`)"),
        "{stderr}"
    );
    assert!(snapshot(dir.path()) == before, "nothing may be written");

    let out = plugrack_build(dir.path(), &["new", "2bad"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid package name"));
}

#[test]
fn inspect_tells_what_a_file_is_and_whether_the_host_loads_it() {
    let fx = fixture();
    let out = succeeds(
        plugrack_build(&fx.project, &["inspect", fx.so.to_str().unwrap(), "--json"]),
        "inspect .so",
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["kind"], "shared-object");
    assert_eq!(json["descriptor"]["id"], ID);
    assert_eq!(json["descriptor"]["api_version"], plugrack_api::API_VERSION);
    assert_eq!(json["objects"][0]["target"], "amd64");
    assert!(json["objects"][0]["glibc"]
        .as_str()
        .unwrap()
        .starts_with("2."));
    assert_eq!(json["verdict"]["loads"], true);

    let out = succeeds(
        plugrack_build(&fx.project, &["inspect", fx.package.to_str().unwrap()]),
        "inspect .plg",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("plugin:      {ID} 0.1.0")), "{text}");
    assert!(text.contains("verdict:     ok"), "{text}");

    // Not a plugin: the host's refusal, with its fix, and exit code 3.
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.so");
    let bytes = std::fs::read(&fx.so).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    let out = plugrack_build(dir.path(), &["inspect", cut.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(plugrack_build::EXIT_REFUSED.into()),
        "{}",
        show(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verdict:     refused"), "{text}");
    assert!(text.contains("fix:"), "{text}");

    let truncated = dir.path().join("truncated.plg");
    std::fs::write(&truncated, &fx.package_bytes[..1000]).unwrap();
    let out = plugrack_build(dir.path(), &["inspect", truncated.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(plugrack_build::EXIT_REFUSED.into()));
    assert!(String::from_utf8_lossy(&out.stdout).contains("damaged or truncated"));
}

/// Runs the `minisign` reference tool (installed by scripts/setup.sh); a missing tool fails
/// the test with the command that installs it, never a silent pass.
fn minisign(args: &[&str]) -> Output {
    Command::new("minisign")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `minisign` ({e}); install it: `apt-get install minisign` (scripts/setup.sh does)"))
}

#[test]
fn signed_packages_deploy_only_with_a_trusted_key_and_the_minisign_tool_agrees() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let path = |name: &str| d.join(name).to_str().unwrap().to_owned();
    for key in ["a", "b"] {
        let out = succeeds(
            plugrack_build(
                d,
                &[
                    "keygen",
                    "--secret-key",
                    &path(&format!("{key}.key")),
                    "--public-key",
                    &path(&format!("{key}.pub")),
                ],
            ),
            "keygen",
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim().len(),
            16,
            "prints the key id"
        );
    }
    let key_a = std::fs::read_to_string(d.join("a.pub")).unwrap();
    let id_a = key_a
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let refused = plugrack_build(
        d,
        &[
            "keygen",
            "--secret-key",
            &path("a.key"),
            "--public-key",
            &path("c.pub"),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already exists"),
        "{}",
        show(&refused)
    );

    // Package the built plugin again, signed, into a folder of its own.
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::copy(&fx.so, out_dir.join(fx.so.file_name().unwrap())).unwrap();
    let manifest_path = fx.project.join("Cargo.toml");
    let out = succeeds(
        plugrack_build(
            d,
            &[
                "package",
                "--manifest-path",
                manifest_path.to_str().unwrap(),
                "--out-dir",
                out_dir.to_str().unwrap(),
                "--sign",
                &path("a.key"),
            ],
        ),
        "package --sign",
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("Signed plugin.toml with key {id_a}")),
        "{}",
        show(&out)
    );
    let signed = out_dir.join(format!("{ID}-0.1.0.plg"));
    let entries = archive::read(&std::fs::read(&signed).unwrap()).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            FILE_NAME,
            "plugin.toml.minisig",
            &format!("{NAME}-amd64.so")
        ]
    );

    // The reference tool verifies what plugin-build signed.
    std::fs::write(d.join("plugin.toml"), &entries[0].data).unwrap();
    std::fs::write(d.join("plugin.toml.minisig"), &entries[1].data).unwrap();
    let verified = minisign(&["-V", "-p", &path("a.pub"), "-m", &path("plugin.toml")]);
    assert!(
        verified.status.success(),
        "minisign -V: {}",
        show(&verified)
    );
    let wrong = minisign(&["-V", "-p", &path("b.pub"), "-m", &path("plugin.toml")]);
    assert!(!wrong.status.success(), "minisign refuses another key");

    // deploy --trusted-key: the right key deploys, and the signature lands beside plugin.toml.
    let plugins = d.join("plugins");
    let out = succeeds(
        deploy(&signed, &plugins, &["--trusted-key", &path("a.pub")]),
        "trusted deploy",
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("signed by trusted key {id_a}")),
        "{}",
        show(&out)
    );
    assert!(plugins.join(ID).join("plugin.toml.minisig").is_file());
    let deployed = snapshot(&plugins);

    // Every refusal has its own message and leaves the destination untouched.
    let tampered = d.join("tampered.plg");
    let mut changed = entries.clone();
    let mut manifest = Manifest::parse(&String::from_utf8_lossy(&entries[0].data)).unwrap();
    manifest.plugin.description = "changed after signing".into();
    changed[0].data = manifest.to_toml().into_bytes();
    std::fs::write(&tampered, archive::write(&changed).unwrap()).unwrap();
    let id_b = std::fs::read_to_string(d.join("b.pub")).unwrap();
    let id_b = id_b
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let cases: [(&Path, &str, &str); 3] = [
        (&fx.package, "a.pub", "it is not signed"),
        (
            &signed,
            "b.pub",
            &format!("signed by key {id_a}, which is not a trusted key"),
        ),
        (&tampered, "a.pub", "does not match its signature"),
    ];
    for (package, key, expected) in cases {
        let out = deploy(package, &plugins, &["--trusted-key", &path(key)]);
        assert!(!out.status.success(), "{expected}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{expected}: {stderr}");
        assert!(stderr.contains("hint:"), "{stderr}");
        assert_eq!(
            snapshot(&plugins),
            deployed,
            "{expected}: the destination is untouched"
        );
    }
    assert_ne!(id_a, id_b);
    // Without trusted keys nothing changes: the unsigned package deploys as before.
    succeeds(
        deploy(&fx.package, &d.join("open"), &[]),
        "deploy without keys",
    );

    // inspect shows the signer, verified with the key.
    let out = succeeds(
        plugrack_build(d, &["inspect", signed.to_str().unwrap()]),
        "inspect",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("signed by:   key {id_a} (not verified")),
        "{text}"
    );
    let out = succeeds(
        plugrack_build(
            d,
            &[
                "inspect",
                signed.to_str().unwrap(),
                "--trusted-key",
                &path("a.pub"),
            ],
        ),
        "inspect --trusted-key",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("verified with a trusted key"), "{text}");
    let out = plugrack_build(
        d,
        &[
            "inspect",
            signed.to_str().unwrap(),
            "--trusted-key",
            &path("b.pub"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(plugrack_build::EXIT_REFUSED.into()),
        "{}",
        show(&out)
    );
}

#[test]
fn a_passphrase_protected_key_signs_with_the_passphrase_from_the_environment() {
    let fx = fixture();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = d.join("p.key");
    let public = d.join("p.pub");
    let out = Command::new(env!("CARGO_BIN_EXE_plugin-build"))
        .current_dir(d)
        .env("PLUGIN_BUILD_KEY_PASSWORD", "correct horse")
        .args([
            "keygen",
            "--password",
            "--secret-key",
            key.to_str().unwrap(),
            "--public-key",
            public.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let out = succeeds(out, "keygen --password");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("passphrase-protected"),
        "{}",
        show(&out)
    );
    let out_dir = d.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::copy(&fx.so, out_dir.join(fx.so.file_name().unwrap())).unwrap();
    let package = |password: &str| {
        Command::new(env!("CARGO_BIN_EXE_plugin-build"))
            .current_dir(d)
            .env("CARGO_TARGET_DIR", shared_target_dir())
            .env("PLUGIN_BUILD_KEY_PASSWORD", password)
            .stdin(std::process::Stdio::null())
            .args([
                "package",
                "--manifest-path",
                fx.project.join("Cargo.toml").to_str().unwrap(),
                "--out-dir",
                out_dir.to_str().unwrap(),
                "--sign",
                key.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let wrong = package("wrong");
    assert!(!wrong.status.success());
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        stderr.contains("cannot use secret key") && stderr.contains("PLUGIN_BUILD_KEY_PASSWORD"),
        "{stderr}"
    );
    succeeds(
        package("correct horse"),
        "package --sign with the passphrase",
    );
    let signed = out_dir.join(format!("{ID}-0.1.0.plg"));
    succeeds(
        deploy(
            &signed,
            &d.join("plugins"),
            &["--trusted-key", public.to_str().unwrap()],
        ),
        "deploy the package signed with a protected key",
    );
}
