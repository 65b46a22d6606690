//! Operating-system names in `target-os` lists and the rule that decides whether a plugin
//! supports the system it is asked to run on.

/// The names a `target-os` list may hold (Rust's `std::env::consts::OS` spellings).
pub const KNOWN: &[&str] = &[
    "linux", "macos", "windows", "freebsd", "netbsd", "openbsd", "android", "ios",
];

/// The default list when `Cargo.toml` names none: plugrack's host runs on Linux.
pub fn default_list() -> Vec<String> {
    vec!["linux".to_owned()]
}

/// True when a plugin whose list is `supported` runs on `os`; an empty list means any system.
///
/// ```
/// use plugrack_descriptor::target_os::supports;
/// assert!(supports(&["linux".to_owned()], "linux"));
/// assert!(supports(&[], "linux"));
/// assert!(!supports(&["windows".to_owned()], "linux"));
/// ```
pub fn supports(supported: &[String], os: &str) -> bool {
    supported.is_empty() || supported.iter().any(|s| s.eq_ignore_ascii_case(os))
}

/// The system this code runs on.
pub fn this() -> &'static str {
    std::env::consts::OS
}
