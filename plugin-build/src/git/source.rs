//! What `from-git` is asked to build, checked before any git command runs: the repository URL
//! (the forms git understands, no remote helpers, no option-looking text), the revision
//! (`--rev`, `--tag`, `--branch` or the default branch) and the crate's folder in the
//! repository (`--subdir`, relative, never climbing out with `..`). Also what of the URL may be
//! recorded and shown: never a password or token.

use std::fmt;

use super::FromGitError;

/// The repository URL forms accepted, for messages.
pub const URL_FORMS: &str =
    "https://..., http://..., ssh://..., git://..., file:///..., user@host:path or an absolute path";

/// A repository URL that passed [`check_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoUrl {
    raw: String,
    shown: String,
}

impl RepoUrl {
    /// The URL as given, for git (it may hold credentials: never print it).
    pub fn for_git(&self) -> &str {
        &self.raw
    }

    /// The URL without credentials: what messages show and `plugin.toml` records.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// `text` with the URL as given replaced by the shown one (for git's own messages).
    pub fn redact(&self, text: &str) -> String {
        if self.raw == self.shown {
            text.to_owned()
        } else {
            text.replace(&self.raw, &self.shown)
        }
    }
}

impl fmt::Display for RepoUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Checks `url` against the forms git understands and this tool accepts.
pub fn check_url(url: &str) -> Result<RepoUrl, FromGitError> {
    let bad = |why: &str| FromGitError::BadUrl {
        url: redact_credentials(url),
        why: why.to_owned(),
    };
    let url = url.trim();
    if url.is_empty() {
        return Err(bad("it is empty"));
    }
    if url.starts_with('-') {
        return Err(bad("it starts with `-` (git would read it as an option)"));
    }
    if url.chars().any(|c| c.is_control()) {
        return Err(bad("it holds control characters"));
    }
    if url.contains("::") {
        // `ext::sh -c ...` runs a command; remote helpers are not repositories.
        return Err(bad("it names a git remote helper (`transport::address`)"));
    }
    if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git" | "file") {
            return Err(bad(&format!("`{scheme}://` is not a git transport")));
        }
        if rest.trim_matches('/').is_empty() {
            return Err(bad("it names no host or path"));
        }
    } else if url.starts_with('/') {
        // An absolute local path: git reads it like a file:// URL.
    } else if let Some((host, path)) = url.split_once(':') {
        // scp-like `[user@]host:path`; git reads a `/` before the colon as a local path.
        if host.is_empty() || host.contains('/') || path.is_empty() {
            return Err(bad("it is neither a URL nor `user@host:path`"));
        }
    } else {
        return Err(bad(
            "it is a relative path (the cache is keyed by URL: use an absolute path or file://)",
        ));
    }
    Ok(RepoUrl {
        raw: url.to_owned(),
        shown: redact_credentials(url),
    })
}

/// `url` without a password or token: `https://user:secret@host/x` and
/// `https://TOKEN@host/x` become `https://host/x` (over HTTP a bare user name is often a
/// token); for other schemes only a password is dropped (`ssh://git@host/x` stays).
pub fn redact_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let kept = match scheme {
        "http" | "https" => String::new(),
        _ => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}@"),
            None => format!("{userinfo}@"),
        },
    };
    format!("{scheme}://{kept}{host}{path}")
}

/// Which revision to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revision {
    /// The repository's default branch (its `HEAD`).
    Default,
    /// `--tag`: a tag.
    Tag(String),
    /// `--branch`: the tip of a branch.
    Branch(String),
    /// `--rev`: a full or abbreviated commit id, or any ref name.
    Rev(String),
}

impl Revision {
    /// What kind of name it is, for messages (`tag`, `branch`, `rev`).
    pub fn kind(&self) -> &'static str {
        match self {
            Revision::Default => "default branch",
            Revision::Tag(_) => "tag",
            Revision::Branch(_) => "branch",
            Revision::Rev(_) => "rev",
        }
    }

    /// The name as given (empty for the default branch).
    pub fn name(&self) -> &str {
        match self {
            Revision::Default => "",
            Revision::Tag(n) | Revision::Branch(n) | Revision::Rev(n) => n,
        }
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Revision::Default => f.write_str("the default branch"),
            other => write!(f, "{} `{}`", other.kind(), other.name()),
        }
    }
}

/// Checks a revision name: no option-looking text, no control characters, not empty.
pub fn check_revision(revision: &Revision) -> Result<(), FromGitError> {
    let name = revision.name();
    if matches!(revision, Revision::Default) {
        return Ok(());
    }
    let why = if name.is_empty() {
        Some("it is empty")
    } else if name.starts_with('-') {
        Some("it starts with `-`")
    } else if name.chars().any(|c| c.is_control() || c == ' ') {
        Some("it holds spaces or control characters")
    } else {
        None
    };
    match why {
        Some(why) => Err(FromGitError::BadRevision {
            kind: revision.kind(),
            name: name.to_owned(),
            why,
        }),
        None => Ok(()),
    }
}

/// Checks `--subdir`: relative, `/`-separated, no `.` or `..` component (the rule of
/// `plugin.toml`'s `source.subdir`). A trailing `/` is dropped.
pub fn check_subdir(subdir: &str) -> Result<String, FromGitError> {
    let trimmed = subdir.trim_end_matches('/');
    if plugrack_host::manifest::is_relative_subdir(trimmed) {
        Ok(trimmed.to_owned())
    } else {
        Err(FromGitError::BadSubdir {
            subdir: subdir.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_git_understands_pass_and_the_rest_are_refused_with_the_reason() {
        for ok in [
            "https://example.org/a/b.git",
            "http://example.org/a",
            "ssh://git@example.org/a.git",
            "git://example.org/a",
            "file:///srv/git/a.git",
            "git@example.org:a/b.git",
            "/srv/git/a.git",
        ] {
            assert!(check_url(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("-uhelp", "starts with `-`"),
            ("ext::sh -c touch% /tmp/pwned", "remote helper"),
            ("ftp://example.org/a", "`ftp://` is not a git transport"),
            ("file://", "no host or path"),
            ("repo", "relative path"),
            ("./repo", "relative path"),
            ("a/b:c", "neither a URL"),
            ("https://example.org/a\nb", "control characters"),
        ] {
            let err = check_url(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn credentials_never_reach_a_message_or_the_manifest() {
        let url = check_url("https://ada:s3cret@example.org/a.git").unwrap();
        assert_eq!(url.shown(), "https://example.org/a.git");
        assert_eq!(url.for_git(), "https://ada:s3cret@example.org/a.git");
        assert_eq!(
            url.redact("fatal: unable to access 'https://ada:s3cret@example.org/a.git/'"),
            "fatal: unable to access 'https://example.org/a.git/'"
        );
        assert_eq!(
            redact_credentials("https://ghp_token@example.org/a"),
            "https://example.org/a"
        );
        assert_eq!(
            redact_credentials("ssh://git:pw@example.org/a"),
            "ssh://git@example.org/a"
        );
        assert_eq!(
            redact_credentials("ssh://git@example.org/a@b"),
            "ssh://git@example.org/a@b"
        );
        let err = check_url("ftp://ada:s3cret@example.org/a").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn subdirs_stay_inside_the_repository() {
        assert_eq!(check_subdir("plugins/hello/").unwrap(), "plugins/hello");
        for bad in ["../x", "a/../../b", "/etc", "a/./b", "", "a\\b"] {
            let err = check_subdir(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
        assert!(check_revision(&Revision::Tag("--upload-pack=x".into())).is_err());
        assert!(check_revision(&Revision::Branch("main".into())).is_ok());
    }
}
