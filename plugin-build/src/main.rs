//! The `plugin-build` command: parses the command line and hands it to the library.

fn main() -> std::process::ExitCode {
    plugin_build::main_entry()
}
