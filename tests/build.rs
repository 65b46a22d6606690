//! Records which rustc builds the tests (the host side), so the cross-compiler test can
//! prove the plugin and the host really were built by different compilers.

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    println!("cargo:rustc-env=PLUGIN_TESTS_RUSTC_VERSION={version}");
}
