//! The text pipeline's extension points, declared once and shared by the host
//! (`examples/text-pipeline/host`) and its plugins.
//!
//! - [`Formatter`] (`text-pipeline.formatter`): rewrites text. Version 1.1.0 appended
//!   [`Formatter::name`]; plugins built against 1.0 answer with its default.
//! - [`Linter`] (`text-pipeline.linter`): reports [`Finding`]s, or fails with an error of its own.
//!
//! A plugin implements them on its plugin type and lists them in the export macro:
//!
//! ```ignore
//! impl Formatter for MyPlugin { /* … */ }
//! plugrack_sdk::export_plugin!(MyPlugin, extensions = [Formatter]);
//! ```
//!
//! The host asks its manager for handles and calls them through [`FormatterCalls`] and
//! [`LinterCalls`]:
//!
//! ```ignore
//! use text_pipeline_api::{FormatterCalls, FormatterExt};
//! for formatter in manager.extensions::<FormatterExt>() {
//!     text = formatter.format(text.as_str().into())?.into_string();
//! }
//! ```

use plugrack_extension::{
    extension_point,
    std_types::{RStr, RString, RVec},
    PluginError,
};

pub use plugrack_extension::{
    std_types, ErrorKind, ExtensionHandle, ExtensionPoint, PluginError as Error,
};

/// One problem a [`Linter`] found.
#[repr(C)]
#[derive(abi_stable::StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The line, counting from 1.
    pub line: u32,
    /// What is wrong.
    pub message: RString,
}

/// Rewrites text. Formatters run one after the other, in the order the host loaded them.
#[extension_point(id = "text-pipeline.formatter", version = "1.1.0")]
pub trait Formatter: Send + Sync {
    /// The text, formatted.
    fn format(&self, text: RStr<'_>) -> RString;

    /// A short name for reports. Added in 1.1.0: plugins built against 1.0 answer `unnamed`.
    #[since = "1.1.0"]
    fn name(&self) -> RString {
        RString::from("unnamed")
    }
}

/// Checks text and reports what it finds; an error means the linter could not check it.
#[extension_point(id = "text-pipeline.linter")]
pub trait Linter: Send + Sync {
    /// The findings for `text`, in line order.
    fn lint(&self, text: RStr<'_>) -> Result<RVec<Finding>, PluginError>;
}
