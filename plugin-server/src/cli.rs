//! The command line: `plugin-server --plugins-dir DIR --data-dir DIR [--listen ADDR] ...`.
//!
//! Exit codes: [`EXIT_SUCCESS`] after a clean shutdown (Ctrl-C or SIGTERM), [`EXIT_FAILURE`]
//! when the server cannot start or fails, [`EXIT_USAGE`] for a refused command line.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;
use plugrack_host::trust::{KeyError, TrustedKey};

use crate::{
    calls::CallMode,
    config::{GitBuilds, ServerConfig},
    server::{Server, ADMIN_PASSWORD_VARIABLE},
};

/// Exit code: stopped cleanly.
pub const EXIT_SUCCESS: u8 = 0;
/// Exit code: could not start, or failed while serving.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the command line was refused.
pub const EXIT_USAGE: u8 = 2;

/// The plugrack reference server: plugins over HTTP, per-user instances, webhooks, a web page.
#[derive(Debug, Parser)]
#[command(name = "plugin-server", version)]
pub struct Args {
    /// The external plugins folder: watched, and where uploaded packages are installed.
    #[arg(long, value_name = "DIR", env = "PLUGINS_DIR")]
    pub plugins_dir: PathBuf,
    /// Plugins shipped with the server (they win an id over external ones).
    #[arg(long, value_name = "DIR")]
    pub bundled_dir: Option<PathBuf>,
    /// The database, plugin storage and configurations, and per-plugin logs.
    #[arg(long, value_name = "DIR", env = "PLUGIN_SERVER_DATA_DIR")]
    pub data_dir: PathBuf,
    /// The address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        env = "PLUGIN_SERVER_LISTEN"
    )]
    pub listen: SocketAddr,
    /// The URL people reach the server at (webhook URLs, plugins' display text); default:
    /// `http://` and the request's Host header.
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// The host version plugins' `host-version` requirements are checked against.
    #[arg(long, value_name = "SEMVER", default_value = "1.0.0")]
    pub host_version: semver::Version,
    /// The largest request body a plugin route accepts, in KiB.
    #[arg(long, value_name = "KIB", default_value_t = 1024)]
    pub max_body_kib: usize,
    /// The largest package accepted by upload or download, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64)]
    pub max_package_mib: usize,
    /// How long a package download may take, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub fetch_timeout_secs: u64,
    /// How long a plugin's on_load and on_unload may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub lifecycle_timeout_ms: u64,
    /// How plugin calls run: block-in-place, spawn-blocking or inline (see docs/server.md).
    #[arg(long, value_name = "MODE", default_value = "block-in-place")]
    pub calls: CallMode,
    /// How long in-flight requests may run after Ctrl-C or SIGTERM, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
    /// How long a connection may take to send a request's headers before it is closed (also
    /// how long a kept-alive connection may stay idle), in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout_secs: u64,
    /// Trust signatures by this minisign public key (repeatable; made by `plugin-build
    /// keygen`). With any, uploads, downloads and plugins in the folders must be signed by one.
    #[arg(long, value_name = "KEY.pub")]
    pub trusted_key: Vec<PathBuf>,
    /// Load plugin files where they are, without a private copy (faster, less memory). The
    /// server's own installs replace files by renames; a file copied over a loaded one in
    /// the plugins folder by hand (`cp`) would crash the server: use `mv` there.
    #[arg(long)]
    pub load_in_place: bool,
    /// Let administrators install plugins from git repositories: the server runs
    /// `plugin-build from-git` (which runs the repository's build scripts on this machine).
    #[arg(long)]
    pub git_builds: bool,
    /// The plugin-build program for installs from git.
    #[arg(
        long,
        value_name = "PROGRAM",
        default_value = "plugin-build",
        requires = "git_builds"
    )]
    pub plugin_build: PathBuf,
    /// The host Cargo.lock plugins from git are capped against (default: each repository's own).
    #[arg(long, value_name = "FILE", requires = "git_builds")]
    pub git_cap_from: Option<PathBuf>,
    /// How long one build from git may take, in seconds.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 1800,
        requires = "git_builds"
    )]
    pub build_timeout_secs: u64,
    /// Sign each build from git with this minisign secret key (made by `plugin-build
    /// keygen`), so that a server with `--trusted-key` accepts its own builds: its public key
    /// must be one of the trusted keys. An encrypted key takes its passphrase from
    /// PLUGIN_BUILD_KEY_PASSWORD.
    #[arg(long, value_name = "SECRET_KEY", requires = "git_builds")]
    pub git_sign_key: Option<PathBuf>,
}

/// A command line whose keys cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A `--trusted-key` file cannot be read or is not a public key.
    #[error(transparent)]
    TrustedKey(#[from] KeyError),
    /// The `--git-sign-key` file cannot be read or decrypted.
    #[error(
        "`{}` (--git-sign-key) is not a usable minisign secret key: {reason}\n  hint: {}",
        path.display(),
        if *encrypted {
            "it is encrypted: set PLUGIN_BUILD_KEY_PASSWORD to its passphrase"
        } else {
            "make one with `plugin-build keygen --secret-key KEY --public-key KEY.pub`, pass KEY here and KEY.pub to `--trusted-key`"
        }
    )]
    SignKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
        /// Whether it is an encrypted key (then the passphrase is what is missing or wrong).
        encrypted: bool,
    },
    /// The `--git-sign-key`'s public key is not trusted: the server would refuse its builds.
    #[error(
        "the key `{}` (--git-sign-key, key id {id}) is not one of the trusted keys ({trusted}): the server would refuse its own builds from git\n  hint: give its public key too: `--trusted-key KEY.pub`",
        path.display()
    )]
    SignKeyNotTrusted {
        /// The secret key file.
        path: PathBuf,
        /// Its key id.
        id: String,
        /// The trusted keys' ids.
        trusted: String,
    },
}

/// Checks that the secret key at `path` can sign, and that its key id is among `trusted` when
/// any are given.
fn check_sign_key(path: &std::path::Path, trusted: &[TrustedKey]) -> Result<(), ConfigError> {
    let bad = |reason: String, encrypted: bool| ConfigError::SignKey {
        path: path.to_owned(),
        reason,
        encrypted,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string(), false))?;
    let sk_box =
        minisign::SecretKeyBox::from_string(&text).map_err(|e| bad(e.to_string(), false))?;
    let secret = match minisign::SecretKey::from_unencrypted_box(sk_box.clone()) {
        Ok(secret) => secret,
        Err(_) => {
            let password = std::env::var("PLUGIN_BUILD_KEY_PASSWORD").ok();
            if password.is_none() {
                return Err(bad("PLUGIN_BUILD_KEY_PASSWORD is not set".into(), true));
            }
            minisign::SecretKey::from_box(sk_box, password).map_err(|e| bad(e.to_string(), true))?
        }
    };
    let public =
        minisign::PublicKey::from_secret_key(&secret).map_err(|e| bad(e.to_string(), false))?;
    let id_bytes: [u8; 8] = public.keynum()[..8]
        .try_into()
        .expect("a key id is 8 bytes");
    let id = plugrack_host::trust::KeyId(id_bytes).to_string();
    if !trusted.is_empty() && !trusted.iter().any(|key| key.id().to_string() == id) {
        return Err(ConfigError::SignKeyNotTrusted {
            path: path.to_owned(),
            id,
            trusted: trusted
                .iter()
                .map(|key| key.id().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(())
}

impl Args {
    /// The server's settings; refused when a trusted key cannot be read, or the key that
    /// signs builds from git cannot be read or is not trusted.
    pub fn config(&self) -> Result<ServerConfig, ConfigError> {
        let mut config = ServerConfig::new(&self.plugins_dir, &self.data_dir);
        config.bundled_dir = self.bundled_dir.clone();
        config.listen = self.listen;
        config.public_url = self.public_url.clone();
        config.host_version = self.host_version.clone();
        config.max_body_bytes = self.max_body_kib << 10;
        config.max_package_bytes = self.max_package_mib << 20;
        config.fetch_timeout = Duration::from_secs(self.fetch_timeout_secs);
        config.lifecycle_timeout = Duration::from_millis(self.lifecycle_timeout_ms);
        config.load_in_place = self.load_in_place;
        config.calls = self.calls;
        config.shutdown_grace = Duration::from_secs(self.shutdown_grace_secs);
        config.header_timeout = Duration::from_secs(self.header_timeout_secs);
        config.admin_password = std::env::var(ADMIN_PASSWORD_VARIABLE).ok();
        config.trusted_keys = self
            .trusted_key
            .iter()
            .map(|file| TrustedKey::from_file(file))
            .collect::<Result<_, _>>()?;
        config.git_builds = self.git_builds.then(|| GitBuilds {
            plugin_build: self.plugin_build.clone(),
            cap_from: self
                .git_cap_from
                .as_ref()
                .map(|lock| std::path::absolute(lock).unwrap_or_else(|_| lock.clone())),
            timeout: Duration::from_secs(self.build_timeout_secs),
            sign_key: None,
        });
        if let (Some(builds), Some(key)) = (&mut config.git_builds, &self.git_sign_key) {
            check_sign_key(key, &config.trusted_keys)?;
            // plugin-build runs in a folder of its own: the key's path must not be relative.
            builds.sign_key = Some(std::path::absolute(key).unwrap_or_else(|_| key.clone()));
        }
        Ok(config)
    }
}

/// Parses the command line, runs the server until Ctrl-C or SIGTERM, prints any error
/// with its causes, and returns the exit code.
pub fn main_entry() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_SUCCESS
            });
        }
    };
    let config = match args.config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PLUGIN_SERVER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(run(config)) {
        Ok(()) => ExitCode::from(EXIT_SUCCESS),
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = error.source();
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

async fn run(config: ServerConfig) -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::start(config).await?;
    if let Some(admin) = &server.first_admin {
        match &admin.generated_password {
            Some(password) => eprintln!(
                "created the administrator `{}` with the password `{password}` (shown only this once; set {ADMIN_PASSWORD_VARIABLE} to choose it)",
                admin.name
            ),
            None => eprintln!(
                "created the administrator `{}` with the password from {ADMIN_PASSWORD_VARIABLE}",
                admin.name
            ),
        }
    }
    // Listen for the signals before saying where the server listens: whoever reads that
    // line may stop it right away, and an unhandled SIGINT or SIGTERM would kill it.
    let stop = shutdown_signal()?;
    // Tests and scripts read this line to learn the address (port 0 picks one).
    println!("plugin-server listening on http://{}", server.local_addr());
    server.serve(stop).await?;
    Ok(())
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM; the handlers are installed now.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("Ctrl-C: stopping"),
            _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        }
    })
}
