//! A text-pipeline plugin built against `text-pipeline-api` 1.0.0: an upper-case `Formatter`
//! and no capability of the toolkit's own (no instances). Its interface has no
//! `Formatter::name`; a host at 1.1 answers that method with the interface's default.

use plugrack_sdk::prelude::*;
use text_pipeline_api::{
    std_types::{RStr, RString},
    Formatter,
};

/// The plugin.
pub struct Shout;

impl Plugin for Shout {
    type Instance = NoInstance;

    fn load(_services: &Services) -> Result<Self> {
        Ok(Shout)
    }
}

impl Formatter for Shout {
    fn format(&self, text: RStr<'_>) -> RString {
        text.as_str().to_uppercase().into()
    }
}

plugrack_sdk::export_plugin!(Shout, extensions = [Formatter]);
