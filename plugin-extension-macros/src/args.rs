//! The attribute's arguments: `id` and `version`, checked against the crate's own version.

use proc_macro2::Span;
use syn::{punctuated::Punctuated, spanned::Spanned, Expr, ExprLit, Lit, MetaNameValue, Token};

/// The checked arguments.
pub struct Args {
    pub id: String,
    pub version: semver::Version,
}

/// `[A-Za-z0-9._-]+`, the plugin id rule.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn string_value(nv: &MetaNameValue) -> syn::Result<String> {
    match &nv.value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.value()),
        other => Err(syn::Error::new(
            other.span(),
            "expected a string literal, like `id = \"org.example.formatter\"`",
        )),
    }
}

/// Parses and checks `id = "…", version = "…"`; `crate_version` is the interface crate's.
pub fn parse(
    args: Punctuated<MetaNameValue, Token![,]>,
    crate_version: &semver::Version,
) -> syn::Result<Args> {
    let mut id = None;
    let mut version = None;
    for nv in &args {
        let key = nv
            .path
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        match key.as_str() {
            "id" => id = Some((string_value(nv)?, nv.value.span())),
            "version" => version = Some((string_value(nv)?, nv.value.span())),
            _ => {
                return Err(syn::Error::new(
                    nv.path.span(),
                    format!("unknown argument `{key}`; expected `id = \"…\"` and optionally `version = \"…\"`"),
                ))
            }
        }
    }
    let Some((id, id_span)) = id else {
        return Err(syn::Error::new(
            Span::call_site(),
            "`#[extension_point]` needs an id: `#[extension_point(id = \"org.example.formatter\")]`",
        ));
    };
    if !is_valid_id(&id) {
        return Err(syn::Error::new(
            id_span,
            format!("extension point id `{id}` may only hold letters, digits, `.`, `_` and `-`"),
        ));
    }
    let version = match version {
        None => crate_version.clone(),
        Some((text, span)) => {
            let parsed = semver::Version::parse(&text).map_err(|e| {
                syn::Error::new(
                    span,
                    format!("`{text}` is not a semver version ({e}); write it like `1.2.0`"),
                )
            })?;
            if parsed.major != crate_version.major || parsed > *crate_version {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "extension point version {parsed} must be on this crate's major line and not above its version {crate_version}: \
                         abi_stable and `plugin-build cap` compare the crate's version, so bump the crate's `version` in Cargo.toml first"
                    ),
                ));
            }
            parsed
        }
    };
    Ok(Args { id, version })
}
