//! Every refusal and error the host renders for people, as one reviewed text per kind: the
//! three-line load refusals (preflight, ABI, descriptor, lifecycle, package, trust), the
//! extension refusals and the call errors. The snapshots in `snapshots/` are the catalogue;
//! a changed wording shows up as a diff in review (`cargo insta review`, or read the
//! `.snap.new` file). Real refusals of real files are snapshotted by the end-to-end tests
//! (`tests/tests/loading.rs`); this file covers every variant, including those hard to
//! provoke (a loader failure, a timed-out `on_load`).
//!
//! A new variant belongs in the table below (`Refusal` is `#[non_exhaustive]`, so the
//! compiler cannot insist): each entry is headed by its `code()`, and a code listed twice fails.

use std::path::PathBuf;

use plugrack_host::{
    trust::{KeyId, TrustError},
    CallError, Crash, ErrorKind, ExtensionError, ExtensionRefusal, LoadError, PluginError, Refusal,
};

fn load_error(refusal: Refusal, id: Option<&str>) -> LoadError {
    LoadError {
        path: PathBuf::from("plugins/notify.so"),
        id: id.map(str::to_owned),
        refusal,
        detail: None,
    }
}

fn s(text: &str) -> String {
    text.to_owned()
}

/// One example of each refusal, as the host builds them.
fn refusals() -> Vec<(Refusal, Option<&'static str>)> {
    let key_id = KeyId(*b"\x12\x34\x56\x78\x9a\xbc\xde\xf0");
    vec![
        (
            Refusal::Unreadable {
                reason: s("Permission denied (os error 13)"),
            },
            None,
        ),
        (Refusal::NotAFile, None),
        (Refusal::Empty, None),
        (Refusal::NotElf { found: s("text") }, None),
        (
            Refusal::Malformed {
                detail: s("could not read the section headers"),
            },
            None,
        ),
        (
            Refusal::WrongArchitecture {
                found: s("aarch64 (64-bit)"),
                expected: s("x86_64 (64-bit)"),
            },
            None,
        ),
        (
            Refusal::NotSharedObject {
                found: s("an executable"),
            },
            None,
        ),
        (Refusal::NotAPlugin, None),
        (
            Refusal::OpenFailed {
                reason: s("libssl.so.3: cannot open shared object file: No such file or directory"),
            },
            None,
        ),
        (Refusal::AbiStableMismatch { found: s("0.10") }, None),
        (
            Refusal::ApiTooOld {
                plugin: s("0.9.0"),
                host: s("1.1.0"),
            },
            Some("notify"),
        ),
        (
            Refusal::ApiTooNew {
                plugin: s("2.0.0"),
                host: s("1.1.0"),
            },
            Some("notify"),
        ),
        (
            Refusal::LayoutMismatch {
                version: s("1.1.0"),
            },
            Some("notify"),
        ),
        (
            Refusal::InitFailed {
                message: s("missing configuration"),
            },
            None,
        ),
        (Refusal::InitPanicked, None),
        (
            Refusal::InvalidDescriptor {
                field: "id",
                problem: s("is empty"),
            },
            None,
        ),
        (
            Refusal::HostVersionMismatch {
                required: s(">=2.0, <3"),
                host: s("1.4.0"),
            },
            Some("notify"),
        ),
        (
            Refusal::UnsupportedOs {
                supported: vec![s("windows"), s("macos")],
                this: s("linux"),
            },
            Some("notify"),
        ),
        (
            Refusal::DuplicateId {
                id: s("notify"),
                loaded_from: PathBuf::from("plugins/notify-old.so"),
            },
            Some("notify"),
        ),
        (
            Refusal::OnLoadFailed {
                message: s("cannot open the database"),
            },
            Some("notify"),
        ),
        (
            Refusal::OnLoadPanicked {
                message: s("panicked in `on_load` at src/lib.rs:12:5: boom"),
            },
            Some("notify"),
        ),
        (Refusal::OnLoadTimedOut { limit_ms: 5000 }, Some("notify")),
        (
            Refusal::BadManifest {
                message: s("missing field `id`"),
            },
            None,
        ),
        (
            Refusal::NoTargetForHost {
                available: vec![s("arm64"), s("arm-7")],
                host: s("amd64"),
            },
            Some("notify"),
        ),
        (
            Refusal::ChecksumMismatch {
                file: s("notify-amd64.so"),
                expected: s("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
                found: s("60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"),
            },
            Some("notify"),
        ),
        (
            Refusal::ManifestMismatch {
                field: "version",
                manifest: s("0.2.0"),
                library: s("0.1.0"),
            },
            Some("notify"),
        ),
        (
            Refusal::BadSection {
                problem: s("it has format 2; this reader knows format 1"),
            },
            None,
        ),
        (
            Refusal::SectionMismatch {
                field: "id",
                section: s("notify"),
                module: s("notifier"),
            },
            Some("notify"),
        ),
        (Refusal::Trust(TrustError::Unsigned), Some("notify")),
        (
            Refusal::Trust(TrustError::UntrustedKey { key_id }),
            Some("notify"),
        ),
        (
            Refusal::Trust(TrustError::BadSignature { key_id }),
            Some("notify"),
        ),
        (
            Refusal::Trust(TrustError::UnreadableSignature {
                reason: s("untrusted comment missing"),
            }),
            Some("notify"),
        ),
        (Refusal::ChangedWhileReading, None),
        (
            Refusal::MissingLibrary {
                library: s("libgreet.so.1"),
                needed_by: None,
            },
            Some("greeter"),
        ),
        (
            Refusal::BundledLibraryMissing {
                file: s("lib/libgreet.so.1"),
            },
            Some("greeter"),
        ),
        (
            Refusal::WorkerNotFound {
                searched: vec![
                    PathBuf::from("/opt/host/bin/plugin-worker"),
                    PathBuf::from("$PATH"),
                ],
            },
            None,
        ),
        (
            Refusal::WorkerProtocol {
                program: PathBuf::from("/usr/bin/plugin-worker"),
                found: 2,
                expected: 1,
            },
            None,
        ),
        (Refusal::WorkerStartTimedOut { limit_ms: 5000 }, None),
        (
            Refusal::WorkerFailed {
                reason: s("the worker was built with plugrack-api 1.0.0, the host with 1.1.0"),
            },
            None,
        ),
        (
            Refusal::WorkerCrashed {
                during: "on_load",
                crash: Crash::Signal { signal: 11 },
            },
            Some("notify"),
        ),
        (
            Refusal::CrashLoop {
                crashes: 5,
                window_s: 60,
                last: Crash::StackOverflow,
            },
            Some("notify"),
        ),
    ]
}

#[test]
fn every_load_refusal_is_three_lines_ending_in_a_fix() {
    let mut catalogue = String::new();
    let mut codes = std::collections::BTreeSet::new();
    for (refusal, id) in refusals() {
        let code = refusal.code();
        assert!(codes.insert(code), "`{code}` is listed twice");
        let text = load_error(refusal, id).to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{code}: {text}");
        assert!(lines[2].starts_with("  fix: "), "{code}: {text}");
        catalogue.push_str(&format!("[{code}]\n{text}\n\n"));
    }
    // The fixes name `plugin-build --target <this host>`; the snapshot holds the amd64 name.
    insta::with_settings!({filters => vec![(r"--target [a-z0-9-]+`", "--target [host]`")]}, {
        insta::assert_snapshot!("load_refusals", catalogue);
    });
}

#[test]
fn every_extension_refusal_names_the_interface_crate_and_a_fix() {
    let refusals = [
        ExtensionRefusal::BadVersion { found: s("one") },
        ExtensionRefusal::OtherMajor {
            plugin: s("2.0.0"),
            host: s("1.1.0"),
        },
        ExtensionRefusal::TooNew {
            plugin: s("1.2.0"),
            host: s("1.1.0"),
        },
        ExtensionRefusal::LayoutMismatch {
            version: s("1.1.0"),
        },
        ExtensionRefusal::ConstructFailed {
            message: s("no dictionary"),
        },
        ExtensionRefusal::Duplicate,
        ExtensionRefusal::OutOfProcess,
    ];
    let mut catalogue = String::new();
    for refusal in refusals {
        let code = refusal.code();
        let text = ExtensionError {
            path: PathBuf::from("plugins/title-case.so"),
            plugin: s("tp-title-case"),
            extension: s("text-pipeline.formatter"),
            interface: s("text-pipeline-api"),
            refusal,
            detail: None,
        }
        .to_string();
        assert_eq!(text.lines().count(), 3, "{code}: {text}");
        catalogue.push_str(&format!("[{code}]\n{text}\n\n"));
    }
    insta::assert_snapshot!("extension_refusals", catalogue);
}

#[test]
fn call_errors_name_the_plugin_and_the_operation() {
    let errors = [
        CallError::NotFound { id: s("missing") },
        CallError::NotActive {
            id: s("notify"),
            reason: s("disabled"),
        },
        CallError::Unsupported {
            id: s("notify"),
            capability: "http",
        },
        CallError::Plugin {
            id: s("notify"),
            operation: "execute",
            error: PluginError::new(ErrorKind::PANICKED, "panicked at src/lib.rs:40:9: boom"),
        },
        CallError::Plugin {
            id: s("notify"),
            operation: "execute",
            error: PluginError::new(ErrorKind::INVALID_INPUT, "`to` is missing"),
        },
        CallError::Crashed {
            id: s("notify"),
            operation: "execute",
            crash: Crash::Signal { signal: 11 },
        },
        CallError::Crashed {
            id: s("notify"),
            operation: "handle_http",
            crash: Crash::Exited { code: 3 },
        },
        CallError::Crashed {
            id: s("notify"),
            operation: "execute",
            crash: Crash::DeadlineExceeded { limit_ms: 30000 },
        },
        CallError::Crashed {
            id: s("notify"),
            operation: "execute",
            crash: Crash::OutOfMemory {
                limit_bytes: Some(4096 << 20),
            },
        },
    ];
    let catalogue: String = errors.iter().map(|e| format!("{e}\n")).collect();
    insta::assert_snapshot!("call_errors", catalogue);
}
