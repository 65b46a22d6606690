//! `plugin-host completions SHELL` and `plugin-host man`: shell completion scripts
//! (`clap_complete`) and man pages (`clap_mangen`) from the command's own clap definition.
//! `plugin-build` has the same two commands; docs/install.md says where the files go.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::ExitCode,
};

/// Writes the completion script for `shell` to stdout.
pub fn completions(
    mut command: clap::Command,
    shell: clap_complete::Shell,
) -> std::io::Result<ExitCode> {
    let name = command.get_name().to_owned();
    let mut out = Vec::new();
    if shell == clap_complete::Shell::Bash {
        // clap_complete's bash script never completes a subcommand's flags when the command's
        // name has a hyphen (clap-rs/clap#6421); generated for `plugin_host` it is
        // consistent, and only the lines registering it must name the real command.
        let plain = name.replace('-', "_");
        clap_complete::generate(shell, &mut command, plain.as_str(), &mut out);
        out = String::from_utf8_lossy(&out)
            .replace(
                &format!(" -o default {plain}\n"),
                &format!(" -o default {name}\n"),
            )
            .into_bytes();
    } else {
        clap_complete::generate(shell, &mut command, name, &mut out);
    }
    std::io::stdout().lock().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes `plugin-host.1` to stdout, or it and one `plugin-host-<command>.1` per subcommand
/// into `out_dir` (each through a temporary file and a rename), printing their paths.
pub fn man(mut command: clap::Command, out_dir: Option<&Path>) -> std::io::Result<ExitCode> {
    command.build();
    let source = format!(
        "{} {}",
        command.get_name(),
        command.get_version().unwrap_or_default()
    );
    let render = |page: clap::Command| -> std::io::Result<Vec<u8>> {
        let mut text = Vec::new();
        clap_mangen::Man::new(page)
            .source(source.clone())
            .render(&mut text)?;
        Ok(text)
    };
    let Some(dir) = out_dir else {
        std::io::stdout().lock().write_all(&render(command)?)?;
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::create_dir_all(dir)?;
    let mut pages = vec![(command.get_name().to_owned(), command.clone())];
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = sub.get_display_name().unwrap_or(sub.get_name()).to_owned();
        pages.push((name, sub.clone()));
    }
    let mut out = std::io::stdout().lock();
    for (name, page) in pages {
        let path: PathBuf = dir.join(format!("{name}.1"));
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        temp.write_all(&render(page)?)?;
        // Pages are for everyone to read (a temporary file starts 0600).
        temp.as_file()
            .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
        temp.persist(&path).map_err(|e| e.error)?;
        writeln!(out, "{}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}
