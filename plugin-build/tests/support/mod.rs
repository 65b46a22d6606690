//! Folders every test binary of plugin-build shares (and plugin-server's tests of builds from
//! git, which include this file): the workspace, the target folder the tests build into, and
//! per-process folders for fixtures.

// Each test binary includes this module and uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The workspace's root folder (the including package's parent).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the package sits in the workspace")
        .to_owned()
}

/// The folder the tests build into, shared by every test binary of a run (so each artifact
/// is built once).
pub fn shared_target_dir() -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    base.join("plugin-build-tests")
}

/// A folder named `name` for this test process's fixtures, in [`shared_target_dir`]: one per
/// process (`NAME.PID`), so that test processes running at once (`cargo nextest` runs every
/// test as a process of its own) do not remove or rewrite each other's; the folders of
/// processes that have ended are removed here.
pub fn fixture_root(name: &str) -> PathBuf {
    let parent = shared_target_dir();
    let this = std::process::id();
    for entry in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
        let file_name = entry.file_name();
        let pid = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(name))
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid.filter(|&pid| pid != this) {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    parent.join(format!("{name}.{this}"))
}
