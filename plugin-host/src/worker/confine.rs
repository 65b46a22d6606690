//! What a worker does to itself before it opens the plugin: die with its host, cap its
//! address space, and confine itself.
//!
//! The Landlock rule set (where the kernel supports it, best effort below that) lets the
//! worker read and map its plugin file, read the system's libraries and a few files of
//! `/etc` the C library consults (not the rest of `/etc`), read its own `/proc` entry and
//! `/dev/{null,zero,random,urandom}`, and write only its data folder; and (Landlock ABI 6)
//! forbids signals to and abstract-socket connections with processes outside its domain.
//! Not confined: the network, other system calls, reading files it already has open.

use std::path::Path;

use landlock::{
    Access, AccessFs, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError,
    RulesetStatus, Scope, ABI,
};

use crate::wire::message::Hello;

/// Asks the kernel to kill this process when its parent thread ends, and leaves if the
/// host is already gone.
pub(super) fn die_with_parent() {
    // SAFETY: plain prctl with an integer argument.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    let expected = std::env::var(super::PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<libc::pid_t>().ok());
    // SAFETY: getppid cannot fail.
    let parent = unsafe { libc::getppid() };
    if expected.is_some_and(|expected| expected != parent) {
        // The host died between spawning us and the prctl above.
        // SAFETY: ending the process without running anything else.
        unsafe { libc::_exit(1) };
    }
}

/// Applies the limits and the confinement `hello` asks for; returns what was applied, in
/// words for the host's report.
pub(super) fn apply(hello: &Hello) -> Result<String, String> {
    let mut applied = Vec::new();
    if let Some(bytes) = hello.address_space {
        // `rlim_t` is 32 bits on 32-bit targets: a limit past it is no limit there.
        let bytes = libc::rlim_t::try_from(bytes).unwrap_or(libc::RLIM_INFINITY);
        let limit = libc::rlimit {
            rlim_cur: bytes,
            rlim_max: bytes,
        };
        // SAFETY: a valid rlimit structure.
        if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
            return Err(format!(
                "cannot limit the address space to {bytes} bytes: {}",
                std::io::Error::last_os_error()
            ));
        }
        applied.push(format!("address space {} MiB", bytes >> 20));
    }
    if hello.confine {
        applied.push(landlock(&hello.library, hello.data_dir.as_deref())?);
    }
    Ok(if applied.is_empty() {
        "not confined".into()
    } else {
        applied.join(", ")
    })
}

/// The files of `/etc` that the C library and common crates read.
const ETC_FILES: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    "/etc/services",
    "/etc/protocols",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
];

const SYSTEM_DIRS: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/sys/fs/cgroup",
    "/sys/devices/system/cpu",
];

const DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"];

fn landlock(library: &Path, data_dir: Option<&Path>) -> Result<String, String> {
    let abi = ABI::V6;
    let read = AccessFs::from_read(abi);
    let mut rules: Vec<PathBeneath<PathFd>> = Vec::new();
    let mut allow = |path: &str, access: landlock::BitFlags<AccessFs>| {
        // Paths this system does not have are skipped: nothing to allow.
        if let Ok(fd) = PathFd::new(path) {
            let access = if Path::new(path).is_dir() {
                access
            } else {
                access & AccessFs::from_file(abi)
            };
            rules.push(PathBeneath::new(fd, access));
        }
    };
    for path in SYSTEM_DIRS.iter().chain(ETC_FILES) {
        allow(path, read);
    }
    allow(&format!("/proc/{}", std::process::id()), read);
    for device in DEVICES {
        allow(device, AccessFs::ReadFile | AccessFs::WriteFile);
    }
    allow(
        &library.to_string_lossy(),
        AccessFs::ReadFile | AccessFs::Execute,
    );
    // A plugin with bundled native libraries has them in `lib/` beside its private copy,
    // where its `$ORIGIN/lib` run path points (the host checked them against plugin.toml).
    if let Some(lib) = library
        .parent()
        .map(|folder| folder.join(crate::manifest::LIB_DIR))
        .filter(|lib| lib.is_dir())
    {
        allow(&lib.to_string_lossy(), read);
    }
    if let Some(dir) = data_dir {
        allow(&dir.to_string_lossy(), AccessFs::from_all(abi));
    }
    let status = Ruleset::default()
        .handle_access(AccessFs::from_all(abi))
        .and_then(|r| r.scope(Scope::from_all(abi)))
        .and_then(|r| r.create())
        .and_then(|r| r.add_rules(rules.into_iter().map(Ok::<_, RulesetError>)))
        .and_then(|r| r.restrict_self())
        .map_err(|e| format!("cannot set up Landlock: {e}"))?;
    let landlock = match status.ruleset {
        RulesetStatus::FullyEnforced => "landlock fully enforced",
        RulesetStatus::PartiallyEnforced => "landlock partially enforced (an older kernel)",
        RulesetStatus::NotEnforced => "landlock not available on this kernel",
    };
    Ok(if status.no_new_privs {
        format!("no_new_privs, {landlock}")
    } else {
        landlock.to_owned()
    })
}
