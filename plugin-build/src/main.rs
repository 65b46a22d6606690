//! The `plugin-build` command: parses the command line and hands it to the library.

fn main() -> std::process::ExitCode {
    plugrack_build::main_entry()
}
