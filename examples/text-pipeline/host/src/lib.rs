//! The text pipeline: a host application with two extension points of its own, declared in
//! its interface crate `text-pipeline-api` and implemented by plugins.
//!
//! [`Pipeline::run`] passes text through every active `Formatter` in load order, then asks
//! every active `Linter` for findings. A plugin that fails (or panics) in a step is reported
//! with the step and skipped; the pipeline goes on.
//!
//! ```no_run
//! let pipeline = text_pipeline::Pipeline::new("plugins".as_ref(), None);
//! for report in pipeline.load() {
//!     for extension in &report.extensions {
//!         println!("{} {} {}", extension.id, extension.version, extension.status);
//!     }
//! }
//! let outcome = pipeline.run("hello world");
//! println!("{}", outcome.text);
//! ```

use std::path::Path;

use plugrack_host::{CallError, HostConfig, PluginManager, PluginReport};
use text_pipeline_api::{
    std_types::RStr, Finding, FormatterCalls, FormatterExt, LinterCalls, LinterExt,
};

/// The host application's version, which plugins may require (`host-version`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The pipeline and its plugins.
pub struct Pipeline {
    manager: PluginManager,
}

/// One formatter that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The plugin.
    pub plugin: String,
    /// The formatter's name (its `name()`; `unnamed` for plugins built against 1.0).
    pub name: String,
    /// The extension point version the plugin implements.
    pub version: String,
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The text after every formatter.
    pub text: String,
    /// The formatters that ran, in order.
    pub steps: Vec<Step>,
    /// Each linter's findings, with the linting plugin's id.
    pub findings: Vec<(String, Finding)>,
    /// The steps that failed, each skipped.
    pub failures: Vec<CallError>,
}

impl Pipeline {
    /// A pipeline loading plugins from `plugins_dir`; `cache_dir` keeps layout-check results
    /// across restarts.
    pub fn new(plugins_dir: &Path, cache_dir: Option<&Path>) -> Self {
        let version = semver::Version::parse(VERSION).expect("the crate version is semver");
        let mut config = HostConfig::new(version)
            .external_dir(plugins_dir)
            .extension_point::<FormatterExt>()
            .extension_point::<LinterExt>();
        if let Some(dir) = cache_dir {
            config = config.cache_dir(dir);
        }
        Self {
            manager: PluginManager::new(config),
        }
    }

    /// Loads the plugins folder; one report per entry.
    pub fn load(&self) -> Vec<PluginReport> {
        self.manager.discover()
    }

    /// The manager, for what this example does not wrap.
    pub fn manager(&self) -> &PluginManager {
        &self.manager
    }

    /// Runs `text` through every formatter, then every linter.
    pub fn run(&self, text: &str) -> Outcome {
        let mut outcome = Outcome {
            text: text.to_owned(),
            ..Outcome::default()
        };
        for formatter in self.manager.extensions::<FormatterExt>() {
            let name = match formatter.name() {
                Ok(name) => name.into_string(),
                Err(e) => {
                    outcome.failures.push(e);
                    continue;
                }
            };
            match formatter.format(RStr::from_str(&outcome.text)) {
                Ok(formatted) => {
                    outcome.text = formatted.into_string();
                    outcome.steps.push(Step {
                        plugin: formatter.plugin_id().to_owned(),
                        name,
                        version: formatter.version().to_owned(),
                    });
                }
                Err(e) => outcome.failures.push(e),
            }
        }
        for linter in self.manager.extensions::<LinterExt>() {
            match linter.lint(RStr::from_str(&outcome.text)) {
                Ok(findings) => outcome.findings.extend(
                    findings
                        .into_iter()
                        .map(|f| (linter.plugin_id().to_owned(), f)),
                ),
                Err(e) => outcome.failures.push(e),
            }
        }
        outcome
    }
}
