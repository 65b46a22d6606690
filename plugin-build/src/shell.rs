//! `plugin-build completions SHELL` and `plugin-build man`: shell completion scripts
//! (`clap_complete`) and man pages (`clap_mangen`), both generated from the same clap
//! definition the tool parses with, so they never drift from the real flags.
//!
//! Where to put them is the user's (or a packager's) choice; docs/install.md lists the usual
//! folders. Writing man pages into a folder is atomic per file.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::CommandFactory;

use crate::fsutil;

/// Arguments of `plugin-build completions`.
#[derive(Debug, Clone, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to write the completion script for (to stdout).
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// Arguments of `plugin-build man`.
#[derive(Debug, Clone, clap::Args)]
pub struct ManArgs {
    /// Write `plugin-build.1` and one `plugin-build-<command>.1` per subcommand into DIR
    /// (created if missing) instead of printing `plugin-build.1` to stdout.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

/// Why `plugin-build man` failed.
#[derive(Debug, thiserror::Error)]
pub enum ManError {
    /// A page could not be written.
    #[error("cannot write the man page `{}`", .path.display())]
    Write {
        /// The page.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Runs `completions`.
pub fn run_completions(args: &CompletionsArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    write_completions(args.shell, &mut crate::Cli::command(), &mut out);
    write_stdout(&out)
}

/// Writes the completion script of `command` for `shell`.
pub fn write_completions(
    shell: clap_complete::Shell,
    command: &mut clap::Command,
    out: &mut Vec<u8>,
) {
    let name = command.get_name().to_owned();
    if shell != clap_complete::Shell::Bash || !name.contains('-') {
        clap_complete::generate(shell, command, name, out);
        return;
    }
    // clap_complete's bash script never completes a subcommand's flags when the command's
    // name has a hyphen (clap-rs/clap#6421: the states it enters and the ones it matches are
    // spelled differently). Generated for `plugin_build`, the script is consistent; only the
    // `complete -F` lines that register it must name the real command.
    let plain = name.replace('-', "_");
    let mut script = Vec::new();
    clap_complete::generate(shell, command, plain.as_str(), &mut script);
    let script = String::from_utf8_lossy(&script).replace(
        &format!(" -o default {plain}\n"),
        &format!(" -o default {name}\n"),
    );
    out.extend_from_slice(script.as_bytes());
}

/// Runs `man`.
pub fn run_man(args: &ManArgs) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let command = crate::Cli::command();
    match &args.out_dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut out)
                .expect("rendering into memory does not fail");
            write_stdout(&out)
        }
        Some(dir) => {
            for path in write_man_pages(command, dir)? {
                println!("{}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Writes the man page of `command` and one per visible subcommand (`<name>-<sub>.1`, the
/// way `git` and `cargo` name theirs) into `dir`; returns the paths written.
pub fn write_man_pages(command: clap::Command, dir: &Path) -> Result<Vec<PathBuf>, ManError> {
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| ManError::Write { path, source }
    };
    std::fs::create_dir_all(dir).map_err(write_error(dir))?;
    let mut command = command;
    // Building the command names each subcommand like `git` and `cargo` name their pages
    // (`plugin-build-new`) and its synopsis `plugin-build new`.
    command.build();
    let source = format!(
        "{} {}",
        command.get_name(),
        command.get_version().unwrap_or_default()
    );
    let mut pages = vec![(command.get_name().to_owned(), command.clone())];
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let name = sub.get_display_name().unwrap_or(sub.get_name()).to_owned();
        pages.push((name, sub.clone()));
    }
    let mut written = Vec::new();
    for (name, page) in pages {
        let mut text = Vec::new();
        clap_mangen::Man::new(page)
            .source(source.clone())
            .render(&mut text)
            .expect("rendering into memory does not fail");
        let path = dir.join(format!("{name}.1"));
        fsutil::write_atomic(&path, &text).map_err(write_error(&path))?;
        written.push(path);
    }
    Ok(written)
}

/// Writes to stdout; a closed pipe (`| head`) is a quiet success.
fn write_stdout(bytes: &[u8]) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completions_for_every_shell_name_every_subcommand() {
        use clap::ValueEnum;
        for shell in clap_complete::Shell::value_variants() {
            let mut out = Vec::new();
            write_completions(*shell, &mut crate::Cli::command(), &mut out);
            let text = String::from_utf8(out).unwrap();
            for sub in [
                "new", "cap", "build", "package", "deploy", "inspect", "doctor",
            ] {
                assert!(text.contains(sub), "{shell}: no `{sub}`");
            }
            // fish writes `-l sdk-version`, the others `--sdk-version`.
            assert!(text.contains("sdk-version"), "{shell}: no flags of `new`");
        }
    }

    #[test]
    fn man_pages_for_the_tool_and_each_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(crate::Cli::command(), dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for name in [
            "plugin-build.1",
            "plugin-build-new.1",
            "plugin-build-deploy.1",
        ] {
            assert!(names.contains(&name.to_owned()), "{names:?}");
        }
        let new = std::fs::read_to_string(dir.path().join("plugin-build-new.1")).unwrap();
        assert!(new.starts_with(".ie \\n(.g .ds Aq"), "a roff page:\n{new}");
        assert!(new.contains(".TH plugin-build-new 1"), "{new}");
        assert!(new.contains("\\-\\-sdk\\-version"), "{new}");
    }
}
