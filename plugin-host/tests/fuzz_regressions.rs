//! Replays every input the fuzzers found a crash with, and the fuzzers' seeds, through the same
//! calls as the fuzz targets (`fuzz/fuzz_targets/`), so that a fixed crash stays fixed in the
//! normal test suite (CI does not fuzz). Each input must give a value or an error, never a
//! panic, and the targets' round-trip properties must hold.

use std::path::{Path, PathBuf};

use plugrack_host::{
    manifest::Manifest,
    package, preflight, section,
    trust::{TrustPolicy, TrustedKey},
};

/// The files of `fuzz/regressions/<target>` and `fuzz/seeds/<target>`.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut out = Vec::new();
    for kind in ["regressions", "seeds"] {
        let dir = root.join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_file() && path.file_name().is_some_and(|n| n != ".gitkeep") {
                let bytes = std::fs::read(&path).unwrap();
                out.push((path, bytes));
            }
        }
    }
    assert!(
        !out.is_empty(),
        "no inputs for {target}: fuzz/seeds/{target} holds at least one"
    );
    out
}

#[test]
fn manifest_inputs() {
    for (path, data) in inputs("manifest") {
        let Ok(text) = std::str::from_utf8(&data) else {
            continue;
        };
        if let Ok(manifest) = Manifest::parse(text) {
            let again = Manifest::parse(&manifest.to_toml()).unwrap_or_else(|e| {
                panic!("{}: a written manifest reads back: {e}", path.display())
            });
            assert_eq!(again, manifest, "{}", path.display());
        }
    }
}

#[test]
fn package_inputs() {
    let key = TrustedKey::decode(
        "RWT5dfOBpsRAcy1dI2E12+34jUBqTcbGsff3aM8jUCHvHCQqXC6ybxwi",
        "fuzz.pub",
    )
    .unwrap();
    let policy = TrustPolicy::new(vec![key]);
    for (path, data) in inputs("package") {
        let name = Path::new("fuzz.plg");
        let _ = package::archive::read_limited(&data, 16 << 20);
        if let Ok(verified) = package::verify(name, &data) {
            for target in verified.manifest.targets.keys() {
                assert!(verified.target(target).is_ok(), "{}", path.display());
            }
        }
        let _ = package::verify_with(name, &data, &policy);
    }
}

#[test]
fn preflight_inputs() {
    for (_, data) in inputs("preflight") {
        if let Ok((_, Some(section))) = preflight::inspect_with_section(&data) {
            let _ = preflight::check_section(&section, &semver::Version::new(1, 0, 0));
        }
    }
}

#[test]
fn section_inputs() {
    for (path, data) in inputs("section") {
        if let Ok(read) = section::parse(&data) {
            let again = section::parse(read.render().as_bytes()).unwrap_or_else(|e| {
                panic!("{}: a rendered section reads back: {e}", path.display())
            });
            assert_eq!(again, read, "{}", path.display());
        }
    }
}
