//! What the repository offers (`git ls-remote --symref`, one round trip) and which commit a
//! revision names there: the default branch's tip, a tag (peeled to its commit), a branch's
//! tip, a full commit id, or a ref name. An abbreviated commit id cannot be asked for over the
//! wire; [`Resolved::Abbreviated`] leaves it to the checkout, which fetches the history and
//! asks git.

use super::{
    source::{RepoUrl, Revision},
    FromGitError,
};

/// The refs a repository advertises.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refs {
    /// The default branch's tip, if the repository has commits.
    pub head: Option<String>,
    /// The default branch's name (`main`), when the server says.
    pub head_branch: Option<String>,
    /// `(refs/..., object id)` in the order listed; a tag's peeled commit is `refs/tags/x^{}`.
    pub refs: Vec<(String, String)>,
}

/// A revision resolved against [`Refs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A commit, and the ref to fetch it by (`None`: fetch it by id).
    Commit {
        /// The full commit id.
        commit: String,
        /// The ref that names it, fetched by name (servers always allow that).
        fetch: Option<String>,
    },
    /// An abbreviated commit id that no advertised ref has: resolved after fetching.
    Abbreviated(String),
}

impl Refs {
    /// Parses `git ls-remote --symref` output.
    pub fn parse(text: &str) -> Refs {
        let mut refs = Refs::default();
        for line in text.lines() {
            if let Some(symref) = line.strip_prefix("ref: ") {
                if let Some((target, "HEAD")) = symref.split_once('\t') {
                    refs.head_branch = target.strip_prefix("refs/heads/").map(str::to_owned);
                }
                continue;
            }
            let Some((id, name)) = line.split_once('\t') else {
                continue;
            };
            if name == "HEAD" {
                refs.head = Some(id.to_owned());
            } else {
                refs.refs.push((name.to_owned(), id.to_owned()));
            }
        }
        refs
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.refs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id.as_str())
    }

    /// The names under `prefix` (`refs/tags/`), without it and without peeled entries.
    pub fn names(&self, prefix: &str) -> Vec<String> {
        self.refs
            .iter()
            .filter_map(|(n, _)| n.strip_prefix(prefix))
            .filter(|n| !n.ends_with("^{}"))
            .map(str::to_owned)
            .collect()
    }

    /// The commit a tag names (its peeled commit for an annotated tag).
    fn tag(&self, name: &str) -> Option<&str> {
        self.get(&format!("refs/tags/{name}^{{}}"))
            .or_else(|| self.get(&format!("refs/tags/{name}")))
    }

    /// Which commit `revision` names, or why none.
    pub fn resolve(&self, url: &RepoUrl, revision: &Revision) -> Result<Resolved, FromGitError> {
        let commit = |id: &str, fetch: String| Resolved::Commit {
            commit: id.to_owned(),
            fetch: Some(fetch),
        };
        let missing = |available: Vec<String>| FromGitError::NoSuchRevision {
            url: url.shown().to_owned(),
            revision: revision.clone(),
            available,
        };
        match revision {
            Revision::Default => match &self.head {
                Some(id) => Ok(commit(id, "HEAD".into())),
                None if self.refs.is_empty() => Err(FromGitError::EmptyRepository {
                    url: url.shown().to_owned(),
                }),
                None => Err(missing(self.names("refs/heads/"))),
            },
            Revision::Tag(name) => self
                .tag(name)
                .map(|id| commit(id, format!("refs/tags/{name}")))
                .ok_or_else(|| missing(self.names("refs/tags/"))),
            Revision::Branch(name) => self
                .get(&format!("refs/heads/{name}"))
                .map(|id| commit(id, format!("refs/heads/{name}")))
                .ok_or_else(|| missing(self.names("refs/heads/"))),
            Revision::Rev(rev) => {
                let lower = rev.to_ascii_lowercase();
                if plugrack_host::manifest::is_object_id(&lower) {
                    // Fetched by its name when a ref has it, else by id.
                    let by_ref = self
                        .refs
                        .iter()
                        .find(|(n, id)| *id == lower && !n.ends_with("^{}"))
                        .map(|(n, _)| n.clone());
                    return Ok(Resolved::Commit {
                        commit: lower,
                        fetch: by_ref,
                    });
                }
                if rev == "HEAD" {
                    return Self::resolve(self, url, &Revision::Default);
                }
                if let Some(id) = self.tag(rev) {
                    return Ok(commit(id, format!("refs/tags/{rev}")));
                }
                for name in [format!("refs/heads/{rev}"), rev.clone()] {
                    if let Some(id) = self.get(&name) {
                        return Ok(commit(id, name));
                    }
                }
                if lower.len() >= 4 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Ok(Resolved::Abbreviated(lower));
                }
                let mut available = self.names("refs/heads/");
                available.extend(self.names("refs/tags/"));
                Err(missing(available))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::source::check_url;

    const LISTING: &str = "ref: refs/heads/main\tHEAD\n\
        1111111111111111111111111111111111111111\tHEAD\n\
        1111111111111111111111111111111111111111\trefs/heads/main\n\
        2222222222222222222222222222222222222222\trefs/heads/next\n\
        3333333333333333333333333333333333333333\trefs/tags/v1.0.0\n\
        4444444444444444444444444444444444444444\trefs/tags/v1.0.0^{}\n\
        5555555555555555555555555555555555555555\trefs/tags/light\n";

    #[test]
    fn each_kind_of_revision_resolves_to_its_commit() {
        let refs = Refs::parse(LISTING);
        let url = check_url("file:///r.git").unwrap();
        assert_eq!(refs.head_branch.as_deref(), Some("main"));
        let resolve = |r: Revision| match refs.resolve(&url, &r).unwrap() {
            Resolved::Commit { commit, fetch } => (commit[..1].to_owned(), fetch),
            Resolved::Abbreviated(p) => (format!("abbrev {p}"), None),
        };
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(resolve(Revision::Default), ("1".into(), some("HEAD")));
        // An annotated tag is peeled to the commit it names.
        assert_eq!(
            resolve(Revision::Tag("v1.0.0".into())),
            ("4".into(), some("refs/tags/v1.0.0"))
        );
        assert_eq!(
            resolve(Revision::Tag("light".into())),
            ("5".into(), some("refs/tags/light"))
        );
        assert_eq!(
            resolve(Revision::Branch("next".into())),
            ("2".into(), some("refs/heads/next"))
        );
        assert_eq!(
            resolve(Revision::Rev("next".into())),
            ("2".into(), some("refs/heads/next"))
        );
        assert_eq!(
            resolve(Revision::Rev("2".repeat(40))),
            ("2".into(), some("refs/heads/next"))
        );
        assert_eq!(resolve(Revision::Rev("a".repeat(40))), ("a".into(), None));
        assert_eq!(
            resolve(Revision::Rev("ABCD12".into())),
            ("abbrev abcd12".into(), None)
        );
    }

    #[test]
    fn a_missing_revision_lists_what_is_there() {
        let refs = Refs::parse(LISTING);
        let url = check_url("file:///r.git").unwrap();
        let err = refs
            .resolve(&url, &Revision::Tag("v9".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("`file:///r.git` has no tag `v9`"), "{err}");
        assert!(err.contains("its tags: `v1.0.0`, `light`"), "{err}");
        let err = refs
            .resolve(&url, &Revision::Branch("nope".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("its branches: `main`, `next`"), "{err}");
        let empty = Refs::parse("");
        assert!(matches!(
            empty.resolve(&url, &Revision::Default),
            Err(FromGitError::EmptyRepository { .. })
        ));
    }
}
