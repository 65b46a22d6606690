//! `/metrics` in Prometheus' text format, through the `prometheus` crate.
//!
//! - `plugin_calls_total`, `plugin_errors_total`, `plugin_panics_total` (per plugin): the
//!   host's own counters, read from the manager at each scrape, so calls the host makes on
//!   its own (instances, lifecycle) count too;
//! - `plugin_call_duration_seconds` (per plugin and entry point): a histogram of every call
//!   this server makes, timed around the call (see [`crate::calls`]);
//! - `plugin_http_responses_total` (per plugin and status code): answers of plugin routes;
//! - `plugin_server_plugins` (per status): how many plugins are active, disabled, invalid.

use std::{sync::Arc, time::Duration};

use plugrack_host::{PluginManager, PluginStatus};
use prometheus::{
    core::{Collector, Desc},
    proto::MetricFamily,
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    call_seconds: HistogramVec,
    responses: IntCounterVec,
}

/// Reads the host's per-plugin counters at scrape time.
struct HostCounters {
    manager: Arc<PluginManager>,
    calls: IntCounterVec,
    errors: IntCounterVec,
    panics: IntCounterVec,
    plugins: IntGaugeVec,
}

fn counter(name: &str, help: &str) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), &["plugin"]).expect("valid metric options")
}

impl HostCounters {
    fn new(manager: Arc<PluginManager>) -> Self {
        Self {
            manager,
            calls: counter(
                "plugin_calls_total",
                "Calls into the plugin (every entry point).",
            ),
            errors: counter(
                "plugin_errors_total",
                "Calls that returned an error, panics included.",
            ),
            panics: counter(
                "plugin_panics_total",
                "Panics the plugin's entry points contained.",
            ),
            plugins: IntGaugeVec::new(
                Opts::new("plugin_server_plugins", "Plugins by status."),
                &["status"],
            )
            .expect("valid metric options"),
        }
    }
}

impl Collector for HostCounters {
    fn desc(&self) -> Vec<&Desc> {
        [&self.calls, &self.errors, &self.panics]
            .into_iter()
            .flat_map(|c| c.desc())
            .chain(self.plugins.desc())
            .collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        // Fresh vectors each time: the values are the host's, not accumulated here.
        let (calls, errors, panics) = (
            counter(
                "plugin_calls_total",
                "Calls into the plugin (every entry point).",
            ),
            counter(
                "plugin_errors_total",
                "Calls that returned an error, panics included.",
            ),
            counter(
                "plugin_panics_total",
                "Panics the plugin's entry points contained.",
            ),
        );
        let plugins = self.plugins.clone();
        plugins.reset();
        for status in ["active", "disabled", "invalid"] {
            plugins.with_label_values(&[status]).set(0);
        }
        for report in self.manager.reports() {
            if matches!(report.status, PluginStatus::Skipped { .. }) {
                continue;
            }
            plugins.with_label_values(&[report.status.name()]).inc();
            let Some(info) = &report.info else { continue };
            let m = &report.metrics;
            calls.with_label_values(&[&info.id]).inc_by(m.calls);
            errors.with_label_values(&[&info.id]).inc_by(m.errors);
            panics.with_label_values(&[&info.id]).inc_by(m.panics);
        }
        [
            calls.collect(),
            errors.collect(),
            panics.collect(),
            plugins.collect(),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl Metrics {
    /// Metrics over `manager`'s plugins.
    pub fn new(manager: Arc<PluginManager>) -> Self {
        let registry = Registry::new();
        // 1 µs to about 4 s, by factors of 4: plugin calls range from a vtable call to a
        // webhook that waits on another service.
        let buckets = prometheus::exponential_buckets(1e-6, 4.0, 12).expect("valid buckets");
        let call_seconds = HistogramVec::new(
            HistogramOpts::new(
                "plugin_call_duration_seconds",
                "Time of each call this server made into a plugin.",
            )
            .buckets(buckets),
            &["plugin", "operation"],
        )
        .expect("valid metric options");
        let responses = IntCounterVec::new(
            Opts::new(
                "plugin_http_responses_total",
                "Responses of plugin routes, by status code.",
            ),
            &["plugin", "code"],
        )
        .expect("valid metric options");
        registry
            .register(Box::new(call_seconds.clone()))
            .expect("registered once");
        registry
            .register(Box::new(responses.clone()))
            .expect("registered once");
        registry
            .register(Box::new(HostCounters::new(manager)))
            .expect("registered once");
        Self {
            registry,
            call_seconds,
            responses,
        }
    }

    /// Records one call's time.
    pub fn observe_call(&self, plugin: &str, operation: &str, elapsed: Duration) {
        self.call_seconds
            .with_label_values(&[plugin, operation])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one plugin route response.
    pub fn count_response(&self, plugin: &str, status: u16) {
        self.responses
            .with_label_values(&[plugin, &status.to_string()])
            .inc();
    }

    /// Everything, in the text format.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("the text encoder writes to memory");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}
