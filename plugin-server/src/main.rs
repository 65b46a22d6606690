//! The `plugin-server` command: see [`plugrack_server::cli`].

fn main() -> std::process::ExitCode {
    plugrack_server::cli::main_entry()
}
