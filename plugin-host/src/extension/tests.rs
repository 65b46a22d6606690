//! The negotiation rules, table-driven, on a root module built in this process: several
//! versions of one extension point, duplicates, other majors, undeclared ids. (The end-to-end
//! tests load real plugin files; this covers the combinations no example plugin has.)

use std::{path::Path, sync::Arc};

use plugrack_api::{
    abi_stable::{
        prefix_type::PrefixTypeTrait,
        std_types::{RResult, RSlice, RStr, RString},
    },
    Capabilities, Descriptor, ExtensionDecl, ExtensionDeclRef, ExtensionSlot, HostServicesBox,
    PluginError, PluginInstanceBox, PluginModule, PluginModuleRef, UserContext,
};
use plugrack_extension::{ExtensionPoint, ImplementedBy};
use text_pipeline_api::{Formatter, FormatterCalls, FormatterExt, LinterExt};

use super::*;

struct Upper;

impl Formatter for Upper {
    fn format(&self, text: RStr<'_>) -> RString {
        text.as_str().to_uppercase().into()
    }
}

extern "C" fn construct(slot: ExtensionSlot) -> RResult<(), PluginError> {
    // SAFETY: the host made the slot for `FormatterObject`, this very type.
    unsafe { slot.write(FormatterExt::object(Arc::new(Upper))) }.into()
}

extern "C" fn on_load(_services: HostServicesBox) -> RResult<(), PluginError> {
    RResult::ROk(())
}

extern "C" fn on_unload() -> RResult<(), PluginError> {
    RResult::ROk(())
}

extern "C" fn new_instance(
    _user: UserContext,
    _services: HostServicesBox,
) -> RResult<PluginInstanceBox, PluginError> {
    RResult::RErr(PluginError::new(
        plugrack_api::ErrorKind::UNSUPPORTED,
        "none",
    ))
}

fn decl(id: &'static str, version: &'static str) -> ExtensionDeclRef {
    ExtensionDecl {
        id: RStr::from_str(id),
        version: RStr::from_str(version),
        layout: FormatterExt::LAYOUT,
        construct,
    }
    .leak_into_prefix()
}

fn module(decls: Vec<ExtensionDeclRef>) -> PluginModuleRef {
    const NONE: &[RStr<'static>] = &[];
    let descriptor = Descriptor {
        id: RStr::from_str("p"),
        name: RStr::from_str("p"),
        version: RStr::from_str("1.0.0"),
        description: RStr::from_str(""),
        authors: RSlice::from_slice(NONE),
        homepage: RStr::from_str(""),
        license: RStr::from_str(""),
        host_version_req: RStr::from_str("*"),
        target_os: RSlice::from_slice(NONE),
        api_version: RStr::from_str(plugrack_api::API_VERSION),
    }
    .leak_into_prefix();
    PluginModule {
        descriptor,
        capabilities: Capabilities::NONE,
        on_load,
        on_unload,
        new_instance,
        extensions: RSlice::from_slice(decls.leak()),
    }
    .leak_into_prefix()
}

struct Owner(crate::metrics::Metrics);

impl ExtensionOwner for Owner {
    fn plugin_id(&self) -> &str {
        "p"
    }
    fn metrics(&self) -> &crate::metrics::Metrics {
        &self.0
    }
}

fn statuses(loaded: &[LoadedExtension]) -> Vec<String> {
    loaded
        .iter()
        .map(|e| match &e.report.status {
            ExtensionStatus::Refused(error) => {
                format!(
                    "{} {}: {}",
                    e.report.id,
                    e.report.version,
                    error.refusal.code()
                )
            }
            ExtensionStatus::Superseded { by } => {
                format!("{} {}: superseded by {by}", e.report.id, e.report.version)
            }
            other => format!("{} {}: {}", e.report.id, e.report.version, other.name()),
        })
        .collect()
}

#[test]
fn the_highest_accepted_version_is_used_and_every_other_gets_its_reason() {
    let formatter = FormatterExt::ID;
    let decls = vec![
        decl(formatter, "1.0.5"),
        decl(formatter, "2.0.0"),
        decl(formatter, "1.1.0"),
        decl(formatter, "1.1.0"),
        decl(formatter, "1.4.0"),
        decl(formatter, "one"),
        decl("org.example.other", "3.0.0"),
    ];
    let declared = [
        DeclaredPoint::of::<FormatterExt>(),
        DeclaredPoint::of::<LinterExt>(),
    ];
    let cache = LayoutCache::new(None);
    let plugin = PluginRef {
        id: "p",
        path: Path::new("p.so"),
    };
    let loaded = resolve(&plugin, module(decls), Some(7), &declared, &cache);
    assert_eq!(
        statuses(&loaded),
        [
            "text-pipeline.formatter 1.0.5: superseded by 1.1.0",
            "text-pipeline.formatter 2.0.0: other-major",
            "text-pipeline.formatter 1.1.0: active",
            "text-pipeline.formatter 1.1.0: duplicate",
            "text-pipeline.formatter 1.4.0: too-new",
            "text-pipeline.formatter one: bad-version",
            "org.example.other 3.0.0: undeclared",
        ]
    );
    assert!(matches!(
        loaded[2].report.layout_check,
        LayoutCheck::Checked { .. }
    ));
    assert_eq!(loaded[6].report.host_version, None);
    assert_eq!(loaded[1].report.host_version.as_deref(), Some("1.1.0"));

    // The one in use answers through a typed handle; the others give none.
    let owner: Arc<dyn ExtensionOwner> = Arc::new(Owner(Default::default()));
    let handles: Vec<Extension<FormatterExt>> =
        loaded.iter().filter_map(|e| e.handle(&owner)).collect();
    assert_eq!(handles.len(), 1);
    assert_eq!(handles[0].version(), "1.1.0");
    assert_eq!(handles[0].format("abc".into()).unwrap(), "ABC");
    assert!(loaded
        .iter()
        .all(|e| e.handle::<LinterExt>(&owner).is_none()));

    // The same library content again: the check is not repeated.
    let again = resolve(
        &plugin,
        module(vec![decl(formatter, "1.1.0")]),
        Some(7),
        &declared,
        &cache,
    );
    assert_eq!(again[0].report.layout_check, LayoutCheck::Cached);
    let other = resolve(
        &plugin,
        module(vec![decl(formatter, "1.1.0")]),
        Some(8),
        &declared,
        &cache,
    );
    assert!(matches!(
        other[0].report.layout_check,
        LayoutCheck::Checked { .. }
    ));

    // Without a content hash the cache is neither consulted nor filled: the check runs each
    // time, and nothing is stored under a stand-in hash (0 was one).
    for _ in 0..2 {
        let unhashed = resolve(
            &plugin,
            module(vec![decl(formatter, "1.1.0")]),
            None,
            &declared,
            &cache,
        );
        assert!(matches!(
            unhashed[0].report.layout_check,
            LayoutCheck::Checked { .. }
        ));
    }
    let fresh = LayoutCache::new(None);
    resolve(
        &plugin,
        module(vec![decl(formatter, "1.1.0")]),
        None,
        &declared,
        &fresh,
    );
    let after = resolve(
        &plugin,
        module(vec![decl(formatter, "1.1.0")]),
        Some(0),
        &declared,
        &fresh,
    );
    assert!(matches!(
        after[0].report.layout_check,
        LayoutCheck::Checked { .. }
    ));
}

#[test]
fn a_plugin_without_extensions_has_none() {
    let loaded = resolve(
        &PluginRef {
            id: "p",
            path: Path::new("p.so"),
        },
        module(Vec::new()),
        None,
        &[DeclaredPoint::of::<FormatterExt>()],
        &LayoutCache::new(None),
    );
    assert!(loaded.is_empty());
}
