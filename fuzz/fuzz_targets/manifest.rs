//! `plugin.toml`: any text either parses into a manifest that serialises and parses back to
//! itself, or is refused with an error; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugrack_host::manifest::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(manifest) = Manifest::parse(text) {
        let again = Manifest::parse(&manifest.to_toml()).expect("a written manifest reads back");
        assert_eq!(again, manifest);
    }
});
