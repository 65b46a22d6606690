//! The bad-input suite, continued: bad packages refused with the destination untouched, a
//! deploy killed with SIGKILL at random moments (the destination is always the old version or
//! the new one, whole, and a watching host never loads a partial file), a full disk during a
//! deploy and during storage and configuration writes, and a panic storm. Each test prints its
//! figures for docs/reliability.md.

use std::{
    collections::BTreeMap,
    fs,
    io::{BufRead, Write},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use flate2::{write::GzEncoder, Compression};
use plugin_tests::{artifacts, run_plugin_build};
use plugrack_host::{
    manifest::{sha256_hex, Manifest},
    HostConfig, LevelFilter, PluginManager, PluginStatus, User, Value, Values,
};

/// `plugin-build package` of an SDK fixture variant, unsigned.
fn package_fixture(work: &Path, name: &str) -> PathBuf {
    let a = artifacts();
    let manifest = plugin_tests::workspace_root()
        .join("target/e2e-fixtures/sdk")
        .join(name)
        .join("Cargo.toml");
    let out = work.join(format!("out-{name}"));
    fs::create_dir_all(&out).unwrap();
    fs::copy(&a.fx[name], out.join(format!("{name}-amd64.so"))).unwrap();
    let (code, stdout, stderr) = run_plugin_build(
        work,
        &[
            "package",
            "--manifest-path",
            manifest.to_str().unwrap(),
            "--out-dir",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    out.join(stdout.trim().rsplit('/').next().unwrap())
}

/// Every file under `dir` with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.insert(path.clone(), fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The entries of a `.plg`, as (name, data).
fn entries(plg: &[u8]) -> Vec<(String, Vec<u8>)> {
    plugrack_host::package::archive::read(plg)
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.data))
        .collect()
}

/// A tar header for `name` of `kind`, written by hand (the tar crate refuses `../x` and `/x`).
fn header(name: &[u8], kind: tar::EntryType, size: u64, link: &[u8]) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    header.as_gnu_mut().unwrap().linkname[..link.len()].copy_from_slice(link);
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_cksum();
    header
}

/// A tar of `files` (raw headers), then `extra` raw entries, gzip-compressed.
fn plg(files: &[(tar::Header, &[u8])]) -> Vec<u8> {
    let mut tar = Vec::new();
    for (header, data) in files {
        tar.extend_from_slice(header.as_bytes());
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

fn regular(name: &str, data: &[u8]) -> tar::Header {
    header(
        name.as_bytes(),
        tar::EntryType::Regular,
        data.len() as u64,
        b"",
    )
}

/// A gzip stream that unpacks to `total` bytes (a small tar, then zeros) while staying about
/// 1/1000 of that: one compressed megabyte of zeros, repeated. Its trailer is not valid, and
/// need not be: a reader must stop at its size limit long before it gets there.
fn gzip_bomb(tar_head: &[u8], total: u64) -> Vec<u8> {
    use flate2::{Compress, FlushCompress};
    let mut deflate = Compress::new(Compression::best(), false);
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let mut buf = vec![0u8; 4 << 20];
    let mut push = |deflate: &mut Compress, input: &[u8], out: &mut Vec<u8>| {
        let before_out = deflate.total_out();
        deflate
            .compress(input, &mut buf, FlushCompress::Sync)
            .unwrap();
        let n = (deflate.total_out() - before_out) as usize;
        out.extend_from_slice(&buf[..n]);
    };
    push(&mut deflate, tar_head, &mut out);
    let zeros = vec![0u8; 1 << 20];
    let start = out.len();
    push(&mut deflate, &zeros, &mut out);
    // After a sync flush the next block starts on a byte boundary, and a block of zeros only
    // refers back to zeros: the same bytes decompress to another megabyte of zeros.
    let block = out[start..].to_vec();
    for _ in 1..total / (1 << 20) {
        out.extend_from_slice(&block);
    }
    out
}

#[test]
fn every_kind_of_bad_package_is_refused_and_the_destination_is_untouched() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let good = package_fixture(w, "fx-good");
    let good_bytes = fs::read(&good).unwrap();
    let files = entries(&good_bytes);
    let (manifest_name, manifest) = &files[0];
    let (so_name, so) = &files[1];
    let plugins = w.join("plugins");
    // An older plugin already there, and a file of the user's.
    let (code, _, stderr) = run_plugin_build(
        w,
        &[
            "deploy",
            package_fixture(w, "fx-windows").to_str().unwrap(),
            "--to",
            plugins.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    fs::write(plugins.join("notes.txt"), "mine").unwrap();
    let before = snapshot(&plugins);

    let m = || regular(manifest_name, manifest);
    let s = || regular(so_name, so);
    let mut tampered = good_bytes.clone();
    let middle = tampered.len() / 2;
    tampered[middle] ^= 0x20;
    let mut bigger = so.clone();
    bigger.extend_from_slice(&[0; 4096]);
    let bigger_entry = regular(so_name, &bigger);
    let bomb = {
        let mut head = m().as_bytes().to_vec();
        head.extend_from_slice(manifest);
        head.resize(head.len().div_ceil(512) * 512, 0);
        gzip_bomb(&head, (plugrack_host::package::MAX_UNPACKED) + (64 << 20))
    };
    let mut appended = good_bytes.clone();
    appended.extend_from_slice(b"appended after the archive");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("tampered", tampered, "damaged or truncated"),
        (
            "truncated",
            good_bytes[..good_bytes.len() / 2].to_vec(),
            "damaged or truncated",
        ),
        (
            "parent-dir",
            plg(&[
                (m(), manifest),
                (
                    header(b"../evil.so", tar::EntryType::Regular, 4, b""),
                    b"evil",
                ),
            ]),
            "climbs out",
        ),
        (
            "absolute",
            plg(&[
                (m(), manifest),
                (
                    header(b"/tmp/evil.so", tar::EntryType::Regular, 4, b""),
                    b"evil",
                ),
            ]),
            "absolute path",
        ),
        (
            "symlink",
            plg(&[
                (m(), manifest),
                (
                    header(
                        so_name.as_bytes(),
                        tar::EntryType::Symlink,
                        0,
                        b"/etc/passwd",
                    ),
                    b"",
                ),
            ]),
            "is a link",
        ),
        (
            "hard-link",
            plg(&[
                (m(), manifest),
                (
                    header(so_name.as_bytes(), tar::EntryType::Link, 0, b"plugin.toml"),
                    b"",
                ),
            ]),
            "is a link",
        ),
        (
            "device",
            plg(&[
                (m(), manifest),
                (header(b"null", tar::EntryType::Char, 0, b""), b""),
            ]),
            "a character device",
        ),
        (
            "larger-than-listed",
            plg(&[(m(), manifest), (bigger_entry, &bigger)]),
            "plugin.toml says",
        ),
        ("zip-bomb", bomb, "unpacks to more than"),
        (
            "duplicate-entry",
            plg(&[(m(), manifest), (s(), so), (s(), so)]),
            "appears twice",
        ),
        (
            "appended-bytes",
            appended,
            "follow the end of the compressed stream",
        ),
        (
            "unlisted-entry",
            plg(&[
                (m(), manifest),
                (s(), so),
                (regular("extra.sh", b"#!/bin/sh"), b"#!/bin/sh"),
            ]),
            "not listed in plugin.toml",
        ),
        (
            "library-missing",
            plg(&[(m(), manifest)]),
            "does not contain it",
        ),
    ];
    let mut refused = 0;
    let started = Instant::now();
    for (name, bytes, expected) in &cases {
        let file = w.join(format!("{name}.plg"));
        fs::write(&file, bytes).unwrap();
        let (code, _, stderr) = run_plugin_build(
            w,
            &[
                "deploy",
                file.to_str().unwrap(),
                "--to",
                plugins.to_str().unwrap(),
            ],
        );
        assert_ne!(code, 0, "{name} was deployed");
        assert!(
            stderr.contains(expected),
            "{name}: expected `{expected}`:\n{stderr}"
        );
        assert!(
            stderr.contains(&format!("{name}.plg")),
            "{name}: names the package:\n{stderr}"
        );
        assert_eq!(
            snapshot(&plugins),
            before,
            "{name}: the destination is untouched"
        );
        refused += 1;
    }
    eprintln!(
        "[figures] packages: {} kinds tried, {refused} refused, destination untouched every time, lost: 0 ({:.1} s; the zip bomb unpacks past {} MiB)",
        cases.len(),
        started.elapsed().as_secs_f64(),
        plugrack_host::package::MAX_UNPACKED >> 20
    );
}

/// A small xorshift generator: the moments to kill at, reproducible from the printed seed.
struct Moments(u64);

impl Moments {
    fn next_below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// The version in a plugin folder, after checking it is whole: its manifest parses, its
/// library matches the manifest's SHA-256 and size, and its descriptor section agrees.
fn whole_version(folder: &Path) -> String {
    let text = fs::read_to_string(folder.join("plugin.toml")).expect("plugin.toml is there");
    let manifest = Manifest::parse(&text).expect("plugin.toml is whole");
    let target = &manifest.targets["amd64"];
    let library = fs::read(folder.join(&target.file)).expect("the library is there");
    assert_eq!(library.len() as u64, target.size, "the library is whole");
    assert_eq!(
        sha256_hex(&library),
        target.sha256,
        "the library is the manifest's"
    );
    let section = plugrack_host::preflight::inspect_with_section(&library)
        .unwrap()
        .1
        .unwrap();
    assert_eq!(
        section.version, manifest.plugin.version,
        "the library and manifest are one version"
    );
    manifest.plugin.version
}

#[test]
fn a_deploy_killed_at_random_moments_leaves_the_old_or_the_new_version_whole() {
    let a = artifacts();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let v1 = package_fixture(w, "fx-good");
    let v2 = package_fixture(w, "fx-good-v2");
    let plugins = w.join("plugins");
    let deploy = |package: &Path| {
        Command::new(&a.plugin_build_bin)
            .args([
                "deploy",
                package.to_str().unwrap(),
                "--to",
                plugins.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    assert!(deploy(&v1).wait().unwrap().success());
    // How long one deploy takes here: the kills fall anywhere in it, start to end.
    let timed = Instant::now();
    assert!(deploy(&v2).wait().unwrap().success());
    assert!(deploy(&v1).wait().unwrap().success());
    let span = (timed.elapsed() / 2).as_micros() as u64 * 12 / 10;

    // A host watches the folder the whole time.
    let mut watcher = Command::new(&a.plugin_host_bin)
        .args([
            "watch",
            "--json",
            "--seconds",
            "600",
            "--plugins-dir",
            plugins.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let stdout = watcher.stdout.take().unwrap();
        let events = std::sync::Arc::clone(&events);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                events.lock().unwrap().push(line);
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut moments = Moments(seed);
    let mut versions = BTreeMap::<String, u32>::new();
    let mut killed = 0;
    for round in 0..50 {
        let package = if round % 2 == 0 { &v2 } else { &v1 };
        let mut child = deploy(package);
        std::thread::sleep(Duration::from_micros(moments.next_below(span)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        let version = whole_version(&plugins.join("fx-good"));
        assert!(version == "1.0.0" || version == "2.0.0", "{version}");
        *versions.entry(version).or_default() += 1;
    }
    // The next deploy removes what killed deploys left behind (hidden staging folders).
    assert!(deploy(&v2).wait().unwrap().success());
    let left: Vec<String> = fs::read_dir(&plugins)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["fx-good"], "no staging folder stays behind");
    std::thread::sleep(Duration::from_millis(1500));
    watcher.kill().unwrap();
    watcher.wait().unwrap();
    reader.join().unwrap();
    let events = events.lock().unwrap();
    let refused: Vec<&String> = events.iter().filter(|e| e.contains("refused")).collect();
    assert!(
        refused.is_empty(),
        "the watching host never met a partial file: {refused:#?}"
    );
    let loads = events
        .iter()
        .filter(|e| e.contains("\"loaded\"") || e.contains("\"reloaded\""))
        .count();
    assert!(loads >= 2, "the watcher saw the deploys: {events:#?}");
    eprintln!(
        "[figures] SIGKILL during deploy: 50 rounds (seed {seed}, moments in 0..{span} µs), {killed} killed mid-deploy, destination whole every time {versions:?}, watcher: {loads} loads, 0 refusals, lost: 0"
    );
}

/// A small tmpfs mounted for one test, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "cannot mount a tmpfs (this test needs root, as CI has): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system until a write fails for lack of space.
    fn fill(&self) {
        let mut file = fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![0u8; 64 << 10];
        while file.write_all(&chunk).is_ok() {}
        let mut small = [0u8; 1];
        while file.write_all(&small).is_ok() {
            small[0] = 1;
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn a_full_disk_during_a_deploy_or_a_write_gives_a_clear_error_and_keeps_the_previous_data() {
    let a = artifacts();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let v1 = package_fixture(w, "fx-good");
    let v2 = package_fixture(w, "fx-good-v2");
    let size = fs::metadata(&a.fx["fx-good"]).unwrap().len();
    // Room for one version and a half: the second deploy runs out of space half-way.
    let disk = SmallDisk::mount(size * 3 / 2);
    let plugins = disk.path().join("plugins");
    let deploy = |package: &Path| {
        run_plugin_build(
            w,
            &[
                "deploy",
                package.to_str().unwrap(),
                "--to",
                plugins.to_str().unwrap(),
            ],
        )
    };
    let (code, _, stderr) = deploy(&v1);
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) = deploy(&v2);
    assert_ne!(code, 0);
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert_eq!(
        whole_version(&plugins.join("fx-good")),
        "1.0.0",
        "the old version is intact"
    );
    let left: Vec<String> = fs::read_dir(&plugins)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["fx-good"], "nothing half-written stays behind");
    drop(disk);

    // Storage and configuration writes of a host whose storage folder fills up.
    let disk = SmallDisk::mount(1 << 20);
    let dir = plugin_tests::plugin_dir(&[("showcase.so", &a.showcase)]);
    let manager = PluginManager::new(
        HostConfig::new("1.4.0".parse().unwrap()).storage_dir(disk.path().join("storage")),
    );
    manager.load_dir(dir.path());
    let user = User::new(7, "ada");
    let count = |manager: &PluginManager| {
        manager
            .instance("showcase", &user)
            .unwrap()
            .execute("count", &Values::new())
    };
    assert_eq!(count(&manager).unwrap()["count"], Value::Int(1));
    let config = r#"{"greeting": "Hi", "max_count": 10}"#;
    manager.set_config("showcase", &user, config).unwrap();
    let stored = fs::read_to_string(disk.path().join("storage/showcase/user-7.config")).unwrap();
    disk.fill();
    let error = count(&manager).unwrap_err().to_string();
    assert!(
        error.contains("No space left on device") || error.contains("space"),
        "{error}"
    );
    let error = manager
        .set_config("showcase", &user, r#"{"greeting": "Ho", "max_count": 20}"#)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("No space left on device") || error.contains("space"),
        "{error}"
    );
    assert_eq!(
        fs::read_to_string(disk.path().join("storage/showcase/user-7.config")).unwrap(),
        stored,
        "the stored configuration is intact"
    );
    fs::remove_file(disk.path().join("filler")).unwrap();
    assert_eq!(
        count(&manager).unwrap()["count"],
        Value::Int(2),
        "the stored count was kept"
    );
    eprintln!("[figures] full disk: deploy refused with the old version intact; storage and configuration writes refused with the previous data intact; lost: 0");
}

#[test]
fn a_panic_storm_leaves_the_host_running_and_the_metrics_exact() {
    const THREADS: i64 = 4;
    const CALLS: i64 = 1_000_000;
    // Bounded for CI: the storm stops at this deadline, and the counts must still be exact.
    const DEADLINE: Duration = Duration::from_secs(150);
    let a = artifacts();
    let dir = plugin_tests::plugin_dir(&[("fx-good.so", &a.fx["fx-good"])]);
    let manager = PluginManager::new(
        HostConfig::new("1.4.0".parse().unwrap()).log_level("fx-good", LevelFilter::Off),
    );
    let reports = manager.load_dir(dir.path());
    assert_eq!(reports[0].status, PluginStatus::Active);
    let instance = manager.instance("fx-good", &User::new(1, "storm")).unwrap();
    let before = manager.report_for("fx-good").unwrap().metrics;
    let started = Instant::now();
    let (done, panics) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let instance = instance.clone();
                scope.spawn(move || {
                    let (mut done, mut panics) = (0i64, 0i64);
                    let mut i = t;
                    while i < CALLS {
                        if i % 4096 == 0 && started.elapsed() > DEADLINE {
                            break;
                        }
                        let input = Values::from([("i".to_owned(), Value::Int(i))]);
                        match instance.execute("storm", &input) {
                            Ok(_) => assert!(i % 10 != 0),
                            Err(e) => {
                                assert!(i % 10 == 0, "call {i}: {e}");
                                assert!(e.to_string().contains("panicked"), "{e}");
                                panics += 1;
                            }
                        }
                        done += 1;
                        i += THREADS;
                    }
                    (done, panics)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |(d, p), (wd, wp)| (d + wd, p + wp))
    });
    let elapsed = started.elapsed();
    let after = manager.report_for("fx-good").unwrap().metrics;
    assert_eq!(
        after.panics - before.panics,
        panics as u64,
        "every panic counted, exactly"
    );
    assert_eq!(
        after.calls - before.calls,
        done as u64,
        "every call counted, exactly"
    );
    assert_eq!(after.errors - before.errors, panics as u64);
    // Still serving.
    let out = instance.execute("version", &Values::new()).unwrap();
    assert_eq!(out["version"], Value::Str("1.0.0".into()));
    if elapsed < DEADLINE {
        assert_eq!(done, CALLS, "the whole storm ran");
    }
    eprintln!(
        "[figures] panic storm: {done} calls from {THREADS} threads in {:.1} s, {panics} panicked and {} counted, host alive, lost: 0",
        elapsed.as_secs_f64(),
        after.panics - before.panics
    );
}
