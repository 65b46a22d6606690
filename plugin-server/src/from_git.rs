//! Installing a plugin from a git repository (administrators, on a server started with
//! `--git-builds`): the server runs `plugin-build from-git` as a separate process (the build
//! tool is never linked into the server), with the host's target and lock, in a temporary
//! output folder and the server's own checkout cache (`<data-dir>/git-cache`), within the
//! configured time. The `.plg` it writes then goes through [`crate::install::install`], the
//! verification and atomic install of every upload; a refusal of the build (a missing tag, a
//! repository without a plugin crate) answers 400 with `plugin-build`'s own message and hint.
//! A server that trusts only signed plugins passes its `--git-sign-key` on (`--sign`), and
//! without one refuses before building: the unsigned package would be refused anyway.

use std::{process::Stdio, sync::Arc};

use crate::{config::GitBuilds, error::ApiError, state::AppState};
use plugrack_host::host_target_name;

/// A git source to build: `git` with at most one of `tag`, `branch`, `rev`, and `subdir`.
#[derive(Debug, Clone, Default)]
pub struct GitSource {
    /// The repository (https://, ssh://, git://, file:// URL, user@host:path or absolute path).
    pub git: String,
    /// Build this tag.
    pub tag: Option<String>,
    /// Build the tip of this branch.
    pub branch: Option<String>,
    /// Build this commit (full or abbreviated) or ref name.
    pub rev: Option<String>,
    /// The plugin crate's folder in the repository.
    pub subdir: Option<String>,
}

/// Builds the package from `source` and returns its file name and bytes.
pub async fn build(app: &Arc<AppState>, source: &GitSource) -> Result<(String, Vec<u8>), ApiError> {
    let Some(settings) = &app.config.git_builds else {
        return Err(ApiError::conflict(
            "this server does not install plugins from git",
            "start plugin-server with `--git-builds` (it then runs `plugin-build from-git`, \
             which runs the repository's build scripts on the server), or build the package \
             yourself and upload it",
        ));
    };
    // Refused before building: a build of many minutes that the install would then refuse
    // for its missing signature helps nobody.
    if !app.config.trusted_keys.is_empty() && settings.sign_key.is_none() {
        return Err(ApiError::conflict(
            "this server accepts only signed plugins (`--trusted-key`), and its builds from git \
             are unsigned; nothing was built or installed",
            "start plugin-server with `--git-sign-key SECRET_KEY` (a key made by `plugin-build \
             keygen` whose public key is one of the trusted keys), or build and sign the package \
             yourself (`plugin-build from-git --sign KEY`) and upload it",
        ));
    }
    let revisions = [
        ("tag", &source.tag),
        ("branch", &source.branch),
        ("rev", &source.rev),
    ];
    let given: Vec<&str> = revisions
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(k, _)| *k)
        .collect();
    if given.len() > 1 {
        return Err(ApiError::bad_request(
            format!(
                "give one of `tag`, `branch` and `rev`, not {}",
                given.join(" and ")
            ),
            "name the revision once: {\"git\": \"...\", \"tag\": \"v1.0.0\"}",
        ));
    }
    let out = tempfile::tempdir()
        .map_err(|e| ApiError::Internal(format!("cannot make a temporary folder: {e}")))?;
    let mut command = tokio::process::Command::new(&settings.plugin_build);
    command
        .arg("from-git")
        .arg("--target")
        .arg(host_target_name())
        // The host's own target, built natively: no containers or cross linkers needed.
        .args(["--backend", "cargo"])
        .arg("--out-dir")
        .arg(out.path())
        .arg("--cache-dir")
        .arg(app.config.git_cache_dir());
    for (flag, value) in revisions.iter().chain([("subdir", &source.subdir)].iter()) {
        if let Some(value) = value {
            // `--flag=value`: a value starting with `-` stays a value.
            command.arg(format!("--{flag}={value}"));
        }
    }
    if let Some(lock) = &settings.cap_from {
        command.arg(format!("--cap-from={}", lock.display()));
    }
    if let Some(key) = &settings.sign_key {
        let mut sign = std::ffi::OsString::from("--sign=");
        sign.push(key);
        command.arg(sign);
    }
    command
        .arg("--")
        .arg(&source.git)
        .current_dir(out.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A build cut off by the time limit (or a dropped request) does not run on.
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| ApiError::Fetch {
        error: format!(
            "cannot run `{}` to build from git: {e}",
            settings.plugin_build.display()
        ),
        hint: Some(
            "install plugin-build on the server, or start it with `--plugin-build PATH`".into(),
        ),
        status: 503,
    })?;
    let output = tokio::time::timeout(settings.timeout, child.wait_with_output())
        .await
        .map_err(|_| timed_out(settings))?
        .map_err(|e| ApiError::Internal(format!("waiting for plugin-build failed: {e}")))?;
    if !output.status.success() {
        return Err(refusal(&String::from_utf8_lossy(&output.stderr)));
    }
    tracing::info!(
        "built {} from git: {}",
        source.git,
        String::from_utf8_lossy(&output.stdout).trim()
    );
    let package = std::fs::read_dir(out.path())
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .find(|path| path.extension().is_some_and(|e| e == "plg"))
        .ok_or_else(|| {
            ApiError::Internal("plugin-build from-git succeeded but wrote no .plg".into())
        })?;
    let name = package
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bytes = std::fs::read(&package)
        .map_err(|e| ApiError::Internal(format!("cannot read `{}`: {e}", package.display())))?;
    Ok((name, bytes))
}

fn timed_out(settings: &GitBuilds) -> ApiError {
    ApiError::Fetch {
        error: format!(
            "building from git took longer than {} s and was stopped; nothing was installed",
            settings.timeout.as_secs()
        ),
        hint: Some("start the server with a longer `--build-timeout-secs`".into()),
        status: 504,
    }
}

/// `plugin-build`'s refusal as an API error: its `error:` line with the causes after it, and
/// its `hint:` line.
fn refusal(stderr: &str) -> ApiError {
    let mut error = Vec::new();
    let mut hint = None;
    let mut in_error = false;
    for line in stderr.lines() {
        let trimmed = line.trim();
        if let Some(text) = trimmed.strip_prefix("error: ") {
            in_error = true;
            error.push(text.to_owned());
        } else if let Some(text) = trimmed.strip_prefix("hint: ") {
            hint = Some(text.to_owned());
        } else if in_error && !trimmed.is_empty() {
            error.push(trimmed.to_owned());
        }
    }
    if error.is_empty() {
        error.push(
            stderr
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("plugin-build from-git failed without a message")
                .trim()
                .to_owned(),
        );
    }
    ApiError::bad_request(
        format!("{}; nothing was installed", error.join("\n")),
        hint.unwrap_or_else(|| "fix the repository or the request and try again".into()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_keeps_the_message_its_causes_and_the_hint() {
        let stderr = "   Resolving tag `v9` of file:///r.git\n\
            error: `file:///r.git` has no tag `v9`; its tags: `v1`\n  \
            hint: use one of those with `--tag`\n";
        let ApiError::BadRequest { error, hint } = refusal(stderr) else {
            panic!("a 400")
        };
        assert_eq!(
            error,
            "`file:///r.git` has no tag `v9`; its tags: `v1`; nothing was installed"
        );
        assert_eq!(hint.as_deref(), Some("use one of those with `--tag`"));
        let ApiError::BadRequest { error, .. } =
            refusal("error: cannot build `u` at abc\n  caused by: package `x` is not a cdylib\n")
        else {
            panic!("a 400")
        };
        assert!(
            error.contains("caused by: package `x` is not a cdylib"),
            "{error}"
        );
    }
}
