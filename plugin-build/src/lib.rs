//! `plugin-build`: the plugin author's tool.
//!
//! Its commands (`new`, `cap`, `build`, `package`, `deploy`, `inspect`, `doctor`) arrive one
//! by one; this skeleton parses the command line and says plainly which commands exist yet.

#![warn(missing_docs)]

use std::process::ExitCode;

use clap::Parser;

/// Exit code: the command failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: the command line was refused.
pub const EXIT_USAGE: u8 = 2;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(
    name = "plugin-build",
    version,
    about = "Build, pin, package and deploy native plugins"
)]
pub struct Cli {
    /// The subcommand to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the targets this tool knows.
    Targets,
}

/// Runs the command line and returns the process exit code.
pub fn main_entry() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Targets) => {
            for (name, triple) in TARGETS {
                println!("{name:6} {triple}");
            }
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("error: no command given; run `plugin-build --help`");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// The four Linux targets, by the short names gotify uses for its build images.
pub const TARGETS: [(&str, &str); 4] = [
    ("amd64", "x86_64-unknown-linux-gnu"),
    ("386", "i686-unknown-linux-gnu"),
    ("arm-7", "armv7-unknown-linux-gnueabihf"),
    ("arm64", "aarch64-unknown-linux-gnu"),
];
