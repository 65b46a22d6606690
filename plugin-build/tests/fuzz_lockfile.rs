//! Replays the inputs the lockfile fuzzer found a crash with, and its seeds, through the same
//! call as `fuzz/fuzz_targets/lockfile.rs` (CI does not fuzz): a value or an error, never a
//! panic.

use std::path::Path;

use plugrack_build::cap::lockfile::Lock;

#[test]
fn lockfile_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut count = 0;
    for kind in ["regressions", "seeds"] {
        let Ok(entries) = std::fs::read_dir(root.join(kind).join("lockfile")) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.file_name().is_some_and(|n| n == ".gitkeep") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            if let Ok(text) = std::str::from_utf8(&data) {
                let _ = Lock::parse(Path::new("host/Cargo.lock"), text);
            }
            count += 1;
        }
    }
    assert!(count > 0, "fuzz/seeds/lockfile holds at least one input");
}
