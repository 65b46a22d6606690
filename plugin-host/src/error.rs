//! Why a plugin was refused, in words a person can act on.
//!
//! abi_stable's own errors run to hundreds of lines. Each refusal here is a typed variant
//! that knows its cause and its fix; [`LoadError`] renders it in at most four lines:
//!
//! ```text
//! plugin rejected: plugins/notify-arm64.so
//!   built for aarch64 (64-bit); this host is x86_64 (64-bit)
//!   fix: build it for this host: `plugin-build --target amd64`
//! ```
//!
//! The full abi_stable report, where there is one, is kept in [`LoadError::detail`] and
//! logged at debug level.

use std::{fmt, path::PathBuf};

use crate::{crash::Crash, preflight::host_machine, trust::TrustError};

/// Why a plugin cannot be used, one variant per cause.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The file cannot be read.
    Unreadable {
        /// The operating system's reason.
        reason: String,
    },
    /// The path is not a regular file.
    NotAFile,
    /// The file is empty.
    Empty,
    /// The file is not ELF at all.
    NotElf {
        /// What it looks like instead.
        found: String,
    },
    /// ELF, but damaged (typically cut short by an interrupted copy).
    Malformed {
        /// The parser's complaint.
        detail: String,
    },
    /// Built for another CPU or word size.
    WrongArchitecture {
        /// The file's machine.
        found: String,
        /// This host's machine.
        expected: String,
    },
    /// ELF, but not a shared object.
    NotSharedObject {
        /// What it is instead.
        found: String,
    },
    /// A shared library that does not export a plugin root module.
    NotAPlugin,
    /// `dlopen` failed (a missing dependency, a newer glibc, ...).
    OpenFailed {
        /// The dynamic loader's message.
        reason: String,
    },
    /// Built with an abi_stable line this host cannot read.
    AbiStableMismatch {
        /// What the plugin's header says.
        found: String,
    },
    /// Built against an older major version of plugrack-api.
    ApiTooOld {
        /// The plugin's plugrack-api version.
        plugin: String,
        /// The host's plugrack-api version.
        host: String,
    },
    /// Built against a newer plugrack-api than the host provides.
    ApiTooNew {
        /// The plugin's plugrack-api version.
        plugin: String,
        /// The host's plugrack-api version.
        host: String,
    },
    /// Same plugrack-api version, different type layouts: built against a modified copy.
    LayoutMismatch {
        /// The version both claim.
        version: String,
    },
    /// The library's root-module constructor returned an error.
    InitFailed {
        /// Its message.
        message: String,
    },
    /// The library's root-module constructor panicked.
    InitPanicked,
    /// A descriptor field is not valid.
    InvalidDescriptor {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The plugin does not support this host application's version.
    HostVersionMismatch {
        /// What the plugin requires.
        required: String,
        /// This host's version.
        host: String,
    },
    /// The plugin does not support this operating system.
    UnsupportedOs {
        /// The systems it supports.
        supported: Vec<String>,
        /// This system.
        this: String,
    },
    /// Another loaded plugin has the same id.
    DuplicateId {
        /// The id.
        id: String,
        /// The file that has it already.
        loaded_from: PathBuf,
    },
    /// `on_load` returned an error.
    OnLoadFailed {
        /// The plugin's message.
        message: String,
    },
    /// `on_load` panicked.
    OnLoadPanicked {
        /// The panic message.
        message: String,
    },
    /// `on_load` did not return within the host's time limit.
    OnLoadTimedOut {
        /// The limit, in milliseconds.
        limit_ms: u64,
    },
    /// The plugin folder's `plugin.toml` cannot be used.
    BadManifest {
        /// What is wrong.
        message: String,
    },
    /// The plugin folder has no build for this host's architecture.
    NoTargetForHost {
        /// The targets it has.
        available: Vec<String>,
        /// This host's target.
        host: String,
    },
    /// The library does not match the checksum in `plugin.toml`.
    ChecksumMismatch {
        /// The library's file name.
        file: String,
        /// The manifest's SHA-256.
        expected: String,
        /// The file's SHA-256.
        found: String,
    },
    /// The library's `.plugin_descriptor` section cannot be read (damaged or edited).
    BadSection {
        /// What is wrong with it.
        problem: String,
    },
    /// The descriptor section and the root module describe different plugins (the file was
    /// edited after it was built).
    SectionMismatch {
        /// The field that differs.
        field: &'static str,
        /// The section's value.
        section: String,
        /// The root module's value.
        module: String,
    },
    /// Refused by the host's trust policy (unsigned, another signer, changed after signing).
    Trust(TrustError),
    /// The file changed while the host was reading it (a copy in progress).
    ChangedWhileReading,
    /// A shared library the plugin needs (`DT_NEEDED`) is found nowhere the dynamic loader
    /// looks: its bundled `lib/` folder, its run path, or the system's library path.
    MissingLibrary {
        /// The library's name (`libgreet.so.1`).
        library: String,
        /// The bundled library that needs it, when the plugin needs it only through one.
        needed_by: Option<String>,
    },
    /// `plugin.toml` lists a bundled library that the plugin folder's `lib/` lacks.
    BundledLibraryMissing {
        /// The file, as in the folder (`lib/libgreet.so.1`).
        file: String,
    },
    /// `plugin.toml` describes another plugin than the library it ships.
    ManifestMismatch {
        /// The field that differs.
        field: &'static str,
        /// The manifest's value.
        manifest: String,
        /// The library's value.
        library: String,
    },
    /// Out-of-process isolation was asked for, but no worker program was found.
    WorkerNotFound {
        /// Where the host looked, in order.
        searched: Vec<PathBuf>,
    },
    /// The worker program speaks another version of the host-worker protocol.
    WorkerProtocol {
        /// The program.
        program: PathBuf,
        /// The version it speaks.
        found: u32,
        /// The version this host speaks.
        expected: u32,
    },
    /// The worker did not finish starting (spawn, handshake, opening the library) in time.
    WorkerStartTimedOut {
        /// The limit, in milliseconds.
        limit_ms: u64,
    },
    /// The worker process could not be started or set up.
    WorkerFailed {
        /// What went wrong.
        reason: String,
    },
    /// The worker crashed while starting the plugin (opening it, or in `on_load`).
    WorkerCrashed {
        /// What it was doing: `start` (opening the library) or `on_load`.
        during: &'static str,
        /// How it ended.
        crash: Crash,
    },
    /// The worker crashed too often in a short time; it is not restarted again.
    CrashLoop {
        /// The crashes counted.
        crashes: u32,
        /// Within this many seconds.
        window_s: u64,
        /// The last one.
        last: Crash,
    },
}

/// This host's target name, as `plugin-build` spells it (`amd64`, `386`, `arm-7`, `arm64`).
pub fn host_target_name() -> &'static str {
    match host_machine() {
        "x86_64" => "amd64",
        "x86" => "386",
        "arm" => "arm-7",
        "aarch64" => "arm64",
        other => other,
    }
}

impl Refusal {
    /// A short stable name for the kind of refusal, for JSON output and matching.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "unreadable",
            Self::NotAFile => "not-a-file",
            Self::Empty => "empty",
            Self::NotElf { .. } => "not-elf",
            Self::Malformed { .. } => "malformed",
            Self::WrongArchitecture { .. } => "wrong-architecture",
            Self::NotSharedObject { .. } => "not-shared-object",
            Self::NotAPlugin => "not-a-plugin",
            Self::OpenFailed { .. } => "open-failed",
            Self::AbiStableMismatch { .. } => "abi-stable-mismatch",
            Self::ApiTooOld { .. } => "api-too-old",
            Self::ApiTooNew { .. } => "api-too-new",
            Self::LayoutMismatch { .. } => "layout-mismatch",
            Self::InitFailed { .. } => "init-failed",
            Self::InitPanicked => "init-panicked",
            Self::InvalidDescriptor { .. } => "invalid-descriptor",
            Self::HostVersionMismatch { .. } => "host-version-mismatch",
            Self::UnsupportedOs { .. } => "unsupported-os",
            Self::DuplicateId { .. } => "duplicate-id",
            Self::OnLoadFailed { .. } => "on-load-failed",
            Self::OnLoadPanicked { .. } => "on-load-panicked",
            Self::OnLoadTimedOut { .. } => "on-load-timed-out",
            Self::BadManifest { .. } => "bad-manifest",
            Self::NoTargetForHost { .. } => "no-target-for-host",
            Self::ChecksumMismatch { .. } => "checksum-mismatch",
            Self::ManifestMismatch { .. } => "manifest-mismatch",
            Self::BadSection { .. } => "bad-descriptor-section",
            Self::SectionMismatch { .. } => "section-mismatch",
            Self::Trust(TrustError::Unsigned) => "unsigned",
            Self::Trust(TrustError::UntrustedKey { .. }) => "untrusted-key",
            Self::Trust(TrustError::BadSignature { .. }) => "bad-signature",
            Self::Trust(_) => "unreadable-signature",
            Self::ChangedWhileReading => "changed-while-reading",
            Self::MissingLibrary { .. } => "missing-library",
            Self::BundledLibraryMissing { .. } => "bundled-library-missing",
            Self::WorkerNotFound { .. } => "worker-not-found",
            Self::WorkerProtocol { .. } => "worker-protocol",
            Self::WorkerStartTimedOut { .. } => "worker-start-timed-out",
            Self::WorkerFailed { .. } => "worker-failed",
            Self::WorkerCrashed { .. } => "worker-crashed",
            Self::CrashLoop { .. } => "crash-loop",
        }
    }

    /// What to do about it, as one line with the command where there is one.
    pub fn fix(&self) -> String {
        let target = host_target_name();
        match self {
            Self::Unreadable { .. } => "check the file's permissions and that the plugins folder is readable".into(),
            Self::NotAFile => "keep only plugin files (`.so`) or plugin folders in the plugins folder".into(),
            Self::Empty | Self::Malformed { .. } => {
                "the file is incomplete (an interrupted copy?): deploy it again with `plugin-build deploy`".into()
            }
            Self::NotElf { .. } | Self::NotSharedObject { .. } => {
                format!("remove it from the plugins folder, or build the plugin with `plugin-build --target {target}`")
            }
            Self::WrongArchitecture { .. } => format!("build it for this host: `plugin-build --target {target}`"),
            Self::NotAPlugin => "export the plugin with `plugrack_sdk::export_plugin!`, or remove this library from the plugins folder".into(),
            Self::OpenFailed { .. } => {
                "install what the loader names, or rebuild with an older glibc floor: `plugin-build --backend zigbuild --glibc 2.17`".into()
            }
            Self::AbiStableMismatch { .. } => {
                "rebuild the plugin against this host's plugrack-api: `plugin-build cap --from <host>/Cargo.lock`".into()
            }
            Self::ApiTooOld { .. } => {
                "rebuild the plugin against this host's plugrack-api: `plugin-build cap --from <host>/Cargo.lock`".into()
            }
            Self::ApiTooNew { .. } => {
                "update the host, or rebuild the plugin against an older plugrack-api: `plugin-build cap --from <host>/Cargo.lock`".into()
            }
            Self::LayoutMismatch { .. } => {
                "rebuild against the released plugrack-api, not a modified copy: `plugin-build cap --from <host>/Cargo.lock`".into()
            }
            Self::InitFailed { .. } | Self::InitPanicked => "see the plugin's log; report it to the plugin's authors".into(),
            Self::InvalidDescriptor { field, .. } => {
                format!("fix `{field}` in the plugin's Cargo.toml (`[package.metadata.plugin]`) and rebuild")
            }
            Self::HostVersionMismatch { .. } => {
                "install a release of the plugin made for this host version, or update the host".into()
            }
            Self::UnsupportedOs { .. } => "use a build of the plugin made for this system".into(),
            Self::DuplicateId { .. } => "remove one of the two files, or give one plugin another `id`".into(),
            Self::OnLoadFailed { .. } | Self::OnLoadPanicked { .. } => {
                "see the plugin's log; fix its configuration or report it to the plugin's authors".into()
            }
            Self::OnLoadTimedOut { .. } => {
                "see the plugin's log for what it waits on; raise the host's lifecycle timeout if start-up is legitimately slow".into()
            }
            Self::BadManifest { .. } | Self::ChecksumMismatch { .. } | Self::ManifestMismatch { .. } => {
                "deploy the package again with `plugin-build deploy`, which verifies it first".into()
            }
            Self::NoTargetForHost { .. } => {
                format!("build and package the plugin for this host: `plugin-build --target {target}` then `plugin-build package`")
            }
            Self::BadSection { .. } => {
                "the file was damaged or edited after it was built: rebuild it with plugrack-sdk, or deploy its package again".into()
            }
            Self::SectionMismatch { .. } => {
                "the file was edited after it was built: rebuild it, or deploy its authors' package again".into()
            }
            Self::Trust(problem) => problem.fix().into(),
            Self::MissingLibrary { library, needed_by: None } => format!(
                "ship it with the plugin (`bundle = [\"{library}\"]` in [package.metadata.plugin], then `plugin-build package` and deploy), or install it on this host"
            ),
            Self::MissingLibrary { library, needed_by: Some(_) } => format!(
                "bundle it too (`bundle = [..., \"{library}\"]` in [package.metadata.plugin], then `plugin-build package` and deploy), or install it on this host"
            ),
            Self::BundledLibraryMissing { .. } => {
                "deploy the package again with `plugin-build deploy`, which installs the plugin's `lib/` folder whole".into()
            }
            Self::ChangedWhileReading => {
                "let the copy finish (`plugin-build deploy` renames a complete file into place); a watching host loads it once it is complete".into()
            }
            Self::WorkerNotFound { .. } => {
                "install `plugin-worker` next to the host (`cargo install plugrack-host` installs both), or name it: `HostConfig::worker_program` or PLUGRACK_WORKER".into()
            }
            Self::WorkerProtocol { .. } => {
                "use the plugin-worker built with this host (the same plugrack-host version)".into()
            }
            Self::WorkerStartTimedOut { .. } => {
                "see the plugin's log (the worker's stderr is there); raise `WorkerSettings::start_timeout` if the machine is slow".into()
            }
            Self::WorkerFailed { .. } => {
                "read the message and the plugin's log (the worker's stderr is there); `plugin-worker` run by hand says what it is for".into()
            }
            Self::WorkerCrashed { .. } => {
                "see the plugin's log (the worker's stderr is there); report it to the plugin's authors".into()
            }
            Self::CrashLoop { .. } => {
                "see the plugin's log; fix or replace the plugin, then deploy it again (a new build is loaded afresh)".into()
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreadable { reason } => write!(f, "cannot read the file: {reason}"),
            Self::NotAFile => f.write_str("not a regular file"),
            Self::Empty => f.write_str("the file is empty (0 bytes); expected an ELF shared object"),
            Self::NotElf { found } => write!(f, "not an ELF shared object: found {found}"),
            Self::Malformed { detail } => write!(f, "a damaged ELF file: {detail}"),
            Self::WrongArchitecture { found, expected } => write!(f, "built for {found}; this host is {expected}"),
            Self::NotSharedObject { found } => write!(f, "expected an ELF shared object, found {found}"),
            Self::NotAPlugin => f.write_str("a shared library, but not a plugin: it exports no plugin root module"),
            Self::OpenFailed { reason } => write!(f, "the dynamic loader refused it: {reason}"),
            Self::AbiStableMismatch { found } => {
                write!(f, "built with abi_stable {found}; this host reads abi_stable 0.11 plugins")
            }
            Self::ApiTooOld { plugin, host } | Self::ApiTooNew { plugin, host } => {
                write!(f, "built against plugrack-api {plugin}; this host provides {host}")
            }
            Self::LayoutMismatch { version } => write!(
                f,
                "its plugrack-api {version} types differ from this host's plugrack-api {version}: built against a modified copy"
            ),
            Self::InitFailed { message } => write!(f, "the plugin failed to initialise: {message}"),
            Self::InitPanicked => f.write_str("the plugin panicked while initialising"),
            Self::InvalidDescriptor { field, problem } => write!(f, "descriptor field `{field}` {problem}"),
            Self::HostVersionMismatch { required, host } => {
                write!(f, "requires host version `{required}`; this host is {host}")
            }
            Self::UnsupportedOs { supported, this } => {
                write!(f, "supports {}; this host runs {this}", supported.join(", "))
            }
            Self::DuplicateId { id, loaded_from } => {
                write!(f, "id `{id}` is already taken by {}", loaded_from.display())
            }
            Self::OnLoadFailed { message } => write!(f, "`on_load` failed: {message}"),
            Self::OnLoadPanicked { message } => f.write_str(message),
            Self::OnLoadTimedOut { limit_ms } => write!(f, "`on_load` did not return within {limit_ms} ms"),
            Self::BadManifest { message } => write!(f, "plugin.toml: {message}"),
            Self::NoTargetForHost { available, host } => {
                write!(f, "plugin.toml has builds for {}; this host needs `{host}`", available.join(", "))
            }
            Self::ChecksumMismatch { file, expected, found } => write!(
                f,
                "`{file}` does not match plugin.toml: SHA-256 {} expected, {} found",
                &expected[..expected.len().min(12)],
                &found[..found.len().min(12)]
            ),
            Self::ManifestMismatch { field, manifest, library } => {
                write!(f, "plugin.toml says {field} `{manifest}`, the library says `{library}`")
            }
            Self::BadSection { problem } => write!(f, "its `.plugin_descriptor` section is not usable: {problem}"),
            Self::SectionMismatch { field, section, module } => write!(
                f,
                "its descriptor section says {field} `{section}`, its root module says `{module}`"
            ),
            Self::Trust(problem) => write!(f, "{problem}"),
            Self::ChangedWhileReading => f.write_str("the file changed while it was being read (a copy still in progress?)"),
            Self::MissingLibrary { library, needed_by } => {
                write!(f, "needs `{library}`")?;
                if let Some(by) = needed_by {
                    write!(f, " (through its bundled `{by}`)")?;
                }
                f.write_str(", found neither in its lib/ folder, its run path nor the system's library path")
            }
            Self::BundledLibraryMissing { file } => {
                write!(f, "plugin.toml lists the bundled library `{file}`, but the plugin folder lacks it")
            }
            Self::WorkerNotFound { searched } => write!(
                f,
                "no `plugin-worker` program for out-of-process plugins (looked for {})",
                searched.iter().map(|p| format!("`{}`", p.display())).collect::<Vec<_>>().join(", ")
            ),
            Self::WorkerProtocol { program, found, expected } => write!(
                f,
                "`{}` speaks worker protocol {found}; this host speaks {expected}",
                program.display()
            ),
            Self::WorkerStartTimedOut { limit_ms } => {
                write!(f, "the worker did not start within {limit_ms} ms")
            }
            Self::WorkerFailed { reason } => write!(f, "the worker failed: {reason}"),
            Self::WorkerCrashed { during, crash } => write!(f, "the worker crashed in `{during}`: {crash}"),
            Self::CrashLoop { crashes, window_s, last } => write!(
                f,
                "crashed {crashes} times within {window_s} s (last: {last}); not restarted again"
            ),
        }
    }
}

/// A plugin file that could not be loaded: which file, which plugin if known, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub path: PathBuf,
    /// The plugin's id, when it got far enough to tell.
    pub id: Option<String>,
    /// Why it was refused.
    pub refusal: Refusal,
    /// The full underlying report (abi_stable's layout dump, the loader's text), for debugging.
    pub detail: Option<String>,
}

impl LoadError {
    pub(crate) fn new(path: impl Into<PathBuf>, refusal: Refusal) -> Self {
        Self {
            path: path.into(),
            id: None,
            refusal,
            detail: None,
        }
    }

    pub(crate) fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => writeln!(f, "plugin rejected: `{id}` from {}", self.path.display())?,
            None => writeln!(f, "plugin rejected: {}", self.path.display())?,
        }
        writeln!(f, "  {}", self.refusal)?;
        write!(f, "  fix: {}", self.refusal.fix())
    }
}

impl std::error::Error for LoadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendered_errors_are_short_and_name_a_fix() {
        let err = LoadError::new(
            "plugins/notify-arm64.so",
            Refusal::WrongArchitecture {
                found: "aarch64 (64-bit)".into(),
                expected: "x86_64 (64-bit)".into(),
            },
        );
        let text = err.to_string();
        assert!(text.lines().count() <= 4, "{text}");
        assert!(
            text.starts_with("plugin rejected: plugins/notify-arm64.so"),
            "{text}"
        );
        assert!(text.contains("fix: "), "{text}");
    }
}
