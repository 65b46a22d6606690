//! Loads one plugin file: preflight, `dlopen` through abi_stable, layout and version checks,
//! descriptor checks. Maps every abi_stable error to a [`Refusal`].
//!
//! Always `lib_header_from_path` and the header's own initialisation, never
//! `RootModule::load_from_*`: those cache the first module of a type in a static and return it
//! for every later path, so two plugins would silently become one.
//!
//! The root module's layout is checked here rather than by `init_root_module`, because that
//! checks the wrong way round for a plugin host: abi_stable's checker accepts an
//! implementation with more trailing prefix fields than the interface, never fewer, and
//! `init_root_module` passes the host's layout as the interface. A host at plugrack-api 1.1
//! would then refuse every plugin built against 1.0, whose root module ends before
//! `extensions` ("too many fields"). So the plugin's layout goes first: every field the
//! plugin has must match the host's, and the host reads the fields the plugin lacks through
//! accessors that answer `None`. A plugin newer than the host is refused by the version rule
//! (`check_descriptor`) whatever its layout. The check itself is [`crate::layout`]'s; a
//! library content that passed it before (the extension layouts' cache, under the key
//! `:root-module`) is not checked again.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use plugrack_api::{
    abi_stable::{
        library::{lib_header_from_path, LibHeader, LibraryError, RootModule, RootModuleError},
        sabi_types::VersionNumber,
        std_types::RBoxError,
        StableAbi,
    },
    PluginModuleRef,
};

use crate::{
    error::{LoadError, Refusal},
    extension::{LayoutCache, ROOT_MODULE},
    preflight,
    report::PluginInfo,
};

/// A library that passed every check before `on_load`.
pub(crate) struct Opened {
    pub module: PluginModuleRef,
    pub info: PluginInfo,
    /// How long the layout, version and descriptor checks after `dlopen` took.
    pub check_time: Duration,
    /// Whether the layout check was answered by the cache (this library content passed it
    /// before).
    pub layout_cached: bool,
}

/// What the loader checks descriptors against.
pub(crate) struct HostFacts<'a> {
    pub host_version: &'a semver::Version,
    /// The layout-check cache and the library's content hash, to skip the root module's
    /// layout check for content that passed it before (none in a worker).
    pub layout_cache: Option<(&'a LayoutCache, u128)>,
}

/// Opens `library`, which has passed the preflight checks, reporting errors against `path`
/// (the file or folder the user put in the plugins folder; `library` may be a private copy).
// Boxed: a `LoadError` is large and the success path should stay small.
pub(crate) fn open(
    library: &Path,
    path: &Path,
    host: &HostFacts<'_>,
) -> Result<Opened, Box<LoadError>> {
    let header =
        lib_header_from_path(library).map_err(|e| Box::new(map_library_error(path, e, None)))?;
    let started = Instant::now();
    let plugin_version = header.version_strings().to_string();
    let (module, layout_cached) = init_root_module(header, host.layout_cache)
        .map_err(|e| Box::new(map_library_error(path, e, Some(&plugin_version))))?;

    let info = info_from_module(module, path);
    check_descriptor(&info, host)
        .map_err(|refusal| LoadError::new(path, refusal).with_id(&info.id))?;
    Ok(Opened {
        module,
        info,
        check_time: started.elapsed(),
        layout_cached,
    })
}

/// abi_stable's `init_root_module` with the layout check the right way round (see the module
/// documentation): the major version first, then the layout, then the plugin's constructor.
/// A layout check this library content passed before (`cache`) is not run again; whether it
/// was skipped is returned beside the module.
fn init_root_module(
    header: &'static LibHeader,
    cache: Option<(&LayoutCache, u128)>,
) -> Result<(PluginModuleRef, bool), LibraryError> {
    let expected = VersionNumber::new(PluginModuleRef::VERSION_STRINGS)?;
    let actual = VersionNumber::new(header.version_strings())?;
    if expected.major != actual.major || (expected.major == 0 && expected.minor > actual.minor) {
        return Err(LibraryError::IncompatibleVersionNumber {
            library_name: PluginModuleRef::NAME,
            expected_version: expected,
            actual_version: actual,
        });
    }
    let mut cached = false;
    if let Some(layout) = header.layout() {
        let (plugin, host) = (actual.to_string(), expected.to_string());
        cached = cache
            .is_some_and(|(cache, library)| cache.contains(library, ROOT_MODULE, &plugin, &host));
        if !cached {
            crate::layout::check_against_host(layout, <PluginModuleRef as StableAbi>::LAYOUT)
                .map_err(|errors| LibraryError::AbiInstability(RBoxError::new(errors)))?;
            if let Some((cache, library)) = cache {
                cache.insert(library, ROOT_MODULE, &plugin, &host);
            }
        }
    }
    // SAFETY: the plugin's root module layout was found compatible with the host's, just now
    // or before for the same library content (the cache's key: the bytes' xxh3-128, both
    // versions, and in its file the host build), and a library without a layout constant
    // opted out of checking, as with abi_stable's own loader; so reading it as the host's
    // `PluginModuleRef` is sound.
    let module = unsafe { header.init_root_module_with_unchecked_layout::<PluginModuleRef>() }?;
    Ok((module, cached))
}

/// The descriptor of an opened root module, as the host reports it.
pub(crate) fn info_from_module(module: PluginModuleRef, path: &Path) -> PluginInfo {
    let d = module.descriptor();
    let strings = |list: plugrack_api::abi_stable::std_types::RSlice<'static, _>| {
        list.iter()
            .map(|s: &plugrack_api::abi_stable::std_types::RStr<'static>| s.as_str().to_owned())
            .collect()
    };
    PluginInfo {
        id: d.id().into(),
        name: d.name().into(),
        version: d.version().into(),
        description: d.description().into(),
        authors: strings(d.authors()),
        homepage: d.homepage().into(),
        license: d.license().into(),
        host_version_req: d.host_version_req().into(),
        target_os: strings(d.target_os()),
        api_version: d.api_version().into(),
        capabilities: module.capabilities().names(),
        path: path.to_owned(),
    }
}

fn map_library_error(path: &Path, error: LibraryError, plugin_version: Option<&str>) -> LoadError {
    let detail = error.to_string();
    log::debug!("abi_stable refused {}: {detail}", path.display());
    let refusal = match error {
        LibraryError::OpenError { err, .. } => Refusal::OpenFailed {
            reason: err.to_string(),
        },
        LibraryError::GetSymbolError { .. } => Refusal::NotAPlugin,
        LibraryError::ParseVersionError(e) => Refusal::InitFailed {
            message: format!("unreadable version: {e}"),
        },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => {
            let (plugin, host) = (actual_version.to_string(), expected_version.to_string());
            if actual_version.major > expected_version.major {
                Refusal::ApiTooNew { plugin, host }
            } else {
                Refusal::ApiTooOld { plugin, host }
            }
        }
        LibraryError::RootModule {
            err: RootModuleError::Returned(e),
            ..
        } => Refusal::InitFailed {
            message: e.to_string().trim().to_owned(),
        },
        LibraryError::RootModule {
            err: RootModuleError::Unwound,
            ..
        } => Refusal::InitPanicked,
        LibraryError::AbiInstability(_) => Refusal::LayoutMismatch {
            version: plugin_version.unwrap_or("unknown").to_owned(),
        },
        LibraryError::InvalidAbiHeader(found) => Refusal::AbiStableMismatch {
            found: format!("{}.{}", found.abi_major, found.abi_minor),
        },
        LibraryError::InvalidCAbi { .. } => Refusal::AbiStableMismatch {
            found: "(a different C ABI)".into(),
        },
        LibraryError::Many(list) => match list.into_iter().next() {
            Some(first) => return map_library_error(path, first, plugin_version),
            None => Refusal::InitFailed {
                message: "unknown loader error".into(),
            },
        },
    };
    LoadError::new(path, refusal).with_detail(detail)
}

/// The checks of [`preflight::check_descriptor`], on the root module's descriptor.
fn check_descriptor(info: &PluginInfo, host: &HostFacts<'_>) -> Result<(), Refusal> {
    let descriptor = plugrack_descriptor::Descriptor {
        id: info.id.clone(),
        name: info.name.clone(),
        version: info.version.clone(),
        description: info.description.clone(),
        authors: info.authors.clone(),
        homepage: info.homepage.clone(),
        license: info.license.clone(),
        host_version: info.host_version_req.clone(),
        target_os: info.target_os.clone(),
        api_version: info.api_version.clone(),
    };
    preflight::check_descriptor(&descriptor, host.host_version)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn info() -> PluginInfo {
        PluginInfo {
            id: "good.id".into(),
            name: "n".into(),
            version: "1.0.0".into(),
            description: String::new(),
            authors: vec![],
            homepage: String::new(),
            license: String::new(),
            host_version_req: ">=1.2, <2".into(),
            target_os: vec!["linux".into()],
            api_version: plugrack_api::API_VERSION.into(),
            capabilities: vec![],
            path: PathBuf::from("p.so"),
        }
    }

    #[test]
    fn descriptor_rules_one_by_one() {
        let host = semver::Version::new(1, 4, 0);
        let facts = HostFacts {
            host_version: &host,
            layout_cache: None,
        };
        assert_eq!(check_descriptor(&info(), &facts), Ok(()));
        type Case = (fn(&mut PluginInfo), &'static str);
        let cases: &[Case] = &[
            (|i| i.id = "bad id".into(), "invalid-descriptor"),
            (|i| i.version = "1.0".into(), "invalid-descriptor"),
            (|i| i.api_version = "9.0.0".into(), "api-too-new"),
            (|i| i.api_version = "0.9.0".into(), "api-too-old"),
            (|i| i.api_version = "latest".into(), "invalid-descriptor"),
            (
                |i| i.host_version_req = "not a req".into(),
                "invalid-descriptor",
            ),
            (
                |i| i.host_version_req = ">=2".into(),
                "host-version-mismatch",
            ),
            (|i| i.target_os = vec!["windows".into()], "unsupported-os"),
        ];
        for (edit, code) in cases {
            let mut bad = info();
            edit(&mut bad);
            let refusal = check_descriptor(&bad, &facts).expect_err(code);
            assert_eq!(refusal.code(), *code, "{refusal}");
        }
        let mut any_os = info();
        any_os.target_os.clear();
        assert_eq!(
            check_descriptor(&any_os, &facts),
            Ok(()),
            "an empty target list means any system"
        );
    }
}
