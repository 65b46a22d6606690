//! The cache of checkouts: one folder per repository URL and commit,
//! `<cache>/git/<name>-<hash of the URL>/<commit>/`, holding exactly that commit's files.
//!
//! A new commit is fetched shallow (`git fetch --depth 1`, by the ref that names it, or by id)
//! into a hidden folder beside its place, checked (`HEAD` must be the commit asked for), marked
//! complete and renamed into place, so an interrupted fetch never leaves a folder that looks
//! whole. A cached one is reused after `git reset --hard` and `git clean` put its files back to
//! the commit's (a previous `cap` or build changed `Cargo.lock` and `build/`; its `target/`
//! stays, so a rebuild is quick). An exclusive lock on `<commit>.lock` is held while a
//! checkout is made, used and built, so two runs never share one half-way.

use std::{
    fs::File,
    os::fd::AsRawFd,
    path::{Path, PathBuf},
};

use super::{remote::Resolved, source::RepoUrl, FromGitError};
use crate::process::{CommandLine, ProcessError};

/// The file that marks a complete checkout, recording what it holds.
const MARKER: &str = ".plugin-build-source";

/// The cache root: `dir`, else `$PLUGIN_BUILD_CACHE_DIR`, else `$XDG_CACHE_HOME/plugin-build`,
/// else `~/.cache/plugin-build`.
pub fn cache_root(dir: Option<&Path>) -> PathBuf {
    if let Some(dir) = dir {
        return std::path::absolute(dir).unwrap_or_else(|_| dir.to_owned());
    }
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("PLUGIN_BUILD_CACHE_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = var("XDG_CACHE_HOME") {
        return PathBuf::from(dir).join("plugin-build");
    }
    var("HOME")
        .map(|home| PathBuf::from(home).join(".cache/plugin-build"))
        .unwrap_or_else(|| std::env::temp_dir().join("plugin-build-cache"))
}

/// The folder of one repository in the cache: its last path segment (readable) and a hash of
/// the whole URL (unique).
pub fn repository_dir(root: &Path, url: &RepoUrl) -> PathBuf {
    // Keyed by the URL without credentials: the same repository whoever fetches it.
    let hash = plugrack_host::manifest::sha256_hex(url.shown().as_bytes())[..12].to_owned();
    let name: String = url
        .shown()
        .trim_end_matches('/')
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .trim_end_matches(".git")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(40)
        .collect();
    let name = if name.is_empty() || name.starts_with('.') {
        "repo".to_owned()
    } else {
        name
    };
    root.join("git").join(format!("{name}-{hash}"))
}

/// A checkout of one commit, locked for as long as it lives.
#[derive(Debug)]
pub struct Checkout {
    /// The folder holding the commit's files.
    pub dir: PathBuf,
    /// The full commit id.
    pub commit: String,
    /// True when the folder was in the cache already.
    pub reused: bool,
    _lock: File,
}

impl Checkout {
    /// The first 12 digits of the commit, for messages.
    pub fn short(&self) -> &str {
        &self.commit[..12]
    }
}

/// A git command with the settings every call here shares: never ask for credentials on a
/// terminal (there may be none), give up on a stalled HTTP transfer.
pub(crate) fn git() -> CommandLine {
    CommandLine::new("git")
        .env("GIT_TERMINAL_PROMPT", "0")
        .args([
            "-c",
            "http.lowSpeedLimit=1000",
            "-c",
            "http.lowSpeedTime=60",
        ])
}

/// git's own message from a failed command: its `fatal:`/`error:` lines, redacted.
pub(crate) fn git_message(url: &RepoUrl, error: &ProcessError) -> String {
    match error {
        ProcessError::Failed { stderr, .. } => {
            // git's first `fatal:`/`error:` line says what happened; the rest repeats it.
            let text = stderr
                .lines()
                .map(str::trim)
                .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
                .or_else(|| stderr.lines().rev().map(str::trim).find(|l| !l.is_empty()))
                .unwrap_or("it failed without a message")
                .to_owned();
            url.redact(&text)
        }
        other => url.redact(&other.to_string()),
    }
}

/// Makes (or reuses) the checkout of `resolved` from `url` under `root`.
pub fn checkout(root: &Path, url: &RepoUrl, resolved: &Resolved) -> Result<Checkout, FromGitError> {
    let repo_dir = repository_dir(root, url);
    let cache = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| FromGitError::Cache {
            action,
            path,
            source,
        }
    };
    std::fs::create_dir_all(&repo_dir).map_err(cache("create", &repo_dir))?;
    match resolved {
        Resolved::Commit { commit, fetch } => {
            let lock = lock(&repo_dir, commit)?;
            let dir = repo_dir.join(commit);
            if dir.join(MARKER).is_file() {
                restore(url, &dir, commit)?;
                return Ok(Checkout {
                    dir,
                    commit: commit.clone(),
                    reused: true,
                    _lock: lock,
                });
            }
            let staging = staging_dir(&repo_dir, commit)?;
            let what = fetch.as_deref().unwrap_or(commit);
            fetch_into(url, &staging, &["--depth", "1", "--no-tags"], what).map_err(|message| {
                match fetch {
                    None => FromGitError::NoSuchCommit {
                        url: url.shown().to_owned(),
                        commit: commit.clone(),
                        message,
                    },
                    Some(_) => FromGitError::Git {
                        step: "git fetch",
                        url: url.shown().to_owned(),
                        message,
                    },
                }
            })?;
            finish(url, &staging, &dir, commit, "FETCH_HEAD")?;
            Ok(Checkout {
                dir,
                commit: commit.clone(),
                reused: false,
                _lock: lock,
            })
        }
        Resolved::Abbreviated(prefix) => {
            // Only the history can say which commit a prefix names: fetch every branch and tag
            // (not shallow), ask git, then file it under its full id.
            let staging = staging_dir(&repo_dir, prefix)?;
            fetch_into(
                url,
                &staging,
                &["--tags"],
                "+refs/heads/*:refs/remotes/origin/*",
            )
            .map_err(|message| FromGitError::Git {
                step: "git fetch",
                url: url.shown().to_owned(),
                message,
            })?;
            let rev = git()
                .current_dir(&staging)
                .args(["rev-parse", "--verify", "--quiet"])
                .arg(format!("{prefix}^{{commit}}"))
                .output();
            let commit = match rev {
                Ok(out) => String::from_utf8_lossy(&out.stdout).trim().to_owned(),
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&staging);
                    let message = match git_message(url, &e) {
                        m if m.contains("ambiguous") => m,
                        _ => "no commit in its branches and tags starts with it".to_owned(),
                    };
                    return Err(FromGitError::NoSuchCommit {
                        url: url.shown().to_owned(),
                        commit: prefix.clone(),
                        message,
                    });
                }
            };
            let lock = lock(&repo_dir, &commit)?;
            let dir = repo_dir.join(&commit);
            if dir.join(MARKER).is_file() {
                let _ = std::fs::remove_dir_all(&staging);
                restore(url, &dir, &commit)?;
                return Ok(Checkout {
                    dir,
                    commit,
                    reused: true,
                    _lock: lock,
                });
            }
            finish(url, &staging, &dir, &commit, &commit)?;
            Ok(Checkout {
                dir,
                commit,
                reused: false,
                _lock: lock,
            })
        }
    }
}

/// Takes the exclusive lock of one commit's checkout (waits for another run to finish).
fn lock(repo_dir: &Path, commit: &str) -> Result<File, FromGitError> {
    let path = repo_dir.join(format!("{commit}.lock"));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| FromGitError::Cache {
            action: "open",
            path: path.clone(),
            source,
        })?;
    // SAFETY: flock on a file descriptor this function owns; released when `file` closes.
    let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    if locked != 0 {
        return Err(FromGitError::Cache {
            action: "lock",
            path,
            source: std::io::Error::last_os_error(),
        });
    }
    Ok(file)
}

/// A fresh, empty repository in a hidden folder beside the checkout's place.
fn staging_dir(repo_dir: &Path, name: &str) -> Result<PathBuf, FromGitError> {
    let staging = repo_dir.join(format!(".{name}.tmp-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|source| FromGitError::Cache {
            action: "remove",
            path: staging.clone(),
            source,
        })?;
    }
    git()
        .args(["init", "--quiet"])
        .arg(staging.to_string_lossy())
        .output()
        .map_err(FromGitError::GitSpawn)?;
    Ok(staging)
}

/// `git fetch <options> URL <what>` in `dir`; on failure the folder is removed and git's
/// message returned.
fn fetch_into(url: &RepoUrl, dir: &Path, options: &[&str], what: &str) -> Result<(), String> {
    let result = git()
        .current_dir(dir)
        .args(["fetch", "--quiet"])
        .args(options.iter().copied())
        .arg(url.for_git())
        .arg(what)
        .output();
    result.map(|_| ()).map_err(|e| {
        let _ = std::fs::remove_dir_all(dir);
        git_message(url, &e)
    })
}

/// Checks out `rev` in `staging`, checks that it is `commit`, marks it complete and renames
/// it into `dir`.
fn finish(
    url: &RepoUrl,
    staging: &Path,
    dir: &Path,
    commit: &str,
    rev: &str,
) -> Result<(), FromGitError> {
    let step = |step: &'static str| {
        move |e: ProcessError| FromGitError::Git {
            step,
            url: url.shown().to_owned(),
            message: git_message(url, &e),
        }
    };
    let result = (|| {
        git()
            .current_dir(staging)
            .args([
                "-c",
                "advice.detachedHead=false",
                "checkout",
                "--quiet",
                "--detach",
            ])
            .arg(rev)
            .output()
            .map_err(step("git checkout"))?;
        verify_head(url, staging, commit)?;
        let marker = format!(
            "# plugin-build from-git: a complete checkout\ngit = {}\ncommit = \"{commit}\"\n",
            toml::Value::String(url.shown().to_owned())
        );
        std::fs::write(staging.join(MARKER), marker).map_err(|source| FromGitError::Cache {
            action: "write",
            path: staging.join(MARKER),
            source,
        })?;
        std::fs::rename(staging, dir).map_err(|source| FromGitError::Cache {
            action: "rename into",
            path: dir.to_owned(),
            source,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(staging);
    }
    result
}

/// Puts a cached checkout's files back to the commit's: what `cap` and a build changed (a
/// pinned `Cargo.lock`, `build/`) is undone; `target/` is kept for a quick rebuild.
fn restore(url: &RepoUrl, dir: &Path, commit: &str) -> Result<(), FromGitError> {
    let step = |step: &'static str| {
        move |e: ProcessError| FromGitError::Git {
            step,
            url: url.shown().to_owned(),
            message: git_message(url, &e),
        }
    };
    git()
        .current_dir(dir)
        .args(["reset", "--quiet", "--hard", commit])
        .output()
        .map_err(step("git reset"))?;
    git()
        .current_dir(dir)
        .args(["clean", "-ffdxq", "-e", "/target/", "-e"])
        .arg(format!("/{MARKER}"))
        .output()
        .map_err(step("git clean"))?;
    verify_head(url, dir, commit)
}

fn verify_head(url: &RepoUrl, dir: &Path, commit: &str) -> Result<(), FromGitError> {
    let out = git()
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .map_err(|e| FromGitError::Git {
            step: "git rev-parse",
            url: url.shown().to_owned(),
            message: git_message(url, &e),
        })?;
    let head = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if head == commit {
        Ok(())
    } else {
        Err(FromGitError::Git {
            step: "git checkout",
            url: url.shown().to_owned(),
            message: format!("expected commit {commit}, the checkout is at {head}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::source::check_url;

    #[test]
    fn the_cache_folder_names_the_repository_and_differs_per_url() {
        let root = Path::new("/c");
        let a = repository_dir(
            root,
            &check_url("https://example.org/team/hello.git").unwrap(),
        );
        let b = repository_dir(
            root,
            &check_url("https://example.org/other/hello.git").unwrap(),
        );
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("hello-") && name.len() == "hello-".len() + 12,
            "{name}"
        );
        assert_ne!(a, b);
        assert!(a.starts_with("/c/git"));
        let odd = repository_dir(root, &check_url("git@example.org:..").unwrap());
        assert!(odd
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("repo-"));
    }
}
