//! Finding the worker program: the configured path, then `PLUGRACK_WORKER`, then
//! `plugin-worker` next to the running executable (and one folder up, where cargo puts
//! binaries beside the test executables in `deps/`), then on `PATH`.

use std::path::{Path, PathBuf};

use crate::error::Refusal;

/// The environment variable naming the worker program.
pub(crate) const ENV: &str = "PLUGRACK_WORKER";
/// The worker program's file name.
pub(crate) const NAME: &str = "plugin-worker";

/// The worker program to start, or the places searched.
pub(crate) fn find(configured: Option<&Path>) -> Result<PathBuf, Refusal> {
    let mut searched = Vec::new();
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(path) = configured {
        candidates.push(path.to_owned());
    } else {
        if let Some(path) = std::env::var_os(ENV) {
            candidates.push(PathBuf::from(path));
        }
        if let Ok(exe) = std::env::current_exe() {
            if let Some(dir) = exe.parent() {
                candidates.push(dir.join(NAME));
                if let Some(up) = dir.parent() {
                    candidates.push(up.join(NAME));
                }
            }
        }
        if let Some(paths) = std::env::var_os("PATH") {
            candidates.extend(std::env::split_paths(&paths).map(|dir| dir.join(NAME)));
        }
    }
    for candidate in candidates {
        if is_executable(&candidate) {
            return Ok(candidate);
        }
        searched.push(candidate);
    }
    // Keep the refusal short: the configured or named places and the first few others.
    searched.truncate(4);
    Err(Refusal::WorkerNotFound { searched })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
