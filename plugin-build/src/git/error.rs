//! Why `plugin-build from-git` stopped. Every message names the repository (without
//! credentials) and the revision, says what was expected and what was found, and ends with the
//! fix.

use std::path::PathBuf;

use super::source::{Revision, URL_FORMS};
use crate::{build::BuildError, cap::CapError, package::PackageError, process::ProcessError};

/// Why `plugin-build from-git` failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FromGitError {
    /// The URL is not one of the accepted forms.
    #[error("`{url}` is not a git repository URL: {why}\n  hint: give one of {URL_FORMS}")]
    BadUrl {
        /// The URL (credentials removed).
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// A `--rev`, `--tag` or `--branch` that cannot be a git name.
    #[error("`{name}` is not a usable {kind} name: {why}\n  hint: give the {kind} as `git` shows it (`git ls-remote URL` lists them)")]
    BadRevision {
        /// `tag`, `branch` or `rev`.
        kind: &'static str,
        /// The name.
        name: String,
        /// What is wrong.
        why: &'static str,
    },
    /// `--subdir` is absolute or climbs out of the repository.
    #[error("`--subdir` `{subdir}` is not a folder inside the repository: expected a relative path without `.` or `..` (like `plugins/hello`)\n  hint: give the plugin crate's folder relative to the repository's root")]
    BadSubdir {
        /// The subdir as given.
        subdir: String,
    },
    /// No `git` program.
    #[error("`git` is not installed (not found on PATH)\n  hint: install it: `sudo apt-get install -y git`")]
    GitMissing,
    /// `git ls-remote` failed: not a repository, or not reachable.
    #[error("`{url}` is not a git repository, or cannot be reached: {message}\n  hint: check the URL and your access to it: `git ls-remote {url}`")]
    Unreachable {
        /// The URL.
        url: String,
        /// git's own message (its `fatal:` line).
        message: String,
    },
    /// The repository has no commits.
    #[error("`{url}` has no commits: expected a repository with a plugin crate, found an empty one\n  hint: push the plugin to it first, or give another URL")]
    EmptyRepository {
        /// The URL.
        url: String,
    },
    /// The tag, branch or rev is not in the repository.
    #[error("{}", no_such_revision(url, revision, available))]
    NoSuchRevision {
        /// The URL.
        url: String,
        /// What was asked for.
        revision: Revision,
        /// The names of that kind the repository has.
        available: Vec<String>,
    },
    /// A commit id that the repository does not have (or is ambiguous).
    #[error("`{url}` has no commit `{commit}`: {message}\n  hint: check the id (`git log` in a clone shows them), or build a tag or branch: `--tag NAME`, `--branch NAME`")]
    NoSuchCommit {
        /// The URL.
        url: String,
        /// The id as given.
        commit: String,
        /// git's message.
        message: String,
    },
    /// The checkout has no `Cargo.toml` where the crate should be.
    #[error("{}", no_crate(url, commit, subdir.as_deref(), found))]
    NoCrate {
        /// The URL.
        url: String,
        /// The commit (short).
        commit: String,
        /// `--subdir`, if given.
        subdir: Option<String>,
        /// The `Cargo.toml` files found elsewhere in the repository (relative paths).
        found: Vec<String>,
    },
    /// `--subdir` leads outside the checkout through a symbolic link.
    #[error("`--subdir` `{subdir}` of `{url}` at {commit} leads outside the repository (through a symbolic link)\n  hint: give the folder the link points to inside the repository")]
    SubdirEscapes {
        /// The URL.
        url: String,
        /// The commit (short).
        commit: String,
        /// The subdir.
        subdir: String,
    },
    /// A git step failed for another reason (network, disk).
    #[error("`{step}` failed for `{url}`: {message}\n  hint: run it by hand to see more; `--cache-dir` chooses another cache folder")]
    Git {
        /// The step, as a short command (`git fetch`).
        step: &'static str,
        /// The URL.
        url: String,
        /// git's message.
        message: String,
    },
    /// git could not be started.
    #[error("cannot run git")]
    GitSpawn(#[source] ProcessError),
    /// The cache folder could not be used.
    #[error("cannot {action} `{}` (the git cache)\n  hint: choose another folder with `--cache-dir DIR` or PLUGIN_BUILD_CACHE_DIR", .path.display())]
    Cache {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// `cap` refused or failed.
    #[error("cannot cap `{url}` at {commit} against `{}`{}", .host.display(), hint_line(hint))]
    Cap {
        /// The URL.
        url: String,
        /// The commit (short).
        commit: String,
        /// The host's lock.
        host: PathBuf,
        /// cap's own hint.
        hint: Option<String>,
        /// Why.
        #[source]
        source: Box<CapError>,
    },
    /// The build failed.
    #[error("cannot build `{url}` at {commit} (checked out in `{}`)", .checkout.display())]
    Build {
        /// The URL.
        url: String,
        /// The commit (short).
        commit: String,
        /// The checkout's crate folder (paths in the cause are there).
        checkout: PathBuf,
        /// Why.
        #[source]
        source: Box<BuildError>,
    },
    /// Packaging failed.
    #[error("cannot package `{url}` at {commit}")]
    Package {
        /// The URL.
        url: String,
        /// The commit (short).
        commit: String,
        /// Why.
        #[source]
        source: Box<PackageError>,
    },
    /// The package could not be written to `--out-dir`.
    #[error("cannot write `{}`", .path.display())]
    Output {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn hint_line(hint: &Option<String>) -> String {
    hint.as_ref()
        .map(|h| format!("\n  hint: {h}"))
        .unwrap_or_default()
}

fn listing(names: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

fn no_such_revision(url: &str, revision: &Revision, available: &[String]) -> String {
    let (plural, flag) = match revision {
        Revision::Tag(_) => ("tags", "--tag"),
        Revision::Branch(_) | Revision::Default => ("branches", "--branch"),
        Revision::Rev(_) => ("branches and tags", "--rev"),
    };
    let found = if available.is_empty() {
        format!("it has no {plural}")
    } else {
        format!("its {plural}: {}", listing(available))
    };
    let fix = match revision {
        Revision::Default => format!(
            "choose a branch with `--branch NAME`{}",
            available
                .first()
                .map(|b| format!(" (e.g. `--branch {b}`)"))
                .unwrap_or_default()
        ),
        _ => format!(
            "use one of those with `{flag}`, or push it first (`git push origin {}`)",
            revision.name()
        ),
    };
    let wanted = match revision {
        Revision::Default => "default branch (its HEAD names none)".to_owned(),
        other => other.to_string(),
    };
    format!("`{url}` has no {wanted}; {found}\n  hint: {fix}")
}

fn no_crate(url: &str, commit: &str, subdir: Option<&str>, found: &[String]) -> String {
    let place = match subdir {
        Some(dir) => format!("in `{dir}`"),
        None => "at its root".to_owned(),
    };
    let (seen, fix) = match found.first() {
        None => (
            "found no Cargo.toml anywhere in it".to_owned(),
            "build a repository that holds a plugin crate (`plugin-build new` makes one)"
                .to_owned(),
        ),
        Some(first) => {
            let dir = first.trim_end_matches("Cargo.toml").trim_end_matches('/');
            (
                format!("found {}", listing(found)),
                if dir.is_empty() {
                    "leave out `--subdir`: the crate is at the root".to_owned()
                } else {
                    format!("point at the crate's folder: `--subdir {dir}`")
                },
            )
        }
    };
    format!("`{url}` at {commit} has no plugin crate {place}: expected a Cargo.toml there, {seen}\n  hint: {fix}")
}
