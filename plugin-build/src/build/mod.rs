//! `plugin-build build`: cross-builds the plugin. (Being implemented; see the build issue.)

use std::process::ExitCode;

/// Arguments of `plugin-build build`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct BuildArgs {
    /// Targets to build (amd64, 386, arm-7, arm64, all); repeatable or comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub target: Vec<String>,
}

/// Runs `build`.
pub fn run(_args: &BuildArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    Err("`plugin-build build` is not implemented yet".into())
}
