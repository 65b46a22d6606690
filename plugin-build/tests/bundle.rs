//! Native libraries inside the package, end to end with real tools: a tiny C library,
//! `libgreet.so.1`, is compiled here with the real gcc (amd64) and `aarch64-linux-gnu-gcc`
//! (arm64); a plugin made by `plugin-build new` links it (`tests/fixtures/greeter/`) and sets
//! `bundle = ["libgreet.so.1"]`; `plugin-build` builds it for both targets in one run (linking
//! it with the `$ORIGIN/lib` run path), `package` bundles each target's library under
//! `lib/<arch>/`, `deploy` installs it beside the plugin, and `plugin-host` calls it natively
//! and, for arm64, in a `plugin-host` built for arm64 under qemu-user. The same plugin without
//! its library is refused before `dlopen`, naming the library; every bad input the feature adds
//! is refused with a clear message and leaves the plugins folder as it was.
//!
//! The plugin is made and built once per run ([`fixture`]) in the target directory the build
//! tests share (`<target>/plugin-build-tests`), so its dependencies are compiled once, and the
//! arm64 `plugin-host` is the one the build tests use. Needs what `scripts/setup.sh` installs
//! (gcc, the arm64 cross gcc and C library, qemu-user, the rustup target).

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::OnceLock,
};
use support::{fixture_root, shared_target_dir, workspace_root};

use plugrack_build::{package::archive, targets};
use plugrack_host::manifest::{self, Manifest, FILE_NAME};

#[path = "../../tests/src/manifest_schema.rs"]
mod manifest_schema;

const NAME: &str = "greeter";
const SETUP: &str = "run `scripts/setup.sh` to install it";

fn fixture_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/greeter")
}

fn show(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn succeeds(output: Output, what: &str) -> Output {
    assert!(output.status.success(), "{what} failed\n{}", show(&output));
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn plugrack_build(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_plugin-build"))
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .env("GREET_LIB_DIR", &fixture().libs)
        .env_remove("PLUGINS_DIR")
        .args(args)
        .output()
        .expect("run plugin-build")
}

/// Compiles `greet.c` as `<libs>/<arch>/libgreet.so.1` (plus the `libgreet.so` link the
/// linker looks for) with `compiler`.
fn compile_libgreet(compiler: &str, arch: &str, libs: &Path) {
    let dir = libs.join(arch);
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(compiler)
        .args(["-shared", "-fPIC", "-O2", "-Wl,-soname,libgreet.so.1"])
        .arg(format!("-DGREET_ARCH=\"{arch}\""))
        .arg("-o")
        .arg(dir.join("libgreet.so.1"))
        .arg(fixture_source().join("greet.c"))
        .output()
        .unwrap_or_else(|e| panic!("`{compiler}` cannot run ({e}): {SETUP}"));
    succeeds(output, compiler);
    let link = dir.join("libgreet.so");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink("libgreet.so.1", link).unwrap();
}

/// The greeter plugin, built for amd64 and arm64 and packaged with its libgreet.
struct Fixture {
    /// `libs/<arch>/libgreet.so.1`.
    libs: PathBuf,
    project: PathBuf,
    package: PathBuf,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = fixture_root("bundle");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let libs = root.join("libs");
        compile_libgreet("gcc", "amd64", &libs);
        compile_libgreet("aarch64-linux-gnu-gcc", "arm64", &libs);
        let project = root.join(NAME);
        let run = |dir: &Path, args: &[&str]| {
            Command::new(env!("CARGO_BIN_EXE_plugin-build"))
                .current_dir(dir)
                .env("CARGO_TARGET_DIR", shared_target_dir())
                .env("GREET_LIB_DIR", &libs)
                .args(args)
                .output()
                .expect("run plugin-build")
        };
        succeeds(run(&root, &["new", NAME]), "plugin-build new");
        // The template's plugin, with `hello` appending libgreet's word.
        for file in ["build.rs", "greet.rs"] {
            let to = if file == "build.rs" {
                project.join(file)
            } else {
                project.join("src").join(file)
            };
            std::fs::copy(fixture_source().join(file), to).unwrap();
        }
        let lib_rs = project.join("src/lib.rs");
        let source = std::fs::read_to_string(&lib_rs).unwrap();
        let hello = r#"format!("{}, {name}!", self.greeting())"#;
        assert!(source.contains(hello), "the template's hello changed");
        let source = source.replace(
            hello,
            r#"format!("{}, {name}! {}", self.greeting(), greet::word())"#,
        );
        let first_use = "\nuse std::sync::Mutex;";
        assert!(
            source.contains(first_use),
            "the template's first `use` changed"
        );
        let source = source.replacen(first_use, &format!("\nmod greet;{first_use}"), 1);
        std::fs::write(&lib_rs, source).unwrap();
        let cargo_toml = project.join("Cargo.toml");
        let manifest = std::fs::read_to_string(&cargo_toml).unwrap();
        let manifest = manifest.replace(
            "target-os = [\"linux\"]",
            "target-os = [\"linux\"]\nbundle = [\"libgreet.so.1\"]",
        );
        assert!(manifest.contains("bundle = "), "{manifest}");
        std::fs::write(&cargo_toml, manifest).unwrap();

        let lock = workspace_root().join("Cargo.lock");
        succeeds(
            run(&project, &["cap", "--from", lock.to_str().unwrap()]),
            "plugin-build cap",
        );
        // One build for both targets: one cargo invocation.
        let built = succeeds(
            run(&project, &["--target", "amd64,arm64", "--backend", "cargo"]),
            "plugin-build (build)",
        );
        assert!(
            project.join(format!("build/{NAME}-arm64.so")).is_file(),
            "{}",
            show(&built)
        );
        let lib_dir = libs.to_str().unwrap();
        let packaged = succeeds(
            run(&project, &["package", "--lib-dir", lib_dir]),
            "plugin-build package",
        );
        let stderr = String::from_utf8_lossy(&packaged.stderr);
        assert!(
            stderr.contains("Bundling amd64: lib/amd64/libgreet.so.1")
                && stderr.contains("Bundling arm64: lib/arm64/libgreet.so.1"),
            "{stderr}"
        );
        assert!(!stderr.contains("Warning"), "{stderr}");
        Fixture {
            package: project.join(format!("build/{NAME}-0.1.0.plg")),
            libs,
            project,
        }
    })
}

/// The `plugin-host` binary for `target`, built once per run into the shared target directory
/// with the same command as the build tests (so the two test binaries share it).
fn host_binary(target: &targets::Target) -> PathBuf {
    static HOSTS: std::sync::Mutex<Vec<(&'static str, PathBuf)>> =
        std::sync::Mutex::new(Vec::new());
    let mut hosts = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, path)) = hosts.iter().find(|(t, _)| *t == target.triple) {
        return path.clone();
    }
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .args(["build", "-p", "plugrack-host", "--bin", "plugin-host"]);
    let path = if target.is_host() {
        shared_target_dir().join("debug/plugin-host")
    } else {
        cmd.args(["--target", target.triple])
            .env(target.linker_env(), target.linker);
        shared_target_dir()
            .join(target.triple)
            .join("debug/plugin-host")
    };
    succeeds(cmd.output().expect("run cargo"), "building plugin-host");
    hosts.push((target.triple, path.clone()));
    path
}

/// Runs `plugin-host` for `target` (under qemu-user when foreign).
fn plugin_host(target: &targets::Target, args: &[&str]) -> Output {
    let host = host_binary(target);
    let mut cmd = if target.is_host() {
        Command::new(&host)
    } else {
        let qemu = which::which(target.qemu)
            .unwrap_or_else(|_| panic!("`{}` is missing: {SETUP}", target.qemu));
        let mut cmd = Command::new(qemu);
        cmd.arg("-L").arg(target.sysroot()).arg(&host);
        cmd
    };
    cmd.env_remove("LD_LIBRARY_PATH")
        .args(args)
        .output()
        .expect("run plugin-host")
}

fn deploy(package: &Path, to: &Path, target: &str) -> Output {
    plugrack_build(
        &fixture().project,
        &[
            "deploy",
            package.to_str().unwrap(),
            "--to",
            to.to_str().unwrap(),
            "--target",
            target,
        ],
    )
}

/// Every file under `dir`, relative, with its bytes: "unchanged" means equal listings.
fn listing(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let data = std::fs::read(&path).unwrap();
                out.push((path.strip_prefix(base).unwrap().to_owned(), data));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn call_hello(target: &targets::Target, plugins: &Path) -> Output {
    plugin_host(
        target,
        &[
            "call",
            "--plugins-dir",
            plugins.to_str().unwrap(),
            NAME,
            "hello",
            "name=Ada",
        ],
    )
}

#[test]
fn the_package_carries_each_target_s_library_with_its_size_and_sha256() {
    let fx = fixture();
    let entries = archive::read(&std::fs::read(&fx.package).unwrap()).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            FILE_NAME,
            &format!("{NAME}-amd64.so"),
            &format!("{NAME}-arm64.so"),
            "lib/amd64/libgreet.so.1",
            "lib/arm64/libgreet.so.1"
        ]
    );
    // The manifest with bundled libraries follows the committed schema.
    manifest_schema::assert_valid(&String::from_utf8_lossy(&entries[0].data));
    let parsed = Manifest::parse(&String::from_utf8_lossy(&entries[0].data)).unwrap();
    for arch in ["amd64", "arm64"] {
        let compiled = std::fs::read(fx.libs.join(arch).join("libgreet.so.1")).unwrap();
        let libs = &parsed.targets[arch].libs;
        assert_eq!(libs.len(), 1, "{arch}: {libs:?}");
        assert_eq!(libs[0].file, "libgreet.so.1");
        assert_eq!(libs[0].size, compiled.len() as u64);
        assert_eq!(libs[0].sha256, manifest::sha256_hex(&compiled));
        let packaged = entries
            .iter()
            .find(|e| e.name == format!("lib/{arch}/libgreet.so.1"))
            .unwrap();
        assert!(
            packaged.data == compiled,
            "{arch}: the compiled library, byte for byte"
        );
        // The plugin was linked with the run path that finds it after a deploy.
        let so = fx.project.join(format!("build/{NAME}-{arch}.so"));
        let dynamic = plugrack_host::needed::dynamic(&std::fs::read(so).unwrap()).unwrap();
        assert!(
            dynamic.needed.contains(&"libgreet.so.1".to_owned()),
            "{dynamic:?}"
        );
        assert_eq!(dynamic.runpath, ["$ORIGIN/lib"], "{arch}");
    }

    // inspect lists the needed libraries and where each comes from.
    let inspect = succeeds(
        plugrack_build(&fx.project, &["inspect", fx.package.to_str().unwrap()]),
        "plugin-build inspect",
    );
    let out = String::from_utf8_lossy(&inspect.stdout);
    assert!(
        out.contains("needs:     libgreet.so.1 <- bundled: lib/libgreet.so.1"),
        "{out}"
    );
    assert!(
        out.contains("needs:     libgreet.so.1 <- in the package: lib/arm64/libgreet.so.1"),
        "{out}"
    );
    assert!(out.contains("needs:     libc.so.6 <- system: /"), "{out}");
    assert!(out.contains("verdict:     ok"), "{out}");
}

#[test]
fn deployed_it_loads_its_bundled_library_on_amd64() {
    let fx = fixture();
    let amd64 = targets::find("amd64").unwrap();
    let plugins = tempfile::tempdir().unwrap();
    let out = succeeds(deploy(&fx.package, plugins.path(), "amd64"), "deploy");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Bundled lib/libgreet.so.1"),
        "{}",
        show(&out)
    );
    let folder = plugins.path().join(NAME);
    let compiled = std::fs::read(fx.libs.join("amd64/libgreet.so.1")).unwrap();
    assert!(std::fs::read(folder.join("lib/libgreet.so.1")).unwrap() == compiled);
    let call = succeeds(call_hello(&amd64, plugins.path()), "plugin-host call");
    assert_eq!(
        String::from_utf8_lossy(&call.stdout).trim(),
        "message = Hello, Ada! greetings from libgreet (amd64)"
    );
}

#[test]
fn deployed_it_loads_its_bundled_library_on_arm64_under_qemu() {
    let fx = fixture();
    let arm64 = targets::find("arm64").unwrap();
    let plugins = tempfile::tempdir().unwrap();
    succeeds(deploy(&fx.package, plugins.path(), "arm64"), "deploy");
    let call = succeeds(
        call_hello(&arm64, plugins.path()),
        "plugin-host (arm64) call",
    );
    assert_eq!(
        String::from_utf8_lossy(&call.stdout).trim(),
        "message = Hello, Ada! greetings from libgreet (arm64)"
    );
}

#[test]
fn without_its_library_it_is_refused_before_dlopen_naming_it() {
    let fx = fixture();
    let amd64 = targets::find("amd64").unwrap();
    // The bare plugin file, without the lib/ folder a deploy puts beside it.
    let plugins = tempfile::tempdir().unwrap();
    let so = format!("{NAME}-amd64.so");
    std::fs::copy(fx.project.join("build").join(&so), plugins.path().join(&so)).unwrap();
    let list = plugin_host(
        &amd64,
        &["list", "--plugins-dir", plugins.path().to_str().unwrap()],
    );
    let out = text(&list);
    let refusal: Vec<&str> = out
        .lines()
        .map(str::trim_start)
        .skip_while(|l| !l.starts_with("plugin rejected"))
        .take(3)
        .collect();
    assert_eq!(refusal.len(), 3, "{}", show(&list));
    assert!(
        refusal[1].contains("needs `libgreet.so.1`, found neither in its lib/ folder, its run path nor the system's library path"),
        "{}",
        show(&list)
    );
    assert!(
        refusal[2].starts_with("fix: ship it with the plugin (`bundle = [\"libgreet.so.1\"]`"),
        "{}",
        show(&list)
    );
    assert!(
        !out.contains("cannot open shared object file"),
        "refused before dlopen, not by the loader\n{}",
        show(&list)
    );

    // Beside it a libgreet that itself needs a library found nowhere: refused, naming both.
    let work = tempfile::tempdir().unwrap();
    let missing = work.path().join("libmissing.so.1");
    succeeds(
        Command::new("gcc")
            .args([
                "-shared",
                "-fPIC",
                "-Wl,-soname,libmissing.so.1",
                "-x",
                "c",
                "-",
            ])
            .arg("-o")
            .arg(&missing)
            .stdin(std::fs::File::open(fixture_source().join("greet.c")).unwrap())
            .output()
            .unwrap(),
        "gcc libmissing",
    );
    std::fs::create_dir_all(plugins.path().join("lib")).unwrap();
    succeeds(
        Command::new("gcc")
            .args([
                "-shared",
                "-fPIC",
                "-Wl,-soname,libgreet.so.1",
                "-Wl,--no-as-needed",
            ])
            .arg("-o")
            .arg(plugins.path().join("lib/libgreet.so.1"))
            .arg(fixture_source().join("greet.c"))
            .arg(&missing)
            .output()
            .unwrap(),
        "gcc libgreet needing libmissing",
    );
    let list = plugin_host(
        &amd64,
        &["list", "--plugins-dir", plugins.path().to_str().unwrap()],
    );
    assert!(
        text(&list).contains(
            "needs `libmissing.so.1` (through its bundled `libgreet.so.1`), found neither"
        ),
        "{}",
        show(&list)
    );

    // A deployed folder whose lib/ lost the library: plugin.toml lists it.
    let deployed = tempfile::tempdir().unwrap();
    succeeds(deploy(&fx.package, deployed.path(), "amd64"), "deploy");
    std::fs::remove_file(deployed.path().join(NAME).join("lib/libgreet.so.1")).unwrap();
    let list = plugin_host(
        &amd64,
        &["list", "--plugins-dir", deployed.path().to_str().unwrap()],
    );
    let out = text(&list);
    assert!(
        out.contains("plugin.toml lists the bundled library `lib/libgreet.so.1`, but the plugin folder lacks it")
            && out.contains("fix: deploy the package again"),
        "{}",
        show(&list)
    );
    // A library changed after the deploy is refused by its SHA-256.
    std::fs::write(
        deployed.path().join(NAME).join("lib/libgreet.so.1"),
        b"changed",
    )
    .unwrap();
    let list = plugin_host(
        &amd64,
        &["list", "--plugins-dir", deployed.path().to_str().unwrap()],
    );
    assert!(
        text(&list).contains("`lib/libgreet.so.1` does not match plugin.toml"),
        "{}",
        show(&list)
    );
}

/// Rewrites the fixture's package with `edit` applied to its entries (plugin.toml re-read
/// and written by `edit_manifest` first, when given).
fn edited_package(
    dir: &Path,
    name: &str,
    edit_manifest: impl Fn(&mut Manifest),
    edit: impl Fn(&mut Vec<archive::Entry>),
) -> PathBuf {
    let mut entries = archive::read(&std::fs::read(&fixture().package).unwrap()).unwrap();
    let mut parsed = Manifest::parse(&String::from_utf8_lossy(&entries[0].data)).unwrap();
    edit_manifest(&mut parsed);
    entries[0].data = parsed.to_toml().into_bytes();
    edit(&mut entries);
    let path = dir.join(format!("{name}.plg"));
    std::fs::write(&path, archive::write(&entries).unwrap()).unwrap();
    path
}

#[test]
fn every_bad_bundle_is_refused_and_the_plugins_folder_stays_as_it_was() {
    let fx = fixture();
    let work = tempfile::tempdir().unwrap();
    let plugins = work.path().join("plugins");
    // An older deploy in place: a refused deploy must leave it exactly as it is.
    succeeds(deploy(&fx.package, &plugins, "amd64"), "first deploy");
    let before = listing(&plugins);

    let lib = "lib/amd64/libgreet.so.1";
    let cases: Vec<(PathBuf, &str)> = vec![
        (
            edited_package(
                work.path(),
                "changed-lib",
                |_| {},
                |entries| {
                    let e = entries.iter_mut().find(|e| e.name == lib).unwrap();
                    e.data[100] ^= 1;
                },
            ),
            "`lib/amd64/libgreet.so.1` does not match plugin.toml",
        ),
        (
            edited_package(work.path(), "no-lib", |_| {}, |entries| {
                entries.retain(|e| e.name != lib)
            }),
            "plugin.toml lists `lib/amd64/libgreet.so.1` for amd64, but the archive does not contain it",
        ),
        (
            edited_package(
                work.path(),
                "climbing-name",
                |m| m.targets.get_mut("amd64").unwrap().libs[0].file = "../libgreet.so.1".into(),
                |_| {},
            ),
            "names file `../libgreet.so.1`, which is not a plain file name",
        ),
        (
            edited_package(
                work.path(),
                "extra-lib",
                |_| {},
                |entries| {
                    entries.push(archive::Entry {
                        name: "lib/amd64/libextra.so.1".into(),
                        data: b"extra".to_vec(),
                    })
                },
            ),
            "entry `lib/amd64/libextra.so.1` is not listed in plugin.toml",
        ),
    ];
    for (package, expected) in cases {
        let out = deploy(&package, &plugins, "amd64");
        assert!(!out.status.success(), "{expected}: {}", show(&out));
        let message = text(&out);
        assert!(
            message.contains(expected),
            "expected `{expected}`\n{}",
            show(&out)
        );
        let name = package.file_name().unwrap().to_string_lossy().into_owned();
        assert!(message.contains(&name), "names the package\n{}", show(&out));
        assert!(
            listing(&plugins) == before,
            "{expected}: the plugins folder changed"
        );
    }
}

#[test]
fn package_refuses_a_bundle_it_cannot_find_or_that_is_not_needed_or_escapes() {
    let fx = fixture();
    // A copy of the plugin crate with another `bundle`, packaging the fixture's built files.
    let work = tempfile::tempdir().unwrap();
    let copy = work.path().join(NAME);
    std::fs::create_dir_all(copy.join("build")).unwrap();
    for file in ["Cargo.toml", "Cargo.lock", "build.rs"] {
        std::fs::copy(fx.project.join(file), copy.join(file)).unwrap();
    }
    std::fs::create_dir_all(copy.join("src")).unwrap();
    for file in ["lib.rs", "greet.rs"] {
        std::fs::copy(
            fx.project.join("src").join(file),
            copy.join("src").join(file),
        )
        .unwrap();
    }
    let so = format!("{NAME}-amd64.so");
    std::fs::copy(
        fx.project.join("build").join(&so),
        copy.join("build").join(&so),
    )
    .unwrap();
    let cargo_toml = std::fs::read_to_string(copy.join("Cargo.toml")).unwrap();
    // A library that exists but that nothing needs.
    let libs = work.path().join("libs");
    std::fs::create_dir_all(libs.join("amd64")).unwrap();
    for file in ["libgreet.so.1", "libunused.so.1"] {
        std::fs::copy(
            fx.libs.join("amd64/libgreet.so.1"),
            libs.join("amd64").join(file),
        )
        .unwrap();
    }
    let lib_dir = libs.to_str().unwrap().to_owned();
    let cases = [
        (
            "[\"libgreet.so.1\", \"libnothere.so.2\"]",
            "cannot find `libnothere.so.2` for amd64 to bundle",
        ),
        (
            "[\"libgreet.so.1\", \"libunused.so.1\"]",
            "`bundle` names `libunused.so.1`, but the amd64 plugin",
        ),
        (
            "[\"../libgreet.so.1\"]",
            "`bundle` entry `../libgreet.so.1` is not a library file name",
        ),
    ];
    for (bundle, expected) in cases {
        let edited = cargo_toml.replace("[\"libgreet.so.1\"]", bundle);
        std::fs::write(copy.join("Cargo.toml"), edited).unwrap();
        let out = plugrack_build(&copy, &["package", "--lib-dir", &lib_dir]);
        assert!(!out.status.success(), "{bundle}: {}", show(&out));
        assert!(
            text(&out).contains(expected),
            "expected `{expected}`\n{}",
            show(&out)
        );
        assert!(
            !copy.join(format!("build/{NAME}-0.1.0.plg")).exists(),
            "{bundle}: no package is written"
        );
    }
    // Without `--lib-dir`, libgreet is nowhere on this machine: the message names the fix.
    std::fs::write(copy.join("Cargo.toml"), &cargo_toml).unwrap();
    let out = plugrack_build(&copy, &["package"]);
    assert!(
        text(&out).contains("cannot find `libgreet.so.1` for amd64")
            && text(&out).contains("--lib-dir DIR"),
        "{}",
        show(&out)
    );
}

/// The files mapped into this process whose path starts with `dir`.
fn mapped_under(dir: &Path) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let prefix = dir.to_string_lossy();
    let mut files: Vec<String> = maps
        .lines()
        .filter_map(|line| line.splitn(6, char::is_whitespace).nth(5))
        .map(|file| file.trim().to_owned())
        .filter(|file| file.starts_with(&*prefix))
        .collect();
    files.sort();
    files.dedup();
    files
}

/// In a host process (this test's), loading the plugin in place: the host still copies a
/// plugin that bundles libraries, with its `lib/`, and the loader maps the checked copy of
/// libgreet, not the deployed file; the copy's folder is gone once loaded. (One load per
/// process: the loader keeps one `libgreet.so.1`.)
#[test]
fn the_host_loads_the_checked_copies_of_the_bundled_libraries() {
    use plugrack_host::{HostConfig, LoadFrom, PluginManager, PluginStatus, User, Values};

    let fx = fixture();
    let plugins = tempfile::tempdir().unwrap();
    let private = tempfile::tempdir().unwrap();
    succeeds(deploy(&fx.package, plugins.path(), "amd64"), "deploy");
    let config = HostConfig::new("1.0.0".parse().unwrap())
        .private_dir(private.path())
        .load_from(LoadFrom::InPlace);
    let manager = PluginManager::new(config);
    let reports = manager.load_dir(plugins.path());
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].status,
        PluginStatus::Active,
        "{:?}",
        reports[0].error()
    );
    let out = manager
        .instance(NAME, &User::new(1, "Ada"))
        .unwrap()
        .execute("hello", &Values::new())
        .unwrap();
    assert_eq!(
        out["message"],
        plugrack_host::Value::Str("Hello, Ada! greetings from libgreet (amd64)".into())
    );
    let mapped = mapped_under(private.path());
    assert!(
        mapped
            .iter()
            .any(|f| f.ends_with(".d/lib/libgreet.so.1 (deleted)")),
        "libgreet is mapped from the private copy: {mapped:?}"
    );
    assert!(
        mapped_under(plugins.path()).is_empty(),
        "nothing is mapped from the plugins folder"
    );
    assert_eq!(
        std::fs::read_dir(private.path()).unwrap().count(),
        0,
        "the copy's folder is removed once loaded"
    );
}

/// Out of process (`--isolation process`): the worker opens the host's copy, whose `lib/` is
/// beside it, and calls into libgreet there.
#[test]
fn out_of_process_the_worker_loads_the_bundled_library_too() {
    let fx = fixture();
    let amd64 = targets::find("amd64").unwrap();
    let host = host_binary(&amd64);
    // The worker program, next to the host (where the host looks first).
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(workspace_root())
        .env("CARGO_TARGET_DIR", shared_target_dir())
        .args(["build", "-p", "plugrack-host", "--bin", "plugin-worker"])
        .output()
        .expect("run cargo");
    succeeds(output, "building plugin-worker");
    assert!(host.with_file_name("plugin-worker").is_file());
    let plugins = tempfile::tempdir().unwrap();
    succeeds(deploy(&fx.package, plugins.path(), "amd64"), "deploy");
    let call = plugin_host(
        &amd64,
        &[
            "call",
            "--isolation",
            "process",
            "--plugins-dir",
            plugins.path().to_str().unwrap(),
            NAME,
            "hello",
            "name=Ada",
        ],
    );
    let call = succeeds(call, "plugin-host --isolation process call");
    assert_eq!(
        String::from_utf8_lossy(&call.stdout).trim(),
        "message = Hello, Ada! greetings from libgreet (amd64)"
    );
}
