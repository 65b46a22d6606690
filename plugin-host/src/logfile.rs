//! One log per plugin: `plugin-<id>.log` in the host's log folder, its own level, rotation by
//! size (GoCD's per-plugin log files). Without a log folder, records go to the `log` facade
//! with the target `plugin::<id>`.

use std::{
    fs::{self, File, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{SystemTime, UNIX_EPOCH},
};

pub use log::LevelFilter;

/// How many rotated files are kept (`.log.1` is the newest).
const ROTATED_FILES: u32 = 3;

/// The environment variable that sets a plugin's level: `PLUGIN_<ID>_LOG_LEVEL`.
pub fn level_variable(plugin_id: &str) -> String {
    let id: String = plugin_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PLUGIN_{id}_LOG_LEVEL")
}

struct Sink {
    path: PathBuf,
    file: File,
    written: u64,
}

/// A plugin's log.
pub(crate) struct PluginLog {
    target: String,
    level: LevelFilter,
    max_bytes: u64,
    sink: Option<Mutex<Sink>>,
}

impl PluginLog {
    pub fn new(
        plugin_id: &str,
        level: LevelFilter,
        dir: Option<&Path>,
        max_bytes: u64,
    ) -> std::io::Result<Self> {
        let sink = match dir {
            None => None,
            Some(dir) => {
                fs::create_dir_all(dir)?;
                let path = dir.join(format!("plugin-{plugin_id}.log"));
                let file = OpenOptions::new().create(true).append(true).open(&path)?;
                let written = file.metadata()?.len();
                Some(Mutex::new(Sink {
                    path,
                    file,
                    written,
                }))
            }
        };
        Ok(Self {
            target: format!("plugin::{plugin_id}"),
            level,
            max_bytes,
            sink,
        })
    }

    pub fn enabled(&self, level: log::Level) -> bool {
        if level > self.level {
            return false;
        }
        match &self.sink {
            Some(_) => true,
            None => {
                level <= log::max_level()
                    && log::logger().enabled(
                        &log::Metadata::builder()
                            .level(level)
                            .target(&self.target)
                            .build(),
                    )
            }
        }
    }

    /// The most detailed level that can be kept: the plugin's level, and without a log
    /// file also the host logger's maximum. A worker filters records with it before sending.
    pub fn effective_level(&self) -> LevelFilter {
        match &self.sink {
            Some(_) => self.level,
            None => self.level.min(log::max_level()),
        }
    }

    /// A line the plugin's worker process wrote to its stderr. Kept whatever the level:
    /// it is what explains a crash.
    pub fn stderr(&self, line: &str) {
        let Some(sink) = &self.sink else {
            log::logger().log(
                &log::Record::builder()
                    .level(log::Level::Warn)
                    .target(&self.target)
                    .args(format_args!("stderr: {line}"))
                    .build(),
            );
            return;
        };
        self.write_line("STDERR", line, sink);
    }

    pub fn log(&self, level: log::Level, message: &str) {
        if !self.enabled(level) {
            return;
        }
        let Some(sink) = &self.sink else {
            log::logger().log(
                &log::Record::builder()
                    .level(level)
                    .target(&self.target)
                    .args(format_args!("{message}"))
                    .build(),
            );
            return;
        };
        self.write_line(level.as_str(), message, sink);
    }

    fn write_line(&self, level: &str, message: &str, sink: &Mutex<Sink>) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let line = format!(
            "{}.{:03} {:5} {}\n",
            now.as_secs(),
            now.subsec_millis(),
            level,
            message
        );
        let mut sink = sink.lock().unwrap_or_else(|e| e.into_inner());
        if sink.written + line.len() as u64 > self.max_bytes && sink.written > 0 {
            if let Err(e) = rotate(&mut sink) {
                log::warn!(target: "plugrack_host", "cannot rotate {}: {e}", sink.path.display());
            }
        }
        if sink.file.write_all(line.as_bytes()).is_ok() {
            sink.written += line.len() as u64;
        }
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

fn rotate(sink: &mut Sink) -> std::io::Result<()> {
    for n in (1..ROTATED_FILES).rev() {
        let from = rotated(&sink.path, n);
        if from.exists() {
            fs::rename(&from, rotated(&sink.path, n + 1))?;
        }
    }
    fs::rename(&sink.path, rotated(&sink.path, 1))?;
    sink.file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&sink.path)?;
    sink.written = 0;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_follow_the_id() {
        assert_eq!(
            level_variable("com.example.yum-poller"),
            "PLUGIN_COM_EXAMPLE_YUM_POLLER_LOG_LEVEL"
        );
    }

    #[test]
    fn files_rotate_by_size_and_respect_the_level() {
        let dir = tempfile::tempdir().unwrap();
        let log = PluginLog::new("x", LevelFilter::Info, Some(dir.path()), 200).unwrap();
        log.log(log::Level::Debug, "hidden");
        for i in 0..20 {
            log.log(log::Level::Info, &format!("line {i:02} with some padding"));
        }
        let current = fs::read_to_string(dir.path().join("plugin-x.log")).unwrap();
        assert!(!current.contains("hidden"));
        assert!(current.contains("line 19"), "{current}");
        assert!(dir.path().join("plugin-x.log.1").exists());
        assert!(dir.path().join("plugin-x.log.3").exists());
        assert!(
            !dir.path().join("plugin-x.log.4").exists(),
            "only three rotated files are kept"
        );
        assert!(fs::metadata(dir.path().join("plugin-x.log")).unwrap().len() <= 200);
    }
}
