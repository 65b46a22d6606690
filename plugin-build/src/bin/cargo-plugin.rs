//! `cargo plugin ...`: `plugin-build` as a cargo subcommand (cargo finds `cargo-plugin` on the
//! `PATH` and runs it as `cargo-plugin plugin ARGS`).

fn main() -> std::process::ExitCode {
    plugrack_build::cargo_main_entry()
}
