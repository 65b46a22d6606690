//! Host-defined extension points on the host's side: the extension points a host declares
//! ([`HostConfig::extension_point`](crate::HostConfig::extension_point)), and for each loaded
//! plugin the negotiation of versions, the layout check (cached by library content), the
//! construction of the objects, and the typed handles ([`Extension`]).
//!
//! For each extension point a plugin lists, after its `on_load` succeeded:
//!
//! 1. an id this host does not declare is reported `undeclared` and left alone;
//! 2. of the versions the plugin lists for one id, the highest that
//!    [`plugrack_extension::check_version`] accepts is used (GoCD's `resolveExtensionVersion`),
//!    the others are `superseded`; when none is accepted, each is refused with the reason;
//! 3. the plugin's layout of the interface is compared with the host's by abi_stable's
//!    checker (`plugin-host/src/layout.rs`; never in a static initialiser: the library is
//!    open), the plugin's layout as the older side, unless the cache knows this library
//!    content passed;
//! 4. the plugin's constructor writes the object into a slot of the host's type.
//!
//! A refusal at any step refuses that extension only: the plugin's other extensions and its
//! capabilities load as usual.

mod cache;
mod handle;
mod status;
#[cfg(test)]
mod tests;

use std::{
    any::{Any, TypeId},
    mem::MaybeUninit,
    path::Path,
    sync::Arc,
};

use plugrack_api::{
    abi_stable::type_layout::TypeLayout, ExtensionDeclRef, ExtensionSlot, PluginError,
    PluginModuleRef,
};
use plugrack_extension::{check_version, ExtensionPoint, VersionMismatch};

pub use cache::CACHE_FILE;
pub(crate) use cache::{FileIdentity, LayoutCache, ROOT_MODULE};
pub use handle::Extension;
pub(crate) use handle::ExtensionOwner;
pub use status::{ExtensionError, ExtensionRefusal, ExtensionReport, ExtensionStatus, LayoutCheck};

/// An extension point the host declared, with its type erased.
#[derive(Clone)]
pub(crate) struct DeclaredPoint {
    pub type_id: TypeId,
    pub id: &'static str,
    pub version: &'static str,
    pub layout: &'static TypeLayout,
    construct: fn(ExtensionDeclRef) -> Result<Arc<dyn Any + Send + Sync>, PluginError>,
}

impl DeclaredPoint {
    pub fn of<E: ExtensionPoint>() -> Self {
        Self {
            type_id: TypeId::of::<E>(),
            id: E::ID,
            version: E::VERSION,
            layout: E::LAYOUT,
            construct: construct::<E>,
        }
    }
}

fn interface_of(layout: &'static TypeLayout) -> String {
    let (package, version) = layout.package_and_version();
    format!("{package} {version}")
}

fn crate_name_of(layout: &'static TypeLayout) -> String {
    layout.package().to_string()
}

fn construct<E: ExtensionPoint>(
    decl: ExtensionDeclRef,
) -> Result<Arc<dyn Any + Send + Sync>, PluginError> {
    let mut place = MaybeUninit::<E::Object>::uninit();
    (decl.construct())(ExtensionSlot::new(&mut place)).into_result()?;
    // SAFETY: the constructor returned success, which it only does after writing an object
    // of this layout (checked by the caller) and size (checked by `ExtensionSlot::write`).
    let object = unsafe { place.assume_init() };
    Ok(Arc::new(object))
}

/// One extension of a loaded plugin: its report entry and, when active, its object.
pub(crate) struct LoadedExtension {
    pub report: ExtensionReport,
    /// `Arc<E::Object>` of the declared point with this type id.
    object: Option<(TypeId, Arc<dyn Any + Send + Sync>)>,
    version: &'static str,
}

impl LoadedExtension {
    /// A handle, when this is an active implementation of `E`.
    pub fn handle<E: ExtensionPoint>(
        &self,
        owner: &Arc<dyn ExtensionOwner>,
    ) -> Option<Extension<E>> {
        let (type_id, object) = self.object.as_ref()?;
        if *type_id != TypeId::of::<E>() {
            return None;
        }
        let object = Arc::clone(object).downcast::<E::Object>().ok()?;
        Some(Extension::new(object, self.version, Arc::clone(owner)))
    }
}

/// What a plugin is identified by in refusals.
pub(crate) struct PluginRef<'a> {
    pub id: &'a str,
    pub path: &'a Path,
}

/// Negotiates, checks and creates every extension `module` lists, against the host's
/// `declared` points. `library` is the library's content hash, the cache's key; without one
/// the cache is neither consulted nor filled (the manager hashes only a library that may
/// offer the host an extension, so a `None` meets no layout check in practice).
pub(crate) fn resolve(
    plugin: &PluginRef<'_>,
    module: PluginModuleRef,
    library: Option<u128>,
    declared: &[DeclaredPoint],
    cache: &LayoutCache,
) -> Vec<LoadedExtension> {
    // `None` for plugins built against plugrack-api 1.0, which has no extensions.
    let decls: Vec<ExtensionDeclRef> = match module.extensions() {
        Some(list) => list.iter().copied().collect(),
        None => return Vec::new(),
    };
    let mut out: Vec<LoadedExtension> = decls
        .iter()
        .map(|decl| LoadedExtension {
            report: ExtensionReport {
                id: decl.id().to_string(),
                version: decl.version().to_string(),
                interface: interface_of(decl.layout()),
                host_version: None,
                status: ExtensionStatus::Undeclared,
                layout_check: LayoutCheck::NotRun,
            },
            object: None,
            version: decl.version().as_str(),
        })
        .collect();

    for point in declared {
        let candidates: Vec<usize> = (0..decls.len())
            .filter(|&i| decls[i].id().as_str().eq_ignore_ascii_case(point.id))
            .collect();
        if candidates.is_empty() {
            continue;
        }
        let refuse = |refusal: ExtensionRefusal, detail: Option<String>| {
            ExtensionStatus::Refused(Box::new(ExtensionError {
                path: plugin.path.to_owned(),
                plugin: plugin.id.to_owned(),
                extension: point.id.to_owned(),
                interface: crate_name_of(point.layout),
                refusal,
                detail,
            }))
        };
        // Versions the rule accepts, highest first; the rest are refused with the reason.
        let mut accepted: Vec<(plugrack_api::compat::ApiVersion, usize)> = Vec::new();
        for &i in &candidates {
            out[i].report.host_version = Some(point.version.to_owned());
            let version = decls[i].version().as_str();
            match check_version(point.version, version) {
                Ok(()) => {
                    let parsed = plugrack_api::compat::ApiVersion::parse(version)
                        .expect("accepted versions parse");
                    if accepted.iter().any(|(v, _)| *v == parsed) {
                        out[i].report.status = refuse(ExtensionRefusal::Duplicate, None);
                    } else {
                        accepted.push((parsed, i));
                    }
                }
                Err(mismatch) => {
                    let refusal = match mismatch {
                        VersionMismatch::Unparseable { found } => {
                            ExtensionRefusal::BadVersion { found }
                        }
                        VersionMismatch::OtherMajor { plugin, host } => {
                            ExtensionRefusal::OtherMajor {
                                plugin: plugin.to_string(),
                                host: host.to_string(),
                            }
                        }
                        VersionMismatch::NewerMinor { plugin, host } => ExtensionRefusal::TooNew {
                            plugin: plugin.to_string(),
                            host: host.to_string(),
                        },
                    };
                    out[i].report.status = refuse(refusal, None);
                }
            }
        }
        accepted.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
        let Some(&(_, chosen)) = accepted.first() else {
            continue;
        };
        let decl = decls[chosen];
        for &(_, other) in &accepted[1..] {
            out[other].report.status = ExtensionStatus::Superseded {
                by: decl.version().to_string(),
            };
        }
        let version = decl.version().as_str();
        let cached =
            library.is_some_and(|hash| cache.contains(hash, point.id, version, point.version));
        if cached {
            out[chosen].report.layout_check = LayoutCheck::Cached;
        } else {
            let started = std::time::Instant::now();
            // The plugin's layout as the older side (see `crate::layout`).
            let checked = crate::layout::check_against_host(decl.layout(), point.layout);
            out[chosen].report.layout_check = LayoutCheck::Checked {
                micros: started.elapsed().as_micros() as u64,
            };
            if let Err(errors) = checked {
                let detail = errors.to_string();
                log::debug!(
                    target: "plugrack_host",
                    "extension `{}` of plugin `{}`: abi_stable refused the layout: {detail}",
                    point.id,
                    plugin.id
                );
                out[chosen].report.status = refuse(
                    ExtensionRefusal::LayoutMismatch {
                        version: version.to_owned(),
                    },
                    Some(detail),
                );
                continue;
            }
            if let Some(hash) = library {
                cache.insert(hash, point.id, version, point.version);
            }
        }
        match (point.construct)(decl) {
            Ok(object) => {
                out[chosen].object = Some((point.type_id, object));
                out[chosen].report.status = ExtensionStatus::Active;
            }
            Err(error) => {
                out[chosen].report.status = refuse(
                    ExtensionRefusal::ConstructFailed {
                        message: error.message.into(),
                    },
                    None,
                );
            }
        }
    }
    for ext in &out {
        if let Some(error) = ext.report.error() {
            log::warn!(target: "plugrack_host", "{error}");
        }
    }
    out
}

/// The extensions a plugin in a worker process lists, as (id, version) (its root module's
/// list, read by the worker): each one the host declares is refused, since a typed handle
/// calls through the library's own vtables and the library is mapped only in the worker; the
/// others are undeclared, as in process. No layout is checked and no constructor is called.
pub(crate) fn out_of_process(
    plugin: &PluginRef<'_>,
    listed: &[(String, String)],
    declared: &[DeclaredPoint],
) -> Vec<LoadedExtension> {
    let out: Vec<LoadedExtension> = listed
        .iter()
        .map(|(listed_id, listed_version)| {
            let point = declared
                .iter()
                .find(|point| point.id.eq_ignore_ascii_case(listed_id));
            let status = match point {
                Some(point) => ExtensionStatus::Refused(Box::new(ExtensionError {
                    path: plugin.path.to_owned(),
                    plugin: plugin.id.to_owned(),
                    extension: point.id.to_owned(),
                    interface: crate_name_of(point.layout),
                    refusal: ExtensionRefusal::OutOfProcess,
                    detail: None,
                })),
                None => ExtensionStatus::Undeclared,
            };
            LoadedExtension {
                report: ExtensionReport {
                    id: listed_id.clone(),
                    version: listed_version.clone(),
                    // The plugin's own layout is in the worker.
                    interface: String::new(),
                    host_version: point.map(|point| point.version.to_owned()),
                    status,
                    layout_check: LayoutCheck::NotRun,
                },
                object: None,
                version: "",
            }
        })
        .collect();
    for ext in &out {
        if let Some(error) = ext.report.error() {
            log::warn!(target: "plugrack_host", "{error}");
        }
    }
    out
}
