//! The results of a build: one [`Artifact`] per target, shown as a summary table (target,
//! file, size, glibc floor, time) or, with `--message-format json`, one JSON object per line
//! on stdout. A closed stdout (`| head`) ends the output quietly.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use serde::Serialize;

use super::backend::Backend;

/// One built, checked plugin file.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    /// Always `plugin-artifact`.
    pub reason: &'static str,
    /// The target name (`arm64`).
    pub target: &'static str,
    /// The Rust triple.
    pub triple: &'static str,
    /// The backend that built it.
    pub backend: Backend,
    /// The output file (`build/<name>-<arch>.so`).
    pub file: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// The highest glibc version it needs, `MAJOR.MINOR`.
    pub glibc: Option<String>,
    /// 32 or 64.
    pub elf_class: u8,
    /// The machine it is built for.
    pub machine: &'static str,
    /// Whether it exports the plugin root symbol (always true for a reported artifact).
    pub root_symbol: bool,
    /// Whether its symbol table is stripped.
    pub stripped: bool,
    /// Seconds the backend took for it (for targets built together: the whole invocation).
    pub seconds: f64,
    /// The exact command that built it.
    pub command: String,
}

/// Writes one line to stdout; a closed pipe ends the process quietly, as cargo does.
pub fn out(line: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}").and_then(|_| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// Writes one JSON object as a line to stdout.
pub fn out_json(value: &impl Serialize) {
    out(&serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")));
}

/// Sizes as people read them.
pub fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

/// Shows `path` relative to `base` when it is below it.
pub fn display_path(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The summary table.
pub fn table(artifacts: &[Artifact], base: &Path) -> String {
    let mut rows = vec![[
        "target".to_owned(),
        "file".to_owned(),
        "size".to_owned(),
        "glibc".to_owned(),
        "time".to_owned(),
    ]];
    for a in artifacts {
        rows.push([
            a.target.to_owned(),
            display_path(&a.file, base),
            human_size(a.size),
            a.glibc.clone().unwrap_or_else(|| "-".into()),
            format!("{:.1}s", a.seconds),
        ]);
    }
    let mut widths = [0usize; 5];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {:>w4$}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lines_up() {
        let artifact = |target, file: &str, size, glibc: Option<&str>| Artifact {
            reason: "plugin-artifact",
            target,
            triple: "t",
            backend: Backend::Cargo,
            file: PathBuf::from("/p").join(file),
            size,
            glibc: glibc.map(str::to_owned),
            elf_class: 64,
            machine: "m",
            root_symbol: true,
            stripped: true,
            seconds: 1.25,
            command: String::new(),
        };
        let text = table(
            &[
                artifact("amd64", "build/p-amd64.so", 700_000, Some("2.34")),
                artifact("arm-7", "build/p-arm-7.so", 2_000_000, None),
            ],
            Path::new("/p"),
        );
        assert_eq!(
            text,
            "target  file                 size  glibc  time\n\
             amd64   build/p-amd64.so  684 KiB  2.34   1.2s\n\
             arm-7   build/p-arm-7.so  1.9 MiB  -      1.2s\n"
        );
    }
}
