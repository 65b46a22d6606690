//! Command-line parsing and dispatch: parse, run the subcommand, print the error chain, map
//! the exit code. The same parser serves `plugin-build` and the cargo subcommand
//! `cargo plugin` (the `cargo-plugin` binary, which cargo runs as `cargo-plugin plugin ARGS`).

use std::{ffi::OsString, process::ExitCode};

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::{
    build, cap, deploy, doctor, git, images, inspect, new, package, shell, sign, EXIT_FAILURE,
};

/// Build, pin, package and deploy native plugins.
#[derive(Debug, Parser)]
#[command(
    name = "plugin-build",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// The subcommand; `build` when omitted, so `plugin-build --target arm64` builds.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Arguments of the default `build` command.
    #[command(flatten)]
    pub build: build::BuildArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a plugin project from the template.
    New(new::NewArgs),
    /// Pin the plugin's shared crates to the versions in the host's Cargo.lock.
    Cap(cap::CapArgs),
    /// Build the plugin for one or more targets (the default command).
    Build(build::BuildArgs),
    /// Make `build/<id>-<version>.plg` from the built targets.
    Package(package::PackageArgs),
    /// Build and package a plugin from a git repository (a tag, branch or commit).
    FromGit(git::FromGitArgs),
    /// Verify a package and install one target into a plugins folder.
    Deploy(deploy::DeployArgs),
    /// Describe a `.so` or `.plg` and say whether the host would load it, without loading it.
    Inspect(inspect::InspectArgs),
    /// Make the `cross` backend's build images from Debian's packages (debootstrap).
    Images(images::ImagesArgs),
    /// Make a key pair for signing packages (minisign format).
    Keygen(sign::KeygenArgs),
    /// Print the targets this tool knows.
    Targets,
    /// Show what this machine has for each target and backend, and how to install the rest.
    Doctor(doctor::DoctorArgs),
    /// Write a shell completion script (bash, zsh, fish, powershell, elvish) to stdout.
    Completions(shell::CompletionsArgs),
    /// Write the man pages (to stdout, or one file per command with `--out-dir`).
    Man(shell::ManArgs),
}

/// Runs the command line and returns the process exit code.
pub fn main_entry() -> ExitCode {
    run(Cli::parse())
}

/// The entry point of `cargo plugin ...`: cargo runs the `cargo-plugin` binary with the
/// subcommand's name as the first argument, which is dropped; usage and errors then name
/// `cargo plugin`.
pub fn cargo_main_entry() -> ExitCode {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|arg| arg == "plugin") {
        args.remove(1);
    }
    let matches = Cli::command()
        .bin_name("cargo plugin")
        .get_matches_from(args);
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => run(cli),
        Err(err) => err.exit(),
    }
}

fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        Some(Command::New(args)) => new::run(&args),
        Some(Command::Cap(args)) => cap::run(&args),
        Some(Command::Package(args)) => package::run(&args),
        Some(Command::FromGit(args)) => git::run(&args),
        Some(Command::Deploy(args)) => deploy::run(&args),
        Some(Command::Inspect(args)) => inspect::run(&args),
        Some(Command::Keygen(args)) => sign::run(&args),
        Some(Command::Build(args)) => build::run(&args),
        None => build::run(&cli.build),
        Some(Command::Doctor(args)) => doctor::run(&args),
        Some(Command::Images(args)) => images::run(&args),
        Some(Command::Completions(args)) => shell::run_completions(&args),
        Some(Command::Man(args)) => shell::run_man(&args),
        Some(Command::Targets) => {
            for target in crate::targets::TARGETS {
                println!("{:6} {}", target.name, target.triple);
            }
            Ok(ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(err.as_ref());
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
