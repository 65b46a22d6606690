//! `plugin-build from-git URL`: builds a plugin from a git repository, the way go-plugin's
//! `source.mode = remote_git` means to: resolve the revision ([`remote`]: `--tag`, `--branch`,
//! `--rev`, or the default branch), check out exactly that commit into the cache
//! ([`checkout`]: shallow, one folder per URL and commit), then run the normal pipeline in
//! the crate's folder (`--subdir`): `cap` against the host's lock (`--cap-from`), build,
//! package. The package's `plugin.toml` records the URL (without credentials), the commit and
//! the subdir in its `[source]` table, and the `.plg` is written to `--out-dir`.
//!
//! git is the real `git` program, run through [`crate::process`] like every other tool here
//! (so the user's credential helpers, SSH settings and `insteadOf` rules apply, and no C
//! library or second git implementation is compiled in). [`source`] checks the URL, revision
//! and subdir before anything runs; [`FromGitError`] says what went wrong and how to fix it.

pub mod checkout;
mod error;
pub mod remote;
pub mod source;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

pub use error::FromGitError;
use plugrack_host::manifest::ManifestSource;
pub use source::Revision;

use crate::{
    build::{self, BackendChoice, BuildArgs},
    cap::{self, CapOptions},
    package::{self, PackageArgs, Packaged},
};

/// Arguments of `plugin-build from-git`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FromGitArgs {
    /// The repository: https://, ssh://, git://, file:// URL, user@host:path, or an absolute path.
    #[arg(value_name = "URL")]
    pub url: String,

    /// Build this commit (full or abbreviated id) or ref name.
    #[arg(long, value_name = "REV", group = "revision")]
    pub rev: Option<String>,

    /// Build this tag.
    #[arg(long, value_name = "TAG", group = "revision")]
    pub tag: Option<String>,

    /// Build the tip of this branch (default: the repository's default branch).
    #[arg(long, value_name = "BRANCH", group = "revision")]
    pub branch: Option<String>,

    /// The plugin crate's folder in the repository (default: its root).
    #[arg(long, value_name = "PATH")]
    pub subdir: Option<String>,

    /// The host's Cargo.lock (or folder) to pin the plugin's shared crates to, as `cap --from`.
    #[arg(long, value_name = "HOST")]
    pub cap_from: Option<PathBuf>,

    /// Targets to build (as `build --target`); default: this machine's.
    #[arg(long, value_delimiter = ',', value_name = "TARGET")]
    pub target: Vec<String>,

    /// How to build (as `build --backend`).
    #[arg(long, value_enum, default_value_t, value_name = "BACKEND")]
    pub backend: BackendChoice,

    /// Build with the dev profile instead of release.
    #[arg(long)]
    pub debug: bool,

    /// Sign `plugin.toml` with this secret key (as `package --sign`).
    #[arg(long, value_name = "FILE", env = "PLUGIN_BUILD_SIGNING_KEY")]
    pub sign: Option<PathBuf>,

    /// Where to write the `.plg` (default: the current folder).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// The cache of checkouts (default: PLUGIN_BUILD_CACHE_DIR, else ~/.cache/plugin-build).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl FromGitArgs {
    /// The revision the flags ask for.
    pub fn revision(&self) -> Revision {
        match (&self.rev, &self.tag, &self.branch) {
            (Some(rev), _, _) => Revision::Rev(rev.clone()),
            (_, Some(tag), _) => Revision::Tag(tag.clone()),
            (_, _, Some(branch)) => Revision::Branch(branch.clone()),
            _ => Revision::Default,
        }
    }
}

/// What `from-git` produced.
#[derive(Debug)]
pub struct FromGit {
    /// The source recorded in `plugin.toml`.
    pub source: ManifestSource,
    /// The checkout it was built in.
    pub checkout: PathBuf,
    /// True when the checkout was in the cache already.
    pub reused: bool,
    /// The package, with its path in `--out-dir`.
    pub packaged: Packaged,
}

/// A cargo-style status line on stderr.
fn status(word: &str, text: &str) {
    eprintln!("{word:>12} {text}");
}

/// Runs `from-git` from the command line: status on stderr, the package's path on stdout.
pub fn run(args: &FromGitArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let built = from_git(args)?;
    let base = std::env::current_dir().unwrap_or_default();
    let shown = build::report::display_path(&built.packaged.path, &base);
    status(
        "Packaged",
        &format!(
            "{} {} from {} at {} into {shown}",
            built.packaged.manifest.plugin.id,
            built.packaged.manifest.plugin.version,
            built.source.git,
            &built.source.commit[..12]
        ),
    );
    println!("{shown}");
    Ok(ExitCode::SUCCESS)
}

/// Checks the request, checks out the commit and builds the package, as `args` say.
pub fn from_git(args: &FromGitArgs) -> Result<FromGit, FromGitError> {
    let url = source::check_url(&args.url)?;
    let revision = args.revision();
    source::check_revision(&revision)?;
    let subdir = args
        .subdir
        .as_deref()
        .map(source::check_subdir)
        .transpose()?;
    let checkout = fetch(&url, &revision, args.cache_dir.as_deref())?;
    status(
        if checkout.reused {
            "Reusing"
        } else {
            "Fetched"
        },
        &format!("{} into {}", checkout.commit, checkout.dir.display()),
    );

    let crate_dir = crate_dir(&url, &checkout, subdir.as_deref())?;
    let manifest_path = crate_dir.join("Cargo.toml");
    let short = checkout.short().to_owned();
    if let Some(host) = &args.cap_from {
        let outcome = cap::cap(&CapOptions {
            from: host.clone(),
            manifest_path: Some(manifest_path.clone()),
            mode: cap::Mode::Apply,
            offline: false,
        });
        let failure = match outcome {
            Ok(outcome) => match outcome.failure() {
                None => {
                    status(
                        "Capped",
                        &format!(
                            "{} shared crates to the versions in `{}`",
                            outcome.plan.pins.len(),
                            outcome.host.path.display()
                        ),
                    );
                    None
                }
                Some(failure) => Some(failure),
            },
            Err(e) => Some(e),
        };
        if let Some(source) = failure {
            return Err(FromGitError::Cap {
                url: url.shown().to_owned(),
                commit: short,
                host: host.clone(),
                hint: Some(source.hint()),
                source: Box::new(source),
            });
        }
    }

    build::build(&BuildArgs {
        target: args.target.clone(),
        backend: args.backend,
        debug: args.debug,
        manifest_path: Some(manifest_path.clone()),
        table_on_stderr: true,
        ..BuildArgs::default()
    })
    .map_err(|source| FromGitError::Build {
        url: url.shown().to_owned(),
        commit: short.clone(),
        checkout: crate_dir.clone(),
        source: Box::new(source),
    })?;

    let recorded = ManifestSource {
        git: url.shown().to_owned(),
        commit: checkout.commit.clone(),
        subdir: subdir.clone(),
    };
    let mut packaged = package::package(&PackageArgs {
        manifest_path: Some(manifest_path),
        out_dir: None,
        sign: args.sign.clone(),
        source: Some(recorded.clone()),
        ..PackageArgs::default()
    })
    .map_err(|source| FromGitError::Package {
        url: url.shown().to_owned(),
        commit: short,
        source: Box::new(source),
    })?;

    // The package leaves the cache: written whole into --out-dir (a watcher never sees half).
    let out_dir = match &args.out_dir {
        Some(dir) => std::path::absolute(dir).unwrap_or_else(|_| dir.clone()),
        None => std::env::current_dir().unwrap_or_default(),
    };
    let destination = out_dir.join(package::file_name(&packaged.manifest));
    let output = |source| FromGitError::Output {
        path: destination.clone(),
        source,
    };
    std::fs::create_dir_all(&out_dir).map_err(output)?;
    let bytes = std::fs::read(&packaged.path).map_err(output)?;
    crate::fsutil::write_atomic(&destination, &bytes).map_err(output)?;
    packaged.path = destination;
    Ok(FromGit {
        source: recorded,
        checkout: checkout.dir.clone(),
        reused: checkout.reused,
        packaged,
    })
}

/// Resolves `revision` in the repository at `url` and checks that commit out into the cache
/// (`cache_dir`, else [`checkout::cache_root`]'s default). The checkout stays locked until the
/// returned value is dropped.
pub fn fetch(
    url: &source::RepoUrl,
    revision: &Revision,
    cache_dir: Option<&Path>,
) -> Result<checkout::Checkout, FromGitError> {
    if which::which("git").is_err() {
        return Err(FromGitError::GitMissing);
    }
    status("Resolving", &format!("{revision} of {url}"));
    let listing = checkout::git()
        .args(["ls-remote", "--symref"])
        .arg(url.for_git())
        .output()
        .map_err(|e| FromGitError::Unreachable {
            url: url.shown().to_owned(),
            message: checkout::git_message(url, &e),
        })?;
    let refs = remote::Refs::parse(&String::from_utf8_lossy(&listing.stdout));
    let resolved = refs.resolve(url, revision)?;
    checkout::checkout(&checkout::cache_root(cache_dir), url, &resolved)
}

/// The crate's folder in the checkout, which must hold a `Cargo.toml` and stay inside it.
fn crate_dir(
    url: &source::RepoUrl,
    checkout: &checkout::Checkout,
    subdir: Option<&str>,
) -> Result<PathBuf, FromGitError> {
    let no_crate = || FromGitError::NoCrate {
        url: url.shown().to_owned(),
        commit: checkout.short().to_owned(),
        subdir: subdir.map(str::to_owned),
        found: find_manifests(&checkout.dir),
    };
    let dir = match subdir {
        Some(subdir) => checkout.dir.join(subdir),
        None => checkout.dir.clone(),
    };
    let Ok(real) = dir.canonicalize() else {
        return Err(no_crate());
    };
    let root = checkout
        .dir
        .canonicalize()
        .unwrap_or_else(|_| checkout.dir.clone());
    if !real.starts_with(&root) {
        return Err(FromGitError::SubdirEscapes {
            url: url.shown().to_owned(),
            commit: checkout.short().to_owned(),
            subdir: subdir.unwrap_or_default().to_owned(),
        });
    }
    if !real.join("Cargo.toml").is_file() {
        return Err(no_crate());
    }
    Ok(real)
}

/// The `Cargo.toml` files in a checkout, three folders deep at most (for the hint), without
/// `target/` and `.git/`.
fn find_manifests(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![(root.to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut entries: Vec<_> = entries.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let name = entry.file_name();
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() && depth < 3 && name != ".git" && name != "target" {
                stack.push((path, depth + 1));
            } else if kind.is_file() && name == "Cargo.toml" {
                if let Ok(relative) = path.strip_prefix(root) {
                    found.push(relative.to_string_lossy().into_owned());
                }
            }
        }
    }
    found.sort();
    found
}
