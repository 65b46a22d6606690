//! Forwards the `log` crate's records from inside the plugin to the host's log for it.
//!
//! A plugin's shared library carries its own copy of the `log` crate and its global logger,
//! separate from the host's, so records must be passed through the boundary explicitly.

use std::sync::{Arc, OnceLock, RwLock};

use plugrack_api::LogLevel;

use crate::Services;

struct HostLogger {
    services: Arc<RwLock<Option<Services>>>,
}

fn slot() -> &'static Arc<RwLock<Option<Services>>> {
    static SLOT: OnceLock<Arc<RwLock<Option<Services>>>> = OnceLock::new();
    SLOT.get_or_init(|| Arc::new(RwLock::new(None)))
}

impl log::Log for HostLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let guard = self.services.read().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .is_some_and(|s| s.log_enabled(LogLevel(metadata.level() as u8), metadata.target()))
    }

    fn log(&self, record: &log::Record<'_>) {
        let guard = self.services.read().unwrap_or_else(|e| e.into_inner());
        if let Some(services) = guard.as_ref() {
            let level = LogLevel(record.level() as u8);
            if services.log_enabled(level, record.target()) {
                services.log_record(level, record.target(), &record.args().to_string());
            }
        }
    }

    fn flush(&self) {}
}

/// Routes this library's `log` records to `services`. The first call installs the logger;
/// later calls (a harness loading the plugin again) only swap the destination.
pub(crate) fn forward_to(services: Option<Services>) {
    *slot().write().unwrap_or_else(|e| e.into_inner()) = services;
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // In a test process another logger may already be set; records then stay there.
        if log::set_boxed_logger(Box::new(HostLogger {
            services: Arc::clone(slot()),
        }))
        .is_ok()
        {
            log::set_max_level(log::LevelFilter::Trace);
        }
    });
}
