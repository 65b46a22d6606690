//! The `.plg` reader and verifier: any bytes are a verified package or a refusal, with and
//! without a trust policy; never a panic.
#![no_main]

use std::{path::Path, sync::OnceLock};

use libfuzzer_sys::fuzz_target;
use plugrack_host::{
    package,
    trust::{TrustPolicy, TrustedKey},
};

fn policy() -> &'static TrustPolicy {
    static POLICY: OnceLock<TrustPolicy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let key = TrustedKey::decode(
            "RWT5dfOBpsRAcy1dI2E12+34jUBqTcbGsff3aM8jUCHvHCQqXC6ybxwi",
            "fuzz.pub",
        )
        .expect("a valid key");
        TrustPolicy::new(vec![key])
    })
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.plg");
    let _ = package::archive::read_limited(data, 16 << 20);
    if let Ok(verified) = package::verify(path, data) {
        for target in verified.manifest.targets.keys() {
            assert!(verified.target(target).is_ok());
        }
    }
    let _ = package::verify_with(path, data, policy());
});
