//! Checks the trait as a whole (supertraits, items, the order of appended methods) and writes
//! what `#[extension_point]` generates:
//!
//! - the author's trait, as written, without `#[since]`, with `Send + Sync` added;
//! - `<Trait>Ext`: the marker implementing `ExtensionPoint` and `ImplementedBy<T>`;
//! - `<Trait>Object`: the ABI object, a `#[sabi_trait]` object (`<Trait>Abi_TO`) whose
//!   methods return `RResult<T, PluginError>`, implemented for the plugin's value under
//!   `catch_unwind`; the methods of the first release of the major line form the vtable's
//!   prefix (`last_prefix_field`), appended methods are optional entries whose defaults run
//!   in the host;
//! - `<Trait>Calls`: the host's calls on any `ExtensionHandle`, returning `Result<T, H::Error>`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{
    parse_quote, punctuated::Punctuated, spanned::Spanned, Ident, ItemTrait, MetaNameValue, Token,
    TraitItem, TypeParamBound,
};

use crate::{args, manifest, method::Method};

fn error(span: Span, message: impl Into<String>) -> syn::Error {
    syn::Error::new(span, message.into())
}

/// Checks the supertraits (`Send`, `Sync`, `'static` only) and adds `Send + Sync`.
fn supertraits(item: &mut ItemTrait) -> syn::Result<()> {
    let (mut send, mut sync) = (false, false);
    for bound in &item.supertraits {
        match bound {
            TypeParamBound::Trait(t) if t.path.is_ident("Send") || t.path.segments.last().is_some_and(|s| s.ident == "Send") => send = true,
            TypeParamBound::Trait(t) if t.path.is_ident("Sync") || t.path.segments.last().is_some_and(|s| s.ident == "Sync") => sync = true,
            TypeParamBound::Lifetime(l) if l.ident == "static" => {}
            other => {
                return Err(error(
                    other.span(),
                    "an extension point may only require `Send + Sync` (and `'static`): other supertraits cannot cross the boundary",
                ))
            }
        }
    }
    if !send {
        item.supertraits.push(parse_quote!(::core::marker::Send));
    }
    if !sync {
        item.supertraits.push(parse_quote!(::core::marker::Sync));
    }
    Ok(())
}

/// Checks that appended methods follow the methods every release has, in version order,
/// within the declared version's major line.
fn check_order(methods: &[Method], version: &semver::Version) -> syn::Result<()> {
    let mut last_since: Option<&semver::Version> = None;
    for m in methods {
        match (&m.since, last_since) {
            (None, Some(_)) => {
                return Err(error(
                    m.name.span(),
                    format!("`{}` has no `#[since]` but follows an appended method: methods can only be appended at the end, so it needs `#[since = \"{version}\"]` or must move up", m.name),
                ))
            }
            (Some(since), previous) => {
                if since.major != version.major || since > version {
                    return Err(error(
                        m.name.span(),
                        format!("`#[since = \"{since}\"]` on `{}` must be within {}.x and not above the extension point's version {version}", m.name, version.major),
                    ));
                }
                if since.minor == 0 && since.patch == 0 {
                    return Err(error(
                        m.name.span(),
                        format!("`{}` exists since {since}, the first release of this major line: remove `#[since]`", m.name),
                    ));
                }
                if previous.is_some_and(|p| since < p) {
                    return Err(error(
                        m.name.span(),
                        format!("`{}` (since {since}) comes after a method added later: keep appended methods in version order", m.name),
                    ));
                }
                last_since = Some(since);
            }
            (None, None) => {}
        }
    }
    if methods.first().is_none_or(|m| m.since.is_some()) {
        return Err(error(
            Span::call_site(),
            "an extension point needs at least one method that every release of its major line has (one without `#[since]`)",
        ));
    }
    Ok(())
}

pub fn expand(
    raw_args: Punctuated<MetaNameValue, Token![,]>,
    mut item: ItemTrait,
) -> syn::Result<TokenStream> {
    let manifest = manifest::read()?;
    let args = args::parse(raw_args, &manifest.version)?;
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        return Err(error(
            item.generics.span(),
            "an extension point cannot be generic: the host checks one concrete layout",
        ));
    }
    if let Some(t) = &item.unsafety {
        return Err(error(
            t.span(),
            "an extension point cannot be an `unsafe` trait",
        ));
    }
    if let Some(t) = &item.auto_token {
        return Err(error(
            t.span(),
            "an extension point cannot be an auto trait",
        ));
    }
    supertraits(&mut item)?;
    let mut methods = Vec::new();
    for trait_item in &mut item.items {
        match trait_item {
            TraitItem::Fn(f) => methods.push(Method::parse(f)?),
            other => {
                return Err(error(
                    other.span(),
                    "an extension point holds methods only (no associated types or constants): they cannot cross the boundary",
                ))
            }
        }
    }
    check_order(&methods, &args.version)?;

    let vis = &item.vis;
    let trait_name = &item.ident;
    let trait_text = trait_name.to_string();
    let ext = format_ident!("{}Ext", trait_name);
    let calls = format_ident!("{}Calls", trait_name);
    let object = format_ident!("{}Object", trait_name);
    let abi = format_ident!("{}Abi", trait_name);
    let abi_to = format_ident!("{}Abi_TO", trait_name);
    let module = format_ident!("__plugrack_extension_{}", trait_name);
    let id = &args.id;
    let version = args.version.to_string();
    let manifest_path = manifest.path.to_string_lossy().into_owned();
    let base_since = format!("{}.0.0", args.version.major);
    let last_base = methods
        .iter()
        .rposition(|m| m.since.is_none())
        .expect("checked: there is a base method");

    let p = quote!(::plugrack_extension::__private);
    let error_ty = quote!(::plugrack_extension::PluginError);

    let abi_methods = methods.iter().enumerate().map(|(index, m)| {
        let Method { name, docs, lifetimes, args, ok, flattened, since, default } = m;
        let (names, types): (Vec<&Ident>, Vec<_>) = args.iter().map(|(n, t)| (n, t)).unzip();
        let prefix_end = (index == last_base).then(|| quote!(#[sabi(last_prefix_field)]));
        let body = match (since, default) {
            (Some(_), Some(block)) if *flattened => quote!({ ::core::convert::From::from(#block) }),
            (Some(_), Some(block)) => quote!({ #p::RResult::ROk(#block) }),
            _ => quote!(;),
        };
        quote! {
            #(#docs)*
            #prefix_end
            fn #name <#(#lifetimes),*> (&self, #(#names: #types),*) -> #p::RResult<#ok, #error_ty> #body
        }
    });
    let shim_methods = methods.iter().map(|m| {
        let Method { name, lifetimes, args, ok, flattened, .. } = m;
        let (names, types): (Vec<&Ident>, Vec<_>) = args.iter().map(|(n, t)| (n, t)).unzip();
        let method_text = name.to_string();
        let guard = if *flattened { quote!(guard_flat) } else { quote!(guard) };
        quote! {
            #[inline]
            fn #name <#(#lifetimes),*> (&self, #(#names: #types),*) -> #p::RResult<#ok, #error_ty> {
                #p::#guard(#id, #method_text, || <T as super::#trait_name>::#name(&*self.0, #(#names),*))
            }
        }
    });
    let call_decls = methods.iter().map(|m| {
        let Method { name, docs, lifetimes, args, ok, .. } = m;
        let (names, types): (Vec<&Ident>, Vec<_>) = args.iter().map(|(n, t)| (n, t)).unzip();
        quote! {
            #(#docs)*
            fn #name <#(#lifetimes),*> (&self, #(#names: #types),*)
                -> ::core::result::Result<#ok, <Self as ::plugrack_extension::ExtensionHandle<#ext>>::Error>;
        }
    });
    let call_impls = methods.iter().map(|m| {
        let Method { name, lifetimes, args, ok, .. } = m;
        let (names, types): (Vec<&Ident>, Vec<_>) = args.iter().map(|(n, t)| (n, t)).unzip();
        let method_text = name.to_string();
        quote! {
            #[inline]
            fn #name <#(#lifetimes),*> (&self, #(#names: #types),*)
                -> ::core::result::Result<#ok, <H as ::plugrack_extension::ExtensionHandle<#ext>>::Error>
            {
                let result = ::plugrack_extension::ExtensionHandle::<#ext>::object(self).#name(#(#names),*);
                #p::finish::<#ext, H, _>(self, #method_text, result)
            }
        }
    });
    let method_table = methods.iter().map(|m| {
        let name = m.name.to_string();
        let since = m
            .since
            .as_ref()
            .map_or(base_since.clone(), ToString::to_string);
        quote!(::plugrack_extension::Method { name: #name, since: #since })
    });

    let marker_doc = format!(
        "The extension point `{id}` {version} (trait [`{trait_text}`]): ask the host's manager for handles with it (`manager.extensions::<{ext}>()`)."
    );
    let calls_doc = format!(
        "The host's calls into [`{trait_text}`] implementations: available on every handle of [`{ext}`]. Each call goes straight through the plugin's vtable; a plugin's error or contained panic comes back as the handle's error type."
    );
    let object_doc = format!("The ABI object of [`{trait_text}`] that crosses the boundary.");
    let unimplemented = format!("`{{Self}}` does not implement the extension point `{trait_text}`");
    let unimplemented_label =
        format!("implement `{trait_text}` for `{{Self}}` to list it in `export_plugin!`");
    item.attrs.push(parse_quote!(#[diagnostic::on_unimplemented(message = #unimplemented, label = #unimplemented_label)]));

    Ok(quote! {
        #item

        #[doc = #marker_doc]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        #vis struct #ext;

        #[doc(hidden)]
        #[allow(non_snake_case, non_camel_case_types, non_local_definitions, missing_docs, clippy::all)]
        #vis mod #module {
            use super::*;

            // Makes cargo rebuild the interface when its manifest changes.
            const _MANIFEST: &[u8] = include_bytes!(#manifest_path);

            #[::abi_stable::sabi_trait]
            pub trait #abi: Send + Sync {
                #(#abi_methods)*
            }

            impl<T: super::#trait_name + 'static> #abi for #p::Shim<T> {
                #(#shim_methods)*
            }
        }

        #[doc = #object_doc]
        #vis type #object = #module::#abi_to<'static, #p::RBox<()>>;

        impl ::plugrack_extension::ExtensionPoint for #ext {
            const ID: &'static str = #id;
            const VERSION: &'static str = #version;
            const NAME: &'static str = #trait_text;
            // Expanded in the interface crate, so these name it, not the plugin.
            const INTERFACE: &'static str = env!("CARGO_PKG_NAME");
            const INTERFACE_VERSION: &'static str = env!("CARGO_PKG_VERSION");
            const METHODS: &'static [::plugrack_extension::Method] = &[#(#method_table),*];
            type Object = #object;
            const LAYOUT: &'static #p::TypeLayout = <#object as #p::StableAbi>::LAYOUT;
        }

        impl<T: #trait_name + 'static> ::plugrack_extension::ImplementedBy<T> for #ext {
            fn object(value: ::std::sync::Arc<T>) -> #object {
                #module::#abi_to::from_value(#p::Shim(value), #p::TD_Opaque)
            }
        }

        impl ::plugrack_extension::ExtensionTrait for dyn #trait_name {
            type Point = #ext;
        }

        #[doc = #calls_doc]
        #vis trait #calls: ::plugrack_extension::ExtensionHandle<#ext> {
            #(#call_decls)*
        }

        impl<H: ::plugrack_extension::ExtensionHandle<#ext> + ?Sized> #calls for H {
            #(#call_impls)*
        }
    })
}
