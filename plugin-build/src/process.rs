//! Every external process (cargo, cross, cargo-zigbuild, strip, qemu) runs through here, so
//! the exact command line is recorded and a failure shows the child's stderr.

use std::{fmt, path::Path, process::Output};

/// A command that failed to start or exited unsuccessfully.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started.
    #[error("cannot run `{command}`")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The program exited with a failure status.
    #[error("`{command}` failed ({status})\n{stderr}")]
    Failed {
        /// The command line.
        command: String,
        /// The exit status.
        status: String,
        /// What it wrote to stderr.
        stderr: String,
    },
}

/// A command line to run, recorded for messages.
#[derive(Debug, Clone)]
pub struct CommandLine {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    dir: Option<std::path::PathBuf>,
}

impl CommandLine {
    /// `program` with no arguments.
    pub fn new(program: impl Into<String>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            dir: None,
        }
    }

    /// Appends an argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Runs the child in `dir`.
    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    /// The program.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The arguments.
    pub fn arguments(&self) -> &[String] {
        &self.args
    }

    /// The environment variables set for the child.
    pub fn environment(&self) -> &[(String, String)] {
        &self.env
    }

    /// The directory the child runs in, when set.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn expression(&self) -> duct::Expression {
        let mut expr = duct::cmd(&self.program, &self.args);
        for (k, v) in &self.env {
            expr = expr.env(k, v);
        }
        if let Some(dir) = &self.dir {
            expr = expr.dir(dir);
        }
        expr
    }

    /// Runs to completion, capturing stdout and stderr; an unsuccessful exit is an error that
    /// carries the stderr.
    pub fn output(&self) -> Result<Output, ProcessError> {
        let output = self
            .expression()
            .stdout_capture()
            .stderr_capture()
            .unchecked()
            .run()
            .map_err(|source| ProcessError::Spawn {
                command: self.to_string(),
                source,
            })?;
        if output.status.success() {
            Ok(output)
        } else {
            // Some programs (debootstrap) state their error on stdout: show that when stderr
            // has nothing.
            let stderr = String::from_utf8_lossy(&output.stderr)
                .trim_end()
                .to_owned();
            Err(ProcessError::Failed {
                command: self.to_string(),
                status: output.status.to_string(),
                stderr: if stderr.is_empty() {
                    String::from_utf8_lossy(&output.stdout)
                        .trim_end()
                        .to_owned()
                } else {
                    stderr
                },
            })
        }
    }

    /// Runs to completion with stderr passed through to the user (cargo's diagnostics) and
    /// stdout captured.
    pub fn run_passthrough(&self) -> Result<Output, ProcessError> {
        let output = self
            .expression()
            .stdout_capture()
            .unchecked()
            .run()
            .map_err(|source| ProcessError::Spawn {
                command: self.to_string(),
                source,
            })?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(ProcessError::Failed {
                command: self.to_string(),
                status: output.status.to_string(),
                stderr: "(its output is shown above)".into(),
            })
        }
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.env {
            write!(f, "{k}={} ", shell_quote(v))?;
        }
        f.write_str(&shell_quote(&self.program))?;
        for arg in &self.args {
            write!(f, " {}", shell_quote(arg))?;
        }
        Ok(())
    }
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_are_shown_shell_quoted() {
        let cmd = CommandLine::new("cargo")
            .args(["build", "--target", "a b"])
            .env("X", "1");
        assert_eq!(cmd.to_string(), "X=1 cargo build --target 'a b'");
    }

    #[test]
    fn failure_carries_stderr() {
        let err = CommandLine::new("sh")
            .args(["-c", "echo oops >&2; exit 3"])
            .output()
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("oops") && text.contains("exit status: 3"),
            "{text}"
        );
    }
}
