//! `plugin-build cap`'s reader of the host's `Cargo.lock`: any text is a lock or an error that
//! names the file; never a panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use plugrack_build::cap::lockfile::Lock;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Lock::parse(Path::new("host/Cargo.lock"), text);
});
