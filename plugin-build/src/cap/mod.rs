//! `plugin-build cap`: pins the plugin's shared crates to the host's `Cargo.lock`.
//! (Being implemented; see the cap issue.)

use std::process::ExitCode;

/// Arguments of `plugin-build cap`.
#[derive(Debug, clap::Args)]
pub struct CapArgs {
    /// The host's Cargo.lock, or the host's folder.
    #[arg(long)]
    pub from: std::path::PathBuf,
}

/// Runs `cap`.
pub fn run(_args: &CapArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("`plugin-build cap` is not implemented yet".into())
}
