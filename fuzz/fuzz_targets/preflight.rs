//! The host's checks before `dlopen`: the ELF checks and the descriptor section, on any bytes,
//! refuse or accept without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugrack_host::preflight;

fuzz_target!(|data: &[u8]| {
    if let Ok((_, Some(section))) = preflight::inspect_with_section(data) {
        let _ = preflight::check_section(&section, &semver::Version::new(1, 0, 0));
    }
});
