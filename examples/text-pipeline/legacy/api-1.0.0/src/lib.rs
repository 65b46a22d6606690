//! The text pipeline's extension points as released at 1.0.0: `Formatter` without `name`.

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
#[extension_point(id = "text-pipeline.formatter", version = "1.0.0")]
pub trait Formatter: Send + Sync {
    /// The text, formatted.
    fn format(&self, text: RStr<'_>) -> RString;
}

/// Checks text and reports what it finds; an error means the linter could not check it.
#[extension_point(id = "text-pipeline.linter")]
pub trait Linter: Send + Sync {
    /// The findings for `text`, in line order.
    fn lint(&self, text: RStr<'_>) -> Result<RVec<Finding>, PluginError>;
}
