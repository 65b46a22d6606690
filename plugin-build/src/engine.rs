//! The container engine (podman or docker) that runs the build images of the `cross` backend:
//! which one is used, whether it answers, whether it can really start a container, and the
//! images in its store. `images` builds into it, `build` hands it to cross as
//! `CROSS_CONTAINER_ENGINE`, `doctor` reports on it.
//!
//! An engine that answers is not yet one that works: on machines that withhold
//! `CAP_SYS_RESOURCE`, podman answers every query and still cannot start a container with its
//! default resource limits. So an engine counts as usable only once a trivial container ran
//! ([`Engine::try_run`]), and each way of failing is an [`EngineError`] variant with its fix.

use std::{collections::BTreeMap, fmt, path::Path};

use crate::process::{CommandLine, ProcessError};

/// The repository of the build images: `localhost/plugin-build:<toolchain>-linux-<arch>`.
pub const IMAGE_REPOSITORY: &str = "localhost/plugin-build";

/// The container engines this tool knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Podman (runs as root without a daemon).
    Podman,
    /// Docker (needs its daemon).
    Docker,
}

impl EngineKind {
    /// The program name.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Podman => "podman",
            EngineKind::Docker => "docker",
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the choice of engine came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineSource {
    /// `--engine`.
    Flag,
    /// The `CROSS_CONTAINER_ENGINE` environment variable.
    Environment,
    /// Found on `PATH` (docker, then podman: cross's own order).
    Path,
}

/// A container engine that answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Engine {
    /// The program (`podman`, `docker`, or what `CROSS_CONTAINER_ENGINE` names).
    pub program: String,
    /// Its kind (a program named neither is treated like docker).
    pub kind: EngineKind,
    /// Where the choice came from.
    pub source: EngineSource,
    /// The build images in its store (`localhost/plugin-build:<tag>`), as listed when found.
    pub images: Vec<String>,
}

/// How starting a container failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartFailure {
    /// The runtime could not set the container's resource limits (no `CAP_SYS_RESOURCE`).
    ResourceLimits,
    /// crun refused the machine's cgroup layout.
    CgroupRuntime,
    /// Something else; the engine's message says what.
    Other,
}

/// Why no usable container engine is there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// Neither podman nor docker (nor the named engine) is on `PATH`.
    #[error("no container engine: {} not found on PATH", .tried.join(" or "))]
    NotFound {
        /// The programs looked for.
        tried: Vec<String>,
    },
    /// The engine is installed but does not answer (docker without its daemon).
    #[error("container engine `{engine}` does not answer: {why}")]
    NotAnswering {
        /// The program.
        engine: String,
        /// The last line of its error.
        why: String,
    },
    /// The engine answers but cannot start a container.
    #[error("container engine `{engine}` cannot start containers (`{command}`): {why}")]
    CannotStart {
        /// The program.
        engine: String,
        /// The trivial container's command line.
        command: String,
        /// The last line of its error.
        why: String,
        /// What kind of failure it is (chooses the fix).
        failure: StartFailure,
    },
}

/// The `containers.conf` lines that lower the limits containers start with.
pub const PODMAN_ULIMITS: &str =
    r#"[containers] default_ulimits = ["nofile=8192:8192", "nproc=8192:8192"]"#;

impl EngineError {
    /// The command or step that fixes it.
    pub fn fix(&self) -> String {
        match self {
            EngineError::NotFound { .. } => {
                "`sudo apt-get install -y podman runc` (then the settings of `scripts/setup.sh`), \
                 or install docker; or build without containers: `--backend zigbuild`"
                    .into()
            }
            EngineError::NotAnswering { engine, .. } if engine.contains("docker") => {
                "start the daemon (`sudo systemctl start docker`), or use podman: \
                 `CROSS_CONTAINER_ENGINE=podman` / `--engine podman`"
                    .into()
            }
            EngineError::NotAnswering { engine, .. } => {
                format!("run `{engine} info` to see what is wrong with it")
            }
            EngineError::CannotStart {
                engine, failure, ..
            } => match failure {
                StartFailure::ResourceLimits if engine.contains("docker") => {
                    "start containers with lower limits: `\"default-ulimits\"` for nofile and \
                     nproc in `/etc/docker/daemon.json`, then restart docker"
                        .into()
                }
                StartFailure::ResourceLimits => format!(
                    "containers cannot raise their resource limits here: set \
                     `{PODMAN_ULIMITS}` in `/etc/containers/containers.conf` (`scripts/setup.sh` \
                     writes it)"
                ),
                StartFailure::CgroupRuntime => "use runc: `sudo apt-get install -y runc` and \
                     `[engine] runtime = \"runc\"` in `/etc/containers/containers.conf` \
                     (`scripts/setup.sh` writes it)"
                    .into(),
                StartFailure::Other => format!(
                    "run the command above to see the whole error; `{engine} info` and \
                     `plugin-build doctor` show the engine's setup"
                ),
            },
        }
    }
}

/// The last non-empty line of a failed command's stderr (the engine's own message).
fn last_line(err: &ProcessError) -> String {
    match err {
        ProcessError::Failed { stderr, .. } => stderr
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("it failed without a message")
            .to_owned(),
        other => other.to_string(),
    }
}

/// Recognises the known ways a container fails to start.
pub fn classify_start_failure(message: &str) -> StartFailure {
    let lower = message.to_ascii_lowercase();
    if lower.contains("rlimit") {
        StartFailure::ResourceLimits
    } else if lower.contains("crun") && lower.contains("cgroup") {
        StartFailure::CgroupRuntime
    } else {
        StartFailure::Other
    }
}

impl Engine {
    /// Finds the engine: `choice` (from `--engine`), else `CROSS_CONTAINER_ENGINE`, else the
    /// first of docker and podman on `PATH` that answers. "Answers" means it lists its images
    /// (which also needs docker's daemon); starting a container is [`Engine::try_run`].
    pub fn find(choice: Option<EngineKind>) -> Result<Engine, EngineError> {
        let env = std::env::var("CROSS_CONTAINER_ENGINE")
            .ok()
            .filter(|e| !e.is_empty());
        let (candidates, source) = match (choice, env) {
            (Some(kind), _) => (vec![kind.name().to_owned()], EngineSource::Flag),
            (None, Some(name)) => (vec![name], EngineSource::Environment),
            (None, None) => (
                vec!["docker".to_owned(), "podman".to_owned()],
                EngineSource::Path,
            ),
        };
        let mut not_answering = None;
        for program in &candidates {
            if which::which(program).is_err() {
                continue;
            }
            let kind = if Path::new(program)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains("podman"))
            {
                EngineKind::Podman
            } else {
                EngineKind::Docker
            };
            let mut engine = Engine {
                program: program.clone(),
                kind,
                source: source.clone(),
                images: Vec::new(),
            };
            match engine.list_images() {
                Ok(images) => {
                    engine.images = images;
                    return Ok(engine);
                }
                Err(e) => {
                    not_answering.get_or_insert(EngineError::NotAnswering {
                        engine: program.clone(),
                        why: last_line(&e),
                    });
                }
            }
        }
        Err(not_answering.unwrap_or(EngineError::NotFound { tried: candidates }))
    }

    fn command(&self) -> CommandLine {
        CommandLine::new(self.program.clone())
    }

    /// The build images in the store, as `localhost/plugin-build:<tag>`.
    pub fn list_images(&self) -> Result<Vec<String>, ProcessError> {
        let output = self
            .command()
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .arg("--filter")
            .arg(format!("reference={IMAGE_REPOSITORY}"))
            .output()?;
        let mut images: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with(IMAGE_REPOSITORY))
            .map(str::to_owned)
            .collect();
        images.sort();
        images.dedup();
        Ok(images)
    }

    /// The labels and id of `image`, or `None` when the store has no such image.
    pub fn inspect(&self, image: &str) -> Option<(String, BTreeMap<String, String>)> {
        let output = self
            .command()
            .args([
                "image",
                "inspect",
                "--format",
                "{{.Id}} {{json .Config.Labels}}",
            ])
            .arg(image)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let (id, labels) = text.trim().split_once(' ')?;
        let labels = serde_json::from_str::<Option<BTreeMap<String, String>>>(labels)
            .ok()
            .flatten()
            .unwrap_or_default();
        Some((id.to_owned(), labels))
    }

    /// The command line of a trivial container from `image` that runs `command`.
    pub fn run_command(&self, image: &str, command: &[&str]) -> CommandLine {
        self.command()
            .args(["run", "--rm", "--network", "none"])
            .arg(image)
            .args(command.iter().copied())
    }

    /// Starts a trivial container (`true`) from `image`: the proof that the engine works.
    pub fn try_run(&self, image: &str) -> Result<(), EngineError> {
        self.check_run(&self.run_command(image, &["true"]))
    }

    /// Runs `cmd` (a container start) and maps its failure to [`EngineError::CannotStart`].
    pub fn check_run(&self, cmd: &CommandLine) -> Result<(), EngineError> {
        cmd.output().map(|_| ()).map_err(|e| {
            let why = last_line(&e);
            EngineError::CannotStart {
                engine: self.program.clone(),
                command: cmd.to_string(),
                failure: classify_start_failure(&why),
                why,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_failures_are_recognised_and_each_has_its_fix() {
        let rlimit = "Error: runc: runc create failed: unable to start container process: error \
                      during container init: error setting rlimits for ready process: error \
                      setting rlimit type 7: operation not permitted: OCI permission denied";
        assert_eq!(classify_start_failure(rlimit), StartFailure::ResourceLimits);
        assert_eq!(
            classify_start_failure("crun: cannot set up cgroup: hybrid layout"),
            StartFailure::CgroupRuntime
        );
        assert_eq!(classify_start_failure("no space left"), StartFailure::Other);
        let fix = |engine: &str, failure| {
            EngineError::CannotStart {
                engine: engine.into(),
                command: String::new(),
                why: String::new(),
                failure,
            }
            .fix()
        };
        assert!(fix("podman", StartFailure::ResourceLimits).contains("default_ulimits"));
        assert!(fix("docker", StartFailure::ResourceLimits).contains("daemon.json"));
        assert!(fix("podman", StartFailure::CgroupRuntime).contains("runtime = \"runc\""));
        let missing = EngineError::NotFound {
            tried: vec!["docker".into(), "podman".into()],
        };
        assert_eq!(
            missing.to_string(),
            "no container engine: docker or podman not found on PATH"
        );
        assert!(missing.fix().contains("apt-get install -y podman runc"));
    }
}
