//! One method of an extension point: what is checked, and what the generated code needs
//! (arguments, the result type, whether the author's result is flattened, since when it exists).

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::{
    spanned::Spanned, Attribute, Expr, ExprLit, FnArg, GenericArgument, GenericParam, Ident, Lit,
    Meta, Pat, PathArguments, ReturnType, TraitItemFn, Type,
};

/// A checked method.
pub struct Method {
    pub name: Ident,
    /// The documentation attributes, copied onto the host's calls.
    pub docs: Vec<Attribute>,
    /// Explicit lifetime parameters (`<'a>`), if any.
    pub lifetimes: Vec<GenericParam>,
    /// `(name, type)` of each argument after `&self`.
    pub args: Vec<(Ident, Type)>,
    /// What a successful call returns (`T` of a flattened `Result<T, PluginError>`).
    pub ok: Type,
    /// Whether the author's method returns `Result<T, PluginError>` (or `RResult`) itself.
    pub flattened: bool,
    /// `#[since = "…"]`, for methods appended after the major line's first release.
    pub since: Option<semver::Version>,
    /// The author's default body, if any.
    pub default: Option<syn::Block>,
}

fn error(span: Span, message: impl Into<String>) -> syn::Error {
    syn::Error::new(span, message.into())
}

/// Whether `ty` is `Result<T, PluginError>` or `RResult<T, PluginError>` (by the last path
/// segments, as a macro must); returns `T`.
fn flattened_ok(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" && last.ident != "RResult" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let (ok, err) = (types.next()?, types.next()?);
    let Type::Path(err) = err else { return None };
    (err.path.segments.last()?.ident == "PluginError").then(|| ok.clone())
}

fn uses_self(tokens: TokenStream) -> Option<Span> {
    for tree in tokens {
        match tree {
            TokenTree::Ident(ident) if ident == "self" || ident == "Self" => {
                return Some(ident.span())
            }
            TokenTree::Group(group) => {
                if let Some(span) = uses_self(group.stream()) {
                    return Some(span);
                }
            }
            _ => {}
        }
    }
    None
}

/// Takes `#[since = "…"]` out of `attrs`.
fn take_since(attrs: &mut Vec<Attribute>) -> syn::Result<Option<semver::Version>> {
    let mut since = None;
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        if !attr.path().is_ident("since") {
            kept.push(attr);
            continue;
        }
        let text = match &attr.meta {
            Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Str(s), ..
                }) => s.value(),
                other => return Err(error(other.span(), "write it as `#[since = \"1.1.0\"]`")),
            },
            other => return Err(error(other.span(), "write it as `#[since = \"1.1.0\"]`")),
        };
        let version = semver::Version::parse(&text).map_err(|e| {
            error(
                attr.span(),
                format!("`{text}` is not a semver version ({e})"),
            )
        })?;
        since = Some(version);
    }
    *attrs = kept;
    Ok(since)
}

impl Method {
    /// Checks `item` (and strips `#[since]` from it, which the author's trait must not keep).
    pub fn parse(item: &mut TraitItemFn) -> syn::Result<Self> {
        let since = take_since(&mut item.attrs)?;
        let sig = &item.sig;
        let name = sig.ident.clone();
        let refuse = |span: Span, what: &str| {
            error(
                span,
                format!("extension point method `{name}` cannot be {what}: the host calls it through a vtable from any thread"),
            )
        };
        if let Some(t) = &sig.constness {
            return Err(refuse(t.span(), "`const`"));
        }
        if let Some(t) = &sig.asyncness {
            return Err(refuse(t.span(), "`async`"));
        }
        if let Some(t) = &sig.unsafety {
            return Err(refuse(t.span(), "`unsafe`"));
        }
        if let Some(abi) = &sig.abi {
            return Err(refuse(
                abi.span(),
                "given an ABI (the generated code picks `extern \"C\"`)",
            ));
        }
        if let Some(v) = &sig.variadic {
            return Err(refuse(v.span(), "variadic"));
        }
        if let Some(w) = &sig.generics.where_clause {
            return Err(refuse(w.span(), "given a `where` clause"));
        }
        let mut lifetimes = Vec::new();
        for param in &sig.generics.params {
            match param {
                GenericParam::Lifetime(_) => lifetimes.push(param.clone()),
                other => {
                    return Err(refuse(
                        other.span(),
                        "generic (only lifetime parameters can cross the boundary)",
                    ))
                }
            }
        }
        let mut inputs = sig.inputs.iter();
        match inputs.next() {
            Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
            Some(other) => {
                return Err(error(
                    other.span(),
                    format!("extension point method `{name}` must take `&self`: one object serves every caller, from many threads at once"),
                ))
            }
            None => {
                return Err(error(
                    sig.span(),
                    format!("extension point method `{name}` must take `&self`"),
                ))
            }
        }
        let mut args = Vec::new();
        for input in inputs {
            let FnArg::Typed(typed) = input else {
                return Err(error(input.span(), "unexpected receiver"));
            };
            let Pat::Ident(pat) = &*typed.pat else {
                return Err(error(
                    typed.pat.span(),
                    "write each argument as a plain name (`text: RStr<'_>`)",
                ));
            };
            args.push((pat.ident.clone(), (*typed.ty).clone()));
        }
        let ret: Type = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => (**ty).clone(),
        };
        let (ok, flattened) = match flattened_ok(&ret) {
            Some(ok) => (ok, true),
            None => (ret, false),
        };
        if since.is_some() {
            let Some(block) = &item.default else {
                return Err(error(
                    name.span(),
                    format!("`{name}` is appended (`#[since]`): give it a default body, which answers for plugins built before it existed"),
                ));
            };
            if let Some(span) = uses_self(block.to_token_stream()) {
                return Err(error(
                    span,
                    format!("the default body of `{name}` runs in the host when a plugin predates the method, where there is no plugin value: it cannot use `self`; return a value"),
                ));
            }
        }
        let docs = item
            .attrs
            .iter()
            .filter(|a| a.path().is_ident("doc"))
            .cloned()
            .collect();
        Ok(Self {
            name,
            docs,
            lifetimes,
            args,
            ok,
            flattened,
            since,
            default: item.default.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: &str) -> Result<Method, String> {
        let mut item: TraitItemFn = syn::parse_str(method).map_err(|e| e.to_string())?;
        Method::parse(&mut item).map_err(|e| e.to_string())
    }

    #[test]
    fn accepted_methods() {
        let m = parse("fn format(&self, text: RStr<'_>) -> RString;").unwrap();
        assert_eq!(m.args.len(), 1);
        assert!(!m.flattened && m.since.is_none());
        let m = parse("fn check(&self) -> Result<u32, PluginError>;").unwrap();
        assert!(m.flattened);
        assert_eq!(m.ok.to_token_stream().to_string(), "u32");
        let m = parse("fn check(&self) -> RResult<(), plugrack_extension::PluginError>;").unwrap();
        assert!(m.flattened);
        let m = parse("#[since = \"1.1.0\"] fn name(&self) -> RString { \"x\".into() }").unwrap();
        assert_eq!(m.since, Some(semver::Version::new(1, 1, 0)));
        let m = parse("fn nothing(&self);").unwrap();
        assert_eq!(m.ok.to_token_stream().to_string(), "()");
    }

    #[test]
    fn refused_methods_say_why() {
        let cases = [
            ("fn f(&mut self);", "must take `&self`"),
            ("fn f(self);", "must take `&self`"),
            ("fn f();", "must take `&self`"),
            ("fn f<T>(&self, t: T);", "generic"),
            ("async fn f(&self);", "`async`"),
            ("unsafe fn f(&self);", "`unsafe`"),
            ("fn f(&self, (a, b): (u8, u8));", "plain name"),
            (
                "#[since = \"1.1.0\"] fn f(&self) -> u8;",
                "give it a default body",
            ),
            (
                "#[since = \"1.1.0\"] fn f(&self) -> u8 { self.g() }",
                "cannot use `self`",
            ),
            (
                "#[since = \"one\"] fn f(&self) -> u8 { 1 }",
                "not a semver version",
            ),
            (
                "#[since(\"1.1.0\")] fn f(&self) -> u8 { 1 }",
                "#[since = \\\"1.1.0\\\"]",
            ),
        ];
        for (method, expected) in cases {
            let err = match parse(method) {
                Ok(_) => panic!("{method} was accepted"),
                Err(e) => e,
            };
            assert!(
                err.contains(expected.replace("\\\"", "\"").as_str()),
                "{method}: {err}"
            );
        }
    }
}
