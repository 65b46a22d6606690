//! Typed handles to the host-defined extension points that loaded plugins implement. The
//! checks and the objects are made when a plugin loads ([`crate::extension::resolve`], from
//! [`super::open`]); this hands them out.

use std::sync::Arc;

use plugrack_extension::ExtensionPoint;

use super::{lock_poisoned, Loaded, PluginManager};
use crate::{
    call::CallError,
    extension::{Extension, ExtensionOwner},
    metrics::Metrics,
    report::PluginStatus,
};

impl ExtensionOwner for Loaded {
    fn plugin_id(&self) -> &str {
        &self.info.id
    }

    fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

fn owner(loaded: &Arc<Loaded>) -> Arc<dyn ExtensionOwner> {
    Arc::clone(loaded) as Arc<dyn ExtensionOwner>
}

impl PluginManager {
    /// A handle to every active implementation of the extension point `E`, in load order
    /// (the marker type `#[extension_point]` generates, declared with
    /// [`HostConfig::extension_point`](crate::HostConfig::extension_point)). Disabled
    /// plugins and refused implementations are left out; see each plugin's
    /// [`PluginReport::extensions`](crate::PluginReport::extensions) for why.
    ///
    /// ```ignore
    /// use text_pipeline_api::{FormatterCalls, FormatterExt};
    ///
    /// for formatter in manager.extensions::<FormatterExt>() {
    ///     text = formatter.format(text.as_str().into())?.into_string();
    /// }
    /// ```
    ///
    /// Handles are cheap to keep and to clone; one taken before a reload keeps calling the
    /// build it came from until it is dropped.
    pub fn extensions<E: ExtensionPoint>(&self) -> Vec<Extension<E>> {
        let state = self.core.state.read().unwrap_or_else(lock_poisoned);
        state
            .iter()
            .filter(|e| e.status == PluginStatus::Active)
            .filter_map(|e| e.loaded.as_ref())
            .flat_map(|loaded| {
                let owner = owner(loaded);
                loaded
                    .extensions
                    .iter()
                    .filter_map(move |ext| ext.handle::<E>(&owner))
            })
            .collect()
    }

    /// A handle to plugin `id`'s implementation of the extension point `E`: `NotFound` or
    /// `NotActive` like an instance, `Unsupported` (naming the extension point's id) when the
    /// plugin has no usable implementation of it.
    pub fn extension<E: ExtensionPoint>(&self, id: &str) -> Result<Extension<E>, CallError> {
        let loaded = self.active(id)?;
        let owner = owner(&loaded);
        loaded
            .extensions
            .iter()
            .find_map(|ext| ext.handle::<E>(&owner))
            .ok_or_else(|| CallError::Unsupported {
                id: loaded.info.id.clone(),
                capability: E::ID,
            })
    }
}
