//! The `export_plugin!` macro of `plugrack-sdk`.
//!
//! It owns the jobs that must happen at compile time: reading the plugin's descriptor from its
//! `Cargo.toml` (so that the manifest is the one source of truth, checked when the plugin is
//! built rather than when a host refuses it; the rules are `plugrack-descriptor`'s), writing
//! the same descriptor into the library's `.plugin_descriptor` ELF section (which tools and the
//! host read without loading the library), and emitting the exported root-module symbol that
//! abi_stable's loader looks for. Everything else lives in `plugrack_sdk::__private`.

#![warn(missing_docs)]

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{quote, quote_spanned};
use syn::{
    bracketed,
    parse::{Parse, ParseStream},
    parse_macro_input,
    punctuated::Punctuated,
    spanned::Spanned,
    Ident, Path, Token, Type,
};

mod metadata;

/// `MyPlugin` or `MyPlugin, extensions = [Formatter, other::Linter]`.
struct Input {
    plugin: Type,
    extensions: Vec<Path>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error("expected the plugin type: `export_plugin!(MyPlugin)`"));
        }
        let plugin: Type = input.parse()?;
        let mut extensions = Vec::new();
        if input.parse::<Option<Token![,]>>()?.is_some() && !input.is_empty() {
            let key: Ident = input.parse()?;
            if key != "extensions" {
                return Err(syn::Error::new(
                    key.span(),
                    format!("unknown argument `{key}`; expected `extensions = [Trait, ...]`"),
                ));
            }
            input.parse::<Token![=]>()?;
            let content;
            bracketed!(content in input);
            let list = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
            extensions.extend(list);
            input.parse::<Option<Token![,]>>()?;
        }
        if !input.is_empty() {
            return Err(input.error("expected `export_plugin!(MyPlugin)` or `export_plugin!(MyPlugin, extensions = [Trait, ...])`"));
        }
        Ok(Self { plugin, extensions })
    }
}

/// Exports a plugin type as this library's plugin.
///
/// ```ignore
/// plugrack_sdk::export_plugin!(MyPlugin);
/// ```
///
/// The type implements `plugrack_sdk::Plugin`. The descriptor comes from `Cargo.toml`:
///
/// ```toml
/// [package]
/// name = "my-plugin"          # the default id and name
/// version = "1.2.0"
/// description = "What it does"
///
/// [package.metadata.plugin]
/// id = "com.example.my-plugin"   # optional, [A-Za-z0-9._-]+
/// name = "My plugin"             # optional display name
/// host-version = ">=1.0, <2"     # optional semver requirement on the host, default "*"
/// target-os = ["linux"]          # optional, default ["linux"]
/// ```
///
/// The capabilities (`Executor`, `HttpHandler`, `Configurer`, `Displayer`) are detected from
/// the traits the instance type implements. The descriptor and the capabilities are also
/// written into the `.plugin_descriptor` section (format: `plugrack_descriptor::section`).
///
/// Host-defined extension points that the plugin type implements are listed by their trait
/// (declared with `#[extension_point]` in the host's interface crate):
///
/// ```ignore
/// plugrack_sdk::export_plugin!(MyPlugin, extensions = [text_pipeline_api::Formatter, Linter]);
/// ```
#[proc_macro]
pub fn export_plugin(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as Input);
    match expand(&input.plugin, &input.extensions) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

fn expand(plugin_type: &Type, extensions: &[Path]) -> syn::Result<proc_macro2::TokenStream> {
    let meta = metadata::read(Span::call_site())?;
    let manifest_path = meta.manifest_path.to_string_lossy().into_owned();
    let section_pieces = section_pieces(&meta.descriptor, extensions);
    let plugrack_descriptor::metadata::Metadata {
        id,
        name,
        version,
        description,
        authors,
        homepage,
        license,
        host_version,
        target_os,
    } = meta.descriptor;
    let export_name = syn::Ident::new(
        &abi_stable_shared::mangled_root_module_loader_name(),
        Span::call_site(),
    );

    let extensions_fn = (!extensions.is_empty()).then(|| {
        let decls = extensions.iter().map(|path| {
            // Spanned on the author's path, so that "not an extension point" and "does not
            // implement it" point at the list entry.
            quote_spanned! {path.span()=>
                ::plugrack_sdk::__private::extension_decl::<
                    <dyn #path as ::plugrack_sdk::__private::ExtensionTrait>::Point,
                    #plugin_type,
                >()
            }
        });
        quote! {
            fn extensions() -> &'static [::plugrack_sdk::__private::plugrack_api::ExtensionDeclRef] {
                static LIST: ::std::sync::OnceLock<&'static [::plugrack_sdk::__private::plugrack_api::ExtensionDeclRef]> =
                    ::std::sync::OnceLock::new();
                LIST.get_or_init(|| ::plugrack_sdk::__private::leak_extensions(::std::vec![#(#decls),*]))
            }
        }
    });

    Ok(quote! {
        const _: () = {
            // Makes cargo rebuild the plugin when its manifest (and so its descriptor) changes.
            const _MANIFEST: &[u8] = include_bytes!(#manifest_path);

            use ::plugrack_sdk::__private::{
                ConfigFnsAbsent as _, DisplayFnAbsent as _, ExecuteFnAbsent as _,
                HttpFnsAbsent as _,
            };
            use ::plugrack_sdk::__private::plugrack_api::abi_stable::std_types::{RSlice, RStr};

            type Inst = <#plugin_type as ::plugrack_sdk::Plugin>::Instance;

            impl ::plugrack_sdk::__private::ExportedPlugin for #plugin_type {
                fn state() -> &'static ::plugrack_sdk::__private::PluginState<Self> {
                    static STATE: ::plugrack_sdk::__private::PluginState<#plugin_type> =
                        ::plugrack_sdk::__private::PluginState::new();
                    &STATE
                }

                #[inline(always)]
                fn capabilities() -> ::plugrack_sdk::__private::CapTable<Inst> {
                    type Fns = ::plugrack_sdk::__private::CapFns<Inst>;
                    const TABLE: ::plugrack_sdk::__private::CapTable<Inst> =
                        ::plugrack_sdk::__private::CapTable {
                            execute: <Fns>::EXECUTE,
                            http: <Fns>::HTTP,
                            config: <Fns>::CONFIG,
                            display: <Fns>::DISPLAY,
                        };
                    TABLE
                }

                fn descriptor() -> ::plugrack_sdk::__private::plugrack_api::Descriptor {
                    const AUTHORS: &[RStr<'static>] = &[#(RStr::from_str(#authors)),*];
                    const TARGET_OS: &[RStr<'static>] = &[#(RStr::from_str(#target_os)),*];
                    ::plugrack_sdk::__private::plugrack_api::Descriptor {
                        id: RStr::from_str(#id),
                        name: RStr::from_str(#name),
                        version: RStr::from_str(#version),
                        description: RStr::from_str(#description),
                        authors: RSlice::from_slice(AUTHORS),
                        homepage: RStr::from_str(#homepage),
                        license: RStr::from_str(#license),
                        host_version_req: RStr::from_str(#host_version),
                        target_os: RSlice::from_slice(TARGET_OS),
                        api_version: RStr::from_str(::plugrack_sdk::__private::plugrack_api::API_VERSION),
                    }
                }

                #extensions_fn
            }
        };

        /// The symbol abi_stable's loader looks up: the library header and root-module loader.
        #[unsafe(no_mangle)]
        pub static #export_name: ::plugrack_sdk::__private::abi_stable::library::LibHeader = {
            use ::plugrack_sdk::__private::{
                ConfigAbsent as _, DisplayAbsent as _, ExecuteAbsent as _, HttpAbsent as _,
            };
            type SectionInst = <#plugin_type as ::plugrack_sdk::Plugin>::Instance;
            type Caps = ::plugrack_sdk::__private::CapConst<SectionInst>;
            const SECTION_PIECES: &[&str] = &[#(#section_pieces),*];
            const SECTION_LEN: usize = ::plugrack_sdk::__private::concat_len(SECTION_PIECES);
            /// The descriptor, readable without loading the library (`plugrack_descriptor::section`).
            #[used]
            #[unsafe(link_section = ".plugin_descriptor")]
            static PLUGIN_DESCRIPTOR: [u8; SECTION_LEN] =
                ::plugrack_sdk::__private::concat::<SECTION_LEN>(SECTION_PIECES);

            extern "C" fn __plugin_sdk_root_module() -> ::plugrack_sdk::__private::abi_stable::library::RootModuleResult {
                // Referenced from the exported symbol, so no linker garbage-collects the section.
                ::core::hint::black_box(&PLUGIN_DESCRIPTOR);
                ::plugrack_sdk::__private::abi_stable::library::__call_root_module_loader(
                    ::plugrack_sdk::__private::root_module::<#plugin_type>,
                )
            }
            // SAFETY: the constructor returns the root module of type `PluginModuleRef`,
            // which is what this header declares.
            unsafe {
                ::plugrack_sdk::__private::abi_stable::library::LibHeader::from_constructor::<
                    ::plugrack_sdk::__private::plugrack_api::PluginModuleRef,
                >(
                    __plugin_sdk_root_module,
                    ::plugrack_sdk::__private::abi_stable::library::CheckTypeLayout::Yes,
                )
            }
        };
    })
}

/// The section's pieces as expressions: text literals, the plugrack-api version constant, and
/// one conditional literal per capability (its constant decides whether it is listed).
///
/// The extension points follow as an `extensions` list, each field an extension point
/// constant (`<<dyn Formatter as ExtensionTrait>::Point as ExtensionPoint>::ID`), so that the
/// section names what the interface crate declares, which the macro cannot see.
fn section_pieces(
    descriptor: &plugrack_descriptor::metadata::Metadata,
    extensions: &[Path],
) -> Vec<proc_macro2::TokenStream> {
    use plugrack_descriptor::section::{self, Piece};
    let mut out = Vec::new();
    let extension_pieces = extension_section_pieces(extensions);
    for piece in section::template(descriptor, &[]) {
        match piece {
            Piece::Text(text) => out.push(quote!(#text)),
            Piece::ApiVersion => {
                out.push(quote!(::plugrack_sdk::__private::plugrack_api::API_VERSION))
            }
            Piece::Capabilities => {
                // plugrack-api's capability names, in `Capabilities::ALL` order.
                for (name, flag) in [
                    ("execute", quote!(EXECUTE)),
                    ("http", quote!(HTTP)),
                    ("config", quote!(CONFIG)),
                    ("display", quote!(DISPLAY)),
                ] {
                    let item = section::capability_item(name);
                    out.push(quote!(if <Caps>::#flag { #item } else { "" }));
                }
            }
        }
    }
    out.extend(extension_pieces);
    out
}

/// The `extensions` list of the section (nothing when the plugin implements none).
fn extension_section_pieces(extensions: &[Path]) -> Vec<proc_macro2::TokenStream> {
    use plugrack_descriptor::section::{EXTENSION_ITEM, EXTENSION_LIST_CLOSE, EXTENSION_LIST_OPEN};
    if extensions.is_empty() {
        return Vec::new();
    }
    let mut out = vec![quote!(#EXTENSION_LIST_OPEN)];
    for path in extensions {
        let point = quote_spanned! {path.span()=>
            <<dyn #path as ::plugrack_sdk::__private::ExtensionTrait>::Point as ::plugrack_sdk::__private::ExtensionPoint>
        };
        let fields = [
            quote!(ID),
            quote!(VERSION),
            quote!(INTERFACE),
            quote!(INTERFACE_VERSION),
        ];
        for (text, field) in EXTENSION_ITEM.iter().zip(fields) {
            out.push(quote!(#text));
            out.push(quote!(#point::#field));
        }
        let close = EXTENSION_ITEM[4];
        out.push(quote!(#close));
    }
    out.push(quote!(#EXTENSION_LIST_CLOSE));
    out
}
